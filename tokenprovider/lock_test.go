package tokenprovider

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// failBound bounds the waits that a broken implementation would make
// endless; a correct one never reaches it.
const failBound = 10 * time.Second

func TestMemoryStoreLease(t *testing.T) {
	clk := newClock()
	s := NewMemoryStore(&MemoryStoreOptions{Now: clk.Now})
	ctx := context.Background()
	l1, err := s.TryLock(ctx, "k", time.Second)
	if err != nil || l1 == nil {
		t.Fatalf("TryLock on a free key = %v, %v", l1, err)
	}
	if l, err := s.TryLock(ctx, "k", time.Second); l != nil || err != nil {
		t.Fatalf("TryLock on a held key = %v, %v; want nil, nil", l, err)
	}
	if l, err := s.TryLock(ctx, "other", time.Second); l == nil || err != nil {
		t.Fatalf("TryLock on another key = %v, %v", l, err)
	}
	if err := l1.Release(ctx); err != nil {
		t.Fatal(err)
	}
	l2, _ := s.TryLock(ctx, "k", time.Second)
	if l2 == nil {
		t.Fatal("the key is still held after Release")
	}
	// l2 expires, l3 takes the key: l2's late Release must not free it.
	clk.Advance(time.Second)
	l3, _ := s.TryLock(ctx, "k", time.Minute)
	if l3 == nil {
		t.Fatal("an expired lease still holds the key")
	}
	if err := l2.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if l, _ := s.TryLock(ctx, "k", time.Second); l != nil {
		t.Fatal("an expired lease's Release freed its successor's lease")
	}
	if err := l1.Release(ctx); err != nil {
		t.Fatalf("releasing twice: %v", err)
	}
	if _, err := s.TryLock(ctx, "k2", 0); err == nil {
		t.Fatal("TryLock with ttl 0 succeeded")
	}
	// Leases are not entries.
	if s.Len() != 0 {
		t.Fatalf("Len = %d with leases only", s.Len())
	}
}

func TestMemoryStoreLeasesSwept(t *testing.T) {
	clk := newClock()
	s := NewMemoryStore(&MemoryStoreOptions{Now: clk.Now, MaxEntries: 4})
	ctx := context.Background()
	for _, k := range []string{"a", "b", "c", "d"} {
		if l, _ := s.TryLock(ctx, k, time.Second); l == nil {
			t.Fatal("TryLock failed")
		}
	}
	clk.Advance(time.Second)
	if l, _ := s.TryLock(ctx, "e", time.Second); l == nil {
		t.Fatal("TryLock failed")
	}
	s.mu.Lock()
	n := len(s.locks)
	s.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d leases kept, want 1 (expired ones swept)", n)
	}
}

// twoInstances returns two SessionCaches sharing store, as two server
// instances sharing a Redis store do, with their lockWaiting hooks closing
// waiting once either has found the lease held.
func twoInstances(store Store, opts SessionOptions) (a, b *SessionCache, waiting <-chan struct{}) {
	opts.Store = store
	a, b = NewSessionCache(&opts), NewSessionCache(&opts)
	ch := make(chan struct{})
	var once sync.Once
	a.lockWaiting = func() { once.Do(func() { close(ch) }) }
	b.lockWaiting = a.lockWaiting
	return a, b, ch
}

// both runs Token on a and b at once and returns their results.
func both(ctx context.Context, a, b *SessionCache, fetch func(context.Context) (string, error)) (toks [2]string, errs [2]error) {
	var wg sync.WaitGroup
	for i, c := range []*SessionCache{a, b} {
		wg.Go(func() { toks[i], errs[i] = c.Token(ctx, session, fetch) })
	}
	wg.Wait()
	return toks, errs
}

