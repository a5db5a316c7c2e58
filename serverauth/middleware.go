package serverauth

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/convexgo/convex/betterauth"
	"github.com/convexgo/convex/client"
	"github.com/convexgo/convex/tokenprovider"
)

// Session is what a session function finds in a request.
type Session struct {
	// ID is the session credential (a session cookie's value, a session
	// id): the key of the request's entry in the SessionCache, which
	// stores only its hash. Empty means the request has no session.
	ID string
	// Token, if not empty, is a fresh Convex token the request carries
	// itself, such as Better Auth's convex_jwt cookie. Calls use it before
	// the cache; when it is refused they fetch a new one for ID.
	Token string
	// Fetch returns a new Convex token for the session, such as Better
	// Auth's token exchange. It is called through the SessionCache, at
	// most once per token lifetime for all concurrent requests of the
	// session in this process. Required when ID is set. An error that
	// tokenprovider.IsAuthError reports (betterauth.ErrSignedOut is one)
	// means the session has ended.
	Fetch func(ctx context.Context) (string, error)
	// Cookie, if set, returns the cookie that hands the browser token, a
	// token a call got for the session (fetched, or from the cache)
	// because the request carried none fresh, so that its next request
	// carries it as Token; nil means none. With Options.RefreshTokenCookie
	// the middleware sets it on the response. With BetterAuth it is
	// betterauth.Source.TokenCookie.
	Cookie func(token string) *http.Cookie
}

// signedIn reports whether s has a user.
func (s Session) signedIn() bool { return s.ID != "" || s.Token != "" }

// Options configure a Middleware. Client and one of BetterAuth and
// Session are required.
type Options struct {
	// Client calls the deployment; one HTTPClient serves every request.
	Client *client.HTTPClient
	// BetterAuth reads sessions from Better Auth's cookies: the
	// convex_jwt cookie's token while it is fresh, else the session
	// cookie's token exchange (see betterauth.Source). Its SiteURL and
	// BasePath are also where SignOut forwards the sign-out.
	BetterAuth *betterauth.Options
	// Session reads the session of a request, for applications that do
	// not use Better Auth. It must be safe for concurrent use.
	Session func(r *http.Request) Session
	// EndSession, used with Session, ends the session at its source and
	// expires its cookies on w; SignOut calls it before clearing the
	// cache. Optional.
	EndSession func(w http.ResponseWriter, r *http.Request) error
	// Cache configures the tokenprovider.SessionCache that holds the
	// sessions' tokens: its Store (default: in memory; a shared store
	// such as the redisstore module's serves several instances), MaxTTL,
	// ExpiryMargin and so on. Its IsAuthError is the classifier of
	// refused tokens, for queries (see the package documentation for
	// mutations and actions); it defaults to betterauth.IsAuthError with
	// BetterAuth and to tokenprovider.IsAuthError otherwise.
	Cache tokenprovider.SessionOptions
	// RequireSignIn makes requests without a session get SignInRequired
	// instead of an anonymous caller.
	RequireSignIn bool
	// SignInRequired answers requests without a session when
	// RequireSignIn is set. Default: 401 Unauthorized with a short text.
	SignInRequired http.Handler
	// RefreshTokenCookie makes a response hand the browser the token its
	// request's calls got when the request carried none fresh (with
	// BetterAuth: its convex_jwt cookie was missing, expired or refused):
	// the response gets a Set-Cookie with Session.Cookie(token), with
	// BetterAuth the convex_jwt cookie as Better Auth's token endpoint sets
	// it (see betterauth.Source.TokenCookie). The browser's next request
	// then carries a fresh token, which costs neither an exchange nor a
	// cache lookup.
	//
	// The cookie is added when the handler writes the header, so only
	// for calls made before that; UserCaller.TokenCookie gives it to
	// handlers that write earlier, or that set their cookies themselves.
	// A response that gets it is marked "Cache-Control: private, no-store"
	// whatever the handler set: it carries the user's token. Off by
	// default because it wraps the handler's ResponseWriter (the wrapper
	// passes on Flush and Hijack and has Unwrap, for
	// http.ResponseController) and adds a cookie the application may set
	// in its own way.
	RefreshTokenCookie bool
}

