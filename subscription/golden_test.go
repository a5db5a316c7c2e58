package subscription

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/convexgo/convex/protocol"
)

// The official client's recorded wire transcripts (../shared/docs next to
// the repository). The engine, given the same intents and the same server
// messages, must send the same messages, session ids and clocks aside.
const transcripts = "../../shared/docs/official-client/transcripts"

type frame struct {
	Dir  string          `json:"dir"`
	Conn int             `json:"conn"`
	Msg  json.RawMessage `json:"msg"`
}

func loadTranscript(t *testing.T, name string) []frame {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(transcripts, name))
	if err != nil {
		t.Fatalf("golden transcript: %v", err)
	}
	var frames []frame
	if err := json.Unmarshal(data, &frames); err != nil {
		t.Fatal(err)
	}
	return frames
}

// normalize decodes a client message and drops what differs by design:
// the session id, the client clock, and a null journal (left out by this
// client, sent as null by the official one; the server treats them alike).
func normalize(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "sessionId")
	delete(m, "clientTs")
	if mods, ok := m["modifications"].([]any); ok {
		for _, x := range mods {
			if mod, ok := x.(map[string]any); ok {
				if j, ok := mod["journal"]; ok && j == nil {
					delete(mod, "journal")
				}
			}
		}
	}
	return m
}

// replay drives e through a transcript: before each recorded client
// message it runs the intents keyed by that message's index among client
// messages, and it feeds every server message to the engine. It returns
// the engine's client messages and the recorded ones, normalized.
func replay(t *testing.T, e *Engine, frames []frame, intents map[int]func()) (got, want []map[string]any) {
	t.Helper()
	conn := -1
	c2s := 0
	flush := func() {
		for _, m := range e.TakeOutgoing() {
			b, err := protocol.EncodeClientMessage(m)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, normalize(t, b))
		}
	}
	for _, f := range frames {
		if f.Conn != conn {
			if conn >= 0 {
				flush()
				e.Lost("closed with code 1006")
			}
			conn = f.Conn
			if f.Conn > 0 || c2s == 0 {
				e.Open(0)
			}
		}
		switch f.Dir {
		case "c2s":
			if fn := intents[c2s]; fn != nil {
				fn()
			}
			want = append(want, normalize(t, f.Msg))
			c2s++
		case "s2c":
			flush()
			msg, err := protocol.DecodeServerMessage(f.Msg)
			if err != nil {
				t.Fatalf("golden server message %s: %v", f.Msg, err)
			}
			if _, err := e.Receive(msg); err != nil {
				t.Fatalf("Receive(%s): %v", f.Msg, err)
			}
		}
	}
	flush()
	return got, want
}

func TestGoldenSameQueryTwoSubscriptions(t *testing.T) {
	frames := loadTranscript(t, "01-same-query-two-subscriptions.json")
	e := New(session)
	general := args(t, map[string]any{"channel": "general"})
	var tok protocol.QueryToken
	// Client messages: 0 Connect, 1 MQS(empty), 2 Add (two subscribers),
	// 3 Remove (after both left), then twice a one-shot query: Add, Remove.
	sub := func() { _, tok, _ = e.Subscribe("messages:list", general, nil) }
	unsub := func() { e.Unsubscribe(tok) }
	intents := map[int]func(){
		2: func() { sub(); sub() },
		3: func() { unsub(); unsub() },
		4: sub, 5: unsub,
		6: func() { _, tok, _ = e.Subscribe("messages:list", args(t, map[string]any{"channel": "oneshot"}), nil) },
		7: unsub,
	}
	got, want := replay(t, e, frames, intents)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("(-official +engine):\n%s", diff)
	}
}

func TestGoldenReconnect(t *testing.T) {
	frames := loadTranscript(t, "07-reconnect.json")
	var token string
	for _, f := range frames {
		var m struct{ Type, Value string }
		json.Unmarshal(f.Msg, &m)
		if m.Type == "Authenticate" {
			token = m.Value
			break
		}
	}
	var subs []protocol.QuerySetModification
	for _, f := range frames {
		if f.Dir != "c2s" || len(subs) > 0 {
			continue
		}
		if msg, err := protocol.DecodeClientMessage(f.Msg); err == nil {
			if mqs, ok := msg.(*protocol.ModifyQuerySet); ok {
				subs = mqs.Modifications
			}
		}
	}
	if token == "" || len(subs) != 2 {
		t.Fatalf("transcript shape changed: token %q, %d subscriptions", token, len(subs))
	}
	e := New(session)
	// Client messages on the first socket: 0 Connect, 1 MQS(empty),
	// 2 Authenticate, 3 MQS(two Adds), 4 Mutation 0, 5 Mutation 1, 6 Action 2.
	intents := map[int]func(){
		2: func() { e.SetAuth(token) },
		3: func() {
			// The official client sent both Adds in one ModifyQuerySet.
			e.Batch(func() {
				for _, a := range subs {
					e.Subscribe(a.UDFPath, a.Args, nil)
				}
			})
		},
		4: func() {
			e.Mutation("messages:send", args(t, map[string]any{"author": "ann", "body": "before drop", "channel": "a"}))
		},
		5: func() {
			e.Mutation("messages:send", args(t, map[string]any{"author": "ann", "body": "in flight", "channel": "a"}))
		},
		6: func() { e.Action("echo:run", args(t, map[string]any{"z": 1.0})) },
	}
	got, want := replay(t, e, frames, intents)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("(-official +engine):\n%s", diff)
	}
}
