package betterauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/convexgo/convex/tokenprovider"
)

// Defaults of Options.
const (
	// DefaultBasePath is where Better Auth is mounted (its basePath).
	DefaultBasePath = "/api/auth"
	// DefaultCookiePrefix is Better Auth's cookie prefix
	// (advanced.cookiePrefix).
	DefaultCookiePrefix = "better-auth"
	// DefaultTimeout bounds one request to the site.
	DefaultTimeout = 10 * time.Second
	// DefaultMaxBodySize bounds the response bodies read from the site.
	// A token response is about 1 to 2 KB; a JWKS a few KB per key.
	DefaultMaxBodySize = 64 << 10
	// DefaultExpiryMargin is how long before its "exp" a convex_jwt
	// cookie's token stops being reused.
	DefaultExpiryMargin = tokenprovider.DefaultExpiryMargin
	// Audience is the "aud" of the tokens the Convex plugin signs (the
	// applicationID of getAuthConfigProvider).
	Audience = "convex"
)

// Cookie names of Better Auth with the Convex plugin, for the default
// prefix. Behind https (useSecureCookies) Better Auth puts SecurePrefix in
// front of every cookie name; a Source accepts both forms.
const (
	SecurePrefix      = "__Secure-"
	SessionCookieName = DefaultCookiePrefix + ".session_token"
	JWTCookieName     = DefaultCookiePrefix + ".convex_jwt"
)

