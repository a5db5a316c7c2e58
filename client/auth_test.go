package client

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/convexgo/convex/internal/testserver"
	"github.com/convexgo/convex/tokenprovider"
)

// authDeployment starts a demo deployment that accepts keys' tokens,
// closed when the test ends.
func authDeployment(t *testing.T) (*testserver.Server, *testserver.Keys) {
	t.Helper()
	keys, err := testserver.GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	srv := testserver.NewDemo(testserver.WithAuth(keys.AuthConfig()))
	t.Cleanup(srv.Close)
	return srv, keys
}

// authSetup starts a deployment that accepts keys' tokens, and a client
// with opts.
func authSetup(t *testing.T, opts ...Option) (*testserver.Server, *testserver.Keys, *Client, context.Context) {
	t.Helper()
	srv, keys := authDeployment(t)
	c, err := New(srv.URL(), append([]Option{withBackoffScale(0.01)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return srv, keys, c, ctx
}

// mintingProvider mints a new token for sub on every call and records the
// calls.
type mintingProvider struct {
	t    *testing.T
	keys *testserver.Keys
	sub  string
	ttl  time.Duration

	mu     sync.Mutex
	calls  []bool // forceRefresh of each call
	issued []string
}

func (p *mintingProvider) Token(ctx context.Context, force bool) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	tok, err := p.keys.MintToken(p.sub, p.ttl, map[string]any{"n": len(p.calls)})
	if err != nil {
		p.t.Error(err)
	}
	p.calls = append(p.calls, force)
	p.issued = append(p.issued, tok)
	return tok, err
}

func (p *mintingProvider) Calls() []bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]bool(nil), p.calls...)
}

// authEvents collects onChange calls.
type authEvents struct {
	mu   sync.Mutex
	got  []bool
	wake chan struct{}
}

func newAuthEvents() *authEvents { return &authEvents{wake: make(chan struct{}, 100)} }

func (e *authEvents) record(ok bool) {
	e.mu.Lock()
	e.got = append(e.got, ok)
	e.mu.Unlock()
	e.wake <- struct{}{}
}

func (e *authEvents) wait(t *testing.T, ctx context.Context, n int) []bool {
	t.Helper()
	for {
		e.mu.Lock()
		got := append([]bool(nil), e.got...)
		e.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-e.wake:
		case <-ctx.Done():
			t.Fatalf("waiting for %d auth callbacks, got %v", n, got)
		}
	}
}

func whoami(t *testing.T, ctx context.Context, s *Subscription[*string], want string) {
	t.Helper()
	nextUntil(t, ctx, s, func(v *string) bool {
		if want == "" {
			return v == nil
		}
		return v != nil && *v == want
	})
}

// signIn sets auth from p and returns a live auth:whoami subscription once
// it shows want.
func signIn(t *testing.T, ctx context.Context, c *Client, p tokenprovider.Provider, onChange func(bool), want string) *Subscription[*string] {
	t.Helper()
	if err := c.SetAuth(ctx, p, onChange); err != nil {
		t.Fatal(err)
	}
	sub, err := Subscribe[*string](ctx, c, "auth:whoami", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Close() })
	whoami(t, ctx, sub, want)
	return sub
}

func TestSetAuthConfirmsAndRefetchesOnce(t *testing.T) {
	srv, keys, c, ctx := authSetup(t)
	p := &mintingProvider{t: t, keys: keys, sub: "alice", ttl: time.Hour}
	events := newAuthEvents()
	signIn(t, ctx, c, p, events.record, "alice")
	if got := events.wait(t, ctx, 1); !got[0] {
		t.Fatalf("onChange = %v", got)
	}
	// After the first confirmation the official client fetches one forced
	// token, and sends it.
	if err := srv.WaitFor(ctx, func(s testserver.Stats) bool { return s.TokensAccepted >= 2 }); err != nil {
		t.Fatal(err)
	}
	if calls := p.Calls(); len(calls) != 2 || calls[0] || !calls[1] {
		t.Fatalf("provider calls (forceRefresh) = %v", calls)
	}
	// HTTP one-shot queries carry the token too.
	who, err := Query[*string](ctx, c, "auth:whoami", nil)
	if err != nil || who == nil || *who != "alice" {
		t.Fatalf("HTTP whoami = %v, %v", who, err)
	}
}

