// Package subscription is the Convex sync protocol's state machine, with no
// IO: the local query set with deduplication and reference counts, the
// versions of the query set and of the identity, the remote result set and
// Transition checks, mutation and action bookkeeping, and the plan of what
// to send when a socket (re)opens.
//
// It is a low-level package; most programs use package client, whose owner
// goroutine drives an Engine. An Engine is not safe for concurrent use: one
// goroutine owns it and calls, in any order,
//
//   - user intents: Subscribe, Unsubscribe, Mutation, Action, SetAuth,
//     ClearAuth;
//   - Open when a socket has opened, and Lost when it is gone;
//   - Receive for each message the server sent;
//
// and after each call drains TakeOutgoing and sends those messages, in
// order, on the current socket. Receive returns what changed: queries with
// new results, finished requests, and errors that call for a reconnect.
//
// The engine reads no clock and starts no goroutine.
package subscription

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/convexgo/convex/protocol"
)

// ConnectionLostMessage is the error of an action that was in flight when
// its socket was lost, as the official client words it.
const ConnectionLostMessage = "Connection lost while action was in flight"

// Result is a query's latest result.
type Result struct {
	Success      bool
	Value        json.RawMessage // Convex JSON, on success
	ErrorMessage string          // on failure
	ErrorData    json.RawMessage // ConvexError data on failure, or nil
	LogLines     []string
}

// Completion is a finished mutation or action.
type Completion struct {
	RequestID    protocol.RequestID
	Success      bool
	Value        json.RawMessage // Convex JSON, on success
	ErrorMessage string
	ErrorData    json.RawMessage
	LogLines     []string
	// ConnectionLost is set for an action that was in flight when its
	// socket was lost; actions are never re-sent.
	ConnectionLost bool
}

// Events is what one Receive (or Open) changed.
type Events struct {
	// ChangedQueries lists the live queries whose result changed, in
	// queryId order.
	ChangedQueries []protocol.QueryID
	// Completed lists the mutations and actions that finished.
	Completed []Completion
	// AuthConfirmed is true when a Transition raised the identity version:
	// the server accepted the token last sent.
	AuthConfirmed bool
	// AuthError is the server's AuthError, if one arrived.
	AuthError *protocol.AuthError
	// Fatal is the server's FatalError, if one arrived: stop for good.
	Fatal *protocol.FatalError
}

// ReconnectError is a server message the engine will not apply: the
// socket must be dropped and the state re-synced on a new one.
type ReconnectError struct {
	Reason string // a short code such as "StartVersionMismatch"
	Detail string
}

// Error describes the failure.
func (e *ReconnectError) Error() string {
	return "convex: " + e.Reason + ": " + e.Detail
}

type requestState int

const (
	notSent   requestState = iota // waiting for a socket
	requested                     // sent on the current socket
	completed                     // mutation answered, waiting for its Transition
)

type request struct {
	id       protocol.RequestID
	isAction bool
	msg      protocol.ClientMessage
	state    requestState
	ts       protocol.Timestamp // commit ts, once completed
	result   Completion
}

type query struct {
	id          protocol.QueryID
	token       protocol.QueryToken
	path        string // canonical
	args        json.RawMessage
	journal     *string
	subscribers int
	result      *Result
	// readdedAt is the Open count at which this query was last re-added;
	// answered records whether the new socket has answered it since.
	answered bool
}

// Engine is the sync state machine. See the package documentation for how
// to drive it.
type Engine struct {
	sessionID string

	// Local query set.
	byToken     map[string]*query // by QueryToken
	keyBuf      []byte            // scratch space for token lookups
	byID        map[protocol.QueryID]*query
	nextQueryID protocol.QueryID
	querySetV   protocol.QuerySetVersion

	// Identity.
	token     string          // the user token or admin key, "" when none
	tokenType string          // protocol.TokenTypeUser or TokenTypeAdmin
	acting    json.RawMessage // the identity an admin key acts as, or nil
	identityV protocol.IdentityVersion
	// authPending is true while a token sent on this socket awaits
	// confirmation.
	authPending bool

	// Requests.
	requests      map[protocol.RequestID]*request
	nextRequestID protocol.RequestID

	// Connection.
	connected       bool
	connectionCount uint32
	lastCloseReason *string
	remote          protocol.StateVersion
	maxObservedTS   *protocol.Timestamp
	chunks          chunkBuffer

	outgoing []protocol.ClientMessage

	batching    bool
	batchedMods []protocol.QuerySetModification
}

