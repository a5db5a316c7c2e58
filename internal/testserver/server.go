package testserver

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/convexgo/convex/protocol"
)

// Defaults of the options.
const (
	// DefaultPingInterval is how long a socket may stay silent before the
	// server sends {"type":"Ping"}, as the real backend does.
	DefaultPingInterval = 15 * time.Second
	// DefaultTransitionChunkSize is the size above which a Transition is
	// split into TransitionChunk messages for clients that support them.
	DefaultTransitionChunkSize = 5_000_000
)

// Option configures a Server.
type Option func(*config)

type config struct {
	now           func() time.Time
	pingInterval  time.Duration
	chunkSize     int
	forceChunking bool
	auth          *AuthConfig
	logger        *slog.Logger
	receivedLimit int // < 0: keep every received message
	adminKey      string
	noDeflate     bool
}

// WithNow sets the server's clock. It is used for commit timestamps,
// _creationTime, token validation and identity expiry, so tests can move
// time forward. The default is time.Now.
func WithNow(now func() time.Time) Option {
	return func(c *config) { c.now = now }
}

// WithPingInterval sets how long a socket may go without an outgoing
// message before the server sends a Ping (default 15 s). Zero or a
// negative value turns pings off.
func WithPingInterval(d time.Duration) Option {
	return func(c *config) { c.pingInterval = d }
}

// WithTransitionChunkSize sets the largest Transition, in bytes of JSON,
// sent as one message to a client that supports TransitionChunk (default
// 5,000,000). Larger ones are split into pieces of at most n bytes.
func WithTransitionChunkSize(n int) Option {
	return func(c *config) { c.chunkSize = n }
}

// WithForceChunking makes the server split large Transitions for every
// client, not only for npm clients at version 1.28.0 or later.
func WithForceChunking(on bool) Option {
	return func(c *config) { c.forceChunking = on }
}

// WithAuth configures the custom-JWT auth provider that validates user
// tokens. Without it every user token is rejected.
func WithAuth(cfg AuthConfig) Option {
	return func(c *config) { c.auth = &cfg }
}

// WithReceivedLimit keeps only the n most recent client messages for
// Received and ReceivedOn (n <= 0 keeps none), so that a long-running
// server does not grow without bound. By default every message is kept.
func WithReceivedLimit(n int) Option {
	return func(c *config) { c.receivedLimit = max(n, 0) }
}

// WithPermessageDeflate sets whether sync sockets negotiate
// permessage-deflate (RFC 7692). On, the default, the server accepts the
// offers the real backend accepts, "permessage-deflate" and
// "permessage-deflate; client_max_window_bits", answers with the bare
// "permessage-deflate" (context takeover on both sides) and compresses
// what it sends; every other offer is declined (see deflate.go for the
// backend files this follows). Off, it declines every offer, as a backend
// from before February 2026 does, or a proxy that drops the header.
func WithPermessageDeflate(on bool) Option {
	return func(c *config) { c.noDeflate = !on }
}

// WithLogger sets where the server logs sockets opening and closing and
// protocol errors. The default discards everything.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l }
}

// Server is an in-process Convex deployment: in-memory tables, Go
// functions registered as queries, mutations and actions, the WebSocket
// sync protocol and the HTTP function API. It is safe for concurrent use.
type Server struct {
	cfg      config
	auth     *authProvider
	adminKey string // the deployment's admin key

	ctx    context.Context // ends at Close
	cancel context.CancelFunc

	fnMu      sync.RWMutex
	functions map[string]*function // by canonical path

	mutMu sync.Mutex // serializes mutations; guards idem
	idem  map[idemKey]idemRecord
	store *store

	mu          sync.Mutex // guards the fields below
	conns       map[int]*syncConn
	nextConn    int
	closed      bool
	refuse      bool
	refuseUntil time.Time
	stallCh     chan struct{} // non-nil while outgoing frames are stalled
	wg          sync.WaitGroup

	frameDelay atomic.Int64 // time.Duration applied before every frame

	// keepOpenAfterAuthError, set by KeepOpenAfterAuthError, makes refused
	// tokens and injected AuthErrors leave the socket open (a fault).
	keepOpenAfterAuthError atomic.Bool

	// afterSocketMutation, if set (by tests, before any socket opens), runs
	// on a socket's mutation runner after a mutation and before its
	// response is handed to the socket.
	afterSocketMutation func()

	statsMu  sync.Mutex
	stats    Stats
	statsCh  chan struct{} // closed and replaced on every change
	received []ReceivedMessage
	syncReqs []SyncRequest

	listener  net.Listener
	httpSrv   *http.Server
	serveDone chan struct{}
	closeOnce sync.Once
}