// Options configure a Source and the JWKS functions.
type Options struct {
	// SiteURL is the origin (and optional path prefix) Better Auth is
	// served at, such as "https://happy-otter-123.convex.site". Required.
	SiteURL string
	// BasePath is Better Auth's basePath. Default DefaultBasePath.
	BasePath string
	// CookiePrefix is Better Auth's advanced.cookiePrefix. Default
	// DefaultCookiePrefix.
	CookiePrefix string
	// AcceptBearer makes Credentials read an "Authorization: Bearer"
	// header as a Better Auth session token (as Better Auth's bearer
	// plugin does) and send it to the token endpoint. Off by default: an
	// application may use that header for other credentials, which must
	// not reach the auth server.
	AcceptBearer bool
	// HTTPClient sends the requests. Default: a client with
	// http.DefaultTransport. Redirects are never followed, whatever its
	// CheckRedirect says (a copy of the client is used).
	HTTPClient *http.Client
	// Timeout bounds each request to the site. Zero or negative means
	// DefaultTimeout.
	Timeout time.Duration
	// MaxBodySize bounds each response body. Zero or negative means
	// DefaultMaxBodySize.
	MaxBodySize int64
	// ExpiryMargin is how long before its "exp" a cookie's token stops
	// being reused. Zero means DefaultExpiryMargin; a negative value means
	// none, but a token is never reused at or after its "exp".
	ExpiryMargin time.Duration
	// Verifier, if set, checks every token: a cookie's token that fails
	// is not reused (the session is exchanged instead), and an exchanged
	// token that fails is an error. FetchVerifier builds one.
	Verifier *tokenprovider.Verifier
	// Issuer is the expected "iss" for FetchVerifier. Default: SiteURL's
	// origin (the Convex plugin's issuer is CONVEX_SITE_URL).
	Issuer string
	// IsAuthError classifies the errors of Do's call. Default IsAuthError.
	IsAuthError func(error) bool
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// config is Options with defaults applied.
type config struct {
	site     *url.URL
	base     string
	prefix   string
	bearer   bool
	client   *http.Client
	timeout  time.Duration
	maxBody  int64
	margin   time.Duration
	verifier *tokenprovider.Verifier
	issuer   string
	isAuth   func(error) bool
	now      func() time.Time
}

func newConfig(o Options) (*config, error) {
	if o.SiteURL == "" {
		return nil, errors.New("betterauth: Options.SiteURL is required")
	}
	u, err := url.Parse(strings.TrimRight(o.SiteURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("betterauth: Options.SiteURL: %w", err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("betterauth: Options.SiteURL %q must be an http or https URL with a host and no user, query or fragment", o.SiteURL)
	}
	base := o.BasePath
	if base == "" {
		base = DefaultBasePath
	}
	base = "/" + strings.Trim(base, "/")
	prefix := o.CookiePrefix
	if prefix == "" {
		prefix = DefaultCookiePrefix
	}
	var c http.Client
	if o.HTTPClient != nil {
		c = *o.HTTPClient
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	cfg := &config{
		site:     u,
		base:     base,
		prefix:   prefix,
		bearer:   o.AcceptBearer,
		client:   &c,
		timeout:  o.Timeout,
		maxBody:  o.MaxBodySize,
		margin:   o.ExpiryMargin,
		verifier: o.Verifier,
		issuer:   o.Issuer,
		isAuth:   o.IsAuthError,
		now:      o.Now,
	}
	if cfg.timeout <= 0 {
		cfg.timeout = DefaultTimeout
	}
	if cfg.maxBody <= 0 {
		cfg.maxBody = DefaultMaxBodySize
	}
	if cfg.margin == 0 {
		cfg.margin = DefaultExpiryMargin
	}
	cfg.margin = max(cfg.margin, 0)
	if cfg.issuer == "" {
		cfg.issuer = u.Scheme + "://" + u.Host
	}
	if cfg.isAuth == nil {
		cfg.isAuth = IsAuthError
	}
	if cfg.now == nil {
		cfg.now = time.Now
	}
	return cfg, nil
}

// endpoint is the URL of a route under Better Auth's base path.
func (c *config) endpoint(route string) string {
	u := *c.site
	u.Path = strings.TrimRight(u.Path, "/") + c.base + route
	u.RawPath = ""
	return u.String()
}

// get sends a GET to route with the given cookies and bearer token (and
// no other credential) and returns the body of a 200 answer, read up to
// the size bound, and the cookies the answer set. 401 is ErrSignedOut; any
// other status is a *StatusError. Redirects are not followed.
func (c *config) get(ctx context.Context, route string, cookies []*http.Cookie, bearer string) ([]byte, []*http.Cookie, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	target := c.endpoint(route)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("betterauth: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	for _, ck := range cookies {
		req.AddCookie(ck)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("betterauth: GET %s: %w", target, err)
	}
	defer resp.Body.Close()
	body, err := c.readBody(resp, target)
	if err != nil {
		return nil, nil, err
	}
	return body, resp.Cookies(), nil
}

// Source gets Better Auth users' Convex tokens. It is safe for concurrent
// use.
type Source struct {
	cfg  *config
	last atomic.Pointer[setCookie] // the token endpoint's latest convex_jwt cookie
}

// New returns a Source for opts.
func New(opts Options) (*Source, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	return &Source{cfg: cfg}, nil
}

// Credentials are the Better Auth credentials of one request: the
// request's Better Auth cookies and, when accepted, a Bearer session
// token. Build them with Source.Credentials or Source.CredentialsOf.
type Credentials struct {
	cookies []*http.Cookie // Better Auth's cookies only
	bearer  string
	prefix  string
}

// Credentials returns r's Better Auth credentials: the cookies whose names
// start with "<prefix>." or "__Secure-<prefix>.", and the Bearer token of
// the Authorization header when Options.AcceptBearer is set. r's other
// cookies and headers are not kept.
func (s *Source) Credentials(r *http.Request) Credentials {
	var bearer string
	if s.cfg.bearer {
		if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
			bearer = strings.TrimSpace(h[7:])
		}
	}
	return s.CredentialsOf(r.Cookies(), bearer)
}

// CredentialsOf builds Credentials from cookies (only Better Auth's are
// kept) and a Bearer session token ("" for none), for callers that do not
// have an *http.Request, such as a WebSocket handler that read the
// cookies itself.
func (s *Source) CredentialsOf(cookies []*http.Cookie, bearer string) Credentials {
	c := Credentials{bearer: bearer, prefix: s.cfg.prefix}
	for _, ck := range cookies {
		if ck == nil || ck.Value == "" {
			continue
		}
		name := strings.TrimPrefix(ck.Name, SecurePrefix)
		if strings.HasPrefix(name, s.cfg.prefix+".") {
			c.cookies = append(c.cookies, &http.Cookie{Name: ck.Name, Value: ck.Value})
		}
	}
	return c
}

// cookie returns the value of the cookie named prefix.name, preferring
// the __Secure- form as Better Auth does.
func (c Credentials) cookie(name string) string {
	full := c.prefix + "." + name
	for _, n := range []string{SecurePrefix + full, full} {
		for _, ck := range c.cookies {
			if ck.Name == n {
				return ck.Value
			}
		}
	}
	return ""
}

// jwts returns the convex_jwt cookies' values, the __Secure- form first.
func (c Credentials) jwts() []string {
	var out []string
	full := c.prefix + ".convex_jwt"
	for _, n := range []string{SecurePrefix + full, full} {
		for _, ck := range c.cookies {
			if ck.Name == n {
				out = append(out, ck.Value)
			}
		}
	}
	return out
}

// Session returns the session credential: the session cookie's value
// (the __Secure- form first), else the Bearer token, else "". Use it as
// the key of a tokenprovider.SessionCache (which stores only its hash).
func (c Credentials) Session() string {
	if v := c.cookie("session_token"); v != "" {
		return v
	}
	return c.bearer
}

// HasSession reports whether c holds a session credential, without which
// the token endpoint can only answer 401.
func (c Credentials) HasSession() bool { return c.Session() != "" }

// Token returns the Convex token for r's user: the convex_jwt cookie's
// token while it is fresh, else one from the token endpoint. A request
// without a session credential and without a fresh cookie token is
// ErrSignedOut, with no request to the site.
func (s *Source) Token(ctx context.Context, r *http.Request) (string, error) {
	return s.TokenFor(ctx, s.Credentials(r))
}

// TokenFor is Token for credentials already read.
func (s *Source) TokenFor(ctx context.Context, c Credentials) (string, error) {
	if tok := s.CookieToken(c); tok != "" {
		return tok, nil
	}
	x, err := s.Exchange(ctx, c)
	if err != nil {
		return "", err
	}
	return x.Token, nil
}

// CookieToken returns the token of c's convex_jwt cookie (the __Secure-
// form first) if it is fresh: its "exp", read without verification, is
// more than the expiry margin away, and it passes the Verifier if one is
// configured. Otherwise it returns "".
func (s *Source) CookieToken(c Credentials) string {
	now := s.cfg.now()
	for _, tok := range c.jwts() {
		if len(tok) > tokenprovider.MaxTokenSize {
			continue
		}
		_, exp, ok := tokenprovider.Expiry(tok)
		if !ok || !now.Before(exp.Add(-s.cfg.margin)) {
			continue
		}
		if s.cfg.verifier != nil {
			if _, err := s.cfg.verifier.Verify(tok); err != nil {
				continue
			}
		}
		return tok
	}
	return ""
}

// Exchanged is a token from the token endpoint.
type Exchanged struct {
	// Token is the Convex token (a JWT).
	Token string
	// Cookie is the convex_jwt cookie the endpoint set with the token, as
	// Better Auth would send it to the browser, or nil. A server may pass
	// it on (http.SetCookie) so that the browser's next request carries a
	// fresh token; TokenCookie does that for a token from a cache too.
	Cookie *http.Cookie
}

// Exchange asks the token endpoint, GET {site}{basePath}/convex/token, for
// a token for c's session, whatever c's cookies hold. Only c's Better Auth
// cookies and Bearer token are sent. A missing session credential or a 401
// answer is ErrSignedOut.
func (s *Source) Exchange(ctx context.Context, c Credentials) (*Exchanged, error) {
	if !c.HasSession() {
		return nil, ErrSignedOut
	}
	return s.exchange(ctx, c)
}

func (s *Source) exchange(ctx context.Context, c Credentials) (*Exchanged, error) {
	cfg := s.cfg
	target := cfg.endpoint("/convex/token")
	body, set, err := cfg.get(ctx, "/convex/token", c.cookies, c.bearer)
	if err != nil {
		return nil, err
	}
	var out struct {
		Token *string `json:"token"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("%w: GET %s: %v", ErrBadResponse, target, err)
	}
	if out.Token == nil || *out.Token == "" {
		return nil, fmt.Errorf("%w: GET %s: no token in the answer", ErrBadResponse, target)
	}
	tok := *out.Token
	if len(tok) > tokenprovider.MaxTokenSize {
		return nil, fmt.Errorf("%w: GET %s: token longer than %d bytes", ErrBadResponse, target, tokenprovider.MaxTokenSize)
	}
	if _, _, ok := tokenprovider.Expiry(tok); !ok {
		return nil, fmt.Errorf("%w: GET %s: the token is not a JWT with an expiry", ErrBadResponse, target)
	}
	if cfg.verifier != nil {
		if _, err := cfg.verifier.Verify(tok); err != nil {
			return nil, fmt.Errorf("betterauth: the token from %s does not verify: %w", target, err)
		}
	}
	x := &Exchanged{Token: tok}
	for _, ck := range set {
		if strings.TrimPrefix(ck.Name, SecurePrefix) == cfg.prefix+".convex_jwt" && ck.Value == tok {
			x.Cookie = ck
		}
	}
	if x.Cookie != nil {
		s.last.Store(&setCookie{cookie: *x.Cookie, at: cfg.now()})
	}
	return x, nil
}

// readBody checks resp's status and content type and reads its body up to
// the size bound. 401 is ErrSignedOut; any other status but 200 is a
// *StatusError.
func (c *config) readBody(resp *http.Response, target string) ([]byte, error) {
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusUnauthorized:
		return nil, ErrSignedOut
	default:
		return nil, &StatusError{URL: target, StatusCode: resp.StatusCode, Location: resp.Header.Get("Location")}
	}
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return nil, fmt.Errorf("%w: GET %s: Content-Type %q is not JSON", ErrBadResponse, target, ct)
		}
	}
	if resp.ContentLength > c.maxBody {
		return nil, fmt.Errorf("%w: GET %s: %d bytes (limit %d)", ErrResponseTooLarge, target, resp.ContentLength, c.maxBody)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("betterauth: GET %s: reading the body: %w", target, err)
	}
	if int64(len(body)) > c.maxBody {
		return nil, fmt.Errorf("%w: GET %s: more than %d bytes", ErrResponseTooLarge, target, c.maxBody)
	}
	return body, nil
}

// Provider returns a tokenprovider.Provider for c's user:
// Token(ctx, false) is TokenFor(ctx, c) and Token(ctx, true), asked after
// a refusal or for a refresh, always exchanges. Use it to give a Client, or
// a tokenprovider.Cache, one Better Auth user's identity.
func (s *Source) Provider(c Credentials) tokenprovider.Provider {
	return tokenprovider.Func(func(ctx context.Context, force bool) (string, error) {
		if !force {
			return s.TokenFor(ctx, c)
		}
		x, err := s.Exchange(ctx, c)
		if err != nil {
			return "", err
		}
		return x.Token, nil
	})
}

// Fetch returns a fetch function for tokenprovider.SessionCache (Token or
// Do) keyed by c.Session(): it always exchanges c's session, so that a
// refetch after a refusal never returns a cookie's token again.
func (s *Source) Fetch(c Credentials) func(ctx context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		x, err := s.Exchange(ctx, c)
		if err != nil {
			return "", err
		}
		return x.Token, nil
	}
}

// Do runs call with the token of c's user and retries it once with a
// freshly exchanged token when a reused token is refused. "Refused" is
// Options.IsAuthError (IsAuthError by default); cache should be built
// with the same classifier as its SessionOptions.IsAuthError.
//
//   - With a fresh convex_jwt cookie token, call runs with it. If call
//     fails with an auth error, the session is exchanged and call runs
//     once more with the new token (unless it is the same token).
//   - Otherwise, with a cache, Do is cache.Do(ctx, c.Session(),
//     s.Fetch(c), call); without one (cache nil), the session is exchanged
//     and call runs once.
//
// A user without a session credential and without a fresh cookie token is
// ErrSignedOut, and call does not run: run an anonymous call instead, if
// the page allows one. A revoked session makes the retry's exchange fail
// with ErrSignedOut, which the returned error wraps next to call's error.
func (s *Source) Do(ctx context.Context, cache *tokenprovider.SessionCache, c Credentials,
	call func(ctx context.Context, token string) error) error {
	if call == nil {
		return errors.New("betterauth: Do needs a call function")
	}
	if tok := s.CookieToken(c); tok != "" {
		err := call(ctx, tok)
		if err == nil || !s.cfg.isAuth(err) {
			return err
		}
		x, xerr := s.Exchange(ctx, c)
		if xerr != nil {
			return fmt.Errorf("%w (exchanging the session failed: %w)", err, xerr)
		}
		if x.Token == tok {
			return err
		}
		return call(ctx, x.Token)
	}
	if !c.HasSession() {
		return ErrSignedOut
	}
	if cache != nil {
		return cache.Do(ctx, c.Session(), s.Fetch(c), call)
	}
	x, err := s.Exchange(ctx, c)
	if err != nil {
		return err
	}
	return call(ctx, x.Token)
}
