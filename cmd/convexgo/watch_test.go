package main

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/convexgo/convex/internal/testserver"
)

// watch says why it has no value and exits, instead of waiting forever.
func TestWatchFailures(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv := testserver.NewDemo()
	defer srv.Close()
	stalled := testserver.NewDemo()
	defer stalled.Close()
	stalled.Stall() // the socket opens, but no frame ever comes back
	refusing := testserver.NewDemo()
	defer refusing.Close()
	refusing.Refuse(true) // HTTP 503 to every socket

	for _, tt := range []struct {
		name   string
		args   []string
		code   int
		stderr string // contained
	}{
		{"unreachable", []string{"watch", "--url=http://127.0.0.1:1", "counter:get"}, exitConnection,
			"cannot connect to the deployment at http://127.0.0.1:1 (from --url): "},
		{"unreachable: the cause", []string{"watch", "--url=http://127.0.0.1:1", "counter:get"}, exitConnection, "connection refused"},
		{"refused", []string{"watch", "--url=" + refusing.URL(), "counter:get"}, exitConnection, "503"},
		{"run --watch, unreachable", []string{"run", "--watch", "--url=http://127.0.0.1:1", "counter:get"}, exitConnection, "connection refused"},
		{"missing function", []string{"watch", "--url=" + srv.URL(), "nope:missing"}, exitError, "Could not find public function for 'nope:missing'"},
		{"the query throws", []string{"watch", "--url=" + srv.URL(), "errors:throw"}, exitError, "boom"},
		{"no first value within --timeout", []string{"watch", "--url=" + stalled.URL(), "--timeout=300ms", "counter:get"}, exitConnection,
			"no value of counter:get within --timeout=300ms from the deployment at " + stalled.URL() + " (from --url): the connection is connected"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, ctx, tt.args...)
			if code != tt.code || out != "" || !strings.Contains(errOut, tt.stderr) {
				t.Errorf("convexgo %q\n got %d stdout %q stderr %q\nwant %d stdout \"\" stderr containing %q",
					tt.args, code, out, errOut, tt.code, tt.stderr)
			}
		})
	}
	stalled.Resume()
}

// On a terminal, an interrupted watch erases its status line and leaves
// the cursor at the start of an empty line.
func TestWatchInterruptedOnTerminal(t *testing.T) {
	srv := testserver.NewDemo()
	defer srv.Close()
	limit, cancelLimit := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancelLimit()
	ctx, interrupt := context.WithCancel(limit)
	defer interrupt()
	out := &syncBuffer{terminal: true}
	var errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"watch", "--url=" + srv.URL(), "counter:get", `{name: "t"}`}, out, &errb)
	}()
	out.waitFor(t, limit, func(s string) bool { return strings.Contains(s, "0\n") })
	interrupt() // what Ctrl-C does to the context main makes
	if code := <-done; code != exitOK {
		t.Fatalf("watch exited %d: %s", code, errb.String())
	}
	got := out.String()
	if !strings.HasSuffix(got, "\r\033[K") {
		t.Errorf("the output does not end by erasing the status line: %q", got)
	}
	// Besides the value, the output is status lines and the erasing of
	// them, the last one erased.
	status := regexp.MustCompile("● [a-z]+ — watching counter:get")
	if rest := strings.ReplaceAll(status.ReplaceAllString(got, ""), "\r\033[K", ""); rest != "0\n" {
		t.Errorf("the output is %q: without status lines, %q", got, rest)
	}
	if !status.MatchString(got) {
		t.Errorf("no status line was drawn: %q", got)
	}
	if errb.String() != "" {
		t.Errorf("stderr: %q", errb.String())
	}
}

// Every command's -h explains its usage and each of its flags in a
// sentence; only query offers --socket.
func TestHelp(t *testing.T) {
	ctx := context.Background()
	flagLine := regexp.MustCompile(`^  --[a-z-]+( [A-Z]+)?$`)
	for _, c := range commands() {
		code, out, errOut := runCmd(t, ctx, c.name, "-h")
		if code != exitOK || errOut != "" || !strings.HasPrefix(out, "usage: convexgo "+c.name) {
			t.Errorf("%s -h = %d, stderr %q, stdout %q", c.name, code, errOut, out)
			continue
		}
		_, flags, ok := strings.Cut(out, "\nFlags:\n")
		if !ok {
			t.Errorf("%s -h lists no flags:\n%s", c.name, out)
			continue
		}
		lines := strings.Split(strings.TrimSuffix(flags, "\n"), "\n")
		for i := 0; i < len(lines); {
			if !flagLine.MatchString(lines[i]) {
				t.Errorf("%s -h: %q is not a flag line", c.name, lines[i])
				break
			}
			j := i + 1
			var sentence []string
			for ; j < len(lines) && strings.HasPrefix(lines[j], "        "); j++ {
				sentence = append(sentence, strings.TrimSpace(lines[j]))
			}
			if s := strings.Join(sentence, " "); len(s) < 10 || !strings.HasSuffix(s, ".") {
				t.Errorf("%s -h: %s is not explained in a sentence: %q", c.name, lines[i], s)
			}
			i = j
		}
		switch c.name {
		case "query", "mutation", "action", "watch", "run":
			if !strings.Contains(out, "PATH names a function") || !strings.Contains(out, "ARGS is the function's arguments") {
				t.Errorf("%s -h does not explain PATH and ARGS:\n%s", c.name, out)
			}
		}
		if hasSocket := strings.Contains(out, "  --socket\n"); hasSocket != (c.name == "query") {
			t.Errorf("%s -h offers --socket: %v", c.name, hasSocket)
		}
	}
}
