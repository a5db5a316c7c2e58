package serverauth_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/convexgo/convex/betterauth"
	"github.com/convexgo/convex/internal/betterauthserver"
	"github.com/convexgo/convex/serverauth"
	"github.com/convexgo/convex/tokenprovider"
)

// countingStore is a MemoryStore that counts Gets: the cache lookups.
type countingStore struct {
	*tokenprovider.MemoryStore
	gets atomic.Int64
}

func (s *countingStore) Get(ctx context.Context, key string) (string, bool, error) {
	s.gets.Add(1)
	return s.MemoryStore.Get(ctx, key)
}

// expired returns tok with its "exp" moved into the past, as the browser's
// cookie holds it once the token has expired (the signature no longer
// matches, which the middleware, reading exp only, does not look at; the
// deployment would refuse it).
func expired(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	p, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(p, &claims); err != nil {
		t.Fatal(err)
	}
	claims["exp"] = time.Now().Add(-time.Minute).Unix()
	p, _ = json.Marshal(claims)
	parts[1] = base64.RawURLEncoding.EncodeToString(p)
	return strings.Join(parts, ".")
}

// TestBetterAuthRefreshesTheTokenCookie runs the real Better Auth server:
// a browser whose convex_jwt cookie is missing or expired gets, with its
// page, a Set-Cookie with a fresh token that verifies against Better
// Auth's keys, named and shaped as Better Auth's own; its next page costs
// no exchange and no cache lookup. Both cookie forms: plain over http,
// and "__Secure-" (useSecureCookies) with the app over https.
func TestBetterAuthRefreshesTheTokenCookie(t *testing.T) {
	for _, secure := range []bool{false, true} {
		t.Run(fmt.Sprintf("secure=%v", secure), func(t *testing.T) {
			st := startBAStackWith(t, &betterauthserver.Options{SecureCookies: secure})
			ctx := testCtx(t)
			prefix := ""
			if secure {
				prefix = betterauth.SecurePrefix
			}
			sessionName, jwtName := prefix+betterauth.SessionCookieName, prefix+betterauth.JWTCookieName
			verifier, err := betterauth.FetchVerifier(ctx, betterauth.Options{SiteURL: st.ba.URL})
			if err != nil {
				t.Fatal(err)
			}
			store := &countingStore{MemoryStore: tokenprovider.NewMemoryStore(nil)}
			m, err := serverauth.New(serverauth.Options{Client: st.h, BetterAuth: &betterauth.Options{SiteURL: st.ba.URL},
				Cache: tokenprovider.SessionOptions{Store: store}, RefreshTokenCookie: true})
			if err != nil {
				t.Fatal(err)
			}
			var app *httptest.Server
			if secure {
				app = httptest.NewTLSServer(m.Handler(http.HandlerFunc(whoamiPage)))
			} else {
				app = httptest.NewServer(m.Handler(http.HandlerFunc(whoamiPage)))
			}
			t.Cleanup(app.Close)
			appURL, _ := url.Parse(app.URL)

			for i, tc := range []struct {
				name   string
				cookie func(signIn *http.Cookie) *http.Cookie // the browser's convex_jwt cookie; nil: none
			}{
				{"missing", func(*http.Cookie) *http.Cookie { return nil }},
				{"expired", func(signIn *http.Cookie) *http.Cookie {
					return &http.Cookie{Name: signIn.Name, Value: expired(t, signIn.Value), Path: "/", Secure: signIn.Secure}
				}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					u, err := st.ba.SignUp(ctx, fmt.Sprintf("user%d@example.com", i), password, "U")
					if err != nil {
						t.Fatal(err)
					}
					sess, signIn := u.Cookie(sessionName), u.Cookie(jwtName)
					if sess == nil || signIn == nil {
						t.Fatalf("sign-up cookies %v", u.Cookies)
					}
					jar, _ := cookiejar.New(nil)
					cookies := []*http.Cookie{{Name: sess.Name, Value: sess.Value, Path: "/", Secure: sess.Secure}}
					if ck := tc.cookie(signIn); ck != nil {
						cookies = append(cookies, ck)
					}
					jar.SetCookies(appURL, cookies)
					br := &http.Client{Jar: jar}
					if secure {
						br = app.Client()
						br.Jar = jar
					}
					t.Cleanup(br.CloseIdleConnections)

					exchanges := st.exchanges(t)
					page, resp := get(t, br, app.URL)
					if page != "user "+u.ID {
						t.Fatalf("page %q, want the user's", page)
					}
					if n := st.exchanges(t) - exchanges; n != 1 {
						t.Fatalf("%d exchanges for the first page, want 1", n)
					}
					var ck *http.Cookie
					for _, c := range resp.Cookies() {
						if c.Name == jwtName {
							ck = c
						}
					}
					if ck == nil {
						t.Fatalf("no %s in the response's cookies %v", jwtName, resp.Header["Set-Cookie"])
					}
					claims, err := verifier.Verify(ck.Value)
					if err != nil || claims.Subject != u.ID {
						t.Fatalf("the cookie's token: %v (subject %v)", err, claims)
					}
					// Shaped as Better Auth's own convex_jwt cookie (the
					// sign-up's): the same attributes, Max-Age to exp.
					if ck.Path != signIn.Path || ck.Domain != signIn.Domain || ck.Secure != signIn.Secure ||
						ck.HttpOnly != signIn.HttpOnly || ck.SameSite != signIn.SameSite || !ck.HttpOnly || ck.Secure != secure {
						t.Fatalf("cookie %q, Better Auth's %q", resp.Header["Set-Cookie"], signIn.Raw)
					}
					// (Better Auth's Max-Age is the token's lifetime from the
					// moment it answers, while "exp" counts from "iat", in
					// whole seconds rounded down: the cookie may outlive
					// the token by up to a second or so.)
					if _, exp, _ := tokenprovider.Expiry(ck.Value); ck.MaxAge <= 0 || ck.MaxAge > signIn.MaxAge ||
						time.Duration(ck.MaxAge)*time.Second > time.Until(exp)+2*time.Second {
						t.Fatalf("Max-Age %d for a token expiring in %v", ck.MaxAge, time.Until(exp))
					}
					if cc := resp.Header.Get("Cache-Control"); cc != "private, no-store" {
						t.Fatalf("Cache-Control %q", cc)
					}

					// The browser's next pages use the cookie: no exchange,
					// no cache lookup, no new cookie.
					exchanges, gets := st.exchanges(t), store.gets.Load()
					for range 3 {
						page, resp := get(t, br, app.URL)
						if page != "user "+u.ID || len(resp.Cookies()) != 0 {
							t.Fatalf("next page %q, cookies %v", page, resp.Header["Set-Cookie"])
						}
					}
					if n, g := st.exchanges(t)-exchanges, store.gets.Load()-gets; n != 0 || g != 0 {
						t.Fatalf("next pages: %d exchanges and %d cache lookups, want 0 and 0", n, g)
					}
				})
			}
		})
	}
}
