package testserver

import (
	"slices"
	"time"

	"github.com/coder/websocket"

	"github.com/convexgo/convex/protocol"
)

var pingFrame = []byte(`{"type":"Ping"}`)

// writeLoop is the only goroutine that writes to the socket, so frames
// never interleave. It applies stalls and delays and sends a Ping after
// the ping interval without any outgoing frame.
func (c *syncConn) writeLoop() {
	defer c.wg.Done()
	defer c.cancel()
	interval := c.s.cfg.pingInterval
	var ping <-chan time.Time
	var timer *time.Timer
	if interval > 0 {
		timer = time.NewTimer(interval)
		defer timer.Stop()
		ping = timer.C
	}
	for {
		f, ok := c.pop()
		if !ok {
			select {
			case <-c.ctx.Done():
				return
			case <-c.outNotify:
				continue
			case <-ping:
				f = outFrame{data: pingFrame}
			}
		}
		if !c.waitToWrite() {
			return
		}
		if f.close {
			_ = c.ws.Close(f.closeCode, f.reason)
			return
		}
		if err := c.ws.Write(c.ctx, websocket.MessageText, f.data); err != nil {
			return
		}
		if timer != nil {
			timer.Reset(interval)
		}
	}
}

// waitToWrite waits while the server is stalled and then for the frame
// delay; it reports false if the socket ended meanwhile.
func (c *syncConn) waitToWrite() bool {
	for {
		ch := c.s.stalled()
		if ch == nil {
			break
		}
		select {
		case <-ch:
		case <-c.ctx.Done():
			return false
		}
	}
	d := time.Duration(c.delay.Load())
	if d == 0 {
		d = time.Duration(c.s.frameDelay.Load())
	}
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.ctx.Done():
		return false
	}
}

func (s *Server) stalled() chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stallCh
}

// Stall holds every outgoing sync frame (including pings) on every socket,
// current and future, until Resume. Frames queue up meanwhile and are sent
// in order afterwards.
func (s *Server) Stall() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stallCh == nil && !s.closed {
		s.stallCh = make(chan struct{})
	}
}

// Resume ends a Stall.
func (s *Server) Resume() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stallCh != nil {
		close(s.stallCh)
		s.stallCh = nil
	}
}

// SetFrameDelay makes every socket wait d before sending each frame
// (0 turns the delay off). A per-socket delay set with SetConnFrameDelay
// takes precedence.
func (s *Server) SetFrameDelay(d time.Duration) {
	s.frameDelay.Store(int64(d))
}

// SetConnFrameDelay sets the frame delay of one socket (0 falls back to
// the server's). It reports whether the socket is open.
func (s *Server) SetConnFrameDelay(conn int, d time.Duration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.conns[conn]
	if ok {
		c.delay.Store(int64(d))
	}
	return ok
}

// OpenConns returns the numbers of the sync sockets open now, in order.
func (s *Server) OpenConns() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]int, 0, len(s.conns))
	for id := range s.conns {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func (s *Server) openConns() []*syncConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*syncConn, 0, len(s.conns))
	for _, c := range s.conns {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b *syncConn) int { return a.id - b.id })
	return out
}

// onEachConn runs f on the owner goroutine of every open socket that is
// not already closing, and returns how many it reached.
func (s *Server) onEachConn(f func(c *syncConn)) int {
	n := 0
	for _, c := range s.openConns() {
		done := make(chan bool, 1)
		if !c.post(func() {
			if c.closing {
				done <- false
				return
			}
			f(c)
			done <- true
		}) {
			continue
		}
		// The owner took the closure and runs it at once without blocking,
		// so this wait is short even if the socket is ending meanwhile.
		if <-done {
			n++
		}
	}
	return n
}

// DropAll closes every sync socket abruptly: the TCP connection is closed
// without a close frame, so clients see code 1006. It returns the number
// of sockets dropped.
func (s *Server) DropAll() int {
	conns := s.openConns()
	for _, c := range conns {
		c.abort()
	}
	return len(conns)
}

