package subscription

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/convexgo/convex/protocol"
)

// fakeServer keeps the server's view of one socket, as the deployment does,
// and checks every message the engine sends against it.
type fakeServer struct {
	t         *testing.T
	querySetV protocol.QuerySetVersion
	identityV protocol.IdentityVersion
	queries   map[protocol.QueryID]bool
	version   protocol.StateVersion
	ts        uint64
	pending   []protocol.ServerMessage
}

func newFakeServer(t *testing.T) *fakeServer {
	return &fakeServer{t: t, queries: map[protocol.QueryID]bool{}}
}

func (s *fakeServer) handle(seed uint64, msgs []protocol.ClientMessage) {
	for _, m := range msgs {
		switch m := m.(type) {
		case *protocol.ModifyQuerySet:
			if m.BaseVersion != s.querySetV || m.NewVersion != s.querySetV+1 {
				s.t.Fatalf("seed %d: ModifyQuerySet %d->%d, server at %d", seed, m.BaseVersion, m.NewVersion, s.querySetV)
			}
			s.querySetV = m.NewVersion
			var mods []protocol.StateModification
			for _, mod := range m.Modifications {
				if mod.Type == protocol.TypeAdd {
					if s.queries[mod.QueryID] {
						s.t.Fatalf("seed %d: Add of live query %d", seed, mod.QueryID)
					}
					s.queries[mod.QueryID] = true
					mods = append(mods, protocol.StateModification{Type: protocol.TypeQueryUpdated, QueryID: mod.QueryID,
						Value: json.RawMessage(fmt.Sprint(s.ts))})
				} else {
					if !s.queries[mod.QueryID] {
						s.t.Fatalf("seed %d: Remove of unknown query %d", seed, mod.QueryID)
					}
					delete(s.queries, mod.QueryID)
					mods = append(mods, protocol.StateModification{Type: protocol.TypeQueryRemoved, QueryID: mod.QueryID})
				}
			}
			s.transition(mods)
		case *protocol.Authenticate:
			if m.BaseVersion != s.identityV {
				s.t.Fatalf("seed %d: Authenticate base %d, server at %d", seed, m.BaseVersion, s.identityV)
			}
			s.identityV++
			s.transition(nil)
		case *protocol.Mutation:
			s.ts++
			s.pending = append(s.pending, &protocol.MutationResponse{RequestID: m.RequestID, Success: true,
				Result: json.RawMessage(`null`), TS: protocol.Timestamp(s.ts)})
			s.transition(nil)
		case *protocol.Action:
			s.pending = append(s.pending, &protocol.ActionResponse{RequestID: m.RequestID, Success: true, Result: json.RawMessage(`1`)})
			s.transition(nil)
		}
	}
}

func (s *fakeServer) transition(mods []protocol.StateModification) {
	s.ts++
	end := protocol.StateVersion{QuerySet: s.querySetV, Identity: s.identityV, TS: protocol.Timestamp(s.ts)}
	s.pending = append(s.pending, &protocol.Transition{StartVersion: s.version, EndVersion: end, Modifications: mods})
	s.version = end
}

// Random sequences of subscribe, unsubscribe, mutate, act, auth changes,
// socket drops and server deliveries keep the engine's invariants.
func TestRandomOperations(t *testing.T) {
	paths := []string{"m:a", "m:b", "m.js:a", "n:c"}
	for seed := uint64(0); seed < 300; seed++ {
		r := rand.New(rand.NewPCG(seed, 99))
		e := New(session)
		srv := newFakeServer(t)
		live := map[protocol.QueryToken]int{} // the test's own count of subscribers
		var tokens []protocol.QueryToken
		outstanding := map[protocol.RequestID]bool{}
		connected := false
		open := func() {
			srv = newFakeServer(t)
			ev := e.Open(0)
			for _, c := range ev.Completed {
				delete(outstanding, c.RequestID)
			}
			connected = true
			msgs := e.TakeOutgoing()
			if len(msgs) < 2 {
				t.Fatalf("seed %d: Open queued %d messages", seed, len(msgs))
			}
			// The re-add lists exactly the live queries.
			for _, m := range msgs {
				if mqs, ok := m.(*protocol.ModifyQuerySet); ok && mqs.BaseVersion == 0 {
					if len(mqs.Modifications) != len(live) {
						t.Fatalf("seed %d: re-add of %d queries, %d live", seed, len(mqs.Modifications), len(live))
					}
					break
				}
			}
			srv.handle(seed, msgs)
		}
		for step := 0; step < 200; step++ {
			switch op := r.IntN(10); {
			case op < 3:
				path := paths[r.IntN(len(paths))]
				a, _ := protocol.EncodeArgs(map[string]any{"k": float64(r.IntN(3))})
				_, tok, isNew := e.Subscribe(path, a, nil)
				if isNew != (live[tok] == 0) {
					t.Fatalf("seed %d: isNew %v with %d subscribers", seed, isNew, live[tok])
				}
				if live[tok] == 0 {
					tokens = append(tokens, tok)
				}
				live[tok]++
			case op < 5 && len(tokens) > 0:
				i := r.IntN(len(tokens))
				tok := tokens[i]
				removed := e.Unsubscribe(tok)
				live[tok]--
				if removed != (live[tok] == 0) {
					t.Fatalf("seed %d: removed %v with %d left", seed, removed, live[tok])
				}
				if live[tok] == 0 {
					delete(live, tok)
					tokens = append(tokens[:i], tokens[i+1:]...)
				}
			case op == 5:
				outstanding[e.Mutation("m:w", nil)] = true
			case op == 6:
				outstanding[e.Action("a:x", nil)] = true
			case op == 7:
				if r.IntN(2) == 0 {
					e.SetAuth(fmt.Sprintf("tok%d", r.IntN(3)))
				} else {
					e.ClearAuth()
				}
			case op == 8:
				if connected {
					e.Lost("dropped")
					connected = false
				} else {
					open()
				}
			default:
				if !connected {
					open()
				}
				// Deliver everything the server has queued.
				for _, m := range srv.pending {
					ev, err := e.Receive(m)
					if err != nil {
						t.Fatalf("seed %d step %d: %v", seed, step, err)
					}
					for _, c := range ev.Completed {
						if !outstanding[c.RequestID] {
							t.Fatalf("seed %d: request %d completed twice or never made", seed, c.RequestID)
						}
						delete(outstanding, c.RequestID)
					}
				}
				srv.pending = nil
			}
			if connected {
				srv.handle(seed, e.TakeOutgoing())
			} else if n := len(e.TakeOutgoing()); n != 0 {
				t.Fatalf("seed %d: %d messages queued while disconnected", seed, n)
			}
			// Invariants.
			if e.LiveQueries() != len(live) {
				t.Fatalf("seed %d step %d: engine has %d live queries, want %d", seed, step, e.LiveQueries(), len(live))
			}
			for tok, n := range live {
				id, ok := e.QueryID(tok)
				if !ok || e.Subscribers(id) != n {
					t.Fatalf("seed %d: query %q has %d subscribers, want %d", seed, tok, e.Subscribers(id), n)
				}
			}
			if e.PendingRequests() != len(outstanding) {
				t.Fatalf("seed %d: %d pending, want %d", seed, e.PendingRequests(), len(outstanding))
			}
			if connected && len(srv.queries) != len(live) {
				t.Fatalf("seed %d step %d: server has %d queries, client %d", seed, step, len(srv.queries), len(live))
			}
		}
	}
}
