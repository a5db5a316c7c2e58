package betterauth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/convexgo/convex/tokenprovider"
)

// These tests use fake sites (httptest) for what a real Better Auth server
// does not do: redirects, oversized or malformed answers, slow answers.

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

type testKey struct {
	priv *rsa.PrivateKey
	kid  string
}

var (
	keyOnce sync.Once
	keyA    testKey
	keyB    testKey
)

func keys(t *testing.T) (testKey, testKey) {
	t.Helper()
	keyOnce.Do(func() {
		for i, k := range []*testKey{&keyA, &keyB} {
			p, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			*k = testKey{priv: p, kid: fmt.Sprintf("kid-%d", i)}
		}
	})
	return keyA, keyB
}

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// publicJWKJSON is the public JWK of k as Better Auth stores it in a row's
// publicKey (no kid, no alg).
func publicJWKJSON(k testKey) string {
	b, _ := json.Marshal(map[string]string{"kty": "RSA", "n": b64u(k.priv.N.Bytes()),
		"e": b64u(big.NewInt(int64(k.priv.E)).Bytes())})
	return string(b)
}

func privateJWKJSON(k testKey) string {
	b, _ := json.Marshal(map[string]string{"kty": "RSA", "n": b64u(k.priv.N.Bytes()),
		"e": b64u(big.NewInt(int64(k.priv.E)).Bytes()), "d": b64u(k.priv.D.Bytes()),
		"p": b64u(k.priv.Primes[0].Bytes()), "q": b64u(k.priv.Primes[1].Bytes())})
	return string(b)
}

const issuer = "https://happy-otter-123.convex.site"

// mint signs a token like the Convex plugin's: RS256, kid, iss, aud
// "convex", iat, exp.
func mint(t *testing.T, k testKey, sub string, iat, exp time.Time) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"sub": sub, "iss": issuer, "aud": "convex", "iat": iat.Unix(), "exp": exp.Unix(), "sessionId": "s1"})
	tok.Header["kid"] = k.kid
	s, err := tok.SignedString(k.priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fakeSite is a token endpoint that records what it got.
type fakeSite struct {
	*httptest.Server
	hits    atomic.Int64
	mu      sync.Mutex
	cookies []string
	auth    []string
	handler func(w http.ResponseWriter, r *http.Request)
}

func newFakeSite(t *testing.T, h func(w http.ResponseWriter, r *http.Request)) *fakeSite {
	f := &fakeSite{handler: h}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.hits.Add(1)
		f.mu.Lock()
		for _, c := range r.Cookies() {
			f.cookies = append(f.cookies, c.Name)
		}
		f.auth = append(f.auth, r.Header.Get("Authorization"))
		f.mu.Unlock()
		f.handler(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

func tokenHandler(tok string) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/auth/convex/token" || r.Method != http.MethodGet {
			http.NotFound(w, r)
			return
		}
		if _, err := r.Cookie(SessionCookieName); err != nil && r.Header.Get("Authorization") == "" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"message":"Unauthorized","code":"UNAUTHORIZED"}`))
			return
		}
		http.SetCookie(w, &http.Cookie{Name: JWTCookieName, Value: tok, MaxAge: 900, Path: "/", HttpOnly: true})
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"token":%q}`, tok)
	}
}

