// Package tokenprovider supplies, caches and checks the auth tokens (JWTs)
// a Convex deployment accepts. It does not depend on the client package:
// a web server can use it alone.
//
// The entry points:
//
//   - Provider is the one-method interface the client asks for tokens:
//     Token(ctx, forceRefresh). Func adapts a plain function to it.
//   - Cache wraps a Provider. It collapses concurrent fetches into one,
//     answers refresh requests with a token the deployment confirmed in the
//     last 10 seconds (the client calls Confirm and Reject), and never
//     serves a token past its expiry.
//   - Expiry and RefreshDelay read "iat" and "exp" without verifying the
//     token, and compute when to refresh it as the official client does.
//   - SessionCache keeps one token per signed-in user of a server that
//     renders per request, keyed by a hash of the session credential, in a
//     Store: MemoryStore by default, or Redis with the separate module
//     github.com/convexgo/convex/tokenprovider/redisstore. SessionCache.Do
//     runs a Convex call and retries it once, with a fresh token, only when
//     a cached token was refused. A Store that is also a Locker (both of
//     those are) gives the SessionCaches sharing it a lease per session,
//     so that concurrent misses on several instances make one fetch.
//   - Verifier checks tokens against a static JSON Web Key Set (JSON, a
//     data: URI, or the JWKS environment variable) with no network call:
//     algorithm allow-list, key id, signature, issuer, audience, expiry,
//     subject. A Verifier can also vouch for the tokens a Cache fetches.
//   - IsAuthError tells an error that means "this token was refused" from
//     every other failure.
//
// # What the client calls
//
// A client using a Cache calls Token(ctx, false) when it starts,
// Token(ctx, true) for each refresh, Confirm(token) when a Transition raises
// the identity version after the token was sent, and Reject(token) when the
// deployment answers with an AuthError, before asking for a new token with
// Token(ctx, true). RefreshDelay(token, DefaultRefreshLeeway) tells it when
// to ask for the next refresh after a confirmation.
package tokenprovider
