package client

import (
	"context"
	"runtime/debug"
	"sync/atomic"

	"github.com/convexgo/convex/protocol"
)

// callbackSub is one OnUpdate member of a query group.
type callbackSub struct {
	idx     int    // index in the group's cbs, -1 once removed; under g.mu
	seen    uint64 // the group's ver last handed to call; under g.mu
	removed atomic.Bool
	call    func(result)
}

// maxCallbackBatch is how many callbacks a dispatcher takes per lock.
const maxCallbackBatch = 64

// kick makes sure a dispatcher will run the group's callbacks; g.mu must
// be held, and the group must be live or just closed by closeAll (the
// owner is then still running, so the client's WaitGroup is not yet
// waited on).
func (g *queryGroup) kick() {
	g.dirty = true
	if g.dispatching {
		return
	}
	g.dispatching = true
	g.c.wg.Add(1)
	go g.dispatch()
}

// dispatch calls the group's callbacks until every one has seen the
// latest result, then returns. One dispatcher at most runs per group, so
// a query's callbacks run one at a time; a result that arrives while they
// run replaces the one not yet handed out (latest-value), and callbacks
// that already had the older one get the newer on the next pass.
func (g *queryGroup) dispatch() {
	defer g.c.wg.Done()
	var batch [maxCallbackBatch]struct {
		cb *callbackSub
		r  result
	}
	g.mu.Lock()
	for g.dirty {
		g.dirty = false
		for i := 0; i < len(g.cbs); {
			n := 0
			for ; i < len(g.cbs) && n < len(batch); i++ {
				if cb := g.cbs[i]; cb.seen < g.ver {
					cb.seen = g.ver
					batch[n].cb, batch[n].r = cb, g.last
					n++
				}
			}
			g.mu.Unlock()
			for j := range batch[:n] {
				if !batch[j].cb.removed.Load() {
					g.call(batch[j].cb, batch[j].r)
				}
				batch[j].cb, batch[j].r = nil, result{}
			}
			g.mu.Lock()
		}
	}
	g.dispatching = false
	g.mu.Unlock()
}

// call runs one callback, recovering a panic: it is logged, with its
// stack, at Error level, and delivery goes on.
func (g *queryGroup) call(cb *callbackSub, r result) {
	defer func() {
		if p := recover(); p != nil {
			g.c.log.Error("convex: OnUpdate callback panicked", "path", g.path, "panic", p, "stack", string(debug.Stack()))
		}
	}()
	cb.call(r)
}

// OnUpdate subscribes to the query at path with args and calls f with
// each newer result decoded into a T, as the official client's onUpdate
// does, without a goroutine per subscriber. It returns once the
// subscription is made (ctx bounds only that); unsubscribe ends it.
//
// f is called from the client's dispatcher: for each query with new
// results, one goroutine that calls the query's callbacks one after
// another and ends when they are done. So calls for one query never
// overlap and come in order (each value newer than the one before), and
// delivery is latest-value: while f runs, newer results replace each
// other, and f gets only the newest next. f never runs on the socket
// reader or the client's owner goroutine, so a slow f delays no other
// query's callbacks (the official client, calling all callbacks in one
// loop, delays all of them), no mutation and no pull-style subscriber;
// it delays only the other callbacks of its own query. Many callbacks on
// one query, or on many, cost no goroutine of their own.
//
// A query that fails calls f with the zero T and its *FunctionError; a
// result that does not fit T gives a *DecodeError. When the client is
// closed or stopped, f is called once more with ErrClosed or the
// *FatalError, and Close waits for running callbacks to return. A
// subscriber of a query that is live already gets its latest value at
// once, with no wire traffic.
//
// Values are decoded once per result and Go type and shared with every
// other subscriber, as with Subscription: do not modify slices, maps or
// pointed-to data in them.
//
// f may call unsubscribe, OnUpdate and other methods of the client. A
// panic in f is recovered and logged at Error level (with its stack) on
// the client's logger, and delivery goes on. After unsubscribe returns, f
// is not called again, except for a call that had already begun;
// unsubscribe does not wait for it. Calling unsubscribe again does
// nothing.
func OnUpdate[T any](ctx context.Context, c *Client, path string, args any, f func(T, error)) (unsubscribe func(), err error) {
	return c.onResult(ctx, path, args, func(r result) {
		if r.err != nil {
			var zero T
			f(zero, r.err)
			return
		}
		f(decodeShared[T](r.dec, r.value, path))
	})
}

// onResult is OnUpdate with the raw result: call gets each newer result
// of the query, on the query's dispatcher.
func (c *Client) onResult(ctx context.Context, path string, args any, call func(result)) (unsubscribe func(), err error) {
	encoded, err := encodeArgs("query", path, args)
	if err != nil {
		return nil, err
	}
	if err := checkFrame("query", path, encoded); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cb := &callbackSub{call: call}
	var g *queryGroup
	add := func(gr *queryGroup) {
		g = gr
		cb.idx = len(gr.cbs)
		gr.cbs = append(gr.cbs, cb)
		if gr.ver > 0 {
			gr.kick()
		}
	}
	var buf [256]byte
	if !c.joinLive(protocol.AppendQueryToken(buf[:0], path, encoded), add) {
		token := protocol.NewQueryToken(path, encoded)
		done := make(chan error, 1)
		if err := c.do(ctx, func(o *owner) { done <- o.join(path, token, encoded, add) }); err != nil {
			return nil, err
		}
		if err := <-done; err != nil {
			return nil, err
		}
	}
	var once atomic.Bool
	return func() {
		if once.Swap(true) {
			return
		}
		cb.removed.Store(true)
		c.leaveGroup(g, nil, cb)
	}, nil
}