// With a validated-token cache in front of the provider, the start-up
// second fetch is answered from the cache.
func TestSetAuthWithValidatedCache(t *testing.T) {
	_, keys, c, ctx := authSetup(t)
	p := &mintingProvider{t: t, keys: keys, sub: "bob", ttl: time.Hour}
	cache := tokenprovider.NewCache(p, nil)
	events := newAuthEvents()
	signIn(t, ctx, c, cache, events.record, "bob")
	events.wait(t, ctx, 1)
	// Order a round trip after the forced refetch, then count.
	if _, err := c.QueryRaw(ctx, "counter:get", map[string]any{"name": "x"}, ViaSocket()); err != nil {
		t.Fatal(err)
	}
	if calls := p.Calls(); len(calls) != 1 {
		t.Fatalf("provider called %d times, want 1 (calls %v)", len(calls), calls)
	}
}

// An AuthError causes exactly one forced fetch and a reconnect with the
// new token, while subscriptions stay live.
func TestAuthErrorRefetchesOnce(t *testing.T) {
	srv, keys, c, ctx := authSetup(t)
	p := &mintingProvider{t: t, keys: keys, sub: "carol", ttl: time.Hour}
	events := newAuthEvents()
	sub := signIn(t, ctx, c, p, events.record, "carol")
	if err := srv.WaitFor(ctx, func(s testserver.Stats) bool { return s.TokensAccepted >= 2 }); err != nil {
		t.Fatal(err)
	}
	before := len(p.Calls())
	opened := srv.Stats().SocketsOpened
	srv.InjectAuthError(true)
	if err := srv.WaitFor(ctx, func(s testserver.Stats) bool {
		return s.SocketsOpened > opened && s.TokensAccepted >= 3
	}); err != nil {
		t.Fatalf("%v: %+v", err, srv.Stats())
	}
	if _, err := Mutation[int64](ctx, c, "counter:increment", map[string]any{"name": "after"}); err != nil {
		t.Fatal(err)
	}
	calls := p.Calls()[before:]
	if len(calls) != 1 || !calls[0] {
		t.Fatalf("provider calls after the AuthError = %v, want one forced", calls)
	}
	if v, err, ok := sub.Latest(); !ok || err != nil || v == nil || *v != "carol" {
		t.Fatalf("whoami after re-auth = %v, %v", v, err)
	}
	if got := events.wait(t, ctx, 1); len(got) != 1 || !got[0] {
		t.Fatalf("onChange = %v; a recovered AuthError is not a loss", got)
	}
}

// Tokens the deployment never accepts: at most 2 fresh attempts, then the
// client continues unauthenticated and says so once.
func TestRejectedTokensGiveUp(t *testing.T) {
	srv, _, c, ctx := authSetup(t)
	otherKeys, err := testserver.GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	p := &mintingProvider{t: t, keys: otherKeys, sub: "mallory", ttl: time.Hour}
	events := newAuthEvents()
	if err := c.SetAuth(ctx, p, events.record); err != nil {
		t.Fatal(err)
	}
	if got := events.wait(t, ctx, 1); got[0] {
		t.Fatalf("onChange = %v", got)
	}
	who, err := Query[*string](ctx, c, "auth:whoami", nil, ViaSocket())
	if err != nil || who != nil {
		t.Fatalf("whoami = %v, %v", who, err)
	}
	calls := p.Calls()
	if len(calls) != 1+maxAuthAttempts {
		t.Fatalf("provider calls = %v, want the first and %d forced", calls, maxAuthAttempts)
	}
	if st := srv.Stats(); st.TokensRejected != 1+maxAuthAttempts {
		t.Fatalf("tokens rejected = %d", st.TokensRejected)
	}
	if got := events.wait(t, ctx, 1); len(got) != 1 {
		t.Fatalf("onChange called %d times: %v", len(got), got)
	}
}