// DropConn closes one sync socket abruptly, like DropAll. It reports
// whether the socket was open.
func (s *Server) DropConn(conn int) bool {
	s.mu.Lock()
	c, ok := s.conns[conn]
	s.mu.Unlock()
	if ok {
		c.abort()
	}
	return ok
}

// CloseAll closes every sync socket with a close frame carrying code and
// reason, after the frames already queued. It returns the number of
// sockets reached.
func (s *Server) CloseAll(code int, reason string) int {
	return s.onEachConn(func(c *syncConn) { c.closeWith(websocket.StatusCode(code), reason) })
}

// Refuse makes the server answer new sync connections with HTTP 503 while
// on is true. Open sockets are not affected.
func (s *Server) Refuse(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse = on
	s.refuseUntil = time.Time{}
}

// RefuseFor makes the server answer new sync connections with HTTP 503
// for the next d of wall-clock time.
func (s *Server) RefuseFor(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuseUntil = time.Now().Add(d)
}

func (s *Server) refusing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refuse || time.Now().Before(s.refuseUntil)
}

// InjectAuthError sends AuthError{error: "Injected auth error",
// authUpdateAttempted, baseVersion: the identity version of the last
// Transition} on every open socket and then closes it with no status
// code, as the backend does after an AuthError (unless
// KeepOpenAfterAuthError is on). It returns the number of sockets reached.
func (s *Server) InjectAuthError(authUpdateAttempted bool) int {
	return s.onEachConn(func(c *syncConn) { c.authError("Injected auth error", authUpdateAttempted) })
}

// KeepOpenAfterAuthError is a fault: while on is true, a refused
// Authenticate and InjectAuthError send AuthError but leave the socket
// open, and it goes on handling the client's messages under the identity
// it had (a refused token changes nothing). The real backend always closes
// the socket after an AuthError; this checks that a client does not depend
// on it. An expired token still closes the socket.
func (s *Server) KeepOpenAfterAuthError(on bool) {
	s.keepOpenAfterAuthError.Store(on)
}

// InjectFatalError sends FatalError{error: msg} on every open socket and
// then closes it with no status code. It returns the number of sockets
// reached.
func (s *Server) InjectFatalError(msg string) int {
	return s.onEachConn(func(c *syncConn) { c.fatal(msg) })
}

// InjectVersionGap makes every open socket send a Transition at once whose
// startVersion is not the previous endVersion (its querySet is 1000
// higher). Later Transitions continue from the real versions. It returns
// the number of sockets reached.
func (s *Server) InjectVersionGap() int {
	return s.onEachConn(func(c *syncConn) { c.gap = true })
}

// InjectCorruptFrame sends a text frame that is not valid JSON on every
// open socket; the socket stays open. It returns the number of sockets
// reached.
func (s *Server) InjectCorruptFrame() int {
	return s.onEachConn(func(c *syncConn) { c.enqueue(outFrame{data: []byte(`{"type":"Transition","startVersion":`)}) })
}

// InjectMessage sends msg as is on every open socket, for tests that need a
// frame the server would not send by itself (for example a response to an
// unknown request). It returns the number of sockets reached.
func (s *Server) InjectMessage(msg protocol.ServerMessage) int {
	data, err := protocol.EncodeServerMessage(msg)
	if err != nil {
		return 0
	}
	return s.onEachConn(func(c *syncConn) { c.enqueue(outFrame{data: data}) })
}

// InjectRawFrame sends data as one text frame, as is, on every open socket;
// the socket stays open. Tests use it for frames no protocol type can
// express, such as a message type newer than this package. It returns the
// number of sockets reached.
func (s *Server) InjectRawFrame(data []byte) int {
	frame := append([]byte(nil), data...)
	return s.onEachConn(func(c *syncConn) { c.enqueue(outFrame{data: frame}) })
}
