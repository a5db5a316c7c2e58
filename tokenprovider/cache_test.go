package tokenprovider

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

func TestCacheConfirmedTokenAnswersForcedRefresh(t *testing.T) {
	clk := newClock()
	p := numbered(clk, time.Hour)
	c := NewCache(p, &CacheOptions{Now: clk.Now})
	ctx := context.Background()

	// The official client's start-up: an unforced fetch, confirmation,
	// then a forced fetch at once.
	t1, err := c.Token(ctx, false)
	if err != nil || t1 == "" {
		t.Fatal(t1, err)
	}
	c.Confirm(t1)
	clk.Advance(9 * time.Second)
	t2, err := c.Token(ctx, true)
	if err != nil || t2 != t1 {
		t.Fatalf("forced refresh 9 s after confirmation = %q, %v; want the confirmed token", t2, err)
	}
	if n := p.calls.Load(); n != 1 {
		t.Fatalf("provider called %d times, want 1", n)
	}
	// Past the window, a forced refresh reaches the provider.
	clk.Advance(time.Second)
	t3, err := c.Token(ctx, true)
	if err != nil || t3 == t1 {
		t.Fatalf("forced refresh 10 s after confirmation = %q, %v; want a new token", t3, err)
	}
	if n, f := p.calls.Load(), p.forced.Load(); n != 2 || f != 1 {
		t.Fatalf("provider called %d times (%d forced), want 2 (1 forced)", n, f)
	}
}

func TestCacheConfirmWindowOption(t *testing.T) {
	clk := newClock()
	p := numbered(clk, time.Hour)
	ctx := context.Background()

	c := NewCache(p, &CacheOptions{Now: clk.Now, ConfirmWindow: 30 * time.Second})
	tok, _ := c.Token(ctx, false)
	c.Confirm(tok)
	clk.Advance(29 * time.Second)
	if got, _ := c.Token(ctx, true); got != tok || p.calls.Load() != 1 {
		t.Fatalf("30 s window, 29 s later: %q after %d calls", got, p.calls.Load())
	}

	off := NewCache(p, &CacheOptions{Now: clk.Now, ConfirmWindow: -1})
	tok, _ = off.Token(ctx, false)
	off.Confirm(tok)
	if got, _ := off.Token(ctx, true); got == tok {
		t.Fatal("window turned off, but a forced refresh was answered from the cache")
	}
}

func TestCacheUnforcedServedUntilExpiryMargin(t *testing.T) {
	clk := newClock()
	p := numbered(clk, time.Minute)
	c := NewCache(p, &CacheOptions{Now: clk.Now})
	ctx := context.Background()
	t1, _ := c.Token(ctx, false)
	clk.Advance(49 * time.Second) // exp - 11 s
	if got, _ := c.Token(ctx, false); got != t1 {
		t.Fatal("an unforced request 11 s before exp was not served from the cache")
	}
	// An unconfirmed token does not answer forced requests.
	if got, _ := c.Token(ctx, true); got == t1 {
		t.Fatal("a forced request was answered with an unconfirmed token")
	}
	t2, _ := c.Token(ctx, false)
	clk.Advance(50 * time.Second) // t2's exp - 10 s
	if got, _ := c.Token(ctx, false); got == t2 {
		t.Fatal("a token was served 10 s before its exp (the margin)")
	}
	if n := p.calls.Load(); n != 3 {
		t.Fatalf("provider called %d times, want 3", n)
	}
}

