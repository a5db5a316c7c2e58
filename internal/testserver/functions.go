package testserver

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/convexgo/convex/protocol"
)

// FunctionKind says whether a function is a query, a mutation or an action.
type FunctionKind int

// The kinds of function a deployment runs.
const (
	KindQuery FunctionKind = iota + 1
	KindMutation
	KindAction
)

// String returns "Query", "Mutation" or "Action".
func (k FunctionKind) String() string {
	switch k {
	case KindQuery:
		return "Query"
	case KindMutation:
		return "Mutation"
	case KindAction:
		return "Action"
	}
	return fmt.Sprintf("FunctionKind(%d)", int(k))
}

// QueryFunc is a query's body. It reads the database through ctx and
// returns a value that protocol.EncodeValue accepts, or an error.
type QueryFunc func(ctx *QueryCtx, args map[string]any) (any, error)

// MutationFunc is a mutation's body. Its writes are committed only if it
// returns a nil error and a value that can be encoded.
type MutationFunc func(ctx *MutationCtx, args map[string]any) (any, error)

// ActionFunc is an action's body. Actions do not touch the database
// directly; they call queries and mutations through ctx.
type ActionFunc func(ctx *ActionCtx, args map[string]any) (any, error)

type function struct {
	path     string // canonical (JS form)
	fp       functionPath
	kind     FunctionKind
	args     *Validator // nil: no args validator
	returns  *Validator // nil: no returns validator
	query    QueryFunc
	mutation MutationFunc
	action   ActionFunc
	internal bool // callable only by admins (and admins acting as users)
}

// Identity is the authenticated user a function runs for.
type Identity struct {
	// Subject is the token's sub claim.
	Subject string
	// Issuer is the token's iss claim, as the token spells it.
	Issuer string
	// TokenIdentifier is Issuer + "|" + Subject.
	TokenIdentifier string
	// Expiry is the token's exp claim.
	Expiry time.Time
	// Claims holds every claim of the token's payload (or, for an admin
	// acting as a user, the identity's attributes).
	Claims map[string]any
	// Admin is true for a caller with the deployment's admin key, who may
	// call internal functions. Subject and the rest are empty unless
	// ActingAsUser.
	Admin bool
	// ActingAsUser is true when an admin acts as the user described by
	// the other fields.
	ActingAsUser bool
}

// IsUser reports whether the identity is a user's: a token's, or the
// user an admin acts as. Functions see no user for a plain admin.
func (id *Identity) IsUser() bool { return id != nil && (!id.Admin || id.ActingAsUser) }

// logBuf collects a function's log lines; actions may log from several
// goroutines.
type logBuf struct {
	mu    sync.Mutex
	lines []string
}

func (l *logBuf) add(lines ...string) {
	l.mu.Lock()
	l.lines = append(l.lines, lines...)
	l.mu.Unlock()
}

func (l *logBuf) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lines)
}

// QueryCtx is what a query sees. It records which tables the query read:
// a query is re-run when a later commit writes to any of them (table
// granularity: a write to any document of a table invalidates every query
// that read that table).
type QueryCtx struct {
	ctx   context.Context
	ident *Identity
	view  view
	reads map[string]bool
	logs  *logBuf

	// Pagination: the journal the query runs with, whether it paginated,
	// and the journal it leaves.
	prevJournal *string
	paginated   bool
	nextJournal *string
}

// Context returns a context that ends when the request that runs the
// function is abandoned (its socket closed, its HTTP request ended, or the
// server closed).
func (c *QueryCtx) Context() context.Context { return c.ctx }

// Identity returns the caller's identity, or nil when unauthenticated.
//
// For an admin caller it is nil, as ctx.auth.getUserIdentity() is, unless
// the admin acts as a user.
func (c *QueryCtx) Identity() *Identity { return userIdentity(c.ident) }

// Log appends a log line "[LOG] '<text>'" to the function's log lines.
func (c *QueryCtx) Log(format string, args ...any) {
	c.logs.add("[LOG] '" + fmt.Sprintf(format, args...) + "'")
}

func (c *QueryCtx) read(tableName string) *table {
	if c.reads != nil {
		c.reads[tableName] = true
	}
	return c.view.table(tableName)
}

