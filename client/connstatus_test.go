package client

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/convexgo/convex/internal/testserver"
	"github.com/convexgo/convex/transport"
)

// silentFront is a TCP front for a deployment: it accepts connections and,
// until answer is set, never says a word on them (a deployment that
// accepts TCP and hangs); once set, it pipes new connections to the
// deployment behind it.
type silentFront struct {
	ln      net.Listener
	backend string // host:port of the real deployment
	answer  atomic.Bool
	wg      sync.WaitGroup

	mu    sync.Mutex
	conns []net.Conn
	held  int // connections accepted and left hanging
	wake  chan struct{}
}

func newSilentFront(t *testing.T, srv *testserver.Server) *silentFront {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	f := &silentFront{ln: ln, backend: u.Host, wake: make(chan struct{})}
	f.wg.Add(1)
	go f.accept()
	t.Cleanup(f.close)
	return f
}

func (f *silentFront) URL() string { return "http://" + f.ln.Addr().String() }

func (f *silentFront) accept() {
	defer f.wg.Done()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		f.conns = append(f.conns, c)
		if !f.answer.Load() {
			f.held++
			close(f.wake)
			f.wake = make(chan struct{})
			f.mu.Unlock()
			f.wg.Add(1)
			go func() { // read and drop until the client gives up
				defer f.wg.Done()
				_, _ = io.Copy(io.Discard, c)
			}()
			continue
		}
		f.mu.Unlock()
		b, err := net.Dial("tcp", f.backend)
		if err != nil {
			c.Close()
			continue
		}
		f.mu.Lock()
		f.conns = append(f.conns, b)
		f.mu.Unlock()
		f.wg.Add(2)
		go func() { defer f.wg.Done(); _, _ = io.Copy(b, c); b.Close() }()
		go func() { defer f.wg.Done(); _, _ = io.Copy(c, b); c.Close() }()
	}
}

func (f *silentFront) close() {
	f.ln.Close()
	f.mu.Lock()
	for _, c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

// A deployment that accepts TCP and never answers the handshake does not
// keep the client in Connecting: the handshake times out, the client
// retries with a growing backoff (the status shows the attempts, the error
// and the next retry), and it connects once the deployment answers.
func TestHandshakeTimeoutRetriesAndRecovers(t *testing.T) {
	srv, _, ctx := setup(t)
	front := newSilentFront(t, srv)
	c, err := New(front.URL(), WithHandshakeTimeout(50*time.Millisecond), withBackoffScale(0.01), withRand(func() float64 { return 0 }))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var seen []int
	st, err := c.WaitForStatus(ctx, func(st ConnectionStatus) bool {
		if st.State == Reconnecting {
			if len(seen) == 0 || seen[len(seen)-1] != st.Attempts {
				seen = append(seen, st.Attempts)
			}
		}
		return st.State == Reconnecting && st.Attempts >= 3
	})
	if err != nil {
		t.Fatalf("the client did not give up on a silent handshake: %v (status %+v)", err, st)
	}
	if !errors.Is(st.LastError, transport.ErrHandshakeTimeout) {
		t.Errorf("LastError = %v, want a handshake timeout", st.LastError)
	}
	if st.NextRetry.IsZero() {
		t.Error("NextRetry is zero while reconnecting")
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] <= seen[i-1] {
			t.Errorf("attempt counts seen %v do not grow", seen)
		}
	}
	front.answer.Store(true)
	if _, err := c.QueryRaw(ctx, "counter:get", map[string]any{"name": "h"}, ViaSocket()); err != nil {
		t.Fatal(err)
	}
	st, err = c.WaitForStatus(ctx, func(st ConnectionStatus) bool { return st.State == Connected && st.Attempts == 0 })
	if err != nil {
		t.Fatalf("after recovery, status = %+v: %v", st, err)
	}
	if !st.NextRetry.IsZero() {
		t.Errorf("NextRetry = %v while connected", st.NextRetry)
	}
}

// A call that times out while the client cannot connect says why: its
// error matches ctx's error and wraps the last dial error.
func TestCallTimeoutWhileDisconnectedSaysWhy(t *testing.T) {
	srv, c, ctx := setup(t, withBackoffScale(0.01))
	srv.Refuse(true)
	srv.DropAll()
	st, err := c.WaitForStatus(ctx, func(st ConnectionStatus) bool {
		var de *transport.DialError
		return st.State == Reconnecting && errors.As(st.LastError, &de)
	})
	if err != nil {
		t.Fatalf("status = %+v: %v", st, err)
	}
	for name, call := range map[string]func(context.Context) error{
		"mutation": func(ctx context.Context) error {
			_, err := c.MutationRaw(ctx, "counter:increment", map[string]any{"name": "d"})
			return err
		},
		"action": func(ctx context.Context) error { _, err := c.ActionRaw(ctx, "echo:run", nil); return err },
		"socket query": func(ctx context.Context) error {
			_, err := c.QueryRaw(ctx, "counter:get", map[string]any{"name": "d"}, ViaSocket())
			return err
		},
	} {
		short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		err := call(short)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: %v, want a deadline error", name, err)
		}
		var de *transport.DialError
		var ce *ConnectionError
		if !errors.As(err, &de) || de.StatusCode != http.StatusServiceUnavailable || !errors.As(err, &ce) || ce.Attempts < 1 {
			t.Errorf("%s: %v, want a *ConnectionError wrapping the HTTP 503 dial error", name, err)
		}
	}
	srv.Refuse(false)
	if _, err := Mutation[int64](ctx, c, "counter:increment", map[string]any{"name": "d"}); err != nil {
		t.Fatal(err)
	}
}
