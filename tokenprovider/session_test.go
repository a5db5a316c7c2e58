package tokenprovider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type setCall struct {
	key, token string
	ttl        time.Duration
}

// recordingStore wraps a MemoryStore, records writes and can fail.
type recordingStore struct {
	*MemoryStore
	mu                     sync.Mutex
	sets                   []setCall
	keys                   map[string]bool // every key ever passed in
	getErr, setErr, delErr error
}

func newRecordingStore(clk *clock) *recordingStore {
	return &recordingStore{MemoryStore: NewMemoryStore(&MemoryStoreOptions{Now: clk.Now}), keys: map[string]bool{}}
}

func (s *recordingStore) note(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[key] = true
}

func (s *recordingStore) Get(ctx context.Context, key string) (string, bool, error) {
	s.note(key)
	if s.getErr != nil {
		return "", false, s.getErr
	}
	return s.MemoryStore.Get(ctx, key)
}

func (s *recordingStore) Set(ctx context.Context, key, token string, ttl time.Duration) error {
	s.note(key)
	s.mu.Lock()
	s.sets = append(s.sets, setCall{key, token, ttl})
	s.mu.Unlock()
	if s.setErr != nil {
		return s.setErr
	}
	return s.MemoryStore.Set(ctx, key, token, ttl)
}

func (s *recordingStore) Delete(ctx context.Context, key string) error {
	s.note(key)
	if s.delErr != nil {
		return s.delErr
	}
	return s.MemoryStore.Delete(ctx, key)
}

// sessionFetcher returns a fetch function whose n-th token has subject
// "<session>-n" and lives life.
func sessionFetcher(clk *clock, session string, life time.Duration, calls *atomic.Int64) func(context.Context) (string, error) {
	return func(context.Context) (string, error) {
		n := calls.Add(1)
		now := clk.Now()
		return fakeJWT(now, now.Add(life), fmt.Sprintf("%s-%d", session, n)), nil
	}
}

const session = "sess-7f3a9c-secret-cookie-value"

func TestSessionCacheHitAndHashedKey(t *testing.T) {
	clk := newClock()
	store := newRecordingStore(clk)
	c := NewSessionCache(&SessionOptions{Store: store, Now: clk.Now})
	var calls atomic.Int64
	fetch := sessionFetcher(clk, "u", time.Hour, &calls)
	ctx := context.Background()
	t1, err := c.Token(ctx, session, fetch)
	if err != nil {
		t.Fatal(err)
	}
	t2, _ := c.Token(ctx, session, fetch)
	if t1 != t2 || calls.Load() != 1 {
		t.Fatalf("second Token fetched again (%d calls)", calls.Load())
	}
	// The raw credential is never a key; the key is its SHA-256.
	want := SessionKey(session)
	if len(want) != 64 || strings.Trim(want, "0123456789abcdef") != "" {
		t.Fatalf("SessionKey = %q, not hex SHA-256", want)
	}
	for k := range store.keys {
		if k != want || strings.Contains(k, session) {
			t.Errorf("store saw key %q", k)
		}
	}
	store.MemoryStore.mu.Lock()
	for k, e := range store.MemoryStore.entries {
		if strings.Contains(k, session) || strings.Contains(e.token, session) {
			t.Errorf("the session credential is in the store: %q", k)
		}
	}
	store.MemoryStore.mu.Unlock()
}

