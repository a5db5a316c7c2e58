package client

import (
	"errors"
	"testing"

	"github.com/convexgo/convex/internal/testserver"
	"github.com/convexgo/convex/protocol"
)

func TestSubscribeAll(t *testing.T) {
	srv, c, ctx := setup(t)
	// One of the queries is also subscribed on its own: they share it.
	single, err := Subscribe[int64](ctx, c, "counter:get", map[string]any{"name": "a"})
	if err != nil {
		t.Fatal(err)
	}
	defer single.Close()
	set, err := c.SubscribeAll(ctx,
		QuerySpec{"counter:get", map[string]any{"name": "a"}},
		QuerySpec{"counter:get", map[string]any{"name": "b"}},
		QuerySpec{"errors:throw", nil})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	snap, err := set.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	decode := func(s Snapshot, i int) int64 {
		var n int64
		if err := protocol.Unmarshal(s.Values[i], &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	var fe *FunctionError
	if decode(snap, 0) != 0 || decode(snap, 1) != 0 || !errors.As(snap.Errs[2], &fe) || snap.TS == 0 {
		t.Fatalf("first snapshot = %+v", snap)
	}
	if got := srv.Stats().Adds; got != 3 {
		t.Fatalf("server got %d Adds for 3 distinct queries", got)
	}
	if _, err := Mutation[int64](ctx, c, "counter:increment", map[string]any{"name": "b", "by": int64(5)}); err != nil {
		t.Fatal(err)
	}
	next, err := set.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if decode(next, 0) != 0 || decode(next, 1) != 5 || next.TS <= snap.TS {
		t.Fatalf("second snapshot = %+v (first at %d)", next, snap.TS)
	}
	set.Close()
	if _, err := set.Next(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("Next after Close = %v", err)
	}
	// Closing the set releases b and errors:throw but not a, still used.
	if err := srv.WaitFor(ctx, func(s testserver.Stats) bool { return s.LiveQueries == 1 }); err != nil {
		t.Fatalf("%v: %+v", err, srv.Stats())
	}
}

func TestStats(t *testing.T) {
	_, c, ctx := setup(t)
	for i := 0; i < 3; i++ {
		s, err := c.SubscribeRaw(ctx, "counter:get", map[string]any{"name": "s"})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
	}
	set, err := c.SubscribeAll(ctx, QuerySpec{"counter:get", map[string]any{"name": "s"}}, QuerySpec{"counter:get", map[string]any{"name": "t"}})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	st, err := c.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Subscribers != 5 || st.Queries != 2 {
		t.Fatalf("Stats = %+v, want 5 subscribers over 2 queries", st)
	}
}
