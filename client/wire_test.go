package client

import (
	"context"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
)

// wireCounter counts the bytes that the connections of its HTTP client
// read and write: with WithHTTPClient, the bytes of the WebSocket on the
// wire (after TLS, were there any; here loopback TCP).
type wireCounter struct {
	read, written atomic.Int64
}

// client returns an HTTP client whose connections are counted. Its idle
// connections are closed when tb ends.
func (w *wireCounter) client(tb testing.TB) *http.Client {
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &countedConn{Conn: c, w: w}, nil
	}}
	tb.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

type countedConn struct {
	net.Conn
	w *wireCounter
}

func (c *countedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.w.read.Add(int64(n))
	return n, err
}

func (c *countedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.w.written.Add(int64(n))
	return n, err
}
