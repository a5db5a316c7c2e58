package testserver

import (
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/convexgo/convex/protocol"
)

// subscribed returns a client with one live query and its first
// Transition received.
func subscribed(t *testing.T, s *Server) *wsClient {
	t.Helper()
	c := dial(t, s)
	c.connect()
	c.modify(0, add(t, 0, "counter:get", map[string]any{"name": "n"}))
	c.transition()
	return c
}

func TestDropAll(t *testing.T) {
	s := newDemo(t)
	a, b := subscribed(t, s), subscribed(t, s)
	if got := s.OpenConns(); len(got) != 2 || got[0] != 0 || got[1] != 1 {
		t.Fatalf("open conns %v", got)
	}
	if n := s.DropAll(); n != 2 {
		t.Fatalf("dropped %d", n)
	}
	for _, c := range []*wsClient{a, b} {
		if code, _ := c.closed(); code != -1 {
			t.Fatalf("closed with code %d, want an abnormal closure", code)
		}
	}
	waitStats(t, s, func(st Stats) bool { return st.SocketsOpen == 0 && st.SocketsOpened == 2 && st.LiveQueries == 0 })
}

func TestDropConn(t *testing.T) {
	s := newDemo(t)
	a, b := subscribed(t, s), subscribed(t, s)
	if !s.DropConn(1) || s.DropConn(7) {
		t.Fatal("DropConn reports the wrong sockets")
	}
	if code, _ := b.closed(); code != -1 {
		t.Fatalf("code %d", code)
	}
	a.mutation(0, "counter:increment", map[string]any{"name": "n"})
	expectMsg[*protocol.MutationResponse](a)
	if tr := a.transition(); len(tr.Modifications) != 1 {
		t.Fatalf("%+v", tr)
	}
}

func TestRefuse(t *testing.T) {
	s := newDemo(t)
	s.Refuse(true)
	_, resp, err := tryDial(t, s)
	if err == nil || resp == nil || resp.StatusCode != 503 {
		t.Fatalf("refused dial: %v %v", err, resp)
	}
	s.Refuse(false)
	dial(t, s)
	s.RefuseFor(time.Hour)
	if _, resp, err := tryDial(t, s); err == nil || resp.StatusCode != 503 {
		t.Fatalf("RefuseFor: %v", err)
	}
	s.Refuse(false)
	dial(t, s)
	waitStats(t, s, func(st Stats) bool { return st.SocketsOpened == 2 })
}

func TestStallAndResume(t *testing.T) {
	s := newDemo(t)
	c := subscribed(t, s)
	s.Stall()
	before := s.Stats().TransitionsSent
	c.mutation(0, "counter:increment", map[string]any{"name": "n"})
	waitStats(t, s, func(st Stats) bool { return st.TransitionsSent == before+1 })
	select {
	case f := <-c.frames:
		t.Fatalf("frame sent while stalled: %s", f.raw)
	default:
	}
	s.Resume()
	if r := expectMsg[*protocol.MutationResponse](c); !r.Success {
		t.Fatalf("%+v", r)
	}
	if tr := c.transition(); decode(t, tr.Modifications[0].Value) != 1.0 {
		t.Fatalf("%+v", tr)
	}
}

func TestFrameDelay(t *testing.T) {
	s := newDemo(t)
	c := subscribed(t, s)
	const d = 80 * time.Millisecond
	s.SetFrameDelay(d)
	start := time.Now()
	c.mutation(0, "counter:increment", map[string]any{"name": "n"})
	expectMsg[*protocol.MutationResponse](c)
	c.transition()
	if el := time.Since(start); el < 2*d {
		t.Fatalf("two frames took %v with a %v delay each", el, d)
	}
	s.SetFrameDelay(0)
	if !s.SetConnFrameDelay(0, d) || s.SetConnFrameDelay(99, d) {
		t.Fatal("SetConnFrameDelay reports the wrong sockets")
	}
	start = time.Now()
	c.mutation(1, "counter:increment", map[string]any{"name": "n"})
	expectMsg[*protocol.MutationResponse](c)
	if el := time.Since(start); el < d {
		t.Fatalf("frame took %v with a %v per-socket delay", el, d)
	}
}

func TestInjectAuthError(t *testing.T) {
	for _, attempted := range []bool{false, true} {
		s := newDemo(t)
		c := subscribed(t, s)
		if n := s.InjectAuthError(attempted); n != 1 {
			t.Fatalf("reached %d", n)
		}
		ae := expectMsg[*protocol.AuthError](c)
		if ae.AuthUpdateAttempted != attempted || ae.BaseVersion != 0 || ae.Error == "" {
			t.Fatalf("%+v", ae)
		}
		if code, _ := c.closed(); code != websocket.StatusNoStatusRcvd {
			t.Fatalf("close %d", code)
		}
	}
}

