package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/convexgo/convex/internal/testserver"
)

// updates collects an OnUpdate callback's calls on a channel.
type updates struct {
	ch chan int64
}

func newUpdates() *updates { return &updates{ch: make(chan int64, 1000)} }

func (u *updates) f(v int64, err error) {
	if err != nil {
		if !errors.Is(err, ErrClosed) {
			panic(fmt.Sprintf("unexpected error %v", err))
		}
		return
	}
	u.ch <- v
}

// until reads calls until one has the value want, and returns them all.
func (u *updates) until(t *testing.T, ctx context.Context, want int64) []int64 {
	t.Helper()
	var got []int64
	for {
		select {
		case v := <-u.ch:
			got = append(got, v)
			if v == want {
				return got
			}
		case <-ctx.Done():
			t.Fatalf("waiting for %d, got %v: %v", want, got, ctx.Err())
		}
	}
}

func increment(t *testing.T, ctx context.Context, c *Client, name string) int64 {
	t.Helper()
	n, err := Mutation[int64](ctx, c, "counter:increment", map[string]any{"name": name})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestOnUpdateOrder(t *testing.T) {
	_, c, ctx := setup(t)
	u := newUpdates()
	unsub, err := OnUpdate(ctx, c, "counter:get", map[string]any{"name": "order"}, u.f)
	if err != nil {
		t.Fatal(err)
	}
	defer unsub()
	u.until(t, ctx, 0)
	var last int64
	for range 20 {
		last = increment(t, ctx, c, "order")
	}
	got := u.until(t, ctx, last)
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] {
			t.Fatalf("calls out of order: %v", got)
		}
	}
	// A second callback on the live query gets its value at once.
	u2 := newUpdates()
	unsub2, err := OnUpdate(ctx, c, "counter:get", map[string]any{"name": "order"}, u2.f)
	if err != nil {
		t.Fatal(err)
	}
	defer unsub2()
	u2.until(t, ctx, last)
}

