package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/convexgo/convex/protocol"
)

// HTTPClient calls a deployment's functions over its HTTP API, with no
// WebSocket, each call as the caller it is made through. It is for servers
// that act for many users at once: one HTTPClient, shared by every request
// of the process, and a cheap Caller per request, made with As, carrying
// that request's credentials.
//
//	h, _ := client.NewHTTPClient(deploymentURL)
//	// per request:
//	msgs, err := client.Query[[]Message](ctx, h.As(client.UserToken(jwt)), "messages:list", args)
//
// A Client, by contrast, has one identity for the whole process: changing
// its auth per request would run other requests under the wrong user.
//
// An HTTPClient is safe for concurrent use and holds no goroutines; the
// zero value is not usable (use NewHTTPClient).
type HTTPClient struct {
	api     httpAPI
	timeout time.Duration // bounds each call
}

// NewHTTPClient returns an HTTPClient for the deployment at deploymentURL.
// Of the options, WithHTTPClient, WithLogger (for functions' log lines)
// and WithHTTPTimeout (a bound on each call) apply; the others concern the
// WebSocket and are an error here.
func NewHTTPClient(deploymentURL string, opts ...Option) (*HTTPClient, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	def := defaultConfig()
	if cfg.onStateChange != nil || cfg.rand != nil || cfg.backoffScale != 0 || cfg.readLimit != def.readLimit ||
		cfg.inactivityTimeout != def.inactivityTimeout || cfg.handshakeTimeout != def.handshakeTimeout {
		return nil, errors.New("convex: NewHTTPClient takes only WithHTTPClient, WithLogger and WithHTTPTimeout; the other options concern the WebSocket")
	}
	base, err := parseDeploymentURL(deploymentURL)
	if err != nil {
		return nil, err
	}
	hc := cfg.httpClient
	if hc == nil {
		hc = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	log := cfg.logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &HTTPClient{api: httpAPI{base: base, hc: hc, log: log}, timeout: cfg.httpTimeout}, nil
}

// As returns a Caller that runs functions with cred. It is cheap: make one
// per request (or per user task). Mutations through one Caller run one at
// a time in the order they were called, as the official HTTP client
// queues them, unless a call opts out with SkipQueue.
func (h *HTTPClient) As(cred Credentials) *HTTPCaller {
	return &HTTPCaller{h: h, cred: cred}
}

// Credentials say whom an HTTP call runs as. The zero value is anonymous.
type Credentials struct {
	kind     credKind
	secret   string
	actingAs *UserIdentity
}

type credKind int

const (
	credNone credKind = iota
	credUser
	credAdmin
)

// Anonymous is the identity of a call with no credentials.
func Anonymous() Credentials { return Credentials{} }

// UserToken runs calls as the user whose JWT token is (for example the
// Convex JWT of a Better Auth session). An empty token is Anonymous.
func UserToken(token string) Credentials {
	if token == "" {
		return Credentials{}
	}
	return Credentials{kind: credUser, secret: token}
}

// AdminKey runs calls with a deployment's admin or deploy key: internal
// functions can be called, and ActingAs can make the call run as a user.
// Keep admin keys on servers; never send one to a browser.
func AdminKey(key string) Credentials {
	return Credentials{kind: credAdmin, secret: key}
}

// ActingAs returns admin credentials that run calls as the user identity
// id (as a dashboard does to test a function as a user). It is an error,
// reported by each call, on credentials that are not an admin key.
func (c Credentials) ActingAs(id UserIdentity) Credentials {
	c.actingAs = &id
	return c
}

// IsAnonymous reports whether c carries no credentials.
func (c Credentials) IsAnonymous() bool { return c.kind == credNone && c.actingAs == nil }

// String describes the credentials without their secret.
func (c Credentials) String() string {
	switch c.kind {
	case credUser:
		return "user token"
	case credAdmin:
		if c.actingAs != nil {
			return "admin key acting as " + c.actingAs.describe()
		}
		return "admin key"
	}
	if c.actingAs != nil {
		return "anonymous acting as " + c.actingAs.describe()
	}
	return "anonymous"
}

// authorization is the Authorization header for c: "Bearer <jwt>", or
// "Convex <key>" with ":<base64 of the identity's JSON>" when acting as a
// user, as the deployment reads it.
func (c Credentials) authorization() (string, error) {
	if c.actingAs != nil && c.kind != credAdmin {
		return "", errors.New("convex: ActingAs needs admin credentials (AdminKey)")
	}
	switch c.kind {
	case credUser:
		return "Bearer " + c.secret, nil
	case credAdmin:
		if c.secret == "" || strings.ContainsAny(c.secret, "\r\n") {
			return "", errors.New("convex: the admin key is empty or holds a line break")
		}
		if c.actingAs == nil {
			return "Convex " + c.secret, nil
		}
		b, err := c.actingAs.encode()
		if err != nil {
			return "", err
		}
		return "Convex " + c.secret + ":" + base64.StdEncoding.EncodeToString(b), nil
	}
	return "", nil
}

// UserIdentity is a user's identity as a deployment sees it: what
// ctx.auth.getUserIdentity() returns to a function. An identity to act as
// needs TokenIdentifier, or Issuer and Subject (the deployment then makes
// TokenIdentifier Issuer + "|" + Subject).
type UserIdentity struct {
	TokenIdentifier     string `json:"tokenIdentifier,omitempty"`
	Issuer              string `json:"issuer,omitempty"`
	Subject             string `json:"subject,omitempty"`
	Name                string `json:"name,omitempty"`
	GivenName           string `json:"givenName,omitempty"`
	FamilyName          string `json:"familyName,omitempty"`
	Nickname            string `json:"nickname,omitempty"`
	PreferredUsername   string `json:"preferredUsername,omitempty"`
	ProfileURL          string `json:"profileUrl,omitempty"`
	PictureURL          string `json:"pictureUrl,omitempty"`
	WebsiteURL          string `json:"websiteUrl,omitempty"`
	Email               string `json:"email,omitempty"`
	EmailVerified       *bool  `json:"emailVerified,omitempty"`
	Gender              string `json:"gender,omitempty"`
	Birthday            string `json:"birthday,omitempty"`
	Timezone            string `json:"timezone,omitempty"`
	Language            string `json:"language,omitempty"`
	PhoneNumber         string `json:"phoneNumber,omitempty"`
	PhoneNumberVerified *bool  `json:"phoneNumberVerified,omitempty"`
	Address             string `json:"address,omitempty"`
	UpdatedAt           string `json:"updatedAt,omitempty"`
	// Custom holds custom claims, written beside the standard fields. A
	// name that a standard field uses is an error.
	Custom map[string]any `json:"-"`
}

func (id *UserIdentity) describe() string {
	if id.TokenIdentifier != "" {
		return id.TokenIdentifier
	}
	return id.Issuer + "|" + id.Subject
}

// encode writes the identity as the JSON object the deployment reads.
func (id *UserIdentity) encode() ([]byte, error) {
	if id.TokenIdentifier == "" && (id.Issuer == "" || id.Subject == "") {
		return nil, errors.New("convex: an identity to act as needs TokenIdentifier, or Issuer and Subject")
	}
	std, err := json.Marshal(id)
	if err != nil {
		return nil, err
	}
	if len(id.Custom) == 0 {
		return std, nil
	}
	var m map[string]any
	if err := json.Unmarshal(std, &m); err != nil {
		return nil, err
	}
	for k, v := range id.Custom {
		if _, taken := m[k]; taken || isStandardClaim(k) {
			return nil, fmt.Errorf("convex: custom claim %q clashes with a standard identity field", k)
		}
		m[k] = v
	}
	return json.Marshal(m)
}

func isStandardClaim(k string) bool {
	switch k {
	case "tokenIdentifier", "issuer", "subject", "name", "givenName", "familyName", "nickname",
		"preferredUsername", "profileUrl", "pictureUrl", "websiteUrl", "email", "emailVerified",
		"gender", "birthday", "timezone", "language", "phoneNumber", "phoneNumberVerified",
		"address", "updatedAt":
		return true
	}
	return false
}

// HTTPCaller runs functions over the HTTP API with one set of credentials.
// Make one with HTTPClient.As. It is safe for concurrent use.
type HTTPCaller struct {
	h    *HTTPClient
	cred Credentials

	mu   sync.Mutex
	tail chan struct{} // closed when the last queued mutation has finished
}

// Credentials returns the credentials the caller runs as.
func (c *HTTPCaller) Credentials() Credentials { return c.cred }

// QueryRaw runs the query at path once (POST /api/query) and returns its
// value as Convex JSON. ViaSocket is an error here: an HTTPCaller has no
// socket.
func (c *HTTPCaller) QueryRaw(ctx context.Context, path string, args any, opts ...QueryOption) (json.RawMessage, error) {
	var qo queryOptions
	for _, o := range opts {
		o(&qo)
	}
	if qo.socket {
		return nil, fmt.Errorf("convex: query %s: ViaSocket needs a Client; an HTTPCaller has no socket", path)
	}
	return c.post(ctx, protocol.PathQuery, "query", path, args)
}

// MutationRaw runs the mutation at path (POST /api/mutation) and returns
// its result as Convex JSON. Mutations through one HTTPCaller run one at a
// time, in call order; with SkipQueue this one runs at once. If ctx ends
// while the mutation waits its turn, it is not sent; once sent, it may run
// even if ctx ends.
func (c *HTTPCaller) MutationRaw(ctx context.Context, path string, args any, opts ...CallOption) (json.RawMessage, error) {
	var co callOptions
	for _, o := range opts {
		o(&co)
	}
	if co.skipQueue {
		return c.post(ctx, protocol.PathMutation, "mutation", path, args)
	}
	c.mu.Lock()
	prev, done := c.tail, make(chan struct{})
	c.tail = done
	c.mu.Unlock()
	if prev != nil {
		select {
		case <-prev:
		case <-ctx.Done():
			// Keep the chain: the next mutation must still wait for prev.
			// This goroutine ends when prev's mutation does.
			go func() { <-prev; close(done) }()
			return nil, ctx.Err()
		}
	}
	defer close(done)
	return c.post(ctx, protocol.PathMutation, "mutation", path, args)
}

// ActionRaw runs the action at path (POST /api/action) and returns its
// result as Convex JSON. Actions are not queued.
func (c *HTTPCaller) ActionRaw(ctx context.Context, path string, args any, opts ...CallOption) (json.RawMessage, error) {
	return c.post(ctx, protocol.PathAction, "action", path, args)
}

func (c *HTTPCaller) post(ctx context.Context, endpoint, kind, path string, args any) (json.RawMessage, error) {
	if c == nil || c.h == nil || c.h.api.hc == nil {
		return nil, ErrNotInitialized // not made by HTTPClient.As of a NewHTTPClient
	}
	if err := protocol.ValidateUDFPath(path); err != nil {
		return nil, err
	}
	// The args are encoded into a pooled scratch buffer, and the request
	// body made from them in one allocation of its exact size.
	scratch := getScratch()
	defer putScratch(scratch)
	encoded, err := protocol.AppendArgs((*scratch)[:0], args)
	if err != nil {
		return nil, wrapErr(kind+" "+path, err)
	}
	*scratch = encoded
	auth, err := c.cred.authorization()
	if err != nil {
		return nil, wrapErr(kind+" "+path, err)
	}
	body, err := requestBody(path, encoded)
	if err != nil {
		return nil, err
	}
	ctx, cancel := withTimeout(ctx, c.h.timeout)
	defer cancel()
	return c.h.api.send(ctx, endpoint, kind, path, body, auth)
}

// withTimeout is context.WithTimeout(ctx, d), except that a ctx whose
// deadline comes no later is returned as it is: the call ends at the same
// moment with the same error, without a timer and a context of its own.
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= d {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, d)
}

// scratchPool holds buffers for encoding arguments. Buffers that grew
// past maxPooledScratch are dropped rather than kept for every later call.
var scratchPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

const maxPooledScratch = 64 << 10

func getScratch() *[]byte { return scratchPool.Get().(*[]byte) }

func putScratch(b *[]byte) {
	if cap(*b) <= maxPooledScratch {
		*b = (*b)[:0]
		scratchPool.Put(b)
	}
}
