package leakcheck

import (
	"strings"
	"testing"
	"time"
)

func TestDetectsAndClears(t *testing.T) {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-stop
	}()
	leaks := Interesting()
	found := false
	for _, g := range leaks {
		if strings.Contains(g, "leakcheck.TestDetectsAndClears") {
			found = true
		}
	}
	if !found {
		t.Fatalf("a running goroutine was not reported; got %d stacks", len(leaks))
	}
	close(stop)
	<-done
	if left := Wait(2 * time.Second); len(left) != 0 {
		t.Fatalf("goroutines remain after exit: %v", left)
	}
}
