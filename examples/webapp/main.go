// Command webapp is a web application rendered by a Go server for many
// signed-in users at once: sign-in through Better Auth, a page per user
// (who they are and their own messages, read as them), and a form that
// runs a mutation as the user.
//
//	CONVEX_URL=https://... BETTER_AUTH_URL=https://... go -C examples run ./webapp [-addr 127.0.0.1:8080]
//
// BETTER_AUTH_URL is the origin Better Auth is served at (with the Convex
// plugin, mounted at /api/auth), and the deployment at CONVEX_URL must
// trust the tokens it signs. With neither set, webapp starts both itself:
// a real Better Auth server under Node (node and npm are required) and an
// embedded test deployment with the demo functions that trusts it.
//
// Sign-in: the browser posts its email and password to this server's
// /sign-in, which posts them to Better Auth's /api/auth/sign-in/email
// (or sign-up/email) and re-issues the cookies Better Auth sets (its
// session cookie and the convex_jwt cookie) for this server's origin. On
// later requests serverauth's middleware reads those cookies and runs each
// Convex call as the request's user.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/convexgo/convex/betterauth"
	"github.com/convexgo/convex/client"
	"github.com/convexgo/convex/internal/betterauthserver"
	"github.com/convexgo/convex/internal/testserver"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "the address to serve on")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *addr); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, addr string) error {
	convexURL, baURL := os.Getenv("CONVEX_URL"), os.Getenv("BETTER_AUTH_URL")
	if (convexURL == "") != (baURL == "") {
		return errors.New("set both CONVEX_URL (the deployment) and BETTER_AUTH_URL (Better Auth's origin, " +
			"whose tokens the deployment trusts), or neither to start an embedded pair (needs node and npm)")
	}
	if convexURL == "" {
		startCtx, cancel := context.WithTimeout(ctx, 4*time.Minute)
		defer cancel()
		fmt.Fprintln(os.Stderr, "CONVEX_URL and BETTER_AUTH_URL are not set: starting Better Auth under Node and an embedded test deployment")
		st, err := startEmbedded(startCtx)
		if errors.Is(err, betterauthserver.ErrNoNode) {
			return fmt.Errorf("%w\nor set CONVEX_URL and BETTER_AUTH_URL to use a deployment and its Better Auth", err)
		}
		if err != nil {
			return err
		}
		defer st.Close()
		convexURL, baURL = st.Deployment.URL(), st.BetterAuth.URL
		fmt.Fprintf(os.Stderr, "Better Auth at %s, deployment at %s\n", baURL, convexURL)
	}
	h, err := client.NewHTTPClient(convexURL)
	if err != nil {
		return err
	}
	app, err := New(Config{Convex: h, BetterAuthURL: baURL})
	if err != nil {
		return err
	}
	defer app.Close()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: app, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(os.Stderr, "serving on http://%s (sign in or create an account there)\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutCtx)
}

// embedded is a real Better Auth server and a test deployment that trusts
// the tokens it signs (issuer: its origin; audience "convex"; its JWKS).
type embedded struct {
	BetterAuth *betterauthserver.Server
	Deployment *testserver.Server
}

// startEmbedded starts an embedded pair. It returns an error wrapping
// betterauthserver.ErrNoNode when node or npm is missing.
func startEmbedded(ctx context.Context) (*embedded, error) {
	ba, err := betterauthserver.Start(ctx, nil)
	if err != nil {
		return nil, err
	}
	_, jwks, err := betterauth.FetchJWKS(ctx, betterauth.Options{SiteURL: ba.URL})
	if err != nil {
		_ = ba.Stop()
		return nil, err
	}
	dep := testserver.NewDemo(testserver.WithAuth(testserver.AuthConfig{
		Issuer: ba.URL, ApplicationID: betterauth.Audience, Algorithm: "RS256", JWKS: string(jwks)}))
	return &embedded{BetterAuth: ba, Deployment: dep}, nil
}

// Close stops the deployment and Better Auth.
func (e *embedded) Close() {
	e.Deployment.Close()
	if err := e.BetterAuth.Stop(); err != nil {
		log.Printf("stopping Better Auth: %v", err)
	}
}
