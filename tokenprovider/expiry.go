package tokenprovider

import (
	"errors"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Refresh schedule constants, as the official JavaScript client uses them.
const (
	// DefaultRefreshLeeway is how long before the end of a token's life
	// RefreshDelay schedules the refresh.
	DefaultRefreshLeeway = 10 * time.Second
	// MaxRefreshDelay is the longest delay RefreshDelay returns.
	MaxRefreshDelay = 20 * 24 * time.Hour
	// minRefreshLifetime: a token living this long or less is never
	// scheduled for refresh.
	minRefreshLifetime = 2 * time.Second
)

// unverified reads JWT payloads without checking signatures. A Parser with
// no options is safe for concurrent use.
var unverified = jwt.NewParser()

// Expiry reads the "iat" and "exp" claims of a JWT without verifying it.
// Use the values only to decide when to refresh or whether a cached token
// is stale, never to decide whether to trust the token.
//
// ok is false when the token is not a JWT whose payload can be read or has
// no valid "exp"; iat is the zero Time when the token has no "iat".
func Expiry(token string) (iat, exp time.Time, ok bool) {
	if token == "" {
		return time.Time{}, time.Time{}, false
	}
	claims := jwt.MapClaims{}
	if _, _, err := unverified.ParseUnverified(token, claims); err != nil &&
		!errors.Is(err, jwt.ErrTokenUnverifiable) { // unknown alg: the payload was still read
		return time.Time{}, time.Time{}, false
	}
	e, err := claims.GetExpirationTime()
	if err != nil || e == nil {
		return time.Time{}, time.Time{}, false
	}
	if i, err := claims.GetIssuedAt(); err == nil && i != nil {
		iat = i.Time
	}
	return iat, e.Time, true
}

// RefreshDelay is how long after the deployment confirms token a refresh
// should be asked for, by the official client's rule:
// min(MaxRefreshDelay, (exp - iat) - leeway), where leeway is normally
// DefaultRefreshLeeway. The token's life is measured as exp - iat rather
// than against the local clock, so clock skew does not matter.
//
// ok is false, and no refresh should be scheduled, when the token lacks
// "iat" or "exp" or lives 2 seconds or less. A delay of 0 means "refresh
// now".
func RefreshDelay(token string, leeway time.Duration) (delay time.Duration, ok bool) {
	iat, exp, ok := Expiry(token)
	if !ok || iat.IsZero() {
		return 0, false
	}
	life := exp.Sub(iat)
	if life <= minRefreshLifetime {
		return 0, false
	}
	delay = min(life-leeway, MaxRefreshDelay)
	return max(delay, 0), true
}
