package client

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/convexgo/convex/internal/testserver"
	"github.com/convexgo/convex/protocol"
	"github.com/convexgo/convex/tokenprovider"
)

// gatedProvider returns tokens from next and can hold one call: after arm,
// the next call signals started and then waits for release, ignoring its
// ctx, as a provider stuck on the network would.
type gatedProvider struct {
	next func(n int) (string, error) // n counts calls from 1

	mu     sync.Mutex
	calls  []bool // forceRefresh of each call
	issued []string
	gate   *gate
}

type gate struct {
	at      int // the call it holds, counted from 1; 0 means the next one
	started chan struct{}
	release chan struct{}
	once    sync.Once
}

// open lets the held call return; it is safe to call more than once.
func (g *gate) open() { g.once.Do(func() { close(g.release) }) }

// arm holds the next call. The gate is opened at the end of the test in
// any case, so that the held goroutine ends.
func (p *gatedProvider) arm(t *testing.T) *gate { return p.armAt(t, 0) }

// armAt holds call n (counted from 1), or the next one if n is 0.
func (p *gatedProvider) armAt(t *testing.T, n int) *gate {
	g := &gate{at: n, started: make(chan struct{}), release: make(chan struct{})}
	p.mu.Lock()
	p.gate = g
	p.mu.Unlock()
	t.Cleanup(g.open)
	return g
}

func (p *gatedProvider) Token(_ context.Context, force bool) (string, error) {
	p.mu.Lock()
	p.calls = append(p.calls, force)
	n := len(p.calls)
	g := p.gate
	if g != nil && (g.at == 0 || g.at == n) {
		p.gate = nil
	} else {
		g = nil
	}
	p.mu.Unlock()
	if g != nil {
		close(g.started)
		<-g.release
	}
	tok, err := p.next(n)
	p.mu.Lock()
	p.issued = append(p.issued, tok)
	p.mu.Unlock()
	return tok, err
}

func (p *gatedProvider) Calls() []bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]bool(nil), p.calls...)
}

func (p *gatedProvider) last() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.issued) == 0 {
		return ""
	}
	return p.issued[len(p.issued)-1]
}

// minting returns a next function that mints a new token for sub on
// every call.
func minting(t *testing.T, keys *testserver.Keys, sub string, ttl time.Duration) func(int) (string, error) {
	return func(n int) (string, error) {
		tok, err := keys.MintToken(sub, ttl, map[string]any{"n": float64(n)})
		if err != nil {
			t.Error(err)
		}
		return tok, err
	}
}

// logRecorder is a slog.Handler that keeps every message.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
	wake chan struct{} // closed and replaced on every record
}

func newLogRecorder() *logRecorder { return &logRecorder{wake: make(chan struct{})} }

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *logRecorder) WithGroup(string) slog.Handler            { return h }

func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.msgs = append(h.msgs, r.Message)
	close(h.wake)
	h.wake = make(chan struct{})
	return nil
}

// count returns how many messages contain s, and a channel closed at the
// next record.
func (h *logRecorder) count(s string) (int, <-chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, m := range h.msgs {
		if strings.Contains(m, s) {
			n++
		}
	}
	return n, h.wake
}

// logged returns a channel closed once a message containing s has been
// logged. Its goroutine ends with ctx.
func (h *logRecorder) logged(ctx context.Context, s string) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		for {
			n, wake := h.count(s)
			if n > 0 {
				close(done)
				return
			}
			select {
			case <-wake:
			case <-ctx.Done():
				return
			}
		}
	}()
	return done
}

// serverSees returns a channel closed once cond holds on srv's stats. Its
// goroutine ends with ctx.
func serverSees(ctx context.Context, srv *testserver.Server, cond func(testserver.Stats) bool) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		if srv.WaitFor(ctx, cond) == nil {
			close(done)
		}
	}()
	return done
}

