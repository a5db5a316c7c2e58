package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/convexgo/convex/internal/testserver"
	"github.com/convexgo/convex/protocol"
)

func httpSetup(t *testing.T, opts ...Option) (*testserver.Server, *testserver.Keys, *HTTPClient, context.Context) {
	t.Helper()
	srv, keys := authDeployment(t)
	h, err := NewHTTPClient(srv.URL(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return srv, keys, h, ctx
}

// The case that a shared Client with SetAuthToken per request got wrong on
// 21 to 58 of 200 requests: every render must see its own user.
func TestHTTPCallerPerRequestIdentity(t *testing.T) {
	_, keys, h, ctx := httpSetup(t)
	const users, perUser = 20, 10
	tokens := make([]string, users)
	for i := range tokens {
		tok, err := keys.MintToken(fmt.Sprintf("user-%d", i), time.Hour, nil)
		if err != nil {
			t.Fatal(err)
		}
		tokens[i] = tok
	}
	var wg sync.WaitGroup
	errs := make(chan error, users*perUser)
	for i := 0; i < users; i++ {
		for j := 0; j < perUser; j++ {
			wg.Go(func() {
				who, err := Query[*string](ctx, h.As(UserToken(tokens[i])), "auth:whoami", nil)
				switch {
				case err != nil:
					errs <- err
				case who == nil || *who != fmt.Sprintf("user-%d", i):
					errs <- fmt.Errorf("request for user-%d saw %v", i, who)
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// No credentials: anonymous.
	who, err := Query[*string](ctx, h.As(Anonymous()), "auth:whoami", nil)
	if err != nil || who != nil {
		t.Fatalf("anonymous whoami = %v, %v", who, err)
	}
}

func TestHTTPCallerErrors(t *testing.T) {
	_, _, h, ctx := httpSetup(t)
	anon := h.As(Anonymous())
	// A bad token is an HTTP 401, an auth error.
	_, err := Query[any](ctx, h.As(UserToken("not-a-jwt")), "auth:whoami", nil)
	var he *HTTPError
	if !errors.As(err, &he) || he.StatusCode != http.StatusUnauthorized || !he.AuthError() {
		t.Fatalf("bad token = %v", err)
	}
	// A function that throws a ConvexError gives its data.
	_, err = Query[any](ctx, anon, "errors:throw", nil)
	var fe *FunctionError
	if !errors.As(err, &fe) || !fe.HasData || fe.Kind != "query" {
		t.Fatalf("errors:throw = %v", err)
	}
	// Bad arguments fail before any request.
	if _, err := Mutation[any](ctx, anon, "messages:send", map[string]any{"$bad": 1}); err == nil {
		t.Fatal("a $ field name was sent")
	}
	// ViaSocket has no socket to use.
	if _, err := Query[any](ctx, anon, "counter:get", map[string]any{"name": "x"}, ViaSocket()); err == nil ||
		!strings.Contains(err.Error(), "ViaSocket") {
		t.Fatalf("ViaSocket = %v", err)
	}
	// ActingAs needs an admin key.
	_, err = Query[any](ctx, h.As(UserToken("t").ActingAs(UserIdentity{Issuer: "i", Subject: "s"})), "auth:whoami", nil)
	if err == nil || !strings.Contains(err.Error(), "needs admin credentials") {
		t.Fatalf("user token acting as = %v", err)
	}
	// The caller's context ends the call.
	done, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Query[any](done, anon, "counter:get", map[string]any{"name": "x"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled = %v", err)
	}
	// Socket-only options are refused.
	if _, err := NewHTTPClient("http://127.0.0.1:1", WithReadLimit(1<<20)); err == nil {
		t.Fatal("NewHTTPClient took a socket option")
	}
	if _, err := NewHTTPClient("ftp://x"); err == nil {
		t.Fatal("NewHTTPClient took an ftp URL")
	}
	var zero HTTPCaller
	if _, err := zero.QueryRaw(ctx, "counter:get", nil); err == nil {
		t.Fatal("the zero HTTPCaller made a call")
	}
}

func TestHTTPCallerMutationsAndActions(t *testing.T) {
	_, _, h, ctx := httpSetup(t)
	c := h.As(Anonymous())
	if n, err := Mutation[float64](ctx, c, "counter:increment", map[string]any{"name": "h", "by": 2}); err != nil || n != 2 {
		t.Fatalf("increment = %v, %v", n, err)
	}
	if n, err := Query[int](ctx, c, "counter:get", map[string]any{"name": "h"}); err != nil || n != 2 {
		t.Fatalf("get = %v, %v", n, err)
	}
	echo, err := Action[map[string]any](ctx, c, "echo:run", map[string]any{"i": Int64(7)})
	if err != nil || echo["i"] != Int64(7) {
		t.Fatalf("echo = %v, %v", echo, err)
	}
}

// holdingTransport records each request's Authorization header and body,
// and holds a request whose body contains hold until release is closed.
type holdingTransport struct {
	mu       sync.Mutex
	auths    []string
	bodies   []string
	hold     string
	held     chan struct{} // closed when the held request arrives
	release  chan struct{}
	released bool
}

func (rt *holdingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	var b []byte
	if r.Body != nil {
		b, _ = io.ReadAll(r.Body)
		r.Body = io.NopCloser(strings.NewReader(string(b)))
	}
	rt.mu.Lock()
	rt.auths = append(rt.auths, r.Header.Get("Authorization"))
	rt.bodies = append(rt.bodies, string(b))
	hold := rt.hold != "" && strings.Contains(string(b), rt.hold)
	rt.mu.Unlock()
	if hold {
		close(rt.held)
		<-rt.release
		rt.mu.Lock()
		rt.released = true
		rt.bodies = append(rt.bodies, "<released>")
		rt.mu.Unlock()
	}
	return http.DefaultTransport.RoundTrip(r)
}

func (rt *holdingTransport) snapshot() ([]string, []string, bool) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return append([]string(nil), rt.auths...), append([]string(nil), rt.bodies...), rt.released
}

func TestHTTPCallerAdminAuthorization(t *testing.T) {
	rt := &holdingTransport{}
	_, _, h, ctx := httpSetup(t, WithHTTPClient(&http.Client{Transport: rt}))
	yes := true
	id := UserIdentity{Issuer: "https://auth.example.com", Subject: "user_1", Email: "a@example.com",
		EmailVerified: &yes, Custom: map[string]any{"role": "admin"}}
	// The deployment's answer does not matter here; the header does.
	_, _ = Query[any](ctx, h.As(AdminKey("dev:key|secret")), "auth:whoami", nil)
	_, _ = Query[any](ctx, h.As(AdminKey("dev:key|secret").ActingAs(id)), "auth:whoami", nil)
	_, _ = Query[any](ctx, h.As(UserToken("jwt")), "auth:whoami", nil)
	_, _ = Query[any](ctx, h.As(Anonymous()), "auth:whoami", nil)
	auths, _, _ := rt.snapshot()
	if len(auths) != 4 {
		t.Fatalf("%d requests", len(auths))
	}
	if auths[0] != "Convex dev:key|secret" || auths[2] != "Bearer jwt" || auths[3] != "" {
		t.Errorf("headers %q", auths)
	}
	key, b64, ok := strings.Cut(strings.TrimPrefix(auths[1], "Convex dev:key|secret"), ":")
	if !ok || key != "" {
		t.Fatalf("acting-as header %q", auths[1])
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"issuer": "https://auth.example.com", "subject": "user_1", "email": "a@example.com",
		"emailVerified": true, "role": "admin"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("identity %v, want %v", got, want)
	}
	// Bad identities are refused before sending.
	if _, err := Query[any](ctx, h.As(AdminKey("k").ActingAs(UserIdentity{Subject: "s"})), "auth:whoami", nil); err == nil {
		t.Error("an identity without issuer or token identifier was sent")
	}
	if _, err := Query[any](ctx, h.As(AdminKey("k").ActingAs(UserIdentity{TokenIdentifier: "t", Custom: map[string]any{"email": "x"}})),
		"auth:whoami", nil); err == nil {
		t.Error("a custom claim shadowing a standard field was sent")
	}
	if AdminKey("k").String() != "admin key" || strings.Contains(UserToken("secret").String(), "secret") {
		t.Error("Credentials.String shows a secret or misdescribes")
	}
}

// Mutations through one caller run in call order, one at a time; SkipQueue
// jumps the queue.
func TestHTTPCallerMutationQueue(t *testing.T) {
	rt := &holdingTransport{hold: `"body":"first"`, held: make(chan struct{}), release: make(chan struct{})}
	_, _, h, ctx := httpSetup(t, WithHTTPClient(&http.Client{Transport: rt}))
	c := h.As(Anonymous())
	send := func(body string, opts ...CallOption) chan error {
		done := make(chan error, 1)
		go func() {
			_, err := c.MutationRaw(ctx, "messages:send", map[string]any{"channel": "q", "author": "a", "body": body}, opts...)
			done <- err
		}()
		return done
	}
	first := send("first")
	<-rt.held // the first mutation is in flight, held in the transport
	tail := queueTail(c)
	second := send("second")
	waitQueued(c, tail)
	// A SkipQueue mutation goes out while the first is still held.
	if err := <-send("skipper", SkipQueue()); err != nil {
		t.Fatal(err)
	}
	_, bodies, released := rt.snapshot()
	if released || len(bodies) != 2 || !strings.Contains(bodies[1], "skipper") {
		t.Fatalf("before release: %q (released %v)", bodies, released)
	}
	close(rt.release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := <-second; err != nil {
		t.Fatal(err)
	}
	_, bodies, _ = rt.snapshot()
	if len(bodies) != 4 || bodies[2] != "<released>" || !strings.Contains(bodies[3], "second") {
		t.Fatalf("requests %q", bodies)
	}
	msgs, err := Query[[]struct{ Body string }](ctx, c, "messages:list", map[string]any{"channel": "q"})
	if err != nil || len(msgs) != 3 || msgs[0].Body != "skipper" || msgs[1].Body != "first" || msgs[2].Body != "second" {
		t.Fatalf("messages %+v, %v", msgs, err)
	}
}

// A mutation whose ctx ends while it waits its turn is not sent, and the
// queue behind it still waits for the one in flight.
func TestHTTPCallerQueuedMutationCancelled(t *testing.T) {
	rt := &holdingTransport{hold: `"body":"first"`, held: make(chan struct{}), release: make(chan struct{})}
	_, _, h, ctx := httpSetup(t, WithHTTPClient(&http.Client{Transport: rt}))
	c := h.As(Anonymous())
	args := func(body string) map[string]any { return map[string]any{"channel": "q", "author": "a", "body": body} }
	first := make(chan error, 1)
	go func() { _, err := c.MutationRaw(ctx, "messages:send", args("first")); first <- err }()
	<-rt.held
	short, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.MutationRaw(short, "messages:send", args("cancelled")); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled mutation = %v", err)
	}
	tail := queueTail(c)
	third := make(chan error, 1)
	go func() { _, err := c.MutationRaw(ctx, "messages:send", args("third")); third <- err }()
	waitQueued(c, tail)
	close(rt.release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := <-third; err != nil {
		t.Fatal(err)
	}
	_, bodies, _ := rt.snapshot()
	if len(bodies) != 3 || !strings.Contains(bodies[0], "first") || bodies[1] != "<released>" || !strings.Contains(bodies[2], "third") {
		t.Fatalf("requests %q", bodies)
	}
}

func queueTail(c *HTTPCaller) chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tail
}

// waitQueued waits until a mutation has joined c's queue behind tail.
func waitQueued(c *HTTPCaller, tail chan struct{}) {
	for queueTail(c) == tail {
		runtime.Gosched()
	}
}

// Every error says "convex:" once, however deep it was wrapped.
func TestErrorsSayConvexOnce(t *testing.T) {
	_, c, ctx := setup(t)
	h, err := NewHTTPClient(c.httpBase)
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string]any{"$x": 1}
	var errs []error
	_, err = c.MutationRaw(ctx, "messages:send", bad)
	errs = append(errs, err)
	_, err = c.SubscribeRaw(ctx, "messages:list", bad)
	errs = append(errs, err)
	_, err = c.QueryRaw(ctx, "messages:list", bad)
	errs = append(errs, err)
	_, err = h.As(Anonymous()).MutationRaw(ctx, "messages:send", bad)
	errs = append(errs, err)
	_, err = h.As(UserToken("t").ActingAs(UserIdentity{Subject: "s", Issuer: "i"})).QueryRaw(ctx, "messages:list", nil)
	errs = append(errs, err)
	_, err = c.MutationRaw(ctx, "messages:send", map[string]any{"channel": "c"})
	errs = append(errs, err)
	_, err = New("ftp://x")
	errs = append(errs, err)
	for i, err := range errs {
		if err == nil {
			t.Errorf("call %d succeeded", i)
			continue
		}
		if n := strings.Count(err.Error(), "convex:"); n != 1 {
			t.Errorf("call %d: %q says convex: %d times", i, err, n)
		}
	}
	if !errors.Is(errs[0], protocol.ErrInvalidValue) {
		t.Errorf("bad args error %v does not match protocol.ErrInvalidValue", errs[0])
	}
}
