package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/convexgo/convex/internal/testserver"
	"github.com/convexgo/convex/protocol"
	"github.com/convexgo/convex/transport"
)

// connects returns the Connect messages the server received, in order.
func connects(srv *testserver.Server) []*protocol.Connect {
	var out []*protocol.Connect
	for _, r := range srv.Received() {
		if c, ok := r.Msg.(*protocol.Connect); ok {
			out = append(out, c)
		}
	}
	return out
}

// deref returns *p, or "<nil>" for a nil p.
func deref[T any](p *T) string {
	if p == nil {
		return "<nil>"
	}
	return fmt.Sprint(*p)
}

// describeConnect prints a Connect's fields by value (%+v would print its
// pointer fields as addresses).
func describeConnect(c *protocol.Connect) string {
	return fmt.Sprintf("{sessionId:%s connectionCount:%d lastCloseReason:%q maxObservedTimestamp:%s clientTs:%d}",
		c.SessionID, c.ConnectionCount, deref(c.LastCloseReason), deref(c.MaxObservedTimestamp), c.ClientTS)
}

// Checklist items 2-4 through a real socket: one session id, counted
// connections, the close reason and the largest timestamp seen.
func TestReconnectConnectFields(t *testing.T) {
	srv, c, ctx := setup(t, withBackoffScale(0.01))
	if _, err := Mutation[int64](ctx, c, "counter:increment", map[string]any{"name": "k"}); err != nil {
		t.Fatal(err)
	}
	srv.DropAll()
	// Send nothing until the client has seen the drop and dialed again: a
	// frame written into the dead socket first would end it with
	// FailedToSendMessage instead (a legitimate reason, but not this test's).
	if err := srv.WaitFor(ctx, func(s testserver.Stats) bool { return s.SocketsOpened >= 2 }); err != nil {
		t.Fatal(err)
	}
	if _, err := Mutation[int64](ctx, c, "counter:increment", map[string]any{"name": "k"}); err != nil {
		t.Fatal(err)
	}
	cs := connects(srv)
	if len(cs) < 2 {
		t.Fatalf("%d Connects", len(cs))
	}
	first, second := cs[0], cs[1]
	if first.ConnectionCount != 0 || deref(first.LastCloseReason) != "InitialConnect" || first.MaxObservedTimestamp != nil {
		t.Errorf("first Connect = %s", describeConnect(first))
	}
	if second.SessionID != first.SessionID || second.ConnectionCount != 1 {
		t.Errorf("second Connect = %s (first %s)", describeConnect(second), describeConnect(first))
	}
	if deref(second.LastCloseReason) != "closed with code 1006" {
		t.Errorf("close reason = %q", deref(second.LastCloseReason))
	}
	if second.MaxObservedTimestamp == nil || *second.MaxObservedTimestamp == 0 {
		t.Errorf("second Connect = %s, want a maxObservedTimestamp", describeConnect(second))
	}
}

// A mutation whose answer is lost in a drop is re-sent with the same
// requestId and applied once (checklist 26; server item 37).
func TestMutationSurvivesDrop(t *testing.T) {
	srv, c, ctx := setup(t)
	sub, err := Subscribe[int64](ctx, c, "counter:get", map[string]any{"name": "once"})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if _, err := sub.Next(ctx); err != nil {
		t.Fatal(err)
	}
	srv.Stall() // the mutation runs, but its answer never leaves
	res := make(chan error, 1)
	go func() {
		n, err := Mutation[int64](ctx, c, "counter:increment", map[string]any{"name": "once"})
		if err == nil && n != 1 {
			err = errors.New("wrong result")
		}
		res <- err
	}()
	if err := srv.WaitFor(ctx, func(s testserver.Stats) bool { return s.MutationsCommitted == 1 }); err != nil {
		t.Fatal(err)
	}
	srv.DropAll()
	srv.Resume()
	if err := <-res; err != nil {
		t.Fatal(err)
	}
	st := srv.Stats()
	if st.MutationsCommitted != 1 || st.MutationReplays != 1 {
		t.Fatalf("committed %d, replays %d", st.MutationsCommitted, st.MutationReplays)
	}
	if v := nextUntil(t, ctx, sub, func(v int64) bool { return v == 1 }); v != 1 {
		t.Fatal(v)
	}
}

