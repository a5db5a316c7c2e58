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

// Identical concurrent one-shot queries share one HTTP request; different
// args do not.
func TestHTTPQueriesShareOneRequest(t *testing.T) {
	srv := testserver.NewDemo()
	defer srv.Close()
	gate := make(chan struct{})
	var running atomic.Int64
	srv.RegisterQuery("slow:get", func(ctx *testserver.QueryCtx, args map[string]any) (any, error) {
		running.Add(1)
		select {
		case <-gate:
		case <-ctx.Context().Done():
		}
		return args["k"], nil
	})
	c, err := New(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	const n = 50
	joined := make(chan struct{}, 2*n)
	c.flights.onJoin = func() { joined <- struct{}{} } // set before any query starts
	var wg sync.WaitGroup
	results := make([]string, n+1)
	errs := make([]error, n+1)
	for i := 0; i <= n; i++ {
		k := "v"
		if i == n {
			k = "other" // different args: a request of its own
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = Query[string](ctx, c, "slow:get", map[string]any{"k": k})
		}()
	}
	// Release the function only once every caller has joined a flight: the
	// n identical ones must all be sharing one.
	for i := 0; i <= n; i++ {
		select {
		case <-joined:
		case <-ctx.Done():
			t.Fatalf("only %d callers joined", i)
		}
	}
	close(gate)
	wg.Wait()
	for i := range results {
		want := "v"
		if i == n {
			want = "other"
		}
		if errs[i] != nil || results[i] != want {
			t.Fatalf("caller %d: %q, %v", i, results[i], errs[i])
		}
	}
	if got := srv.Stats().HTTPRequests; got != 2 {
		t.Fatalf("%d HTTP requests for %d identical concurrent queries and one other, want 2", got, n)
	}
	if running.Load() != 2 {
		t.Fatalf("%d executions, want 2", running.Load())
	}
}

func TestHTTPErrors(t *testing.T) {
	_, c, ctx := setup(t)
	// An unknown function is a function error, not an HTTP error.
	_, err := c.QueryRaw(ctx, "nope:missing", nil)
	var fe *FunctionError
	if !errors.As(err, &fe) {
		t.Fatalf("unknown function = %v", err)
	}
	// A bad token is an HTTP 401, classified as an auth error.
	_, err = c.api().post(ctx, "/api/query", "query", "auth:whoami", []byte("{}"), bearer("not-a-jwt"))
	var he *HTTPError
	if !errors.As(err, &he) || he.StatusCode != http.StatusUnauthorized || !he.AuthError() {
		t.Fatalf("bad token over HTTP = %v", err)
	}
	// A caller's ctx ends its wait.
	short, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.QueryRaw(short, "counter:get", map[string]any{"name": "x"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled query = %v", err)
	}
}