// Tokens are refreshed ahead of expiry (exp - iat less the leeway) while
// subscriptions stay live, on the same socket.
func TestScheduledRefresh(t *testing.T) {
	timers, sched := fakeRefreshTimers()
	srv, keys, c, ctx := authSetup(t, timers)
	p := &mintingProvider{t: t, keys: keys, sub: "dave", ttl: time.Hour}
	signIn(t, ctx, c, p, nil, "dave")
	opened := srv.Stats().SocketsOpened
	var s scheduled
	select {
	case s = <-sched:
	case <-ctx.Done():
		t.Fatal("no refresh scheduled")
	}
	if want := time.Hour - DefaultRefreshLeeway; s.d != want {
		t.Fatalf("refresh scheduled in %v, want %v", s.d, want)
	}
	s.fire <- time.Now()
	if err := srv.WaitFor(ctx, func(s testserver.Stats) bool { return s.TokensAccepted >= 3 }); err != nil {
		t.Fatalf("no scheduled refresh: %v (%+v)", err, srv.Stats())
	}
	if calls := p.Calls(); len(calls) < 3 || !calls[2] {
		t.Fatalf("calls = %v", calls)
	}
	if got := srv.Stats().SocketsOpened; got != opened {
		t.Fatal("the refresh went out on a new socket instead of the live one")
	}
}

func TestClearAuth(t *testing.T) {
	_, keys, c, ctx := authSetup(t)
	tok, err := keys.MintToken("erin", time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetAuthToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	sub, err := Subscribe[*string](ctx, c, "auth:whoami", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	whoami(t, ctx, sub, "erin")
	if err := c.ClearAuth(ctx); err != nil {
		t.Fatal(err)
	}
	whoami(t, ctx, sub, "")
	if tok := c.currentAuthorization(); tok != "" {
		t.Fatal("HTTP token kept after ClearAuth")
	}
}

// givesUpAfterOneRetry sets auth from a provider that always returns tok
// and checks that the client asks once more (forced), then reports the
// loss once.
func givesUpAfterOneRetry(t *testing.T, tok string) {
	_, _, c, ctx := authSetup(t)
	var mu sync.Mutex
	var calls []bool
	p := tokenprovider.Func(func(_ context.Context, force bool) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, force)
		return tok, nil
	})
	events := newAuthEvents()
	if err := c.SetAuth(ctx, p, events.record); err != nil {
		t.Fatal(err)
	}
	if got := events.wait(t, ctx, 1); len(got) != 1 || got[0] {
		t.Fatalf("onChange = %v", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(calls) != 2 || calls[0] || !calls[1] {
		t.Fatalf("provider calls (forceRefresh) = %v, want [false true]", calls)
	}
}

// A forced fetch that returns the rejected token again gives up at once
// (checklist 33).
func TestRejectedSameTokenGivesUp(t *testing.T) {
	other, err := testserver.GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	bad, _ := other.MintToken("mallory", time.Hour, nil)
	givesUpAfterOneRetry(t, bad)
}

// A provider with no token: one forced retry, then onChange(false).
func TestNoTokenReportsUnauthenticated(t *testing.T) { givesUpAfterOneRetry(t, "") }

// With a validated-token cache, the start-up refetch is answered from the
// cache and the refresh ahead of expiry still reaches the provider.
func TestValidatedCacheStillRefreshes(t *testing.T) {
	timers, sched := fakeRefreshTimers()
	srv, keys, c, ctx := authSetup(t, timers)
	p := &mintingProvider{t: t, keys: keys, sub: "gil", ttl: time.Hour}
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	signIn(t, ctx, c, tokenprovider.NewCache(p, &tokenprovider.CacheOptions{Now: clock}), nil, "gil")
	var s scheduled
	select {
	case s = <-sched:
	case <-ctx.Done():
		t.Fatal("no refresh scheduled")
	}
	// The cache's clock reaches the refresh time, then the timer fires.
	mu.Lock()
	now = now.Add(s.d)
	mu.Unlock()
	s.fire <- time.Now()
	if err := srv.WaitFor(ctx, func(s testserver.Stats) bool { return s.TokensAccepted >= 2 }); err != nil {
		t.Fatalf("no refresh: %v (%+v)", err, srv.Stats())
	}
	if calls := p.Calls(); len(calls) != 2 || calls[0] || !calls[1] {
		t.Fatalf("provider calls (forceRefresh) = %v, want [false true]", calls)
	}
}