// New returns an Engine for a client whose session id (a UUID, the same
// for every socket of the client) is sessionID.
func New(sessionID string) *Engine {
	initial := "InitialConnect"
	return &Engine{
		sessionID:       sessionID,
		byToken:         make(map[string]*query),
		byID:            make(map[protocol.QueryID]*query),
		requests:        make(map[protocol.RequestID]*request),
		lastCloseReason: &initial,
	}
}

// TakeOutgoing returns the messages queued since the last call, in the
// order they must be sent, and forgets them.
func (e *Engine) TakeOutgoing() []protocol.ClientMessage {
	out := e.outgoing
	e.outgoing = nil
	return out
}

func (e *Engine) send(m protocol.ClientMessage) {
	if e.connected {
		e.outgoing = append(e.outgoing, m)
	}
}

func (e *Engine) modifyQuerySet(mods ...protocol.QuerySetModification) {
	if !e.connected {
		return // the next Open re-adds every live query
	}
	if e.batching {
		e.batchedMods = append(e.batchedMods, mods...)
		return
	}
	e.send(&protocol.ModifyQuerySet{BaseVersion: e.querySetV, NewVersion: e.querySetV + 1, Modifications: mods})
	e.querySetV++
}

// Batch runs f, and sends the query-set changes f makes (Subscribe and
// Unsubscribe calls) as one ModifyQuerySet instead of one each. An Add and
// a Remove of the same query within f cancel out.
func (e *Engine) Batch(f func()) {
	if e.batching {
		f()
		return
	}
	e.batching = true
	f()
	e.batching = false
	mods := e.batchedMods
	e.batchedMods = nil
	// Query ids are never reused, so a query both added and removed
	// within f was born in f: neither message needs to go out.
	added, removed := map[protocol.QueryID]bool{}, map[protocol.QueryID]bool{}
	for _, m := range mods {
		if m.Type == protocol.TypeAdd {
			added[m.QueryID] = true
		} else {
			removed[m.QueryID] = true
		}
	}
	var final []protocol.QuerySetModification
	for _, m := range mods {
		if !(added[m.QueryID] && removed[m.QueryID]) {
			final = append(final, m)
		}
	}
	if len(final) > 0 {
		e.modifyQuerySet(final...)
	}
}

// Subscribe adds one subscriber to the query at udfPath with canonicalArgs
// (as protocol.EncodeArgs returns them). The first subscriber of a query
// gives it a new QueryID and queues an Add; later ones only count. isNew
// reports which happened.
func (e *Engine) Subscribe(udfPath string, canonicalArgs json.RawMessage, journal *string) (id protocol.QueryID, token protocol.QueryToken, isNew bool) {
	e.keyBuf = protocol.AppendQueryToken(e.keyBuf[:0], udfPath, canonicalArgs)
	if q, ok := e.byToken[string(e.keyBuf)]; ok { // no allocation
		q.subscribers++
		return q.id, q.token, false
	}
	token = protocol.QueryToken(e.keyBuf)
	q := &query{id: e.nextQueryID, token: token, path: token.Path(), args: canonicalArgs,
		journal: journal, subscribers: 1}
	e.nextQueryID++
	e.byToken[string(token)] = q
	e.byID[q.id] = q
	e.modifyQuerySet(e.addFor(q))
	return q.id, token, true
}

func (e *Engine) addFor(q *query) protocol.QuerySetModification {
	return protocol.QuerySetModification{Type: protocol.TypeAdd, QueryID: q.id, UDFPath: q.path,
		Args: q.args, Journal: q.journal}
}

