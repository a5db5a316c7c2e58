package subscription

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/convexgo/convex/protocol"
)

const session = "3f2b8c1e-9a4d-4c6e-8b1f-2d7e5a9c0b13"

func args(t *testing.T, v any) json.RawMessage {
	t.Helper()
	b, err := protocol.EncodeArgs(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wire encodes the engine's queued messages as the JSON the socket carries.
func wire(t *testing.T, e *Engine) []string {
	t.Helper()
	var out []string
	for _, m := range e.TakeOutgoing() {
		b, err := protocol.EncodeClientMessage(m)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

func strp(s string) *string { return &s }

func transition(start, end protocol.StateVersion, mods ...protocol.StateModification) *protocol.Transition {
	return &protocol.Transition{StartVersion: start, EndVersion: end, Modifications: mods}
}

func sv(qs, id uint32, ts uint64) protocol.StateVersion {
	return protocol.StateVersion{QuerySet: protocol.QuerySetVersion(qs), Identity: protocol.IdentityVersion(id), TS: protocol.Timestamp(ts)}
}

func updated(id protocol.QueryID, value string) protocol.StateModification {
	return protocol.StateModification{Type: protocol.TypeQueryUpdated, QueryID: id, Value: json.RawMessage(value)}
}

func receive(t *testing.T, e *Engine, m protocol.ServerMessage) Events {
	t.Helper()
	ev, err := e.Receive(m)
	if err != nil {
		t.Fatalf("Receive(%T): %v", m, err)
	}
	return ev
}

// Checklist items 2-4: Connect on each socket.
func TestConnect(t *testing.T) {
	e := New(session)
	e.Open(1735689600000)
	got := wire(t, e)
	want := []string{
		`{"type":"Connect","sessionId":"` + session + `","connectionCount":0,"lastCloseReason":"InitialConnect","clientTs":1735689600000}`,
		`{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[]}`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("first open (-want +got):\n%s", diff)
	}
	receive(t, e, transition(sv(0, 0, 0), sv(1, 0, 1735689600123456789)))
	e.Lost("InactiveServer")
	if len(wire(t, e)) != 0 {
		t.Fatal("messages queued while disconnected")
	}
	e.Open(1735689661200)
	got = wire(t, e)
	want[0] = `{"type":"Connect","sessionId":"` + session + `","connectionCount":1,"lastCloseReason":"InactiveServer","maxObservedTimestamp":"Fc2yx35oFhg=","clientTs":1735689661200}`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("second open (-want +got):\n%s", diff)
	}
}

// Checklist items 12-17: dedup, ref counts, versions, re-add.
func TestQuerySet(t *testing.T) {
	e := New(session)
	e.Open(0)
	wire(t, e)

	id1, tok1, new1 := e.Subscribe("messages:list", args(t, map[string]any{"a": 1.0, "b": 2.0}), nil)
	id2, tok2, new2 := e.Subscribe("messages.js:list", args(t, map[string]any{"b": 2.0, "a": 1.0}), nil)
	if !new1 || new2 || id1 != id2 || tok1 != tok2 {
		t.Fatalf("dedup: %v %v %v %v", id1, id2, new1, new2)
	}
	id3, _, new3 := e.Subscribe("messages:list", args(t, map[string]any{"a": protocol.Int64(1), "b": 2.0}), nil)
	if !new3 || id3 == id1 {
		t.Fatal("Int64 args shared a query with float args")
	}
	got := wire(t, e)
	want := []string{
		`{"type":"ModifyQuerySet","baseVersion":1,"newVersion":2,"modifications":[{"type":"Add","queryId":0,"udfPath":"messages:list","args":[{"a":1,"b":2}]}]}`,
		`{"type":"ModifyQuerySet","baseVersion":2,"newVersion":3,"modifications":[{"type":"Add","queryId":1,"udfPath":"messages:list","args":[{"a":{"$integer":"AQAAAAAAAAA="},"b":2}]}]}`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	if e.Subscribers(id1) != 2 || e.LiveQueries() != 2 {
		t.Fatalf("subscribers %d, live %d", e.Subscribers(id1), e.LiveQueries())
	}
	// First unsubscribe: nothing. Second: one Remove.
	if e.Unsubscribe(tok1) || len(wire(t, e)) != 0 {
		t.Fatal("first unsubscribe sent something")
	}
	if !e.Unsubscribe(tok1) {
		t.Fatal("last unsubscribe did not remove")
	}
	got = wire(t, e)
	if diff := cmp.Diff([]string{`{"type":"ModifyQuerySet","baseVersion":3,"newVersion":4,"modifications":[{"type":"Remove","queryId":0}]}`}, got); diff != "" {
		t.Fatal(diff)
	}
	if e.Unsubscribe(tok1) {
		t.Fatal("unsubscribing a gone query did something")
	}
	// Ids are never reused: re-subscribing gets a new one.
	id4, _, _ := e.Subscribe("messages:list", args(t, map[string]any{"a": 1.0, "b": 2.0}), nil)
	if id4 != 2 {
		t.Fatalf("re-subscribe got id %d, want 2", id4)
	}
	wire(t, e)
	// Reconnect: one ModifyQuerySet 0->1 with every live query, same ids;
	// new subscriptions after that continue the id sequence.
	e.Lost("closed with code 1006")
	e.Subscribe("counter:get", nil, nil) // while offline: no message
	e.Open(0)
	got = wire(t, e)
	want = []string{
		`{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{"type":"Add","queryId":1,"udfPath":"messages:list","args":[{"a":{"$integer":"AQAAAAAAAAA="},"b":2}]},{"type":"Add","queryId":2,"udfPath":"messages:list","args":[{"a":1,"b":2}]},{"type":"Add","queryId":3,"udfPath":"counter:get","args":[{}]}]}`,
	}
	if diff := cmp.Diff(want, got[1:]); diff != "" {
		t.Fatalf("re-add (-want +got):\n%s", diff)
	}
	id5, _, _ := e.Subscribe("counter:get", args(t, map[string]any{"name": "x"}), nil)
	if id5 != 4 {
		t.Fatalf("new id after reconnect = %d", id5)
	}
	if got := wire(t, e); !strings.Contains(got[0], `"baseVersion":1,"newVersion":2`) {
		t.Fatalf("version after re-add: %s", got[0])
	}
}

// Checklist items 20 and 21.
func TestTransitions(t *testing.T) {
	e := New(session)
	e.Open(0)
	id, _, _ := e.Subscribe("m:f", nil, nil)
	failing, _, _ := e.Subscribe("m:g", nil, nil)
	wire(t, e)
	ev := receive(t, e, transition(sv(0, 0, 0), sv(2, 0, 5), updated(id, `[1]`),
		protocol.StateModification{Type: protocol.TypeQueryFailed, QueryID: failing, ErrorMessage: "boom",
			ErrorData: json.RawMessage(`{"code":"NOT_FOUND"}`), Journal: strp("j")},
		updated(99, `"not live"`)))
	if diff := cmp.Diff([]protocol.QueryID{id, failing}, ev.ChangedQueries); diff != "" {
		t.Fatal(diff)
	}
	r, ok := e.Result(id)
	if !ok || !r.Success || string(r.Value) != `[1]` {
		t.Fatalf("result = %+v", r)
	}
	r, _ = e.Result(failing)
	if r.Success || r.ErrorMessage != "boom" || string(r.ErrorData) != `{"code":"NOT_FOUND"}` {
		t.Fatalf("failed result = %+v", r)
	}
	// A Transition from the wrong start version (any component) is not
	// applied and asks for a reconnect.
	for _, start := range []protocol.StateVersion{sv(1, 0, 5), sv(2, 1, 5), sv(2, 0, 4)} {
		_, err := e.Receive(transition(start, sv(3, 0, 6), updated(id, `[2]`)))
		var re *ReconnectError
		if !errors.As(err, &re) || re.Reason != "StartVersionMismatch" {
			t.Fatalf("start %+v: %v", start, err)
		}
		if r, _ := e.Result(id); string(r.Value) != `[1]` {
			t.Fatal("a mismatched Transition was applied")
		}
	}
	if e.RemoteVersion() != sv(2, 0, 5) {
		t.Fatalf("remote version moved to %+v", e.RemoteVersion())
	}
	// Pings change nothing.
	if ev := receive(t, e, &protocol.Ping{}); len(ev.ChangedQueries)+len(ev.Completed) != 0 {
		t.Fatal("Ping produced events")
	}
	// Results survive a reconnect until the new socket replaces them; the
	// re-add carries the last journal.
	e.Lost("x")
	e.Open(0)
	if r, ok := e.Result(id); !ok || string(r.Value) != `[1]` {
		t.Fatal("result lost on reconnect")
	}
	if got := wire(t, e); !strings.Contains(got[1], `"journal":"j"`) {
		t.Fatalf("re-add without journal: %s", got[1])
	}
	// The new socket starts from version zero again.
	receive(t, e, transition(sv(0, 0, 0), sv(1, 0, 7), updated(id, `[3]`)))
}

// Checklist items 19 and 22-27.
func TestRequests(t *testing.T) {
	e := New(session)
	e.Open(0)
	wire(t, e)
	receive(t, e, transition(sv(0, 0, 0), sv(1, 0, 10)))

	m0 := e.Mutation("messages.js:send", args(t, map[string]any{"body": "hi"}))
	a1 := e.Action("echo:run", nil)
	m2 := e.Mutation("m:fail", nil)
	if m0 != 0 || a1 != 1 || m2 != 2 {
		t.Fatalf("request ids %d %d %d", m0, a1, m2)
	}
	got := wire(t, e)
	want := []string{
		`{"type":"Mutation","requestId":0,"udfPath":"messages.js:send","args":[{"body":"hi"}]}`,
		`{"type":"Action","requestId":1,"udfPath":"echo:run","args":[{}]}`,
		`{"type":"Mutation","requestId":2,"udfPath":"m:fail","args":[{}]}`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatal(diff)
	}
	// Success is held until a Transition reaches its ts.
	if ev := receive(t, e, &protocol.MutationResponse{RequestID: m0, Success: true, Result: json.RawMessage(`"id1"`), TS: 20}); len(ev.Completed) != 0 {
		t.Fatal("mutation resolved before its Transition")
	}
	if ev := receive(t, e, transition(sv(1, 0, 10), sv(1, 0, 15))); len(ev.Completed) != 0 {
		t.Fatal("an earlier Transition resolved the mutation")
	}
	ev := receive(t, e, transition(sv(1, 0, 15), sv(1, 0, 20)))
	if len(ev.Completed) != 1 || ev.Completed[0].RequestID != m0 || string(ev.Completed[0].Value) != `"id1"` {
		t.Fatalf("completed = %+v", ev.Completed)
	}
	// Failure and actions resolve at once.
	ev = receive(t, e, &protocol.MutationResponse{RequestID: m2, ErrorMessage: "nope", ErrorData: json.RawMessage(`{"r":1}`)})
	if len(ev.Completed) != 1 || ev.Completed[0].Success || ev.Completed[0].ErrorMessage != "nope" {
		t.Fatalf("failure = %+v", ev.Completed)
	}
	ev = receive(t, e, &protocol.ActionResponse{RequestID: a1, Success: true, Result: json.RawMessage(`{}`)})
	if len(ev.Completed) != 1 || !ev.Completed[0].Success {
		t.Fatalf("action = %+v", ev.Completed)
	}
	// Unknown or repeated responses are ignored.
	for _, m := range []protocol.ServerMessage{
		&protocol.MutationResponse{RequestID: 77, Success: true, TS: 1},
		&protocol.ActionResponse{RequestID: 78, Success: true},
		&protocol.MutationResponse{RequestID: m0, Success: true, TS: 20},
	} {
		if ev := receive(t, e, m); len(ev.Completed) != 0 {
			t.Fatalf("%+v completed something", m)
		}
	}
	// Item 23: the covering Transition came before the response: the
	// mutation resolves on the next Transition.
	m3 := e.Mutation("m:f", nil)
	receive(t, e, transition(sv(1, 0, 20), sv(1, 0, 30)))
	receive(t, e, &protocol.MutationResponse{RequestID: m3, Success: true, TS: 25})
	if ev := receive(t, e, transition(sv(1, 0, 30), sv(1, 0, 30))); len(ev.Completed) != 1 {
		t.Fatal("mutation covered earlier did not resolve on the next Transition")
	}
	if e.PendingRequests() != 0 {
		t.Fatalf("pending = %d", e.PendingRequests())
	}
}

// Checklist items 25 and 26, and scenario 07 of the official client.
func TestReconnectResendsAndFails(t *testing.T) {
	e := New(session)
	e.SetAuth("tok")
	e.Open(0)
	wire(t, e)
	receive(t, e, transition(sv(0, 0, 0), sv(1, 1, 10)))
	inflight := e.Mutation("m:send", nil)
	answered := e.Mutation("m:send", nil)
	sentAction := e.Action("a:run", nil)
	wire(t, e)
	receive(t, e, &protocol.MutationResponse{RequestID: answered, Success: true, TS: 50})
	e.Lost("closed with code 1006")
	queued := e.Action("a:run", nil)
	queuedMut := e.Mutation("m:send", nil)
	ev := e.Open(0)
	if len(ev.Completed) != 1 || ev.Completed[0].RequestID != sentAction || !ev.Completed[0].ConnectionLost ||
		ev.Completed[0].ErrorMessage != ConnectionLostMessage {
		t.Fatalf("Open completions = %+v", ev.Completed)
	}
	got := wire(t, e)
	types := make([]string, len(got))
	for i, g := range got {
		var m struct {
			Type      string `json:"type"`
			RequestID *int   `json:"requestId"`
		}
		json.Unmarshal([]byte(g), &m)
		types[i] = m.Type
		if m.RequestID != nil {
			types[i] += "#" + string(rune('0'+*m.RequestID))
		}
	}
	want := []string{"Connect", "Authenticate", "ModifyQuerySet",
		"Mutation#" + string(rune('0'+inflight)), "Mutation#" + string(rune('0'+answered)),
		"Action#" + string(rune('0'+queued)), "Mutation#" + string(rune('0'+queuedMut))}
	if diff := cmp.Diff(want, types); diff != "" {
		t.Fatalf("re-sent (-want +got):\n%s", diff)
	}
	if !strings.Contains(got[1], `"baseVersion":0`) || !strings.Contains(got[1], `"value":"tok"`) {
		t.Fatalf("Authenticate = %s", got[1])
	}
	// The replayed answer arrives again with the original ts.
	receive(t, e, &protocol.MutationResponse{RequestID: answered, Success: true, TS: 50})
	if ev := receive(t, e, transition(sv(0, 0, 0), sv(1, 1, 60))); len(ev.Completed) != 1 || !ev.AuthConfirmed {
		t.Fatalf("after re-sync: %+v", ev)
	}
}

// Checklist item 32.
func TestAuthVersions(t *testing.T) {
	e := New(session)
	e.Open(0)
	wire(t, e)
	e.SetAuth("a")
	e.SetAuth("b")
	e.ClearAuth()
	e.ClearAuth()
	got := wire(t, e)
	want := []string{
		`{"type":"Authenticate","tokenType":"User","value":"a","baseVersion":0}`,
		`{"type":"Authenticate","tokenType":"User","value":"b","baseVersion":1}`,
		`{"type":"Authenticate","tokenType":"None","baseVersion":2}`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatal(diff)
	}
	e.SetAuth("c")
	e.Lost("x")
	e.Open(0)
	got = wire(t, e)
	if got[1] != `{"type":"Authenticate","tokenType":"User","value":"c","baseVersion":0}` {
		t.Fatalf("re-auth = %s", got[1])
	}
	if e.Synced() {
		t.Fatal("synced before the token was confirmed")
	}
	ev := receive(t, e, transition(sv(0, 0, 0), sv(1, 1, 1)))
	if !ev.AuthConfirmed || !e.Synced() {
		t.Fatalf("confirmed %v synced %v", ev.AuthConfirmed, e.Synced())
	}
	ev = receive(t, e, &protocol.AuthError{Error: "bad", BaseVersion: 1, AuthUpdateAttempted: true})
	if ev.AuthError == nil || ev.AuthError.Error != "bad" {
		t.Fatalf("auth error event = %+v", ev)
	}
	if ev := receive(t, e, &protocol.FatalError{Error: "stop"}); ev.Fatal == nil {
		t.Fatal("no fatal event")
	}
}

// Checklist item 31.
func TestTransitionChunks(t *testing.T) {
	full, err := protocol.EncodeServerMessage(transition(sv(0, 0, 0), sv(1, 0, 9), updated(0, `"héllo wörld"`)))
	if err != nil {
		t.Fatal(err)
	}
	text := string(full)
	parts := []string{text[:10], text[10:40], text[40:]}
	chunk := func(i int, id string, total uint32) *protocol.TransitionChunk {
		return &protocol.TransitionChunk{Chunk: parts[i], PartNumber: uint32(i), TotalParts: total, TransitionID: id}
	}
	newEngine := func() *Engine {
		e := New(session)
		e.Open(0)
		e.Subscribe("m:f", nil, nil)
		wire(t, e)
		return e
	}

	e := newEngine()
	for i := 0; i < 2; i++ {
		if ev := receive(t, e, chunk(i, "7", 3)); len(ev.ChangedQueries) != 0 {
			t.Fatal("partial chunk applied")
		}
	}
	ev := receive(t, e, chunk(2, "7", 3))
	if r, _ := e.Result(0); len(ev.ChangedQueries) != 1 || string(r.Value) != `"héllo wörld"` {
		t.Fatalf("reassembled: %+v %s", ev, r.Value)
	}

	bad := map[string][]*protocol.TransitionChunk{
		"out of order":     {chunk(0, "7", 3), chunk(2, "7", 3)},
		"starts late":      {chunk(1, "7", 3)},
		"id mismatch":      {chunk(0, "7", 3), chunk(1, "8", 3)},
		"total changes":    {chunk(0, "7", 3), chunk(1, "7", 4)},
		"zero total":       {{Chunk: "x", TotalParts: 0}},
		"part too high":    {{Chunk: "x", PartNumber: 3, TotalParts: 3}},
		"not a transition": {{Chunk: `{"type":"Ping"}`, TotalParts: 1}},
		"not json":         {{Chunk: `{"type":`, TotalParts: 1}},
	}
	for name, seq := range bad {
		t.Run(name, func(t *testing.T) {
			e := newEngine()
			var err error
			for _, c := range seq {
				if _, err = e.Receive(c); err != nil {
					break
				}
			}
			var re *ReconnectError
			if !errors.As(err, &re) || re.Reason != "InvalidTransitionChunk" {
				t.Fatalf("err = %v", err)
			}
			// The buffer was dropped: a fresh sequence works.
			for i := 0; i < 3; i++ {
				receive(t, e, chunk(i, "9", 3))
			}
		})
	}

	// Another message in the middle drops the partial buffer.
	e = newEngine()
	receive(t, e, chunk(0, "7", 3))
	receive(t, e, &protocol.Ping{})
	if _, err := e.Receive(chunk(1, "7", 3)); err == nil {
		t.Fatal("chunk after an interruption was accepted")
	}
}

func TestSynced(t *testing.T) {
	e := New(session)
	if e.Synced() {
		t.Fatal("synced before any socket")
	}
	id, _, _ := e.Subscribe("m:f", nil, nil)
	e.Open(0)
	if e.Synced() {
		t.Fatal("synced before the re-added query was answered")
	}
	receive(t, e, transition(sv(0, 0, 0), sv(1, 0, 1), updated(id, `1`)))
	if !e.Synced() || !e.Answered(id) {
		t.Fatal("not synced after the answer")
	}
	e.Mutation("m:g", nil)
	if e.Synced() {
		t.Fatal("synced with a request in flight")
	}
}

func TestAdminAuth(t *testing.T) {
	e := New(session)
	e.SetAdminAuth("dev:key", json.RawMessage(`{"issuer":"i","subject":"s"}`))
	e.Open(0)
	got := wire(t, e)
	if got[1] != `{"type":"Authenticate","tokenType":"Admin","value":"dev:key","baseVersion":0,"impersonating":{"issuer":"i","subject":"s"}}` {
		t.Fatalf("admin auth on open = %s", got[1])
	}
	if e.TokenType() != protocol.TokenTypeAdmin {
		t.Fatalf("TokenType = %q", e.TokenType())
	}
	e.SetAdminAuth("dev:key", nil) // no longer acting as anyone
	e.SetAuth("jwt")               // back to a user token
	e.ClearAuth()
	got = wire(t, e)
	want := []string{
		`{"type":"Authenticate","tokenType":"Admin","value":"dev:key","baseVersion":1}`,
		`{"type":"Authenticate","tokenType":"User","value":"jwt","baseVersion":2}`,
		`{"type":"Authenticate","tokenType":"None","baseVersion":3}`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatal(diff)
	}
	if e.TokenType() != "" || e.Token() != "" {
		t.Fatalf("after ClearAuth: %q %q", e.TokenType(), e.Token())
	}
}
