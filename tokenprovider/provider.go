package tokenprovider

import "context"

// Provider supplies the auth token (a JWT) sent to a Convex deployment.
//
// Token returns the current token. forceRefresh asks for a token newer than
// any the caller has seen: it is true after the deployment rejected the
// previous token and when a refresh before expiry is due. An empty token
// with a nil error means "no token": the caller is unauthenticated.
// Implementations must be safe for concurrent use and should honour ctx.
type Provider interface {
	Token(ctx context.Context, forceRefresh bool) (string, error)
}

// Func adapts an ordinary function to a Provider, as http.HandlerFunc does
// for handlers.
type Func func(ctx context.Context, forceRefresh bool) (string, error)

// Token calls f(ctx, forceRefresh).
func (f Func) Token(ctx context.Context, forceRefresh bool) (string, error) {
	return f(ctx, forceRefresh)
}
