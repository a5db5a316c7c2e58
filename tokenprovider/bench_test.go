package tokenprovider

import (
	"context"
	"encoding/base64"
	"fmt"
	"sync"
	"testing"
	"time"
)

func BenchmarkVerifyRS256(b *testing.B) {
	clk := newClock()
	v := newTestVerifier(b, clk, "app")
	tok := sign(b, RS256, "rsa", validClaims())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCacheHit(b *testing.B) {
	clk := newClock()
	p := numbered(clk, time.Hour)
	c := NewCache(p, &CacheOptions{Now: clk.Now})
	ctx := context.Background()
	tok, _ := c.Token(ctx, false)
	c.Confirm(tok)
	b.ReportAllocs()
	for b.Loop() {
		if got, _ := c.Token(ctx, true); got != tok {
			b.Fatal("miss")
		}
	}
	if p.calls.Load() != 1 {
		b.Fatalf("%d fetches", p.calls.Load())
	}
}

func BenchmarkSessionCacheHit(b *testing.B) {
	clk := newClock()
	c := NewSessionCache(&SessionOptions{Now: clk.Now})
	ctx := context.Background()
	fetch := func(context.Context) (string, error) {
		return fakeJWT(clk.Now(), clk.Now().Add(time.Hour), "u"), nil
	}
	if _, err := c.Token(ctx, "session", fetch); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Token(ctx, "session", fetch); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConcurrentFetch1000 releases 1,000 callers at once on a cold
// cache and reports how many provider calls they caused. Unforced callers
// always share one fetch (late ones hit the cache); forced callers share
// the fetch in flight, but a forced caller arriving after it finished asks
// again, since an unconfirmed token never answers a forced request.
func BenchmarkConcurrentFetch1000(b *testing.B) {
	for _, force := range []bool{false, true} {
		b.Run(fmt.Sprintf("force=%v", force), func(b *testing.B) {
			clk := newClock()
			p := numbered(clk, time.Hour)
			ctx := context.Background()
			b.ReportAllocs()
			iters := 0
			for b.Loop() {
				iters++
				c := NewCache(p, &CacheOptions{Now: clk.Now})
				gate := make(chan struct{})
				var wg sync.WaitGroup
				for range 1000 {
					wg.Go(func() {
						<-gate
						if _, err := c.Token(ctx, force); err != nil {
							b.Error(err)
						}
					})
				}
				close(gate)
				wg.Wait()
			}
			b.ReportMetric(float64(p.calls.Load())/float64(iters), "fetches/1000callers")
		})
	}
}

// BenchmarkSessionCacheHitLargeToken is BenchmarkSessionCacheHit with a
// token shaped like a Better Auth Convex JWT (see largeToken).
func BenchmarkSessionCacheHitLargeToken(b *testing.B) {
	clk := newClock()
	c := NewSessionCache(&SessionOptions{Now: clk.Now})
	ctx := context.Background()
	tok := largeToken(clk.Now())
	fetch := func(context.Context) (string, error) { return tok, nil }
	if _, err := c.Token(ctx, "session", fetch); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if got, err := c.Token(ctx, "session", fetch); err != nil || got != tok {
			b.Fatal(got, err)
		}
	}
}

// largeToken is an unsigned token shaped like a Better Auth Convex JWT (a
// dozen claims, nested objects), issued at now for 15 minutes.
func largeToken(now time.Time) string {
	claims := fmt.Sprintf(`{"iat":%d,"exp":%d,"iss":"http://127.0.0.1:41234","aud":"convex","sub":"kx7d8f9g0h1j2k3l4m5n6p7q8r9s0t1u",`+
		`"name":"Ada Lovelace","email":"ada@example.com","emailVerified":false,"image":null,"createdAt":"2026-12-01T10:00:00.000Z",`+
		`"updatedAt":"2026-12-01T10:00:00.000Z","sessionId":"s0m3s3ss10n1d","user":{"id":"u1","roles":["a","b","c"],"meta":{"k":"v","n":1}}}`,
		now.Unix(), now.Add(15*time.Minute).Unix())
	return "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0." + base64.RawURLEncoding.EncodeToString([]byte(claims)) + ".c2lnbmF0dXJlLW9mLWEtcmVhbC10b2tlbg"
}

// BenchmarkExpiryLargeToken reads exp and iat of a token shaped like a
// Better Auth Convex JWT (a dozen claims, nested objects), as a session
// cache does on every hit.
func BenchmarkExpiryLargeToken(b *testing.B) {
	claims := `{"iat":1796120000,"exp":1796120900,"iss":"http://127.0.0.1:41234","aud":"convex","sub":"kx7d8f9g0h1j2k3l4m5n6p7q8r9s0t1u",` +
		`"name":"Ada Lovelace","email":"ada@example.com","emailVerified":false,"image":null,"createdAt":"2026-12-01T10:00:00.000Z",` +
		`"updatedAt":"2026-12-01T10:00:00.000Z","sessionId":"s0m3s3ss10n1d","user":{"id":"u1","roles":["a","b","c"],"meta":{"k":"v","n":1}}}`
	tok := "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0." + base64.RawURLEncoding.EncodeToString([]byte(claims)) + ".c2ln"
	b.ReportAllocs()
	for b.Loop() {
		if _, _, ok := Expiry(tok); !ok {
			b.Fatal("no exp")
		}
	}
}