// Unsubscribe removes one subscriber of the query with token. When it was
// the last, the query and its result are forgotten and a Remove is queued;
// removed reports that. Unknown tokens are ignored.
func (e *Engine) Unsubscribe(token protocol.QueryToken) (removed bool) {
	q, ok := e.byToken[string(token)]
	if !ok {
		return false
	}
	q.subscribers--
	if q.subscribers > 0 {
		return false
	}
	delete(e.byToken, string(token))
	delete(e.byID, q.id)
	e.modifyQuerySet(protocol.QuerySetModification{Type: protocol.TypeRemove, QueryID: q.id})
	return true
}

// QueryID returns the id of the live query with token.
func (e *Engine) QueryID(token protocol.QueryToken) (protocol.QueryID, bool) {
	q, ok := e.byToken[string(token)]
	if !ok {
		return 0, false
	}
	return q.id, true
}

// Result returns the latest result of a live query; ok is false when the
// query is not live or has no result yet. Results survive reconnects until
// the new socket replaces them.
func (e *Engine) Result(id protocol.QueryID) (Result, bool) {
	q, ok := e.byID[id]
	if !ok || q.result == nil {
		return Result{}, false
	}
	return *q.result, true
}

// Subscribers returns how many subscribers the query with id has.
func (e *Engine) Subscribers(id protocol.QueryID) int {
	if q, ok := e.byID[id]; ok {
		return q.subscribers
	}
	return 0
}

// LiveQueries returns how many distinct queries are live.
func (e *Engine) LiveQueries() int { return len(e.byID) }

// PendingRequests returns how many mutations and actions are unfinished.
func (e *Engine) PendingRequests() int { return len(e.requests) }

// Mutation queues a mutation and returns its RequestID. udfPath is sent as
// given; the server canonicalizes it.
func (e *Engine) Mutation(udfPath string, canonicalArgs json.RawMessage) protocol.RequestID {
	id := e.nextRequestID
	e.nextRequestID++
	r := &request{id: id, msg: &protocol.Mutation{RequestID: id, UDFPath: udfPath, Args: canonicalArgs}}
	e.requests[id] = r
	if e.connected {
		e.send(r.msg)
		r.state = requested
	}
	return id
}

// Action queues an action and returns its RequestID.
func (e *Engine) Action(udfPath string, canonicalArgs json.RawMessage) protocol.RequestID {
	id := e.nextRequestID
	e.nextRequestID++
	r := &request{id: id, isAction: true, msg: &protocol.Action{RequestID: id, UDFPath: udfPath, Args: canonicalArgs}}
	e.requests[id] = r
	if e.connected {
		e.send(r.msg)
		r.state = requested
	}
	return id
}

// SetAuth sets the user token sent to the server, now (if connected) and
// on every later socket. An empty token is the same as ClearAuth.
func (e *Engine) SetAuth(token string) {
	if token == "" {
		e.ClearAuth()
		return
	}
	e.setAuth(protocol.TokenTypeUser, token, nil)
}

// SetAdminAuth authenticates with a deployment's admin (or deploy) key,
// acting as the user identity impersonating (a JSON object of
// UserIdentityAttributes) unless it is empty, now (if connected) and on
// every later socket. An empty key is the same as ClearAuth.
func (e *Engine) SetAdminAuth(key string, impersonating json.RawMessage) {
	if key == "" {
		e.ClearAuth()
		return
	}
	e.setAuth(protocol.TokenTypeAdmin, key, impersonating)
}

func (e *Engine) setAuth(tokenType, value string, acting json.RawMessage) {
	e.token, e.tokenType, e.acting = value, tokenType, acting
	if e.connected {
		e.send(e.authenticate(e.identityV))
		e.identityV++
		e.authPending = true
	}
}

func (e *Engine) authenticate(base protocol.IdentityVersion) *protocol.Authenticate {
	return &protocol.Authenticate{TokenType: e.tokenType, Value: e.token, BaseVersion: base, Impersonating: e.acting}
}

// ClearAuth drops the user token; the server is told when a token had
// been sent on the current socket.
func (e *Engine) ClearAuth() {
	if e.token == "" {
		return
	}
	e.token, e.tokenType, e.acting = "", "", nil
	e.authPending = false
	if e.connected && e.identityV > 0 {
		e.send(&protocol.Authenticate{TokenType: protocol.TokenTypeNone, BaseVersion: e.identityV})
		e.identityV++
	}
}

