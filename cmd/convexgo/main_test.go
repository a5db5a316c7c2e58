package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/convexgo/convex/client"
	"github.com/convexgo/convex/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

func runCmd(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestUsageAndExitCodes(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		args     []string
		code     int
		inStdout string
		inStderr string
	}{
		{nil, exitUsage, "usage: convexgo <command>", ""},
		{[]string{"help"}, exitOK, "demo", ""},
		{[]string{"frobnicate"}, exitUsage, "", `unknown command "frobnicate"`},
		{[]string{"dev", "--port", "notanumber"}, exitUsage, "", "invalid value"},
		{[]string{"dev", "extra"}, exitUsage, "", "unexpected arguments"},
		{[]string{"demo", "--rounds", "0"}, exitUsage, "", "--rounds"},
		{[]string{"token"}, exitUsage, "", "--sub is required"},
		{[]string{"token", "--sub", "a", "--keys-dir", filepath.Join(t.TempDir(), "none")}, exitError, "", "no signing key"},
		{[]string{"dev", "-h"}, exitOK, "--port PORT\n        The port to listen on; 0 picks a free one. Default: 3210.", ""},
		{[]string{"dev", "--bogus"}, exitUsage, "", "flag provided but not defined: -bogus\nRun \"convexgo dev -h\" for help."},
	} {
		code, out, errOut := runCmd(t, ctx, tt.args...)
		if code != tt.code || !strings.Contains(out, tt.inStdout) || !strings.Contains(errOut, tt.inStderr) {
			t.Errorf("convexgo %q = %d\nstdout: %s\nstderr: %s\nwant %d, %q, %q", tt.args, code, out, errOut, tt.code, tt.inStdout, tt.inStderr)
		}
	}
}

func TestDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code, out, errOut := runCmd(t, ctx, "demo", "--rounds", "3", "--interval", "0s")
	if code != exitOK {
		t.Fatalf("demo exited %d: %s", code, errOut)
	}
	for _, want := range []string{
		"[messages:list] 3 messages, latest writer: \"hello #3\"",
		"[counter:get] 3",
		"one-shot HTTP query counter:get = 3",
		"4 local subscribers shared 2 server subscriptions (2 Adds received by the deployment)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}

// The dev command serves the deployment, writes its keys, and tokens
// minted by the token command are accepted.
func TestDevAndToken(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"dev", "--port", "0", "--keys-dir", dir, "--test-endpoints"}, &out, &errb)
	}()

	url := waitForURL(t, &out)
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	out.waitFor(t, wctx, func(s string) bool { return strings.Contains(s, "\n    export CONVEX_URL="+url+"\n") })
	// The printed admin key works: gen --url reads the spec with it.
	out.waitFor(t, wctx, func(s string) bool { return strings.Contains(s, "export CONVEX_ADMIN_KEY='") })
	_, keyLine, _ := strings.Cut(out.String(), "export CONVEX_ADMIN_KEY='")
	adminKey, _, _ := strings.Cut(keyLine, "'")
	if code, gen, errOut := runCmd(t, wctx, "gen", "--url", url, "--admin-key", adminKey, "--out", "-", "--package", "api"); code != exitOK ||
		!strings.Contains(gen, "MessagesList") {
		t.Fatalf("gen --url against dev: exit %d, stderr %s", code, errOut)
	}
	for _, name := range []string{privateKeyName, keyInfoName, jwksName} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Fatalf("dev did not write %s: %v", name, err)
		}
	}
	code, tok, errOut := runCmd(t, context.Background(), "token", "--keys-dir", dir, "--sub", "alice")
	if code != exitOK {
		t.Fatalf("token exited %d: %s", code, errOut)
	}
	c, err := client.New(url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	qctx, qcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer qcancel()
	if err := c.SetAuthToken(qctx, strings.TrimSpace(tok)); err != nil {
		t.Fatal(err)
	}
	who, err := client.Query[*string](qctx, c, "auth:whoami", nil)
	if err != nil || who == nil || *who != "alice" {
		t.Fatalf("whoami = %v, %v", who, err)
	}
	resp, err := http.Post(url+"/_test/drop", "text/plain", nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /_test/drop: %v %v", resp, err)
	}
	resp.Body.Close()
	cancel()
	if code := <-done; code != exitOK {
		t.Fatalf("dev exited %d: %s", code, errb.String())
	}
}

var urlRE = regexp.MustCompile(`deployment at (http://\S+)`)

func waitForURL(t *testing.T, out *syncBuffer) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out.waitFor(t, ctx, func(s string) bool { return urlRE.MatchString(s) })
	return urlRE.FindStringSubmatch(out.String())[1]
}

// syncBuffer is a writer safe for concurrent use that signals each write,
// so that a test can wait for some output without polling. With terminal
// set it stands for a terminal (see isTerminal).
type syncBuffer struct {
	mu       sync.Mutex
	buf      bytes.Buffer
	changed  chan struct{} // closed and replaced at each write
	terminal bool
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.changed != nil {
		close(b.changed)
		b.changed = nil
	}
	return b.buf.Write(p)
}

func (b *syncBuffer) isTerminal() bool { return b.terminal }

// waitFor waits until ok holds for the output, failing the test when ctx
// ends first.
func (b *syncBuffer) waitFor(t *testing.T, ctx context.Context, ok func(string) bool) {
	t.Helper()
	for {
		b.mu.Lock()
		s := b.buf.String()
		if b.changed == nil {
			b.changed = make(chan struct{})
		}
		changed := b.changed
		b.mu.Unlock()
		if ok(s) {
			return
		}
		select {
		case <-changed:
		case <-ctx.Done():
			t.Fatalf("gave up waiting; the output is %q", s)
		}
	}
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
