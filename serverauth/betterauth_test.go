package serverauth_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/convexgo/convex/betterauth"
	"github.com/convexgo/convex/client"
	"github.com/convexgo/convex/internal/betterauthserver"
	"github.com/convexgo/convex/internal/testserver"
	"github.com/convexgo/convex/serverauth"
	"github.com/convexgo/convex/tokenprovider"
)

const password = "correct-horse-battery-staple"

// baStack is a real Better Auth server, a test deployment that trusts the
// tokens it signs, and an HTTPClient for the deployment.
type baStack struct {
	ba  *betterauthserver.Server
	dep *testserver.Server
	h   *client.HTTPClient
}

func startBAStack(t testing.TB) *baStack { return startBAStackWith(t, nil) }

func startBAStackWith(t testing.TB, opts *betterauthserver.Options) *baStack {
	t.Helper()
	ba := betterauthserver.StartT(t, opts)
	_, jwks, err := betterauth.FetchJWKS(testCtx(t), betterauth.Options{SiteURL: ba.URL})
	if err != nil {
		t.Fatal(err)
	}
	dep := testserver.NewDemo(testserver.WithAuth(testserver.AuthConfig{
		Issuer: ba.URL, ApplicationID: betterauth.Audience, Algorithm: "RS256", JWKS: string(jwks)}))
	t.Cleanup(dep.Close)
	h, err := client.NewHTTPClient(dep.URL())
	if err != nil {
		t.Fatal(err)
	}
	return &baStack{ba: ba, dep: dep, h: h}
}

func (s *baStack) exchanges(t testing.TB) int {
	t.Helper()
	rc, err := s.ba.Requests(testCtx(t), betterauthserver.TokenPath)
	if err != nil {
		t.Fatal(err)
	}
	return rc.Count
}

// whoamiPage renders "user <sub>", "anonymous" or "signed out".
func whoamiPage(w http.ResponseWriter, r *http.Request) {
	who, err := client.Query[*string](r.Context(), serverauth.Caller(r.Context()), "auth:whoami", nil)
	switch {
	case errors.Is(err, betterauth.ErrSignedOut):
		fmt.Fprint(w, "signed out")
	case err != nil:
		http.Error(w, err.Error(), http.StatusBadGateway)
	case who == nil:
		fmt.Fprint(w, "anonymous")
	default:
		fmt.Fprint(w, "user "+*who)
	}
}

// browser is an http.Client with a cookie jar holding u's cookies for the
// app, as a browser has after signing in through the app's origin.
func browser(t testing.TB, app string, u *betterauthserver.User) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	au, _ := url.Parse(app)
	jar.SetCookies(au, u.Cookies)
	return &http.Client{Jar: jar}
}

func get(t testing.TB, c *http.Client, u string) (string, *http.Response) {
	t.Helper()
	req, _ := http.NewRequestWithContext(testCtx(t), http.MethodGet, u, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b), resp
}

func TestBetterAuthSessions(t *testing.T) {
	st := startBAStack(t)
	alice, err := st.ba.SignUp(testCtx(t), "alice@example.com", password, "Alice")
	if err != nil {
		t.Fatal(err)
	}
	store := tokenprovider.NewMemoryStore(nil)
	m, err := serverauth.New(serverauth.Options{Client: st.h, BetterAuth: &betterauth.Options{SiteURL: st.ba.URL},
		Cache: tokenprovider.SessionOptions{Store: store}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /", m.Handler(http.HandlerFunc(whoamiPage)))
	mux.Handle("POST /sign-out", m.SignOutHandler(nil))
	app := httptest.NewServer(mux)
	t.Cleanup(app.Close)
	br := browser(t, app.URL, alice)
	t.Cleanup(br.CloseIdleConnections)

	before := st.exchanges(t)
	for range 5 {
		if page, _ := get(t, br, app.URL); page != "user "+alice.ID {
			t.Fatalf("page %q, want alice's", page)
		}
	}
	if n := st.exchanges(t) - before; n != 0 {
		t.Fatalf("%d exchanges with a fresh convex_jwt cookie, want 0", n)
	}

	// Without the convex_jwt cookie (a client that keeps only the session
	// cookie), one exchange serves every render.
	sessionOnly := &http.Client{}
	t.Cleanup(sessionOnly.CloseIdleConnections)
	sessionReq := func() string {
		req, _ := http.NewRequestWithContext(testCtx(t), http.MethodGet, app.URL, nil)
		req.AddCookie(alice.Cookie(betterauth.SessionCookieName))
		resp, err := sessionOnly.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	for range 5 {
		if page := sessionReq(); page != "user "+alice.ID {
			t.Fatalf("page %q, want alice's", page)
		}
	}
	if n := st.exchanges(t) - before; n != 1 {
		t.Fatalf("%d exchanges for 5 renders of one session, want 1", n)
	}
	key := tokenprovider.SessionKey(alice.Cookie(betterauth.SessionCookieName).Value)
	if _, ok, _ := store.Get(testCtx(t), key); !ok {
		t.Fatal("the exchanged token is not cached")
	}

	// Sign out through the app.
	req, _ := http.NewRequestWithContext(testCtx(t), http.MethodPost, app.URL+"/sign-out", nil)
	resp, err := br.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Cache-Control") != "private, no-store" {
		t.Fatalf("sign-out: %d, Cache-Control %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	expired := map[string]bool{}
	for _, c := range resp.Cookies() {
		if c.MaxAge < 0 {
			expired[c.Name] = true
		}
	}
	if !expired[betterauth.SessionCookieName] || !expired[betterauth.JWTCookieName] {
		t.Fatalf("sign-out expired %v, want the session and convex_jwt cookies", expired)
	}
	if _, ok, _ := store.Get(testCtx(t), key); ok {
		t.Fatal("the session's token is still cached")
	}
	src, _ := betterauth.New(betterauth.Options{SiteURL: st.ba.URL})
	if _, err := src.Exchange(testCtx(t), src.CredentialsOf(alice.Cookies, "")); !errors.Is(err, betterauth.ErrSignedOut) {
		t.Fatalf("exchange after sign-out: %v, want ErrSignedOut (session revoked)", err)
	}
	if page, _ := get(t, br, app.URL); page != "anonymous" {
		t.Fatalf("the browser's page after sign-out: %q", page)
	}
	// A replayed session cookie finds no cached token and no session.
	if page := sessionReq(); page != "signed out" {
		t.Fatalf("replayed session cookie: %q", page)
	}
}
