package betterauth

import (
	"net/http"
	"strings"
	"time"

	"github.com/convexgo/convex/tokenprovider"
)

// What Better Auth does with the convex_jwt cookie, as read in
// @convex-dev/better-auth 0.12.5 and better-auth 1.6.34:
//
//   - The Convex plugin's token endpoint (getToken, GET /convex/token, in
//     src/plugins/convex/index.ts) answers {"token": ...} and sets the
//     cookie with the same token: ctx.setCookie with the name and
//     attributes of ctx.context.createAuthCookie("convex_jwt", {maxAge:
//     jwt.expirationSeconds}), 15 minutes by default, the token's own
//     lifetime. Its after-hooks set it the same way after the sign-in
//     and sign-up routes (OAuth callbacks, magic links and one-time codes
//     among them), update-session and get-session with a session, and
//     clear it (empty, Max-Age 0) after sign-out, delete-user and
//     get-session without a session.
//   - createAuthCookie is Better Auth's createCookieGetter (src/cookies/
//     index.ts; dist/cookies/index.mjs in the package): the name is
//     "<cookiePrefix>.convex_jwt" (advanced.cookies.convex_jwt.name if
//     set), with "__Secure-" in front when useSecureCookies is on (by
//     default when the base URL is https), and the attributes are Secure
//     exactly then, SameSite=Lax, Path=/, HttpOnly, a Domain only with
//     crossSubDomainCookies, then advanced.defaultCookieAttributes, the
//     Max-Age above, and advanced.cookies.convex_jwt.attributes. The real
//     server's answer is "better-auth.convex_jwt=<token>; Max-Age=900;
//     Path=/; HttpOnly; SameSite=Lax", with no Expires.
//   - The official server helpers (getToken in src/utils/index.ts, used by
//     convexBetterAuthNextJs in src/nextjs/index.ts and by the TanStack
//     Start helpers) fetch the endpoint from the server and keep only the
//     token: the Set-Cookie of that server-side fetch never reaches the
//     browser. The browser's cookie is kept current by its own requests
//     to Better Auth, which those frameworks proxy with the answer's
//     headers intact (nextJsHandler in src/nextjs/index.ts): the React
//     provider's token fetch (authClient.convex.token, src/react/
//     index.tsx) and get-session, whose after-hook sets the cookie.
//
// A Go server that renders pages has no such browser-side fetch to rely
// on, so TokenCookie builds the cookie the endpoint would set, for the
// server to hand on.

// setCookie is a convex_jwt cookie the token endpoint set, and when.
type setCookie struct {
	cookie http.Cookie
	at     time.Time
}

// jwtCookieName is the name of c's convex_jwt cookie: the one c carries
// (the __Secure- form first), else the form of c's session cookie. It is
// "" when c carries no session cookie.
func (c Credentials) jwtCookieName() string {
	jwt, sess := c.prefix+".convex_jwt", c.prefix+".session_token"
	has := func(name string) bool {
		for _, ck := range c.cookies {
			if ck.Name == name {
				return true
			}
		}
		return false
	}
	switch {
	case !has(SecurePrefix+sess) && !has(sess):
		return ""
	case has(SecurePrefix + jwt):
		return SecurePrefix + jwt
	case has(jwt):
		return jwt
	case has(SecurePrefix + sess):
		return SecurePrefix + jwt
	default:
		return jwt
	}
}

// TokenCookie returns the convex_jwt cookie that hands token, a Convex
// token for c's session (from Exchange, or from a SessionCache holding
// one), to the browser c came from, so that its next request carries a
// fresh token (see CookieToken) and needs neither an exchange nor a cache
// lookup. The cookie is the one Better Auth's token endpoint sets with
// its token (see the notes at the top of this file):
//
//   - its name is that of the request's convex_jwt cookie, or, when the
//     request had none, the convex_jwt name of the same form as its
//     session cookie ("__Secure-" or not);
//   - its attributes (Path, Domain, Secure, HttpOnly, SameSite,
//     Partitioned) are those of the last convex_jwt cookie the endpoint
//     set in this Source's answers, or, before any, Better Auth's
//     defaults: Path=/, HttpOnly, SameSite=Lax, and Secure for the
//     "__Secure-" form (which is always Secure);
//   - its Max-Age is, for the token of that last answer, the endpoint's
//     Max-Age less the whole seconds since (so it is the endpoint's own
//     cookie when passed on at once), and for another token (say one
//     that another instance exchanged) the seconds left until its "exp",
//     at most the endpoint's last Max-Age. Like Better Auth's, it has no
//     Expires.
//
// It returns nil when c holds no session cookie (a Bearer credential
// comes from no browser cookie jar), or when token has no "exp" that is
// more than the expiry margin away (the browser could not reuse it).
func (s *Source) TokenCookie(c Credentials, token string) *http.Cookie {
	name := c.jwtCookieName()
	if name == "" || token == "" || len(token) > tokenprovider.MaxTokenSize {
		return nil
	}
	now := s.cfg.now()
	_, exp, ok := tokenprovider.Expiry(token)
	if !ok || !now.Before(exp.Add(-s.cfg.margin)) {
		return nil
	}
	ck := &http.Cookie{Name: name, Value: token, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode}
	maxAge := int((exp.Sub(now) + time.Second - 1) / time.Second)
	if last := s.last.Load(); last != nil {
		t := last.cookie
		ck.Path, ck.Domain, ck.Secure, ck.HttpOnly, ck.SameSite, ck.Partitioned =
			t.Path, t.Domain, t.Secure, t.HttpOnly, t.SameSite, t.Partitioned
		switch {
		case t.MaxAge <= 0: // no Max-Age (or a deletion): keep the exp's
		case t.Value == token:
			maxAge = t.MaxAge - int(now.Sub(last.at)/time.Second)
		default:
			maxAge = min(maxAge, t.MaxAge)
		}
	}
	if strings.HasPrefix(name, SecurePrefix) {
		ck.Secure = true
	}
	if maxAge <= 0 {
		return nil
	}
	ck.MaxAge = maxAge
	return ck
}
