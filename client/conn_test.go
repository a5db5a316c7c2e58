package client

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/convexgo/convex/internal/testserver"
	"github.com/convexgo/convex/internal/version"
)

// A message type the client does not know is ignored and logged once per
// type, as the official client ignores it; the socket stays up. A known
// type that is malformed is still a protocol error (see
// TestProtocolErrorsReconnect).
func TestUnknownServerMessageIgnored(t *testing.T) {
	var logs lockedBuffer
	srv, c, ctx := setup(t, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	sub, err := Subscribe[int64](ctx, c, "counter:get", map[string]any{"name": "u"})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if _, err := sub.Next(ctx); err != nil {
		t.Fatal(err)
	}
	opened := srv.Stats().SocketsOpened
	for range 3 {
		srv.InjectRawFrame([]byte(`{"type":"FutureMessage","payload":{"x":"1"}}`))
	}
	srv.InjectRawFrame([]byte(`{"type":"OtherNewThing"}`))
	// Frames arrive in order: once the mutation's effects are visible, the
	// client has read every injected frame.
	if _, err := Mutation[int64](ctx, c, "counter:increment", map[string]any{"name": "u"}); err != nil {
		t.Fatal(err)
	}
	if v := nextUntil(t, ctx, sub, func(v int64) bool { return v == 1 }); v != 1 {
		t.Fatal(v)
	}
	if got := srv.Stats().SocketsOpened; got != opened {
		t.Fatalf("the client reconnected: %d sockets opened, want %d\nlogs:\n%s", got, opened, logs.String())
	}
	if n := strings.Count(logs.String(), "type=FutureMessage"); n != 1 {
		t.Errorf("FutureMessage logged %d times, want once:\n%s", n, logs.String())
	}
	if n := strings.Count(logs.String(), "type=OtherNewThing"); n != 1 {
		t.Errorf("OtherNewThing logged %d times, want once:\n%s", n, logs.String())
	}
}

// The client dials /api/sync with Convex-Client: go-<version>, as the
// official Rust client does, so the deployment never takes it for npm.
func TestDialsAPISyncWithClientHeader(t *testing.T) {
	srv, c, ctx := setup(t)
	if _, err := c.QueryRaw(ctx, "counter:get", map[string]any{"name": "p"}, ViaSocket()); err != nil {
		t.Fatal(err)
	}
	paths := srv.SyncPaths()
	if len(paths) == 0 || paths[0].Path != "/api/sync" || paths[0].Client != version.ClientHeader {
		t.Fatalf("sync requests = %+v, want /api/sync with %q", paths, version.ClientHeader)
	}
}

// A .convex.site URL serves HTTP actions, not the sync API: New refuses it
// and names the .convex.cloud URL meant.
func TestNewRefusesConvexSite(t *testing.T) {
	for _, u := range []string{"https://happy-animal-123.convex.site", "https://happy-animal-123.convex.site/", "https://HAPPY-animal-123.Convex.Site"} {
		c, err := New(u)
		if err == nil {
			c.Close()
			t.Fatalf("New(%q) succeeded", u)
		}
		if !strings.Contains(strings.ToLower(err.Error()), "https://happy-animal-123.convex.cloud") {
			t.Errorf("New(%q) = %v; want it to name the .convex.cloud URL", u, err)
		}
	}
}

// Log lines of queries, mutations and actions, over the socket and over
// HTTP, on success and failure, reach the client's logger as the official
// client prints them: "[CONVEX Q(path)] [LOG] 'text'".
func TestFunctionLogLinesAreLogged(t *testing.T) {
	srv := testserver.NewDemo()
	t.Cleanup(srv.Close)
	srv.RegisterQuery("logs:ok", func(ctx *testserver.QueryCtx, args map[string]any) (any, error) {
		ctx.Log("query ran with %v", args["k"])
		return "fine", nil
	})
	srv.RegisterQuery("logs:fail", func(ctx *testserver.QueryCtx, args map[string]any) (any, error) {
		ctx.Log("query about to fail")
		return nil, errors.New("query boom")
	})
	srv.RegisterMutation("logs:mut", func(ctx *testserver.MutationCtx, args map[string]any) (any, error) {
		ctx.Log("mutation ran")
		if args["fail"] == "yes" {
			return nil, errors.New("mutation boom")
		}
		return nil, nil
	})
	srv.RegisterAction("logs:act", func(ctx *testserver.ActionCtx, args map[string]any) (any, error) {
		ctx.Log("action ran")
		return nil, errors.New("action boom")
	})
	var logs lockedBuffer
	c, err := New(srv.URL(), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)

	if _, err := c.QueryRaw(ctx, "logs:ok", map[string]any{"k": "socket"}, ViaSocket()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.QueryRaw(ctx, "logs:ok", map[string]any{"k": "http"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.QueryRaw(ctx, "logs:fail", nil, ViaSocket()); err == nil {
		t.Fatal("logs:fail succeeded")
	}
	if _, err := c.QueryRaw(ctx, "logs:fail", nil); err == nil {
		t.Fatal("logs:fail succeeded over HTTP")
	}
	if _, err := c.MutationRaw(ctx, "logs:mut", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.MutationRaw(ctx, "logs:mut", map[string]any{"fail": "yes"}); err == nil {
		t.Fatal("failing mutation succeeded")
	}
	if _, err := c.ActionRaw(ctx, "logs:act", nil); err == nil {
		t.Fatal("failing action succeeded")
	}
	got := logs.String()
	for line, n := range map[string]int{
		`msg="[CONVEX Q(logs:ok)] [LOG] 'query ran with socket'"`: 1,
		`msg="[CONVEX Q(logs:ok)] [LOG] 'query ran with http'"`:   1,
		`msg="[CONVEX Q(logs:fail)] [LOG] 'query about to fail'"`: 2,
		`msg="[CONVEX M(logs:mut)] [LOG] 'mutation ran'"`:         2,
		`msg="[CONVEX A(logs:act)] [LOG] 'action ran'"`:           1,
	} {
		if c := strings.Count(got, line); c != n {
			t.Errorf("%s logged %d times, want %d", line, c, n)
		}
	}
	if t.Failed() {
		t.Logf("logs:\n%s", got)
	}
}