func TestCacheNeverServesExpiredToken(t *testing.T) {
	clk := newClock()
	// Tokens live 15 s; a confirmation window of 10 s and no margin means
	// a confirmed token could be asked for past its exp.
	p := numbered(clk, 15*time.Second)
	for _, margin := range []time.Duration{-1, 0, 3 * time.Second} {
		c := NewCache(p, &CacheOptions{Now: clk.Now, ExpiryMargin: margin})
		effective := margin
		if margin == 0 {
			effective = DefaultExpiryMargin
		} else if margin < 0 {
			effective = 0
		}
		rng := rand.New(rand.NewPCG(1, uint64(margin)))
		ctx := context.Background()
		var last string
		for i := range 2000 {
			switch rng.IntN(4) {
			case 0:
				clk.Advance(time.Duration(rng.IntN(4000)) * time.Millisecond)
			case 1:
				c.Confirm(last)
			}
			before := p.calls.Load()
			tok, err := c.Token(ctx, rng.IntN(2) == 0)
			if err != nil {
				t.Fatal(err)
			}
			_, exp, _ := Expiry(tok)
			now := clk.Now()
			if !now.Before(exp) {
				t.Fatalf("margin %v, step %d: token with exp %v returned at %v", margin, i, exp, now)
			}
			if p.calls.Load() == before && !now.Before(exp.Add(-effective)) {
				t.Fatalf("margin %v, step %d: cached token with exp %v served at %v", margin, i, exp, now)
			}
			last = tok
		}
	}
}

func TestCacheConfirmedButNearExpiry(t *testing.T) {
	clk := newClock()
	p := numbered(clk, 15*time.Second)
	c := NewCache(p, &CacheOptions{Now: clk.Now})
	ctx := context.Background()
	tok, _ := c.Token(ctx, false)
	clk.Advance(6 * time.Second) // exp - 9 s: inside the margin
	c.Confirm(tok)
	if got, _ := c.Token(ctx, true); got == tok {
		t.Fatal("a confirmed token inside the expiry margin was served")
	}
}

func TestCacheRejectThenForcedRefresh(t *testing.T) {
	clk := newClock()
	p := numbered(clk, time.Hour)
	c := NewCache(p, &CacheOptions{Now: clk.Now})
	ctx := context.Background()
	t1, _ := c.Token(ctx, false)
	c.Confirm(t1)
	before := p.calls.Load()

	c.Reject(t1)
	t2, err := c.Token(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if t2 == t1 {
		t.Fatal("the rejected token was returned")
	}
	if n := p.calls.Load() - before; n != 1 {
		t.Fatalf("forced refresh after Reject made %d fetches, want 1", n)
	}
	// Unforced requests now get the new token from the cache.
	if got, _ := c.Token(ctx, false); got != t2 || p.calls.Load()-before != 1 {
		t.Fatalf("after the refresh: %q with %d fetches", got, p.calls.Load()-before)
	}
}

func TestCacheRejectedTokenFromProviderIsNotCached(t *testing.T) {
	clk := newClock()
	same := fakeJWT(clk.Now(), clk.Now().Add(time.Hour), "same")
	p := &fakeProvider{next: func(context.Context, int64, bool) (string, error) { return same, nil }}
	c := NewCache(p, &CacheOptions{Now: clk.Now})
	ctx := context.Background()
	tok, _ := c.Token(ctx, false)
	c.Confirm(tok)
	c.Reject(tok)
	// The provider has nothing better: the caller gets what it returned,
	// but the cache does not keep it.
	if got, _ := c.Token(ctx, true); got != same {
		t.Fatalf("got %q", got)
	}
	if got, _ := c.Token(ctx, false); got != same || p.calls.Load() != 3 {
		t.Fatalf("the rejected token was served from the cache (%d calls)", p.calls.Load())
	}
	// A later confirmation makes it good again.
	c.Confirm(same)
	if _, _ = c.Token(ctx, true); p.calls.Load() != 3 {
		t.Fatalf("a re-confirmed token was not served (%d calls)", p.calls.Load())
	}
}

func TestCacheRejectDuringFetch(t *testing.T) {
	clk := newClock()
	old := fakeJWT(clk.Now(), clk.Now().Add(time.Hour), "old")
	fresh := fakeJWT(clk.Now(), clk.Now().Add(time.Hour), "fresh")
	started, release := make(chan struct{}), make(chan struct{})
	p := &fakeProvider{next: func(_ context.Context, n int64, _ bool) (string, error) {
		if n == 1 {
			close(started)
			<-release
			return old, nil
		}
		return fresh, nil
	}}
	c := NewCache(p, &CacheOptions{Now: clk.Now})
	ctx := context.Background()

	done := make(chan string)
	go func() {
		tok, _ := c.Token(ctx, true)
		done <- tok
	}()
	<-started
	c.Reject(old) // the deployment refused the old token while a fetch ran
	if got, _ := c.Token(ctx, true); got != fresh {
		t.Fatalf("forced refresh after Reject joined the older fetch: got %q", got)
	}
	close(release)
	if got := <-done; got != old {
		t.Fatalf("the older fetch's caller got %q", got)
	}
	if got, _ := c.Token(ctx, false); got != fresh {
		t.Fatalf("the older fetch's result replaced the new token: %q", got)
	}
	if n := p.calls.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2", n)
	}
}

