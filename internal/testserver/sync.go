package testserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/coder/websocket"

	"github.com/convexgo/convex/protocol"
)

// maxClientFrame is the largest client frame the backend reads: its
// WebSocket library's default max_frame_size, 16 MiB (a larger frame is a
// read error, which closes the socket with 1011 InternalServerError).
const maxClientFrame = 16 << 20

// maxQueuedMutations is how many mutations one socket may have waiting
// (OPERATION_QUEUE_BUFFER_SIZE in crates/sync/src/worker.rs).
const maxQueuedMutations = 1000

func (s *Server) serveSync(w http.ResponseWriter, r *http.Request, pathVersion string) {
	s.recordSyncRequest(SyncRequest{Path: r.URL.Path, Client: r.Header.Get("Convex-Client"),
		Extensions: strings.Join(r.Header.Values("Sec-WebSocket-Extensions"), ", ")})
	ci, err := identifyClient(r, pathVersion)
	if err != nil {
		writeHTTPError(w, http.StatusBadRequest, "InvalidClientVersion", err.Error())
		return
	}
	if !checkClient(w, ci) {
		return
	}
	if s.refusing() {
		writeHTTPError(w, http.StatusServiceUnavailable, "ServiceUnavailable", "the deployment is refusing connections")
		return
	}
	ws, deflate, err := s.acceptSync(w, r)
	if err != nil {
		return // Accept has answered the request
	}
	// The read limit is one byte more than the backend's, so that readLoop
	// sees an oversized frame and closes the socket as the backend does.
	ws.SetReadLimit(maxClientFrame + 1)
	c := &syncConn{
		s:         s,
		ws:        ws,
		client:    ci,
		deflate:   deflate,
		chunking:  s.cfg.forceChunking || ci.supportsChunks(),
		events:    make(chan func()),
		wake:      make(chan struct{}, 1),
		mutations: make(chan mutationJob, maxQueuedMutations),
		outNotify: make(chan struct{}, 1),
		queries:   map[protocol.QueryID]*liveQuery{},
		added:     map[protocol.QueryID]bool{},
		removed:   map[protocol.QueryID]bool{},
	}
	c.ctx, c.cancel = context.WithCancel(s.ctx)
	if !s.addConn(c) {
		c.cancel()
		_ = ws.CloseNow()
		return
	}
	s.cfg.logger.Info("sync socket opened", "conn", c.id, "client", ci.name, "path", r.URL.Path)
	c.run()
	s.removeConn(c)
	s.cfg.logger.Info("sync socket closed", "conn", c.id)
}

func (s *Server) addConn(c *syncConn) bool {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false
	}
	c.id = s.nextConn
	s.nextConn++
	s.conns[c.id] = c
	s.mu.Unlock()
	s.bump(func(st *Stats) {
		st.SocketsOpened++
		st.SocketsOpen++
		if c.deflate {
			st.SocketsCompressed++
		}
	})
	return true
}

func (s *Server) removeConn(c *syncConn) {
	s.mu.Lock()
	delete(s.conns, c.id)
	s.mu.Unlock()
	s.bump(func(st *Stats) { st.SocketsOpen-- })
}

// syncConn is one sync socket. Goroutines: a reader that decodes frames, an
// owner that holds all protocol state and handles every event in order, a
// writer that sends frames one at a time (pings, delays and stalls happen
// there), a mutation runner that runs the socket's mutations in order, and
// one goroutine per running action. All of them end when ctx ends.
type syncConn struct {
	s        *Server
	id       int
	ws       *websocket.Conn
	client   clientInfo
	deflate  bool // permessage-deflate was negotiated
	chunking bool

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	events    chan func() // run on the owner goroutine
	wake      chan struct{}
	mutations chan mutationJob
	dead      atomic.Bool // set once the owner decided to close

	outMu     sync.Mutex
	out       []outFrame
	outNotify chan struct{}
	delay     atomic.Int64 // per-socket frame delay; 0 means the server's

	// Owner state; only the owner goroutine touches it.
	sessionID       string
	clockSkew       *int64
	qsVersion       protocol.QuerySetVersion // last ModifyQuerySet newVersion
	idVersion       protocol.IdentityVersion // accepted Authenticate count
	identity        *Identity
	queries         map[protocol.QueryID]*liveQuery
	added           map[protocol.QueryID]bool
	removed         map[protocol.QueryID]bool
	identityChanged bool
	needTransition  bool
	gap             bool
	sent            protocol.StateVersion // endVersion of the last Transition
	// snap is the snapshot the socket's results are synced to. It moves to
	// the latest one only when advance is set: on a wake (someone else
	// committed) or when one of the socket's own requests completed. So the
	// effects of the socket's own mutation appear after its response.
	snap    *snapshot
	advance bool
	closing bool
}