// Get returns a copy of the document with the given id, and whether it
// exists. It records a read of the id's table.
func (c *QueryCtx) Get(id string) (map[string]any, bool) {
	tableName, ok := tableOfID(id)
	if !ok {
		return nil, false
	}
	t := c.read(tableName)
	if t == nil {
		return nil, false
	}
	d, ok := t.get(id)
	if !ok {
		return nil, false
	}
	return cloneDoc(d), true
}

// List returns copies of every document of a table, in insertion order.
// It records a read of the table.
func (c *QueryCtx) List(tableName string) []map[string]any {
	return c.Filter(tableName, nil)
}

// Filter returns copies of the documents of a table for which keep returns
// true (all of them if keep is nil), in insertion order. It records a read
// of the table.
func (c *QueryCtx) Filter(tableName string, keep func(doc map[string]any) bool) []map[string]any {
	t := c.read(tableName)
	out := []map[string]any{}
	if t == nil {
		return out
	}
	for _, d := range t.docs {
		if keep == nil || keep(d) {
			out = append(out, cloneDoc(d))
		}
	}
	return out
}

// MutationCtx is what a mutation sees: the reads of a query, over the
// mutation's own uncommitted writes, plus writes. Mutations run one at a
// time across the whole server; if the mutation returns an error nothing it
// wrote is committed.
type MutationCtx struct {
	QueryCtx
	tx *tx
}

// Insert adds a document to a table (created on first use) and returns its
// new _id. Fields must be Convex values; names starting with '_' are
// reserved. The document gets _id and _creationTime (milliseconds since
// the epoch, as a float64).
func (c *MutationCtx) Insert(tableName string, fields map[string]any) (string, error) {
	return c.tx.insert(tableName, fields)
}

// Patch sets the given fields of an existing document, keeping the others.
func (c *MutationCtx) Patch(id string, fields map[string]any) error {
	return c.tx.patch(id, fields)
}

// Delete removes a document.
func (c *MutationCtx) Delete(id string) error {
	return c.tx.delete(id)
}

// ActionCtx is what an action sees. Actions run concurrently with each
// other and with everything else; they reach the database only through
// RunQuery and RunMutation.
type ActionCtx struct {
	ctx   context.Context
	ident *Identity
	s     *Server
	logs  *logBuf
}

// Context returns a context that ends when the action's socket or HTTP
// request goes away or the server closes. Long-running actions must return
// when it is done.
func (c *ActionCtx) Context() context.Context { return c.ctx }

// Identity returns the caller's identity, or nil when unauthenticated.
//
// For an admin caller it is nil unless the admin acts as a user.
func (c *ActionCtx) Identity() *Identity { return userIdentity(c.ident) }

func userIdentity(id *Identity) *Identity {
	if !id.IsUser() {
		return nil
	}
	return id
}

// Log appends a log line "[LOG] '<text>'" to the action's log lines.
func (c *ActionCtx) Log(format string, args ...any) {
	c.logs.add("[LOG] '" + fmt.Sprintf(format, args...) + "'")
}

// RunQuery runs a query at the latest snapshot with the action's identity
// and returns its result as a decoded Convex value. The query's error is
// returned as the function returned it (a ConvexError stays one).
func (c *ActionCtx) RunQuery(path string, args map[string]any) (any, error) {
	return c.run(KindQuery, path, args)
}

// RunMutation runs a mutation with the action's identity, commits it and
// returns its result as a decoded Convex value.
func (c *ActionCtx) RunMutation(path string, args map[string]any) (any, error) {
	return c.run(KindMutation, path, args)
}

func (c *ActionCtx) run(kind FunctionKind, path string, args map[string]any) (any, error) {
	norm, err := normalizeFieldsAny(args)
	if err != nil {
		return nil, err
	}
	out := c.s.call(c.ctx, kind, path, norm, c.ident, callOpts{})
	c.logs.add(out.logLines...)
	if out.err != nil {
		return nil, out.err
	}
	return protocol.DecodeValue(out.value)
}

// outcome is the result of running one function.
type outcome struct {
	value    []byte // encoded Convex JSON, on success
	err      error  // the function's error (or a lookup/validation error)
	errCore  string // the error's own message
	errMsg   string // errCore as the client sees it: with the request id
	errData  []byte // encoded Convex JSON of ConvexError data, or nil
	logLines []string
	ts       protocol.Timestamp // mutations: commit timestamp
	reads    map[string]bool    // queries: tables read
	journal  *string            // queries: the journal left by the run (nil: empty)
	replayed bool               // mutations: answered from the idempotency record
}

