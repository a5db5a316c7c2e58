package client

import (
	"context"
	"time"

	"github.com/convexgo/convex/tokenprovider"
)

// maxAuthAttempts is how many fresh tokens in a row the deployment may
// reject before the client gives up and continues unauthenticated.
const maxAuthAttempts = 2

// DefaultRefreshLeeway is how long before the end of a token's life the
// client fetches the next one.
const DefaultRefreshLeeway = 10 * time.Second

// SetAuth makes the client authenticate with tokens from p: it sets the
// identity of the whole Client, for every subscription, mutation and
// action of the process. A server acting for many users must not change
// it per request (requests would run as each other's users); it gives
// each request its own credentials with HTTPClient.As instead (or the
// serverauth middleware). It fetches the
// first token before it returns, so subscriptions made after SetAuth go
// out under that identity. Then, as the official client does:
//
//   - the token is sent on every (re)connect;
//   - once the deployment confirms it, one forced refresh is fetched (a
//     tokenprovider.Cache answers it without a fetch), and a refresh is
//     scheduled ahead of the token's expiry: its lifetime exp - iat less
//     10 seconds, but never sooner than half-way through its life (a
//     token of 20 seconds or less is refreshed at half its life, and the
//     client logs that once);
//   - when the deployment rejects a token, the client closes the socket
//     and opens no other until one forced fetch has returned, then
//     reconnects with the new token, so no query and no re-sent mutation
//     runs under another identity meanwhile; after 2 rejected tokens in a
//     row, or an empty or unchanged token, or a failed fetch, it gives up
//     and continues unauthenticated;
//   - one-shot HTTP queries send the current token as a Bearer token.
//
// onChange, if not nil, is called with true when the deployment first
// confirms a token and with false once each time authentication is lost
// (the application can then sign the user in again, or stop). Calls are
// serial and never made on the goroutine that drives the connection.
//
// If p has methods Confirm(token string) and Reject(token string), as
// tokenprovider.Cache does, the client tells it which tokens the
// deployment accepted and refused.
func (c *Client) SetAuth(ctx context.Context, p tokenprovider.Provider, onChange func(authenticated bool)) error {
	tok, err := p.Token(ctx, false)
	if err != nil {
		return err
	}
	return c.do(ctx, func(o *owner) { o.setAuth(p, onChange, tok) })
}

// SetAuthToken authenticates with a fixed token; an empty token signs out.
// It is SetAuth with a provider that always returns token.
func (c *Client) SetAuthToken(ctx context.Context, token string) error {
	if token == "" {
		return c.ClearAuth(ctx)
	}
	return c.SetAuth(ctx, tokenprovider.Func(func(context.Context, bool) (string, error) { return token, nil }), nil)
}

// ClearAuth signs out: the deployment is told, later connections carry no
// token, and scheduled refreshes stop.
func (c *Client) ClearAuth(ctx context.Context) error {
	return c.do(ctx, func(o *owner) {
		if o.auth != nil {
			o.auth.stop()
			o.auth = nil
		}
		c.authToken.Store(nil)
		o.engine.ClearAuth()
		o.resumeAfterAuth()
	})
}

// currentAuthorization returns the Authorization header one-shot HTTP
// calls send: "Bearer <token>", "Convex <admin key>", or "" for none.
func (c *Client) currentAuthorization() string {
	if t := c.authToken.Load(); t != nil {
		return *t
	}
	return ""
}

// authState is the owner's token state machine.
type authState struct {
	provider tokenprovider.Provider
	onChange func(bool)
	gen      uint64 // identifies this SetAuth; older fetch results are dropped

	token     string
	authed    bool // last state reported to onChange
	reported  bool // onChange was called at least once
	waiting   bool // a token was sent and awaits confirmation
	fromFirst bool // the confirmed token is the first one: refetch forced
	attempts  int  // consecutive rejected fresh tokens
	fetching  bool
	stale     bool // the fetch running started before a rejection: drop its result
	// floorLogged and noRefreshLogged: the refresh schedule's problems
	// are logged once per SetAuth, not once per refresh.
	floorLogged, noRefreshLogged bool
	refresh                      *refreshTimer
}

// refreshTimer is a scheduled refresh: C fires once.
type refreshTimer struct {
	C    <-chan time.Time
	stop func() bool
}

// newRefreshTimer starts a refresh timer of d.
func (c *Client) newRefreshTimer(d time.Duration) *refreshTimer {
	if f := c.cfg.refreshTimer; f != nil {
		ch, stop := f(d)
		return &refreshTimer{C: ch, stop: stop}
	}
	t := time.NewTimer(d)
	return &refreshTimer{C: t.C, stop: t.Stop}
}

