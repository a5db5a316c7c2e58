package serverauth_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/convexgo/convex/betterauth"
	"github.com/convexgo/convex/client"
	"github.com/convexgo/convex/internal/testserver"
	"github.com/convexgo/convex/serverauth"
	"github.com/convexgo/convex/tokenprovider"
)

// fixture is a test deployment whose "retry:*" functions throw
// ConvexError("Unauthenticated") for tokens with the claim stale=true (as
// Better Auth's getAuthUser does for a revoked session) and count their
// runs, with an HTTPClient for it.
type fixture struct {
	keys    *testserver.Keys
	foreign *testserver.Keys // same issuer and audience, a key the deployment does not trust
	srv     *testserver.Server
	h       *client.HTTPClient
	runs    sync.Map // path -> *atomic.Int64
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	keys, err := testserver.GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := testserver.GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{keys: keys, foreign: foreign}
	f.srv = testserver.NewDemo(testserver.WithAuth(keys.AuthConfig()))
	t.Cleanup(f.srv.Close)
	check := func(path string, id *testserver.Identity) (any, error) {
		f.counter(path).Add(1)
		if id == nil || id.Claims["stale"] == true {
			return nil, testserver.ConvexError{Data: betterauth.Unauthenticated}
		}
		return id.Subject, nil
	}
	f.srv.RegisterQuery("retry:query", func(ctx *testserver.QueryCtx, _ map[string]any) (any, error) {
		return check("retry:query", ctx.Identity())
	})
	f.srv.RegisterMutation("retry:mutation", func(ctx *testserver.MutationCtx, _ map[string]any) (any, error) {
		return check("retry:mutation", ctx.Identity())
	})
	f.srv.RegisterAction("retry:action", func(ctx *testserver.ActionCtx, _ map[string]any) (any, error) {
		return check("retry:action", ctx.Identity())
	})
	f.h, err = client.NewHTTPClient(f.srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) counter(path string) *atomic.Int64 {
	c, _ := f.runs.LoadOrStore(path, new(atomic.Int64))
	return c.(*atomic.Int64)
}

func (f *fixture) mint(t testing.TB, k *testserver.Keys, sub string, stale bool) string {
	t.Helper()
	var extra map[string]any
	if stale {
		extra = map[string]any{"stale": true}
	}
	tok, err := k.MintToken(sub, 15*time.Minute, extra)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// sessions is an application's own session store: cookie "sid" names a
// session whose Fetch hands out the next of its queued tokens (the last
// one again when the queue is empty) and counts the fetches.
type sessions struct {
	mu      sync.Mutex
	tokens  map[string][]string // sid -> tokens to hand out
	request map[string]string   // sid -> token the request carries itself
	fetches map[string]int
}

func newSessions() *sessions {
	return &sessions{tokens: map[string][]string{}, request: map[string]string{}, fetches: map[string]int{}}
}

func (s *sessions) add(sid string, tokens ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[sid] = append(s.tokens[sid], tokens...)
}

func (s *sessions) fetched(sid string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fetches[sid]
}

func (s *sessions) session(r *http.Request) serverauth.Session {
	c, err := r.Cookie("sid")
	if err != nil {
		return serverauth.Session{}
	}
	sid := c.Value
	s.mu.Lock()
	defer s.mu.Unlock()
	return serverauth.Session{ID: sid, Token: s.request[sid], Fetch: func(context.Context) (string, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		q := s.tokens[sid]
		if len(q) == 0 {
			return "", errors.New("no token queued")
		}
		s.fetches[sid]++
		tok := q[0]
		if len(q) > 1 {
			s.tokens[sid] = q[1:]
		}
		return tok, nil
	}}
}

// call is the handler's one Convex call: kind is "query", "mutation" or
// "action".
func call(r *http.Request, kind, path string) (*string, error) {
	ctx, c := r.Context(), serverauth.Caller(r.Context())
	switch kind {
	case "query":
		return client.Query[*string](ctx, c, path, nil)
	case "mutation":
		return client.Mutation[*string](ctx, c, path, map[string]any{})
	default:
		return client.Action[*string](ctx, c, path, map[string]any{})
	}
}

// render serves one request with cookie sid (none if empty) through m
// and returns the recorder; the handler makes the call and writes its
// result, or "error: ..." with the error kept in *errp.
func render(t testing.TB, m *serverauth.Middleware, sid, kind, path string, errp *error) *httptest.ResponseRecorder {
	t.Helper()
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := call(r, kind, path)
		if errp != nil {
			*errp = err
		}
		switch {
		case err != nil:
			fmt.Fprintf(w, "error: %v", err)
		case v == nil:
			fmt.Fprint(w, "anonymous")
		default:
			fmt.Fprint(w, *v)
		}
	}))
	req := httptest.NewRequestWithContext(testCtx(t), http.MethodGet, "http://app.test/", nil)
	if sid != "" {
		req.AddCookie(&http.Cookie{Name: "sid", Value: sid})
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func newMiddleware(t testing.TB, f *fixture, s *sessions, edit func(*serverauth.Options)) *serverauth.Middleware {
	t.Helper()
	opts := serverauth.Options{Client: f.h, Session: s.session,
		Cache: tokenprovider.SessionOptions{IsAuthError: betterauth.IsAuthError}}
	if edit != nil {
		edit(&opts)
	}
	m, err := serverauth.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestEachRequestRunsAsItsUser(t *testing.T) {
	f := newFixture(t)
	s := newSessions()
	s.add("s-alice", f.mint(t, f.keys, "alice", false))
	s.add("s-bob", f.mint(t, f.keys, "bob", false))
	m := newMiddleware(t, f, s, nil)

	var wg sync.WaitGroup
	var wrong atomic.Int64
	for i := range 40 {
		wg.Go(func() {
			sid, want := "s-alice", "alice"
			switch i % 3 {
			case 1:
				sid, want = "s-bob", "bob"
			case 2:
				sid, want = "", "anonymous"
			}
			rec := render(t, m, sid, "query", "auth:whoami", nil)
			if rec.Body.String() != want {
				t.Errorf("request %d: page %q, want %q", i, rec.Body.String(), want)
				wrong.Add(1)
			}
			cc := rec.Header().Get("Cache-Control")
			if sid != "" && cc != "private, no-store" || sid == "" && cc != "" {
				t.Errorf("request %d (session %q): Cache-Control %q", i, sid, cc)
			}
		})
	}
	wg.Wait()
	if n := s.fetched("s-alice") + s.fetched("s-bob"); n != 2 {
		t.Errorf("%d token fetches for 2 sessions over 27 signed-in requests, want 2", n)
	}
}

// TestRetryRule checks each case of the retry rule. A "stale" token is
// accepted by the deployment but its functions throw
// ConvexError("Unauthenticated"); a "foreign" one is refused with 401.
func TestRetryRule(t *testing.T) {
	for _, tc := range []struct {
		name       string
		kind       string // query, mutation, action
		first      string // the first token fetched: stale or foreign
		viaRequest bool   // the first token is the request's own (a cookie), not fetched
		primed     bool   // the first token is cached by an earlier request
		wantRetry  bool
		wantRuns   int64 // runs of the function
	}{
		{"query retried on ConvexError Unauthenticated with a cached token", "query", "stale", false, true, true, 2},
		{"mutation not retried on ConvexError Unauthenticated with a cached token", "mutation", "stale", false, true, false, 1},
		{"action not retried on ConvexError Unauthenticated with a cached token", "action", "stale", false, true, false, 1},
		{"mutation retried on 401 with a cached token", "mutation", "foreign", false, true, true, 1},
		{"action retried on 401 with a cached token", "action", "foreign", false, true, true, 1},
		{"query retried on 401 with a cached token", "query", "foreign", false, true, true, 1},
		{"fresh token: query not retried on ConvexError Unauthenticated", "query", "stale", false, false, false, 1},
		{"fresh token: mutation not retried on 401", "mutation", "foreign", false, false, false, 0},
		{"fresh token: query not retried on 401", "query", "foreign", false, false, false, 0},
		{"request's token: query retried on ConvexError Unauthenticated", "query", "stale", true, false, true, 2},
		{"request's token: mutation not retried on ConvexError Unauthenticated", "mutation", "stale", true, false, false, 1},
		{"request's token: mutation retried on 401", "mutation", "foreign", true, false, true, 1},
		{"request's token: action retried on 401", "action", "foreign", true, false, true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			s := newSessions()
			first := f.mint(t, f.keys, "alice", true)
			if tc.first == "foreign" {
				first = f.mint(t, f.foreign, "alice", false)
			}
			good := f.mint(t, f.keys, "alice", false)
			if tc.viaRequest {
				s.request["s1"] = first
				s.add("s1", good)
			} else {
				s.add("s1", first, good)
			}
			m := newMiddleware(t, f, s, nil)
			fetchesBefore := 0
			if tc.primed {
				// An earlier page fetched the first token and cached it
				// (the cache keeps a token whose own call failed).
				render(t, m, "s1", "query", "auth:whoami", nil)
				fetchesBefore = 1
				if got := s.fetched("s1"); got != 1 {
					t.Fatalf("priming fetched %d tokens", got)
				}
			}
			path := "retry:" + tc.kind
			var err error
			rec := render(t, m, "s1", tc.kind, path, &err)
			if fetches := s.fetched("s1") - fetchesBefore; tc.wantRetry != (fetches == 1 && err == nil) {
				t.Errorf("retried=%v (fetches %d, err %v), want retried=%v; page %q", !tc.wantRetry, fetches, err, tc.wantRetry, rec.Body.String())
			}
			if !tc.wantRetry {
				if want := int(map[bool]int{true: 0, false: 1}[tc.primed || tc.viaRequest]); s.fetched("s1")-fetchesBefore != want {
					t.Errorf("fetches %d, want %d", s.fetched("s1")-fetchesBefore, want)
				}
				var fe *client.FunctionError
				var he *client.HTTPError
				if tc.first == "stale" && !errors.As(err, &fe) {
					t.Errorf("err %v (%T), want the *client.FunctionError as it was", err, err)
				}
				if tc.first == "foreign" && (!errors.As(err, &he) || he.StatusCode != 401) {
					t.Errorf("err %v, want the HTTP 401", err)
				}
			} else if rec.Body.String() != "alice" {
				t.Errorf("page %q, want alice", rec.Body.String())
			}
			if got := f.counter(path).Load(); got != tc.wantRuns {
				t.Errorf("%s ran %d times, want %d", path, got, tc.wantRuns)
			}
		})
	}
}

func TestQueryClassifierIsTheApplications(t *testing.T) {
	// With the default classifier (tokenprovider.IsAuthError), a query's
	// ConvexError("Unauthenticated") is an ordinary function error.
	f := newFixture(t)
	s := newSessions()
	s.add("s1", f.mint(t, f.keys, "alice", true), f.mint(t, f.keys, "alice", false))
	m := newMiddleware(t, f, s, func(o *serverauth.Options) { o.Cache.IsAuthError = nil })
	render(t, m, "s1", "query", "auth:whoami", nil)
	var err error
	render(t, m, "s1", "query", "retry:query", &err)
	var fe *client.FunctionError
	if !errors.As(err, &fe) || s.fetched("s1") != 1 {
		t.Fatalf("err %v, fetches %d: want the function error and no refetch", err, s.fetched("s1"))
	}
}

func TestRequireSignIn(t *testing.T) {
	f := newFixture(t)
	s := newSessions()
	s.add("s1", f.mint(t, f.keys, "alice", false))
	m := newMiddleware(t, f, s, func(o *serverauth.Options) { o.RequireSignIn = true })
	if rec := render(t, m, "", "query", "auth:whoami", nil); rec.Code != http.StatusUnauthorized || strings.Contains(rec.Body.String(), "anonymous") {
		t.Fatalf("no session: %d %q, want 401 without running the handler", rec.Code, rec.Body.String())
	}
	if rec := render(t, m, "s1", "query", "auth:whoami", nil); rec.Code != http.StatusOK || rec.Body.String() != "alice" {
		t.Fatalf("signed in: %d %q", rec.Code, rec.Body.String())
	}
}

func TestSignOutClearsTheSessionsToken(t *testing.T) {
	f := newFixture(t)
	s := newSessions()
	s.add("s1", f.mint(t, f.keys, "alice", false))
	store := tokenprovider.NewMemoryStore(nil)
	var ended []string
	m := newMiddleware(t, f, s, func(o *serverauth.Options) {
		o.Cache.Store = store
		o.EndSession = func(w http.ResponseWriter, r *http.Request) error {
			c, _ := r.Cookie("sid")
			ended = append(ended, c.Value)
			http.SetCookie(w, &http.Cookie{Name: "sid", MaxAge: -1, Path: "/"})
			return nil
		}
	})
	if rec := render(t, m, "s1", "query", "auth:whoami", nil); rec.Body.String() != "alice" {
		t.Fatalf("page %q", rec.Body.String())
	}
	key := tokenprovider.SessionKey("s1")
	if _, ok, _ := store.Get(testCtx(t), key); !ok {
		t.Fatal("the token was not cached")
	}
	req := httptest.NewRequestWithContext(testCtx(t), http.MethodPost, "http://app.test/sign-out", nil)
	req.AddCookie(&http.Cookie{Name: "sid", Value: "s1"})
	rec := httptest.NewRecorder()
	m.SignOutHandler(nil).ServeHTTP(rec, req)
	if rec.Code != http.StatusNoContent || rec.Header().Get("Cache-Control") != "private, no-store" {
		t.Fatalf("sign-out: %d, Cache-Control %q", rec.Code, rec.Header().Get("Cache-Control"))
	}
	if len(ended) != 1 || ended[0] != "s1" || !strings.Contains(rec.Header().Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("EndSession calls %v, Set-Cookie %q", ended, rec.Header().Get("Set-Cookie"))
	}
	if _, ok, _ := store.Get(testCtx(t), key); ok {
		t.Fatal("the session's token is still in the store")
	}
	// GET is refused, and so is a cross-origin POST.
	get := httptest.NewRecorder()
	m.SignOutHandler(nil).ServeHTTP(get, httptest.NewRequest(http.MethodGet, "http://app.test/sign-out", nil))
	cross := httptest.NewRequest(http.MethodPost, "http://app.test/sign-out", nil)
	cross.Header.Set("Sec-Fetch-Site", "cross-site")
	xrec := httptest.NewRecorder()
	m.SignOutHandler(nil).ServeHTTP(xrec, cross)
	if get.Code != http.StatusMethodNotAllowed || xrec.Code != http.StatusForbidden || len(ended) != 1 {
		t.Fatalf("GET %d, cross-site POST %d, EndSession calls %d", get.Code, xrec.Code, len(ended))
	}
}

func TestCallerOutsideTheMiddleware(t *testing.T) {
	_, err := client.Query[any](context.Background(), serverauth.Caller(context.Background()), "auth:whoami", nil)
	if !errors.Is(err, serverauth.ErrNoCaller) {
		t.Fatalf("err %v, want ErrNoCaller", err)
	}
	if _, ok := serverauth.FromContext(context.Background()); ok {
		t.Fatal("FromContext found a caller")
	}
}

func TestNewChecksOptions(t *testing.T) {
	f := newFixture(t)
	for name, o := range map[string]serverauth.Options{
		"no client":   {Session: newSessions().session},
		"no sessions": {Client: f.h},
		"both":        {Client: f.h, Session: newSessions().session, BetterAuth: &betterauth.Options{SiteURL: "https://x.test"}},
		"EndSession with BetterAuth": {Client: f.h, BetterAuth: &betterauth.Options{SiteURL: "https://x.test"},
			EndSession: func(http.ResponseWriter, *http.Request) error { return nil }},
		"bad site URL": {Client: f.h, BetterAuth: &betterauth.Options{SiteURL: "ftp://x"}},
	} {
		if _, err := serverauth.New(o); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