// With KeepOpenAfterAuthError, injected and refused-token AuthErrors leave
// the socket open, and the identity it had stays in force.
func TestKeepOpenAfterAuthError(t *testing.T) {
	keys := mustKeys(t)
	s := newDemo(t, WithAuth(keys.AuthConfig()))
	s.KeepOpenAfterAuthError(true)
	c := dial(t, s)
	c.connect()
	good, err := keys.MintToken("u", time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.send(&protocol.Authenticate{TokenType: protocol.TokenTypeUser, Value: good, BaseVersion: 0})
	if tr := c.transition(); tr.EndVersion.Identity != 1 {
		t.Fatalf("%+v", tr)
	}
	if n := s.InjectAuthError(true); n != 1 {
		t.Fatalf("reached %d", n)
	}
	if ae := expectMsg[*protocol.AuthError](c); !ae.AuthUpdateAttempted || ae.BaseVersion != 1 {
		t.Fatalf("%+v", ae)
	}
	bad, err := keys.MintToken("v", time.Hour, map[string]any{"iss": "https://someone.else"})
	if err != nil {
		t.Fatal(err)
	}
	c.send(&protocol.Authenticate{TokenType: protocol.TokenTypeUser, Value: bad, BaseVersion: 1})
	if ae := expectMsg[*protocol.AuthError](c); !ae.AuthUpdateAttempted || ae.BaseVersion != 1 {
		t.Fatalf("%+v", ae)
	}
	// Still open, still the first identity: a query added now sees it.
	c.modify(0, add(t, 0, "auth:whoami", map[string]any{}))
	tr := c.transition()
	if tr.EndVersion.Identity != 1 || len(tr.Modifications) != 1 {
		t.Fatalf("%+v", tr)
	}
	if got := decode(t, tr.Modifications[0].Value); got == nil {
		t.Fatalf("whoami = %v after the refused token", got)
	}
	s.KeepOpenAfterAuthError(false)
	s.InjectAuthError(false)
	expectMsg[*protocol.AuthError](c)
	if code, _ := c.closed(); code != websocket.StatusNoStatusRcvd {
		t.Fatalf("close %d", code)
	}
}

func TestInjectFatalError(t *testing.T) {
	s := newDemo(t)
	c := subscribed(t, s)
	s.InjectFatalError("injected boom")
	if fe := expectMsg[*protocol.FatalError](c); fe.Error != "injected boom" {
		t.Fatalf("%+v", fe)
	}
	if code, _ := c.closed(); code != websocket.StatusNoStatusRcvd {
		t.Fatalf("close %d", code)
	}
	// A closing socket is not reached again.
	if n := s.InjectFatalError("again"); n != 0 {
		t.Fatalf("reached %d", n)
	}
}

func TestInjectVersionGap(t *testing.T) {
	s := newDemo(t)
	c := subscribed(t, s)
	if n := s.InjectVersionGap(); n != 1 {
		t.Fatalf("reached %d", n)
	}
	tr := expectMsg[*protocol.Transition](c)
	if tr.StartVersion == c.version {
		t.Fatalf("no gap: %+v", tr)
	}
	if tr.EndVersion != c.version {
		t.Fatalf("gap transition ends at %+v, want %+v", tr.EndVersion, c.version)
	}
	// Later transitions continue from the real versions.
	c.mutation(0, "counter:increment", map[string]any{"name": "n"})
	expectMsg[*protocol.MutationResponse](c)
	c.transition()
}

func TestInjectCorruptFrame(t *testing.T) {
	s := newDemo(t)
	c := subscribed(t, s)
	s.InjectCorruptFrame()
	f := c.nextFrame()
	if f.err == nil {
		t.Fatalf("frame %s decoded", f.raw)
	}
	c.mutation(0, "counter:increment", map[string]any{"name": "n"})
	expectMsg[*protocol.MutationResponse](c)
	c.transition()
}

func TestCloseAllAndInjectMessage(t *testing.T) {
	s := newDemo(t)
	c := subscribed(t, s)
	s.InjectMessage(&protocol.MutationResponse{RequestID: 99, Success: true, Result: []byte("1"), TS: 5})
	if r := expectMsg[*protocol.MutationResponse](c); r.RequestID != 99 {
		t.Fatalf("%+v", r)
	}
	s.CloseAll(int(websocket.StatusInternalError), "InternalServerError: test")
	code, reason := c.closed()
	if code != websocket.StatusInternalError || !strings.HasPrefix(reason, "InternalServerError") {
		t.Fatalf("closed %d %q", code, reason)
	}
}
