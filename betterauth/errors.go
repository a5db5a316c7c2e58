package betterauth

import (
	"errors"
	"fmt"

	"github.com/convexgo/convex/tokenprovider"
)

// signedOutError is ErrSignedOut's type; its AuthError method is how
// tokenprovider.IsAuthError recognises it.
type signedOutError struct{}

func (*signedOutError) Error() string   { return "betterauth: signed out (no valid Better Auth session)" }
func (*signedOutError) AuthError() bool { return true }

// ErrSignedOut means the user has no valid Better Auth session: the
// request carries no session credential, or the token endpoint answered
// 401 (the session was signed out, revoked or expired). Test it with
// errors.Is; tokenprovider.IsAuthError reports true for it. Fetching again
// cannot help: the user has to sign in.
var ErrSignedOut error = &signedOutError{}

// Errors about the token endpoint's or the JWKS route's answer. None is an
// auth error: they mean the site misbehaves or is misconfigured.
var (
	// ErrResponseTooLarge: the response body is longer than
	// Options.MaxBodySize.
	ErrResponseTooLarge = errors.New("betterauth: response body too large")
	// ErrBadResponse: a 200 answer that is not the expected JSON (no
	// token, a token that is not a JWT, a key set that cannot be read).
	ErrBadResponse = errors.New("betterauth: unexpected response")
	// ErrPrivateKey: a JWKS row's publicKey holds private key material.
	// ParseJWKSRows refuses such a row rather than publish its key.
	ErrPrivateKey = errors.New("betterauth: private key material in a public key")
	// ErrInvalidRows: the JWKS rows could not be read.
	ErrInvalidRows = errors.New("betterauth: invalid JWKS rows")
)

// StatusError is an answer from the site with a status other than 200 and
// 401 (401 is ErrSignedOut). Redirects are not followed, so a 3xx answer
// is a StatusError too, with its Location.
type StatusError struct {
	URL        string // the URL requested, without query
	StatusCode int
	Location   string // the Location header of a redirect, if any
}

// Error describes the unexpected response.
func (e *StatusError) Error() string {
	if e.Location != "" {
		return fmt.Sprintf("betterauth: GET %s: status %d (redirect to %s, not followed)", e.URL, e.StatusCode, e.Location)
	}
	return fmt.Sprintf("betterauth: GET %s: status %d", e.URL, e.StatusCode)
}

// ConvexErrorIs returns a classifier that reports whether err's chain
// holds a Convex function error whose ConvexError data is one of the
// strings values. A function error is recognised by its method
// DataAs(v any) error (client.FunctionError has it), so this package does
// not import the client.
func ConvexErrorIs(values ...string) func(error) bool {
	vals := append([]string(nil), values...)
	return func(err error) bool {
		var fe interface{ DataAs(v any) error }
		if !errors.As(err, &fe) {
			return false
		}
		var s string
		if fe.DataAs(&s) != nil {
			return false
		}
		for _, v := range vals {
			if s == v {
				return true
			}
		}
		return false
	}
}

// Unauthenticated is the ConvexError data @convex-dev/better-auth's
// getAuthUser throws when the token's session no longer exists (signed
// out, revoked, expired) or there is no token.
const Unauthenticated = "Unauthenticated"

var isUnauthenticated = ConvexErrorIs(Unauthenticated)

// IsAuthError reports whether err means that a Better Auth user's token or
// session was refused: tokenprovider.IsAuthError(err) (the deployment
// refused the token, ErrSignedOut, a Verifier's errors), or a Convex
// function error whose ConvexError data is "Unauthenticated" (see
// ConvexErrorIs). It is the default Options.IsAuthError, and the
// classifier to give tokenprovider.SessionOptions.IsAuthError for a
// SessionCache used with Source.Do.
func IsAuthError(err error) bool {
	return tokenprovider.IsAuthError(err) || isUnauthenticated(err)
}
