// Package serverauth is net/http middleware for Go servers that render
// pages for many signed-in users at once: it puts a caller for each
// request's user into the request's context, so that a handler runs Convex
// functions as that user in one line:
//
//	msgs, err := client.Query[[]Message](r.Context(), serverauth.Caller(r.Context()), "messages:list", args)
//
// Per request the Middleware
//
//   - finds the session: Better Auth's cookies (Options.BetterAuth), or a
//     session function of the application's (Options.Session);
//   - gets the session's Convex token when a call needs it: a fresh token
//     the request carries (Better Auth's convex_jwt cookie), else one from
//     a tokenprovider.SessionCache (in memory, or in a Store shared by
//     several instances, such as the redisstore module's), else one
//     fetched now (Better Auth's token exchange) and cached;
//   - runs the call with client.HTTPClient.As(client.UserToken(token)), or
//     anonymously for a request without a session (or answers it with
//     Options.SignInRequired when Options.RequireSignIn is set).
//
// A session's token is thus fetched once per token lifetime per process,
// and once for all instances sharing the store, first requests of a
// session arriving at several instances at the same moment included when
// the store is a tokenprovider.Locker (MemoryStore and the redisstore
// module's Store are): one instance takes a lease on the session's key
// and fetches, the others wait for the token it stores (at most
// SessionOptions.LockWait), and fetch themselves only if that fetch fails
// or its lease expires.
//
// # Retries
//
// A call is retried at most once, with a freshly fetched token, and only
// when it failed with an auth error on a token that was not fetched for
// this call (one from the cache or from the request's cookie). A token
// fetched for the call is never retried. Queries are retried on whatever
// the classifier (Options.Cache.IsAuthError) counts, such as Better Auth's
// ConvexError("Unauthenticated"). Mutations and actions are retried only
// when the error proves the function did not run: an HTTP 401 from the
// deployment, which refused the token before running anything. A function
// error, even ConvexError("Unauthenticated"), means the function ran (and
// may have written before it threw), so it is returned, never retried.
//
// # Sign-out
//
// Middleware.SignOut ends a session: it forwards the sign-out to Better
// Auth (POST {site}/api/auth/sign-out, which revokes the session), clears
// the session's cached token from the store at once (so every instance
// sharing the store stops using it), and expires the request's Better
// Auth cookies. SignOutHandler wraps it in a POST-only, cross-origin
// protected handler.
//
// # Caching of responses
//
// The response to a request with a session is marked
// "Cache-Control: private, no-store" before the handler runs (the handler
// may set its own): a page rendered for one user must not be served to
// another by a shared cache.
//
// # The browser's token cookie
//
// By default the middleware sets no cookie: the tokens it fetches stay in
// the SessionCache, and a browser whose convex_jwt cookie has expired
// costs a cache lookup on each request (and an exchange per token
// lifetime). Better Auth's own server helpers leave the cookie to the
// browser's requests to Better Auth, which a Go server that renders pages
// may not make. With Options.RefreshTokenCookie, a response whose request
// carried no fresh token, and whose calls got one for its session, hands
// that token to the browser in the cookie Better Auth's token endpoint
// sets (Session.Cookie; betterauth.Source.TokenCookie with BetterAuth):
// the next request carries it and costs neither. Such a response is
// always "Cache-Control: private, no-store", whatever the handler set.
package serverauth
