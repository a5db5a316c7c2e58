package transport

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/coder/websocket"
)

// countingListener counts the bytes its connections read and write.
type countingListener struct {
	net.Listener
	read, written *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, read: l.read, written: l.written}, nil
}

type countingConn struct {
	net.Conn
	read, written *atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.written.Add(int64(n))
	return n, err
}

// wireServer is an echo server that accepts compression in mode and
// counts the bytes it reads (client to server).
type wireServer struct {
	*httptest.Server
	read, written atomic.Int64
	offers        chan string
}

func newWireServer(t *testing.T, mode websocket.CompressionMode) *wireServer {
	t.Helper()
	ws := &wireServer{offers: make(chan string, 1)}
	ws.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws.offers <- r.Header.Get("Sec-WebSocket-Extensions")
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: mode})
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(16 << 20)
		ctx := r.Context()
		for {
			typ, data, err := c.Read(ctx)
			if err != nil {
				return
			}
			if err := c.Write(ctx, typ, data); err != nil {
				return
			}
		}
	}))
	ws.Listener = countingListener{Listener: ws.Listener, read: &ws.read, written: &ws.written}
	ws.Start()
	t.Cleanup(ws.Close)
	return ws
}

// countingClient is an HTTP client whose connections count the bytes
// they read in n.
func countingClient(t *testing.T, n *atomic.Int64) *http.Client {
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &countingConn{Conn: conn, read: n, written: new(atomic.Int64)}, nil
	}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// TestCompression dials with each Compression against servers that accept
// and decline permessage-deflate, echoes a large compressible message, and
// checks the offer, Compressed, and the bytes each direction put on the
// wire.
func TestCompression(t *testing.T) {
	msg := []byte(strings.Repeat(`{"_id":"messages_1","author":"ann","body":"hello there"},`, 4000)) // 228 KB
	for _, tc := range []struct {
		name       string
		mode       Compression
		server     websocket.CompressionMode
		offer      string
		compressed bool
		upCompress bool // client frames compressed
	}{
		{"off", CompressionOff, websocket.CompressionContextTakeover, "", false, false},
		{"receive, accepted", CompressionReceive, websocket.CompressionContextTakeover, "permessage-deflate", true, false},
		{"both, accepted", CompressionBoth, websocket.CompressionContextTakeover, "permessage-deflate", true, true},
		{"receive, declined", CompressionReceive, websocket.CompressionDisabled, "permessage-deflate", false, false},
		{"both, declined", CompressionBoth, websocket.CompressionDisabled, "permessage-deflate", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newWireServer(t, tc.server)
			// Bytes down are counted as the client reads them (before Read
			// can return the message), bytes up as the server reads them
			// (before it echoes): counting writes would race with the reader.
			var down atomic.Int64
			c := dial(t, s.URL, &Options{Compression: tc.mode, HTTPClient: countingClient(t, &down)})
			if got := <-s.offers; got != tc.offer {
				t.Errorf("offered %q, want %q", got, tc.offer)
			}
			if c.Compressed() != tc.compressed {
				t.Errorf("Compressed() = %v, want %v", c.Compressed(), tc.compressed)
			}
			up0, down0 := s.read.Load(), down.Load()
			ctx := context.Background()
			if err := c.Write(ctx, msg); err != nil {
				t.Fatal(err)
			}
			got, err := c.Read(ctx)
			if err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("echo: %d bytes, %v", len(got), err)
			}
			up, dn := int(s.read.Load()-up0), int(down.Load()-down0)
			// Compressed, this message shrinks more than tenfold.
			if small := dn < len(msg)/10; small != tc.compressed {
				t.Errorf("server to client: %d bytes on the wire for %d, compressed=%v", dn, len(msg), tc.compressed)
			}
			if small := up < len(msg)/10; small != tc.upCompress {
				t.Errorf("client to server: %d bytes on the wire for %d, compressed=%v", up, len(msg), tc.upCompress)
			}
			t.Logf("%d-byte message: %d bytes up, %d down", len(msg), up, dn)
		})
	}
}

// TestReadLimitCountsDecompressedBytes: a message that is small on the
// wire but over the read limit once inflated still fails with
// ErrMessageTooBig, so compression cannot carry a message past the limit.
func TestReadLimitCountsDecompressedBytes(t *testing.T) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionContextTakeover})
		if err != nil {
			return
		}
		defer c.CloseNow()
		_ = c.Write(r.Context(), websocket.MessageText, bytes.Repeat([]byte("z"), 4<<20))
		_, _, _ = c.Read(r.Context())
	}))
	t.Cleanup(s.Close)
	var read atomic.Int64
	c := dial(t, s.URL, &Options{Compression: CompressionReceive, ReadLimit: 1 << 20, HTTPClient: countingClient(t, &read)})
	if !c.Compressed() {
		t.Fatal("not compressed")
	}
	_, err := c.Read(context.Background())
	if !errors.Is(err, ErrMessageTooBig) {
		t.Fatalf("Read = %v, want ErrMessageTooBig", err)
	}
	if n := read.Load(); n > 1<<16 {
		t.Fatalf("the client read %d bytes: the message came uncompressed, so this test shows nothing", n)
	}
}
