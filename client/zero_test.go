package client

import (
	"context"
	"errors"
	"testing"

	"github.com/convexgo/convex/internal/testserver"
)

// The zero value of each exported type is unusable but safe: Close does
// nothing and every other method returns ErrNotInitialized, never a panic
// or a hang.
func TestZeroValues(t *testing.T) {
	ctx := context.Background()
	var c Client
	if err := c.Close(); err != nil {
		t.Error(err)
	}
	if _, err := c.QueryRaw(ctx, "m:f", nil); !errors.Is(err, ErrNotInitialized) {
		t.Errorf("QueryRaw = %v", err)
	}
	if _, err := c.MutationRaw(ctx, "m:f", nil); !errors.Is(err, ErrNotInitialized) {
		t.Errorf("MutationRaw = %v", err)
	}
	if _, err := c.SubscribeRaw(ctx, "m:f", nil); !errors.Is(err, ErrNotInitialized) {
		t.Errorf("SubscribeRaw = %v", err)
	}
	if _, err := c.Stats(ctx); !errors.Is(err, ErrNotInitialized) {
		t.Errorf("Stats = %v", err)
	}
	if err := c.ClearAuth(ctx); !errors.Is(err, ErrNotInitialized) {
		t.Errorf("ClearAuth = %v", err)
	}
	if s := c.ConnectionState(); s != Closed {
		t.Errorf("ConnectionState = %v", s)
	}
	if _, err := c.WaitForState(ctx, func(ConnectionState) bool { return false }); !errors.Is(err, ErrNotInitialized) {
		t.Errorf("WaitForState = %v", err)
	}
	var raw RawSubscription
	if err := raw.Close(); err != nil {
		t.Error(err)
	}
	if _, err := raw.Next(ctx); !errors.Is(err, ErrNotInitialized) {
		t.Errorf("RawSubscription.Next = %v", err)
	}
	if _, err, ok := raw.Latest(); ok || !errors.Is(err, ErrNotInitialized) {
		t.Errorf("RawSubscription.Latest = %v %v", err, ok)
	}
	var sub Subscription[int]
	if err := sub.Close(); err != nil {
		t.Error(err)
	}
	if _, err := sub.Next(ctx); !errors.Is(err, ErrNotInitialized) {
		t.Errorf("Subscription.Next = %v", err)
	}
	if _, err, _ := sub.Latest(); !errors.Is(err, ErrNotInitialized) {
		t.Errorf("Subscription.Latest = %v", err)
	}
	for _, err := range sub.Updates(ctx) {
		if !errors.Is(err, ErrNotInitialized) {
			t.Errorf("Subscription.Updates = %v", err)
		}
		break
	}
	var snap SnapshotSubscription
	if err := snap.Close(); err != nil {
		t.Error(err)
	}
	if _, err := snap.Next(ctx); !errors.Is(err, ErrNotInitialized) {
		t.Errorf("SnapshotSubscription.Next = %v", err)
	}
	var b AuthBoundary
	if err := b.Close(); err != nil {
		t.Error(err)
	}
	var h HTTPCaller
	if _, err := h.QueryRaw(ctx, "m:f", nil); err == nil {
		t.Error("zero HTTPCaller made a call")
	}
}

func TestZeroHTTPClient(t *testing.T) {
	var h HTTPClient
	if _, err := h.As(Anonymous()).QueryRaw(context.Background(), "m:f", nil); !errors.Is(err, ErrNotInitialized) {
		t.Errorf("zero HTTPClient = %v", err)
	}
}

// State callbacks can be added after New, several of them, and removed.
func TestOnStateChange(t *testing.T) {
	srv, c, ctx := setup(t)
	if _, err := c.WaitForState(ctx, func(s ConnectionState) bool { return s == Connected }); err != nil {
		t.Fatal(err)
	}
	a, b := make(chan ConnectionState, 16), make(chan ConnectionState, 16)
	removeA, err := c.OnStateChange(func(s ConnectionState) { a <- s })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.OnStateChange(func(s ConnectionState) { b <- s }); err != nil {
		t.Fatal(err)
	}
	if _, err := c.OnStateChange(nil); err == nil {
		t.Fatal("OnStateChange(nil) accepted")
	}
	drop := func() {
		t.Helper()
		// The client may see its socket open before the deployment lists it.
		if err := srv.WaitFor(ctx, func(st testserver.Stats) bool { return st.SocketsOpen == 1 }); err != nil {
			t.Fatal(err)
		}
		if n := srv.DropAll(); n != 1 {
			t.Fatalf("dropped %d sockets", n)
		}
	}
	drop()
	for _, ch := range []chan ConnectionState{a, b} {
		if s := <-ch; s != Reconnecting {
			t.Fatalf("first change = %v", s)
		}
		for s := range ch {
			if s == Connected {
				break
			}
		}
	}
	removeA()
	drop()
	for s := range b {
		if s == Connected {
			break
		}
	}
	// b saw the second drop; a, removed, saw nothing more.
	select {
	case s := <-a:
		t.Fatalf("removed callback called with %v", s)
	default:
	}
}

// After Close, Next fails with ErrClosed at once and Latest still returns
// the last value seen, as documented.
func TestAfterClose(t *testing.T) {
	_, c, ctx := setup(t)
	sub, err := Subscribe[int](ctx, c, "counter:get", map[string]any{"name": "ac"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sub.Next(ctx); err != nil {
		t.Fatal(err)
	}
	sub.Close()
	if _, err := sub.Next(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Next after Close = %v", err)
	}
	if v, err, ok := sub.Latest(); !ok || err != nil || v != 0 {
		t.Errorf("Latest after Close = %v, %v, %v", v, err, ok)
	}
	c.Close()
	if _, err := c.SubscribeRaw(ctx, "counter:get", nil); !errors.Is(err, ErrClosed) {
		t.Errorf("SubscribeRaw after Client.Close = %v", err)
	}
}