// liveQuery is one query of a socket's query set.
type liveQuery struct {
	path    string
	args    map[string]any
	argsErr error
	journal *string // the journal of the last run (from the Add at first)
	reads   map[string]bool
	sent    bool
	last    queryResult
}

type queryResult struct {
	ok       bool
	value    []byte
	errMsg   string
	errCore  string // errMsg without the request id, which changes every run
	errData  []byte
	logLines []string
	journal  *string
}

// equal compares results as the backend's deduplication hash does: the
// request id of an error does not count.
func (a queryResult) equal(b queryResult) bool {
	return a.ok == b.ok && bytes.Equal(a.value, b.value) && a.errCore == b.errCore &&
		bytes.Equal(a.errData, b.errData) && (a.errData == nil) == (b.errData == nil) &&
		slices.Equal(a.logLines, b.logLines) && (a.journal == nil) == (b.journal == nil) &&
		(a.journal == nil || *a.journal == *b.journal)
}

type mutationJob struct {
	request   protocol.RequestID
	requestID string // for error messages; "" for a random one
	path      string
	args      []byte
	ident     *Identity
	key       *idemKey
}

type outFrame struct {
	data      []byte
	close     bool
	closeCode websocket.StatusCode
	reason    string
}

func (c *syncConn) run() {
	c.wg.Add(4)
	go c.readLoop()
	go c.ownerLoop()
	go c.writeLoop()
	go c.mutationLoop()
	c.wg.Wait()
	_ = c.ws.CloseNow()
}

// abort closes the socket at once, without a close frame.
func (c *syncConn) abort() {
	c.dead.Store(true)
	_ = c.ws.CloseNow()
	c.cancel()
}

// post runs f on the owner goroutine; it reports false if the socket ended.
func (c *syncConn) post(f func()) bool {
	select {
	case c.events <- f:
		return true
	case <-c.ctx.Done():
		return false
	}
}

func (c *syncConn) readLoop() {
	defer c.wg.Done()
	defer c.cancel()
	for {
		typ, r, err := c.ws.Reader(c.ctx)
		if err != nil {
			return
		}
		data, err := io.ReadAll(io.LimitReader(r, maxClientFrame+1))
		if err != nil {
			return
		}
		if len(data) > maxClientFrame || typ != websocket.MessageText {
			// The backend's WebSocket reader fails on a frame over 16 MiB,
			// and its sync handler on a non-text message ("Unexpected
			// message type"): errors without metadata, so the socket is
			// closed with 1011 InternalServerError and no FatalError.
			detail := "binary frames are not supported"
			if len(data) > maxClientFrame {
				detail = fmt.Sprintf("client frame larger than %d bytes", maxClientFrame)
				data = data[:0]
			}
			c.s.record(ReceivedMessage{Conn: c.id, Raw: data, Err: errors.New(detail)})
			if c.post(func() { c.internalError(detail) }) {
				<-c.ctx.Done() // the writer ends it after the close frame
			}
			return
		}
		msg, derr := protocol.DecodeClientMessage(data)
		if derr != nil {
			derr = invalidMessage(data, derr)
		}
		c.s.record(ReceivedMessage{Conn: c.id, Msg: msg, Raw: data, Err: derr})
		if !c.post(func() { c.handle(msg, derr) }) {
			return
		}
	}
}

