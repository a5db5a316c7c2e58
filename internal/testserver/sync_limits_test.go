package testserver

import (
	"errors"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/convexgo/convex/protocol"
)

// TestQueryRemovedHasNoJournal: on the wire a QueryRemoved is only its
// type and queryId, as the backend writes it.
func TestQueryRemovedHasNoJournal(t *testing.T) {
	s := newDemo(t)
	c := dial(t, s)
	c.connect()
	c.modify(0, add(t, 0, "counter:get", map[string]any{"name": "a"}))
	c.transition()
	c.modify(1, remove(0))
	f := c.nextFrame()
	if !strings.Contains(string(f.raw), `"modifications":[{"type":"QueryRemoved","queryId":0}]`) {
		t.Fatalf("frame %s", f.raw)
	}
}

// TestAddWithoutArgs: the backend accepts an Add without args and fails the
// query with its InvalidArguments message, after looking the function up.
func TestAddWithoutArgs(t *testing.T) {
	s := newDemo(t)
	c := dial(t, s)
	c.connect()
	c.sendRaw([]byte(`{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[` +
		`{"type":"Add","queryId":0,"udfPath":"counter:get"},{"type":"Add","queryId":1,"udfPath":"nope:x","args":null}]}`))
	tr := c.transition()
	if len(tr.Modifications) != 2 || tr.Modifications[0].Type != protocol.TypeQueryFailed {
		t.Fatalf("%+v", tr)
	}
	if core, _ := serverError(t, tr.Modifications[0].ErrorMessage); core != "Invalid arguments provided" {
		t.Fatalf("counter:get %q", core)
	}
	if core, _ := serverError(t, tr.Modifications[1].ErrorMessage); core != "Could not find public function for 'nope:x'." {
		t.Fatalf("nope:x %q", core)
	}
}

// TestActionErrorCarriesRequestID: a failed action's message has the
// request id the backend derives from the session and request ids.
func TestActionErrorCarriesRequestID(t *testing.T) {
	s := newDemo(t)
	s.RegisterAction("a:fail", func(*ActionCtx, map[string]any) (any, error) { return nil, errors.New("boom") })
	c := dial(t, s)
	c.connect()
	c.action(3, "a:fail", nil)
	r := expectMsg[*protocol.ActionResponse](c)
	if want := "[Request ID: " + wsRequestID(testSession, 3) + "] Server Error\nUncaught Error: boom\n"; r.Success || r.ErrorMessage != want {
		t.Fatalf("got %q, want %q", r.ErrorMessage, want)
	}
	// sha256("3f2b8c1e-9a4d-4c6e-8b1f-2d7e5a9c0b13|3"), first 16 hex digits;
	// the session id as the backend prints a UUID, in lower case.
	if a, b := wsRequestID(testSession, 3), wsRequestID(strings.ToUpper(testSession), 3); a != "927a614e7ae4acfe" || b != a {
		t.Fatalf("request ids %q %q", a, b)
	}
}

// TestTooManyConcurrentMutations: with one mutation running and 1000
// queued, one more fails the connection as the backend's RateLimited
// TooManyConcurrentMutations does: close 1013 with that reason, no
// FatalError.
func TestTooManyConcurrentMutations(t *testing.T) {
	s := newDemo(t)
	running, release := make(chan struct{}, 1), make(chan struct{})
	t.Cleanup(func() { close(release) })
	s.afterSocketMutation = func() {
		select {
		case running <- struct{}{}:
		default:
		}
		<-release
	}
	c := dial(t, s)
	c.connect()
	c.mutation(0, "counter:increment", map[string]any{"name": "n"})
	<-running
	for i := 1; i <= maxQueuedMutations; i++ {
		c.mutation(protocol.RequestID(i), "counter:increment", map[string]any{"name": "n"})
	}
	// Still open with 1 running and 1000 queued: a ModifyQuerySet is
	// answered.
	c.modify(0)
	if tr := c.transition(); tr.EndVersion.QuerySet != 1 {
		t.Fatalf("%+v", tr)
	}
	c.mutation(maxQueuedMutations+1, "counter:increment", map[string]any{"name": "n"})
	code, reason := c.closed()
	if code != websocket.StatusTryAgainLater || reason != "TooManyConcurrentMutations" {
		t.Fatalf("closed with %d %q", code, reason)
	}
}