func (a *authState) stop() {
	if a.refresh != nil {
		a.refresh.stop()
		a.refresh = nil
	}
}

// fetchReason says why a token is being fetched.
type fetchReason int

const (
	fetchInitial     fetchReason = iota // the provider had no token at SetAuth
	fetchAfterFirst                     // the first token was confirmed: get a fresh one
	fetchScheduled                      // the refresh ahead of expiry
	fetchAfterReject                    // the deployment rejected the token
)

// authFetch is the outcome of a token fetch made off the owner goroutine.
type authFetch struct {
	gen    uint64
	token  string
	err    error
	reason fetchReason
}

func (o *owner) setAuth(p tokenprovider.Provider, onChange func(bool), tok string) {
	if o.auth != nil {
		o.auth.stop()
	}
	o.authGen++
	o.auth = &authState{provider: p, onChange: onChange, gen: o.authGen, fromFirst: true}
	if tok == "" {
		// A socket held after an AuthError stays held until this fetch
		// returns.
		o.c.authToken.Store(nil)
		o.engine.ClearAuth()
		o.fetchToken(fetchInitial)
		return
	}
	o.useToken(tok)
	o.resumeAfterAuth()
}

// useToken sends tok to the deployment.
func (o *owner) useToken(tok string) {
	a := o.auth
	a.token, a.waiting = tok, true
	header := bearer(tok)
	o.c.authToken.Store(&header)
	o.engine.SetAuth(tok)
}

// fetchToken asks the provider for a forced refresh on a goroutine of its
// own; the result comes back through o.authResults. The goroutine is
// counted in Client.fetches, not Client.wg: Close cancels its ctx but does
// not wait for it, since a provider may ignore ctx. It ends when the
// provider returns.
func (o *owner) fetchToken(reason fetchReason) {
	a := o.auth
	if a == nil || a.fetching {
		return
	}
	a.fetching = true
	gen, p := a.gen, a.provider
	o.c.fetches.Add(1)
	go func() {
		defer o.c.fetches.Done()
		tok, err := p.Token(o.c.lifetime, true)
		select {
		case o.authResults <- authFetch{gen: gen, token: tok, err: err, reason: reason}:
		case <-o.c.lifetime.Done():
		}
	}()
}

func (o *owner) handleAuthFetch(r authFetch) {
	a := o.auth
	if a == nil || r.gen != a.gen {
		return
	}
	a.fetching = false
	if a.stale {
		// This fetch began before the deployment refused the token, and
		// may have been answered with that token (from a cache): ask again.
		a.stale = false
		o.fetchToken(fetchAfterReject)
		return
	}
	// Whatever the outcome, a socket held for this fetch may open now:
	// with the new token, or unauthenticated once auth is given up.
	defer o.resumeAfterAuth()
	switch {
	case r.err != nil:
		o.c.log.Warn("convex: fetching an auth token failed", "err", r.err)
		if r.reason == fetchAfterReject || r.reason == fetchInitial {
			o.loseAuth()
		}
	case r.token == "":
		o.loseAuth()
	case r.token == a.token:
		switch r.reason {
		case fetchAfterReject:
			o.loseAuth() // the provider has nothing better than the rejected token
		case fetchAfterFirst:
			// A validated-token cache answered with the token just
			// confirmed: keep it, and refresh it ahead of its expiry.
			o.scheduleRefresh()
		}
		// After a scheduled refresh the same token means the provider has
		// no newer one; the official client schedules nothing more then.
	default:
		o.useToken(r.token)
	}
}

// authConfirmed runs when a Transition raised the identity version.
func (o *owner) authConfirmed() {
	a := o.auth
	if a == nil || !a.waiting {
		return
	}
	a.waiting = false
	if c, ok := a.provider.(interface{ Confirm(string) }); ok {
		c.Confirm(a.token)
	}
	if !a.authed {
		a.authed = true
		o.notifyAuth(a, true)
	}
	if a.fromFirst {
		a.fromFirst = false
		o.fetchToken(fetchAfterFirst)
		return
	}
	a.attempts = 0
	o.scheduleRefresh()
}