// An action in flight during a drop fails with ErrConnectionLost; an
// action made while offline runs after the reconnect (checklist 25).
func TestActionsAcrossDrop(t *testing.T) {
	srv, c, ctx := setup(t)
	if _, err := c.ActionRaw(ctx, "echo:run", nil); err != nil {
		t.Fatal(err)
	}
	srv.Stall()
	res := make(chan error, 1)
	go func() {
		_, err := c.ActionRaw(ctx, "echo:run", map[string]any{"x": 1.0})
		res <- err
	}()
	if err := srv.WaitFor(ctx, func(s testserver.Stats) bool { return s.ActionsRun == 2 }); err != nil {
		t.Fatal(err)
	}
	srv.Refuse(true) // keep the client offline
	srv.DropAll()
	srv.Resume()
	if _, err := c.WaitForState(ctx, func(s ConnectionState) bool { return s == Reconnecting }); err != nil {
		t.Fatal(err)
	}
	queued := make(chan error, 1)
	go func() {
		v, err := Action[map[string]float64](ctx, c, "echo:run", map[string]any{"y": 2.0})
		if err == nil && v["y"] != 2 {
			err = errors.New("wrong echo")
		}
		queued <- err
	}()
	srv.Refuse(false)
	if err := <-res; !errors.Is(err, ErrConnectionLost) {
		t.Fatalf("in-flight action = %v, want ErrConnectionLost", err)
	}
	if err := <-queued; err != nil {
		t.Fatalf("queued action = %v", err)
	}
}

// A Transition from the wrong start version, or a frame that is not
// JSON, makes the client re-sync on a new socket (checklist 20).
func TestProtocolErrorsReconnect(t *testing.T) {
	for name, inject := range map[string]func(*testserver.Server) int{
		"version gap":   (*testserver.Server).InjectVersionGap,
		"corrupt frame": (*testserver.Server).InjectCorruptFrame,
	} {
		t.Run(name, func(t *testing.T) {
			srv, c, ctx := setup(t)
			sub, err := Subscribe[int64](ctx, c, "counter:get", map[string]any{"name": "g"})
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			if _, err := sub.Next(ctx); err != nil {
				t.Fatal(err)
			}
			opened := srv.Stats().SocketsOpened
			inject(srv)
			if _, err := Mutation[int64](ctx, c, "counter:increment", map[string]any{"name": "g"}); err != nil {
				t.Fatal(err)
			}
			if v := nextUntil(t, ctx, sub, func(v int64) bool { return v == 1 }); v != 1 {
				t.Fatal(v)
			}
			if srv.Stats().SocketsOpened == opened {
				t.Fatal("the client did not reconnect")
			}
		})
	}
}

