package client

import (
	"log/slog"
	"strings"
	"testing"
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