func (o *outcome) fail(err error) {
	o.err = err
	o.errCore, o.errData = errorMessage(err)
	o.value = nil
}

// callOpts carries what only some callers of Server.call need.
type callOpts struct {
	snap      *snapshot // queries: run at this snapshot (default: latest)
	journal   *string   // queries: the journal to run with
	idem      *idemKey  // mutations: deduplicate on this key
	except    *syncConn // mutations: do not wake this socket on commit
	requestID string    // the request id of error messages (default: random)
	argsErr   error     // the args could not be read: fail with this after the lookup
}

// lookup finds a function by its parsed path.
func (s *Server) lookup(fp functionPath) *function {
	s.fnMu.RLock()
	defer s.fnMu.RUnlock()
	return s.functions[fp.key()]
}

func (s *Server) register(path string, f *function) {
	fp, err := parseFunctionPath(path)
	if err == nil && (strings.HasPrefix(fp.module+"/", "_system/") || strings.HasPrefix(fp.module+"/", "_deps/")) {
		err = fmt.Errorf("module path %s is reserved", fp.module)
	}
	if err != nil {
		panic(fmt.Sprintf("testserver: cannot register %s: %v", path, err))
	}
	if f.args != nil {
		if err := f.args.Err(); err != nil {
			panic(fmt.Sprintf("testserver: cannot register %s: args validator: %v", path, err))
		}
		if f.args.optional || f.args.kind != vObject && f.args.kind != vAny {
			panic(fmt.Sprintf("testserver: cannot register %s: Args validator must be an object or any, not %s", path, f.args))
		}
	}
	if f.returns != nil {
		if err := f.returns.Err(); err != nil {
			panic(fmt.Sprintf("testserver: cannot register %s: returns validator: %v", path, err))
		}
		if f.returns.optional {
			panic(fmt.Sprintf("testserver: cannot register %s: a returns validator cannot be optional", path))
		}
	}
	f.fp, f.path = fp, fp.key()
	s.fnMu.Lock()
	defer s.fnMu.Unlock()
	s.functions[f.path] = f
}

// RegisterQuery registers a public query without validators (as a Convex
// function declared without args or returns) under path. Every spelling
// of the path (messages, messages:default, messages.js,
// messages.js:default) names the same function. Registering a path again
// replaces the function. It panics if path is not a valid function path
// or is under _system/ or _deps/.
func (s *Server) RegisterQuery(path string, fn QueryFunc) {
	s.RegisterQueryV(path, nil, nil, fn)
}

// RegisterMutation registers a public mutation without validators, like
// RegisterQuery.
func (s *Server) RegisterMutation(path string, fn MutationFunc) {
	s.RegisterMutationV(path, nil, nil, fn)
}

// RegisterAction registers a public action without validators, like
// RegisterQuery.
func (s *Server) RegisterAction(path string, fn ActionFunc) {
	s.RegisterActionV(path, nil, nil, fn)
}

// RegisterInternalQueryV registers an internal query: only a caller with
// the admin key (acting as a user or not) can call it; for anyone else it
// does not exist. See RegisterQueryV.
func (s *Server) RegisterInternalQueryV(path string, args, returns *Validator, fn QueryFunc) {
	s.register(path, &function{kind: KindQuery, query: fn, args: args, returns: returns, internal: true})
}

// RegisterInternalMutationV registers an internal mutation; see
// RegisterInternalQueryV.
func (s *Server) RegisterInternalMutationV(path string, args, returns *Validator, fn MutationFunc) {
	s.register(path, &function{kind: KindMutation, mutation: fn, args: args, returns: returns, internal: true})
}

// RegisterInternalActionV registers an internal action; see
// RegisterInternalQueryV.
func (s *Server) RegisterInternalActionV(path string, args, returns *Validator, fn ActionFunc) {
	s.register(path, &function{kind: KindAction, action: fn, args: args, returns: returns, internal: true})
}

