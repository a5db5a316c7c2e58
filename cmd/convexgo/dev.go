package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/convexgo/convex/internal/testserver"
)

// keyFile is what the dev deployment writes next to the private key so
// that `convexgo token` can mint tokens for it.
type keyFile struct {
	Kid           string `json:"kid"`
	Algorithm     string `json:"alg"`
	Issuer        string `json:"issuer"`
	ApplicationID string `json:"applicationID"`
}

const (
	privateKeyName = "private-key.pem"
	keyInfoName    = "key.json"
	jwksName       = "jwks.json"
)

// loadOrCreateKeys reads the signing key from dir, or generates one and
// writes it (with the public JWKS) there.
func loadOrCreateKeys(dir string) (*testserver.Keys, bool, error) {
	pemBytes, err := os.ReadFile(filepath.Join(dir, privateKeyName))
	if err == nil {
		infoBytes, err := os.ReadFile(filepath.Join(dir, keyInfoName))
		if err != nil {
			return nil, false, err
		}
		var info keyFile
		if err := json.Unmarshal(infoBytes, &info); err != nil {
			return nil, false, fmt.Errorf("%s: %w", keyInfoName, err)
		}
		k, err := testserver.KeysFromPEM(pemBytes, info.Kid)
		if err != nil {
			return nil, false, err
		}
		k.Issuer, k.ApplicationID = info.Issuer, info.ApplicationID
		return k, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	k, err := testserver.GenerateKeys()
	if err != nil {
		return nil, false, err
	}
	pemOut, err := k.PrivateKeyPEM()
	if err != nil {
		return nil, false, err
	}
	info, _ := json.MarshalIndent(keyFile{Kid: k.Kid, Algorithm: k.Algorithm, Issuer: k.Issuer, ApplicationID: k.ApplicationID}, "", "  ")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, err
	}
	for name, data := range map[string][]byte{privateKeyName: pemOut, keyInfoName: info, jwksName: k.JWKS()} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return nil, false, err
		}
	}
	return k, true, nil
}

func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("dev", stdout, help{
		usage: "dev [flags]",
		text: `Serves the embedded test deployment, with the demo functions (counter:get,
counter:increment, messages:list, echo:run, auth:whoami, ...), until
interrupted. Its data lives in memory and goes when it stops.

It prints the deployment's URL and the "export CONVEX_URL=..." line that
points the other commands, run from another shell, at it, and its admin key
(new at every start) for "convexgo gen --url" and admin calls. Tokens minted
by "convexgo token" are accepted.`,
	})
	host := fs.String("host", "127.0.0.1", "The `address` to listen on.")
	port := fs.Int("port", 3210, "The `port` to listen on; 0 picks a free one.")
	jwksFile := fs.String("jwks", "", "Accept tokens signed by the keys in this JWKS `file`, instead of generating a signing key.")
	issuer := fs.String("issuer", testserver.DefaultIssuer, "With --jwks: the `iss` that tokens must carry.")
	audience := fs.String("audience", testserver.DefaultApplicationID, "With --jwks: the `aud` that tokens must carry; empty leaves it unchecked.")
	alg := fs.String("alg", "RS256", "With --jwks: the tokens' `algorithm`, RS256 or ES256.")
	keysDir := fs.String("keys-dir", ".convexgo", "Without --jwks: the `folder` where the generated signing key and its JWKS are kept.")
	testEndpoints := fs.Bool("test-endpoints", false, "Also serve POST /_test/drop, which drops every socket (for tests).")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return &usageError{msg: fmt.Sprintf("unexpected arguments %q", rest), hint: true}
	}

	var auth testserver.AuthConfig
	if *jwksFile != "" {
		jwks, err := os.ReadFile(*jwksFile)
		if err != nil {
			return err
		}
		auth = testserver.AuthConfig{Issuer: *issuer, ApplicationID: *audience, Algorithm: *alg, JWKS: string(jwks)}
	} else {
		k, created, err := loadOrCreateKeys(*keysDir)
		if err != nil {
			return fmt.Errorf("signing keys in %s: %w", *keysDir, err)
		}
		verb := "using"
		if created {
			verb = "generated"
		}
		fmt.Fprintf(stderr, "%s signing key %s in %s (public keys: %s)\n", verb, k.Kid, *keysDir, filepath.Join(*keysDir, jwksName))
		auth = k.AuthConfig()
	}

	srv, err := newDevServer(fmt.Sprintf("%s:%d", *host, *port), *testEndpoints, testserver.WithAuth(auth))
	if err != nil {
		return err
	}
	defer srv.Close()
	fmt.Fprintf(stdout, "Convex test deployment at %s\n", srv.URL)
	fmt.Fprintf(stdout, "point the other commands at it (in another shell):\n    export CONVEX_URL=%s\n", srv.URL)
	fmt.Fprintf(stdout, "its admin key (internal functions, acting as users, convexgo gen --url):\n    export CONVEX_ADMIN_KEY='%s'\n", srv.backend.AdminKey())
	if *jwksFile == "" {
		fmt.Fprintf(stdout, "mint a token: go run ./cmd/convexgo token --keys-dir %s --sub alice\n", *keysDir)
	}
	<-ctx.Done()
	return nil
}

