package client

import (
	"context"
	"errors"
	"sync"

	"github.com/convexgo/convex/protocol"
	"github.com/convexgo/convex/transport"
)

// connEvent is what a connection's goroutines tell the owner: a dial's
// outcome, a decoded server message, or the error that ended the socket.
type connEvent struct {
	gen    uint64
	isDial bool
	dialed *transport.Conn
	msg    protocol.ServerMessage
	err    error
	// unknownType is the type of a frame whose "type" the client does not
	// know; such frames are skipped, as the official client skips them.
	unknownType string
}

// connection is one open socket with its reader and writer goroutines.
// The owner hands frames to send() without blocking; the writer drains
// them in order. Either goroutine reports the socket's end once.
type connection struct {
	gen    uint64
	tc     *transport.Conn
	ctx    context.Context
	cancel context.CancelFunc

	mu    sync.Mutex
	queue [][]byte
	wake  chan struct{}
}

func startConnection(c *Client, tc *transport.Conn, gen uint64, events chan<- connEvent) *connection {
	ctx, cancel := context.WithCancel(c.lifetime)
	cn := &connection{gen: gen, tc: tc, ctx: ctx, cancel: cancel, wake: make(chan struct{}, 1)}
	report := func(ev connEvent) {
		select {
		case events <- ev:
		case <-ctx.Done():
		}
	}
	c.wg.Add(2)
	go func() { // reader
		defer c.wg.Done()
		for {
			frame, err := tc.Read(ctx)
			if err != nil {
				report(connEvent{gen: gen, err: err})
				return
			}
			msg, err := protocol.DecodeServerMessage(frame)
			var me *protocol.MessageError
			if errors.Is(err, protocol.ErrUnknownMessageType) && errors.As(err, &me) {
				// A newer deployment may send types this client does not
				// know: skip them. Known types that are malformed still
				// end the socket.
				report(connEvent{gen: gen, unknownType: me.Type})
				continue
			}
			if err != nil {
				report(connEvent{gen: gen, err: &protocolError{err}})
				return
			}
			report(connEvent{gen: gen, msg: msg})
		}
	}()
	go func() { // writer
		defer c.wg.Done()
		for {
			select {
			case <-cn.wake:
			case <-ctx.Done():
				return
			}
			cn.mu.Lock()
			q := cn.queue
			cn.queue = nil
			cn.mu.Unlock()
			for _, frame := range q {
				if err := tc.Write(ctx, frame); err != nil {
					report(connEvent{gen: gen, err: err})
					return
				}
			}
		}
	}()
	return cn
}

// send queues a frame; it never blocks.
func (cn *connection) send(frame []byte) {
	cn.mu.Lock()
	cn.queue = append(cn.queue, frame)
	cn.mu.Unlock()
	select {
	case cn.wake <- struct{}{}:
	default:
	}
}

// close ends the socket; its goroutines exit without reporting.
func (cn *connection) close(reason string) {
	cn.cancel()
	cn.tc.Close(reason)
}

// protocolError is a frame the client could not decode; the socket is
// dropped and re-synced.
type protocolError struct{ err error }

func (e *protocolError) Error() string { return "convex: bad frame from deployment: " + e.err.Error() }
func (e *protocolError) Unwrap() error { return e.err }