func (c *syncConn) ownerLoop() {
	defer c.wg.Done()
	defer func() {
		n := len(c.queries)
		if n > 0 {
			c.s.bump(func(st *Stats) { st.LiveQueries -= n })
		}
	}()
	for {
		select {
		case <-c.ctx.Done():
			return
		case f := <-c.events:
			f() // handlers check c.closing themselves
		case <-c.wake:
			c.advance = true
		}
		if !c.closing {
			c.flush()
		}
	}
}

func (c *syncConn) mutationLoop() {
	defer c.wg.Done()
	for {
		select {
		case <-c.ctx.Done():
			return
		case job := <-c.mutations:
			if c.dead.Load() {
				continue
			}
			if c.s.expired(job.ident) {
				c.post(c.tokenExpired)
				continue
			}
			out := c.runRequest(KindMutation, job)
			if hook := c.s.afterSocketMutation; hook != nil {
				hook()
			}
			resp := &protocol.MutationResponse{RequestID: job.request, Success: out.err == nil,
				Result: out.value, ErrorMessage: out.errMsg, ErrorData: out.errData, TS: out.ts, LogLines: out.logLines}
			c.post(func() {
				c.send(resp)
				c.needTransition, c.advance = true, true
			})
		}
	}
}

func (c *syncConn) runRequest(kind FunctionKind, job mutationJob) outcome {
	args, argsErr := decodeArgs(job.path, job.args)
	return c.s.call(c.ctx, kind, job.path, args, job.ident,
		callOpts{idem: job.key, except: c, requestID: job.requestID, argsErr: argsErr})
}

// decodeArgs decodes a message's args object. A failure is the backend's
// message for arguments it cannot read: "Invalid arguments provided" when
// there are none, "Invalid arguments for <module>.js:<function>: ..." when
// they are not Convex values.
func decodeArgs(path string, raw []byte) (map[string]any, error) {
	if string(raw) == "null" {
		return nil, invalidArgumentsError
	}
	v, err := protocol.DecodeValue(raw)
	args, ok := v.(map[string]any)
	if err == nil && !ok {
		err = errors.New("arguments must be an object")
	}
	if err != nil {
		fp, _ := parseFunctionPath(path) // checked when the message arrived
		return nil, sysErrorf("Invalid arguments for %s: %v", fp.canonical(), err)
	}
	return args, nil
}

// handle processes one client frame on the owner goroutine.
func (c *syncConn) handle(msg protocol.ClientMessage, derr error) {
	if c.closing {
		return
	}
	if derr != nil {
		c.fatal("Received Invalid JSON on websocket: " + derr.Error())
		return
	}
	if err := checkMessagePaths(msg); err != nil {
		c.fatal("Received Invalid JSON on websocket: " + err.Error())
		return
	}
	switch m := msg.(type) {
	case *protocol.Connect:
		c.onConnect(m)
	case *protocol.ModifyQuerySet:
		c.onModifyQuerySet(m)
	case *protocol.Authenticate:
		c.onAuthenticate(m)
	case *protocol.Mutation:
		c.onRequest(KindMutation, m.RequestID, m.UDFPath, m.Args, m.ComponentPath)
	case *protocol.Action:
		c.onRequest(KindAction, m.RequestID, m.UDFPath, m.Args, m.ComponentPath)
	case *protocol.Event:
		// Telemetry: recorded, otherwise ignored.
	}
}

func validUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

func (c *syncConn) onConnect(m *protocol.Connect) {
	if !validUUID(m.SessionID) {
		c.fatal(fmt.Sprintf("Received Invalid JSON on websocket: sessionId %q is not a UUID", m.SessionID))
		return
	}
	if m.MaxObservedTimestamp != nil && *m.MaxObservedTimestamp > c.s.store.current().ts {
		c.internalError(fmt.Sprintf("client has observed timestamp %d, newer than the deployment's latest", *m.MaxObservedTimestamp))
		return
	}
	c.sessionID = m.SessionID
	if m.ClientTS != 0 {
		skew := m.ClientTS - c.s.now().UnixMilli()
		c.clockSkew = &skew
	}
}

