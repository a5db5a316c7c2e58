package subscription

import (
	"bytes"
	"testing"

	"github.com/convexgo/convex/protocol"
)

// FuzzReceive feeds arbitrary frames, split on newlines, to an engine with
// live queries and requests: it must never panic, and the state must stay
// coherent (nothing queued while disconnected, results only for live
// queries).
func FuzzReceive(f *testing.F) {
	for _, s := range []string{
		`{"type":"Transition","startVersion":{"querySet":0,"identity":0,"ts":"AAAAAAAAAAA="},"endVersion":{"querySet":2,"identity":0,"ts":"AQAAAAAAAAA="},"modifications":[{"type":"QueryUpdated","queryId":0,"value":1,"logLines":[],"journal":null}]}`,
		`{"type":"MutationResponse","requestId":0,"success":true,"result":null,"ts":"AQAAAAAAAAA=","logLines":[]}` + "\n" +
			`{"type":"Transition","startVersion":{"querySet":0,"identity":0,"ts":"AAAAAAAAAAA="},"endVersion":{"querySet":2,"identity":0,"ts":"AgAAAAAAAAA="},"modifications":[]}`,
		`{"type":"TransitionChunk","chunk":"{\"type\":\"Transition\",","partNumber":0,"totalParts":2,"transitionId":"1"}` + "\n" +
			`{"type":"TransitionChunk","chunk":"\"startVersion\":{\"querySet\":0,\"identity\":0,\"ts\":\"AAAAAAAAAAA=\"},\"endVersion\":{\"querySet\":2,\"identity\":0,\"ts\":\"AQAAAAAAAAA=\"},\"modifications\":[]}","partNumber":1,"totalParts":2,"transitionId":"1"}`,
		`{"type":"ActionResponse","requestId":1,"success":false,"result":"x","logLines":[]}`,
		`{"type":"AuthError","error":"x","baseVersion":0,"authUpdateAttempted":true}`,
		`{"type":"FatalError","error":"x"}`,
		`{"type":"Ping"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		e := New(session)
		e.SetAuth("tok")
		e.Subscribe("m:a", nil, nil)
		e.Subscribe("m:b", []byte(`{"x":1}`), nil)
		e.Mutation("m:w", nil)
		e.Action("a:x", nil)
		e.Open(0)
		e.TakeOutgoing()
		for _, line := range bytes.Split(data, []byte("\n")) {
			msg, err := protocol.DecodeServerMessage(line)
			if err != nil {
				continue
			}
			if _, err := e.Receive(msg); err != nil {
				e.Lost("fuzz")
				if n := len(e.TakeOutgoing()); n != 0 {
					t.Fatalf("%d messages queued after Lost", n)
				}
				e.Open(0)
				e.TakeOutgoing()
			}
		}
		for id := protocol.QueryID(0); id < 4; id++ {
			if _, ok := e.Result(id); ok && e.Subscribers(id) == 0 {
				t.Fatalf("result for query %d that is not live", id)
			}
		}
		if e.LiveQueries() != 2 {
			t.Fatalf("live queries changed to %d", e.LiveQueries())
		}
	})
}
