package client

import (
	"errors"
	"fmt"

	"github.com/convexgo/convex/protocol"
	"github.com/convexgo/convex/subscription"
)

// receive feeds one server message to the engine and acts on what it
// reports.
func (o *owner) receive(msg protocol.ServerMessage) {
	ev, err := o.engine.Receive(msg)
	if err != nil {
		// A protocol violation (version gap, bad chunk): re-sync on a new
		// socket rather than apply anything doubtful.
		o.c.log.Warn("convex: protocol error, reconnecting", "err", err)
		o.connLost(reconnectReason(err), true, err)
		return
	}
	var sets map[*SnapshotSubscription]bool
	for _, id := range ev.ChangedQueries {
		o.deliver(id)
		if q := o.queries[id]; q != nil {
			for s := range q.sets {
				if sets == nil {
					sets = map[*SnapshotSubscription]bool{}
				}
				sets[s] = true
			}
		}
	}
	for s := range sets {
		o.deliverSnapshot(s)
	}
	for _, done := range ev.Completed {
		o.complete(done)
	}
	if ev.Fatal != nil {
		o.stop(&FatalError{Message: ev.Fatal.Error})
		return
	}
	if ev.AuthConfirmed {
		o.authConfirmed()
	}
	if ev.AuthError != nil {
		// The deployment closes the socket after an AuthError.
		o.c.log.Warn("convex: deployment rejected the auth token", "err", ev.AuthError.Error)
		if o.auth == nil {
			o.c.authToken.Store(nil)
			o.engine.ClearAuth()
		} else {
			o.authRejected(uint32(ev.AuthError.BaseVersion), ev.AuthError.AuthUpdateAttempted)
		}
	}
	if o.engine.Synced() {
		o.synced = true
		if !o.tooBig {
			o.resetBackoff()
		}
	}
}

func reconnectReason(err error) string {
	var re *subscription.ReconnectError
	if errors.As(err, &re) {
		return re.Reason
	}
	return "ProtocolError"
}

// deliver hands a query's new result to each of its subscribers.
func (o *owner) deliver(id protocol.QueryID) {
	q := o.queries[id]
	if q == nil {
		return
	}
	r, ok := o.engine.Result(id)
	if !ok {
		return
	}
	o.c.logFunctionLines("query", q.path, r.LogLines)
	res := toResult(q.path, r)
	q.last = &res
	if q.group != nil {
		q.group.put(res)
	}
}

// toResult makes the engine's result of the query at path a subscriber's.
func toResult(path string, r subscription.Result) result {
	if !r.Success {
		return result{err: newFunctionError("query", path, r.ErrorMessage, r.ErrorData, r.LogLines)}
	}
	return result{value: r.Value, dec: new(decodeCache)}
}

// complete resolves a mutation's or action's caller.
func (o *owner) complete(done subscription.Completion) {
	w := o.waiters[done.RequestID]
	if w == nil {
		return
	}
	delete(o.waiters, done.RequestID)
	// Before the caller hears of it: one-shot queries it makes next must
	// not share a request started before this write took effect.
	o.c.writeGen.Add(1)
	o.c.logFunctionLines(w.kind, w.path, done.LogLines)
	switch {
	case done.ConnectionLost:
		w.reply <- callResult{err: &FunctionError{Kind: w.kind, Path: w.path, Message: done.ErrorMessage, cause: ErrConnectionLost}}
	case done.Success:
		w.reply <- callResult{value: done.Value}
	default:
		w.reply <- callResult{err: newFunctionError(w.kind, w.path, done.ErrorMessage, done.ErrorData, done.LogLines)}
	}
}

// maxUnknownTypes caps how many distinct unknown message types are logged.
const maxUnknownTypes = 32

// unknownMessage notes a server message of a type this client does not
// know. It is ignored, as the official client ignores it, and logged once
// per type for the client's lifetime (up to maxUnknownTypes types, so a
// misbehaving server cannot grow the record without end).
func (o *owner) unknownMessage(typ string) {
	if o.unknownTypes[typ] || len(o.unknownTypes) > maxUnknownTypes {
		return
	}
	if len(o.unknownTypes) == maxUnknownTypes {
		o.unknownTypes[""] = true // a marker: the cap was reached and logged
		o.c.log.Warn("convex: ignoring further unknown server message types without logging them")
		return
	}
	if o.unknownTypes == nil {
		o.unknownTypes = make(map[string]bool)
	}
	o.unknownTypes[typ] = true
	o.c.log.Warn("convex: ignoring server messages of an unknown type; is the client out of date?", "type", typ)
}

// resetBackoff starts the reconnect backoff over, once the client has
// re-synced (as the official client does).
func (o *owner) resetBackoff() {
	if o.backoff.Retries() == 0 {
		return
	}
	o.backoff.Reset()
	o.c.state.update(func(st *ConnectionStatus) { st.Attempts = 0 })
}

// messageTooBig handles a socket that ended on a message over the read
// limit: the error goes to every subscriber of the socket (which query's
// message it was cannot be known, since it was not read) and, through the
// caller, to the connection status; and until sockets end otherwise, the
// backoff is not reset, so that the reconnects, each of which brings the
// message again, slow down to the backoff's cap.
func (o *owner) messageTooBig(err error) {
	o.c.log.Error("convex: a message from the deployment exceeds the read limit; "+
		"raise it with client.WithReadLimit, or the client will keep reconnecting",
		"limit", o.c.cfg.readLimit, "attempt", o.backoff.Retries()+1, "err", err)
	o.tooBig = true
	res := result{err: fmt.Errorf("convex: a message from the deployment exceeds the client's read limit of %d bytes "+
		"(client.WithReadLimit); reconnecting: %w", o.c.cfg.readLimit, err)}
	for _, q := range o.queries {
		if q.group != nil {
			q.group.put(res)
		}
	}
}

// queryRemoved notes that a query left the query set: if sockets were
// ending on an oversized message, it may have been this query's, so the
// next re-sync may reset the backoff again.
func (o *owner) queryRemoved() {
	if o.tooBig {
		o.tooBig = false
		if o.synced {
			o.resetBackoff()
		}
	}
}