func (c *syncConn) onModifyQuerySet(m *protocol.ModifyQuerySet) {
	if m.BaseVersion != c.qsVersion {
		// A BadRequest BaseVersionMismatch (crates/sync/src/state.rs); the
		// FatalError carries its message, not its short code.
		c.fatal(fmt.Sprintf("Base version %d passed up doesn't match the current version %d", m.BaseVersion, c.qsVersion))
		return
	}
	if m.NewVersion <= m.BaseVersion {
		c.internalError(fmt.Sprintf("ModifyQuerySet newVersion %d is not greater than baseVersion %d", m.NewVersion, m.BaseVersion))
		return
	}
	for _, mod := range m.Modifications {
		switch mod.Type {
		case protocol.TypeAdd:
			c.s.bump(func(st *Stats) { st.Adds++ })
			if _, dup := c.queries[mod.QueryID]; dup {
				c.internalError(fmt.Sprintf("query id %d is already in the query set", mod.QueryID))
				return
			}
			if mod.ComponentPath != "" {
				c.internalError("only admins may run functions in components")
				return
			}
			q := &liveQuery{path: mod.UDFPath, journal: mod.Journal}
			q.args, q.argsErr = decodeArgs(mod.UDFPath, mod.Args)
			c.queries[mod.QueryID] = q
			c.added[mod.QueryID] = true
			c.s.bump(func(st *Stats) { st.LiveQueries++ })
		case protocol.TypeRemove:
			c.s.bump(func(st *Stats) { st.Removes++ })
			if _, ok := c.queries[mod.QueryID]; !ok {
				c.internalError(fmt.Sprintf("query id %d is not in the query set", mod.QueryID))
				return
			}
			delete(c.queries, mod.QueryID)
			delete(c.added, mod.QueryID)
			c.removed[mod.QueryID] = true
			c.s.bump(func(st *Stats) { st.LiveQueries-- })
		}
	}
	c.qsVersion = m.NewVersion
	c.needTransition = true
}

func (c *syncConn) onAuthenticate(m *protocol.Authenticate) {
	if m.BaseVersion != c.idVersion {
		c.internalError(fmt.Sprintf("Authenticate baseVersion %d, but %d were accepted", m.BaseVersion, c.idVersion))
		return
	}
	switch m.TokenType {
	case protocol.TokenTypeNone:
		c.identity = nil
	case protocol.TokenTypeUser:
		ident, err := c.s.ValidateToken(m.Value)
		if err != nil {
			c.authError(err.Error(), true)
			return
		}
		c.identity = ident
	case protocol.TokenTypeAdmin:
		ident, err := c.s.adminIdentity(m.Value, m.Impersonating)
		if err != nil {
			c.authError(err.Error(), true)
			return
		}
		c.identity = ident
	default:
		c.fatal(fmt.Sprintf("Received Invalid JSON on websocket: unknown tokenType %q", m.TokenType))
		return
	}
	c.idVersion++
	c.identityChanged = true
	c.needTransition = true
}

func (c *syncConn) onRequest(kind FunctionKind, req protocol.RequestID, path string, args []byte, component string) {
	if component != "" {
		c.internalError("only admins may run functions in components")
		return
	}
	job := mutationJob{request: req, path: path, args: args, ident: c.identity}
	if c.sessionID != "" {
		job.requestID = wsRequestID(c.sessionID, req)
	}
	if kind == KindAction {
		c.wg.Go(func() {
			if c.s.expired(job.ident) {
				c.post(c.tokenExpired)
				return
			}
			out := c.runRequest(KindAction, job)
			resp := &protocol.ActionResponse{RequestID: req, Success: out.err == nil, Result: out.value,
				ErrorMessage: out.errMsg, ErrorData: out.errData, LogLines: out.logLines}
			c.post(func() {
				c.send(resp)
				c.needTransition, c.advance = true, true
			})
		})
		return
	}
	if c.sessionID != "" {
		job.key = &idemKey{session: c.sessionID, request: req}
	}
	select {
	case c.mutations <- job:
	default:
		// worker.rs: a RateLimited error, which fails the connection: close
		// 1013 with its short code, and no FatalError.
		c.s.cfg.logger.Info("sync rate limited", "conn", c.id, "error",
			fmt.Sprintf("Too many concurrent mutations. Only up to %d pending mutations allowed on a single websocket.", maxQueuedMutations))
		c.closeWith(websocket.StatusTryAgainLater, "TooManyConcurrentMutations")
	}
}

