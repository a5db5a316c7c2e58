package client

import (
	"fmt"
	"sync"
	"testing"

	"github.com/convexgo/convex/internal/testserver"
)

// TestDuplicateSubscribeNoWire: subscribers of a live query join it with
// no wire message and get its cached value at once.
func TestDuplicateSubscribeNoWire(t *testing.T) {
	srv, c, ctx := setup(t)
	args := map[string]any{"name": "dup"}
	first, err := Subscribe[int64](ctx, c, "counter:get", args)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if _, err := first.Next(ctx); err != nil {
		t.Fatal(err)
	}
	before := srv.Stats().MessagesReceived
	for range 100 {
		s, err := Subscribe[int64](ctx, c, "counter:get", args)
		if err != nil {
			t.Fatal(err)
		}
		if _, err, ok := s.Latest(); !ok || err != nil {
			t.Fatalf("no cached value at once: %v %v", ok, err)
		}
		s.Close()
	}
	// A round trip through the owner orders the asynchronous Closes.
	st, err := c.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Subscribers != 1 || st.Queries != 1 {
		t.Fatalf("Stats = %+v, want 1 subscriber of 1 query", st)
	}
	if n := srv.Stats().MessagesReceived - before; n != 0 {
		t.Fatalf("%d wire messages for duplicate subscribers", n)
	}
}

// TestSubscribeRacingLastClose has many goroutines subscribe to and close
// one query while nothing else holds it, so that duplicate subscribes race
// the last Close: every subscriber must get a value (it joined the dying
// group in time or made a new one), and at the end the query is gone from
// the client and the deployment.
func TestSubscribeRacingLastClose(t *testing.T) {
	srv, c, ctx := setup(t)
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				args := map[string]any{"name": fmt.Sprint("race", (g+i)%2)}
				s, err := c.SubscribeRaw(ctx, "counter:get", args)
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := s.Next(ctx); err != nil {
					t.Errorf("subscriber lost: %v", err)
					s.Close()
					return
				}
				s.Close()
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	st, err := c.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Subscribers != 0 || st.Queries != 0 {
		t.Fatalf("Stats = %+v after every subscriber closed", st)
	}
	if err := srv.WaitFor(ctx, func(s testserver.Stats) bool { return s.LiveQueries == 0 }); err != nil {
		t.Fatal(err)
	}
	// A new subscriber after all that still works.
	s, err := c.SubscribeRaw(ctx, "counter:get", map[string]any{"name": "race0"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Next(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestCallbacksAndSubscribersShareQuery: callbacks and pull-style
// subscribers of one query share one server subscription, and the query
// stays live until the last of either kind leaves.
func TestCallbacksAndSubscribersShareQuery(t *testing.T) {
	srv, c, ctx := setup(t)
	args := map[string]any{"name": "mixed"}
	s, err := Subscribe[int64](ctx, c, "counter:get", args)
	if err != nil {
		t.Fatal(err)
	}
	u := newUpdates()
	unsub, err := OnUpdate(ctx, c, "counter:get", args, u.f)
	if err != nil {
		t.Fatal(err)
	}
	u.until(t, ctx, 0)
	s.Close()
	n := increment(t, ctx, c, "mixed")
	u.until(t, ctx, n)
	if a := srv.Stats().Adds; a != 1 {
		t.Fatalf("%d Adds, want 1", a)
	}
	unsub()
	if err := srv.WaitFor(ctx, func(s testserver.Stats) bool { return s.LiveQueries == 0 }); err != nil {
		t.Fatal(err)
	}
}
