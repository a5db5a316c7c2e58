package betterauth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/convexgo/convex/internal/betterauthserver"
	"github.com/convexgo/convex/tokenprovider"
)

// These tests run against a real Better Auth server with the Convex plugin
// (internal/betterauthserver).

const password = "correct-horse-battery-staple"

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// requestWith builds an incoming request carrying cookies.
func requestWith(cookies ...*http.Cookie) *http.Request {
	r, _ := http.NewRequest(http.MethodGet, "http://app.example/page", nil)
	for _, c := range cookies {
		r.AddCookie(c)
	}
	return r
}

func exchanges(t *testing.T, s *betterauthserver.Server) int {
	t.Helper()
	rc, err := s.Requests(testCtx(t), betterauthserver.TokenPath)
	if err != nil {
		t.Fatal(err)
	}
	return rc.Count
}

// fnError stands in for client.FunctionError: a Convex function that threw
// a ConvexError with data.
type fnError struct{ data any }

func (e *fnError) Error() string { return "convex: query whoami failed" }
func (e *fnError) DataAs(v any) error {
	b, err := json.Marshal(e.data)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func TestRealServer(t *testing.T) {
	srv := betterauthserver.StartT(t, nil)
	ctx := testCtx(t)
	alice, err := srv.SignUp(ctx, "alice@example.com", password, "Alice")
	if err != nil {
		t.Fatal(err)
	}
	bob, err := srv.SignUp(ctx, "bob@example.com", password, "Bob")
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := FetchVerifier(ctx, Options{SiteURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	src, err := New(Options{SiteURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	session := func(u *betterauthserver.User) *http.Cookie { return u.Cookie(SessionCookieName) }
	jwtCookie := func(u *betterauthserver.User) *http.Cookie { return u.Cookie(JWTCookieName) }
	if session(alice) == nil || jwtCookie(alice) == nil {
		t.Fatalf("sign-up cookies %v lack %s or %s", alice.Cookies, SessionCookieName, JWTCookieName)
	}

	t.Run("each session cookie gives its own user's token", func(t *testing.T) {
		for _, u := range []*betterauthserver.User{alice, bob} {
			before := exchanges(t, srv)
			tok, err := src.Token(testCtx(t), requestWith(session(u)))
			if err != nil {
				t.Fatal(err)
			}
			if n := exchanges(t, srv); n != before+1 {
				t.Fatalf("exchanges %d -> %d, want one", before, n)
			}
			claims, err := verifier.Verify(tok)
			if err != nil {
				t.Fatalf("the exchanged token does not verify: %v", err)
			}
			if claims.Subject != u.ID {
				t.Fatalf("sub %q, want %q (%s)", claims.Subject, u.ID, u.Email)
			}
			if claims.Issuer != srv.URL || !slices.Equal(claims.Audience, []string{"convex"}) {
				t.Fatalf("iss %q aud %v, want %q and [convex]", claims.Issuer, claims.Audience, srv.URL)
			}
			if life := claims.ExpiresAt.Sub(claims.IssuedAt); life != 15*time.Minute {
				t.Fatalf("token lifetime %v, want 15m", life)
			}
		}
	})

	t.Run("a fresh convex_jwt cookie is reused without an exchange", func(t *testing.T) {
		before := exchanges(t, srv)
		for range 3 {
			tok, err := src.Token(testCtx(t), requestWith(session(alice), jwtCookie(alice)))
			if err != nil {
				t.Fatal(err)
			}
			if tok != jwtCookie(alice).Value {
				t.Fatal("the cookie's token was not reused")
			}
		}
		if n := exchanges(t, srv); n != before {
			t.Fatalf("exchanges %d -> %d, want none", before, n)
		}
		// With a Verifier, the cookie's token is checked and still reused.
		vsrc, err := New(Options{SiteURL: srv.URL, Verifier: verifier})
		if err != nil {
			t.Fatal(err)
		}
		if tok, err := vsrc.Token(testCtx(t), requestWith(session(alice), jwtCookie(alice))); err != nil || tok != jwtCookie(alice).Value {
			t.Fatalf("verified reuse: %v", err)
		}
		if n := exchanges(t, srv); n != before {
			t.Fatalf("exchanges %d -> %d, want none", before, n)
		}
	})

	t.Run("only Better Auth's cookies reach the token endpoint", func(t *testing.T) {
		r := requestWith(session(alice), &http.Cookie{Name: "app_session", Value: "secret-of-the-app"},
			&http.Cookie{Name: "better-authx", Value: "not-ours"})
		r.Header.Set("Authorization", "Bearer app-api-key")
		if _, err := src.Token(testCtx(t), r); err != nil {
			t.Fatal(err)
		}
		rc, err := srv.Requests(testCtx(t), betterauthserver.TokenPath)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(rc.Cookies, []string{SessionCookieName}) || rc.Authorization {
			t.Fatalf("the token endpoint got cookies %v and Authorization %v; want only %s", rc.Cookies, rc.Authorization, SessionCookieName)
		}
	})

	t.Run("a Bearer session token, when accepted", func(t *testing.T) {
		bsrc, err := New(Options{SiteURL: srv.URL, AcceptBearer: true})
		if err != nil {
			t.Fatal(err)
		}
		r := requestWith()
		r.Header.Set("Authorization", "Bearer "+bob.SessionToken)
		tok, err := bsrc.Token(testCtx(t), r)
		if err != nil {
			t.Fatal(err)
		}
		if c, err := verifier.Verify(tok); err != nil || c.Subject != bob.ID {
			t.Fatalf("bearer token: %v, %+v", err, c)
		}
		// The default Source ignores the header: no session.
		if _, err := src.Token(testCtx(t), r); !errors.Is(err, ErrSignedOut) {
			t.Fatalf("without AcceptBearer: %v, want ErrSignedOut", err)
		}
	})

	t.Run("the exchange returns the convex_jwt cookie Better Auth set", func(t *testing.T) {
		x, err := src.Exchange(testCtx(t), src.Credentials(requestWith(session(bob))))
		if err != nil {
			t.Fatal(err)
		}
		if x.Cookie == nil || x.Cookie.Name != JWTCookieName || x.Cookie.Value != x.Token || x.Cookie.MaxAge != 900 {
			t.Fatalf("cookie %+v", x.Cookie)
		}
	})

	t.Run("getLatestJwks rows give the public key set and no private key", func(t *testing.T) {
		rows, err := srv.LatestJWKSRows(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		var raw []map[string]any
		if err := json.Unmarshal(rows, &raw); err != nil || len(raw) != 1 {
			t.Fatalf("rows %s: %v", rows, err)
		}
		priv, _ := raw[0]["privateKey"].(string)
		if priv == "" {
			t.Fatalf("the row has no privateKey to leak: %s", rows)
		}
		jwks, err := ParseJWKSRows(rows)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"privateKey", priv, `"d"`, strings.Trim(priv, `"`)} {
			if strings.Contains(string(jwks), bad) {
				t.Fatalf("the JWKS holds %.40q: %s", bad, jwks)
			}
		}
		keys, err := tokenprovider.ParseJWKS(jwks)
		if err != nil {
			t.Fatal(err)
		}
		fetched, _, err := FetchJWKS(testCtx(t), Options{SiteURL: srv.URL})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(keys.KeyIDs(), fetched.KeyIDs()) {
			t.Fatalf("kids from rows %v, from the jwks route %v", keys.KeyIDs(), fetched.KeyIDs())
		}
		v, err := tokenprovider.NewVerifier(keys, &tokenprovider.VerifierOptions{
			Issuer: srv.URL, Audience: Audience, Algorithms: []string{tokenprovider.RS256}})
		if err != nil {
			t.Fatal(err)
		}
		if c, err := v.Verify(jwtCookie(alice).Value); err != nil || c.Subject != alice.ID {
			t.Fatalf("a token checked with the rows' keys: %v", err)
		}
	})

	t.Run("SessionCache: one exchange per session, then the cache", func(t *testing.T) {
		cache := tokenprovider.NewSessionCache(&tokenprovider.SessionOptions{IsAuthError: IsAuthError})
		creds := src.Credentials(requestWith(session(bob)))
		before := exchanges(t, srv)
		var got []string
		for range 3 {
			if err := src.Do(testCtx(t), cache, creds, func(_ context.Context, tok string) error {
				got = append(got, tok)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		if n := exchanges(t, srv); n != before+1 {
			t.Fatalf("exchanges %d -> %d, want one", before, n)
		}
		if got[0] != got[1] || got[1] != got[2] {
			t.Fatal("the cached token changed")
		}
	})

	t.Run("sign-out: the exchange is ErrSignedOut", func(t *testing.T) {
		carol, err := srv.SignUp(testCtx(t), "carol@example.com", password, "Carol")
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.SignOut(testCtx(t), carol.Cookies); err != nil {
			t.Fatal(err)
		}
		_, err = src.Token(testCtx(t), requestWith(session(carol)))
		if !errors.Is(err, ErrSignedOut) || !tokenprovider.IsAuthError(err) {
			t.Fatalf("Token after sign-out = %v, want ErrSignedOut (an auth error)", err)
		}
		// A browser that still sends the old convex_jwt cookie gets it
		// reused; when Convex then says "Unauthenticated" (getAuthUser on
		// a deleted session), Do exchanges, and the exchange says signed
		// out.
		calls := 0
		err = src.Do(testCtx(t), nil, src.Credentials(requestWith(session(carol), jwtCookie(carol))),
			func(_ context.Context, tok string) error {
				calls++
				return &fnError{data: Unauthenticated}
			})
		if calls != 1 || !errors.Is(err, ErrSignedOut) || !IsAuthError(err) {
			t.Fatalf("Do after sign-out: %d calls, %v", calls, err)
		}
	})
}

func TestRealServerSecureCookies(t *testing.T) {
	srv := betterauthserver.StartT(t, &betterauthserver.Options{SecureCookies: true})
	ctx := testCtx(t)
	dave, err := srv.SignUp(ctx, "dave@example.com", password, "Dave")
	if err != nil {
		t.Fatal(err)
	}
	src, err := New(Options{SiteURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	sess, jwtc := dave.Cookie(SecurePrefix+SessionCookieName), dave.Cookie(SecurePrefix+JWTCookieName)
	if sess == nil || jwtc == nil {
		t.Fatalf("cookies %v lack the __Secure- forms", dave.Cookies)
	}
	before := exchanges(t, srv)
	if tok, err := src.Token(ctx, requestWith(sess, jwtc)); err != nil || tok != jwtc.Value {
		t.Fatalf("reusing the __Secure- cookie: %v", err)
	}
	if n := exchanges(t, srv); n != before {
		t.Fatalf("exchanges %d -> %d, want none", before, n)
	}
	tok, err := src.Token(ctx, requestWith(sess))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := tokenprovider.Expiry(tok); !ok || exchanges(t, srv) != before+1 {
		t.Fatal("the __Secure- session cookie was not exchanged")
	}
	v, err := FetchVerifier(ctx, Options{SiteURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if c, err := v.Verify(tok); err != nil || c.Subject != dave.ID {
		t.Fatalf("verify: %v", err)
	}
}
