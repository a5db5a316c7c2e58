package redisstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/convexgo/convex/tokenprovider"
)

// failBound bounds the waits that a broken lease would make endless; a
// working one never reaches it.
const failBound = 10 * time.Second

func TestLease(t *testing.T) {
	rdb := startRedis(t)
	s := New(rdb, nil)
	ctx := context.Background()
	raw := DefaultPrefix + "lock:k"
	l1, err := s.TryLock(ctx, "k", 10*time.Second)
	if err != nil || l1 == nil {
		t.Fatalf("TryLock on a free key = %v, %v", l1, err)
	}
	if ttl, _ := rdb.PTTL(ctx, raw).Result(); ttl <= 9*time.Second || ttl > 10*time.Second {
		t.Fatalf("PTTL of the lease = %v, want its 10 s", ttl)
	}
	if l, err := s.TryLock(ctx, "k", 10*time.Second); l != nil || err != nil {
		t.Fatalf("TryLock on a held key = %v, %v; want nil, nil", l, err)
	}
	// A second client (another instance) sees the lease too.
	rdb2 := redis.NewClient(&redis.Options{Addr: rdb.Options().Addr})
	defer rdb2.Close()
	if l, err := New(rdb2, nil).TryLock(ctx, "k", 10*time.Second); l != nil || err != nil {
		t.Fatalf("another instance's TryLock on a held key = %v, %v", l, err)
	}
	// The lease is not an entry.
	if _, ok, _ := s.Get(ctx, "k"); ok {
		t.Fatal("the lease reads as a token")
	}
	if err := l1.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := rdb.Exists(ctx, raw).Result(); n != 0 {
		t.Fatal("Release left the lease's key")
	}
	// l2's lease expires (as if its holder hung); l3 takes the key. l2's
	// late Release must leave l3's lease alone.
	l2, _ := s.TryLock(ctx, "k", 10*time.Second)
	if l2 == nil {
		t.Fatal("TryLock after Release failed")
	}
	rdb.Del(ctx, raw) // the expiry, without waiting for it
	l3, _ := s.TryLock(ctx, "k", 10*time.Second)
	if l3 == nil {
		t.Fatal("TryLock on an expired lease's key failed")
	}
	if err := l2.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := rdb.Exists(ctx, raw).Result(); n != 1 {
		t.Fatal("an expired lease's Release deleted its successor's lease")
	}
	if err := l3.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l3.Release(ctx); err != nil {
		t.Fatalf("releasing twice: %v", err)
	}
	// Redis expires leases by itself.
	if l, _ := s.TryLock(ctx, "short", time.Millisecond); l == nil {
		t.Fatal("TryLock failed")
	}
	deadline := time.Now().Add(failBound)
	for {
		if l, _ := s.TryLock(ctx, "short", time.Second); l != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a 1 ms lease still held after 10 s")
		}
		time.Sleep(5 * time.Millisecond) // polling interval
	}
}

// watchedStore is an instance's Store that calls held each time TryLock
// finds another instance's lease: the instance is then known to wait.
type watchedStore struct {
	*Store
	held func()
}

func (w watchedStore) TryLock(ctx context.Context, key string, ttl time.Duration) (tokenprovider.Lease, error) {
	l, err := w.Store.TryLock(ctx, key, ttl)
	if l == nil && err == nil {
		w.held()
	}
	return l, err
}

// instances returns n SessionCaches, each with its own Redis client and
// Store on rdb's server, as n server instances have, and a channel closed
// once one of them has found another's lease held.
func instances(t *testing.T, rdb *redis.Client, n int) ([]*tokenprovider.SessionCache, <-chan struct{}) {
	waiting := make(chan struct{})
	var once sync.Once
	held := func() { once.Do(func() { close(waiting) }) }
	var out []*tokenprovider.SessionCache
	for range n {
		c := redis.NewClient(&redis.Options{Addr: rdb.Options().Addr})
		t.Cleanup(func() { c.Close() })
		out = append(out, tokenprovider.NewSessionCache(&tokenprovider.SessionOptions{
			Store: watchedStore{Store: New(c, nil), held: held}}))
	}
	return out, waiting
}

// atOnce runs Token for session on every cache at once.
func atOnce(ctx context.Context, caches []*tokenprovider.SessionCache, session string,
	fetch func(context.Context) (string, error)) ([]string, []error) {
	toks, errs := make([]string, len(caches)), make([]error, len(caches))
	var wg sync.WaitGroup
	for i, c := range caches {
		wg.Go(func() { toks[i], errs[i] = c.Token(ctx, session, fetch) })
	}
	wg.Wait()
	return toks, errs
}

