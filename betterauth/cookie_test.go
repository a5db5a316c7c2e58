package betterauth

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/convexgo/convex/internal/betterauthserver"
	"github.com/convexgo/convex/tokenprovider"
)

// clockAt is an adjustable clock for Options.Now.
type clockAt struct{ ns atomic.Int64 }

func newClockAt(t time.Time) *clockAt {
	c := &clockAt{}
	c.ns.Store(t.UnixNano())
	return c
}
func (c *clockAt) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clockAt) Advance(d time.Duration) { c.ns.Add(int64(d)) }
func sameAttrs(a, b *http.Cookie) bool     { return attrs(a) == attrs(b) }
func attrs(c *http.Cookie) string {
	return fmt.Sprintf("%s %q %q %v %v %v %v", c.Name, c.Path, c.Domain, c.Secure, c.HttpOnly, c.SameSite, c.Partitioned)
}
func credsOf(s *Source, cks ...*http.Cookie) Credentials { return s.CredentialsOf(cks, "") }

func TestTokenCookieDefaults(t *testing.T) {
	ka, _ := keys(t)
	clk := newClockAt(t0)
	s := newSource(t, "https://x.example", func(o *Options) { o.Now = clk.Now; o.AcceptBearer = true })
	tok := mint(t, ka, "u", t0, t0.Add(15*time.Minute))
	plain := &http.Cookie{Name: SessionCookieName, Value: "sess"}
	secure := &http.Cookie{Name: SecurePrefix + SessionCookieName, Value: "sess"}

	// Before any exchange: Better Auth's default attributes, Max-Age to exp.
	ck := s.TokenCookie(credsOf(s, plain), tok)
	want := &http.Cookie{Name: JWTCookieName, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode}
	if ck == nil || !sameAttrs(ck, want) || ck.Value != tok || ck.MaxAge != 900 {
		t.Fatalf("cookie %+v, want %s with Max-Age 900", ck, attrs(want))
	}
	clk.Advance(100*time.Second + time.Millisecond)
	if ck := s.TokenCookie(credsOf(s, plain), tok); ck == nil || ck.MaxAge != 800 {
		t.Fatalf("Max-Age %v 100 s later, want 800 (rounded up)", ck)
	}

	// The __Secure- form follows the request's session cookie, or its
	// convex_jwt cookie when it has one, and is always Secure.
	ck = s.TokenCookie(credsOf(s, secure), tok)
	if ck == nil || ck.Name != SecurePrefix+JWTCookieName || !ck.Secure {
		t.Fatalf("for a __Secure- session: %+v", ck)
	}
	ck = s.TokenCookie(credsOf(s, secure, &http.Cookie{Name: JWTCookieName, Value: "stale"}), tok)
	if ck == nil || ck.Name != JWTCookieName {
		t.Fatalf("for a request with a plain convex_jwt cookie: %+v", ck)
	}

	// No cookie for a request without a session cookie, nor for a token
	// the browser could not reuse.
	for name, c := range map[string]Credentials{
		"no credentials":    credsOf(s),
		"bearer only":       s.CredentialsOf(nil, "bearer-session-token"),
		"convex_jwt alone":  credsOf(s, &http.Cookie{Name: JWTCookieName, Value: "stale"}),
		"another app's one": credsOf(s, &http.Cookie{Name: "other.session_token", Value: "x"}),
	} {
		if ck := s.TokenCookie(c, tok); ck != nil {
			t.Errorf("%s: cookie %+v", name, ck)
		}
	}
	now := clk.Now()
	for name, tk := range map[string]string{
		"expired":           mint(t, ka, "u", now.Add(-time.Hour), now.Add(-time.Second)),
		"within the margin": mint(t, ka, "u", now, now.Add(DefaultExpiryMargin)),
		"not a JWT":         "opaque",
		"empty":             "",
	} {
		if ck := s.TokenCookie(credsOf(s, plain), tk); ck != nil {
			t.Errorf("%s token: cookie %+v", name, ck)
		}
	}
}

