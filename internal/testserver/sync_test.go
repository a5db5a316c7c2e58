package testserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/convexgo/convex/protocol"
)

func TestSubscribeMutateAndUpdate(t *testing.T) {
	s := newDemo(t)
	c := dial(t, s)
	c.connect()
	c.modify(0,
		add(t, 0, "messages:list", map[string]any{"channel": "a"}),
		add(t, 1, "counter:get", map[string]any{"name": "x"}))
	tr := c.transition()
	if tr.StartVersion != (protocol.StateVersion{}) {
		t.Fatalf("first Transition starts at %+v", tr.StartVersion)
	}
	if tr.EndVersion.QuerySet != 1 || tr.EndVersion.Identity != 0 || tr.EndVersion.TS == 0 {
		t.Fatalf("endVersion %+v", tr.EndVersion)
	}
	if len(tr.Modifications) != 2 {
		t.Fatalf("mods %+v", tr.Modifications)
	}
	if m := tr.Modifications[0]; m.Type != protocol.TypeQueryUpdated || string(m.Value) != "[]" || m.Journal != nil {
		t.Fatalf("messages:list %+v", m)
	}
	if m := tr.Modifications[1]; decode(t, m.Value) != 0.0 {
		t.Fatalf("counter:get %+v", m)
	}
	if tr.ServerTS == nil || tr.ClientClockSkew == nil {
		t.Fatalf("serverTs/clientClockSkew missing: %+v", tr)
	}
	waitStats(t, s, func(st Stats) bool { return st.QueryExecutions == 2 })

	c.mutation(0, "messages:send", map[string]any{"channel": "a", "author": "ann", "body": "hi"})
	resp := expectMsg[*protocol.MutationResponse](c)
	if !resp.Success || resp.RequestID != 0 {
		t.Fatalf("response %+v", resp)
	}
	id, _ := decode(t, resp.Result).(string)
	if id == "" {
		t.Fatalf("result %s is not an id", resp.Result)
	}
	tr = c.transition()
	if tr.EndVersion.TS < resp.TS {
		t.Fatalf("Transition ts %d is before the mutation's %d", tr.EndVersion.TS, resp.TS)
	}
	if len(tr.Modifications) != 1 || tr.Modifications[0].QueryID != 0 {
		t.Fatalf("want only query 0 updated, got %+v", tr.Modifications)
	}
	docs := decode(t, tr.Modifications[0].Value).([]any)
	doc := docs[0].(map[string]any)
	if len(docs) != 1 || doc["_id"] != id || doc["body"] != "hi" || doc["author"] != "ann" || doc["channel"] != "a" {
		t.Fatalf("docs %v", docs)
	}
	if _, ok := doc["_creationTime"].(float64); !ok || len(doc) != 5 {
		t.Fatalf("doc %v", doc)
	}
	// counter:get read only "counters", which the mutation did not write.
	if st := s.Stats(); st.QueryExecutions != 3 || st.MutationsCommitted != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestReactivityAcrossSockets(t *testing.T) {
	s := newDemo(t)
	a := dial(t, s)
	a.connect()
	a.modify(0, add(t, 0, "messages:list", map[string]any{"channel": "a"}))
	a.transition()
	b := dial(t, s)
	b.connect()
	b.modify(0, // out of order: the Transition sorts by queryId
		add(t, 7, "counter:get", map[string]any{"name": "n"}),
		add(t, 5, "messages:list", map[string]any{"channel": "b"}))
	if tr := b.transition(); len(tr.Modifications) != 2 || tr.Modifications[0].QueryID != 5 {
		t.Fatalf("b: %+v", tr.Modifications)
	}

	// A write to channel a re-runs b's query 5, whose result does not
	// change, so b gets nothing.
	a.mutation(0, "messages:send", map[string]any{"channel": "a", "author": "x", "body": "1"})
	expectMsg[*protocol.MutationResponse](a)
	if tr := a.transition(); len(tr.Modifications) != 1 {
		t.Fatalf("a: %+v", tr.Modifications)
	}
	a.mutation(1, "counter:increment", map[string]any{"name": "n", "by": 41})
	if r := expectMsg[*protocol.MutationResponse](a); decode(t, r.Result) != 41.0 {
		t.Fatalf("increment %+v", r)
	}
	if tr := a.transition(); len(tr.Modifications) != 0 {
		t.Fatalf("a subscribes to nothing the counter changed: %+v", tr.Modifications)
	}
	tr := b.transition() // the first frame b gets is the counter update
	if len(tr.Modifications) != 1 || tr.Modifications[0].QueryID != 7 || decode(t, tr.Modifications[0].Value) != 41.0 {
		t.Fatalf("b: %+v", tr.Modifications)
	}
	if tr.EndVersion.QuerySet != 1 {
		t.Fatalf("b's querySet version %d", tr.EndVersion.QuerySet)
	}

	// A mutation run directly on the server reaches both sockets.
	if _, err := s.RunMutation("messages:send", map[string]any{"channel": "b", "author": "srv", "body": "2"}); err != nil {
		t.Fatal(err)
	}
	tr = b.transition()
	if m, ok := modByID(tr, 5); !ok || len(decode(t, m.Value).([]any)) != 1 || len(tr.Modifications) != 1 {
		t.Fatalf("b after RunMutation: %+v", tr.Modifications)
	}
}

func TestUnchangedResultsOmittedAfterMutation(t *testing.T) {
	s := newDemo(t)
	c := dial(t, s)
	c.connect()
	c.modify(0, add(t, 0, "counter:get", map[string]any{"name": "n"}))
	c.transition()
	c.mutation(0, "counter:increment", map[string]any{"name": "n", "by": 0})
	r := expectMsg[*protocol.MutationResponse](c)
	tr := c.transition()
	if len(tr.Modifications) != 0 {
		t.Fatalf("unchanged result sent: %+v", tr.Modifications)
	}
	if tr.EndVersion.TS < r.TS {
		t.Fatalf("ts %d < %d", tr.EndVersion.TS, r.TS)
	}
	if st := s.Stats(); st.QueryExecutions != 2 {
		t.Fatalf("the query was not re-run: %+v", st)
	}
}

func TestEmptyTransitionAfterEveryRequest(t *testing.T) {
	s := newDemo(t)
	c := dial(t, s)
	c.connect()
	c.modify(0)
	if tr := c.transition(); len(tr.Modifications) != 0 || tr.EndVersion.QuerySet != 1 {
		t.Fatalf("%+v", tr)
	}
	c.mutation(0, "counter:increment", map[string]any{"name": "z"})
	r := expectMsg[*protocol.MutationResponse](c)
	tr := c.transition()
	if len(tr.Modifications) != 0 || tr.EndVersion.TS < r.TS {
		t.Fatalf("transition %+v after mutation ts %d", tr, r.TS)
	}
	// A failed mutation: result is the message, ts null, errorData only
	// for a ConvexError; still followed by a Transition.
	c.mutation(1, "counter:increment", map[string]any{"name": "z", "by": "1"})
	r = expectMsg[*protocol.MutationResponse](c)
	if r.Success || r.ErrorData != nil || r.TS != 0 {
		t.Fatalf("failed mutation %+v", r)
	}
	if core, id := serverError(t, r.ErrorMessage); core != "ArgumentValidationError: Value does not match validator.\nPath: .by\nValue: \"1\"\nValidator: v.float64()" ||
		id != wsRequestID(testSession, 1) {
		t.Fatalf("failed mutation message %q", r.ErrorMessage)
	}
	c.transition()
	c.send(&protocol.Mutation{RequestID: 9, UDFPath: "counter:increment", Args: []byte(`{"$bad":1}`)})
	r = expectMsg[*protocol.MutationResponse](c)
	if core, _ := serverError(t, r.ErrorMessage); r.Success || !strings.HasPrefix(core, "Invalid arguments for counter.js:increment: ") {
		t.Fatalf("bad args %+v", r)
	}
	c.transition()
	c.action(2, "echo:run", map[string]any{})
	expectMsg[*protocol.ActionResponse](c)
	c.transition()
	// Mutations whose arguments fail never run.
	if st := s.Stats(); st.MutationsRun != 1 || st.MutationsCommitted != 1 || st.ActionsRun != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestQueryFailedAndConvexError(t *testing.T) {
	s := newDemo(t)
	s.RegisterMutation("m:fails", func(*MutationCtx, map[string]any) (any, error) {
		return nil, &ConvexError{Data: map[string]any{"n": protocol.Int64(5)}}
	})
	s.RegisterQuery("m:plain", func(ctx *QueryCtx, _ map[string]any) (any, error) {
		ctx.Log("about to fail")
		return nil, errors.New("nope")
	})
	c := dial(t, s)
	c.connect()
	c.modify(0,
		add(t, 0, "errors:throw", nil),
		add(t, 1, "nope:missing", nil),
		add(t, 2, "messages:send", nil),
		add(t, 3, "m:plain", nil))
	tr := c.transition()
	m := tr.Modifications[0]
	if core, _ := serverError(t, m.ErrorMessage); m.Type != protocol.TypeQueryFailed || core != `Uncaught ConvexError: {"code":"boom"}` || string(m.ErrorData) != `{"code":"boom"}` {
		t.Fatalf("errors:throw %+v", m)
	}
	if m := tr.Modifications[1]; m.ErrorData != nil {
		t.Fatalf("missing %+v", m)
	} else if core, _ := serverError(t, m.ErrorMessage); core != "Could not find public function for 'nope:missing'." {
		t.Fatalf("missing %q", core)
	}
	if core, _ := serverError(t, tr.Modifications[2].ErrorMessage); core != "Trying to execute messages.js:send as Query, but it is defined as Mutation." {
		t.Fatalf("wrong kind %q", core)
	}
	if m := tr.Modifications[3]; !reflect.DeepEqual(m.LogLines, []string{"[LOG] 'about to fail'"}) {
		t.Fatalf("plain %+v", m)
	} else if core, _ := serverError(t, m.ErrorMessage); core != "Uncaught Error: nope" {
		t.Fatalf("plain %q", core)
	}
	c.mutation(0, "m:fails", nil)
	r := expectMsg[*protocol.MutationResponse](c)
	if r.Success || r.ErrorMessage != "[Request ID: "+wsRequestID(testSession, 0)+"] Server Error\nUncaught ConvexError: {\"n\":\"5\"}\n" ||
		string(r.ErrorData) != `{"n":{"$integer":"BQAAAAAAAAA="}}` {
		t.Fatalf("%+v", r)
	}
	c.transition()
}

func TestRemoveAndVersions(t *testing.T) {
	s := newDemo(t)
	c := dial(t, s)
	c.connect()
	c.modify(0, add(t, 0, "counter:get", map[string]any{"name": "a"}), add(t, 1, "counter:get", map[string]any{"name": "b"}))
	c.transition()
	c.modify(1, remove(0))
	tr := c.transition()
	if tr.EndVersion.QuerySet != 2 || len(tr.Modifications) != 1 || tr.Modifications[0].Type != protocol.TypeQueryRemoved ||
		tr.Modifications[0].QueryID != 0 {
		t.Fatalf("%+v", tr)
	}
	waitStats(t, s, func(st Stats) bool { return st.LiveQueries == 1 && st.Adds == 2 && st.Removes == 1 })
	// A removed id may be added again.
	c.modify(2, add(t, 0, "counter:get", map[string]any{"name": "c"}))
	if tr := c.transition(); len(tr.Modifications) != 1 || tr.Modifications[0].Type != protocol.TypeQueryUpdated {
		t.Fatalf("%+v", tr)
	}
}

func TestBaseVersionMismatchIsFatal(t *testing.T) {
	s := newDemo(t)
	c := dial(t, s)
	c.connect()
	c.modify(0)
	c.transition()
	c.modify(0) // should be 1
	fe := expectMsg[*protocol.FatalError](c)
	if fe.Error != "Base version 0 passed up doesn't match the current version 1" {
		t.Fatalf("%+v", fe)
	}
	if code, _ := c.closed(); code != websocket.StatusNoStatusRcvd {
		t.Fatalf("close code %d, want none (1005)", code)
	}
}

func TestConnectionFailuresClose1011(t *testing.T) {
	cases := []struct {
		name string
		send func(t *testing.T, c *wsClient)
	}{
		{"duplicate query id", func(t *testing.T, c *wsClient) {
			c.modify(0, add(t, 3, "counter:get", map[string]any{"name": "a"}))
			c.transition()
			c.modify(1, add(t, 3, "counter:get", map[string]any{"name": "b"}))
		}},
		{"remove unknown id", func(t *testing.T, c *wsClient) { c.modify(0, remove(9)) }},
		{"newVersion not greater", func(t *testing.T, c *wsClient) {
			c.send(&protocol.ModifyQuerySet{BaseVersion: 0, NewVersion: 0, Modifications: nil})
		}},
		{"authenticate base version", func(t *testing.T, c *wsClient) {
			c.send(&protocol.Authenticate{TokenType: protocol.TokenTypeNone, BaseVersion: 3})
		}},
		{"component path", func(t *testing.T, c *wsClient) {
			c.send(&protocol.Mutation{RequestID: 0, UDFPath: "counter:increment", Args: []byte(`{"name":"a"}`), ComponentPath: "comp"})
		}},
		{"timestamp from the future", func(t *testing.T, c *wsClient) {
			ts := protocol.Timestamp(1 << 62)
			c.send(&protocol.Connect{SessionID: testSession, MaxObservedTimestamp: &ts})
		}},
		// The backend's sync handler fails on a non-text message with an
		// error that has no metadata: 1011, no FatalError.
		{"binary frame", func(t *testing.T, c *wsClient) {
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			if err := c.ws.Write(ctx, websocket.MessageBinary, []byte(`{"type":"Event","eventType":"x","event":null}`)); err != nil {
				t.Fatal(err)
			}
		}},
		// Its WebSocket reader refuses a frame over 16 MiB (max_frame_size)
		// with a plain error too.
		{"frame over 16 MiB", func(t *testing.T, c *wsClient) {
			body := strings.Repeat("x", maxClientFrame)
			c.sendRaw([]byte(`{"type":"Event","eventType":"` + body + `","event":null}`))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newDemo(t)
			c := dial(t, s)
			tc.send(t, c)
			code, reason := c.closed()
			if code != websocket.StatusInternalError || reason != "InternalServerError" {
				t.Fatalf("closed with %d %q", code, reason)
			}
		})
	}
}

func TestFatalErrors(t *testing.T) {
	cases := []struct {
		name, want string
		send       func(t *testing.T, c *wsClient)
	}{
		{"invalid udf path in Add", "Received Invalid JSON on websocket: Path component bad path!.js can only contain alphanumeric characters, underscores, or periods.", func(t *testing.T, c *wsClient) {
			c.modify(0, add(t, 0, "bad path!", nil))
		}},
		// The path is parsed with the message, before the base version is
		// looked at.
		{"invalid udf path before base version", "Received Invalid JSON on websocket: Module path (messages.ts) has an extension that isn't 'js'.", func(t *testing.T, c *wsClient) {
			c.modify(7, add(t, 0, "messages.ts:list", nil))
		}},
		{"invalid udf path in Mutation", "Received Invalid JSON on websocket: Identifier a-b has invalid character '-': Identifiers can only contain alphanumeric characters or underscores", func(t *testing.T, c *wsClient) {
			c.mutation(0, "messages:a-b", nil)
		}},
		{"mutation without args", "Received Invalid JSON on websocket: Mutation lacks args", func(t *testing.T, c *wsClient) {
			c.sendRaw([]byte(`{"type":"Mutation","requestId":0,"udfPath":"counter:increment"}`))
		}},
		{"action with args null", "Received Invalid JSON on websocket: Action lacks args", func(t *testing.T, c *wsClient) {
			c.sendRaw([]byte(`{"type":"Action","requestId":0,"udfPath":"echo:run","args":null}`))
		}},
		{"bad path wins over missing args", "Received Invalid JSON on websocket: Identifier cannot be empty", func(t *testing.T, c *wsClient) {
			c.sendRaw([]byte(`{"type":"Mutation","requestId":0,"udfPath":"counter:"}`))
		}},
		{"invalid json", "Received Invalid JSON", func(t *testing.T, c *wsClient) { c.sendRaw([]byte("{nope")) }},
		{"unknown message", "Received Invalid JSON", func(t *testing.T, c *wsClient) { c.sendRaw([]byte(`{"type":"Nope"}`)) }},
		{"session id not a uuid", "sessionId", func(t *testing.T, c *wsClient) {
			c.send(&protocol.Connect{SessionID: "abc"})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newDemo(t)
			c := dial(t, s)
			tc.send(t, c)
			fe := expectMsg[*protocol.FatalError](c)
			if !strings.Contains(fe.Error, tc.want) {
				t.Fatalf("FatalError %q does not mention %q", fe.Error, tc.want)
			}
			if code, _ := c.closed(); code != websocket.StatusNoStatusRcvd {
				t.Fatalf("close code %d", code)
			}
		})
	}
}

func TestMutationIdempotentAcrossReconnect(t *testing.T) {
	s := newDemo(t)
	c := dial(t, s)
	c.connect()
	c.mutation(7, "counter:increment", map[string]any{"name": "n"})
	first := expectMsg[*protocol.MutationResponse](c)
	c.transition()
	if s.DropAll() != 1 {
		t.Fatal("no socket dropped")
	}
	c.closed()

	// Another mutation commits in between, so a re-run would be visible.
	if _, err := s.RunMutation("counter:increment", map[string]any{"name": "other"}); err != nil {
		t.Fatal(err)
	}
	c2 := dial(t, s)
	ts := first.TS
	reason := "closed with code 1006"
	c2.send(&protocol.Connect{SessionID: testSession, ConnectionCount: 1, LastCloseReason: &reason, MaxObservedTimestamp: &ts})
	c2.modify(0, add(t, 0, "counter:get", map[string]any{"name": "n"}))
	if tr := c2.transition(); decode(t, tr.Modifications[0].Value) != 1.0 {
		t.Fatalf("%+v", tr)
	}
	c2.mutation(7, "counter:increment", map[string]any{"name": "n"})
	again := expectMsg[*protocol.MutationResponse](c2)
	if !again.Success || again.TS != first.TS || string(again.Result) != string(first.Result) {
		t.Fatalf("replay %+v, first %+v", again, first)
	}
	tr := c2.transition()
	if len(tr.Modifications) != 0 || tr.EndVersion.TS < again.TS {
		t.Fatalf("after replay %+v", tr)
	}
	st := s.Stats()
	if st.MutationsRun != 2 || st.MutationReplays != 1 {
		t.Fatalf("stats %+v", st)
	}
	// The same request id in another session runs.
	c3 := dial(t, s)
	c3.send(&protocol.Connect{SessionID: "00000000-0000-4000-8000-000000000000"})
	c3.mutation(7, "counter:increment", map[string]any{"name": "n"})
	if r := expectMsg[*protocol.MutationResponse](c3); decode(t, r.Result) != 2.0 {
		t.Fatalf("%+v", r)
	}
}

func TestOwnMutationResponseComesBeforeItsEffects(t *testing.T) {
	s := newDemo(t)
	c := subscribed(t, s)
	for i := range 50 {
		c.mutation(protocol.RequestID(i), "counter:increment", map[string]any{"name": "n"})
		r := expectMsg[*protocol.MutationResponse](c)
		tr := c.transition()
		if len(tr.Modifications) != 1 || decode(t, tr.Modifications[0].Value) != float64(i+1) || tr.EndVersion.TS < r.TS {
			t.Fatalf("mutation %d: response %+v then %+v", i, r, tr)
		}
	}
}

func TestSocketSnapshotWaitsForOwnMutationResponse(t *testing.T) {
	s := newDemo(t)
	committed, release := make(chan struct{}), make(chan struct{})
	s.afterSocketMutation = func() {
		committed <- struct{}{}
		<-release
	}
	c := subscribed(t, s)
	c.mutation(0, "counter:increment", map[string]any{"name": "n"})
	<-committed
	// The mutation has committed but its response is held back. A query
	// added now runs at the socket's snapshot, from before the mutation,
	// and the existing query is not reported as changed yet.
	c.modify(1, add(t, 1, "counter:get", map[string]any{"name": "n"}))
	tr := c.transition()
	if len(tr.Modifications) != 1 || tr.Modifications[0].QueryID != 1 || decode(t, tr.Modifications[0].Value) != 0.0 {
		t.Fatalf("before the response: %+v", tr.Modifications)
	}
	close(release)
	r := expectMsg[*protocol.MutationResponse](c)
	tr = c.transition()
	if len(tr.Modifications) != 2 || tr.EndVersion.TS < r.TS {
		t.Fatalf("after the response: %+v", tr)
	}
	for _, m := range tr.Modifications {
		if decode(t, m.Value) != 1.0 {
			t.Fatalf("after the response: %+v", tr.Modifications)
		}
	}
}

func TestMutationsRunInOrder(t *testing.T) {
	s := newDemo(t)
	c := dial(t, s)
	c.connect()
	const n = 30
	for i := range n {
		c.mutation(protocol.RequestID(i), "counter:increment", map[string]any{"name": "n"})
	}
	var last protocol.Timestamp
	for i := 0; i < n; {
		switch m := c.next().(type) {
		case *protocol.MutationResponse:
			if m.RequestID != protocol.RequestID(i) || decode(t, m.Result) != float64(i+1) || m.TS <= last {
				t.Fatalf("response %d: %+v (last ts %d)", i, m, last)
			}
			last = m.TS
			i++
		case *protocol.Transition:
		default:
			t.Fatalf("unexpected %T", m)
		}
	}
}

func TestActions(t *testing.T) {
	s := newDemo(t)
	release := make(chan struct{})
	s.RegisterAction("slow:wait", func(ctx *ActionCtx, _ map[string]any) (any, error) {
		select {
		case <-release:
			return "released", nil
		case <-ctx.Context().Done():
			return nil, ctx.Context().Err()
		}
	})
	s.RegisterAction("calls:both", func(ctx *ActionCtx, args map[string]any) (any, error) {
		if _, err := ctx.RunMutation("counter:increment", map[string]any{"name": "a", "by": 3}); err != nil {
			return nil, err
		}
		ctx.Log("incremented")
		v, err := ctx.RunQuery("counter:get", map[string]any{"name": "a"})
		if err != nil {
			return nil, err
		}
		_, err = ctx.RunQuery("errors:throw", nil)
		var ce ConvexError
		if !errors.As(err, &ce) {
			return nil, fmt.Errorf("want a ConvexError, got %v", err)
		}
		return []any{v, ce.Data}, nil
	})
	c := dial(t, s)
	c.connect()
	c.action(0, "slow:wait", nil)
	args := map[string]any{"i": int64(-42), "b": []byte{0, 1}, "empty": []byte{}, "nested": map[string]any{"x": []any{1.5, nil, true}}}
	c.action(1, "echo:run", args)
	r := expectMsg[*protocol.ActionResponse](c)
	if r.RequestID != 1 || !r.Success || string(r.Result) != string(encArgs(t, args)) {
		t.Fatalf("echo %s, sent %s", r.Result, encArgs(t, args))
	}
	c.transition()
	c.action(2, "calls:both", nil)
	r = expectMsg[*protocol.ActionResponse](c)
	if r.RequestID != 2 || string(r.Result) != `[3,{"code":"boom"}]` ||
		!reflect.DeepEqual(r.LogLines, []string{"[LOG] 'incremented'"}) {
		t.Fatalf("calls:both %+v", r)
	}
	c.transition()
	close(release)
	r = expectMsg[*protocol.ActionResponse](c)
	if r.RequestID != 0 || decode(t, r.Result) != "released" {
		t.Fatalf("slow %+v", r)
	}
	c.transition()
	// An action that waits for its context ends when the server closes.
	c.action(3, "slow:wait", nil)
	waitStats(t, s, func(st Stats) bool { return st.ActionsRun == 4 })
	s.Close()
}

func TestAuthOverSocket(t *testing.T) {
	keys := mustKeys(t)
	clock := newClock()
	s := newDemo(t, WithAuth(keys.AuthConfig()), WithNow(clock.Now))
	c := dial(t, s)
	c.connect()
	c.modify(0, add(t, 0, "auth:whoami", nil), add(t, 1, "counter:get", map[string]any{"name": "n"}))
	if tr := c.transition(); string(tr.Modifications[0].Value) != "null" {
		t.Fatalf("%+v", tr)
	}
	tok, err := keys.MintTokenAt(clock.Now(), "user_1", 0, map[string]any{"exp": clock.Now().Unix() + 60})
	if err != nil {
		t.Fatal(err)
	}
	c.send(&protocol.Authenticate{TokenType: protocol.TokenTypeUser, Value: tok, BaseVersion: 0})
	tr := c.transition()
	if tr.EndVersion.Identity != 1 || len(tr.Modifications) != 1 || decode(t, tr.Modifications[0].Value) != "user_1" {
		t.Fatalf("after auth %+v", tr)
	}
	// Both queries re-ran under the new identity; only whoami changed.
	waitStats(t, s, func(st Stats) bool { return st.QueryExecutions == 4 && st.TokensAccepted == 1 })

	c.send(&protocol.Authenticate{TokenType: protocol.TokenTypeNone, BaseVersion: 1})
	tr = c.transition()
	if tr.EndVersion.Identity != 2 || string(tr.Modifications[0].Value) != "null" {
		t.Fatalf("after clearing %+v", tr)
	}

	c.send(&protocol.Authenticate{TokenType: protocol.TokenTypeUser, Value: tok, BaseVersion: 2})
	c.transition()
	clock.Advance(61e9)
	c.mutation(0, "counter:increment", map[string]any{"name": "n"})
	ae := expectMsg[*protocol.AuthError](c)
	if ae.AuthUpdateAttempted || ae.Error != "Token expired" || ae.BaseVersion != 3 {
		t.Fatalf("%+v", ae)
	}
	if code, _ := c.closed(); code != websocket.StatusNoStatusRcvd {
		t.Fatalf("close %d", code)
	}
	if st := s.Stats(); st.MutationsRun != 0 {
		t.Fatalf("the mutation ran: %+v", st)
	}
}

func TestAuthRejectedOverSocket(t *testing.T) {
	keys := mustKeys(t)
	s := newDemo(t, WithAuth(keys.AuthConfig()))
	c := dial(t, s)
	c.connect()
	good, err := keys.MintToken("u", 3600e9, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.send(&protocol.Authenticate{TokenType: protocol.TokenTypeUser, Value: good, BaseVersion: 0})
	c.transition()
	bad, err := keys.MintToken("u", 3600e9, map[string]any{"iss": "https://someone.else"})
	if err != nil {
		t.Fatal(err)
	}
	c.send(&protocol.Authenticate{TokenType: protocol.TokenTypeUser, Value: bad, BaseVersion: 1})
	ae := expectMsg[*protocol.AuthError](c)
	if !ae.AuthUpdateAttempted || ae.BaseVersion != 1 || !strings.Contains(ae.Error, "Invalid issuer") {
		t.Fatalf("%+v", ae)
	}
	if code, _ := c.closed(); code != websocket.StatusNoStatusRcvd {
		t.Fatalf("close %d", code)
	}
	if st := s.Stats(); st.TokensValidated != 2 || st.TokensRejected != 1 {
		t.Fatalf("%+v", st)
	}
}

func TestExpiredIdentityBeforeQueryRerun(t *testing.T) {
	keys := mustKeys(t)
	clock := newClock()
	s := newDemo(t, WithAuth(keys.AuthConfig()), WithNow(clock.Now))
	c := dial(t, s)
	c.connect()
	tok, err := keys.MintTokenAt(clock.Now(), "u", 60e9, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.send(&protocol.Authenticate{TokenType: protocol.TokenTypeUser, Value: tok, BaseVersion: 0})
	c.modify(0, add(t, 0, "messages:list", map[string]any{"channel": "a"}))
	c.transition()
	c.transition()
	clock.Advance(120e9)
	if _, err := s.RunMutation("messages:send", map[string]any{"channel": "a", "author": "x", "body": "y"}); err != nil {
		t.Fatal(err)
	}
	ae := expectMsg[*protocol.AuthError](c)
	if ae.AuthUpdateAttempted || ae.Error != "Token expired" || ae.BaseVersion != 1 {
		t.Fatalf("%+v", ae)
	}
	c.closed()
}

func TestPing(t *testing.T) {
	s := newDemo(t, WithPingInterval(30e6))
	c := dial(t, s)
	c.connect()
	c.modify(0)
	c.transition()
	c.keepPing = true
	f := c.nextFrame()
	if string(f.raw) != `{"type":"Ping"}` {
		t.Fatalf("got %s", f.raw)
	}
	f = c.nextFrame()
	if _, ok := f.msg.(*protocol.Ping); !ok {
		t.Fatalf("got %s", f.raw)
	}
}

func TestPingWaitsForSilence(t *testing.T) {
	const interval = 300 * time.Millisecond
	s := newDemo(t, WithPingInterval(interval))
	c := dial(t, s)
	c.connect()
	c.modify(0)
	c.transition()
	// Each frame restarts the timer: the Ping comes an interval after the
	// last frame, not an interval after the socket opened.
	c.mutation(0, "counter:increment", map[string]any{"name": "n"})
	expectMsg[*protocol.MutationResponse](c)
	c.transition()
	last := time.Now()
	c.keepPing = true
	if _, ok := c.next().(*protocol.Ping); !ok {
		t.Fatal("want a Ping")
	}
	if el := time.Since(last); el < interval*3/4 {
		t.Fatalf("Ping %v after the last frame, interval %v", el, interval)
	}
}

func TestConcurrentSocketsAndMutations(t *testing.T) {
	s := newDemo(t)
	const sockets, each = 5, 20
	clients := make([]*wsClient, sockets)
	for i := range clients {
		c := dial(t, s)
		c.send(&protocol.Connect{SessionID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i)})
		c.modify(0, add(t, 0, "counter:get", map[string]any{"name": "shared"}))
		c.transition()
		clients[i] = c
	}
	for _, c := range clients {
		for j := range each {
			c.mutation(protocol.RequestID(j), "counter:increment", map[string]any{"name": "shared"})
		}
	}
	for _, c := range clients {
		responses := 0
		var value any
		for responses < each || value != float64(sockets*each) {
			switch m := c.next().(type) {
			case *protocol.MutationResponse:
				if !m.Success {
					t.Fatalf("%+v", m)
				}
				responses++
			case *protocol.Transition:
				if m.StartVersion != c.version || m.EndVersion.TS < m.StartVersion.TS {
					t.Fatalf("Transition %+v -> %+v after %+v", m.StartVersion, m.EndVersion, c.version)
				}
				c.version = m.EndVersion
				if mod, ok := modByID(m, 0); ok {
					value = decode(t, mod.Value)
				}
			}
		}
	}
	if st := s.Stats(); st.MutationsCommitted != sockets*each || st.LiveQueries != sockets {
		t.Fatalf("%+v", st)
	}
}

func TestTransitionChunks(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   []Option
		dial   []dialOption
		chunks bool
	}{
		{"forced", []Option{WithForceChunking(true)}, nil, true},
		{"go client", nil, nil, false},
		{"npm 1.28.0 by path", nil, []dialOption{withPath("/api/1.28.0/sync"), withClientHeader("")}, true},
		{"npm 1.27.9 by header", nil, []dialOption{withClientHeader("npm-1.27.9")}, false},
		{"npm 1.48.0 by header", nil, []dialOption{withClientHeader("npm-1.48.0")}, true},
		// The backend compares semantic versions: a 1.28.0 prerelease is
		// below 1.28.0; client names are case-insensitive; npm-cli and
		// other clients never get chunks.
		{"npm 1.28.0 prerelease", nil, []dialOption{withClientHeader("npm-1.28.0-alpha.1")}, false},
		{"NPM upper case", nil, []dialOption{withClientHeader("NPM-1.30.0")}, true},
		{"npm-cli", nil, []dialOption{withClientHeader("npm-cli-1.30.0")}, false},
		{"go with a non-semver version", nil, []dialOption{withClientHeader("go-x")}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newDemo(t, append(tc.opts, WithTransitionChunkSize(100))...)
			for i := range 20 {
				body := fmt.Sprintf("héllo wörld ✓ %d 日本語", i)
				if _, err := s.RunMutation("messages:send", map[string]any{"channel": "c", "author": "a", "body": body}); err != nil {
					t.Fatal(err)
				}
			}
			c := dial(t, s, tc.dial...)
			c.connect()
			c.modify(0, add(t, 0, "messages:list", map[string]any{"channel": "c"}))
			first := c.nextFrame()
			chunk, isChunk := first.msg.(*protocol.TransitionChunk)
			if isChunk != tc.chunks {
				t.Fatalf("first frame %.80s", first.raw)
			}
			if !isChunk {
				if _, ok := first.msg.(*protocol.Transition); !ok {
					t.Fatalf("got %T", first.msg)
				}
				return
			}
			text := ""
			for i := uint32(0); ; i++ {
				if chunk.PartNumber != i || len(chunk.Chunk) > 100 || !utf8Valid(chunk.Chunk) {
					t.Fatalf("chunk %d: part %d, %d bytes", i, chunk.PartNumber, len(chunk.Chunk))
				}
				text += chunk.Chunk
				if i+1 == chunk.TotalParts {
					break
				}
				chunk = c.nextFrame().msg.(*protocol.TransitionChunk)
			}
			if chunk.TransitionID != fmt.Sprint(len(text)) || chunk.TotalParts < 2 {
				t.Fatalf("transitionId %s for %d bytes in %d parts", chunk.TransitionID, len(text), chunk.TotalParts)
			}
			m, err := protocol.DecodeServerMessage([]byte(text))
			if err != nil {
				t.Fatal(err)
			}
			tr := m.(*protocol.Transition)
			if got := decode(t, tr.Modifications[0].Value).([]any); len(got) != 20 || got[3].(map[string]any)["body"] != "héllo wörld ✓ 3 日本語" {
				t.Fatalf("reassembled %v", got)
			}
		})
	}
}

func TestSplitUTF8(t *testing.T) {
	s := "aé✓日本語x"
	for size := 1; size <= len(s)+1; size++ {
		parts := splitUTF8(s, size)
		if strings.Join(parts, "") != s {
			t.Fatalf("size %d: %q", size, parts)
		}
		for _, p := range parts {
			if !utf8Valid(p) || (len(p) > size && len([]rune(p)) != 1) {
				t.Fatalf("size %d: bad piece %q", size, p)
			}
		}
	}
}

func TestClientVersionChecks(t *testing.T) {
	s := newDemo(t)
	for _, tc := range []struct {
		name, code, msg string
		opts            []dialOption
	}{
		{"header without dash", "InvalidClientVersion", "Failed to parse client version string: 'go'. Expected format is {client_name}-{semver}, e.g. my-esolang-client-0.0.1",
			[]dialOption{withClientHeader("go")}},
		{"path bad version", "InvalidClientVersion", "Failed to parse client version: unexpected character 'l' while parsing major version number",
			[]dialOption{withPath("/api/latest/sync"), withClientHeader("")}},
		{"npm too old", "ClientVersionUnsupported", "The Convex npm package at version 0.19.1 is no longer supported. Update your Convex npm version with `npx convex update` or `npm update`.",
			[]dialOption{withClientHeader("npm-0.19.1")}},
		{"npm version not semver", "ClientVersionUnsupported", "The Convex npm package at version x is no longer supported. Update your Convex npm version with `npx convex update` or `npm update`.",
			[]dialOption{withClientHeader("NPM-x")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, resp, err := tryDial(t, s, tc.opts...)
			if err == nil || resp == nil || resp.StatusCode != 400 {
				t.Fatalf("err %v resp %v", err, resp)
			}
			var body protocol.HTTPErrorBody
			if err := json.Unmarshal([]byte(readAll(t, resp)), &body); err != nil || body.Code != tc.code || body.Message != tc.msg {
				t.Fatalf("body %+v (%v)", body, err)
			}
		})
	}
	// Both routes work with a valid client; any other client name takes
	// any version, as the backend's unrecognised client types do.
	dial(t, s, withPath("/api/1.2.3/sync"))
	dial(t, s, withPath("/api/sync"), withClientHeader(""))
	dial(t, s, withClientHeader("go-x.y"))
	dial(t, s, withClientHeader("my-esolang-client-0.0.1"))
}

func TestReceivedLog(t *testing.T) {
	s := newDemo(t)
	c := dial(t, s)
	c.connect()
	c.modify(0, add(t, 4, "counter:get", map[string]any{"name": "a"}))
	c.transition()
	c.send(&protocol.Event{EventType: "ClientConnect", Event: []byte(`{"x":1}`)})
	c.mutation(0, "counter:increment", map[string]any{"name": "a"})
	expectMsg[*protocol.MutationResponse](c)
	got := s.ReceivedOn(0)
	if len(got) != 4 {
		t.Fatalf("%d messages", len(got))
	}
	if cm := got[0].(*protocol.Connect); cm.SessionID != testSession {
		t.Fatalf("%+v", cm)
	}
	if mq := got[1].(*protocol.ModifyQuerySet); mq.Modifications[0].QueryID != 4 || mq.Modifications[0].UDFPath != "counter:get" {
		t.Fatalf("%+v", mq)
	}
	if _, ok := got[2].(*protocol.Event); !ok {
		t.Fatalf("%T", got[2])
	}
	if mm := got[3].(*protocol.Mutation); mm.UDFPath != "counter:increment" || string(mm.Args) != `{"name":"a"}` {
		t.Fatalf("%+v", mm)
	}
	all := s.Received()
	if all[0].Conn != 0 || string(all[0].Raw) == "" || s.Stats().MessagesReceived != 4 {
		t.Fatalf("%+v", all[0])
	}

	for _, limit := range []int{0, 2} {
		s := newDemo(t, WithReceivedLimit(limit))
		c := dial(t, s)
		c.connect()
		c.modify(0)
		c.transition()
		c.send(&protocol.Event{EventType: "e", Event: []byte("1")})
		waitStats(t, s, func(st Stats) bool { return st.MessagesReceived == 3 })
		got := s.Received()
		if len(got) != limit || (limit == 2 && got[1].Msg.MessageType() != protocol.TypeEvent) {
			t.Fatalf("limit %d kept %d", limit, len(got))
		}
	}
}

func TestCloseEndsSocketsAndGoroutines(t *testing.T) {
	s := NewDemo()
	c := dial(t, s)
	c.connect()
	c.modify(0, add(t, 0, "counter:get", map[string]any{"name": "a"}))
	c.transition()
	s.Stall()
	s.Close()
	c.closed()
	s.Close() // idempotent
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.WaitFor(ctx, func(st Stats) bool { return st.SocketsOpen == 0 }); err != nil {
		t.Fatal(err)
	}
}