// devServer serves the test deployment on a chosen address, with optional
// test endpoints in front of it.
type devServer struct {
	URL     string
	backend *testserver.Server
	http    *http.Server
	done    chan struct{}
}

func newDevServer(addr string, testEndpoints bool, opts ...testserver.Option) (*devServer, error) {
	backend, err := testserver.Start("127.0.0.1:0", opts...)
	if err != nil {
		return nil, err
	}
	testserver.RegisterDemo(backend)
	mux := http.NewServeMux()
	if testEndpoints {
		mux.HandleFunc("POST /_test/drop", func(w http.ResponseWriter, r *http.Request) {
			n := backend.DropAll()
			fmt.Fprintf(w, "dropped %d sockets\n", n)
		})
	}
	mux.Handle("/", backend.Handler())
	l, err := net.Listen("tcp", addr)
	if err != nil {
		backend.Close()
		return nil, err
	}
	d := &devServer{
		URL:     "http://" + l.Addr().String(),
		backend: backend,
		http:    &http.Server{Handler: mux, ReadHeaderTimeout: 30 * time.Second},
		done:    make(chan struct{}),
	}
	go func() {
		defer close(d.done)
		_ = d.http.Serve(l)
	}()
	return d, nil
}

// Close stops serving and closes every socket.
func (d *devServer) Close() {
	d.backend.Close() // closes the sockets served through the handler too
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = d.http.Shutdown(ctx)
	<-d.done
}

func runToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("token", stdout, help{
		usage: "token --sub SUBJECT [flags]",
		text: `Prints a JWT that "convexgo dev" accepts, signed with the key it keeps in
--keys-dir. Pass it to the calling commands with --token, or export it as
CONVEX_AUTH_TOKEN.`,
	})
	keysDir := fs.String("keys-dir", ".convexgo", "The `folder` where \"convexgo dev\" keeps its signing key.")
	sub := fs.String("sub", "", "The token's `subject`, the user it stands for (required).")
	ttl := fs.Duration("ttl", time.Hour, "How long the token stays valid, as a `duration` such as 30m.")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return &usageError{msg: fmt.Sprintf("unexpected arguments %q", rest), hint: true}
	}
	if *sub == "" {
		return &usageError{msg: "--sub is required"}
	}
	if *ttl <= 0 {
		return &usageError{msg: "--ttl must be positive"}
	}
	if _, err := os.Stat(filepath.Join(*keysDir, privateKeyName)); err != nil {
		return fmt.Errorf("no signing key in %s: start `convexgo dev --keys-dir %s` first (%w)", *keysDir, *keysDir, err)
	}
	k, _, err := loadOrCreateKeys(*keysDir)
	if err != nil {
		return err
	}
	tok, err := k.MintToken(*sub, *ttl, nil)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}