// concurrentTokens calls Token n times at once and waits until every caller
// has joined the one fetch before letting the provider answer.
func concurrentTokens(t testing.TB, c *Cache, p *fakeProvider, n int, force bool) []string {
	t.Helper()
	var joined sync.WaitGroup
	joined.Add(n)
	c.waiting = joined.Done
	inner := p.next
	p.next = func(ctx context.Context, k int64, f bool) (string, error) {
		joined.Wait()
		return inner(ctx, k, f)
	}
	defer func() { c.waiting, p.next = nil, inner }()

	out := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { out[i], errs[i] = c.Token(context.Background(), force) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestCache1000ConcurrentCallersOneFetch(t *testing.T) {
	for _, force := range []bool{false, true} {
		t.Run(fmt.Sprintf("force=%v", force), func(t *testing.T) {
			clk := newClock()
			p := numbered(clk, time.Hour)
			c := NewCache(p, &CacheOptions{Now: clk.Now})
			toks := concurrentTokens(t, c, p, 1000, force)
			if n := p.calls.Load(); n != 1 {
				t.Fatalf("1000 concurrent callers made %d fetches, want 1", n)
			}
			for _, tok := range toks {
				if tok != toks[0] {
					t.Fatalf("callers got different tokens: %q and %q", toks[0], tok)
				}
			}
			// Within the validity window after confirmation, 1000 more
			// (forced) callers make no fetch at all.
			c.Confirm(toks[0])
			var wg sync.WaitGroup
			for range 1000 {
				wg.Go(func() {
					if tok, err := c.Token(context.Background(), true); err != nil || tok != toks[0] {
						t.Errorf("Token = %q, %v", tok, err)
					}
				})
			}
			wg.Wait()
			if n := p.calls.Load(); n != 1 {
				t.Fatalf("%d fetches after confirmation, want still 1", n)
			}
		})
	}
}

func TestCacheCallerContextDoesNotCancelSharedFetch(t *testing.T) {
	clk := newClock()
	started, release := make(chan struct{}), make(chan struct{})
	var fetchErr error
	p := &fakeProvider{next: func(ctx context.Context, _ int64, _ bool) (string, error) {
		close(started)
		<-release
		fetchErr = ctx.Err()
		return fakeJWT(clk.Now(), clk.Now().Add(time.Hour), "u"), nil
	}}
	c := NewCache(p, &CacheOptions{Now: clk.Now})

	ctxA, cancelA := context.WithCancel(context.Background())
	errA := make(chan error)
	go func() {
		_, err := c.Token(ctxA, false)
		errA <- err
	}()
	<-started
	joined := make(chan struct{})
	c.waiting = func() { close(joined) }
	resB := make(chan string)
	go func() {
		tok, err := c.Token(context.Background(), false)
		if err != nil {
			t.Error(err)
		}
		resB <- tok
	}()
	<-joined
	cancelA()
	if err := <-errA; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller got %v, want context.Canceled", err)
	}
	close(release)
	if tok := <-resB; tok == "" {
		t.Fatal("the second caller got no token")
	}
	if fetchErr != nil {
		t.Fatalf("the shared fetch's ctx ended: %v", fetchErr)
	}
	if n := p.calls.Load(); n != 1 {
		t.Fatalf("%d fetches, want 1", n)
	}
	// The result was cached for later callers.
	if _, err := c.Token(context.Background(), false); err != nil || p.calls.Load() != 1 {
		t.Fatalf("late result not cached: %v, %d fetches", err, p.calls.Load())
	}
	// A caller whose ctx is already done does not start a fetch.
	done, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Token(done, true); !errors.Is(err, context.Canceled) || p.calls.Load() != 1 {
		t.Fatalf("done ctx: %v, %d fetches", err, p.calls.Load())
	}
}

func TestCacheFetchTimeout(t *testing.T) {
	p := &fakeProvider{next: func(ctx context.Context, _ int64, _ bool) (string, error) {
		<-ctx.Done()
		return "", ctx.Err()
	}}
	c := NewCache(p, &CacheOptions{FetchTimeout: time.Millisecond})
	if _, err := c.Token(context.Background(), false); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want DeadlineExceeded", err)
	}
}