// RegisterQueryV registers a public query with an args validator (an
// object validator, or V.Any() or nil for none) and a returns validator
// (nil for none), as query({args, returns, handler}) declares one. Calls
// whose arguments fail args get the backend's "ArgumentValidationError:
// ..." and never run; a result that fails returns becomes the backend's
// "ReturnsValidationError: ..." failure. Like RegisterQuery, it panics on
// an invalid path, and also on an invalid validator (see Validator.Err).
func (s *Server) RegisterQueryV(path string, args, returns *Validator, fn QueryFunc) {
	s.register(path, &function{kind: KindQuery, query: fn, args: args, returns: returns})
}

// RegisterMutationV registers a public mutation with validators, like
// RegisterQueryV. A mutation whose result fails its returns validator
// commits nothing.
func (s *Server) RegisterMutationV(path string, args, returns *Validator, fn MutationFunc) {
	s.register(path, &function{kind: KindMutation, mutation: fn, args: args, returns: returns})
}

// RegisterActionV registers a public action with validators, like
// RegisterQueryV.
func (s *Server) RegisterActionV(path string, args, returns *Validator, fn ActionFunc) {
	s.register(path, &function{kind: KindAction, action: fn, args: args, returns: returns})
}

// RunQuery runs a query as an unauthenticated caller and returns its
// result as a decoded Convex value.
func (s *Server) RunQuery(path string, args map[string]any) (any, error) {
	return s.runDirect(KindQuery, path, args)
}

// RunMutation runs and commits a mutation as an unauthenticated caller,
// exactly as if a client had sent it: live queries it affects are updated
// on every socket. Mutations are serialized, so it must not be called from
// inside a mutation (an action uses ActionCtx.RunMutation).
func (s *Server) RunMutation(path string, args map[string]any) (any, error) {
	return s.runDirect(KindMutation, path, args)
}

// RunAction runs an action as an unauthenticated caller.
func (s *Server) RunAction(path string, args map[string]any) (any, error) {
	return s.runDirect(KindAction, path, args)
}

func (s *Server) runDirect(kind FunctionKind, path string, args map[string]any) (any, error) {
	if args == nil {
		args = map[string]any{}
	}
	norm, err := normalizeFieldsAny(args)
	if err != nil {
		return nil, err
	}
	out := s.call(s.ctx, kind, path, norm, nil, callOpts{})
	if out.err != nil {
		return nil, out.err
	}
	return protocol.DecodeValue(out.value)
}

// normalizeFieldsAny converts Go values to decoded Convex values without
// the system-field check.
func normalizeFieldsAny(args map[string]any) (map[string]any, error) {
	if args == nil {
		return map[string]any{}, nil
	}
	b, err := protocol.EncodeValue(args)
	if err != nil {
		return nil, err
	}
	v, err := protocol.DecodeValue(b)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("arguments must be an object")
	}
	return m, nil
}

// call looks up and runs a function, in the backend's order: the lookup,
// the kind, the arguments, their validator, the function, its returns
// validator. kind 0 accepts any kind. args must be a decoded Convex
// object; the function gets its own copy. A failure's message carries
// o.requestID (a new random one by default).
func (s *Server) call(ctx context.Context, kind FunctionKind, path string, args map[string]any, ident *Identity, o callOpts) (out outcome) {
	requestID := o.requestID
	if requestID == "" {
		requestID = newRequestID()
	}
	defer func() {
		if out.err != nil {
			out.errMsg = redactedMessage(requestID, out.errCore)
		}
	}()
	fp, err := parseFunctionPath(path)
	if err != nil {
		out.fail(sysErrorf("%s is not a valid path to a Convex function. %v", path, err))
		return out
	}
	f := s.lookup(fp)
	if f == nil || (f.internal && !ident.isAdmin()) {
		// An internal function is not found for a non-admin, as on the
		// backend (crates/udf/src/validation.rs).
		out.fail(notFoundError(fp))
		return out
	}
	if kind != 0 && f.kind != kind {
		out.fail(sysErrorf("Trying to execute %s as %s, but it is defined as %s.", fp.canonical(), kind, f.kind))
		return out
	}
	if o.argsErr != nil {
		out.fail(o.argsErr)
		return out
	}
	snap := o.snap
	if snap == nil {
		snap = s.store.current()
	}
	if f.args != nil && f.args.kind != vAny {
		if verr := f.args.check(args, viewTables(snap)); verr != nil {
			out.fail(sysErrorf("ArgumentValidationError: %s", verr.Error()))
			return out
		}
	}
	args = cloneValue(args).(map[string]any)
	switch f.kind {
	case KindQuery:
		return s.execQuery(ctx, f, args, ident, snap, o.journal)
	case KindMutation:
		return s.execMutation(ctx, f, args, ident, o.idem, o.except)
	default:
		return s.execAction(ctx, f, args, ident)
	}
}

