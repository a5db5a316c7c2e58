package client

import (
	"context"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// wireCounter counts the bytes that the connections of its HTTP client
// read and write: with WithHTTPClient, the bytes of the WebSocket on the
// wire (after TLS, were there any; here loopback TCP).
type wireCounter struct {
	read, written atomic.Int64
	// downlink, if positive, paces reads to this many bytes per second,
	// as a link of that bandwidth would deliver them.
	downlink float64
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
	// next is when the bytes read so far would have finished arriving
	// over the paced link; only Read touches it, from one goroutine.
	next time.Time
}

func (c *countedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.w.read.Add(int64(n))
	if c.w.downlink > 0 && n > 0 {
		// A link of this bandwidth delivers n bytes n/downlink seconds
		// after the previous ones, or after now if it was idle. This is
		// pacing, not synchronisation: nothing waits for it.
		now := time.Now()
		if c.next.Before(now) {
			c.next = now
		}
		c.next = c.next.Add(time.Duration(float64(n) / c.w.downlink * float64(time.Second)))
		time.Sleep(time.Until(c.next))
	}
	return n, err
}

func (c *countedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.w.written.Add(int64(n))
	return n, err
}