// Middleware puts a per-request caller for the signed-in user into each
// request's context. Make one with New; it is safe for concurrent use and
// is meant to be shared by every request of the process.
type Middleware struct {
	client     *client.HTTPClient
	session    func(r *http.Request) Session
	endSession func(w http.ResponseWriter, r *http.Request) error
	cache      *tokenprovider.SessionCache
	isAuth     func(error) bool
	require    bool
	signIn     http.Handler
	ba         *baSignOut // nil without Better Auth
	setCookie  bool       // Options.RefreshTokenCookie
}

// New returns a Middleware for opts.
func New(opts Options) (*Middleware, error) {
	if opts.Client == nil {
		return nil, errors.New("serverauth: Options.Client is required")
	}
	if (opts.BetterAuth == nil) == (opts.Session == nil) {
		return nil, errors.New("serverauth: set exactly one of Options.BetterAuth and Options.Session")
	}
	m := &Middleware{client: opts.Client, session: opts.Session, endSession: opts.EndSession,
		require: opts.RequireSignIn, signIn: opts.SignInRequired, setCookie: opts.RefreshTokenCookie}
	cacheOpts := opts.Cache
	if opts.BetterAuth != nil {
		if opts.EndSession != nil {
			return nil, errors.New("serverauth: Options.EndSession goes with Options.Session; with BetterAuth, SignOut forwards to Better Auth")
		}
		src, err := betterauth.New(*opts.BetterAuth)
		if err != nil {
			return nil, err
		}
		m.session = betterAuthSession(src)
		if m.ba, err = newBASignOut(*opts.BetterAuth); err != nil {
			return nil, err
		}
		if cacheOpts.IsAuthError == nil {
			cacheOpts.IsAuthError = betterauth.IsAuthError
		}
	}
	if cacheOpts.IsAuthError == nil {
		cacheOpts.IsAuthError = tokenprovider.IsAuthError
	}
	m.isAuth = cacheOpts.IsAuthError
	m.cache = tokenprovider.NewSessionCache(&cacheOpts)
	if m.signIn == nil {
		m.signIn = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "private, no-store")
			http.Error(w, "sign-in required", http.StatusUnauthorized)
		})
	}
	return m, nil
}

// betterAuthSession reads a request's session from Better Auth's cookies.
func betterAuthSession(src *betterauth.Source) func(r *http.Request) Session {
	return func(r *http.Request) Session {
		c := src.Credentials(r)
		s := Session{ID: c.Session(), Token: src.CookieToken(c)}
		if s.ID != "" {
			s.Fetch = src.Fetch(c)
			s.Cookie = func(token string) *http.Cookie { return src.TokenCookie(c, token) }
		}
		return s
	}
}

// Handler returns next wrapped: each request's context carries a caller
// for its user (see Caller), and a request with a session gets
// "Cache-Control: private, no-store" unless next sets its own. With
// RequireSignIn, a request without a session is answered by
// SignInRequired and next does not run. With RefreshTokenCookie, a
// response may carry the token its calls got (see Options).
//
// No token is fetched here: a request whose handler makes no call costs
// one read of its cookies. Its first call gets the token.
func (m *Middleware) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := m.session(r)
		if !s.signedIn() {
			if m.require {
				m.signIn.ServeHTTP(w, r)
				return
			}
		} else {
			w.Header().Set("Cache-Control", "private, no-store")
		}
		c := &UserCaller{m: m, s: s}
		if m.setCookie && s.Cookie != nil {
			w = &cookieWriter{ResponseWriter: w, c: c}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, c)))
	})
}

type ctxKey struct{}

// FromContext returns the caller Middleware.Handler put into ctx, and
// false if there is none.
func FromContext(ctx context.Context) (*UserCaller, bool) {
	c, ok := ctx.Value(ctxKey{}).(*UserCaller)
	return c, ok
}

// Caller returns the caller for the user of the request whose context ctx
// is (or derives from): pass it to client.Query, client.Mutation or
// client.Action. In a context that Middleware.Handler did not make, every
// call through the returned caller fails with ErrNoCaller.
func Caller(ctx context.Context) client.Caller {
	if c, ok := FromContext(ctx); ok {
		return c
	}
	return noCaller{}
}

// ErrNoCaller is the error of calls through Caller(ctx) for a ctx without
// a caller: the handler is not wrapped by Middleware.Handler, or it used
// another context than its request's.
var ErrNoCaller = errors.New("serverauth: no caller in the context (wrap the handler with Middleware.Handler and use r.Context())")

