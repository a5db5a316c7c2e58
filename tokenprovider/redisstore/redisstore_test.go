package redisstore

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/convexgo/convex/internal/leakcheck"
	"github.com/convexgo/convex/tokenprovider"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// startRedis starts a redis-server of the test's own on a free loopback
// port and returns a client for it. Both are stopped when the test ends.
func startRedis(t *testing.T) *redis.Client {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("redis-server is not on PATH; CI must install it (apt-get install -y redis-server)")
		}
		t.Skip("redis-server is not on PATH; install it with: apt-get install -y redis-server")
	}
	var lastErr error
	for range 3 { // another process may take the port between probe and start
		client, err := tryStartRedis(t, path)
		if err == nil {
			return client
		}
		lastErr = err
	}
	t.Fatal(lastErr)
	return nil
}

func tryStartRedis(t *testing.T, path string) (*redis.Client, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()

	var out bytes.Buffer
	cmd := exec.Command(path, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", t.TempDir())
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting redis-server: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}

	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + port, MaxRetries: -1})
	ctx := context.Background()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := client.Ping(ctx).Err(); err == nil {
			break
		}
		select {
		case <-exited:
			client.Close()
			return nil, fmt.Errorf("redis-server exited: %s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			client.Close()
			stop()
			return nil, fmt.Errorf("redis-server on port %s did not answer PING within 10 s: %s", port, out.String())
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
	t.Cleanup(func() {
		client.Close()
		stop()
	})
	return client, nil
}

// jwt returns an unsigned-looking JWT with the given exp; stores and
// session caches only read it.
func jwt(sub string, exp time.Time) string {
	p, _ := json.Marshal(map[string]any{"sub": sub, "iat": time.Now().Unix(), "exp": exp.Unix()})
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"HS256"}`)) + "." + enc(p) + "." + enc([]byte("sig"))
}

func TestSetGetDelete(t *testing.T) {
	rdb := startRedis(t)
	s := New(rdb, nil)
	ctx := context.Background()
	if _, ok, err := s.Get(ctx, "k"); ok || err != nil {
		t.Fatalf("empty: ok=%v err=%v", ok, err)
	}
	if err := s.Set(ctx, "k", "token-1", time.Minute); err != nil {
		t.Fatal(err)
	}
	if tok, ok, err := s.Get(ctx, "k"); tok != "token-1" || !ok || err != nil {
		t.Fatalf("Get = %q, %v, %v", tok, ok, err)
	}
	if v, err := rdb.Get(ctx, DefaultPrefix+"k").Result(); v != "token-1" || err != nil {
		t.Fatalf("raw key %s = %q, %v", DefaultPrefix+"k", v, err)
	}
	if err := s.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Get(ctx, "k"); ok {
		t.Fatal("Delete left the entry")
	}
	if err := s.Delete(ctx, "k"); err != nil {
		t.Fatalf("deleting a missing key: %v", err)
	}
	_ = s.Set(ctx, "k", "token-1", time.Minute)
	if err := s.Set(ctx, "k", "token-1", 0); err != nil {
		t.Fatal(err)
	}
	if n, _ := rdb.Exists(ctx, DefaultPrefix+"k").Result(); n != 0 {
		t.Fatal("Set with ttl 0 did not delete")
	}
}

func TestTTLIsRedisExpiry(t *testing.T) {
	rdb := startRedis(t)
	s := New(rdb, nil)
	ctx := context.Background()
	if err := s.Set(ctx, "k", "v", time.Minute); err != nil {
		t.Fatal(err)
	}
	if ttl, _ := rdb.PTTL(ctx, DefaultPrefix+"k").Result(); ttl <= 59*time.Second || ttl > time.Minute {
		t.Fatalf("PTTL = %v after a 1 min Set", ttl)
	}
	if err := s.Set(ctx, "short", "v", 1500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if ttl, _ := rdb.PTTL(ctx, DefaultPrefix+"short").Result(); ttl <= 0 || ttl > 1500*time.Millisecond {
		t.Fatalf("PTTL = %v after a 1.5 s Set (millisecond precision)", ttl)
	}
	// Redis itself expires the entry: poll until it is gone.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, ok, err := s.Get(ctx, "short")
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("entry with a 1.5 s TTL still there after 10 s")
		}
		time.Sleep(50 * time.Millisecond) // polling interval
	}
	if ttl, _ := rdb.PTTL(ctx, DefaultPrefix+"short").Result(); ttl != -2 {
		t.Fatalf("PTTL after expiry = %v, want -2 (no key)", ttl)
	}
}

func TestPrefix(t *testing.T) {
	rdb := startRedis(t)
	ctx := context.Background()
	a, b := New(rdb, &Options{Prefix: "app-a:"}), New(rdb, &Options{Prefix: "app-b:"})
	_ = a.Set(ctx, "k", "from-a", time.Minute)
	if _, ok, _ := b.Get(ctx, "k"); ok {
		t.Fatal("a store saw another prefix's entry")
	}
	if n, _ := rdb.Exists(ctx, "app-a:k").Result(); n != 1 {
		t.Fatal("key not stored under the prefix")
	}
}

func TestErrorsWhenRedisIsDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	defer rdb.Close()
	s := New(rdb, nil)
	ctx := context.Background()
	if _, ok, err := s.Get(ctx, "k"); err == nil || ok {
		t.Fatalf("Get: ok=%v err=%v", ok, err)
	}
	if err := s.Set(ctx, "k", "v", time.Minute); err == nil || !strings.Contains(err.Error(), "redisstore") {
		t.Fatalf("Set: %v", err)
	}
	if err := s.Delete(ctx, "k"); err == nil {
		t.Fatal("Delete succeeded")
	}
}

// TestSessionCachesShareRedis runs two server instances (each with its own
// Redis client, Store and SessionCache) against one Redis.
func TestSessionCachesShareRedis(t *testing.T) {
	rdb := startRedis(t)
	rdb2 := redis.NewClient(&redis.Options{Addr: rdb.Options().Addr})
	defer rdb2.Close()
	a := tokenprovider.NewSessionCache(&tokenprovider.SessionOptions{Store: New(rdb, nil)})
	b := tokenprovider.NewSessionCache(&tokenprovider.SessionOptions{Store: New(rdb2, nil)})
	ctx := context.Background()
	const session = "cookie-value-9d2f-very-secret"

	var fetchesA, fetchesB atomic.Int64
	fetcher := func(n *atomic.Int64, who string) func(context.Context) (string, error) {
		return func(context.Context) (string, error) {
			return jwt(fmt.Sprintf("%s-%d", who, n.Add(1)), time.Now().Add(time.Hour)), nil
		}
	}
	tokA, err := a.Token(ctx, session, fetcher(&fetchesA, "a"))
	if err != nil {
		t.Fatal(err)
	}
	tokB, err := b.Token(ctx, session, fetcher(&fetchesB, "b"))
	if err != nil {
		t.Fatal(err)
	}
	if tokB != tokA || fetchesB.Load() != 0 {
		t.Fatalf("instance b fetched (%d) instead of using a's token", fetchesB.Load())
	}
	ttl, _ := rdb.PTTL(ctx, DefaultPrefix+tokenprovider.SessionKey(session)).Result()
	if ttl <= 0 || ttl > tokenprovider.DefaultSessionMaxTTL {
		t.Fatalf("PTTL = %v, want within the 60 s max TTL", ttl)
	}

	// Sign-out on a: b fetches anew on its next request.
	if err := a.Clear(ctx, session); err != nil {
		t.Fatal(err)
	}
	tokB2, err := b.Token(ctx, session, fetcher(&fetchesB, "b"))
	if err != nil {
		t.Fatal(err)
	}
	if tokB2 == tokA || fetchesB.Load() != 1 {
		t.Fatalf("after Clear on a, b served %q with %d fetches", tokB2, fetchesB.Load())
	}
	// And now a uses b's token.
	if tokA2, _ := a.Token(ctx, session, fetcher(&fetchesA, "a")); tokA2 != tokB2 || fetchesA.Load() != 1 {
		t.Fatalf("a did not pick up b's token (%d fetches)", fetchesA.Load())
	}

	// The session credential never reaches Redis.
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultPrefix + tokenprovider.SessionKey(session)
	if len(keys) != 1 || keys[0] != want {
		t.Fatalf("Redis keys = %v, want [%s]", keys, want)
	}
}

// TestDoRetriesAcrossInstances: b's cached token (stored by a) is refused;
// b clears it, fetches a fresh one, and a then sees the fresh one.
func TestDoRetriesAcrossInstances(t *testing.T) {
	rdb := startRedis(t)
	store := New(rdb, nil)
	a := tokenprovider.NewSessionCache(&tokenprovider.SessionOptions{Store: store})
	b := tokenprovider.NewSessionCache(&tokenprovider.SessionOptions{Store: store})
	ctx := context.Background()
	var n atomic.Int64
	fetch := func(context.Context) (string, error) {
		return jwt(fmt.Sprint("u-", n.Add(1)), time.Now().Add(time.Hour)), nil
	}
	first, _ := a.Token(ctx, "s", fetch)
	var used []string
	err := b.Do(ctx, "s", fetch, func(_ context.Context, tok string) error {
		used = append(used, tok)
		if tok == first {
			return authError{}
		}
		return nil
	})
	if err != nil || len(used) != 2 || used[0] != first {
		t.Fatalf("Do = %v, tokens %v", err, used)
	}
	if tok, _ := a.Token(ctx, "s", fetch); tok != used[1] || n.Load() != 2 {
		t.Fatalf("a got %q after %d fetches", tok, n.Load())
	}
}

type authError struct{}

func (authError) Error() string   { return "authentication failed" }
func (authError) AuthError() bool { return true }