func (s *Server) execQuery(ctx context.Context, f *function, args map[string]any, ident *Identity, snap *snapshot, journal *string) (out outcome) {
	logs := &logBuf{}
	qc := &QueryCtx{ctx: ctx, ident: ident, view: snap, reads: map[string]bool{}, logs: logs, prevJournal: journal}
	s.bump(func(st *Stats) { st.QueryExecutions++ })
	v, err := runGuarded(func() (any, error) { return f.query(qc, args) })
	out.reads = qc.reads
	out.ts = snap.ts
	out.journal = qc.nextJournal
	s.finish(&out, f, v, err, logs, viewTables(snap))
	return out
}

func (s *Server) execMutation(ctx context.Context, f *function, args map[string]any, ident *Identity, key *idemKey, except *syncConn) (out outcome) {
	s.mutMu.Lock()
	defer s.mutMu.Unlock()
	if key != nil {
		if rec, ok := s.idem[*key]; ok {
			s.bump(func(st *Stats) { st.MutationReplays++ })
			return outcome{value: rec.value, ts: rec.ts, logLines: slices.Clone(rec.logLines), replayed: true}
		}
	}
	logs := &logBuf{}
	x := &tx{base: s.store.current(), st: s.store, now: s.now}
	mc := &MutationCtx{QueryCtx: QueryCtx{ctx: ctx, ident: ident, view: x, logs: logs}, tx: x}
	s.bump(func(st *Stats) { st.MutationsRun++ })
	v, err := runGuarded(func() (any, error) { return f.mutation(mc, args) })
	s.finish(&out, f, v, err, logs, viewTables(x))
	if out.err != nil {
		return out
	}
	out.ts = s.store.commit(x, s.now())
	if key != nil {
		s.idem[*key] = idemRecord{value: out.value, ts: out.ts, logLines: slices.Clone(out.logLines)}
	}
	s.bump(func(st *Stats) { st.MutationsCommitted++ })
	s.wakeAll(except)
	return out
}

func (s *Server) execAction(ctx context.Context, f *function, args map[string]any, ident *Identity) (out outcome) {
	logs := &logBuf{}
	ac := &ActionCtx{ctx: ctx, ident: ident, s: s, logs: logs}
	s.bump(func(st *Stats) { st.ActionsRun++ })
	v, err := runGuarded(func() (any, error) { return f.action(ac, args) })
	s.finish(&out, f, v, err, logs, viewTables(s.store.current()))
	return out
}

// finish encodes a function's return value into out and checks it against
// the function's returns validator.
func (s *Server) finish(out *outcome, f *function, v any, err error, logs *logBuf, tables tableExists) {
	out.logLines = logs.get()
	if err != nil {
		out.fail(err)
		return
	}
	b, encErr := protocol.EncodeValue(v)
	if encErr != nil {
		out.fail(fmt.Errorf("the function returned a value that is not a Convex value: %w", encErr))
		return
	}
	if f.returns != nil && f.returns.kind != vAny {
		decoded, decErr := protocol.DecodeValue(b)
		if decErr != nil {
			out.fail(fmt.Errorf("the function returned a value that is not a Convex value: %w", decErr))
			return
		}
		if verr := f.returns.check(decoded, tables); verr != nil {
			out.fail(sysErrorf("ReturnsValidationError: %s", verr.Error()))
			return
		}
	}
	out.value = b
}

// runGuarded turns a panic in a function into its error.
func runGuarded(fn func() (any, error)) (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, fmt.Errorf("panic: %v", r)
		}
	}()
	return fn()
}

// idemKey names a mutation for deduplication across reconnects.
type idemKey struct {
	session string
	request protocol.RequestID
}

type idemRecord struct {
	value    []byte
	ts       protocol.Timestamp
	logLines []string
}

func (id *Identity) isAdmin() bool { return id != nil && id.Admin }