// SignOut ends the session of r: with Better Auth it forwards the
// sign-out to Better Auth's sign-out route (which revokes the session, so
// that no instance can exchange it again), else it calls
// Options.EndSession; then it clears the session's cached token from the
// store at once (on every instance sharing the store), and expires r's
// Better Auth cookies on w. It marks w "Cache-Control: private, no-store"
// and writes no status or body.
//
// The session's entry is cleared even when ending the session failed,
// and the errors are joined. A Convex token already handed out (such as
// the browser's convex_jwt cookie) stays valid until its "exp": the
// deployment cannot be told to refuse it sooner. The session is revoked
// before its entry is cleared, so a later fetch on any instance fails;
// but a fetch another instance had under way at that moment may still
// store its token after the clear, where it is served for at most the
// cache's MaxTTL (a fetch in this process never is: see
// tokenprovider.SessionCache.Clear).
func (m *Middleware) SignOut(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Cache-Control", "private, no-store")
	s := m.session(r)
	var errs []error
	if m.ba != nil {
		errs = append(errs, m.ba.signOut(r.Context(), w, r))
	} else if m.endSession != nil {
		errs = append(errs, m.endSession(w, r))
	}
	if s.ID != "" {
		errs = append(errs, m.cache.Clear(r.Context(), s.ID))
	}
	return errors.Join(errs...)
}

// SignOutHandler returns a handler for a sign-out route: it accepts only
// POST (anything else is 405), refuses cross-origin requests
// (http.CrossOriginProtection), runs SignOut and then serves after, or
// answers 204 No Content if after is nil (pass
// http.RedirectHandler("/", http.StatusSeeOther) for a form). If SignOut
// fails, the cookies are still expired and the answer is 502.
func (m *Middleware) SignOutHandler(after http.Handler) http.Handler {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "sign out with POST", http.StatusMethodNotAllowed)
			return
		}
		if err := m.SignOut(w, r); err != nil {
			http.Error(w, "signing out failed", http.StatusBadGateway)
			return
		}
		if after == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		after.ServeHTTP(w, r)
	})
	return http.NewCrossOriginProtection().Handler(h)
}

// baSignOut forwards sign-outs to Better Auth.
type baSignOut struct {
	url    string // {site}{basePath}/sign-out
	origin string // the site's origin, sent as Origin
	prefix string // cookie prefix
	client *http.Client
	limit  time.Duration
}

func newBASignOut(o betterauth.Options) (*baSignOut, error) {
	u, err := url.Parse(strings.TrimRight(o.SiteURL, "/"))
	if err != nil {
		return nil, err
	}
	base := o.BasePath
	if base == "" {
		base = betterauth.DefaultBasePath
	}
	prefix := o.CookiePrefix
	if prefix == "" {
		prefix = betterauth.DefaultCookiePrefix
	}
	var hc http.Client
	if o.HTTPClient != nil {
		hc = *o.HTTPClient
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = betterauth.DefaultTimeout
	}
	return &baSignOut{
		url:    strings.TrimRight(u.String(), "/") + "/" + strings.Trim(base, "/") + "/sign-out",
		origin: u.Scheme + "://" + u.Host,
		prefix: prefix,
		client: &hc,
		limit:  timeout,
	}, nil
}

// isBACookie reports whether name is one of Better Auth's cookies.
func (b *baSignOut) isBACookie(name string) bool {
	return strings.HasPrefix(strings.TrimPrefix(name, betterauth.SecurePrefix), b.prefix+".")
}

// signOut posts r's Better Auth cookies to the sign-out route and expires
// them on w, whatever the answer.
func (b *baSignOut) signOut(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	var cookies []*http.Cookie
	for _, c := range r.Cookies() {
		if b.isBACookie(c.Name) {
			cookies = append(cookies, c)
			http.SetCookie(w, &http.Cookie{Name: c.Name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
				Secure: strings.HasPrefix(c.Name, betterauth.SecurePrefix), SameSite: http.SameSiteLaxMode})
		}
	}
	if len(cookies) == 0 {
		return nil // nothing to revoke
	}
	ctx, cancel := context.WithTimeout(ctx, b.limit)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.url, strings.NewReader("{}"))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	// Better Auth checks the Origin of cookie-carrying POSTs; the request
	// comes from this server, on behalf of a browser whose own request
	// SignOutHandler has checked (POST, same origin).
	req.Header.Set("Origin", b.origin)
	for _, c := range cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	// 401: the session had ended already, which is what was asked.
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusUnauthorized {
		return &betterauth.StatusError{URL: b.url, StatusCode: resp.StatusCode, Location: resp.Header.Get("Location")}
	}
	return nil
}
