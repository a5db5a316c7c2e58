package subscription

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/convexgo/convex/protocol"
)

// BenchmarkDuplicateSubscribe subscribes to and unsubscribes from a query
// that is already live: no message may be queued.
func BenchmarkDuplicateSubscribe(b *testing.B) {
	e := New(session)
	e.Open(0)
	a, _ := protocol.EncodeArgs(map[string]any{"channel": "general"})
	_, tok, _ := e.Subscribe("messages:list", a, nil)
	e.TakeOutgoing()
	b.ReportAllocs()
	for b.Loop() {
		e.Subscribe("messages:list", a, nil)
		e.Unsubscribe(tok)
	}
	if n := len(e.TakeOutgoing()); n != 0 {
		b.Fatalf("%d messages for duplicate subscribers", n)
	}
	b.ReportMetric(0, "msgs/op")
}

// BenchmarkSubscribe10kOver100 adds 10,000 subscribers spread over 100
// distinct queries.
func BenchmarkSubscribe10kOver100(b *testing.B) {
	argsFor := make([]json.RawMessage, 100)
	for i := range argsFor {
		argsFor[i], _ = protocol.EncodeArgs(map[string]any{"channel": fmt.Sprint("c", i)})
	}
	b.ReportAllocs()
	for b.Loop() {
		e := New(session)
		e.Open(0)
		for i := 0; i < 10_000; i++ {
			e.Subscribe("messages:list", argsFor[i%100], nil)
		}
		if e.LiveQueries() != 100 {
			b.Fatal(e.LiveQueries())
		}
		e.TakeOutgoing()
	}
}

// BenchmarkApplyTransition applies a Transition updating 100 of 10,000
// live queries.
func BenchmarkApplyTransition(b *testing.B) {
	e := New(session)
	e.Open(0)
	for i := 0; i < 10_000; i++ {
		a, _ := protocol.EncodeArgs(map[string]any{"i": protocol.Int64(i)})
		e.Subscribe("m:f", a, nil)
	}
	e.TakeOutgoing()
	mods := make([]protocol.StateModification, 100)
	for i := range mods {
		mods[i] = protocol.StateModification{Type: protocol.TypeQueryUpdated, QueryID: protocol.QueryID(i * 100), Value: json.RawMessage(`[1,2,3]`)}
	}
	var v protocol.StateVersion
	b.ReportAllocs()
	for b.Loop() {
		next := protocol.StateVersion{QuerySet: v.QuerySet, TS: v.TS + 1}
		ev, err := e.Receive(&protocol.Transition{StartVersion: v, EndVersion: next, Modifications: mods})
		if err != nil || len(ev.ChangedQueries) != 100 {
			b.Fatal(err, len(ev.ChangedQueries))
		}
		v = next
	}
}