// New starts a Server listening on a random loopback port, like
// httptest.NewServer. It panics if the options are invalid or the port
// cannot be opened. Close it when done.
func New(opts ...Option) *Server {
	s, err := Start("127.0.0.1:0", opts...)
	if err != nil {
		panic("testserver: " + err.Error())
	}
	return s
}

// NewDemo is New with the demo functions registered (see RegisterDemo).
func NewDemo(opts ...Option) *Server {
	s := New(opts...)
	RegisterDemo(s)
	return s
}

// Start starts a Server listening on addr (for example "127.0.0.1:3210"),
// for programs that need a fixed address.
func Start(addr string, opts ...Option) (*Server, error) {
	s, err := newServer(opts)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		s.cancel()
		return nil, err
	}
	s.listener = l
	s.httpSrv = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	s.serveDone = make(chan struct{})
	go func() {
		defer close(s.serveDone)
		_ = s.httpSrv.Serve(l)
	}()
	return s, nil
}

func newServer(opts []Option) (*Server, error) {
	cfg := config{now: time.Now, pingInterval: DefaultPingInterval, chunkSize: DefaultTransitionChunkSize, receivedLimit: -1}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.now == nil {
		cfg.now = time.Now
	}
	if cfg.chunkSize <= 0 {
		return nil, fmt.Errorf("transition chunk size must be positive, not %d", cfg.chunkSize)
	}
	if cfg.logger == nil {
		cfg.logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg:       cfg,
		functions: map[string]*function{},
		idem:      map[idemKey]idemRecord{},
		conns:     map[int]*syncConn{},
		statsCh:   make(chan struct{}),
	}
	if cfg.auth != nil {
		p, err := newAuthProvider(*cfg.auth)
		if err != nil {
			return nil, err
		}
		s.auth = p
	}
	s.registerSystemFunctions()
	s.adminKey = cfg.adminKey
	if s.adminKey == "" {
		s.adminKey = newAdminKey()
	}
	s.store = newStore(protocol.Timestamp(max(cfg.now().UnixNano(), 1)))
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

func (s *Server) now() time.Time { return s.cfg.now() }

// URL returns the deployment URL, http://host:port.
func (s *Server) URL() string {
	if s.listener == nil {
		return ""
	}
	addr := s.listener.Addr().(*net.TCPAddr)
	host := addr.IP
	if host.IsUnspecified() {
		host = net.IPv4(127, 0, 0, 1)
	}
	return "http://" + net.JoinHostPort(host.String(), fmt.Sprint(addr.Port))
}

// Handler returns the server's HTTP handler: the sync endpoints
// (GET /api/sync and GET /api/<version>/sync) and the HTTP function API.
// It can be mounted in another http.Server; Close still ends its sockets.
func (s *Server) Handler() http.Handler { return handler{s} }

type handler struct{ s *Server }

func (h handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.s.serveHTTP(w, r) }

// Close stops the server: it stops listening, drops every socket, cancels
// running actions' contexts and waits until every goroutine the server
// started has returned. It is safe to call more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		conns := make([]*syncConn, 0, len(s.conns))
		for _, c := range s.conns {
			conns = append(conns, c)
		}
		if s.stallCh != nil {
			close(s.stallCh)
			s.stallCh = nil
		}
		s.mu.Unlock()
		s.cancel()
		if s.httpSrv != nil {
			_ = s.httpSrv.Close()
		}
		for _, c := range conns {
			c.abort()
		}
		s.wg.Wait()
		if s.serveDone != nil {
			<-s.serveDone
		}
	})
}

