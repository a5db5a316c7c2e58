package redisstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/convexgo/convex/betterauth"
	"github.com/convexgo/convex/client"
	"github.com/convexgo/convex/internal/betterauthserver"
	"github.com/convexgo/convex/internal/testserver"
	"github.com/convexgo/convex/serverauth"
	"github.com/convexgo/convex/tokenprovider"
)

// countingStore is a Store (and Locker) that counts Gets.
type countingStore struct {
	*Store
	gets *atomic.Int64
}

func (s countingStore) Get(ctx context.Context, key string) (string, bool, error) {
	s.gets.Add(1)
	return s.Store.Get(ctx, key)
}

// TestServerRenderingEndToEnd runs the real parts together: a real Better
// Auth server (with the Convex plugin), a test deployment trusting the
// keys it signs with, one redis-server, and two instances of a Go web
// server, each with its own serverauth.Middleware, HTTPClient and
// SessionCache, sharing one Redis store. Each user is a browser: an
// http.Client with a cookie jar holding the cookies of its sign-in, sent
// to both instances (same host, as behind a load balancer).
func TestServerRenderingEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rdb := startRedis(t)
	ba := betterauthserver.StartT(t, nil)
	_, jwks, err := betterauth.FetchJWKS(ctx, betterauth.Options{SiteURL: ba.URL})
	if err != nil {
		t.Fatal(err)
	}
	dep := testserver.NewDemo(testserver.WithAuth(testserver.AuthConfig{
		Issuer: ba.URL, ApplicationID: betterauth.Audience, Algorithm: "RS256", JWKS: string(jwks)}))
	t.Cleanup(dep.Close)
	store := New(rdb, nil)
	var lookups atomic.Int64 // Gets of the instances' stores
	counted := countingStore{Store: store, gets: &lookups}

	// The web server: its page prints whoami.
	instance := func(name string) *httptest.Server {
		h, err := client.NewHTTPClient(dep.URL())
		if err != nil {
			t.Fatal(err)
		}
		m, err := serverauth.New(serverauth.Options{Client: h, BetterAuth: &betterauth.Options{SiteURL: ba.URL},
			Cache: tokenprovider.SessionOptions{Store: counted}, RefreshTokenCookie: true})
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /{$}", m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			who, err := client.Query[*string](r.Context(), serverauth.Caller(r.Context()), "auth:whoami", nil)
			switch {
			case errors.Is(err, betterauth.ErrSignedOut):
				fmt.Fprint(w, "whoami: signed out")
			case err != nil:
				http.Error(w, err.Error(), http.StatusBadGateway)
			case who == nil:
				fmt.Fprint(w, "whoami: anonymous")
			default:
				fmt.Fprint(w, "whoami: "+*who)
			}
		})))
		mux.Handle("POST /sign-out", m.SignOutHandler(nil))
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		return srv
	}
	instances := []*httptest.Server{instance("A"), instance("B")}
	a, b := instances[0], instances[1]
	appURL, _ := url.Parse(a.URL) // same host as b: cookies go to both

	type user struct {
		*betterauthserver.User
		browser *http.Client
	}
	var users []*user
	for i := range 20 {
		email := fmt.Sprintf("user%02d@example.com", i)
		if _, err := ba.SignUp(ctx, email, "correct-horse-battery-staple", fmt.Sprint("User ", i)); err != nil {
			t.Fatal(err)
		}
		u, err := ba.SignIn(ctx, email, "correct-horse-battery-staple")
		if err != nil {
			t.Fatal(err)
		}
		jar, _ := cookiejar.New(nil)
		jar.SetCookies(appURL, u.Cookies)
		br := &http.Client{Jar: jar}
		t.Cleanup(br.CloseIdleConnections)
		users = append(users, &user{User: u, browser: br})
	}
	page := func(u *user, inst *httptest.Server) (string, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, inst.URL+"/", nil)
		resp, err := u.browser.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("status %d: %s", resp.StatusCode, body)
		}
		return string(body), err
	}
	exchanges := func() int {
		rc, err := ba.Requests(ctx, betterauthserver.TokenPath)
		if err != nil {
			t.Fatal(err)
		}
		return rc.Count
	}
	// renderAll renders perUser pages for each of us, all at once,
	// alternating the instances.
	renderAll := func(us []*user, perUser int) (pages, wrong int) {
		var wg sync.WaitGroup
		var n, bad atomic.Int64
		for _, u := range us {
			for i := range perUser {
				wg.Go(func() {
					got, err := page(u, instances[i%2])
					n.Add(1)
					if want := "whoami: " + u.ID; err != nil || got != want {
						bad.Add(1)
						t.Errorf("%s on instance %d: page %q (%v), want %q", u.Email, i%2, got, err, want)
					}
				})
			}
		}
		wg.Wait()
		return int(n.Load()), int(bad.Load())
	}

	// 1. Browsers as they are after sign-in: the jar holds the session
	// cookie and a fresh convex_jwt cookie, whose token the middleware
	// uses as it is, with no exchange.
	before := exchanges()
	if pages, wrong := renderAll(users[:2], 10); pages != 20 || wrong != 0 {
		t.Fatalf("2 users: %d pages, %d wrong", pages, wrong)
	}
	pages, wrong := renderAll(users, 10)
	cookieExchanges := exchanges() - before
	t.Logf("with the sign-in's convex_jwt cookie: %d pages from 20 users over 2 instances, %d wrong, %d token exchanges", pages, wrong, cookieExchanges)
	if pages != 200 || wrong != 0 || cookieExchanges != 0 {
		t.Fatalf("%d pages, %d wrong, %d exchanges; want 200, 0, 0", pages, wrong, cookieExchanges)
	}

	// 2. The convex_jwt cookie gone (as at its Max-Age, 15 minutes, while
	// the session lives on): each session is exchanged once, by whichever
	// instance takes the session's lease in Redis first, and the token is
	// shared through Redis with the other instance, even though each
	// user's 10 pages start at once, on both instances.
	for _, u := range users {
		u.browser.Jar.SetCookies(appURL, []*http.Cookie{{Name: betterauth.JWTCookieName, Value: "", Path: "/", MaxAge: -1}})
	}
	before = exchanges()
	pages, wrong = renderAll(users, 10)
	sessionExchanges := exchanges() - before
	t.Logf("without it: %d pages from 20 users over 2 instances, %d wrong, %d token exchanges for 20 sessions", pages, wrong, sessionExchanges)
	if pages != 200 || wrong != 0 || sessionExchanges != 20 {
		t.Fatalf("%d pages, %d wrong, %d exchanges; want 200, 0 and 20 (one per session)", pages, wrong, sessionExchanges)
	}
	for _, u := range users {
		if _, ok, err := store.Get(ctx, tokenprovider.SessionKey(u.Cookie(betterauth.SessionCookieName).Value)); !ok || err != nil {
			t.Fatalf("%s's token is not in Redis (%v)", u.Email, err)
		}
	}

	// 2b. The first pages handed each browser its token in a fresh
	// convex_jwt cookie (RefreshTokenCookie): the next pages, on either
	// instance, use it, with no exchange and not even a Redis lookup.
	for _, u := range users {
		var fresh bool
		for _, c := range u.browser.Jar.Cookies(appURL) {
			if c.Name == betterauth.JWTCookieName {
				_, exp, ok := tokenprovider.Expiry(c.Value)
				fresh = ok && time.Until(exp) > time.Minute
			}
		}
		if !fresh {
			t.Fatalf("%s's browser holds no fresh convex_jwt cookie after its pages", u.Email)
		}
	}
	before, lookupsBefore := exchanges(), lookups.Load()
	pages, wrong = renderAll(users, 10)
	refreshed, looked := exchanges()-before, lookups.Load()-lookupsBefore
	t.Logf("with the refreshed cookie: %d pages, %d wrong, %d token exchanges, %d Redis lookups", pages, wrong, refreshed, looked)
	if pages != 200 || wrong != 0 || refreshed != 0 || looked != 0 {
		t.Fatalf("%d pages, %d wrong, %d exchanges, %d lookups; want 200, 0, 0, 0", pages, wrong, refreshed, looked)
	}

	// 3. Sign out through instance A: the next render on B is anonymous.
	gone, other := users[0], users[1]
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, a.URL+"/sign-out", nil)
	resp, err := gone.browser.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("sign-out: status %d", resp.StatusCode)
	}
	sessionCookie := gone.Cookie(betterauth.SessionCookieName)
	if _, ok, _ := store.Get(ctx, tokenprovider.SessionKey(sessionCookie.Value)); ok {
		t.Fatal("the signed-out session's token is still in Redis")
	}
	if got, err := page(gone, b); got != "whoami: anonymous" {
		t.Fatalf("after sign-out, instance B renders %q (%v), want anonymous", got, err)
	}
	// The old session cookie, replayed to B, finds no token in Redis, and
	// Better Auth has revoked the session: signed out, not the user.
	replay := &http.Client{}
	t.Cleanup(replay.CloseIdleConnections)
	rreq, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.URL+"/", nil)
	rreq.AddCookie(sessionCookie)
	rresp, err := replay.Do(rreq)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(rresp.Body)
	rresp.Body.Close()
	if string(body) != "whoami: signed out" {
		t.Fatalf("replayed session cookie on B: %q, want signed out", body)
	}
	if got, err := page(other, b); got != "whoami: "+other.ID {
		t.Fatalf("another user on B: %q (%v)", got, err)
	}
}
