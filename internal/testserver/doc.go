// Package testserver is an in-process Convex deployment for tests, the
// examples and the dev command: in-memory tables, queries, mutations and
// actions written as Go functions, the WebSocket sync protocol and the HTTP
// function API, custom-JWT auth, and hooks for injecting faults.
//
// It is built on package protocol alone and shares no code with the
// client's sync engine, so that it can serve as an independent oracle for
// it.
//
// # Starting a deployment
//
//	s := testserver.NewDemo()  // New plus RegisterDemo
//	defer s.Close()
//	url := s.URL()             // http://127.0.0.1:<port>
//
// Start listens on a fixed address instead. Register functions with
// RegisterQuery, RegisterMutation and RegisterAction (no validators), or
// RegisterQueryV, RegisterMutationV and RegisterActionV with args and
// returns validators built with V, as a Convex app declares them:
//
//	s.RegisterMutationV("counter:increment",
//		V.Object(map[string]*Validator{"name": V.String(), "by": V.Optional(V.Number())}),
//		V.Number(), increment)
//
// Arguments that fail are refused with the backend's
// "ArgumentValidationError: ..." message (Path, Value and Validator
// written as the backend writes them: 1.0 for a number, 1 for an Int64,
// v.float64() for v.number()), results that fail with
// "ReturnsValidationError: ...". A Validator marshals to the ValidatorJSON
// of convex-js. Any spelling of a path (messages, messages:default,
// messages.js, messages.js:default) names the same function; paths are
// parsed with the backend's rules (64 bytes per module component,
// counting the ".js" the backend adds, and per function name).
//
// Function errors reach clients as a development deployment sends them:
// "[Request ID: <16 hex digits>] Server Error\n<error>\n", where the id is
// derived from the session and request ids for a socket's mutations and
// actions, taken from Convex-Request-Id over HTTP, and random otherwise.
//
// # Storage and reactivity
//
// Documents live in tables, in insertion order, with a unique string _id
// and a float64 _creationTime in milliseconds. Queries read through
// QueryCtx (Get, List, Filter), which records the tables they read.
// Mutations run one at a time across the server, see their own writes,
// and commit atomically only when they return no error; each commit gets
// a strictly increasing timestamp (nanoseconds, at least the clock's
// time). A commit re-runs, on every socket, the live queries that read a
// table it wrote (table granularity), and sends each socket one
// Transition with the results that changed; results equal to the last
// ones sent (value and log lines) are left out.
//
// # Sync protocol
//
// GET /api/sync and GET /api/<version>/sync accept WebSockets and follow
// the backend's rules: the Convex-Client header (or the path's version,
// meaning npm) parsed as the backend parses it, with 400
// InvalidClientVersion or ClientVersionUnsupported; per-socket
// StateVersions starting at {0, 0, 0}; FatalError and a close without a
// status code for a message the backend cannot decode (a bad function
// path, a Mutation or Action without args) and for a ModifyQuerySet base
// version mismatch; close 1011 "InternalServerError" on a wrong
// Authenticate base version, a duplicate query id, an unknown removed id,
// a maxObservedTimestamp from the future, a binary frame or a frame over
// 16 MiB; close 1013 "TooManyConcurrentMutations" when a mutation arrives
// with 1000 queued; a Transition after every ModifyQuerySet, Authenticate,
// Mutation and Action, even an empty one, whose ts is at least that of the
// mutation it follows; mutations run in order per socket and are
// deduplicated on (sessionId, requestId); actions run concurrently; an
// expired token is reported with AuthError before work that needs it; a
// Ping after an idle interval; TransitionChunk for large Transitions only
// to npm clients at 1.28.0 or later (a Go client gets one message, as
// from a real deployment), or to everyone with WithForceChunking.
// permessage-deflate is negotiated as the backend negotiates it: the
// offers "permessage-deflate" and "permessage-deflate; client_max_window_bits"
// are accepted with the bare answer "permessage-deflate" (context takeover
// both ways), every other offer is declined, and
// WithPermessageDeflate(false) declines them all; Stats counts the
// compressed sockets and SyncPaths records each offer.
//
// # HTTP API
//
// POST /api/query, /api/mutation, /api/action and /api/function, GET
// /api/query, POST /api/run/<module path>/<function> and POST
// /api/query_ts. Function results are HTTP 200 with
// {"status": "success" | "error", ...}; other failures carry
// {"code", "message"} with a 4xx status: custom-JWT failures are 401
// InvalidAuthHeader (NoAuthProvider when no provider matches the token),
// a bad path 400 BadConvexFunctionIdentifier.
//
// # Auth
//
// WithAuth configures a custom-JWT provider (RS256 or ES256, a static
// JWKS as JSON or a data: URI). GenerateKeys makes a key pair whose
// AuthConfig and MintToken produce a matching configuration and tokens.
// WithNow injects the clock used for expiry.
//
// # Faults and observation
//
// DropAll, DropConn, CloseAll, Refuse, RefuseFor, Stall, Resume, SetFrameDelay,
// SetConnFrameDelay, InjectAuthError, KeepOpenAfterAuthError,
// InjectFatalError, InjectVersionGap, InjectCorruptFrame and InjectMessage
// disturb the sockets. Stats returns
// counters, WaitFor waits for a condition on them, and Received lists
// every client frame. Subscribed queries run on their socket's event
// goroutine, so a query function must not call the Inject methods or
// CloseAll, which wait for that goroutine.
package testserver