// enter registers an HTTP request in flight; it fails once Close began.
func (s *Server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	return true
}

// requestCtx derives a context from parent that also ends at Close.
func (s *Server) requestCtx(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	stop := context.AfterFunc(s.ctx, cancel)
	return ctx, func() { stop(); cancel() }
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.enter() {
		writeHTTPError(w, http.StatusServiceUnavailable, "ServerClosed", "the deployment is shutting down")
		return
	}
	defer s.wg.Done()
	p := r.URL.Path
	if r.Method == http.MethodGet {
		if p == "/api/sync" {
			s.serveSync(w, r, "")
			return
		}
		if v, ok := syncPathVersion(p); ok {
			s.serveSync(w, r, v)
			return
		}
	}
	w.Header().Set("Access-Control-Allow-Origin", "*")
	if r.Method == http.MethodOptions {
		w.Header().Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
		w.Header().Set("Access-Control-Allow-Headers", "Content-Type, Authorization, Convex-Client")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	s.bump(func(st *Stats) { st.HTTPRequests++ })
	ci, err := identifyClient(r, "")
	if err != nil {
		writeHTTPError(w, http.StatusBadRequest, "InvalidClientVersion", err.Error())
		return
	}
	if !checkClient(w, ci) {
		return
	}
	switch {
	case p == protocol.PathQuery && (r.Method == http.MethodPost || r.Method == http.MethodGet):
		s.serveFunction(w, r, KindQuery)
	case p == protocol.PathMutation && r.Method == http.MethodPost:
		s.serveFunction(w, r, KindMutation)
	case p == protocol.PathAction && r.Method == http.MethodPost:
		s.serveFunction(w, r, KindAction)
	case p == protocol.PathFunction && r.Method == http.MethodPost:
		s.serveFunction(w, r, 0)
	case strings.HasPrefix(p, protocol.PathRun) && r.Method == http.MethodPost:
		s.serveRun(w, r)
	case p == "/api/query_ts" && r.Method == http.MethodPost:
		writeJSON(w, http.StatusOK, map[string]string{"ts": protocol.EncodeU64(uint64(s.store.current().ts))})
	case p == "/api/query_at_ts" && r.Method == http.MethodPost:
		s.serveQueryAtTS(w, r)
	default:
		writeHTTPError(w, http.StatusNotFound, "NotFound", fmt.Sprintf("no route for %s %s", r.Method, p))
	}
}

// syncPathVersion matches /api/<version>/sync.
func syncPathVersion(p string) (string, bool) {
	rest, ok := strings.CutPrefix(p, "/api/")
	if !ok {
		return "", false
	}
	v, ok := strings.CutSuffix(rest, "/sync")
	if !ok || v == "" || strings.Contains(v, "/") {
		return "", false
	}
	return v, true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"code":"InternalServerError","message":"cannot encode the response"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeHTTPError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, protocol.HTTPErrorBody{Code: code, Message: msg})
}

// wakeAll tells every socket except one that the database changed.
func (s *Server) wakeAll(except *syncConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		if c != except {
			select {
			case c.wake <- struct{}{}:
			default:
			}
		}
	}
}

