package client

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/convexgo/convex/internal/leakcheck"
	"github.com/convexgo/convex/internal/testserver"
	"github.com/convexgo/convex/protocol"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

type message struct {
	ID      string  `json:"_id"`
	Created float64 `json:"_creationTime"`
	Channel string  `json:"channel"`
	Author  string  `json:"author"`
	Body    string  `json:"body"`
}

// setup starts a demo deployment and a client connected to it.
func setup(t *testing.T, opts ...Option) (*testserver.Server, *Client, context.Context) {
	t.Helper()
	srv := testserver.NewDemo()
	t.Cleanup(srv.Close)
	c, err := New(srv.URL(), append([]Option{withRand(func() float64 { return 0 })}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return srv, c, ctx
}

// nextUntil reads values until ok accepts one.
func nextUntil[T any](t *testing.T, ctx context.Context, s *Subscription[T], ok func(T) bool) T {
	t.Helper()
	for {
		v, err := s.Next(ctx)
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		if ok(v) {
			return v
		}
	}
}

func TestSubscribeMutateAndDedup(t *testing.T) {
	srv, c, ctx := setup(t)
	args := map[string]any{"channel": "general"}
	sub, err := Subscribe[[]message](ctx, c, "messages:list", args)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if v, err := sub.Next(ctx); err != nil || len(v) != 0 {
		t.Fatalf("first value = %v, %v", v, err)
	}

	// A second subscriber to the same query (keys in another order, path
	// in another form) shares the server subscription and gets the cached
	// value at once.
	before := srv.Stats()
	sub2, err := Subscribe[[]message](ctx, c, "messages.js:list", json.RawMessage(`{"channel": "general"}`))
	if err != nil {
		t.Fatal(err)
	}
	if v, err, ok := sub2.Latest(); !ok || err != nil || len(v) != 0 {
		t.Fatalf("second subscriber's Latest = %v, %v, %v", v, err, ok)
	}

	id, err := Mutation[string](ctx, c, "messages:send", map[string]any{"channel": "general", "author": "ada", "body": "hi"})
	if err != nil {
		t.Fatal(err)
	}
	// Read-your-writes: the mutation returned only after the subscription
	// holds its effect.
	v, err, ok := sub.Latest()
	if !ok || err != nil || len(v) != 1 || v[0].ID != id || v[0].Body != "hi" {
		t.Fatalf("after the mutation, Latest = %+v, %v, %v", v, err, ok)
	}
	for _, s := range []*Subscription[[]message]{sub, sub2} {
		got := nextUntil(t, ctx, s, func(m []message) bool { return len(m) == 1 })
		if got[0].Author != "ada" {
			t.Fatalf("got %+v", got)
		}
	}
	after := srv.Stats()
	if after.Adds != before.Adds {
		t.Errorf("duplicate subscription sent %d Adds", after.Adds-before.Adds)
	}

	// The last subscriber to leave removes the server query.
	sub.Close()
	sub2.Close()
	if err := srv.WaitFor(ctx, func(s testserver.Stats) bool { return s.LiveQueries == 0 }); err != nil {
		t.Fatalf("live queries after both closed: %v (%+v)", err, srv.Stats())
	}
	if got := srv.Stats().Removes - after.Removes; got != 1 {
		t.Errorf("Removes sent = %d, want 1", got)
	}
	if _, err := sub.Next(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Next after Close = %v", err)
	}
}

func TestIntAndFloatArgsAreDifferentQueries(t *testing.T) {
	srv, c, ctx := setup(t)
	a, err := c.SubscribeRaw(ctx, "echo:missing", map[string]any{"n": 1.0})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := c.SubscribeRaw(ctx, "echo:missing", map[string]any{"n": Int64(1)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// A plain Go integer is the Float64 1, as a JavaScript number is.
	d, err := c.SubscribeRaw(ctx, "echo:missing", map[string]any{"n": 1})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := srv.WaitFor(ctx, func(s testserver.Stats) bool { return s.Adds >= 2 }); err != nil {
		t.Fatal(err)
	}
	if a.group.token == b.group.token {
		t.Fatal("Float64 and Int64 args share a token")
	}
	if a.group.token != d.group.token {
		t.Fatal("1 and 1.0 are different queries")
	}
	if st, err := c.Stats(ctx); err != nil || st.Queries != 2 {
		t.Fatalf("Stats = %+v, %v; want 2 distinct queries", st, err)
	}
}

func TestQueryErrorsAndConvexErrorData(t *testing.T) {
	_, c, ctx := setup(t)
	sub, err := Subscribe[any](ctx, c, "errors:throw", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	_, err = sub.Next(ctx)
	var fe *FunctionError
	if !errors.As(err, &fe) || !fe.HasData {
		t.Fatalf("Next = %v, want a FunctionError with data", err)
	}
	var data struct{ Code string }
	if err := fe.DataAs(&data); err != nil || data.Code != "boom" {
		t.Fatalf("data = %+v, %v", data, err)
	}
	// Over HTTP too.
	_, err = Query[any](ctx, c, "errors:throw", nil)
	if !errors.As(err, &fe) || fe.Data.(map[string]any)["code"] != "boom" {
		t.Fatalf("HTTP query error = %v", err)
	}
	// A mutation that fails with a plain error.
	_, err = c.MutationRaw(ctx, "counter:increment", map[string]any{"name": "x", "by": "1"})
	if !errors.As(err, &fe) || fe.HasData || fe.Kind != "mutation" {
		t.Fatalf("bad mutation = %v", err)
	}
}

func TestActionsAndOneShotQueries(t *testing.T) {
	_, c, ctx := setup(t)
	in := map[string]any{"i": Int64(-5), "n": -5, "b": []byte{0, 1}, "f": 1.5, "nested": []any{"x", nil, true}}
	got, err := Action[map[string]any](ctx, c, "echo:run", in)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := protocol.EncodeValue(in)
	gotEnc, _ := protocol.EncodeValue(got)
	if string(want) != string(gotEnc) {
		t.Fatalf("echo = %s, want %s", gotEnc, want)
	}
	if _, err := Mutation[int64](ctx, c, "counter:increment", map[string]any{"name": "n", "by": int64(41)}); err != nil {
		t.Fatal(err)
	}
	n, err := Query[int64](ctx, c, "counter:get", map[string]any{"name": "n"})
	if err != nil || n != 41 {
		t.Fatalf("HTTP Query = %d, %v", n, err)
	}
	n, err = Query[int64](ctx, c, "counter:get", map[string]any{"name": "n"}, ViaSocket())
	if err != nil || n != 41 {
		t.Fatalf("socket Query = %d, %v", n, err)
	}
	if _, err := Query[string](ctx, c, "counter:get", map[string]any{"name": "n"}); err == nil {
		t.Fatal("decoding an int64 into a string succeeded")
	} else {
		var de *DecodeError
		if !errors.As(err, &de) {
			t.Fatalf("decode error = %T %v", err, err)
		}
	}
}

func TestReconnectResubscribesAndKeepsValues(t *testing.T) {
	srv, c, ctx := setup(t)
	sub, err := Subscribe[int64](ctx, c, "counter:get", map[string]any{"name": "r"})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if v, err := sub.Next(ctx); err != nil || v != 0 {
		t.Fatalf("first = %d, %v", v, err)
	}
	opened := srv.Stats().SocketsOpened
	srv.DropAll()
	// While the client reconnects, its subscriber keeps the last value.
	if v, err, ok := sub.Latest(); !ok || err != nil || v != 0 {
		t.Fatalf("Latest during reconnect = %d, %v, %v", v, err, ok)
	}
	if _, err := Mutation[int64](ctx, c, "counter:increment", map[string]any{"name": "r"}); err != nil {
		t.Fatal(err)
	}
	if v := nextUntil(t, ctx, sub, func(v int64) bool { return v == 1 }); v != 1 {
		t.Fatal(v)
	}
	if srv.Stats().SocketsOpened <= opened {
		t.Fatalf("no new socket: %+v", srv.Stats())
	}
	if _, err := c.WaitForState(ctx, func(s ConnectionState) bool { return s == Connected }); err != nil {
		t.Fatal(err)
	}
}

func TestCloseFailsPendingAndIsIdempotent(t *testing.T) {
	srv, c, ctx := setup(t)
	sub, err := c.SubscribeRaw(ctx, "counter:get", map[string]any{"name": "z"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sub.Next(ctx); err != nil {
		t.Fatal(err)
	}
	srv.Stall() // nothing more reaches the client
	defer srv.Resume()
	errc := make(chan error, 1)
	go func() {
		_, err := c.MutationRaw(ctx, "counter:increment", map[string]any{"name": "z"})
		errc <- err
	}()
	if err := srv.WaitFor(ctx, func(s testserver.Stats) bool { return s.MutationsRun >= 1 }); err != nil {
		t.Fatal(err)
	}
	c.Close()
	c.Close()
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Fatalf("pending mutation after Close = %v", err)
	}
	if _, err := sub.Next(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("Next after client Close = %v", err)
	}
	if _, err := c.SubscribeRaw(ctx, "counter:get", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Subscribe after Close = %v", err)
	}
	if c.ConnectionState() != Closed {
		t.Fatalf("state = %v", c.ConnectionState())
	}
}

func TestBadInput(t *testing.T) {
	_, c, ctx := setup(t)
	for _, tt := range []struct {
		path string
		args any
	}{
		{"messages:list", map[string]any{"$bad": 1}},
		{"messages:list", []int{1}},
		{"not a path", nil},
		{"messages:list", map[string]any{"c": make(chan int)}},
	} {
		if _, err := c.SubscribeRaw(ctx, tt.path, tt.args); err == nil {
			t.Errorf("Subscribe(%q, %v) succeeded", tt.path, tt.args)
		}
		if _, err := c.MutationRaw(ctx, tt.path, tt.args); err == nil {
			t.Errorf("Mutation(%q, %v) succeeded", tt.path, tt.args)
		}
	}
	if _, err := New("ftp://x"); err == nil {
		t.Error("New(ftp://x) succeeded")
	}
	if _, err := New("http://x", WithReadLimit(1)); err == nil {
		t.Error("a 1-byte read limit was accepted")
	}
}

func TestContextCancellation(t *testing.T) {
	srv, c, ctx := setup(t)
	srv.Stall()
	defer srv.Resume()
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := c.MutationRaw(short, "counter:increment", map[string]any{"name": "c"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Mutation = %v", err)
	}
	sub, err := c.SubscribeRaw(ctx, "counter:get", map[string]any{"name": "c"})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	short2, cancel2 := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel2()
	if _, err := sub.Next(short2); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next = %v", err)
	}
}
