package client

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/convexgo/convex/internal/testserver"
)

type ctxKey struct{}

// recordingTransport records a context value of each request it carries.
type recordingTransport struct {
	mu     sync.Mutex
	values []any
}

func (rt *recordingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Path == "/api/query" { // not the WebSocket handshake
		rt.mu.Lock()
		rt.values = append(rt.values, r.Context().Value(ctxKey{}))
		rt.mu.Unlock()
	}
	return http.DefaultTransport.RoundTrip(r)
}

// A one-shot query runs under the caller's context: its values reach the
// HTTP request, and a caller who gives up cancels the request when nobody
// else waits for it.
func TestHTTPQueryRunsUnderCallersContext(t *testing.T) {
	srv := testserver.NewDemo()
	t.Cleanup(srv.Close)
	started, abandoned := make(chan struct{}), make(chan struct{})
	srv.RegisterQuery("slow:block", func(ctx *testserver.QueryCtx, args map[string]any) (any, error) {
		close(started)
		<-ctx.Context().Done() // the HTTP request went away
		close(abandoned)
		return nil, ctx.Context().Err()
	})
	rt := &recordingTransport{}
	c, err := New(srv.URL(), WithHTTPClient(&http.Client{Transport: rt}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)

	vctx := context.WithValue(ctx, ctxKey{}, "caller's value")
	if _, err := c.QueryRaw(vctx, "counter:get", map[string]any{"name": "v"}); err != nil {
		t.Fatal(err)
	}
	rt.mu.Lock()
	got := append([]any(nil), rt.values...)
	rt.mu.Unlock()
	if len(got) != 1 || got[0] != "caller's value" {
		t.Fatalf("the HTTP request carried context values %v, want the caller's", got)
	}

	qctx, qcancel := context.WithCancel(ctx)
	res := make(chan error, 1)
	go func() { _, err := c.QueryRaw(qctx, "slow:block", nil); res <- err }()
	select {
	case <-started:
	case <-ctx.Done():
		t.Fatal("the query never reached the deployment")
	}
	qcancel()
	if err := <-res; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled query = %v", err)
	}
	select {
	case <-abandoned:
	case <-ctx.Done():
		t.Fatal("the HTTP request went on after its only caller gave up")
	}
}

// Every HTTP request is bounded: a deployment that accepts the connection
// and never answers fails the query after the HTTP timeout.
func TestHTTPQueryTimesOut(t *testing.T) {
	srv, _, ctx := setup(t)
	front := newSilentFront(t, srv)
	c, err := New(front.URL(), WithHTTPTimeout(50*time.Millisecond), WithHandshakeTimeout(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.QueryRaw(ctx, "counter:get", map[string]any{"name": "t"})
	if ctx.Err() != nil {
		t.Fatal("the query to a silent deployment ran until its caller's deadline")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("query to a silent deployment = %v, want a deadline error", err)
	}
}

// A one-shot query started after this client's mutation returned reflects
// it: it does not join an identical request that was in flight before the
// mutation completed.
func TestHTTPQueryAfterWriteDoesNotShareStaleFlight(t *testing.T) {
	srv, c, ctx := setup(t)
	var calls atomic.Int64
	read, gate, second := make(chan struct{}), make(chan struct{}), make(chan struct{})
	srv.RegisterQuery("slow:counter", func(qc *testserver.QueryCtx, args map[string]any) (any, error) {
		v := any(int64(0))
		if docs := qc.Filter("counters", func(d map[string]any) bool { return d["name"] == "w" }); len(docs) > 0 {
			v = docs[0]["value"]
		}
		switch calls.Add(1) {
		case 1: // the first request holds its (old) value until released
			close(read)
			select {
			case <-gate:
			case <-qc.Context().Done():
			}
		case 2:
			close(second)
		}
		return v, nil
	})
	first := make(chan int64, 1)
	go func() {
		v, err := Query[int64](ctx, c, "slow:counter", nil)
		if err != nil {
			v = -1
		}
		first <- v
	}()
	<-read
	if _, err := Mutation[int64](ctx, c, "counter:increment", map[string]any{"name": "w"}); err != nil {
		t.Fatal(err)
	}
	after := make(chan int64, 1)
	go func() {
		v, err := Query[int64](ctx, c, "slow:counter", nil)
		if err != nil {
			v = -1
		}
		after <- v
	}()
	select {
	case <-second:
	case v := <-after:
		t.Fatalf("the query after the mutation returned %d without its own request", v)
	case <-ctx.Done():
		t.Fatal("the query after the mutation joined the request in flight before it")
	}
	if v := <-after; v != 1 {
		t.Errorf("query after the mutation = %d, want 1", v)
	}
	close(gate)
	if v := <-first; v != 0 {
		t.Errorf("query before the mutation = %d, want 0", v)
	}
}
