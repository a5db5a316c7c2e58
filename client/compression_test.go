package client

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/convexgo/convex/internal/testserver"
)

// compressionSetup starts a demo deployment with srvOpts and a client
// with opts whose connections are counted by the returned wireCounter.
func compressionSetup(t *testing.T, srvOpts []testserver.Option, opts ...Option) (*testserver.Server, *Client, *wireCounter, context.Context) {
	t.Helper()
	srv := testserver.NewDemo(srvOpts...)
	t.Cleanup(srv.Close)
	w := &wireCounter{}
	opts = append([]Option{withRand(func() float64 { return 0 }), withBackoffScale(0.01), WithHTTPClient(w.client(t))}, opts...)
	c, err := New(srv.URL(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return srv, c, w, ctx
}

// chatRounds subscribes to a channel, sends n messages with body and
// waits after each until the subscription shows it, checking every
// message on the way. It returns the bytes of the list values the
// subscription received (each update carries the whole list; the
// ViaSocket read is answered from the live subscription's value, with
// no wire traffic, and only measures it).
func chatRounds(t *testing.T, ctx context.Context, c *Client, channel, body string, n int) int {
	t.Helper()
	sub, err := Subscribe[[]message](ctx, c, "messages:list", map[string]any{"channel": channel})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if _, err := sub.Next(ctx); err != nil {
		t.Fatal(err)
	}
	values := 0
	for i := range n {
		id, err := Mutation[string](ctx, c, "messages:send", map[string]any{"channel": channel, "author": "ann", "body": body})
		if err != nil {
			t.Fatal(err)
		}
		l := nextUntil(t, ctx, sub, func(l []message) bool { return len(l) == i+1 })
		if l[i].ID != id || l[i].Body != body || l[i].Author != "ann" {
			t.Fatalf("message %d arrived as %+v", i, l[i])
		}
		raw, err := c.QueryRaw(ctx, "messages:list", map[string]any{"channel": channel}, ViaSocket())
		if err != nil {
			t.Fatal(err)
		}
		values += len(raw)
	}
	return values
}

var chatBody = strings.Repeat("a compressible chat message body ", 20)

func TestCompressionNegotiatedAndUsed(t *testing.T) {
	srv, c, w, ctx := compressionSetup(t, nil, WithCompression(true))
	values := chatRounds(t, ctx, c, "deflate", chatBody, 20)
	if st := srv.Stats(); st.SocketsOpened != 1 || st.SocketsCompressed != 1 {
		t.Fatalf("%d sockets, %d compressed", st.SocketsOpened, st.SocketsCompressed)
	}
	if got := srv.SyncPaths()[0].Extensions; got != "permessage-deflate" {
		t.Fatalf("offered %q", got)
	}
	// Uncompressed, at least values bytes would have arrived.
	if read := int(w.read.Load()); read > values/4 {
		t.Fatalf("read %d bytes on the wire for %d bytes of list values", read, values)
	} else {
		t.Logf("read %d bytes on the wire for %d bytes of list values", read, values)
	}
	// The client's own messages go uncompressed (mutation args with the
	// body, sent 20 times).
	if written := int(w.written.Load()); written < 20*len(chatBody) {
		t.Fatalf("wrote %d bytes, less than the %d of mutation bodies", written, 20*len(chatBody))
	}
}

func TestCompressionDeclinedStillWorks(t *testing.T) {
	srv, c, w, ctx := compressionSetup(t, []testserver.Option{testserver.WithPermessageDeflate(false)}, WithCompression(true))
	values := chatRounds(t, ctx, c, "declined", chatBody, 10)
	if st := srv.Stats(); st.SocketsOpened != 1 || st.SocketsCompressed != 0 {
		t.Fatalf("%d sockets, %d compressed", st.SocketsOpened, st.SocketsCompressed)
	}
	if got := srv.SyncPaths()[0].Extensions; got != "permessage-deflate" {
		t.Fatalf("offered %q", got)
	}
	if read := int(w.read.Load()); read < values {
		t.Fatalf("read %d bytes on the wire for %d bytes of list values, uncompressed", read, values)
	}
}

func TestCompressionOff(t *testing.T) {
	srv, c, w, ctx := compressionSetup(t, nil, WithCompression(false))
	values := chatRounds(t, ctx, c, "off", chatBody, 10)
	if st := srv.Stats(); st.SocketsCompressed != 0 {
		t.Fatalf("%d sockets compressed", st.SocketsCompressed)
	}
	if got := srv.SyncPaths()[0].Extensions; got != "" {
		t.Fatalf("offered %q", got)
	}
	if read := int(w.read.Load()); read < values {
		t.Fatalf("read %d bytes on the wire for %d bytes of list values, uncompressed", read, values)
	}
}

// TestCompressionDefault pins the default: see WithCompression.
func TestCompressionDefault(t *testing.T) {
	srv, c, _, ctx := compressionSetup(t, nil)
	chatRounds(t, ctx, c, "default", "hi", 1)
	if got, want := srv.SyncPaths()[0].Extensions, defaultOffer; got != want {
		t.Fatalf("by default the client offered %q, want %q", got, want)
	}
}

// TestCompressionAcrossReconnect: each socket negotiates afresh, with
// fresh compression contexts on both sides, and the subscription keeps
// updating after the deployment drops the first one.
func TestCompressionAcrossReconnect(t *testing.T) {
	srv, c, _, ctx := compressionSetup(t, nil, WithCompression(true))
	chatRounds(t, ctx, c, "before", chatBody, 3)
	srv.DropAll()
	if err := srv.WaitFor(ctx, func(st testserver.Stats) bool { return st.SocketsOpened == 2 && st.SocketsOpen == 1 }); err != nil {
		t.Fatalf("no second socket: %v (%+v)", err, srv.Stats())
	}
	chatRounds(t, ctx, c, "after", chatBody, 3)
	if st := srv.Stats(); st.SocketsCompressed != 2 {
		t.Fatalf("%d of %d sockets compressed", st.SocketsCompressed, st.SocketsOpened)
	}
}

// defaultOffer is the Sec-WebSocket-Extensions a client offers without
// WithCompression.
const defaultOffer = "permessage-deflate"
