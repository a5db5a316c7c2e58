package tokenprovider

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// Defaults of CacheOptions.
const (
	// DefaultConfirmWindow is how long after the deployment accepted a
	// token a refresh request is answered with it.
	DefaultConfirmWindow = 10 * time.Second
	// DefaultExpiryMargin is how long before its "exp" a cached token
	// stops being served.
	DefaultExpiryMargin = 10 * time.Second
)

// CacheOptions configure a Cache. The zero value of each field selects its
// default.
type CacheOptions struct {
	// ConfirmWindow is how long after a token was confirmed (by Confirm, or
	// by Verifier) refresh requests, forced ones included, are answered
	// with it. The window ends sooner if the token's refresh falls due
	// before (see RefreshDelay). Default DefaultConfirmWindow; a negative
	// value turns the window off.
	ConfirmWindow time.Duration
	// ExpiryMargin is how long before its "exp" a token stops being
	// served from the cache. Default DefaultExpiryMargin; a negative value
	// means no margin, but a token is never served at or after its "exp".
	ExpiryMargin time.Duration
	// FetchTimeout bounds one call of the underlying provider. Zero or
	// negative means DefaultFetchTimeout.
	FetchTimeout time.Duration
	// Verifier, if set, checks every non-empty token the provider returns
	// before it is cached. A token it accepts counts as confirmed at once;
	// a token it refuses is not cached and Token returns the verification
	// error (IsAuthError reports true for it).
	Verifier *Verifier
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Cache is a Provider that wraps another and asks it for tokens as rarely
// as correctness allows. It is safe for concurrent use.
//
// It holds one token: the last one the provider returned or the client
// confirmed. Token answers from it, without calling the provider, when the
// token has not been rejected, is more than ExpiryMargin away from its
// "exp" (a token whose "exp" cannot be read is only served inside the
// confirmation window), and either
//   - forceRefresh is false, or
//   - the deployment confirmed the token less than ConfirmWindow ago, and
//     its refresh (RefreshDelay from the confirmation) is not yet due.
//
// The second case removes the extra fetch the official client makes right
// after start-up: it asks again, with forceRefresh, as soon as the
// deployment accepts the first token. Otherwise Token calls the provider,
// passing forceRefresh through.
//
// The client tells the cache what the deployment said: Confirm when the
// deployment accepts a token (its identity version goes up), Reject when it
// refuses one (an AuthError). After Reject, the next Token call always
// reaches the provider and the rejected token is never served again from
// the cache.
//
// Concurrent calls that miss share one provider call (one for forced
// requests and one for unforced ones). Each caller waits only as long as its
// own ctx allows; the shared call itself is not cancelled when a caller
// gives up but is bounded by FetchTimeout, and its result is cached for the
// next caller. The provider's ctx carries the values of the caller that
// started the fetch.
type Cache struct {
	p        Provider
	window   time.Duration
	margin   time.Duration
	timeout  time.Duration
	verifier *Verifier
	now      func() time.Time
	group    singleflight.Group
	waiting  func() // test hook: a caller joined a fetch

	mu         sync.Mutex
	token      string    // the held token; "" when none
	exp        time.Time // its "exp"; zero when unreadable
	confirmEnd time.Time // forced requests are answered before this; zero if unconfirmed
	rejected   string    // the last token passed to Reject
	gen        uint64    // bumped by Reject and Clear; keys the fetches
}

// NewCache returns a Cache in front of p. opts may be nil.
func NewCache(p Provider, opts *CacheOptions) *Cache {
	var o CacheOptions
	if opts != nil {
		o = *opts
	}
	c := &Cache{
		p:        p,
		window:   orDefault(o.ConfirmWindow, DefaultConfirmWindow),
		margin:   max(orDefault(o.ExpiryMargin, DefaultExpiryMargin), 0),
		timeout:  positiveOr(o.FetchTimeout, DefaultFetchTimeout),
		verifier: o.Verifier,
		now:      o.Now,
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c
}

// Token returns a token, from the cache when the rules in the type's
// documentation allow and from the underlying provider otherwise. An empty
// token means the provider has none (unauthenticated).
func (c *Cache) Token(ctx context.Context, forceRefresh bool) (string, error) {
	c.mu.Lock()
	if tok, ok := c.cachedLocked(forceRefresh); ok {
		c.mu.Unlock()
		return tok, nil
	}
	gen := c.gen
	c.mu.Unlock()

	key := strconv.FormatUint(gen, 10)
	if forceRefresh {
		key += "f"
	}
	return shared(ctx, &c.group, key, c.timeout, func(ctx context.Context) (string, error) {
		return c.fetch(ctx, gen, forceRefresh)
	}, c.waiting)
}

// cachedLocked returns the held token if it may answer this request.
func (c *Cache) cachedLocked(force bool) (string, bool) {
	if c.token == "" {
		return "", false
	}
	now := c.now()
	confirmed := now.Before(c.confirmEnd)
	if c.exp.IsZero() {
		if !confirmed {
			return "", false
		}
	} else if !now.Before(c.exp.Add(-c.margin)) {
		return "", false
	}
	if force && !confirmed {
		return "", false
	}
	return c.token, true
}

// fetch asks the provider and stores what it returns, unless a Reject or
// Clear came in while it ran (gen changed) or it is the rejected token.
func (c *Cache) fetch(ctx context.Context, gen uint64, force bool) (string, error) {
	// A fetch that finished between this caller's cache check and the
	// start of this one may already have left a token that will do.
	c.mu.Lock()
	if tok, ok := c.cachedLocked(force); ok && c.gen == gen {
		c.mu.Unlock()
		return tok, nil
	}
	c.mu.Unlock()

	if c.p == nil {
		return "", errors.New("tokenprovider: Cache has no Provider")
	}
	tok, err := c.p.Token(ctx, force)
	if err != nil {
		return "", err
	}
	var exp time.Time
	verified := false
	if tok != "" {
		if c.verifier != nil {
			claims, err := c.verifier.Verify(tok)
			if err != nil {
				return "", fmt.Errorf("tokenprovider: the provider's token failed verification: %w", err)
			}
			exp, verified = claims.ExpiresAt, true
		} else {
			_, exp, _ = Expiry(tok)
		}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.gen != gen, tok != "" && tok == c.rejected:
		return tok, nil
	case tok == "":
		c.dropLocked()
		return "", nil
	case tok != c.token:
		c.token, c.exp, c.confirmEnd = tok, exp, time.Time{}
	}
	if verified {
		c.confirmLocked()
	}
	return tok, nil
}

// confirmLocked opens the confirmation window for the held token. The
// window closes early when the token's refresh falls due (RefreshDelay with
// DefaultRefreshLeeway, counted from now, as the client counts it), so the
// scheduled refresh of a short-lived token is never answered with the token
// it is meant to replace, whatever the skew between the local clock and the
// issuer's.
func (c *Cache) confirmLocked() {
	if c.window <= 0 {
		c.confirmEnd = time.Time{}
		return
	}
	now := c.now()
	end := now.Add(c.window)
	if d, ok := RefreshDelay(c.token, DefaultRefreshLeeway); ok && now.Add(d).Before(end) {
		end = now.Add(d)
	}
	c.confirmEnd = end
}

func (c *Cache) dropLocked() {
	c.token, c.exp, c.confirmEnd = "", time.Time{}, time.Time{}
}

// Confirm records that the deployment accepted token (a Transition raised
// the identity version after it was sent). For ConfirmWindow from now,
// refresh requests are answered with it. An empty token is ignored.
func (c *Cache) Confirm(token string) {
	if token == "" {
		return
	}
	_, exp, _ := Expiry(token)
	c.mu.Lock()
	defer c.mu.Unlock()
	if token == c.rejected {
		c.rejected = "" // the deployment has now accepted it
	}
	if token != c.token {
		c.token, c.exp = token, exp
	}
	c.confirmLocked()
}

// Reject records that the deployment refused token (an AuthError). The
// cache drops it if it holds it, never serves it again, and the next Token
// call, forced or not, goes to the provider; a fetch already running when
// Reject is called is not joined by later callers and its result is not
// cached. An empty token is ignored.
func (c *Cache) Reject(token string) {
	if token == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rejected = token
	if token == c.token {
		c.dropLocked()
	}
	c.gen++
}

// Clear forgets the held token, for example on sign-out. As with Reject, a
// fetch already running is not joined afterwards and its result is not
// cached.
func (c *Cache) Clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropLocked()
	c.rejected = ""
	c.gen++
}
