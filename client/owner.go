package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/convexgo/convex/internal/backoff"
	"github.com/convexgo/convex/protocol"
	"github.com/convexgo/convex/subscription"
	"github.com/convexgo/convex/transport"
)

// owner is the one goroutine that drives the sync engine and the current
// connection. It never blocks on a user or on the network: user calls
// reach it as closures on Client.cmds, socket IO happens on the
// connection's reader and writer goroutines, and deliveries to subscribers
// go through non-blocking mailboxes.
type owner struct {
	c       *Client
	engine  *subscription.Engine
	queries map[protocol.QueryID]*liveQuery
	waiters map[protocol.RequestID]*waiter

	conn    *connection // nil while disconnected
	gen     uint64      // generation of the newest connection attempt
	events  chan connEvent
	backoff *backoff.Backoff
	retry   *time.Timer // pending reconnect, or nil
	dialing bool

	stopErr error // set once the client stopped for good (FatalError)

	unknownTypes map[string]bool // server message types already logged as unknown

	// tooBig is set while sockets keep ending on a message over the read
	// limit: re-syncing does not reset the backoff then, since the next
	// re-sync may bring the message again. It is cleared when a query
	// leaves the query set (perhaps the one too big) or a socket ends for
	// another reason. synced notes that the current socket re-synced.
	tooBig, synced bool

	auth        *authState // nil without SetAuth
	authGen     uint64
	authResults chan authFetch
	authHold    bool // no socket until a new token is fetched (after an AuthError)
}

// liveQuery is the owner's record of one distinct query and its local
// users.
type liveQuery struct {
	id    protocol.QueryID
	path  string
	group *queryGroup                   // its subscribers and callbacks, or nil (or dead, until released)
	sets  map[*SnapshotSubscription]int // snapshot subscriptions using it, with counts
	last  *result                       // latest result, handed at once to new groups
}

// query returns the liveQuery for id, creating it.
func (o *owner) query(id protocol.QueryID, path string) *liveQuery {
	q := o.queries[id]
	if q == nil {
		q = &liveQuery{id: id, path: path, sets: make(map[*SnapshotSubscription]int)}
		o.queries[id] = q
	}
	return q
}

// forgetIfUnused drops the local record of a query nobody uses, once the
// engine has dropped the query too. Releases of dead groups reach the
// owner in the order their last members left, not the order the groups
// were made, so a newer group's release can find no group on the query
// while an older one still holds the engine's reference; the record, and
// its latest result for the next group, must outlive that.
func (o *owner) forgetIfUnused(q *liveQuery) {
	if q.group == nil && len(q.sets) == 0 && o.engine.Subscribers(q.id) == 0 {
		delete(o.queries, q.id)
	}
}

// closeAll ends every subscriber with err.
func (o *owner) closeAll(err error) {
	for _, q := range o.queries {
		if q.group != nil {
			q.group.closeAll(err)
		}
		for s := range q.sets {
			s.box.Close(err)
		}
	}
}

// waiter is a caller waiting for a mutation or action.
type waiter struct {
	kind, path string
	reply      chan callResult
}

func newOwner(c *Client, sessionID string) *owner {
	return &owner{
		c:           c,
		engine:      subscription.New(sessionID),
		queries:     make(map[protocol.QueryID]*liveQuery),
		waiters:     make(map[protocol.RequestID]*waiter),
		events:      make(chan connEvent),
		authResults: make(chan authFetch),
		backoff:     c.newBackoff(),
	}
}

func (o *owner) run() {
	o.dial()
	for {
		var retry <-chan time.Time
		if o.retry != nil {
			retry = o.retry.C
		}
		select {
		case f := <-o.c.cmds:
			f(o)
		case ev := <-o.events:
			o.handleConnEvent(ev)
		case <-retry:
			o.retry = nil
			o.dial()
		case r := <-o.authResults:
			o.handleAuthFetch(r)
		case <-o.refreshTimer():
			o.auth.refresh = nil
			o.fetchToken(fetchScheduled)
		case <-o.c.lifetime.Done():
			o.shutdown()
			return
		}
		o.flush()
	}
}

// shutdown ends everything when the client closes.
func (o *owner) shutdown() {
	o.c.state.set(Closed)
	if o.retry != nil {
		o.retry.Stop()
	}
	if o.auth != nil {
		o.auth.stop()
	}
	o.dropConn("client closed", true)
	o.closeAll(ErrClosed)
	for id, w := range o.waiters {
		w.reply <- callResult{err: ErrClosed}
		delete(o.waiters, id)
	}
	// Wait out a dial still in progress: its goroutine reports to events.
	for o.dialing {
		o.handleConnEvent(<-o.events)
	}
}

// flush sends whatever the engine queued, if a socket is open.
func (o *owner) flush() {
	msgs := o.engine.TakeOutgoing()
	if o.conn == nil || len(msgs) == 0 {
		return
	}
	for _, m := range msgs {
		b, err := protocol.EncodeClientMessage(m)
		if err != nil {
			// The engine built a message the encoder refuses: a bug, but
			// never worth a panic. Reconnecting re-sends the state.
			o.c.log.Error("convex: cannot encode client message", "type", m.MessageType(), "err", err)
			o.connLost(fmt.Sprintf("FailedToSendMessage: %v", err), true, err)
			return
		}
		o.conn.send(b)
	}
}