// After an AuthError the client must not reconnect before it has the new
// token: no socket opened after the AuthError may run a query or a
// mutation before it authenticates with the new token, even while the
// provider's forced fetch is held.
func TestAuthErrorReconnectsOnlyWithNewToken(t *testing.T) {
	logs := newLogRecorder()
	srv, keys, c, ctx := authSetup(t, WithLogger(slog.New(logs)))
	p := &gatedProvider{next: minting(t, keys, "carol", time.Hour)}
	events := newAuthEvents()
	who := signIn(t, ctx, c, p, events.record, "carol")
	if err := srv.WaitFor(ctx, func(s testserver.Stats) bool { return s.TokensAccepted >= 2 }); err != nil {
		t.Fatal(err)
	}
	open := srv.OpenConns()
	if len(open) != 1 {
		t.Fatalf("open sockets %v", open)
	}
	old := open[0]
	opened := srv.Stats().SocketsOpened

	g := p.arm(t)
	srv.InjectAuthError(true)
	select {
	case <-g.started:
	case <-ctx.Done():
		t.Fatal("no forced fetch after the AuthError")
	}
	// While the fetch is held: a new subscription and a mutation.
	counter, err := Subscribe[int64](ctx, c, "counter:get", map[string]any{"name": "held"})
	if err != nil {
		t.Fatal(err)
	}
	defer counter.Close()
	args, _ := encodeArgs("mutation", "counter:increment", map[string]any{"name": "held"})
	reply := make(chan callResult, 1)
	if err := c.do(ctx, func(o *owner) { o.request("mutation", "counter:increment", args, reply) }); err != nil {
		t.Fatal(err)
	}
	// Either the client says it holds the reconnect, or it opens a socket
	// without the new token (the bug); only then release the fetch.
	wctx, cancel := context.WithCancel(ctx)
	select {
	case <-logs.logged(wctx, holdMessage):
	case <-serverSees(wctx, srv, func(s testserver.Stats) bool { return s.SocketsOpened > opened }):
	case <-ctx.Done():
		t.Fatal("neither held nor reconnected")
	}
	cancel()
	g.open()

	select {
	case r := <-reply:
		if r.err != nil {
			t.Fatalf("mutation: %v", r.err)
		}
	case <-ctx.Done():
		t.Fatal("the mutation never completed")
	}
	nextUntil(t, ctx, counter, func(v int64) bool { return v == 1 })
	newTok := p.last()

	recovered := false
	conns := map[int]bool{}
	for _, m := range srv.Received() {
		if m.Conn > old {
			conns[m.Conn] = true
		}
	}
	for conn := range conns {
		authed := false
		for _, msg := range srv.ReceivedOn(conn) {
			switch m := msg.(type) {
			case *protocol.Authenticate:
				if m.TokenType != protocol.TokenTypeUser || m.Value != newTok {
					t.Errorf("socket %d authenticates with %s %.20q, want the new token", conn, m.TokenType, m.Value)
				}
				authed = true
				recovered = true
			case *protocol.ModifyQuerySet, *protocol.Mutation, *protocol.Action:
				if !authed {
					t.Errorf("socket %d sent %s before authenticating with the new token", conn, msg.MessageType())
				}
			}
		}
	}
	if !recovered {
		t.Fatal("no socket authenticated with the new token")
	}
	if v, err, ok := who.Latest(); !ok || err != nil || v == nil || *v != "carol" {
		t.Fatalf("whoami = %v, %v", v, err)
	}
	if calls := p.Calls(); len(calls) != 3 || !calls[2] {
		t.Fatalf("provider calls (forceRefresh) = %v, want one forced fetch after the AuthError", calls)
	}
	if got := events.wait(t, ctx, 1); len(got) != 1 || !got[0] {
		t.Fatalf("onChange = %v", got)
	}
}

// A deployment that keeps the socket open after an AuthError must not
// make WatchAuth report a loss while the client fetches the new token.
func TestWatchAuthSteadyWhenAuthErrorKeepsSocketOpen(t *testing.T) {
	logs := newLogRecorder()
	srv, keys, c, ctx := authSetup(t, WithLogger(slog.New(logs)))
	srv.KeepOpenAfterAuthError(true)
	p := &gatedProvider{next: minting(t, keys, "fay", time.Hour)}
	signIn(t, ctx, c, p, nil, "fay")
	if err := srv.WaitFor(ctx, func(s testserver.Stats) bool { return s.TokensAccepted >= 2 }); err != nil {
		t.Fatal(err)
	}
	changes := make(chan bool, 10)
	b, err := c.WatchAuth(ctx, "auth:whoami", nil, func(ok bool, err error) { changes <- ok })
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var got []bool
	expect := func(want bool) {
		t.Helper()
		select {
		case v := <-changes:
			got = append(got, v)
			if v != want {
				t.Fatalf("WatchAuth reports %v", got)
			}
		case <-ctx.Done():
			t.Fatalf("no report %v (got %v)", want, got)
		}
	}
	expect(true)

	g := p.arm(t)
	srv.InjectAuthError(true)
	select {
	case <-g.started:
	case <-ctx.Done():
		t.Fatal("no forced fetch after the AuthError")
	}
	wctx, cancel := context.WithCancel(ctx)
	select {
	case <-logs.logged(wctx, holdMessage):
	case v := <-changes:
		t.Fatalf("WatchAuth reported %v while the new token was fetched", v)
	case <-ctx.Done():
		t.Fatal("the client neither held the reconnect nor changed identity")
	}
	cancel()
	g.open()
	if err := srv.WaitFor(ctx, func(s testserver.Stats) bool { return s.TokensAccepted >= 3 }); err != nil {
		t.Fatal(err)
	}
	// Signing out is the next change WatchAuth may report.
	if err := c.ClearAuth(ctx); err != nil {
		t.Fatal(err)
	}
	expect(false)
	b.Close()
	if len(changes) != 0 {
		t.Fatalf("extra reports after %v", got)
	}
}

