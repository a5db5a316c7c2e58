package serverauth_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/convexgo/convex/internal/leakcheck"
)

// TestMain is leakcheck.Main, with the benchmarks' shared servers (see
// benchStack) stopped before the goroutines are checked.
func TestMain(m *testing.M) {
	code := m.Run()
	stopBenchStack()
	if code == 0 {
		if leaks := leakcheck.Wait(5 * time.Second); len(leaks) > 0 {
			fmt.Fprintf(os.Stderr, "leakcheck: %d goroutine(s) outlived the tests:\n\n%s\n",
				len(leaks), strings.Join(leaks, "\n\n"))
			code = 1
		}
	}
	os.Exit(code)
}