func newSource(t *testing.T, site string, mod func(*Options)) *Source {
	t.Helper()
	o := Options{SiteURL: site, Now: func() time.Time { return t0 }}
	if mod != nil {
		mod(&o)
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var sessionCookie = &http.Cookie{Name: SessionCookieName, Value: "sess-token.signature"}

func TestNewValidatesSiteURL(t *testing.T) {
	for _, u := range []string{"", "ftp://x.example", "x.example", "https://", "https://u:p@x.example", "https://x.example/?a=1", "https://x.example/#f"} {
		if _, err := New(Options{SiteURL: u}); err == nil {
			t.Errorf("New(%q) succeeded", u)
		}
	}
	s, err := New(Options{SiteURL: "https://x.example/auth-app/", BasePath: "custom/"})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.cfg.endpoint("/convex/token"); got != "https://x.example/auth-app/custom/convex/token" {
		t.Fatalf("endpoint %q", got)
	}
	if s.cfg.issuer != "https://x.example" {
		t.Fatalf("default issuer %q", s.cfg.issuer)
	}
}

func TestCredentials(t *testing.T) {
	s := newSource(t, "https://x.example", nil)
	r := requestWith(
		&http.Cookie{Name: "app", Value: "secret"},
		&http.Cookie{Name: "better-auth.session_token", Value: "plain"},
		&http.Cookie{Name: "__Secure-better-auth.session_token", Value: "secure"},
		&http.Cookie{Name: "better-auth.session_data.0", Value: "chunk"},
		&http.Cookie{Name: "better-authx.session_token", Value: "no"},
		&http.Cookie{Name: "__Secure-other.session_token", Value: "no"},
	)
	r.Header.Set("Authorization", "Bearer app-key")
	c := s.Credentials(r)
	var names []string
	for _, ck := range c.cookies {
		names = append(names, ck.Name)
	}
	if want := []string{"better-auth.session_token", "__Secure-better-auth.session_token", "better-auth.session_data.0"}; !slices.Equal(names, want) {
		t.Fatalf("kept %v, want %v", names, want)
	}
	if c.Session() != "secure" || c.bearer != "" {
		t.Fatalf("session %q (want the __Secure- form), bearer %q (want none)", c.Session(), c.bearer)
	}
	bs := newSource(t, "https://x.example", func(o *Options) { o.AcceptBearer = true; o.CookiePrefix = "myapp" })
	c = bs.Credentials(r)
	if c.Session() != "app-key" || len(c.cookies) != 0 {
		t.Fatalf("custom prefix with bearer: session %q, cookies %v", c.Session(), c.cookies)
	}
	if bs.Credentials(requestWith()).HasSession() {
		t.Fatal("an empty request has a session")
	}
}

func TestExchangeForwardsOnlyBetterAuthCredentials(t *testing.T) {
	ka, _ := keys(t)
	tok := mint(t, ka, "user-1", t0, t0.Add(15*time.Minute))
	site := newFakeSite(t, tokenHandler(tok))
	s := newSource(t, site.URL, nil)
	r := requestWith(sessionCookie, &http.Cookie{Name: "app_session", Value: "secret"},
		&http.Cookie{Name: "__Secure-better-auth.dont_remember", Value: "1"})
	r.Header.Set("Authorization", "Bearer app-api-key")
	r.Header.Set("X-Custom", "v")
	got, err := s.Token(context.Background(), r)
	if err != nil || got != tok {
		t.Fatalf("Token = %v", err)
	}
	if want := []string{SessionCookieName, "__Secure-better-auth.dont_remember"}; !slices.Equal(site.cookies, want) || site.auth[0] != "" {
		t.Fatalf("forwarded cookies %v and Authorization %q; want %v and none", site.cookies, site.auth[0], want)
	}
}

func TestNoSessionIsSignedOutWithoutARequest(t *testing.T) {
	site := newFakeSite(t, tokenHandler("unused"))
	s := newSource(t, site.URL, nil)
	_, err := s.Token(context.Background(), requestWith(&http.Cookie{Name: "app", Value: "x"}))
	if !errors.Is(err, ErrSignedOut) || !tokenprovider.IsAuthError(err) || site.hits.Load() != 0 {
		t.Fatalf("err %v, %d requests", err, site.hits.Load())
	}
}

func TestSignedOut401(t *testing.T) {
	site := newFakeSite(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
	})
	s := newSource(t, site.URL, nil)
	_, err := s.Token(context.Background(), requestWith(sessionCookie))
	if !errors.Is(err, ErrSignedOut) || !IsAuthError(err) {
		t.Fatalf("err %v, want ErrSignedOut", err)
	}
}

func TestCookieReuse(t *testing.T) {
	ka, kb := keys(t)
	exchanged := mint(t, ka, "user-1", t0, t0.Add(15*time.Minute))
	site := newFakeSite(t, tokenHandler(exchanged))
	fresh := mint(t, ka, "user-1", t0.Add(-time.Minute), t0.Add(14*time.Minute))
	nearlyExpired := mint(t, ka, "user-1", t0.Add(-15*time.Minute), t0.Add(5*time.Second))
	expired := mint(t, ka, "user-1", t0.Add(-20*time.Minute), t0.Add(-5*time.Minute))
	otherKey := mint(t, kb, "user-1", t0, t0.Add(15*time.Minute))
	keySet, err := KeySetFromRows([]byte(fmt.Sprintf(`[{"id":%q,"publicKey":%q,"alg":"RS256"}]`, ka.kid, publicJWKJSON(ka))))
	if err != nil {
		t.Fatal(err)
	}
	v, err := tokenprovider.NewVerifier(keySet, &tokenprovider.VerifierOptions{Issuer: issuer, Audience: Audience,
		Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	plain := newSource(t, site.URL, nil)
	verified := newSource(t, site.URL, func(o *Options) { o.Verifier = v })
	jwtc := func(name, tok string) *http.Cookie { return &http.Cookie{Name: name, Value: tok} }
	for _, tc := range []struct {
		name    string
		src     *Source
		cookies []*http.Cookie
		want    string
	}{
		{"fresh", plain, []*http.Cookie{sessionCookie, jwtc(JWTCookieName, fresh)}, fresh},
		{"fresh __Secure- form", plain, []*http.Cookie{sessionCookie, jwtc(SecurePrefix+JWTCookieName, fresh)}, fresh},
		{"fresh, without a session cookie", plain, []*http.Cookie{jwtc(JWTCookieName, fresh)}, fresh},
		{"within the margin", plain, []*http.Cookie{sessionCookie, jwtc(JWTCookieName, nearlyExpired)}, exchanged},
		{"expired", plain, []*http.Cookie{sessionCookie, jwtc(JWTCookieName, expired)}, exchanged},
		{"not a JWT", plain, []*http.Cookie{sessionCookie, jwtc(JWTCookieName, "garbage")}, exchanged},
		{"unverified other key", plain, []*http.Cookie{sessionCookie, jwtc(JWTCookieName, otherKey)}, otherKey},
		{"verifier refuses other key", verified, []*http.Cookie{sessionCookie, jwtc(JWTCookieName, otherKey)}, exchanged},
		{"verifier accepts", verified, []*http.Cookie{sessionCookie, jwtc(JWTCookieName, fresh)}, fresh},
		{"secure expired, plain fresh", plain, []*http.Cookie{sessionCookie, jwtc(SecurePrefix+JWTCookieName, expired), jwtc(JWTCookieName, fresh)}, fresh},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := site.hits.Load()
			got, err := tc.src.Token(context.Background(), requestWith(tc.cookies...))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("got the wrong token (exchanged: %v)", got == exchanged)
			}
			if wantHits := map[bool]int64{true: 1, false: 0}[tc.want == exchanged]; site.hits.Load()-before != wantHits {
				t.Fatalf("%d exchanges, want %d", site.hits.Load()-before, wantHits)
			}
		})
	}
	// An exchanged token that fails the Verifier is an error.
	bad := newFakeSite(t, tokenHandler(otherKey))
	vs := newSource(t, bad.URL, func(o *Options) { o.Verifier = v })
	if _, err := vs.Token(context.Background(), requestWith(sessionCookie)); !errors.Is(err, tokenprovider.ErrUnknownKID) {
		t.Fatalf("unverifiable exchanged token: %v", err)
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	target := newFakeSite(t, tokenHandler("never"))
	site := newFakeSite(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/api/auth/convex/token", http.StatusFound)
	})
	// Even a client that would follow redirects does not.
	s := newSource(t, site.URL, func(o *Options) { o.HTTPClient = &http.Client{} })
	_, err := s.Token(context.Background(), requestWith(sessionCookie))
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusFound || !strings.HasPrefix(se.Location, target.URL) {
		t.Fatalf("err %v, want a 302 StatusError with the Location", err)
	}
	if target.hits.Load() != 0 {
		t.Fatal("the redirect was followed")
	}
	if tokenprovider.IsAuthError(err) {
		t.Fatal("a redirect is not an auth error")
	}
}