func TestCacheProviderErrorNotCached(t *testing.T) {
	clk := newClock()
	boom := errors.New("auth server down")
	p := &fakeProvider{next: func(_ context.Context, n int64, _ bool) (string, error) {
		if n == 1 {
			return "", boom
		}
		return fakeJWT(clk.Now(), clk.Now().Add(time.Hour), "u"), nil
	}}
	c := NewCache(p, &CacheOptions{Now: clk.Now})
	if _, err := c.Token(context.Background(), false); !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
	if tok, err := c.Token(context.Background(), false); err != nil || tok == "" {
		t.Fatalf("second call: %q, %v", tok, err)
	}
}

func TestCacheEmptyTokenSignsOut(t *testing.T) {
	clk := newClock()
	signedIn := true
	p := &fakeProvider{next: func(context.Context, int64, bool) (string, error) {
		if signedIn {
			return fakeJWT(clk.Now(), clk.Now().Add(time.Hour), "u"), nil
		}
		return "", nil
	}}
	c := NewCache(p, &CacheOptions{Now: clk.Now})
	ctx := context.Background()
	tok, _ := c.Token(ctx, false)
	signedIn = false
	if got, err := c.Token(ctx, true); got != "" || err != nil {
		t.Fatalf("got %q, %v", got, err)
	}
	if got, _ := c.Token(ctx, false); got != "" {
		t.Fatalf("the token %q was served after the provider said there is none (had %q)", got, tok)
	}
}

func TestCacheClear(t *testing.T) {
	clk := newClock()
	p := numbered(clk, time.Hour)
	c := NewCache(p, &CacheOptions{Now: clk.Now})
	ctx := context.Background()
	tok, _ := c.Token(ctx, false)
	c.Confirm(tok)
	c.Clear()
	if got, _ := c.Token(ctx, false); got == tok {
		t.Fatal("Clear did not drop the token")
	}
}

func TestCacheOpaqueTokenOnlyInsideConfirmWindow(t *testing.T) {
	clk := newClock()
	p := &fakeProvider{next: func(_ context.Context, n int64, _ bool) (string, error) {
		return fmt.Sprintf("opaque-%d", n), nil
	}}
	c := NewCache(p, &CacheOptions{Now: clk.Now})
	ctx := context.Background()
	t1, _ := c.Token(ctx, false)
	t2, _ := c.Token(ctx, false)
	if t1 == t2 {
		t.Fatal("an unconfirmed token without exp was served")
	}
	c.Confirm(t2)
	if got, _ := c.Token(ctx, true); got != t2 {
		t.Fatal("a confirmed token without exp was not served inside the window")
	}
	clk.Advance(DefaultConfirmWindow)
	if got, _ := c.Token(ctx, false); got == t2 {
		t.Fatal("a token without exp was served after the window")
	}
}