// TestSessionCachesSharingAStoreFetchOnce: two instances miss the same
// session at once; the one that takes the lease fetches, and its fetch
// blocks until the other is known to be waiting on the lease, so a second
// fetch could only come from a broken lease.
func TestSessionCachesSharingAStoreFetchOnce(t *testing.T) {
	clk := newClock()
	a, b, waiting := twoInstances(NewMemoryStore(&MemoryStoreOptions{Now: clk.Now}), SessionOptions{Now: clk.Now})
	var calls atomic.Int64
	fetch := func(ctx context.Context) (string, error) {
		calls.Add(1)
		select {
		case <-waiting:
		case <-time.After(failBound):
			return "", errors.New("the other instance never waited on the lease")
		}
		return fakeJWT(clk.Now(), clk.Now().Add(time.Hour), "u"), nil
	}
	toks, errs := both(context.Background(), a, b, fetch)
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("errors %v", errs)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d fetches for one session on two instances, want 1", n)
	}
	if toks[0] != toks[1] || toks[0] == "" {
		t.Fatalf("tokens %q, want one token for both", toks)
	}
	// The lease was released: a later miss takes it at once.
	if l, _ := a.store.(Locker).TryLock(context.Background(), SessionKey(session), time.Second); l == nil {
		t.Fatal("the lease is still held after the fetch")
	}
}

// TestSessionCacheLeaseHolderFails: the holder's fetch fails once the
// other instance waits; the other then takes the lease and fetches.
func TestSessionCacheLeaseHolderFails(t *testing.T) {
	clk := newClock()
	a, b, waiting := twoInstances(NewMemoryStore(&MemoryStoreOptions{Now: clk.Now}), SessionOptions{Now: clk.Now})
	var calls atomic.Int64
	var holderFailed atomic.Bool
	failed := errors.New("the auth server is down")
	fetch := func(ctx context.Context) (string, error) {
		if calls.Add(1) == 1 {
			select {
			case <-waiting:
			case <-time.After(failBound):
				return "", errors.New("the other instance never waited on the lease")
			}
			holderFailed.Store(true)
			return "", failed
		}
		if !holderFailed.Load() {
			return "", errors.New("the waiter fetched while the holder's fetch ran")
		}
		return fakeJWT(clk.Now(), clk.Now().Add(time.Hour), "u"), nil
	}
	toks, errs := both(context.Background(), a, b, fetch)
	if calls.Load() != 2 {
		t.Fatalf("%d fetches, want 2 (the holder's, then the waiter's)", calls.Load())
	}
	// One instance is the holder (its error), the other the waiter.
	nFailed, nTok := 0, 0
	for i := range 2 {
		switch {
		case errors.Is(errs[i], failed):
			nFailed++
		case errs[i] == nil && toks[i] != "":
			nTok++
		default:
			t.Errorf("instance %d: %q, %v", i, toks[i], errs[i])
		}
	}
	if nFailed != 1 || nTok != 1 {
		t.Fatalf("%d failed and %d got a token, want 1 and 1", nFailed, nTok)
	}
}

// TestSessionCacheLeaseHolderDies: a lease nobody releases (its holder
// died) holds the waiter until it expires; the waiter then fetches.
func TestSessionCacheLeaseHolderDies(t *testing.T) {
	clk := newClock()
	store := NewMemoryStore(&MemoryStoreOptions{Now: clk.Now})
	c := NewSessionCache(&SessionOptions{Store: store, Now: clk.Now, LockTTL: 3 * time.Second})
	if l, _ := store.TryLock(context.Background(), SessionKey(session), 3*time.Second); l == nil {
		t.Fatal("TryLock failed")
	}
	var once sync.Once
	var waited atomic.Bool
	c.lockWaiting = func() {
		once.Do(func() { waited.Store(true); clk.Advance(3 * time.Second) }) // the lease runs out
	}
	var calls atomic.Int64
	tok, err := c.Token(context.Background(), session, sessionFetcher(clk, "u", time.Hour, &calls))
	if err != nil || tok == "" || calls.Load() != 1 {
		t.Fatalf("Token = %q, %v after %d fetches", tok, err, calls.Load())
	}
	if !waited.Load() {
		t.Fatal("the cache fetched without waiting on the held lease")
	}
}