// Stats is a snapshot of the server's counters.
type Stats struct {
	// SocketsOpened counts sync sockets accepted since the server started.
	SocketsOpened int
	// SocketsOpen is the number of sync sockets open now.
	SocketsOpen int
	// SocketsCompressed counts the sockets of SocketsOpened that
	// negotiated permessage-deflate.
	SocketsCompressed int
	// MessagesReceived counts client frames received on all sockets.
	MessagesReceived int
	// Adds counts the Add modifications received.
	Adds int
	// Removes counts the Remove modifications received.
	Removes int
	// LiveQueries is the number of queries subscribed now, over all
	// sockets.
	LiveQueries int
	// QueryExecutions counts runs of query functions, from any caller.
	QueryExecutions int
	// MutationsRun counts runs of mutation functions, successful or not;
	// replays answered from the idempotency record are not runs.
	MutationsRun int
	// MutationsCommitted counts successful mutations.
	MutationsCommitted int
	// MutationReplays counts re-sent mutations answered from the
	// idempotency record without running.
	MutationReplays int
	// ActionsRun counts runs of action functions.
	ActionsRun int
	// TransitionsSent counts Transitions sent (a chunked one counts once).
	TransitionsSent int
	// TokensValidated counts token validations; it is TokensAccepted plus
	// TokensRejected.
	TokensValidated int
	// TokensAccepted counts tokens that passed validation.
	TokensAccepted int
	// TokensRejected counts tokens that failed validation.
	TokensRejected int
	// HTTPRequests counts requests to the HTTP API (not sync upgrades).
	HTTPRequests int
}

// bump changes the counters and wakes WaitFor callers.
func (s *Server) bump(f func(*Stats)) {
	s.statsMu.Lock()
	f(&s.stats)
	close(s.statsCh)
	s.statsCh = make(chan struct{})
	s.statsMu.Unlock()
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	return s.stats
}

// WaitFor blocks until cond holds for the counters or ctx ends. cond is
// called with a snapshot after every change of the counters (and once at
// the start); it must not call back into the Server.
func (s *Server) WaitFor(ctx context.Context, cond func(Stats) bool) error {
	for {
		s.statsMu.Lock()
		st, ch := s.stats, s.statsCh
		s.statsMu.Unlock()
		if cond(st) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("testserver: condition not met (last stats %+v): %w", st, ctx.Err())
		}
	}
}

// ReceivedMessage is one frame a client sent on a sync socket.
type ReceivedMessage struct {
	// Conn is the socket's number: 0 for the first socket the server
	// accepted, then 1, 2, ...
	Conn int
	// Msg is the decoded message, or nil if the frame was not a valid
	// client message.
	Msg protocol.ClientMessage
	// Raw is the frame's text.
	Raw []byte
	// Err says why the frame could not be decoded.
	Err error
}

func (s *Server) record(m ReceivedMessage) {
	s.statsMu.Lock()
	if limit := s.cfg.receivedLimit; limit < 0 {
		s.received = append(s.received, m)
	} else if limit > 0 {
		if len(s.received) >= limit {
			n := copy(s.received, s.received[len(s.received)-limit+1:])
			clear(s.received[n:])
			s.received = s.received[:n]
		}
		s.received = append(s.received, m)
	}
	s.stats.MessagesReceived++
	close(s.statsCh)
	s.statsCh = make(chan struct{})
	s.statsMu.Unlock()
}

// SyncRequest is one request for a sync socket, as the server saw it.
type SyncRequest struct {
	Path   string // the request path, such as "/api/sync"
	Client string // the Convex-Client header, "" when absent
	// Extensions is the Sec-WebSocket-Extensions offer, its values joined
	// with ", "; "" when absent.
	Extensions string
}

func (s *Server) recordSyncRequest(r SyncRequest) {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	if len(s.syncReqs) < 10000 { // bounded: tests look at the first ones
		s.syncReqs = append(s.syncReqs, r)
	}
}

// SyncPaths returns the first 10,000 requests for a sync socket the server
// received (upgraded or not), in order.
func (s *Server) SyncPaths() []SyncRequest {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	return append([]SyncRequest(nil), s.syncReqs...)
}

// Received returns every frame received on sync sockets so far (or the
// most recent ones, see WithReceivedLimit), in the order they arrived.
func (s *Server) Received() []ReceivedMessage {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	return append([]ReceivedMessage(nil), s.received...)
}

// ReceivedOn returns the decoded messages received on one socket, in order.
func (s *Server) ReceivedOn(conn int) []protocol.ClientMessage {
	var out []protocol.ClientMessage
	for _, m := range s.Received() {
		if m.Conn == conn && m.Msg != nil {
			out = append(out, m.Msg)
		}
	}
	return out
}