// TestInstancesExchangeOnce: two instances miss a new session at the same
// moment. The fetch blocks until one instance is known to wait on the
// other's lease, so a second fetch could only come from a broken lease.
func TestInstancesExchangeOnce(t *testing.T) {
	rdb := startRedis(t)
	caches, waiting := instances(t, rdb, 2)
	const session = "new-session-cookie-4b1e"
	var calls atomic.Int64
	fetch := func(context.Context) (string, error) {
		n := calls.Add(1)
		select {
		case <-waiting:
		case <-time.After(failBound):
			return "", errors.New("no instance waited on the lease")
		}
		return jwt(fmt.Sprint("exchange-", n), time.Now().Add(time.Hour)), nil
	}
	toks, errs := atOnce(context.Background(), caches, session, fetch)
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("errors %v", errs)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d exchanges for one session on two instances, want 1", n)
	}
	if toks[0] != toks[1] || toks[0] == "" {
		t.Fatal("the instances got different tokens")
	}
	if n, _ := rdb.Exists(context.Background(), DefaultPrefix+"lock:"+tokenprovider.SessionKey(session)).Result(); n != 0 {
		t.Fatal("the lease is still in Redis after the exchange")
	}
}

// TestInstancesLeaseHolderFails: the holder's exchange fails once the
// other instance waits; the other then takes the lease and exchanges.
func TestInstancesLeaseHolderFails(t *testing.T) {
	rdb := startRedis(t)
	caches, waiting := instances(t, rdb, 2)
	var calls atomic.Int64
	var holderFailed atomic.Bool
	failed := errors.New("the auth server answered 500")
	fetch := func(context.Context) (string, error) {
		if calls.Add(1) == 1 {
			select {
			case <-waiting:
			case <-time.After(failBound):
				return "", errors.New("no instance waited on the lease")
			}
			holderFailed.Store(true)
			return "", failed
		}
		if !holderFailed.Load() {
			return "", errors.New("the waiter exchanged while the holder's exchange ran")
		}
		return jwt("second", time.Now().Add(time.Hour)), nil
	}
	toks, errs := atOnce(context.Background(), caches, "s", fetch)
	if calls.Load() != 2 {
		t.Fatalf("%d exchanges, want 2 (the holder's, then the waiter's)", calls.Load())
	}
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

// TestInstancesLeaseHolderDies: a lease whose holder died (never released)
// keeps the other instance waiting until Redis expires it; that instance
// then exchanges.
func TestInstancesLeaseHolderDies(t *testing.T) {
	rdb := startRedis(t)
	caches, waiting := instances(t, rdb, 1)
	const session = "s"
	const ttl = 300 * time.Millisecond
	if l, _ := New(rdb, nil).TryLock(context.Background(), tokenprovider.SessionKey(session), ttl); l == nil {
		t.Fatal("TryLock failed")
	}
	var calls atomic.Int64
	start := time.Now()
	tok, err := caches[0].Token(context.Background(), session, func(context.Context) (string, error) {
		calls.Add(1)
		return jwt("after", time.Now().Add(time.Hour)), nil
	})
	if err != nil || tok == "" || calls.Load() != 1 {
		t.Fatalf("Token = %q, %v after %d exchanges", tok, err, calls.Load())
	}
	select {
	case <-waiting:
	default:
		t.Fatal("the instance exchanged without waiting on the dead holder's lease")
	}
	if took := time.Since(start); took < ttl/2 {
		t.Fatalf("exchanged after %v, before the lease (%v) could expire", took, ttl)
	}
}

// TestInstancesLeaseWaitHonoursContext: a request waiting on another
// instance's lease returns when its context ends.
func TestInstancesLeaseWaitHonoursContext(t *testing.T) {
	rdb := startRedis(t)
	caches, waiting := instances(t, rdb, 1)
	const session = "s"
	l, _ := New(rdb, nil).TryLock(context.Background(), tokenprovider.SessionKey(session), time.Minute)
	if l == nil {
		t.Fatal("TryLock failed")
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-waiting:
		case <-t.Context().Done(): // the test failed before the wait
		}
		cancel()
	}()
	var calls atomic.Int64
	fetch := func(context.Context) (string, error) {
		calls.Add(1)
		return jwt("u", time.Now().Add(time.Hour)), nil
	}
	if _, err := caches[0].Token(ctx, session, fetch); !errors.Is(err, context.Canceled) {
		t.Fatalf("Token = %v, want context.Canceled", err)
	}
	// The shared wait goes on until the holder is gone; then it
	// exchanges, and a later request gets that token: one exchange.
	if err := l.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	if tok, err := caches[0].Token(context.Background(), session, fetch); err != nil || tok == "" || calls.Load() != 1 {
		t.Fatalf("Token = %q, %v after %d exchanges", tok, err, calls.Load())
	}
}