// When the deployment refuses the token while a refresh is being fetched,
// and the provider has nothing better (the same token, or an error), the
// loss is reported once and the client continues unauthenticated.
func TestRefusedDuringRefreshReportsLossOnce(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reply func(first string) (string, error)
	}{
		{"same token", func(first string) (string, error) { return first, nil }},
		{"error", func(string) (string, error) { return "", errors.New("identity provider down") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := newLogRecorder()
			srv, keys, c, ctx := authSetup(t, WithLogger(slog.New(logs)))
			first, err := keys.MintToken("gus", time.Hour, nil)
			if err != nil {
				t.Fatal(err)
			}
			p := &gatedProvider{next: func(n int) (string, error) {
				if n == 1 {
					return first, nil
				}
				return tc.reply(first)
			}}
			// The start-up forced refetch after the first confirmation is
			// held; the deployment refuses the token meanwhile.
			g := p.armAt(t, 2)
			events := newAuthEvents()
			who := signIn(t, ctx, c, p, events.record, "gus")
			select {
			case <-g.started:
			case <-ctx.Done():
				t.Fatal("no refetch")
			}
			if got := events.wait(t, ctx, 1); !got[0] {
				t.Fatalf("onChange = %v", got)
			}
			srv.InjectAuthError(true)
			// Release the refetch only once the client has handled the
			// AuthError (it logs before it acts, on the same goroutine).
			select {
			case <-logs.logged(ctx, "deployment rejected the auth token"):
			case <-ctx.Done():
				t.Fatal("the AuthError never arrived")
			}
			g.open()
			if got := events.wait(t, ctx, 2); got[1] {
				t.Fatalf("onChange = %v", got)
			}
			whoami(t, ctx, who, "")
			if got := events.wait(t, ctx, 2); len(got) != 2 {
				t.Fatalf("onChange = %v, want [true false]", got)
			}
			if tok := c.currentAuthorization(); tok != "" {
				t.Fatal("the refused token is still used for HTTP")
			}
		})
	}
}

// scheduled is one refresh the client scheduled, with a fake timer.
type scheduled struct {
	d    time.Duration
	fire chan time.Time
}

// fakeRefreshTimers returns the option that makes the client's refresh
// timers fake, and the channel on which each one is handed to the test.
func fakeRefreshTimers() (Option, chan scheduled) {
	ch := make(chan scheduled, 100)
	return withRefreshTimer(func(d time.Duration) (<-chan time.Time, func() bool) {
		s := scheduled{d: d, fire: make(chan time.Time, 1)}
		ch <- s
		return s.fire, func() bool { return true }
	}), ch
}

// A token that lives no longer than the refresh leeway must not be
// refreshed as soon as it is confirmed (which made thousands of fetches a
// second): the delay has a floor of half the token's life, and the
// client says so once.
func TestShortTokenRefreshFloor(t *testing.T) {
	const ttl = 5 * time.Second
	logs := newLogRecorder()
	timers, sched := fakeRefreshTimers()
	_, keys, c, ctx := authSetup(t, WithLogger(slog.New(logs)), timers)
	p := &gatedProvider{next: minting(t, keys, "hal", ttl)}
	signIn(t, ctx, c, tokenprovider.NewCache(p, nil), nil, "hal")
	const refreshes = 5
	for i := 0; i <= refreshes; i++ {
		var s scheduled
		select {
		case s = <-sched:
		case <-ctx.Done():
			t.Fatalf("refresh %d was never scheduled", i)
		}
		if s.d < ttl/2 || s.d > ttl {
			t.Fatalf("refresh %d scheduled in %v, want between %v and %v", i, s.d, ttl/2, ttl)
		}
		if i < refreshes {
			s.fire <- time.Now()
		}
	}
	// The start-up fetch, its forced refetch, and one per refresh.
	if calls := p.Calls(); len(calls) != 2+refreshes {
		t.Fatalf("%d provider calls, want %d", len(calls), 2+refreshes)
	}
	if n, _ := logs.count("refreshing it half-way through its life"); n != 1 {
		t.Fatalf("the short lifetime was logged %d times, want once", n)
	}
}

// Close returns even while a token provider that ignores its ctx is
// stuck; the goroutine running it ends once the provider returns.
// WaitForState after Close returns at once.
func TestCloseWithStuckProvider(t *testing.T) {
	_, keys, c, ctx := authSetup(t)
	p := &gatedProvider{next: minting(t, keys, "ivy", time.Hour)}
	g := p.armAt(t, 2) // the forced refetch after the first confirmation
	signIn(t, ctx, c, p, nil, "ivy")
	select {
	case <-g.started:
	case <-ctx.Done():
		t.Fatal("no refetch")
	}
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		c.Close()
	}()
	select {
	case <-closed:
	case <-ctx.Done():
		g.open() // let Close finish, then fail
		<-closed
		t.Fatal("Close waited for the token provider")
	}
	st, err := c.WaitForState(ctx, func(s ConnectionState) bool { return s == Connected })
	if !errors.Is(err, ErrClosed) || st != Closed {
		t.Fatalf("WaitForState after Close = %v, %v; want closed, ErrClosed", st, err)
	}
	g.open()
	c.fetches.Wait() // the fetch's goroutine ends once the provider returns
}