// TestTokenCookieFollowsTheEndpoint: after an exchange, the attributes are
// those of the endpoint's Set-Cookie, whatever they are, and its Max-Age
// counts down for its token.
func TestTokenCookieFollowsTheEndpoint(t *testing.T) {
	ka, _ := keys(t)
	clk := newClockAt(t0)
	tok := mint(t, ka, "u", t0, t0.Add(15*time.Minute))
	set := &http.Cookie{Name: JWTCookieName, Value: tok, MaxAge: 600, Path: "/app", Domain: "example.test",
		Secure: true, HttpOnly: true, SameSite: http.SameSiteNoneMode, Partitioned: true}
	site := newFakeSite(t, func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, set)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"token":%q}`, tok)
	})
	s := newSource(t, site.URL, func(o *Options) { o.Now = clk.Now })
	c := credsOf(s, sessionCookie)
	x, err := s.Exchange(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if x.Cookie == nil || !sameAttrs(x.Cookie, set) {
		t.Fatalf("Exchanged.Cookie %+v", x.Cookie)
	}
	ck := s.TokenCookie(c, tok)
	if ck == nil || !sameAttrs(ck, set) || ck.MaxAge != 600 {
		t.Fatalf("cookie %+v, want %s with Max-Age 600", ck, attrs(set))
	}
	clk.Advance(90 * time.Second)
	if ck := s.TokenCookie(c, tok); ck == nil || ck.MaxAge != 510 {
		t.Fatalf("90 s later: %+v, want Max-Age 510", ck)
	}
	// Another token (another instance's exchange, from a shared cache):
	// to its exp, at most the endpoint's Max-Age.
	now := clk.Now()
	long := mint(t, ka, "u", now, now.Add(15*time.Minute))
	short := mint(t, ka, "u", now, now.Add(5*time.Minute))
	if ck := s.TokenCookie(c, long); ck == nil || ck.MaxAge != 600 || !sameAttrs(ck, set) {
		t.Fatalf("another token living 15 min: %+v, want Max-Age 600", ck)
	}
	if ck := s.TokenCookie(c, short); ck == nil || ck.MaxAge != 300 {
		t.Fatalf("another token living 5 min: %+v, want Max-Age 300", ck)
	}
}

// TestRealServerTokenCookie: for a token just exchanged, TokenCookie is
// the cookie the real token endpoint set with it, and the one its sign-in
// set, in both cookie forms.
func TestRealServerTokenCookie(t *testing.T) {
	for _, secure := range []bool{false, true} {
		t.Run(fmt.Sprintf("secure=%v", secure), func(t *testing.T) {
			srv := betterauthserver.StartT(t, &betterauthserver.Options{SecureCookies: secure})
			ctx := testCtx(t)
			u, err := srv.SignUp(ctx, "erin@example.com", password, "Erin")
			if err != nil {
				t.Fatal(err)
			}
			prefix := ""
			if secure {
				prefix = SecurePrefix
			}
			sess, signIn := u.Cookie(prefix+SessionCookieName), u.Cookie(prefix+JWTCookieName)
			if sess == nil || signIn == nil {
				t.Fatalf("sign-up cookies %v", u.Cookies)
			}
			s, err := New(Options{SiteURL: srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			c := credsOf(s, sess)
			// Before any exchange, the defaults already match Better
			// Auth's, and Max-Age runs to the token's exp.
			_, exp, _ := tokenprovider.Expiry(signIn.Value)
			before := time.Now()
			ck := s.TokenCookie(c, signIn.Value)
			after := time.Now()
			if ck == nil || !sameAttrs(ck, signIn) {
				t.Fatalf("before an exchange: %+v, want like the sign-in's %+v", ck, signIn)
			}
			if lo, hi := int(exp.Sub(after)/time.Second), int(exp.Sub(before)/time.Second)+1; ck.MaxAge < lo || ck.MaxAge > hi || ck.MaxAge > signIn.MaxAge {
				t.Fatalf("before an exchange: Max-Age %d, want %d to %d", ck.MaxAge, lo, hi)
			}
			x, err := s.Exchange(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			if x.Cookie == nil {
				t.Fatal("the token endpoint set no convex_jwt cookie")
			}
			ck = s.TokenCookie(c, x.Token)
			if ck == nil || !sameAttrs(ck, x.Cookie) || ck.MaxAge != x.Cookie.MaxAge || ck.Value != x.Token {
				t.Fatalf("TokenCookie %+v, want the endpoint's %+v", ck, x.Cookie)
			}
			if !sameAttrs(ck, signIn) || x.Cookie.Expires != (time.Time{}) || ck.Expires != (time.Time{}) {
				t.Fatalf("TokenCookie %+v, the sign-in's %+v", ck, signIn)
			}
		})
	}
}