func TestBadAnswers(t *testing.T) {
	ka, _ := keys(t)
	tok := mint(t, ka, "u", t0, t0.Add(time.Hour))
	big := `{"token":"` + tok + `","pad":"` + strings.Repeat("x", 2000) + `"}`
	for _, tc := range []struct {
		name    string
		handler func(w http.ResponseWriter, r *http.Request)
		want    error
		status  int
	}{
		{"oversized with Content-Length", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(big))
		}, ErrResponseTooLarge, 0},
		{"oversized, chunked", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(big[:1000]))
			w.(http.Flusher).Flush()
			w.Write([]byte(big[1000:]))
		}, ErrResponseTooLarge, 0},
		{"HTML", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<html>"))
		}, ErrBadResponse, 0},
		{"no token", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"token":null}`))
		}, ErrBadResponse, 0},
		{"not a JWT", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"token":"abc"}`))
		}, ErrBadResponse, 0},
		{"not JSON", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`token=abc`))
		}, ErrBadResponse, 0},
		{"server error", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusInternalServerError)
		}, nil, 500},
		{"forbidden", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusForbidden)
		}, nil, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			site := newFakeSite(t, tc.handler)
			s := newSource(t, site.URL, func(o *Options) { o.MaxBodySize = 1024 })
			_, err := s.Token(context.Background(), requestWith(sessionCookie))
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			var se *StatusError
			if tc.status != 0 && (!errors.As(err, &se) || se.StatusCode != tc.status) {
				t.Fatalf("err %v, want status %d", err, tc.status)
			}
			if IsAuthError(err) {
				t.Fatalf("%v counts as an auth error", err)
			}
		})
	}
}