func TestSessionCacheTTL(t *testing.T) {
	cases := []struct {
		name   string
		life   time.Duration
		opts   SessionOptions
		want   time.Duration
		cached bool
	}{
		{"bound by exp", 30 * time.Second, SessionOptions{}, 20 * time.Second, true},
		{"bound by default max TTL", time.Hour, SessionOptions{}, DefaultSessionMaxTTL, true},
		{"bound by max TTL option", time.Hour, SessionOptions{MaxTTL: 5 * time.Second}, 5 * time.Second, true},
		{"bound by exp with margin option", 30 * time.Second, SessionOptions{ExpiryMargin: 25 * time.Second}, 5 * time.Second, true},
		{"no margin", 30 * time.Second, SessionOptions{ExpiryMargin: -1}, 30 * time.Second, true},
		{"inside the margin: not cached", 10 * time.Second, SessionOptions{}, 0, false},
		{"already expired: not cached", -time.Second, SessionOptions{}, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			store := newRecordingStore(clk)
			opts := tc.opts
			opts.Store, opts.Now = store, clk.Now
			c := NewSessionCache(&opts)
			var calls atomic.Int64
			if _, err := c.Token(context.Background(), session, sessionFetcher(clk, "u", tc.life, &calls)); err != nil {
				t.Fatal(err)
			}
			if !tc.cached {
				if len(store.sets) != 0 {
					t.Fatalf("stored %v", store.sets)
				}
				return
			}
			if len(store.sets) != 1 || store.sets[0].ttl != tc.want {
				t.Fatalf("sets = %v, want one with ttl %v", store.sets, tc.want)
			}
			// The entry is served until the TTL and not after.
			clk.Advance(tc.want - time.Nanosecond)
			c.Token(context.Background(), session, sessionFetcher(clk, "u", tc.life, &calls))
			if calls.Load() != 1 {
				t.Fatal("fetched again before the TTL")
			}
			clk.Advance(time.Nanosecond)
			c.Token(context.Background(), session, sessionFetcher(clk, "u", tc.life, &calls))
			if calls.Load() != 2 {
				t.Fatal("served from the store at the TTL")
			}
		})
	}
}

func TestSessionCacheNeverServesStaleStoreEntry(t *testing.T) {
	// A store on another clock keeps the entry longer than the token's
	// life; the cache checks exp itself.
	clk := newClock()
	store := newRecordingStore(clk)
	c := NewSessionCache(&SessionOptions{Store: store, Now: clk.Now})
	ctx := context.Background()
	stale := fakeJWT(clk.Now(), clk.Now().Add(9*time.Second), "old")
	_ = store.MemoryStore.Set(ctx, SessionKey(session), stale, time.Hour)
	var calls atomic.Int64
	tok, _ := c.Token(ctx, session, sessionFetcher(clk, "u", time.Hour, &calls))
	if tok == stale || calls.Load() != 1 {
		t.Fatal("a token inside its expiry margin was served from the store")
	}
	_ = store.MemoryStore.Set(ctx, SessionKey(session), "opaque", time.Hour)
	if tok, _ := c.Token(ctx, session, sessionFetcher(clk, "u", time.Hour, &calls)); tok == "opaque" {
		t.Fatal("a token without exp was served from the store")
	}
}

func TestSessionCacheUncacheableTokens(t *testing.T) {
	clk := newClock()
	store := newRecordingStore(clk)
	c := NewSessionCache(&SessionOptions{Store: store, Now: clk.Now})
	for _, tok := range []string{"", "opaque-token"} {
		got, err := c.Token(context.Background(), session, func(context.Context) (string, error) { return tok, nil })
		if got != tok || err != nil {
			t.Fatalf("Token = %q, %v", got, err)
		}
	}
	if len(store.sets) != 0 {
		t.Fatalf("stored %v", store.sets)
	}
}

func TestSessionCacheClear(t *testing.T) {
	clk := newClock()
	store := newRecordingStore(clk)
	c := NewSessionCache(&SessionOptions{Store: store, Now: clk.Now})
	var calls atomic.Int64
	fetch := sessionFetcher(clk, "u", time.Hour, &calls)
	ctx := context.Background()
	t1, _ := c.Token(ctx, session, fetch)
	if err := c.Clear(ctx, session); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := store.MemoryStore.Get(ctx, SessionKey(session)); ok {
		t.Fatal("Clear left the entry in the store")
	}
	if t2, _ := c.Token(ctx, session, fetch); t2 == t1 || calls.Load() != 2 {
		t.Fatal("Token after Clear did not fetch")
	}
	store.delErr = errors.New("store down")
	if err := c.Clear(ctx, session); !errors.Is(err, store.delErr) {
		t.Fatalf("Clear = %v, want the store's error", err)
	}
	if err := c.Clear(ctx, ""); !errors.Is(err, ErrNoSession) {
		t.Fatalf("Clear(\"\") = %v", err)
	}
	if _, err := c.Token(ctx, "", fetch); !errors.Is(err, ErrNoSession) {
		t.Fatalf("Token(\"\") = %v", err)
	}
}

