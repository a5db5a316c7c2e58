package betterauthserver

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/convexgo/convex/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

func TestSignUpSignInSignOut(t *testing.T) {
	s := StartT(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if !strings.HasPrefix(s.URL, "http://127.0.0.1:") {
		t.Fatalf("URL %q is not on 127.0.0.1", s.URL)
	}
	u, err := s.SignUp(ctx, "ada@example.com", "password-0123456789", "Ada")
	if err != nil {
		t.Fatal(err)
	}
	if u.Cookie("better-auth.session_token") == nil || u.Cookie("better-auth.convex_jwt") == nil {
		t.Fatalf("sign-up set cookies %v; want the session and convex_jwt cookies", u.Cookies)
	}
	in, err := s.SignIn(ctx, "ada@example.com", "password-0123456789")
	if err != nil {
		t.Fatal(err)
	}
	if in.ID != u.ID || in.SessionToken == u.SessionToken {
		t.Fatalf("sign-in: user %q token %q; sign-up: user %q token %q", in.ID, in.SessionToken, u.ID, u.SessionToken)
	}
	if _, err := s.SignIn(ctx, "ada@example.com", "wrong-password-000"); err == nil {
		t.Fatal("sign-in with a wrong password succeeded")
	}
	if err := s.SignOut(ctx, in.Cookies); err != nil {
		t.Fatal(err)
	}
	rc, err := s.Requests(ctx, SignOutPath)
	if err != nil {
		t.Fatal(err)
	}
	if rc.Count != 1 {
		t.Fatalf("sign-out requests = %d, want 1", rc.Count)
	}
	rows, err := s.LatestJWKSRows(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(rows), `"privateKey"`) {
		t.Fatalf("latest-jwks rows have no privateKey field: %s", rows)
	}
}

func TestSecureCookies(t *testing.T) {
	s := StartT(t, &Options{SecureCookies: true})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	u, err := s.SignUp(ctx, "grace@example.com", "password-0123456789", "Grace")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"__Secure-better-auth.session_token", "__Secure-better-auth.convex_jwt"} {
		if c := u.Cookie(name); c == nil || !c.Secure {
			t.Errorf("cookie %s = %v, want a Secure cookie", name, c)
		}
	}
}

func TestStopTwice(t *testing.T) {
	s := StartT(t, nil)
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, s.URL+JWKSPath, nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("the server still answers after Stop")
	}
}
