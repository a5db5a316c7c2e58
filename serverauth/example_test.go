package serverauth_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/convexgo/convex/client"
	"github.com/convexgo/convex/internal/testserver"
	"github.com/convexgo/convex/serverauth"
)

// A web server that renders each page as its signed-in user. With Better
// Auth, replace Session by
//
//	BetterAuth: &betterauth.Options{SiteURL: "https://happy-otter-123.convex.site"},
//
// and, for several instances, share the token cache with
//
//	Cache: tokenprovider.SessionOptions{Store: redisstore.New(rdb, nil)},
func Example() {
	// A local deployment that trusts tokens signed by keys, standing in
	// for your deployment and your auth provider.
	keys, _ := testserver.GenerateKeys()
	deployment := testserver.NewDemo(testserver.WithAuth(keys.AuthConfig()))
	defer deployment.Close()
	users := map[string]string{"session-1": "alice", "session-2": "bob"} // your session store

	convex, err := client.NewHTTPClient(deployment.URL())
	if err != nil {
		panic(err)
	}
	auth, err := serverauth.New(serverauth.Options{
		Client: convex,
		Session: func(r *http.Request) serverauth.Session {
			c, err := r.Cookie("session")
			if err != nil || users[c.Value] == "" {
				return serverauth.Session{} // anonymous
			}
			user := users[c.Value]
			return serverauth.Session{ID: c.Value, Fetch: func(ctx context.Context) (string, error) {
				return keys.MintToken(user, 15*time.Minute, nil) // your auth provider's token
			}}
		},
	})
	if err != nil {
		panic(err)
	}

	mux := http.NewServeMux()
	mux.Handle("GET /{$}", auth.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		who, err := client.Query[*string](r.Context(), serverauth.Caller(r.Context()), "auth:whoami", nil)
		if err != nil {
			http.Error(w, "could not load the page", http.StatusBadGateway)
			return
		}
		if who == nil {
			fmt.Fprintln(w, "hello, stranger")
			return
		}
		fmt.Fprintf(w, "hello, %s\n", *who)
	})))
	mux.Handle("POST /sign-out", auth.SignOutHandler(nil))
	app := httptest.NewServer(mux)
	defer app.Close()

	for _, session := range []string{"session-1", "session-2", ""} {
		req, _ := http.NewRequest(http.MethodGet, app.URL, nil)
		if session != "" {
			req.AddCookie(&http.Cookie{Name: "session", Value: session})
		}
		resp, err := app.Client().Do(req)
		if err != nil {
			panic(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%s [Cache-Control: %s]\n", strings.TrimSpace(string(page)), resp.Header.Get("Cache-Control"))
	}
	// Output:
	// hello, alice [Cache-Control: private, no-store]
	// hello, bob [Cache-Control: private, no-store]
	// hello, stranger [Cache-Control: ]
}