func TestSessionCacheClearDuringFetchIsNotUndone(t *testing.T) {
	clk := newClock()
	store := newRecordingStore(clk)
	c := NewSessionCache(&SessionOptions{Store: store, Now: clk.Now})
	started, release := make(chan struct{}), make(chan struct{})
	done := make(chan string)
	go func() {
		tok, _ := c.Token(context.Background(), session, func(context.Context) (string, error) {
			close(started)
			<-release
			return fakeJWT(clk.Now(), clk.Now().Add(time.Hour), "before-sign-out"), nil
		})
		done <- tok
	}()
	<-started
	if err := c.Clear(context.Background(), session); err != nil {
		t.Fatal(err)
	}
	close(release)
	<-done
	if len(store.sets) != 0 {
		t.Fatalf("a fetch that overlapped Clear stored its token: %v", store.sets)
	}
}

func TestSessionCacheConcurrentFetchesCollapse(t *testing.T) {
	clk := newClock()
	c := NewSessionCache(&SessionOptions{Now: clk.Now})
	const n = 200
	var joined sync.WaitGroup
	joined.Add(2 * n)
	c.waiting = joined.Done
	var calls atomic.Int64
	fetchFor := func(s string) func(context.Context) (string, error) {
		inner := sessionFetcher(clk, s, time.Hour, &calls)
		return func(ctx context.Context) (string, error) {
			joined.Wait()
			return inner(ctx)
		}
	}
	var wg sync.WaitGroup
	got := make([]string, 2*n)
	for i := range 2 * n {
		s := fmt.Sprintf("session-%d", i%2)
		wg.Go(func() {
			tok, err := c.Token(context.Background(), s, fetchFor(s))
			if err != nil {
				t.Error(err)
			}
			got[i] = tok
		})
	}
	wg.Wait()
	if calls.Load() != 2 {
		t.Fatalf("%d fetches for 2 sessions, want 2", calls.Load())
	}
	for i, tok := range got {
		if tok != got[i%2] {
			t.Fatalf("callers of one session got different tokens")
		}
	}
	if got[0] == got[1] {
		t.Fatal("two sessions shared a token")
	}
}

func TestSessionCacheStoreErrorsAreBestEffort(t *testing.T) {
	clk := newClock()
	store := newRecordingStore(clk)
	var reported []error
	c := NewSessionCache(&SessionOptions{Store: store, Now: clk.Now, OnStoreError: func(err error) {
		reported = append(reported, err)
	}})
	store.getErr = errors.New("get failed")
	store.setErr = errors.New("set failed")
	var calls atomic.Int64
	tok, err := c.Token(context.Background(), session, sessionFetcher(clk, "u", time.Hour, &calls))
	if err != nil || tok == "" {
		t.Fatalf("Token = %q, %v", tok, err)
	}
	// The lookup and the recheck in the fetch both fail, then the write.
	if len(reported) != 3 || !errors.Is(reported[0], store.getErr) || !errors.Is(reported[1], store.getErr) ||
		!errors.Is(reported[2], store.setErr) {
		t.Fatalf("reported %v", reported)
	}
}

// doFixture counts fetches and calls; call fails according to fail.
type doFixture struct {
	c       *SessionCache
	store   *recordingStore
	fetches atomic.Int64
	calls   []string // tokens call was run with
	fetch   func(context.Context) (string, error)
}

func newDoFixture(t *testing.T) *doFixture {
	clk := newClock()
	f := &doFixture{store: newRecordingStore(clk)}
	f.c = NewSessionCache(&SessionOptions{Store: f.store, Now: clk.Now})
	f.fetch = sessionFetcher(clk, "u", time.Hour, &f.fetches)
	return f
}

func (f *doFixture) do(fail func(n int, token string) error) error {
	return f.c.Do(context.Background(), session, f.fetch, func(_ context.Context, token string) error {
		f.calls = append(f.calls, token)
		return fail(len(f.calls), token)
	})
}

var errAuth = &clientAuthError{"Could not verify token"}