// expired reports whether an identity's token has expired.
func (s *Server) expired(ident *Identity) bool {
	return ident != nil && !ident.Expiry.IsZero() && !s.now().Before(ident.Expiry)
}

// flush sends a Transition if anything changed for this socket: queries
// added or removed, a new identity, results changed by commits, or a
// request that completed (which always gets one, even if empty).
func (c *syncConn) flush() {
	prev := c.snap
	if prev == nil || c.advance {
		c.snap = c.s.store.current()
		c.advance = false
	}
	snap := c.snap
	toRun := map[protocol.QueryID]bool{}
	for id := range c.added {
		toRun[id] = true
	}
	switch {
	case c.identityChanged:
		for id := range c.queries {
			toRun[id] = true
		}
	case prev != nil && snap.ts > prev.ts:
		changed, complete := c.s.store.changedSince(prev.ts, snap.ts)
		for id, q := range c.queries {
			if !complete || readsAny(q.reads, changed) {
				toRun[id] = true
			}
		}
	}
	if len(toRun) == 0 && len(c.removed) == 0 && !c.needTransition && !c.gap {
		return
	}
	if len(toRun) > 0 && c.s.expired(c.identity) {
		c.tokenExpired()
		return
	}
	mods := []protocol.StateModification{}
	for id := range c.removed {
		if _, live := c.queries[id]; !live {
			mods = append(mods, protocol.StateModification{Type: protocol.TypeQueryRemoved, QueryID: id})
		}
	}
	for id := range toRun {
		q := c.queries[id]
		res, reads := c.runQuery(q, snap)
		q.reads = reads
		if c.added[id] || !q.sent || !res.equal(q.last) {
			q.last, q.sent = res, true
			mods = append(mods, res.modification(id))
		}
	}
	slices.SortFunc(mods, func(a, b protocol.StateModification) int { return int(a.QueryID) - int(b.QueryID) })
	clear(c.added)
	clear(c.removed)
	c.identityChanged = false
	if len(mods) == 0 && !c.needTransition && !c.gap {
		return
	}
	end := protocol.StateVersion{QuerySet: c.qsVersion, Identity: c.idVersion, TS: snap.ts}
	start := c.sent
	if c.gap {
		start.QuerySet += 1000
		c.gap = false
	}
	serverTS := c.s.now().UnixNano()
	t := &protocol.Transition{StartVersion: start, EndVersion: end, Modifications: mods,
		ClientClockSkew: c.clockSkew, ServerTS: &serverTS}
	c.needTransition = false
	c.sent = end
	c.sendTransition(t)
}

func readsAny(reads, changed map[string]bool) bool {
	for t := range reads {
		if changed[t] {
			return true
		}
	}
	return false
}

func (c *syncConn) runQuery(q *liveQuery, snap *snapshot) (queryResult, map[string]bool) {
	out := c.s.call(c.ctx, KindQuery, q.path, q.args, c.identity, callOpts{snap: snap, argsErr: q.argsErr, journal: q.journal})
	if out.err != nil {
		// A failed run leaves the journal as it was.
		return queryResult{errMsg: out.errMsg, errCore: out.errCore, errData: out.errData, logLines: out.logLines,
			journal: q.journal}, out.reads
	}
	q.journal = out.journal
	return queryResult{ok: true, value: out.value, logLines: out.logLines, journal: out.journal}, out.reads
}

func (r queryResult) modification(id protocol.QueryID) protocol.StateModification {
	if r.ok {
		return protocol.StateModification{Type: protocol.TypeQueryUpdated, QueryID: id, Value: r.value, LogLines: r.logLines,
			Journal: r.journal}
	}
	return protocol.StateModification{Type: protocol.TypeQueryFailed, QueryID: id, ErrorMessage: r.errMsg,
		ErrorData: r.errData, LogLines: r.logLines, Journal: r.journal}
}

