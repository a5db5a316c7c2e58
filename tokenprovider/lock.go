package tokenprovider

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// Defaults of the fetch lease (see Locker).
const (
	// DefaultLockTTL is how long a SessionCache's lease on a session's key
	// lasts unless released: the longest a crashed holder keeps the other
	// instances waiting. It covers a token exchange (betterauth's
	// DefaultTimeout is 10 seconds).
	DefaultLockTTL = 15 * time.Second
	// DefaultLockWait is the longest a SessionCache waits for another
	// instance's fetch before it fetches itself.
	DefaultLockWait = 15 * time.Second
)

// Bounds of the poll while another instance holds the lease: the first
// look comes after lockPollMin, each later one after twice the previous
// delay, at most lockPollMax, each delay drawn between half and all of it.
const (
	lockPollMin = 10 * time.Millisecond
	lockPollMax = 250 * time.Millisecond
	// releaseTimeout bounds giving a lease back; a lease that could not be
	// released expires by its TTL.
	releaseTimeout = 5 * time.Second
)

// Locker is an optional interface of a Store shared by several server
// instances: an exclusive, expiring lease on a key, seen by every
// SessionCache using the store. When a SessionCache misses a session's
// token and its store is a Locker, it takes the lease on the session's key
// before it fetches, and releases it once the token is stored. Another
// instance missing the same session meanwhile finds the lease taken and
// waits for the token to appear in the store instead of fetching one
// itself, so that first requests of a session arriving at several
// instances at once cost one fetch, not one per instance.
//
// A Store without it works as before: each instance fetches on its own
// miss. MemoryStore implements it (for SessionCaches sharing one
// MemoryStore), and so does the redisstore module's Store.
type Locker interface {
	// TryLock takes the lease on key for ttl if nobody holds it, and
	// returns it. If another holder has an unexpired lease on key, it
	// returns a nil Lease and a nil error, without waiting.
	TryLock(ctx context.Context, key string, ttl time.Duration) (Lease, error)
}

// Lease is a lease Locker.TryLock granted.
type Lease interface {
	// Release ends the lease if it is still this one: a lease that has
	// expired, and perhaps been granted to another holder since, is left
	// alone. Releasing twice is not an error.
	Release(ctx context.Context) error
}

// acquire is the start of a shared fetch that may use a token another
// fetch stored: it reads the store once more (a fetch that finished
// between the caller's lookup and now may have stored a token that will
// do) and, if the store is a Locker, takes the key's lease or, while
// another instance holds it, waits for that instance's token.
//
// It returns the token found (ok), or tells the caller to fetch, under
// lease if it got one (which the caller releases after storing). It
// returns an error only when ctx ends. A failing store is reported and
// then fetched around, as Get and Set failures are.
func (c *SessionCache) acquire(ctx context.Context, key string) (tok string, ok bool, lease Lease, err error) {
	locker, isLocker := c.store.(Locker)
	if !isLocker || c.lockWait < 0 {
		tok, ok = c.lookup(ctx, key)
		return tok, ok, nil, nil
	}
	var giveUp *time.Timer // armed at the first wait
	defer func() {
		if giveUp != nil {
			giveUp.Stop()
		}
	}()
	delay := lockPollMin
	for {
		l, err := locker.TryLock(ctx, key, c.lockTTL)
		if err != nil {
			if ctx.Err() != nil {
				return "", false, nil, ctx.Err()
			}
			c.report(fmt.Errorf("tokenprovider: session store TryLock: %w", err))
			return "", false, nil, nil
		}
		// Held or not, the token may be there: a holder stores it before
		// it releases the lease, possibly since the caller's lookup.
		if tok, ok := c.lookup(ctx, key); ok {
			if l != nil {
				c.release(ctx, l)
			}
			return tok, true, nil, nil
		}
		if l != nil {
			return "", false, l, nil
		}
		if giveUp == nil {
			giveUp = time.NewTimer(c.lockWait)
		}
		if c.lockWaiting != nil {
			c.lockWaiting()
		}
		wait := time.NewTimer(delay/2 + rand.N(delay/2+1))
		select {
		case <-wait.C:
		case <-giveUp.C:
			wait.Stop()
			// The holder is slow or gone: fetch without the lease rather
			// than wait any longer (after one last look).
			tok, ok := c.lookup(ctx, key)
			return tok, ok, nil, nil
		case <-ctx.Done():
			wait.Stop()
			return "", false, nil, ctx.Err()
		}
		delay = min(2*delay, lockPollMax)
	}
}

// release gives lease back, with a context of its own: ctx may be about to
// end, and a lease left behind keeps the other instances waiting until its
// TTL runs out.
func (c *SessionCache) release(ctx context.Context, lease Lease) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	if err := lease.Release(rctx); err != nil {
		c.report(fmt.Errorf("tokenprovider: session store lease Release: %w", err))
	}
}
