package transport

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/convexgo/convex/internal/leakcheck"
	"github.com/convexgo/convex/internal/version"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

func TestWebSocketURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://x.convex.cloud":        "wss://x.convex.cloud/api/sync",
		"https://x.convex.cloud/":       "wss://x.convex.cloud/api/sync",
		"http://127.0.0.1:3210/":        "ws://127.0.0.1:3210/api/sync",
		"http://127.0.0.1:3210":         "ws://127.0.0.1:3210/api/sync",
		"wss://x.convex.cloud":          "wss://x.convex.cloud/api/sync",
		"http://proxy.local/convex//":   "ws://proxy.local/convex/api/sync",
		"https://x.convex.cloud?a=b#ff": "wss://x.convex.cloud/api/sync",
	} {
		got, err := WebSocketURL(in)
		if err != nil || got != want {
			t.Errorf("WebSocketURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"ftp://x", "x.convex.cloud", "https://", "://", "http://[::1"} {
		if got, err := WebSocketURL(bad); err == nil {
			t.Errorf("WebSocketURL(%q) = %q, want an error", bad, got)
		}
	}
}

// server runs handle for each accepted socket and records the handshake.
func server(t *testing.T, handle func(ctx context.Context, c *websocket.Conn, r *http.Request)) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		handle(r.Context(), c, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func dial(t *testing.T, url string, opts *Options) *Conn {
	t.Helper()
	c, err := Dial(context.Background(), url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close("test done") })
	return c
}

func TestRoundTripAndHeader(t *testing.T) {
	headers := make(chan http.Header, 1)
	s := server(t, func(ctx context.Context, c *websocket.Conn, r *http.Request) {
		headers <- r.Header.Clone()
		if r.URL.Path != "/api/sync" {
			c.Close(websocket.StatusPolicyViolation, "bad path "+r.URL.Path)
			return
		}
		c.SetReadLimit(1 << 20)
		for {
			typ, data, err := c.Read(ctx)
			if err != nil {
				return
			}
			if err := c.Write(ctx, typ, data); err != nil {
				return
			}
		}
	})
	c := dial(t, s.URL, &Options{Header: http.Header{"X-Extra": {"1"}}})
	h := <-headers
	if got := h.Get("Convex-Client"); got != "go-"+version.Version {
		t.Errorf("Convex-Client = %q", got)
	}
	if h.Get("X-Extra") != "1" || h.Get("Sec-WebSocket-Protocol") != "" {
		t.Errorf("handshake headers = %v", h)
	}
	ctx := context.Background()
	for _, msg := range []string{`{"type":"Ping"}`, strings.Repeat("x", 100_000)} {
		if err := c.Write(ctx, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		got, err := c.Read(ctx)
		if err != nil || string(got) != msg {
			t.Fatalf("echo = %.40q, %v", got, err)
		}
	}
	if err := c.Close("bye"); err != nil {
		t.Fatal(err)
	}
	if err := c.Close("again"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(ctx); err == nil {
		t.Fatal("Read after Close succeeded")
	}
}

func TestReadLimit(t *testing.T) {
	s := server(t, func(ctx context.Context, c *websocket.Conn, r *http.Request) {
		_ = c.Write(ctx, websocket.MessageText, bytes.Repeat([]byte("a"), 4096))
		_, _, _ = c.Read(ctx)
	})
	c := dial(t, s.URL, &Options{ReadLimit: 1024})
	_, err := c.Read(context.Background())
	if !errors.Is(err, ErrMessageTooBig) {
		t.Fatalf("Read = %v, want ErrMessageTooBig", err)
	}
	if r, client := Reason(err); r != "MessageTooBig" || !client {
		t.Errorf("Reason = %q, %v", r, client)
	}
}

func TestDefaultReadLimitHoldsLargeMessages(t *testing.T) {
	big := bytes.Repeat([]byte("b"), 8<<20)
	s := server(t, func(ctx context.Context, c *websocket.Conn, r *http.Request) {
		_ = c.Write(ctx, websocket.MessageText, big)
		_, _, _ = c.Read(ctx)
	})
	c := dial(t, s.URL, nil)
	got, err := c.Read(context.Background())
	if err != nil || len(got) != len(big) {
		t.Fatalf("Read of 8 MiB = %d bytes, %v", len(got), err)
	}
}

func TestBinaryFrameRejected(t *testing.T) {
	s := server(t, func(ctx context.Context, c *websocket.Conn, r *http.Request) {
		_ = c.Write(ctx, websocket.MessageBinary, []byte{1, 2})
		_, _, _ = c.Read(ctx)
	})
	c := dial(t, s.URL, nil)
	if _, err := c.Read(context.Background()); !errors.Is(err, ErrBinaryFrame) {
		t.Fatalf("Read = %v", err)
	}
}

func TestCloseReasons(t *testing.T) {
	for _, tt := range []struct {
		name   string
		handle func(ctx context.Context, c *websocket.Conn)
		want   string
	}{
		{"reason verbatim", func(ctx context.Context, c *websocket.Conn) {
			c.Close(websocket.StatusInternalError, "InternalServerError: test")
		}, "InternalServerError: test"},
		{"code without reason", func(ctx context.Context, c *websocket.Conn) {
			c.Close(websocket.StatusNormalClosure, "")
		}, "closed with code 1000"},
		{"abrupt drop", func(ctx context.Context, c *websocket.Conn) {
			c.CloseNow()
		}, "closed with code 1006"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := server(t, func(ctx context.Context, c *websocket.Conn, r *http.Request) { tt.handle(ctx, c) })
			c := dial(t, s.URL, nil)
			_, err := c.Read(context.Background())
			if err == nil {
				t.Fatal("Read succeeded")
			}
			if r, client := Reason(err); r != tt.want || client {
				t.Errorf("Reason(%v) = %q, %v; want %q, false", err, r, client, tt.want)
			}
		})
	}
}

func TestInactivityTimeout(t *testing.T) {
	release := make(chan struct{})
	s := server(t, func(ctx context.Context, c *websocket.Conn, r *http.Request) {
		select { // stay silent
		case <-release:
		case <-ctx.Done():
		}
	})
	defer close(release)
	c := dial(t, s.URL, &Options{InactivityTimeout: 50 * time.Millisecond})
	_, err := c.Read(context.Background())
	if !errors.Is(err, ErrInactive) {
		t.Fatalf("Read = %v, want ErrInactive", err)
	}
	if r, client := Reason(err); r != "InactiveServer" || !client {
		t.Errorf("Reason = %q, %v", r, client)
	}
}

func TestReadHonoursContext(t *testing.T) {
	release := make(chan struct{})
	s := server(t, func(ctx context.Context, c *websocket.Conn, r *http.Request) {
		select {
		case <-release:
		case <-ctx.Done():
		}
	})
	defer close(release)
	c := dial(t, s.URL, nil)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := c.Read(ctx)
		errc <- err
	}()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Read = %v, want context.Canceled", err)
	}
}