func (c *syncConn) sendTransition(t *protocol.Transition) {
	data, err := protocol.EncodeServerMessage(t)
	if err != nil {
		c.internalError("cannot encode a Transition: " + err.Error())
		return
	}
	c.s.bump(func(st *Stats) { st.TransitionsSent++ })
	size := c.s.cfg.chunkSize
	if !c.chunking || len(data) <= size {
		c.enqueue(outFrame{data: data})
		return
	}
	pieces := splitUTF8(string(data), size)
	id := strconv.Itoa(len(data))
	for i, p := range pieces {
		b, err := protocol.EncodeServerMessage(&protocol.TransitionChunk{Chunk: p, PartNumber: uint32(i),
			TotalParts: uint32(len(pieces)), TransitionID: id})
		if err != nil {
			c.internalError("cannot encode a TransitionChunk: " + err.Error())
			return
		}
		c.enqueue(outFrame{data: b})
	}
}

// splitUTF8 cuts s into pieces of at most size bytes, never inside a UTF-8
// sequence (a piece holds at least one character even if size is smaller).
func splitUTF8(s string, size int) []string {
	var out []string
	for len(s) > 0 {
		end := min(size, len(s))
		for end < len(s) && end > 0 && !isRuneStart(s[end]) {
			end--
		}
		if end == 0 {
			end = 1
			for end < len(s) && !isRuneStart(s[end]) {
				end++
			}
		}
		out = append(out, s[:end])
		s = s[end:]
	}
	return out
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// send encodes and queues a message.
func (c *syncConn) send(m protocol.ServerMessage) {
	data, err := protocol.EncodeServerMessage(m)
	if err != nil {
		c.internalError("cannot encode a " + m.MessageType() + ": " + err.Error())
		return
	}
	c.enqueue(outFrame{data: data})
}

func (c *syncConn) enqueue(f outFrame) {
	c.outMu.Lock()
	c.out = append(c.out, f)
	c.outMu.Unlock()
	select {
	case c.outNotify <- struct{}{}:
	default:
	}
}

func (c *syncConn) pop() (outFrame, bool) {
	c.outMu.Lock()
	defer c.outMu.Unlock()
	if len(c.out) == 0 {
		return outFrame{}, false
	}
	f := c.out[0]
	c.out[0] = outFrame{}
	c.out = c.out[1:]
	return f, true
}

// closeWith queues a close frame after everything queued so far; the
// socket handles no more client messages.
func (c *syncConn) closeWith(code websocket.StatusCode, reason string) {
	c.closing = true
	c.dead.Store(true)
	c.enqueue(outFrame{close: true, closeCode: code, reason: reason})
}

// fatal sends FatalError and closes with no status code, as the backend
// does for deterministic client errors.
func (c *syncConn) fatal(msg string) {
	c.s.cfg.logger.Info("sync fatal error", "conn", c.id, "error", msg)
	c.send(&protocol.FatalError{Error: msg})
	c.closeWith(websocket.StatusNoStatusRcvd, "")
}

// internalError closes with 1011 InternalServerError and no message.
func (c *syncConn) internalError(detail string) {
	c.s.cfg.logger.Info("sync internal error", "conn", c.id, "error", detail)
	c.closeWith(websocket.StatusInternalError, "InternalServerError")
}

// authError sends AuthError (at the identity of the last Transition) and
// closes with no status code, as the backend does, unless the
// KeepOpenAfterAuthError fault is on.
func (c *syncConn) authError(msg string, attempted bool) {
	c.s.cfg.logger.Info("sync auth error", "conn", c.id, "error", msg, "authUpdateAttempted", attempted)
	c.send(&protocol.AuthError{Error: msg, BaseVersion: c.sent.Identity, AuthUpdateAttempted: attempted})
	if !c.s.keepOpenAfterAuthError.Load() {
		c.closeWith(websocket.StatusNoStatusRcvd, "")
	}
}

// tokenExpired reports an expired identity and always closes: the socket
// cannot do any more work under that identity.
func (c *syncConn) tokenExpired() {
	if !c.closing {
		c.s.cfg.logger.Info("sync auth error", "conn", c.id, "error", "Token expired", "authUpdateAttempted", false)
		c.send(&protocol.AuthError{Error: "Token expired", BaseVersion: c.sent.Identity, AuthUpdateAttempted: false})
		c.closeWith(websocket.StatusNoStatusRcvd, "")
	}
}
