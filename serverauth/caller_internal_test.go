package serverauth

import (
	"net/http"
	"testing"

	"github.com/convexgo/convex/client"
)

// TestCallerPerToken checks that a UserCaller keeps one HTTPCaller per
// token (so that its mutations stay in order), the first token's and the
// later ones' alike, each with its own token.
func TestCallerPerToken(t *testing.T) {
	h, err := client.NewHTTPClient("http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(Options{Client: h, Session: func(*http.Request) Session { return Session{} }})
	if err != nil {
		t.Fatal(err)
	}
	c := &UserCaller{m: m}
	want := map[string]client.Credentials{"a": client.UserToken("a"), "b": client.UserToken("b"), "": client.Anonymous()}
	got := map[string]*client.HTTPCaller{}
	for range 2 {
		for _, tok := range []string{"a", "b", "", "a"} {
			hc := c.caller(tok)
			if prev, ok := got[tok]; ok && prev != hc {
				t.Fatalf("token %q got a second caller", tok)
			}
			got[tok] = hc
			if hc.Credentials() != want[tok] {
				t.Fatalf("token %q: caller runs as %v", tok, hc.Credentials())
			}
		}
	}
	if got["a"] == got["b"] || got["a"] == got[""] || got["b"] == got[""] {
		t.Fatal("two tokens share a caller")
	}
}