// FatalError stops the client for good (checklist 30).
func TestFatalErrorStops(t *testing.T) {
	srv, c, ctx := setup(t)
	sub, err := c.SubscribeRaw(ctx, "counter:get", map[string]any{"name": "f"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sub.Next(ctx); err != nil {
		t.Fatal(err)
	}
	srv.InjectFatalError("BaseVersionMismatch: test")
	_, err = sub.Next(ctx)
	var fe *FatalError
	if !errors.As(err, &fe) || !strings.Contains(fe.Message, "BaseVersionMismatch") {
		t.Fatalf("Next after FatalError = %v", err)
	}
	if _, err := c.WaitForState(ctx, func(s ConnectionState) bool { return s == Stopped }); err != nil {
		t.Fatal(err)
	}
	if _, err := c.MutationRaw(ctx, "counter:increment", map[string]any{"name": "f"}); !errors.As(err, &fe) {
		t.Fatalf("mutation after FatalError = %v", err)
	}
	// No further connection attempts: nothing is scheduled or dialing, and
	// dial refuses to start once stopped, so none can begin later.
	var retrying bool
	if err := c.do(ctx, func(o *owner) { retrying = o.retry != nil || o.dialing || o.conn != nil }); err != nil {
		t.Fatal(err)
	}
	if retrying {
		t.Fatal("the client still tries to connect after a FatalError")
	}
	if s := c.ConnectionState(); s != Stopped {
		t.Fatalf("state = %v after a FatalError", s)
	}
}

// With no message for the inactivity timeout, the client reconnects with
// lastCloseReason InactiveServer (checklist 28).
func TestInactivityReconnect(t *testing.T) {
	srv, c, ctx := setup(t, WithInactivityTimeout(200*time.Millisecond))
	if _, err := c.QueryRaw(ctx, "counter:get", map[string]any{"name": "i0"}, ViaSocket()); err != nil {
		t.Fatal(err)
	}
	srv.Stall() // silence, without closing the socket
	if err := srv.WaitFor(ctx, func(s testserver.Stats) bool { return s.SocketsOpened >= 2 }); err != nil {
		t.Fatal(err)
	}
	srv.Resume()
	if _, err := c.QueryRaw(ctx, "counter:get", map[string]any{"name": "i"}, ViaSocket()); err != nil {
		t.Fatal(err)
	}
	cs := connects(srv)
	if len(cs) < 2 || cs[1].LastCloseReason == nil || *cs[1].LastCloseReason != "InactiveServer" {
		t.Fatalf("second Connect = %+v", cs[len(cs)-1])
	}
}

// A Transition split into TransitionChunks is reassembled (checklist 31).
func TestChunkedTransitions(t *testing.T) {
	srv := testserver.NewDemo(testserver.WithForceChunking(true), testserver.WithTransitionChunkSize(64))
	defer srv.Close()
	c, err := New(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sub, err := Subscribe[[]message](ctx, c, "messages:list", map[string]any{"channel": "big"})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	body := strings.Repeat("é", 300)
	if _, err := c.MutationRaw(ctx, "messages:send", map[string]any{"channel": "big", "author": "a", "body": body}); err != nil {
		t.Fatal(err)
	}
	v, err, _ := sub.Latest()
	if err != nil || len(v) != 1 || v[0].Body != body {
		t.Fatalf("Latest = %d messages, %v", len(v), err)
	}
}

// Subscribing many times to the same query through many goroutines keeps
// one server subscription.
func TestConcurrentDedup(t *testing.T) {
	srv, c, ctx := setup(t)
	const n = 200
	errs := make(chan error, n)
	subs := make(chan *RawSubscription, n)
	for i := 0; i < n; i++ {
		go func() {
			s, err := c.SubscribeRaw(ctx, "counter:get", map[string]any{"name": "shared"})
			if err == nil {
				_, err = s.Next(ctx)
			}
			errs <- err
			subs <- s
		}()
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := srv.Stats().Adds; got != 1 {
		t.Fatalf("server received %d Adds for one query", got)
	}
	for i := 0; i < n; i++ {
		(<-subs).Close()
	}
	if err := srv.WaitFor(ctx, func(s testserver.Stats) bool { return s.Removes == 1 && s.LiveQueries == 0 }); err != nil {
		t.Fatalf("%v: %+v", err, srv.Stats())
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A message over the read limit is reported loudly, not retried silently:
// the subscribers of the socket get the error from Next, the connection
// status carries it, it is logged as an error, and the backoff keeps
// growing while the message keeps coming (every re-sync brings it again),
// however well the rest of each re-sync goes.
func TestReadLimitIsReported(t *testing.T) {
	var logs lockedBuffer
	srv, c, ctx := setup(t, WithReadLimit(4096), withBackoffScale(0.01),
		WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	small, err := c.SubscribeRaw(ctx, "counter:get", map[string]any{"name": "small"})
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close()
	if _, err := small.Next(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.RunMutation("messages:send", map[string]any{"channel": "big", "author": "a", "body": strings.Repeat("x", 8192)}); err != nil {
		t.Fatal(err)
	}
	sub, err := c.SubscribeRaw(ctx, "messages:list", map[string]any{"channel": "big"})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	for name, s := range map[string]*RawSubscription{"the big query": sub, "another query": small} {
		if _, err := s.Next(ctx); !errors.Is(err, transport.ErrMessageTooBig) || !errors.Is(err, ErrMessageTooBig) {
			t.Fatalf("Next of %s = %v, want the read-limit error", name, err)
		}
	}
	var seen []int
	st, err := c.WaitForStatus(ctx, func(st ConnectionStatus) bool {
		if st.State == Reconnecting && (len(seen) == 0 || seen[len(seen)-1] != st.Attempts) {
			seen = append(seen, st.Attempts)
		}
		return st.State == Reconnecting && st.Attempts >= 6
	})
	if err != nil {
		t.Fatalf("status %+v: %v (attempts seen %v)", st, err, seen)
	}
	if !errors.Is(st.LastError, transport.ErrMessageTooBig) {
		t.Errorf("LastError = %v", st.LastError)
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] <= seen[i-1] {
			t.Fatalf("the backoff was reset while the oversized message kept coming: attempts %v", seen)
		}
	}
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "exceeds the read limit") {
		t.Fatalf("not logged as an error:\n%s", logs.String())
	}
	// Once the oversized query is gone, the client re-syncs and the backoff
	// starts over.
	sub.Close()
	if _, err := Mutation[int64](ctx, c, "counter:increment", map[string]any{"name": "small"}); err != nil {
		t.Fatal(err)
	}
	if st, err := c.WaitForStatus(ctx, func(st ConnectionStatus) bool { return st.State == Connected && st.Attempts == 0 }); err != nil {
		t.Fatalf("after the big query closed: %+v, %v", st, err)
	}
}

// The default read limit holds a Transition far above 16 MiB: one query
// result may be 16 MiB by Convex's size measure and more as JSON, and a
// re-sync carries every live query in one Transition.
func TestDefaultReadLimitHoldsLargeTransitions(t *testing.T) {
	srv, c, _ := setup(t)
	ctx := bigPayloadContext(t)
	chunk := strings.Repeat("é", 3<<20) // 6 MiB of UTF-8 each
	for range 3 {
		if _, err := srv.RunMutation("messages:send", map[string]any{"channel": "huge", "author": "a", "body": chunk}); err != nil {
			t.Fatal(err)
		}
	}
	sub, err := Subscribe[[]message](ctx, c, "messages:list", map[string]any{"channel": "huge"})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	v, err := sub.Next(ctx)
	if err != nil || len(v) != 3 || v[2].Body != chunk {
		t.Fatalf("an 18 MiB result: %d messages, %v", len(v), err)
	}
	if st := srv.Stats(); st.SocketsOpened != 1 {
		t.Fatalf("%d sockets opened", st.SocketsOpened)
	}
}

// When the oversized message comes after a re-sync completed (here a frame
// injected once each new socket is in sync), the re-sync does not reset
// the backoff: it keeps growing while the condition repeats, so the loop
// slows to the backoff's cap instead of reconnecting every 100 ms.
func TestReadLimitBackoffGrowsAcrossResyncs(t *testing.T) {
	srv, c, ctx := setup(t, WithReadLimit(4096), withBackoffScale(0.01))
	sub, err := Subscribe[int64](ctx, c, "counter:get", map[string]any{"name": "r"})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	big := []byte(`{"type":"Ping","padding":"` + strings.Repeat("x", 8192) + `"}`)
	var attempts []int
	for i := 0; i < 5; i++ {
		// A mutation resolves only after the socket's Transitions up to
		// it were applied, so the client is in sync when it returns.
		if _, err := Mutation[int64](ctx, c, "counter:increment", map[string]any{"name": "r"}); err != nil {
			t.Fatal(err)
		}
		opened := srv.Stats().SocketsOpened
		if srv.InjectRawFrame(big) != 1 {
			t.Fatal("no open socket to inject into")
		}
		if err := srv.WaitFor(ctx, func(s testserver.Stats) bool { return s.SocketsOpened > opened }); err != nil {
			t.Fatal(err)
		}
		// Attempts is reset only by a re-sync; the new socket's re-sync must
		// not reset it while the oversized frames keep coming.
		attempts = append(attempts, c.Status().Attempts)
	}
	for i, n := range attempts {
		if n != i+1 {
			t.Fatalf("attempt counts after each oversized frame = %v, want 1, 2, 3, 4, 5", attempts)
		}
	}
}

// bigPayloadContext bounds a test that moves tens of MiB: under -race and
// a loaded machine, encoding and decoding them takes far longer than the
// 20 s that bound other tests (about 12 s alone, 30 s with 4 test binaries
// at once). The bound only ends a test that hangs.
func bigPayloadContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