// TestOnUpdateLatestValue holds a callback in its first call while three
// mutations land: the next call has the newest value only.
func TestOnUpdateLatestValue(t *testing.T) {
	_, c, ctx := setup(t)
	gate := make(chan struct{})
	entered := make(chan struct{})
	var got []int64
	var mu sync.Mutex
	done := make(chan struct{}, 10)
	first := true
	unsub, err := OnUpdate(ctx, c, "counter:get", map[string]any{"name": "latest"}, func(v int64, err error) {
		if first {
			first = false
			close(entered)
			<-gate
		}
		mu.Lock()
		got = append(got, v)
		mu.Unlock()
		done <- struct{}{}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer unsub()
	<-entered
	var last int64
	for range 3 {
		last = increment(t, ctx, c, "latest")
	}
	close(gate)
	<-done
	<-done
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || got[0] != 0 || got[1] != last {
		t.Fatalf("calls = %v, want [0 %d]", got, last)
	}
}

// TestOnUpdateSlowCallbackOtherQuery: a callback stuck on one query does
// not hold up another query's callbacks.
func TestOnUpdateSlowCallbackOtherQuery(t *testing.T) {
	_, c, ctx := setup(t)
	gate := make(chan struct{})
	entered := make(chan struct{}, 1)
	unsubA, err := OnUpdate(ctx, c, "counter:get", map[string]any{"name": "slow"}, func(int64, error) {
		select {
		case entered <- struct{}{}:
		default:
		}
		<-gate
	})
	if err != nil {
		t.Fatal(err)
	}
	defer unsubA()
	defer close(gate)
	<-entered
	u := newUpdates()
	unsubB, err := OnUpdate(ctx, c, "counter:get", map[string]any{"name": "fast"}, u.f)
	if err != nil {
		t.Fatal(err)
	}
	defer unsubB()
	u.until(t, ctx, 0)
	increment(t, ctx, c, "slow")
	u.until(t, ctx, increment(t, ctx, c, "fast"))
}

// TestOnUpdateUnsubscribe: after unsubscribe returns, the callback sees
// no newer value, while another callback of the same query, run after it
// by the same dispatcher, does.
func TestOnUpdateUnsubscribe(t *testing.T) {
	srv, c, ctx := setup(t)
	u1, u2 := newUpdates(), newUpdates()
	args := map[string]any{"name": "unsub"}
	unsub1, err := OnUpdate(ctx, c, "counter:get", args, u1.f)
	if err != nil {
		t.Fatal(err)
	}
	unsub2, err := OnUpdate(ctx, c, "counter:get", args, u2.f)
	if err != nil {
		t.Fatal(err)
	}
	u1.until(t, ctx, 0)
	u2.until(t, ctx, 0)
	unsub1()
	unsub1() // idempotent
	n := increment(t, ctx, c, "unsub")
	u2.until(t, ctx, n)
	unsub2()
	select {
	case v := <-u1.ch:
		t.Fatalf("unsubscribed callback called with %d", v)
	default:
	}
	// The last to leave removes the query from the deployment.
	if err := srv.WaitFor(ctx, func(s testserver.Stats) bool { return s.LiveQueries == 0 }); err != nil {
		t.Fatal(err)
	}
}

func TestOnUpdatePanicRecovered(t *testing.T) {
	var logs bytes.Buffer
	var logMu sync.Mutex
	_, c, ctx := setup(t, WithLogger(slog.New(slog.NewTextHandler(lockedWriter{&logMu, &logs}, nil))))
	u := newUpdates()
	calls := 0
	panicked := make(chan struct{})
	unsub, err := OnUpdate(ctx, c, "counter:get", map[string]any{"name": "panic"}, func(v int64, err error) {
		calls++
		if calls == 1 {
			close(panicked)
			panic("boom")
		}
		u.f(v, err)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer unsub()
	// Increment only after the first call panicked: done earlier, the first
	// call could already see the new value (latest-value delivery), and no
	// later call would come.
	<-panicked
	u.until(t, ctx, increment(t, ctx, c, "panic"))
	logMu.Lock()
	defer logMu.Unlock()
	if !strings.Contains(logs.String(), "OnUpdate callback panicked") || !strings.Contains(logs.String(), "boom") {
		t.Fatalf("panic not logged: %s", logs.String())
	}
}

// TestOnUpdateClose: Close calls each callback once with ErrClosed and
// waits for it.
func TestOnUpdateClose(t *testing.T) {
	_, c, ctx := setup(t)
	errs := make(chan error, 10)
	_, err := OnUpdate(ctx, c, "counter:get", map[string]any{"name": "close"}, func(_ int64, err error) { errs <- err })
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := <-errs; !errors.Is(err, ErrClosed) {
		t.Fatalf("got %v, want ErrClosed", err)
	}
	if _, err := OnUpdate(ctx, c, "counter:get", map[string]any{"name": "close"}, func(int64, error) {}); !errors.Is(err, ErrClosed) {
		t.Fatalf("OnUpdate after Close: %v", err)
	}
}

// TestOnUpdateNoGoroutinePerSubscriber registers 10,000 callbacks over 10
// queries: the goroutines the client runs grow by at most one dispatcher
// per query, whatever the number of callbacks.
func TestOnUpdateNoGoroutinePerSubscriber(t *testing.T) {
	srv, c, ctx := setup(t)
	// Count from a settled client: its socket's goroutines, and the
	// deployment's for it, are running before the baseline is taken.
	if _, err := c.WaitForState(ctx, func(s ConnectionState) bool { return s == Connected }); err != nil {
		t.Fatal(err)
	}
	if err := srv.WaitFor(ctx, func(st testserver.Stats) bool { return st.SocketsOpen == 1 && st.TransitionsSent >= 1 }); err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()
	var wg sync.WaitGroup
	var unsubs []func()
	for i := range 10_000 {
		wg.Add(1)
		var once sync.Once
		unsub, err := OnUpdate(ctx, c, "counter:get", map[string]any{"name": fmt.Sprint("many", i%10)}, func(int64, error) {
			once.Do(wg.Done)
		})
		if err != nil {
			t.Fatal(err)
		}
		unsubs = append(unsubs, unsub)
	}
	wg.Wait()
	if n := runtime.NumGoroutine() - before; n > 10 {
		t.Fatalf("%d more goroutines for 10,000 callbacks over 10 queries", n)
	}
	for _, u := range unsubs {
		u()
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