func TestSessionCacheDo(t *testing.T) {
	ok := func(int, string) error { return nil }

	t.Run("success with a fresh token", func(t *testing.T) {
		f := newDoFixture(t)
		if err := f.do(ok); err != nil || len(f.calls) != 1 || f.fetches.Load() != 1 {
			t.Fatalf("err %v, %d calls, %d fetches", err, len(f.calls), f.fetches.Load())
		}
	})
	t.Run("success with a cached token", func(t *testing.T) {
		f := newDoFixture(t)
		f.do(ok)
		if err := f.do(ok); err != nil || len(f.calls) != 2 || f.fetches.Load() != 1 {
			t.Fatalf("err %v, %d calls, %d fetches", err, len(f.calls), f.fetches.Load())
		}
	})
	t.Run("auth error with a cached token: clear, refetch, retry once", func(t *testing.T) {
		f := newDoFixture(t)
		f.do(ok)
		err := f.do(func(n int, _ string) error {
			if n == 2 {
				return fmt.Errorf("mutation: %w", errAuth)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("Do = %v", err)
		}
		if len(f.calls) != 3 || f.calls[2] == f.calls[1] || f.fetches.Load() != 2 {
			t.Fatalf("calls %v, %d fetches", f.calls, f.fetches.Load())
		}
		// The new token is cached.
		tok, _, _ := f.store.MemoryStore.Get(context.Background(), SessionKey(session))
		if tok != f.calls[2] {
			t.Fatal("the refetched token was not cached")
		}
	})
	t.Run("auth error again on the retry: returned, no third call", func(t *testing.T) {
		f := newDoFixture(t)
		f.do(ok)
		err := f.do(func(int, string) error { return errAuth })
		if !errors.Is(err, errAuth) || len(f.calls) != 3 || f.fetches.Load() != 2 {
			t.Fatalf("err %v, calls %d, fetches %d", err, len(f.calls), f.fetches.Load())
		}
	})
	t.Run("auth error with a freshly fetched token: no retry", func(t *testing.T) {
		f := newDoFixture(t)
		err := f.do(func(int, string) error { return errAuth })
		if !errors.Is(err, errAuth) || len(f.calls) != 1 || f.fetches.Load() != 1 {
			t.Fatalf("err %v, calls %d, fetches %d", err, len(f.calls), f.fetches.Load())
		}
	})
	t.Run("non-auth error with a cached token: returned as is, no retry", func(t *testing.T) {
		f := newDoFixture(t)
		f.do(ok)
		boom := errors.New("mutation failed: connection reset")
		err := f.do(func(int, string) error { return boom })
		if err != boom || len(f.calls) != 2 || f.fetches.Load() != 1 {
			t.Fatalf("err %v, calls %d, fetches %d", err, len(f.calls), f.fetches.Load())
		}
		if _, ok, _ := f.store.MemoryStore.Get(context.Background(), SessionKey(session)); !ok {
			t.Fatal("a non-auth error cleared the entry")
		}
	})
	t.Run("refetch fails: both errors returned, no retry", func(t *testing.T) {
		f := newDoFixture(t)
		f.do(ok)
		down := errors.New("auth server down")
		f.fetch = func(context.Context) (string, error) { return "", down }
		err := f.do(func(int, string) error { return errAuth })
		if !errors.Is(err, errAuth) || !errors.Is(err, down) || len(f.calls) != 2 {
			t.Fatalf("err %v, calls %d", err, len(f.calls))
		}
	})
	t.Run("refetch returns the refused token: no retry, not kept", func(t *testing.T) {
		f := newDoFixture(t)
		f.do(ok)
		same := f.calls[0]
		f.fetch = func(context.Context) (string, error) { return same, nil }
		err := f.do(func(int, string) error { return errAuth })
		if !errors.Is(err, errAuth) || len(f.calls) != 2 {
			t.Fatalf("err %v, calls %d", err, len(f.calls))
		}
		if _, ok, _ := f.store.MemoryStore.Get(context.Background(), SessionKey(session)); ok {
			t.Fatal("the refused token is still cached")
		}
	})
	t.Run("refetch returns no token: no retry", func(t *testing.T) {
		f := newDoFixture(t)
		f.do(ok)
		f.fetch = func(context.Context) (string, error) { return "", nil }
		err := f.do(func(int, string) error { return errAuth })
		if !errors.Is(err, errAuth) || len(f.calls) != 2 {
			t.Fatalf("err %v, calls %d", err, len(f.calls))
		}
	})
	t.Run("initial fetch fails: call never runs", func(t *testing.T) {
		f := newDoFixture(t)
		down := errors.New("auth server down")
		f.fetch = func(context.Context) (string, error) { return "", down }
		if err := f.do(ok); !errors.Is(err, down) || len(f.calls) != 0 {
			t.Fatalf("err %v, calls %d", err, len(f.calls))
		}
	})
	t.Run("empty session", func(t *testing.T) {
		f := newDoFixture(t)
		err := f.c.Do(context.Background(), "", f.fetch, func(context.Context, string) error { return nil })
		if !errors.Is(err, ErrNoSession) {
			t.Fatal(err)
		}
	})
}

// racingStore misses on its first Get, as if another caller's fetch stored
// a token just after.
type racingStore struct {
	*recordingStore
	gets  int
	token string
}

func (s *racingStore) Get(ctx context.Context, key string) (string, bool, error) {
	s.gets++
	if s.gets == 1 {
		_ = s.MemoryStore.Set(ctx, key, s.token, time.Minute)
		return "", false, nil
	}
	return s.recordingStore.Get(ctx, key)
}

func TestSessionCacheRechecksStoreBeforeFetching(t *testing.T) {
	clk := newClock()
	store := &racingStore{recordingStore: newRecordingStore(clk), token: fakeJWT(clk.Now(), clk.Now().Add(time.Hour), "other")}
	c := NewSessionCache(&SessionOptions{Store: store, Now: clk.Now})
	var calls atomic.Int64
	tok, err := c.Token(context.Background(), session, sessionFetcher(clk, "u", time.Hour, &calls))
	if err != nil || tok != store.token || calls.Load() != 0 {
		t.Fatalf("Token = %q, %v after %d fetches; want the stored token and no fetch", tok, err, calls.Load())
	}
}

func TestNilFunctionsAreErrors(t *testing.T) {
	ctx := context.Background()
	c := NewSessionCache(nil)
	if _, err := c.Token(ctx, session, nil); err == nil {
		t.Error("Token with a nil fetch succeeded")
	}
	ok := func(context.Context) (string, error) { return "", nil }
	if err := c.Do(ctx, session, ok, nil); err == nil {
		t.Error("Do with a nil call succeeded")
	}
	if _, err := NewCache(nil, nil).Token(ctx, false); err == nil {
		t.Error("a Cache without a Provider returned a token")
	}
}

// appError is how an application's function might report a revoked
// session: not an auth error to IsAuthError.
type appError struct{ data string }

func (e *appError) Error() string { return "query failed: " + e.data }

func TestSessionCacheDoCustomAuthErrorClassifier(t *testing.T) {
	unauthenticated := &appError{"Unauthenticated"}
	classify := func(err error) bool {
		var ae *appError
		return IsAuthError(err) || errors.As(err, &ae) && ae.data == "Unauthenticated"
	}
	newFixture := func(t *testing.T, opts *SessionOptions) *doFixture {
		clk := newClock()
		f := &doFixture{store: newRecordingStore(clk)}
		opts.Store, opts.Now = f.store, clk.Now
		f.c = NewSessionCache(opts)
		f.fetch = sessionFetcher(clk, "u", time.Hour, &f.fetches)
		return f
	}
	failSecond := func(err error) func(int, string) error {
		return func(n int, _ string) error {
			if n == 2 {
				return err
			}
			return nil
		}
	}
	ok := func(int, string) error { return nil }

	t.Run("the classifier's error retries with a fresh token", func(t *testing.T) {
		f := newFixture(t, &SessionOptions{IsAuthError: classify})
		f.do(ok)
		if err := f.do(failSecond(unauthenticated)); err != nil {
			t.Fatalf("Do = %v", err)
		}
		if len(f.calls) != 3 || f.calls[2] == f.calls[1] || f.fetches.Load() != 2 {
			t.Fatalf("calls %v, %d fetches", f.calls, f.fetches.Load())
		}
	})
	t.Run("errors IsAuthError knows still retry when the classifier includes it", func(t *testing.T) {
		f := newFixture(t, &SessionOptions{IsAuthError: classify})
		f.do(ok)
		if err := f.do(failSecond(errAuth)); err != nil || len(f.calls) != 3 {
			t.Fatalf("Do = %v, calls %d", err, len(f.calls))
		}
	})
	t.Run("without the classifier the same error is returned as is", func(t *testing.T) {
		f := newFixture(t, &SessionOptions{})
		f.do(ok)
		if err := f.do(failSecond(unauthenticated)); err != unauthenticated || len(f.calls) != 2 || f.fetches.Load() != 1 {
			t.Fatalf("Do = %v, calls %d, fetches %d", err, len(f.calls), f.fetches.Load())
		}
	})
	t.Run("a classifier that refuses an auth error: no retry", func(t *testing.T) {
		f := newFixture(t, &SessionOptions{IsAuthError: func(error) bool { return false }})
		f.do(ok)
		if err := f.do(failSecond(errAuth)); err != errAuth || len(f.calls) != 2 {
			t.Fatalf("Do = %v, calls %d", err, len(f.calls))
		}
	})
}