// Token returns the user token or admin key the engine holds.
func (e *Engine) Token() string { return e.token }

// TokenType returns protocol.TokenTypeUser or TokenTypeAdmin for the token
// held, or "" when there is none.
func (e *Engine) TokenType() string { return e.tokenType }

// IdentityVersion returns the identity version of the current socket.
func (e *Engine) IdentityVersion() protocol.IdentityVersion { return e.identityV }

// Connected reports whether a socket is open (between Open and Lost).
func (e *Engine) Connected() bool { return e.connected }

// Open starts a new socket: it queues Connect, Authenticate when a token
// is held, one ModifyQuerySet re-adding every live query under its
// original id, then every unfinished mutation (same requestIds) and every
// unsent action. Actions sent on the previous socket fail now, as
// Completions with ConnectionLost. clientTS is the wall clock in ms.
func (e *Engine) Open(clientTS int64) Events {
	var ev Events
	e.connected = true
	e.outgoing = e.outgoing[:0]
	e.remote = protocol.StateVersion{}
	e.chunks.reset()
	e.send(&protocol.Connect{SessionID: e.sessionID, ConnectionCount: e.connectionCount,
		LastCloseReason: e.lastCloseReason, MaxObservedTimestamp: e.maxObservedTS, ClientTS: clientTS})
	e.connectionCount++

	e.identityV, e.authPending = 0, false
	if e.token != "" {
		e.send(e.authenticate(0))
		e.identityV, e.authPending = 1, true
	}

	e.querySetV = 0
	ids := make([]protocol.QueryID, 0, len(e.byID))
	for id := range e.byID {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	mods := make([]protocol.QuerySetModification, 0, len(ids))
	for _, id := range ids {
		q := e.byID[id]
		q.answered = false
		mods = append(mods, e.addFor(q))
	}
	e.modifyQuerySet(mods...)

	rids := make([]protocol.RequestID, 0, len(e.requests))
	for id := range e.requests {
		rids = append(rids, id)
	}
	slices.Sort(rids)
	for _, id := range rids {
		r := e.requests[id]
		if r.isAction && r.state == requested {
			delete(e.requests, id)
			ev.Completed = append(ev.Completed, Completion{RequestID: id, ErrorMessage: ConnectionLostMessage, ConnectionLost: true})
			continue
		}
		e.send(r.msg)
		r.state = requested
	}
	return ev
}

// Lost records that the socket is gone, and why (the next Connect's
// lastCloseReason). Nothing is queued until the next Open.
func (e *Engine) Lost(reason string) {
	if !e.connected {
		return
	}
	e.connected = false
	e.outgoing = nil
	e.chunks.reset()
	r := reason
	e.lastCloseReason = &r
}

// Synced reports whether the client has caught up since the last Open:
// every re-added query has been answered, the token sent at Open has been
// confirmed, and every request in flight has finished. The reconnect
// backoff resets then.
func (e *Engine) Synced() bool {
	if !e.connected || e.authPending || len(e.requests) > 0 {
		return false
	}
	for _, q := range e.byID {
		if !q.answered {
			return false
		}
	}
	return true
}

// RemoteVersion returns the version of the server state applied so far on
// the current socket; every live result with Answered at it is
// consistent at RemoteVersion().TS.
func (e *Engine) RemoteVersion() protocol.StateVersion { return e.remote }

// Answered reports whether the live query id has a result from the current
// socket (not only one kept from before a reconnect).
func (e *Engine) Answered(id protocol.QueryID) bool {
	q, ok := e.byID[id]
	return ok && q.answered
}

// Receive applies one server message. A message that must not be applied
// (a Transition that does not start at the current version, a broken
// TransitionChunk sequence) gives a *ReconnectError and changes nothing
// else: drop the socket and Open a new one.
func (e *Engine) Receive(msg protocol.ServerMessage) (Events, error) {
	if _, isChunk := msg.(*protocol.TransitionChunk); !isChunk {
		e.chunks.reset() // any other message drops a partial transition
	}
	switch m := msg.(type) {
	case *protocol.Transition:
		return e.applyTransition(m)
	case *protocol.TransitionChunk:
		t, err := e.chunks.add(m)
		if err != nil || t == nil {
			return Events{}, err
		}
		return e.applyTransition(t)
	case *protocol.MutationResponse:
		return e.mutationResponse(m), nil
	case *protocol.ActionResponse:
		return e.actionResponse(m), nil
	case *protocol.AuthError:
		e.authPending = false
		return Events{AuthError: m}, nil
	case *protocol.FatalError:
		return Events{Fatal: m}, nil
	case *protocol.Ping:
		return Events{}, nil
	case nil:
		return Events{}, &ReconnectError{Reason: "ProtocolError", Detail: "nil message"}
	}
	return Events{}, &ReconnectError{Reason: "ProtocolError", Detail: fmt.Sprintf("unexpected message %T", msg)}
}

func (e *Engine) observe(ts protocol.Timestamp) {
	if e.maxObservedTS == nil || ts > *e.maxObservedTS {
		t := ts
		e.maxObservedTS = &t
	}
}

func (e *Engine) applyTransition(t *protocol.Transition) (Events, error) {
	var ev Events
	if t.StartVersion != e.remote {
		return ev, &ReconnectError{Reason: "StartVersionMismatch",
			Detail: fmt.Sprintf("transition starts at %+v, client is at %+v", t.StartVersion, e.remote)}
	}
	e.observe(t.EndVersion.TS)
	for i := range t.Modifications {
		m := &t.Modifications[i]
		q, ok := e.byID[m.QueryID]
		if !ok {
			continue // removed locally since; the server will catch up
		}
		switch m.Type {
		case protocol.TypeQueryUpdated:
			q.result = &Result{Success: true, Value: m.Value, LogLines: m.LogLines}
			q.journal = m.Journal
		case protocol.TypeQueryFailed:
			q.result = &Result{ErrorMessage: m.ErrorMessage, ErrorData: m.ErrorData, LogLines: m.LogLines}
			q.journal = m.Journal
		case protocol.TypeQueryRemoved:
			// The server dropped a query the client still holds; keep the
			// last result and count it as answered.
		default:
			continue
		}
		q.answered = true
		ev.ChangedQueries = append(ev.ChangedQueries, m.QueryID)
	}
	slices.Sort(ev.ChangedQueries)
	ev.ChangedQueries = slices.Compact(ev.ChangedQueries)
	if t.EndVersion.Identity > t.StartVersion.Identity && t.EndVersion.Identity >= e.identityV {
		e.authPending = false
		ev.AuthConfirmed = true
	}
	e.remote = t.EndVersion

	// Successful mutations resolve once a Transition covers their commit.
	var done []protocol.RequestID
	for id, r := range e.requests {
		if r.state == completed && r.ts <= t.EndVersion.TS {
			done = append(done, id)
		}
	}
	slices.Sort(done)
	for _, id := range done {
		ev.Completed = append(ev.Completed, e.requests[id].result)
		delete(e.requests, id)
	}
	return ev, nil
}

func (e *Engine) mutationResponse(m *protocol.MutationResponse) Events {
	r, ok := e.requests[m.RequestID]
	if !ok || r.isAction || r.state == completed {
		return Events{} // unknown, or the second answer to a re-sent mutation
	}
	res := Completion{RequestID: m.RequestID, Success: m.Success, Value: m.Result,
		ErrorMessage: m.ErrorMessage, ErrorData: m.ErrorData, LogLines: m.LogLines}
	if !m.Success {
		delete(e.requests, m.RequestID)
		return Events{Completed: []Completion{res}}
	}
	e.observe(m.TS)
	r.state, r.ts, r.result = completed, m.TS, res
	// Resolution waits for the next Transition, even when one already
	// covered m.TS: the server always sends one after a mutation.
	return Events{}
}

func (e *Engine) actionResponse(m *protocol.ActionResponse) Events {
	r, ok := e.requests[m.RequestID]
	if !ok || !r.isAction {
		return Events{}
	}
	delete(e.requests, m.RequestID)
	return Events{Completed: []Completion{{RequestID: m.RequestID, Success: m.Success, Value: m.Result,
		ErrorMessage: m.ErrorMessage, ErrorData: m.ErrorData, LogLines: m.LogLines}}}
}
