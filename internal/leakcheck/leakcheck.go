// Package leakcheck fails a test binary whose tests leave goroutines behind.
//
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { leakcheck.Main(m) }
//
// After the tests pass it waits (up to a bound) for every goroutine that is
// not part of the runtime or the testing framework to exit, and fails the
// run, printing their stacks, if some remain. It polls rather than sleeping
// for a fixed time: the bound is only a ceiling for goroutines that are
// already on their way out.
package leakcheck

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"
)

// Main runs the tests and then checks for leaked goroutines. ignore lists
// stack substrings of third-party goroutines known to outlive their
// owners; say why at the call site.
func Main(m *testing.M, ignore ...string) {
	code := m.Run()
	if code == 0 {
		if leaks := filter(Wait(5*time.Second, ignore...), ignore); len(leaks) > 0 {
			fmt.Fprintf(os.Stderr, "leakcheck: %d goroutine(s) outlived the tests:\n\n%s\n",
				len(leaks), strings.Join(leaks, "\n\n"))
			code = 1
		}
	}
	os.Exit(code)
}

func filter(stacks, ignore []string) []string {
	var out []string
next:
	for _, s := range stacks {
		for _, ig := range ignore {
			if strings.Contains(s, ig) {
				continue next
			}
		}
		out = append(out, s)
	}
	return out
}

// Wait polls until no unexpected goroutine remains or the timeout passes,
// and returns the stacks of those still running. Stacks containing one of
// ignore do not count.
func Wait(timeout time.Duration, ignore ...string) []string {
	deadline := time.Now().Add(timeout)
	for {
		leaks := filter(Interesting(), ignore)
		if len(leaks) == 0 || time.Now().After(deadline) {
			return leaks
		}
		runtime.Gosched()
		time.Sleep(10 * time.Millisecond) // polling interval, not synchronisation
	}
}

// Interesting returns the stacks of the goroutines that belong to neither
// the runtime, the testing package nor the caller.
func Interesting() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if g == "" || ignored(g) {
			continue
		}
		out = append(out, g)
	}
	sort.Strings(out)
	return out
}

// ignoredFrames mark goroutines owned by the runtime or the testing
// framework, which are expected to be running when the tests end.
var ignoredFrames = []string{
	"leakcheck.Interesting(",
	"testing.(*M).",
	"testing.Main(",
	"testing.tRunner(",
	"testing.(*T).Run(",
	"testing.runFuzzing(",
	"testing.runFuzzTests(",
	"os/signal.signal_recv",
	"os/signal.loop",
	"runtime.ensureSigM",
}

func ignored(g string) bool {
	for _, f := range ignoredFrames {
		if strings.Contains(g, f) {
			return true
		}
	}
	return false
}