// TestSessionCacheLockWaitBound: a holder that neither stores nor lets its
// lease expire delays the waiter by LockWait, after which it fetches.
func TestSessionCacheLockWaitBound(t *testing.T) {
	clk := newClock()
	store := NewMemoryStore(&MemoryStoreOptions{Now: clk.Now})
	const wait = 100 * time.Millisecond
	c := NewSessionCache(&SessionOptions{Store: store, Now: clk.Now, LockWait: wait})
	if l, _ := store.TryLock(context.Background(), SessionKey(session), time.Hour); l == nil {
		t.Fatal("TryLock failed")
	}
	var polls atomic.Int64
	c.lockWaiting = func() { polls.Add(1) }
	var calls atomic.Int64
	start := time.Now()
	tok, err := c.Token(context.Background(), session, sessionFetcher(clk, "u", time.Hour, &calls))
	took := time.Since(start)
	if err != nil || tok == "" || calls.Load() != 1 {
		t.Fatalf("Token = %q, %v after %d fetches", tok, err, calls.Load())
	}
	if took < wait {
		t.Fatalf("fetched after %v, before LockWait (%v)", took, wait)
	}
	// The poll backs off: 10, 20, 40 ms... A poll without a delay would
	// make thousands of rounds in 100 ms.
	if n := polls.Load(); n < 2 || n > 10 {
		t.Fatalf("%d polls in %v, want a few (backed off)", n, took)
	}
}

// TestSessionCacheLockWaitHonoursContexts: a caller waiting on another
// instance's lease returns when its context ends; the shared fetch, bound
// by FetchTimeout, ends with a context error too.
func TestSessionCacheLockWaitHonoursContexts(t *testing.T) {
	clk := newClock()
	store := NewMemoryStore(&MemoryStoreOptions{Now: clk.Now})
	l, _ := store.TryLock(context.Background(), SessionKey(session), time.Hour)
	if l == nil {
		t.Fatal("TryLock failed")
	}
	t.Run("caller", func(t *testing.T) {
		c := NewSessionCache(&SessionOptions{Store: store, Now: clk.Now})
		ctx, cancel := context.WithCancel(context.Background())
		var once sync.Once
		c.lockWaiting = func() { once.Do(cancel) }
		var calls atomic.Int64
		fetch := sessionFetcher(clk, "u", time.Hour, &calls)
		if _, err := c.Token(ctx, session, fetch); !errors.Is(err, context.Canceled) {
			t.Fatalf("Token = %v, want context.Canceled", err)
		}
		// The shared fetch goes on waiting for the holder; once the
		// holder is gone, it fetches, and a later caller gets its token
		// (by joining it or from the store): one fetch in all.
		if err := l.Release(context.Background()); err != nil {
			t.Fatal(err)
		}
		if tok, err := c.Token(context.Background(), session, fetch); err != nil || tok == "" || calls.Load() != 1 {
			t.Fatalf("Token = %q, %v after %d fetches", tok, err, calls.Load())
		}
	})
	t.Run("FetchTimeout", func(t *testing.T) {
		if l, _ := store.TryLock(context.Background(), "held", time.Hour); l == nil {
			t.Fatal("TryLock failed")
		}
		c := NewSessionCache(&SessionOptions{Store: keyRewriter{store, "held"}, Now: clk.Now, FetchTimeout: 50 * time.Millisecond})
		var calls atomic.Int64
		if _, err := c.Token(context.Background(), session, sessionFetcher(clk, "u", time.Hour, &calls)); !errors.Is(err, context.DeadlineExceeded) || calls.Load() != 0 {
			t.Fatalf("Token = %v after %d fetches, want context.DeadlineExceeded and none", err, calls.Load())
		}
	})
}

// keyRewriter is a store that files every key under one.
type keyRewriter struct {
	*MemoryStore
	key string
}

func (s keyRewriter) Get(ctx context.Context, _ string) (string, bool, error) {
	return s.MemoryStore.Get(ctx, s.key)
}
func (s keyRewriter) Set(ctx context.Context, _, tok string, ttl time.Duration) error {
	return s.MemoryStore.Set(ctx, s.key, tok, ttl)
}
func (s keyRewriter) Delete(ctx context.Context, _ string) error {
	return s.MemoryStore.Delete(ctx, s.key)
}
func (s keyRewriter) TryLock(ctx context.Context, _ string, ttl time.Duration) (Lease, error) {
	return s.MemoryStore.TryLock(ctx, s.key, ttl)
}

