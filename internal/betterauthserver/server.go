// Package betterauthserver runs a real Better Auth server under Node for
// tests: better-auth with the Convex plugin of @convex-dev/better-auth
// (both pinned in package-lock.json), email+password sign-in and an
// in-memory database, on 127.0.0.1 on a free port. See server.mjs.
//
// Start installs the pinned packages with npm ci (once per package-lock
// content; see Start), runs the server and waits for the line it prints
// when it listens. Helpers sign users up and in over HTTP and return their
// session cookies. The server also has test-only routes: request counts
// per path (Requests) and the rows the Convex plugin's getLatestJwks
// returns (LatestJWKSRows).
package betterauthserver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// BasePath is where the server mounts Better Auth.
const BasePath = "/api/auth"

// Paths of the routes the tests use, under the server's URL.
const (
	TokenPath   = BasePath + "/convex/token"
	JWKSPath    = BasePath + "/convex/jwks"
	SignUpPath  = BasePath + "/sign-up/email"
	SignInPath  = BasePath + "/sign-in/email"
	SignOutPath = BasePath + "/sign-out"
)

// ErrNoNode is returned by Start when node or npm cannot be found.
var ErrNoNode = errors.New("betterauthserver: node and npm are required (install Node.js 20 or later)")

// Options configure a server. The zero value is the default.
type Options struct {
	// SecureCookies makes Better Auth use the __Secure- cookie names
	// (advanced.useSecureCookies), as it does behind https.
	SecureCookies bool
	// Log receives the server's stderr and every stdout line after the
	// readiness line. Default: discarded.
	Log io.Writer
}

// Server is a running Better Auth server.
type Server struct {
	// URL is the server's origin, "http://127.0.0.1:PORT". It is also the
	// issuer of the tokens it signs (CONVEX_SITE_URL).
	URL string

	cmd      *exec.Cmd
	stopWait chan error // cmd.Wait's result
	stopOnce sync.Once
	stopErr  error
	client   *http.Client
}

// dir is the directory holding package.json and server.mjs.
func dir() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("betterauthserver: cannot locate the package directory")
	}
	return filepath.Dir(file), nil
}

var (
	installMu sync.Mutex
	installed string // package-lock hash installed by this process
)

// install runs npm ci in d unless node_modules already holds the packages
// of this exact package-lock.json (a stamp file records its hash). Test
// binaries of several packages may start servers at once, so the check and
// the install run under an exclusive file lock (in the temporary directory,
// named after d).
func install(ctx context.Context, npm, d string) error {
	installMu.Lock()
	defer installMu.Unlock()
	lock, err := os.ReadFile(filepath.Join(d, "package-lock.json"))
	if err != nil {
		return fmt.Errorf("betterauthserver: %w", err)
	}
	sum := sha256.Sum256(lock)
	want := hex.EncodeToString(sum[:])
	if installed == want {
		return nil
	}
	dirSum := sha256.Sum256([]byte(d))
	unlock, err := lockFile(filepath.Join(os.TempDir(),
		"convexgo-betterauthserver-"+hex.EncodeToString(dirSum[:8])+".lock"))
	if err != nil {
		return fmt.Errorf("betterauthserver: lock: %w", err)
	}
	defer unlock()
	stamp := filepath.Join(d, "node_modules", ".convexgo-lock-sha256")
	if got, err := os.ReadFile(stamp); err == nil && strings.TrimSpace(string(got)) == want {
		installed = want
		return nil
	}
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = d
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("betterauthserver: npm ci: %v\n%s", err, out)
	}
	if err := os.WriteFile(stamp, []byte(want+"\n"), 0o644); err != nil {
		return fmt.Errorf("betterauthserver: %w", err)
	}
	installed = want
	return nil
}

// Start installs the pinned packages if needed, starts a server and waits
// until it listens or ctx ends. It returns ErrNoNode when node or npm is
// missing. Call Stop when done.
func Start(ctx context.Context, opts *Options) (*Server, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoNode, err)
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoNode, err)
	}
	d, err := dir()
	if err != nil {
		return nil, err
	}
	if err := install(ctx, npm, d); err != nil {
		return nil, err
	}
	logw := o.Log
	if logw == nil {
		logw = io.Discard
	}
	// The process is not tied to ctx: ctx bounds the start only.
	cmd := exec.Command(node, "server.mjs")
	cmd.Dir = d
	cmd.Env = append(os.Environ(), "BA_SECURE_COOKIES="+map[bool]string{true: "1", false: "0"}[o.SecureCookies])
	ready := make(chan string, 1)
	cmd.Stdout = &readyWriter{ready: ready, log: logw}
	cmd.Stderr = &lockedWriter{w: logw}
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("betterauthserver: start node: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	s := &Server{cmd: cmd, client: &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	select {
	case u := <-ready:
		s.URL = u
		s.stopWait = exited // Wait runs in the goroutine above; Stop collects it
		return s, nil
	case err := <-exited:
		return nil, fmt.Errorf("betterauthserver: node exited before it was ready: %v", err)
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		<-exited
		s.client.CloseIdleConnections()
		return nil, fmt.Errorf("betterauthserver: waiting for the server: %w", ctx.Err())
	}
}

