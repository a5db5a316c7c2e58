package tokenprovider

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// DefaultSessionMaxTTL is the longest a SessionCache keeps a token by
// default.
const DefaultSessionMaxTTL = 60 * time.Second

// Store holds tokens for a SessionCache under opaque keys (SessionKey
// values) for a limited time. Implementations must be safe for concurrent
// use. MemoryStore is the in-process one; the redisstore module shares
// tokens across server instances.
type Store interface {
	// Get returns the token stored under key. ok is false when there is
	// none or it has expired.
	Get(ctx context.Context, key string) (token string, ok bool, err error)
	// Set stores token under key for ttl, replacing any previous entry.
	Set(ctx context.Context, key, token string, ttl time.Duration) error
	// Delete removes the entry under key; a missing entry is not an error.
	Delete(ctx context.Context, key string) error
}

// SessionOptions configure a SessionCache. The zero value of each field
// selects its default.
type SessionOptions struct {
	// Store holds the tokens. Default: a new MemoryStore with default
	// options.
	Store Store
	// MaxTTL bounds how long a token is kept. Zero or negative means
	// DefaultSessionMaxTTL.
	MaxTTL time.Duration
	// ExpiryMargin is how long before its "exp" a token stops being
	// served. Default DefaultExpiryMargin; a negative value means no
	// margin, but a token is never served at or after its "exp".
	ExpiryMargin time.Duration
	// FetchTimeout bounds one shared call of a fetch function. Zero or
	// negative means DefaultFetchTimeout.
	FetchTimeout time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// OnStoreError, if set, is told of failed Get and Set calls on the
	// store. The cache treats the store as best effort: a failed Get is a
	// miss and a failed Set leaves the token uncached, and neither fails
	// the request. (Clear does return the store's error.)
	OnStoreError func(error)
	// IsAuthError decides which failures of Do's call mean "this token
	// was refused", so that Do clears the cached entry and retries once
	// with a fresh token. Default: the package's IsAuthError. Set it when
	// the application's functions report a lost sign-in in their own way,
	// for example Better Auth's getAuthUser, which throws
	// ConvexError("Unauthenticated") for a revoked session while the
	// token itself is still accepted; such a classifier should normally
	// also return IsAuthError(err). It must be safe for concurrent use.
	IsAuthError func(error) bool
	// LockTTL is how long the lease on a session's key lasts when Store
	// is a Locker (see Locker): the longest that a holder which died
	// before releasing it keeps other instances waiting. Zero or negative
	// means DefaultLockTTL.
	LockTTL time.Duration
	// LockWait bounds how long a miss waits for another instance's fetch
	// (when Store is a Locker) before it fetches itself. Zero means
	// DefaultLockWait; negative means never wait, and never take a lease.
	LockWait time.Duration
}

// SessionCache caches the Convex token of each signed-in user of a Go
// server that renders pages per request, so that the auth source is asked
// once per token lifetime instead of once per request. It is safe for
// concurrent use.
//
// Entries are keyed by SessionKey(session), a SHA-256 hash of the session
// credential (a cookie value, a session id): the credential itself is never
// written to the store. A token is kept for min(exp - ExpiryMargin - now,
// MaxTTL); a token whose "exp" cannot be read is not cached, and neither is
// an empty one. Clear removes a session's entry at once, for sign-out.
//
// Concurrent misses for the same session share one fetch, which is not
// cancelled when the caller that started it gives up (FetchTimeout bounds
// it). When the Store is a Locker, so are concurrent misses on all the
// instances sharing it: one takes a lease on the session's key and
// fetches, the others wait, at most LockWait, for the token it stores, and
// fetch themselves if it fails, releases its lease without a token, or
// lets it expire (LockTTL). A fetch that overlaps a Clear (of any session) does not store its
// token, so a sign-out is never undone by a fetch that was already running
// in this process; other processes sharing the store should be told of
// sign-outs by the auth source itself (a revoked session fails to fetch).
type SessionCache struct {
	store   Store
	maxTTL  time.Duration
	margin  time.Duration
	timeout time.Duration
	now     func() time.Time
	onErr   func(error)
	isAuth  func(error) bool
	group   singleflight.Group
	waiting func() // test hook: a caller joined a fetch

	lockTTL     time.Duration
	lockWait    time.Duration // negative: no lease
	lockWaiting func()        // test hook: a fetch found the lease held and waits

	// exps holds the "exp" of the tokens lookup re-checks, so that a hit
	// does not parse its token again.
	exps expiryMemo

	// setMu orders stores against Clear: a fetch holds it for reading
	// while it checks epoch and writes, Clear holds it for writing while
	// it bumps epoch, so every write either precedes Clear's Delete or
	// does not happen.
	setMu sync.RWMutex
	epoch uint64 // number of Clear calls; guarded by setMu
}