// TestSessionCacheNegativeLockWaitTakesNoLease: with LockWait < 0 both
// instances fetch, even though the store is a Locker.
func TestSessionCacheNegativeLockWaitTakesNoLease(t *testing.T) {
	clk := newClock()
	a, b, _ := twoInstances(NewMemoryStore(&MemoryStoreOptions{Now: clk.Now}), SessionOptions{Now: clk.Now, LockWait: -1})
	var calls atomic.Int64
	var inFetch sync.WaitGroup
	inFetch.Add(2)
	bothIn := make(chan struct{})
	go func() { inFetch.Wait(); close(bothIn) }()
	fetch := func(ctx context.Context) (string, error) {
		calls.Add(1)
		inFetch.Done()
		select {
		case <-bothIn:
		case <-time.After(failBound):
			return "", errors.New("only one instance fetched")
		}
		return fakeJWT(clk.Now(), clk.Now().Add(time.Hour), "u"), nil
	}
	if _, errs := both(context.Background(), a, b, fetch); errs[0] != nil || errs[1] != nil {
		t.Fatalf("errors %v", errs)
	}
	if calls.Load() != 2 {
		t.Fatalf("%d fetches, want 2", calls.Load())
	}
}

// failingLocker is a MemoryStore whose TryLock fails.
type failingLocker struct{ *MemoryStore }

func (failingLocker) TryLock(context.Context, string, time.Duration) (Lease, error) {
	return nil, errors.New("lock service down")
}

func TestSessionCacheTryLockErrorIsBestEffort(t *testing.T) {
	clk := newClock()
	var reported []error
	var mu sync.Mutex
	c := NewSessionCache(&SessionOptions{Store: failingLocker{NewMemoryStore(&MemoryStoreOptions{Now: clk.Now})},
		Now: clk.Now, OnStoreError: func(err error) { mu.Lock(); reported = append(reported, err); mu.Unlock() }})
	var calls atomic.Int64
	tok, err := c.Token(context.Background(), session, sessionFetcher(clk, "u", time.Hour, &calls))
	if err != nil || tok == "" || calls.Load() != 1 {
		t.Fatalf("Token = %q, %v after %d fetches", tok, err, calls.Load())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reported) != 1 {
		t.Fatalf("reported %v, want the TryLock error", reported)
	}
}

// TestSessionCacheRetryTakesNoLease: Do's refetch after a refused token
// does not wait on a lease another instance holds: it must not get a
// token that instance fetched before the refusal, and a retry is rare.
func TestSessionCacheRetryTakesNoLease(t *testing.T) {
	clk := newClock()
	store := NewMemoryStore(&MemoryStoreOptions{Now: clk.Now})
	c := NewSessionCache(&SessionOptions{Store: store, Now: clk.Now, LockWait: failBound})
	ctx := context.Background()
	refused := fakeJWT(clk.Now(), clk.Now().Add(time.Hour), "refused")
	_ = store.Set(ctx, SessionKey(session), refused, time.Hour)
	if l, _ := store.TryLock(ctx, SessionKey(session), time.Hour); l == nil {
		t.Fatal("TryLock failed")
	}
	var calls atomic.Int64
	var used []string
	start := time.Now()
	err := c.Do(ctx, session, sessionFetcher(clk, "u", time.Hour, &calls), func(_ context.Context, tok string) error {
		used = append(used, tok)
		if tok == refused {
			return authErr{}
		}
		return nil
	})
	if err != nil || len(used) != 2 || calls.Load() != 1 {
		t.Fatalf("Do = %v, tokens %d, fetches %d", err, len(used), calls.Load())
	}
	if took := time.Since(start); took > failBound/2 {
		t.Fatalf("the retry waited %v on the lease", took)
	}
}

type authErr struct{}

func (authErr) Error() string   { return "token refused" }
func (authErr) AuthError() bool { return true }
