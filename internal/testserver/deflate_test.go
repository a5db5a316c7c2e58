package testserver

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/convexgo/convex/protocol"
)

// handshake sends a sync upgrade request with the given
// Sec-WebSocket-Extensions values over a raw TCP connection, so that the
// offer goes out exactly as written, and returns the response.
func handshake(t *testing.T, s *Server, exts []string) *http.Response {
	t.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(s.URL(), "http://"), waitTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.SetDeadline(time.Now().Add(waitTimeout)); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodGet, s.URL()+"/api/sync", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	req.Header.Set("Convex-Client", "go-0.1.0")
	for _, e := range exts {
		req.Header.Add("Sec-WebSocket-Extensions", e)
	}
	if err := req.Write(conn); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestDeflateNegotiatedAsBackend checks the offers the backend's fork of
// axum's WebSocketUpgrade accepts (crates/common/src/http/websocket.rs,
// lines 361-385: one comma-separated offer exactly "permessage-deflate" or
// "permessage-deflate; client_max_window_bits") and its answer (lines
// 245-251: the bare "permessage-deflate").
func TestDeflateNegotiatedAsBackend(t *testing.T) {
	const deflate = "permessage-deflate"
	for _, tc := range []struct {
		name string
		opts []Option
		exts []string
		want string // the Sec-WebSocket-Extensions answer; "" declines
	}{
		{"none", nil, nil, ""},
		{"bare (coder/websocket context takeover)", nil, []string{"permessage-deflate"}, deflate},
		{"browsers and ws", nil, []string{"permessage-deflate; client_max_window_bits"}, deflate},
		{"among others", nil, []string{"x-webkit-deflate-frame, permessage-deflate; client_max_window_bits"}, deflate},
		{"second header value", nil, []string{"x-foo", "permessage-deflate"}, deflate},
		{"padded", nil, []string{"  permessage-deflate\t"}, deflate},
		{"coder/websocket no context takeover", nil,
			[]string{"permessage-deflate; client_no_context_takeover; server_no_context_takeover"}, ""},
		{"client_no_context_takeover", nil, []string{"permessage-deflate; client_no_context_takeover"}, ""},
		{"window bits with a value", nil, []string{"permessage-deflate; client_max_window_bits=15"}, ""},
		{"no space after ';'", nil, []string{"permessage-deflate;client_max_window_bits"}, ""},
		{"other case", nil, []string{"Permessage-Deflate"}, ""},
		{"non-ASCII value skipped", nil, []string{"permessage-deflate, é"}, ""},
		{"declined by option", []Option{WithPermessageDeflate(false)}, []string{"permessage-deflate"}, ""},
		{"accepted by option", []Option{WithPermessageDeflate(true)}, []string{"permessage-deflate"}, deflate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newDemo(t, tc.opts...)
			resp := handshake(t, s, tc.exts)
			if resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if got := strings.Join(resp.Header.Values("Sec-WebSocket-Extensions"), ", "); got != tc.want {
				t.Fatalf("Sec-WebSocket-Extensions %q, want %q", got, tc.want)
			}
			waitStats(t, s, func(st Stats) bool { return st.SocketsOpened == 1 })
			wantN := 0
			if tc.want != "" {
				wantN = 1
			}
			if n := s.Stats().SocketsCompressed; n != wantN {
				t.Fatalf("SocketsCompressed %d, want %d", n, wantN)
			}
			var offered []string
			for _, e := range tc.exts {
				offered = append(offered, strings.TrimSpace(e)) // as net/http reads header values
			}
			if got, want := s.SyncPaths()[0].Extensions, strings.Join(offered, ", "); got != want {
				t.Fatalf("recorded offer %q, want %q", got, want)
			}
		})
	}
}

// countingDialer dials TCP and counts the bytes read from the connection.
type countingDialer struct{ read atomic.Int64 }

func (d *countingDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, read: &d.read}, nil
}

type countingConn struct {
	net.Conn
	read *atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

// TestDeflateSocket runs the sync protocol over sockets that do and do not
// negotiate compression and counts the bytes that arrive: compressed ones
// must carry the same messages in far fewer bytes, and the client's own
// compressed frames (mutation args) must reach the functions intact.
func TestDeflateSocket(t *testing.T) {
	for _, tc := range []struct {
		name       string
		opts       []Option
		mode       websocket.CompressionMode
		compressed bool
	}{
		{"accepted", nil, websocket.CompressionContextTakeover, true},
		{"declined by the server", []Option{WithPermessageDeflate(false)}, websocket.CompressionContextTakeover, false},
		// The backend does not match this offer's form, so neither does this server.
		{"no-context-takeover offer", nil, websocket.CompressionNoContextTakeover, false},
		{"not offered", nil, websocket.CompressionDisabled, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newDemo(t, tc.opts...)
			var d countingDialer
			c, resp, err := tryDial(t, s, withCompression(tc.mode), withDialContext(d.dial))
			if err != nil {
				t.Fatal(err)
			}
			if got := resp.Header.Get("Sec-WebSocket-Extensions") != ""; got != tc.compressed {
				t.Fatalf("extension answered %q, want compressed=%v", resp.Header.Get("Sec-WebSocket-Extensions"), tc.compressed)
			}
			start := d.read.Load() // the handshake response
			c.connect()
			c.modify(0, add(t, 0, "messages:list", map[string]any{"channel": "a"}))
			raw := 0
			tr := c.transition()
			for _, m := range tr.Modifications {
				raw += len(m.Value)
			}
			const sends = 20
			body := strings.Repeat("a compressible chat message body ", 40)
			for i := range sends {
				c.mutation(protocol.RequestID(i), "messages:send", map[string]any{"channel": "a", "author": "ann", "body": body})
				if r := expectMsg[*protocol.MutationResponse](c); !r.Success {
					t.Fatalf("mutation %d: %+v", i, r)
				}
				tr = c.transition()
				if len(tr.Modifications) != 1 {
					t.Fatalf("transition %+v", tr)
				}
				raw += len(tr.Modifications[0].Value)
			}
			docs := decode(t, tr.Modifications[0].Value).([]any)
			if len(docs) != sends {
				t.Fatalf("%d messages, want %d", len(docs), sends)
			}
			for _, doc := range docs {
				if doc.(map[string]any)["body"] != body {
					t.Fatalf("body arrived as %q", doc.(map[string]any)["body"])
				}
			}
			// The wire may hold Pings and frame headers too, but the query
			// values alone are ~280 KB of JSON here.
			wire := int(d.read.Load() - start)
			if tc.compressed && wire > raw/5 {
				t.Fatalf("compressed socket read %d bytes for %d bytes of values", wire, raw)
			}
			if !tc.compressed && wire < raw {
				t.Fatalf("uncompressed socket read %d bytes for %d bytes of values", wire, raw)
			}
			want := 0
			if tc.compressed {
				want = 1
			}
			if n := s.Stats().SocketsCompressed; n != want {
				t.Fatalf("SocketsCompressed %d, want %d", n, want)
			}
			t.Logf("%d bytes of values, %d bytes on the wire", raw, wire)
		})
	}
}