// StartT starts a server for t and stops it when t ends. A missing node
// or npm skips t, except under CI (the CI environment variable is set),
// where it fails t.
func StartT(t testing.TB, opts *Options) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	s, err := Start(ctx, opts)
	if errors.Is(err, ErrNoNode) {
		if os.Getenv("CI") != "" {
			t.Fatalf("%v (required under CI)", err)
		}
		t.Skipf("%v; skipping the Better Auth tests", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("stopping the Better Auth server: %v", err)
		}
	})
	return s
}

// Stop kills the server and waits for it to exit. It is safe to call more
// than once.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		s.client.CloseIdleConnections()
		if err := s.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			s.stopErr = err
		}
		err := <-s.stopWait
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) { // killed: an ExitError, expected
			s.stopErr = err
		}
	})
	return s.stopErr
}

// readyWriter receives the server's stdout. The first line that is a
// readiness message sends its URL on ready; all other lines go to log.
type readyWriter struct {
	mu    sync.Mutex
	buf   []byte
	ready chan string
	done  bool
	log   io.Writer
}

func (w *readyWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := w.buf[:i]
		w.buf = w.buf[i+1:]
		var msg struct {
			Ready bool   `json:"ready"`
			URL   string `json:"url"`
		}
		if !w.done && json.Unmarshal(line, &msg) == nil && msg.Ready && msg.URL != "" {
			w.done = true
			w.ready <- msg.URL
			continue
		}
		_, _ = fmt.Fprintf(w.log, "%s\n", line)
	}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

// User is a signed-in Better Auth user.
type User struct {
	ID    string
	Email string
	// SessionToken is the session token from the response body (the
	// unsigned form, which Better Auth accepts as a Bearer token).
	SessionToken string
	// Cookies are the cookies the sign-up or sign-in response set with a
	// value (the session cookie and the convex_jwt cookie among them).
	Cookies []*http.Cookie
}

// Cookie returns the user's cookie named name, or nil.
func (u *User) Cookie(name string) *http.Cookie {
	for _, c := range u.Cookies {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// SignUp creates a user with email and password and returns it signed in.
func (s *Server) SignUp(ctx context.Context, email, password, name string) (*User, error) {
	return s.signIn(ctx, SignUpPath, map[string]string{"email": email, "password": password, "name": name})
}

// SignIn signs an existing user in and returns a new session.
func (s *Server) SignIn(ctx context.Context, email, password string) (*User, error) {
	return s.signIn(ctx, SignInPath, map[string]string{"email": email, "password": password})
}

func (s *Server) signIn(ctx context.Context, path string, body map[string]string) (*User, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	resp, data, err := s.do(ctx, http.MethodPost, path, b, nil)
	if err != nil {
		return nil, err
	}
	var out struct {
		Token string `json:"token"`
		User  struct {
			ID    string `json:"id"`
			Email string `json:"email"`
		} `json:"user"`
	}
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("betterauthserver: %s: %v: %s", path, err, data)
	}
	u := &User{ID: out.User.ID, Email: out.User.Email, SessionToken: out.Token}
	for _, c := range resp.Cookies() {
		if c.Value != "" {
			u.Cookies = append(u.Cookies, c)
		}
	}
	if u.ID == "" || u.SessionToken == "" {
		return nil, fmt.Errorf("betterauthserver: %s: no user or token in %s", path, data)
	}
	return u, nil
}

// SignOut signs the session carried by cookies out (Better Auth deletes
// the session; its token endpoint then answers 401).
func (s *Server) SignOut(ctx context.Context, cookies []*http.Cookie) error {
	_, _, err := s.do(ctx, http.MethodPost, SignOutPath, []byte("{}"), cookies)
	return err
}

// RequestCount is what the server saw of the requests to one path.
type RequestCount struct {
	Count int `json:"count"`
	// Cookies are the cookie names of the last request to the path.
	Cookies []string `json:"cookies"`
	// Authorization is whether the last request had an Authorization
	// header.
	Authorization bool `json:"authorization"`
}

// Requests reports the requests the server has received for path so far
// (test-only route; counted as each request arrives).
func (s *Server) Requests(ctx context.Context, path string) (RequestCount, error) {
	_, data, err := s.do(ctx, http.MethodGet, "/test/requests?path="+url.QueryEscape(path), nil, nil)
	if err != nil {
		return RequestCount{}, err
	}
	var rc RequestCount
	if err := json.Unmarshal(data, &rc); err != nil {
		return RequestCount{}, fmt.Errorf("betterauthserver: requests: %w", err)
	}
	return rc, nil
}

// LatestJWKSRows returns the JSON the Convex plugin's server-only
// getLatestJwks endpoint returns: an array of key rows (id, publicKey,
// privateKey, alg, createdAt), private key included (test-only route).
func (s *Server) LatestJWKSRows(ctx context.Context) ([]byte, error) {
	_, data, err := s.do(ctx, http.MethodGet, "/test/latest-jwks", nil, nil)
	return data, err
}

// do sends a request with an Origin header (Better Auth checks it on
// POSTs that carry cookies) and returns the response and its body; a
// status other than 200 is an error.
func (s *Server) do(ctx context.Context, method, path string, body []byte, cookies []*http.Cookie) (*http.Response, []byte, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.URL+path, r)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Origin", s.URL)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("betterauthserver: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, nil, fmt.Errorf("betterauthserver: %s %s: %w", method, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return resp, data, fmt.Errorf("betterauthserver: %s %s: status %d: %s", method, path, resp.StatusCode, data)
	}
	return resp, data, nil
}
