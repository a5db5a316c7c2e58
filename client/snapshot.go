package client

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/convexgo/convex/internal/mailbox"
	"github.com/convexgo/convex/protocol"
)

// QuerySpec names a query: a function path and its arguments.
type QuerySpec struct {
	Path string
	Args any
}

// Snapshot holds the results of several queries, all valid at one
// database timestamp TS. Values[i] and Errs[i] belong to the i-th query
// given to SubscribeAll; Errs[i] is the query's *FunctionError, if it
// failed.
type Snapshot struct {
	TS     uint64
	Values []json.RawMessage
	Errs   []error
}

// SnapshotSubscription delivers consistent snapshots of several queries.
type SnapshotSubscription struct {
	c      *Client
	tokens []protocol.QueryToken
	paths  []string
	box    *mailbox.Mailbox[Snapshot]
	once   sync.Once
}

// SubscribeAll subscribes to several queries at once (one ModifyQuerySet)
// and delivers their results together, each snapshot consistent: every
// result in it is valid at the same timestamp. A snapshot is delivered
// whenever one of the results changes and all of them are known on the
// current connection. The queries are deduplicated with every other
// subscription of the client.
func (c *Client) SubscribeAll(ctx context.Context, queries ...QuerySpec) (*SnapshotSubscription, error) {
	s := &SnapshotSubscription{c: c, box: mailbox.New[Snapshot]()}
	encoded := make([]json.RawMessage, len(queries))
	for i, q := range queries {
		a, err := encodeArgs("query", q.Path, q.Args)
		if err != nil {
			return nil, err
		}
		if err := checkFrame("query", q.Path, a); err != nil {
			return nil, err
		}
		encoded[i] = a
		s.tokens = append(s.tokens, protocol.NewQueryToken(q.Path, a))
		s.paths = append(s.paths, q.Path)
	}
	if err := checkBatch(s.paths, encoded); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	if err := c.do(ctx, func(o *owner) { done <- o.subscribeAll(s, encoded) }); err != nil {
		return nil, err
	}
	if err := <-done; err != nil {
		return nil, err
	}
	return s, nil
}

// Next blocks until a snapshot newer than the last one returned.
func (s *SnapshotSubscription) Next(ctx context.Context) (Snapshot, error) {
	if s.box == nil {
		return Snapshot{}, ErrNotInitialized
	}
	return s.box.Next(ctx)
}

// Close ends the subscription and releases its queries.
func (s *SnapshotSubscription) Close() error {
	if s.box == nil {
		return nil
	}
	s.once.Do(func() {
		s.box.Close(ErrClosed)
		s.c.doAsync(func(o *owner) { o.unsubscribeAll(s) })
	})
	return nil
}

func (o *owner) subscribeAll(s *SnapshotSubscription, args []json.RawMessage) error {
	if o.stopErr != nil {
		return o.stopErr
	}
	o.engine.Batch(func() {
		for i := range s.tokens {
			id, _, _ := o.engine.Subscribe(s.paths[i], args[i], nil)
			o.query(id, s.paths[i]).sets[s]++
		}
	})
	o.deliverSnapshot(s)
	return nil
}

func (o *owner) unsubscribeAll(s *SnapshotSubscription) {
	for _, tok := range s.tokens {
		id, ok := o.engine.QueryID(tok)
		if !ok {
			continue
		}
		if q := o.queries[id]; q != nil {
			if q.sets[s]--; q.sets[s] <= 0 {
				delete(q.sets, s)
			}
			if o.engine.Unsubscribe(tok) {
				o.queryRemoved()
			}
			o.forgetIfUnused(q)
		}
	}
}

// deliverSnapshot puts a snapshot when every query of s has a result from
// the current connection.
func (o *owner) deliverSnapshot(s *SnapshotSubscription) {
	snap := Snapshot{TS: uint64(o.engine.RemoteVersion().TS), Values: make([]json.RawMessage, len(s.tokens)),
		Errs: make([]error, len(s.tokens))}
	for i, tok := range s.tokens {
		id, ok := o.engine.QueryID(tok)
		if !ok || !o.engine.Answered(id) {
			return
		}
		r, ok := o.engine.Result(id)
		if !ok {
			return
		}
		if r.Success {
			snap.Values[i] = r.Value
		} else {
			snap.Errs[i] = newFunctionError("query", s.paths[i], r.ErrorMessage, r.ErrorData, r.LogLines)
		}
	}
	s.box.Put(snap)
}