func TestCacheWithVerifier(t *testing.T) {
	clk := newClock()
	v := newTestVerifier(t, clk, "app")
	good := sign(t, ES256, "ec", validClaims())
	expired := validClaims()
	expired["exp"] = t0.Add(-time.Minute).Unix()
	bad := sign(t, ES256, "ec", expired)

	p := &fakeProvider{next: func(context.Context, int64, bool) (string, error) { return good, nil }}
	c := NewCache(p, &CacheOptions{Now: clk.Now, Verifier: v})
	ctx := context.Background()
	if tok, err := c.Token(ctx, false); err != nil || tok != good {
		t.Fatalf("Token = %q, %v", tok, err)
	}
	// Verified counts as confirmed: a forced refresh is answered at once.
	if tok, err := c.Token(ctx, true); err != nil || tok != good || p.calls.Load() != 1 {
		t.Fatalf("forced refresh after verification: %q, %v, %d calls", tok, err, p.calls.Load())
	}

	p2 := &fakeProvider{next: func(context.Context, int64, bool) (string, error) { return bad, nil }}
	c2 := NewCache(p2, &CacheOptions{Now: clk.Now, Verifier: v})
	_, err := c2.Token(ctx, false)
	if !errors.Is(err, ErrExpired) || !IsAuthError(err) {
		t.Fatalf("expired token from the provider: %v", err)
	}
	if _, err := c2.Token(ctx, false); err == nil || p2.calls.Load() != 2 {
		t.Fatalf("a refused token was cached (%v, %d calls)", err, p2.calls.Load())
	}
}

func TestCacheConcurrentUse(t *testing.T) {
	// Confirm, Reject, Clear and Token from many goroutines at once; the
	// race detector checks the locking.
	clk := newClock()
	p := numbered(clk, time.Minute)
	c := NewCache(p, &CacheOptions{Now: clk.Now})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for range 300 {
				tok, err := c.Token(context.Background(), rng.IntN(2) == 0)
				if err != nil {
					t.Error(err)
					return
				}
				switch rng.IntN(5) {
				case 0:
					c.Confirm(tok)
				case 1:
					c.Reject(tok)
				case 2:
					c.Clear()
				case 3:
					clk.Advance(time.Second)
				}
			}
		})
	}
	wg.Wait()
}

func TestCacheScheduledRefreshOfShortTokenReachesProvider(t *testing.T) {
	// The issuer's clock runs 30 s ahead of ours, so by our clock the 15 s
	// token is far from expiry; its refresh falls due 5 s after
	// confirmation (RefreshDelay), inside the 10 s window.
	clk := newClock()
	p := &fakeProvider{next: func(_ context.Context, n int64, _ bool) (string, error) {
		iat := clk.Now().Add(30 * time.Second)
		return fakeJWT(iat, iat.Add(15*time.Second), fmt.Sprint("u-", n)), nil
	}}
	c := NewCache(p, &CacheOptions{Now: clk.Now})
	ctx := context.Background()
	tok, _ := c.Token(ctx, false)
	c.Confirm(tok)
	delay, ok := RefreshDelay(tok, DefaultRefreshLeeway)
	if !ok || delay != 5*time.Second {
		t.Fatalf("RefreshDelay = %v, %v", delay, ok)
	}
	clk.Advance(delay - time.Millisecond)
	if got, _ := c.Token(ctx, true); got != tok {
		t.Fatal("the start-up refresh right after confirmation was not answered from the cache")
	}
	clk.Advance(time.Millisecond)
	if got, _ := c.Token(ctx, true); got == tok || p.calls.Load() != 2 {
		t.Fatalf("the scheduled refresh was answered with the token it replaces (%d calls)", p.calls.Load())
	}
}