func TestDialErrors(t *testing.T) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "go away", http.StatusServiceUnavailable)
	}))
	defer s.Close()
	_, err := Dial(context.Background(), s.URL, nil)
	var de *DialError
	if !errors.As(err, &de) || de.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("Dial = %v", err)
	}
	if r, client := Reason(err); r != "connect failed with HTTP 503" || client {
		t.Errorf("Reason = %q, %v", r, client)
	}
	if _, err := Dial(context.Background(), "ftp://x", nil); err == nil {
		t.Fatal("Dial of ftp:// succeeded")
	}
}

func TestWriteFailureReason(t *testing.T) {
	if r, client := Reason(&writeError{errors.New("broken pipe")}); r != "FailedToSendMessage" || !client {
		t.Errorf("Reason = %q, %v", r, client)
	}
}

func BenchmarkReadWrite(b *testing.B) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, data, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, data); err != nil {
				return
			}
		}
	}))
	defer s.Close()
	c, err := Dial(context.Background(), s.URL, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close("done")
	frame := bytes.Repeat([]byte("x"), 1024)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		if err := c.Write(ctx, frame); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Read(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// A server that accepts TCP and never answers the upgrade fails Dial after
// the handshake timeout, with an error that Reason maps to InactiveServer.
func TestDialHandshakeTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	_, err = Dial(context.Background(), "http://"+ln.Addr().String(), &Options{HandshakeTimeout: 50 * time.Millisecond})
	ln.Close()
	for c := range accepted {
		c.Close()
	}
	var de *DialError
	if !errors.As(err, &de) || !errors.Is(err, ErrHandshakeTimeout) {
		t.Fatalf("Dial = %v, want a *DialError matching ErrHandshakeTimeout", err)
	}
	if r, client := Reason(err); r != "InactiveServer" || !client {
		t.Fatalf("Reason = %q, %v", r, client)
	}
}
