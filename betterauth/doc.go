// Package betterauth gets the Convex token (JWT) of a Better Auth user for
// a Go server that holds the user's Better Auth session, as
// @convex-dev/better-auth's server helpers (getToken, convexBetterAuthNextJs)
// do for JavaScript servers.
//
// A Source knows the Better Auth site (the Convex site URL, or wherever
// Better Auth with the Convex plugin is mounted). For each request it
//
//   - reuses the token in the request's "better-auth.convex_jwt" cookie (or
//     its "__Secure-" form) while the token is unexpired by more than a
//     safety margin, reading "exp" without verifying the token unless a
//     Verifier is configured; and otherwise
//   - exchanges the session at GET {site}/api/auth/convex/token, sending the
//     session cookie ("better-auth.session_token" or its "__Secure-" form)
//     and Better Auth's other cookies, never unrelated ones, or a Bearer
//     session token. The exchange has a timeout, follows no redirect and
//     reads a bounded body. A 401 answer is ErrSignedOut.
//
// Source.TokenCookie builds the convex_jwt cookie that hands a token the
// server got for a session (exchanged, or from a cache) to the browser, as
// the token endpoint itself sets it (the request's cookie name, "__Secure-"
// form included; the attributes of the endpoint's own Set-Cookie; Max-Age
// to the token's exp), so that the browser's next request carries a fresh
// token. serverauth sets it on responses with Options.RefreshTokenCookie.
//
// Source.Token and Source.Exchange serve one request; Source.Provider
// adapts a request's Credentials to a tokenprovider.Provider; Source.Do
// runs a Convex call with the right token, through an optional
// tokenprovider.SessionCache, and retries once with an exchanged token when
// a reused one is refused.
//
// ParseJWKSRows turns the key rows of Better Auth's jwks table (what the
// Convex plugin's getLatestJwks and rotateKeys return, and what a static
// JWKS environment variable holds) into a standard public JSON Web Key Set,
// never copying a private key. FetchJWKS and FetchVerifier read the site's
// /api/auth/convex/jwks route once to build a tokenprovider.Verifier.
//
// IsAuthError is the classifier for a Better Auth app: the tokenprovider's
// auth errors, plus a Convex function error whose ConvexError data is
// "Unauthenticated", which @convex-dev/better-auth's getAuthUser throws for
// a revoked session. Pass it as tokenprovider.SessionOptions.IsAuthError.
package betterauth