// ---- user intents ----

func (o *owner) request(kind, path string, args json.RawMessage, reply chan callResult) {
	if o.stopErr != nil {
		reply <- callResult{err: o.stopErr}
		return
	}
	var id protocol.RequestID
	if kind == "mutation" {
		id = o.engine.Mutation(path, args)
	} else {
		id = o.engine.Action(path, args)
	}
	o.waiters[id] = &waiter{kind: kind, path: path, reply: reply}
}

// ---- connection lifecycle ----

func (o *owner) dial() {
	if o.stopErr != nil || o.dialing || o.conn != nil {
		return
	}
	o.gen++
	o.dialing = true
	o.c.state.update(func(st *ConnectionStatus) {
		if st.State != Reconnecting {
			st.State = Connecting
		}
		st.NextRetry = time.Time{} // the attempt is under way
	})
	gen := o.gen
	opts := &transport.Options{
		HTTPClient:        o.c.httpClient,
		ReadLimit:         o.c.cfg.readLimit,
		InactivityTimeout: o.c.cfg.inactivityTimeout,
		WriteTimeout:      o.c.cfg.writeTimeout,
		HandshakeTimeout:  o.c.cfg.handshakeTimeout,
		Compression:       o.c.cfg.compression,
	}
	o.c.wg.Add(1)
	go func() {
		defer o.c.wg.Done()
		tc, err := transport.Dial(o.c.lifetime, o.c.deployment, opts)
		o.events <- connEvent{gen: gen, dialed: tc, err: err, isDial: true}
	}()
}

func (o *owner) handleConnEvent(ev connEvent) {
	if ev.isDial {
		o.dialing = false
		if ev.gen != o.gen || o.c.lifetime.Err() != nil || o.stopErr != nil {
			if ev.dialed != nil {
				ev.dialed.Close("client closed")
			}
			return
		}
		if ev.err != nil {
			o.c.log.Info("convex: connect failed", "err", ev.err)
			reason, clientSide := transport.Reason(ev.err)
			o.scheduleReconnect(reason, clientSide, ev.err)
			return
		}
		o.conn = startConnection(o.c, ev.dialed, ev.gen, o.events)
		o.synced = false
		opened := o.engine.Open(time.Now().UnixMilli())
		o.c.state.set(Connected)
		for _, done := range opened.Completed {
			o.complete(done)
		}
		return
	}
	if o.conn == nil || ev.gen != o.conn.gen {
		return // from a connection already replaced
	}
	if ev.err != nil {
		if errors.Is(ev.err, transport.ErrMessageTooBig) {
			o.messageTooBig(ev.err)
		} else if o.tooBig {
			// The socket ended otherwise: the streak is over, and a socket
			// that had re-synced earns the reset it was denied.
			o.tooBig = false
			if o.synced {
				o.resetBackoff()
			}
		}
		reason, clientSide := transport.Reason(ev.err)
		if pe, ok := ev.err.(*protocolError); ok {
			reason, clientSide = "ProtocolError", true
			o.c.log.Warn("convex: undecodable frame", "err", pe)
		}
		o.c.log.Info("convex: connection lost", "reason", reason, "err", ev.err)
		o.connLost(reason, clientSide, ev.err)
		return
	}
	if ev.msg == nil {
		o.unknownMessage(ev.unknownType)
		return
	}
	o.receive(ev.msg)
}

// connLost tears down the current connection and schedules a reconnect;
// err is why, for the connection status.
func (o *owner) connLost(reason string, clientSide bool, err error) {
	o.dropConn(reason, clientSide)
	o.scheduleReconnect(reason, clientSide, err)
}

func (o *owner) dropConn(reason string, clientSide bool) {
	if o.conn == nil {
		return
	}
	o.conn.close(reason)
	o.conn = nil
	o.engine.Lost(reason)
}

// scheduleReconnect waits out the backoff before the next dial and
// records the failure (err, the attempt count, the retry time) in the
// connection status.
func (o *owner) scheduleReconnect(reason string, clientSide bool, err error) {
	if o.stopErr != nil || o.c.lifetime.Err() != nil {
		return
	}
	d := o.backoff.Next(backoff.Cause{ClientInitiated: clientSide, ServerReason: reason})
	o.c.log.Info("convex: reconnecting", "in", d, "reason", reason, "attempt", o.backoff.Retries())
	attempts, next := o.backoff.Retries(), time.Now().Add(d)
	o.c.state.update(func(st *ConnectionStatus) {
		st.State, st.Attempts, st.NextRetry = Reconnecting, attempts, next
		if err != nil {
			st.LastError = err
		}
	})
	o.retry = time.NewTimer(d)
}

// stop ends the client for good after a FatalError.
func (o *owner) stop(err error) {
	o.stopErr = err
	o.dropConn("FatalError", false)
	o.c.state.set(Stopped)
	o.closeAll(err)
	for id, w := range o.waiters {
		w.reply <- callResult{err: err}
		delete(o.waiters, id)
	}
}