// scheduleRefresh arms the refresh ahead of the current token's expiry.
func (o *owner) scheduleRefresh() {
	a := o.auth
	a.stop()
	d, floored, ok := refreshDelay(a.token)
	if !ok {
		if !a.noRefreshLogged {
			a.noRefreshLogged = true
			o.c.log.Warn("convex: the auth token has no iat and exp claims, or lives 2 seconds or less; " +
				"it will not be refreshed before it expires")
		}
		return
	}
	if floored && !a.floorLogged {
		a.floorLogged = true
		iat, exp, _ := tokenprovider.Expiry(a.token)
		o.c.log.Warn("convex: the auth token lives too briefly for the refresh leeway; "+
			"refreshing it half-way through its life instead",
			"lifetime", exp.Sub(iat), "leeway", DefaultRefreshLeeway, "delay", d)
	}
	a.refresh = o.c.newRefreshTimer(d)
}

// refreshDelay is how long after the deployment confirmed tok its refresh
// is due: the official client's rule, exp - iat less DefaultRefreshLeeway
// (at most tokenprovider.MaxRefreshDelay), but never less than half the
// token's life. floored reports that the floor applied. ok is false when
// the token cannot be refreshed on a schedule (see
// tokenprovider.RefreshDelay).
//
// The official client refreshes at once, with a warning, when the leeway
// is not shorter than the life. Each refresh then fetches a token, sends
// it and waits for its confirmation, which schedules the next refresh at
// once again: one fetch per round trip, thousands a second on a fast
// network, and a tokenprovider.Cache cannot help because the token it
// holds is always due. Half the life keeps a token valid (with half its
// life to spare) and bounds the rate at two fetches per lifetime, at most
// one a second since tokens of 2 seconds or less are not scheduled. It
// changes nothing for tokens that live at least twice the leeway.
func refreshDelay(tok string) (d time.Duration, floored, ok bool) {
	d, ok = tokenprovider.RefreshDelay(tok, DefaultRefreshLeeway)
	if !ok {
		return 0, false, false
	}
	iat, exp, _ := tokenprovider.Expiry(tok)
	if floor := min(exp.Sub(iat)/2, tokenprovider.MaxRefreshDelay); d < floor {
		return floor, true, true
	}
	return d, false, true
}

// authRejected runs on an AuthError from the deployment.
func (o *owner) authRejected(base uint32, attempted bool) {
	a := o.auth
	if a == nil {
		return
	}
	if !attempted && a.waiting {
		return // about the old identity; the new token is on its way
	}
	if int(base)+1 < int(o.engine.IdentityVersion()) {
		return // about an older attempt
	}
	if r, ok := a.provider.(interface{ Reject(string) }); ok {
		r.Reject(a.token)
	}
	// Stop the socket, as the official client does, and open the next one
	// only once the next token is known: reconnecting at once would re-add
	// every query and re-send every mutation without the token (or, on a
	// deployment that keeps the socket open, under the refused identity).
	o.holdForAuth()
	a.stop()
	if a.attempts >= maxAuthAttempts {
		o.c.log.Warn("convex: failed to authenticate; check the deployment's auth config")
		o.loseAuth()
		o.resumeAfterAuth()
		return
	}
	a.attempts++
	a.waiting = false
	// One-shot HTTP calls keep the refused token until the new one comes:
	// the deployment refuses them too, rather than answering anonymously.
	a.stale = a.fetching
	o.c.log.Info("convex: the deployment rejected the auth token; " + holdMessage)
	o.fetchToken(fetchAfterReject)
}

// holdForAuth closes the socket and opens none until resumeAfterAuth.
func (o *owner) holdForAuth() {
	if o.authHold {
		return
	}
	o.authHold = true
	o.dropConn("AuthError", false)
	o.c.state.set(Reconnecting)
}

// holdMessage is logged when the socket is held for a token fetch.
const holdMessage = "waiting for a new auth token before reconnecting"

// resumeAfterAuth ends a holdForAuth: it connects at once, with whatever
// token the engine now holds.
func (o *owner) resumeAfterAuth() {
	if !o.authHold {
		return
	}
	o.authHold = false
	o.dial()
}

// loseAuth continues unauthenticated and tells the application once.
func (o *owner) loseAuth() {
	a := o.auth
	a.stop()
	a.token, a.waiting = "", false
	o.c.authToken.Store(nil)
	o.engine.ClearAuth()
	if a.authed || !a.reported {
		a.authed = false
		o.notifyAuth(a, false)
	}
}

func (o *owner) notifyAuth(a *authState, ok bool) {
	a.reported = true
	if a.onChange == nil {
		return
	}
	f := a.onChange
	o.c.callbacks.add(func() { f(ok) })
}

// refreshTimer returns the channel of the scheduled refresh, or nil.
func (o *owner) refreshTimer() <-chan time.Time {
	if o.auth == nil || o.auth.refresh == nil {
		return nil
	}
	return o.auth.refresh.C
}