func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	site := newFakeSite(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	defer close(release)
	s := newSource(t, site.URL, func(o *Options) { o.Timeout = 50 * time.Millisecond })
	_, err := s.Token(context.Background(), requestWith(sessionCookie))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want a deadline error", err)
	}
	// The caller's ctx is honoured too.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Token(ctx, requestWith(sessionCookie)); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
}

func TestProvider(t *testing.T) {
	ka, _ := keys(t)
	exchanged := mint(t, ka, "u", t0, t0.Add(15*time.Minute))
	fresh := mint(t, ka, "u", t0, t0.Add(14*time.Minute))
	site := newFakeSite(t, tokenHandler(exchanged))
	s := newSource(t, site.URL, nil)
	p := s.Provider(s.Credentials(requestWith(sessionCookie, &http.Cookie{Name: JWTCookieName, Value: fresh})))
	if tok, err := p.Token(context.Background(), false); err != nil || tok != fresh {
		t.Fatalf("Token(false): %v", err)
	}
	if tok, err := p.Token(context.Background(), true); err != nil || tok != exchanged {
		t.Fatalf("Token(true) must exchange: %v", err)
	}
	if site.hits.Load() != 1 {
		t.Fatalf("%d exchanges, want 1", site.hits.Load())
	}
}

func TestDo(t *testing.T) {
	ka, _ := keys(t)
	exchanged := mint(t, ka, "u", t0, t0.Add(15*time.Minute))
	fresh := mint(t, ka, "u", t0, t0.Add(14*time.Minute))
	site := newFakeSite(t, tokenHandler(exchanged))
	s := newSource(t, site.URL, nil)
	withCookie := s.Credentials(requestWith(sessionCookie, &http.Cookie{Name: JWTCookieName, Value: fresh}))
	unauth := &fnError{data: Unauthenticated}

	t.Run("a refused cookie token is exchanged once", func(t *testing.T) {
		var got []string
		err := s.Do(context.Background(), nil, withCookie, func(_ context.Context, tok string) error {
			got = append(got, tok)
			if tok == fresh {
				return fmt.Errorf("query: %w", unauth)
			}
			return nil
		})
		if err != nil || !slices.Equal(got, []string{fresh, exchanged}) {
			t.Fatalf("err %v, calls %d", err, len(got))
		}
	})
	t.Run("other errors are returned as they are", func(t *testing.T) {
		boom := &fnError{data: "boom"}
		calls := 0
		err := s.Do(context.Background(), nil, withCookie, func(context.Context, string) error { calls++; return boom })
		if err != boom || calls != 1 {
			t.Fatalf("err %v, %d calls", err, calls)
		}
	})
	t.Run("with a SessionCache: exchanged once, then cached", func(t *testing.T) {
		before := site.hits.Load()
		cache := tokenprovider.NewSessionCache(&tokenprovider.SessionOptions{IsAuthError: IsAuthError,
			Now: func() time.Time { return t0 }})
		c := s.Credentials(requestWith(sessionCookie))
		for range 3 {
			if err := s.Do(context.Background(), cache, c, func(_ context.Context, tok string) error {
				if tok != exchanged {
					return errors.New("wrong token")
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		if n := site.hits.Load() - before; n != 1 {
			t.Fatalf("%d exchanges, want 1", n)
		}
	})
	t.Run("no session: ErrSignedOut, no call", func(t *testing.T) {
		err := s.Do(context.Background(), nil, s.Credentials(requestWith()), func(context.Context, string) error {
			t.Fatal("call ran")
			return nil
		})
		if !errors.Is(err, ErrSignedOut) {
			t.Fatal(err)
		}
	})
}

func TestClassifiers(t *testing.T) {
	if !IsAuthError(&fnError{data: "Unauthenticated"}) || !IsAuthError(fmt.Errorf("wrapped: %w", &fnError{data: "Unauthenticated"})) {
		t.Fatal(`ConvexError("Unauthenticated") is not an auth error`)
	}
	for _, err := range []error{nil, errors.New("Unauthenticated"), &fnError{data: "other"},
		&fnError{data: map[string]string{"code": "Unauthenticated"}}, ErrBadResponse} {
		if IsAuthError(err) {
			t.Errorf("IsAuthError(%v) = true", err)
		}
	}
	if !IsAuthError(tokenprovider.ErrExpired) || !IsAuthError(ErrSignedOut) {
		t.Fatal("tokenprovider's auth errors are not auth errors")
	}
	custom := ConvexErrorIs("NotSignedIn", "SessionRevoked")
	if !custom(&fnError{data: "SessionRevoked"}) || custom(&fnError{data: Unauthenticated}) {
		t.Fatal("ConvexErrorIs matches the wrong values")
	}
}