// NewSessionCache returns a SessionCache. opts may be nil.
func NewSessionCache(opts *SessionOptions) *SessionCache {
	var o SessionOptions
	if opts != nil {
		o = *opts
	}
	c := &SessionCache{
		store:   o.Store,
		maxTTL:  positiveOr(o.MaxTTL, DefaultSessionMaxTTL),
		margin:  max(orDefault(o.ExpiryMargin, DefaultExpiryMargin), 0),
		timeout: positiveOr(o.FetchTimeout, DefaultFetchTimeout),
		now:     o.Now,
		onErr:   o.OnStoreError,
		isAuth:  o.IsAuthError,

		lockTTL:  positiveOr(o.LockTTL, DefaultLockTTL),
		lockWait: orDefault(o.LockWait, DefaultLockWait),
	}
	if c.isAuth == nil {
		c.isAuth = IsAuthError
	}
	if c.store == nil {
		c.store = NewMemoryStore(nil)
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c
}

// SessionKey is the store key for a session credential: the lowercase hex
// SHA-256 of it. Session credentials are long random values, so an
// unsalted hash does not let anyone who can read the store recover them.
func SessionKey(session string) string {
	sum := sha256.Sum256([]byte(session))
	return hex.EncodeToString(sum[:])
}

// Token returns the cached token for session, or calls fetch, caches its
// result and returns it. fetch must return a token for that session (an
// empty one if the user has none). An empty session is ErrNoSession.
func (c *SessionCache) Token(ctx context.Context, session string,
	fetch func(ctx context.Context) (string, error)) (string, error) {
	tok, _, err := c.token(ctx, session, fetch)
	return tok, err
}

func (c *SessionCache) token(ctx context.Context, session string,
	fetch func(context.Context) (string, error)) (tok string, cached bool, err error) {
	if session == "" {
		return "", false, ErrNoSession
	}
	if fetch == nil {
		return "", false, errors.New("tokenprovider: SessionCache needs a fetch function")
	}
	if err := ctx.Err(); err != nil {
		return "", false, err
	}
	key := SessionKey(session)
	if tok, ok := c.lookup(ctx, key); ok {
		return tok, true, nil
	}
	tok, err = c.fetch(ctx, key, fetch, true)
	return tok, false, err
}

// lookup returns the stored token if it is still fresh by this process's
// clock (the store's expiry may run on another clock).
func (c *SessionCache) lookup(ctx context.Context, key string) (string, bool) {
	tok, ok, err := c.store.Get(ctx, key)
	if err != nil {
		if ctx.Err() == nil {
			c.report(fmt.Errorf("tokenprovider: session store Get: %w", err))
		}
		return "", false
	}
	if !ok || tok == "" {
		return "", false
	}
	if _, exp, ok := c.exps.expiry(tok); !ok || !c.now().Before(exp.Add(-c.margin)) {
		return "", false
	}
	return tok, true
}

// fetch calls fetch once for all concurrent callers of the same key and
// stores the result unless a Clear overlapped it. With recheck, the token
// may come from the store instead (see acquire): one that a fetch which
// finished since the caller's lookup stored, or that another instance
// holding the key's lease stores meanwhile.
func (c *SessionCache) fetch(ctx context.Context, key string, fetch func(context.Context) (string, error), recheck bool) (string, error) {
	c.setMu.RLock()
	epoch := c.epoch
	c.setMu.RUnlock()
	return shared(ctx, &c.group, key, c.timeout, func(fctx context.Context) (string, error) {
		if recheck {
			tok, ok, lease, err := c.acquire(fctx, key)
			if err != nil || ok {
				return tok, err
			}
			if lease != nil {
				defer c.release(fctx, lease) // after the store below
			}
		}
		tok, err := fetch(fctx)
		if err != nil {
			return "", err
		}
		ttl := c.ttl(tok)
		if ttl <= 0 {
			return tok, nil
		}
		c.setMu.RLock()
		defer c.setMu.RUnlock()
		if c.epoch != epoch {
			return tok, nil
		}
		if err := c.store.Set(fctx, key, tok, ttl); err != nil {
			c.report(fmt.Errorf("tokenprovider: session store Set: %w", err))
		}
		return tok, nil
	}, c.waiting)
}

// ttl is how long tok may be kept: min(exp - margin - now, MaxTTL), or 0
// when it must not be kept.
func (c *SessionCache) ttl(tok string) time.Duration {
	if tok == "" {
		return 0
	}
	_, exp, ok := Expiry(tok)
	if !ok {
		return 0
	}
	return min(exp.Add(-c.margin).Sub(c.now()), c.maxTTL)
}

// Clear deletes session's token from the store at once, for example on
// sign-out, and returns the store's error if it failed. A fetch for any
// session already running in this process will not store its result.
func (c *SessionCache) Clear(ctx context.Context, session string) error {
	if session == "" {
		return ErrNoSession
	}
	return c.clear(ctx, SessionKey(session))
}

func (c *SessionCache) clear(ctx context.Context, key string) error {
	c.setMu.Lock()
	c.epoch++
	c.setMu.Unlock()
	c.group.Forget(key)
	return c.store.Delete(ctx, key)
}

func (c *SessionCache) report(err error) {
	if c.onErr != nil {
		c.onErr(err)
	}
}

// Do runs call with session's token: the cached one, or one fetched (and
// cached) now. When call fails with an auth error (IsAuthError, or the
// SessionOptions.IsAuthError classifier if one is set) and the token came
// from the cache, the entry is cleared and call is run once
// more with a freshly fetched token, provided that token is non-empty and
// differs from the refused one. Any other failure, including an auth error
// for a token fetched during this Do, is returned as it is, so call never
// runs twice because of an error that could mean it took effect.
func (c *SessionCache) Do(ctx context.Context, session string,
	fetch func(ctx context.Context) (string, error),
	call func(ctx context.Context, token string) error) error {
	if call == nil {
		return errors.New("tokenprovider: SessionCache.Do needs a call function")
	}
	tok, cached, err := c.token(ctx, session, fetch)
	if err != nil {
		return err
	}
	err = call(ctx, tok)
	if err == nil || !cached || !c.isAuth(err) {
		return err
	}
	key := SessionKey(session)
	if derr := c.clear(ctx, key); derr != nil {
		c.report(fmt.Errorf("tokenprovider: session store Delete: %w", derr))
	}
	fresh, ferr := c.fetch(ctx, key, fetch, false)
	if ferr != nil {
		return fmt.Errorf("%w (refetching the token failed: %w)", err, ferr)
	}
	if fresh == "" || fresh == tok {
		if fresh != "" { // do not keep serving the refused token
			if derr := c.clear(ctx, key); derr != nil {
				c.report(fmt.Errorf("tokenprovider: session store Delete: %w", derr))
			}
		}
		return err
	}
	return call(ctx, fresh)
}
