package tokenprovider

import "errors"

// authError is the type of the verification sentinels. Its AuthError
// method is how IsAuthError recognises them, the same way it recognises the
// client package's errors.
type authError struct{ msg string }

func (e *authError) Error() string   { return e.msg }
func (e *authError) AuthError() bool { return true }

// Errors returned by Verifier.Verify (and by a Cache whose verifier rejects
// a fetched token). Each failure has its own sentinel, to be tested with
// errors.Is; the returned error adds detail and may also wrap the
// golang-jwt error it came from. IsAuthError reports true for all of them.
var (
	// ErrMalformedToken: the token is not a well-formed JWS compact
	// serialization, or a claim has the wrong JSON type.
	ErrMalformedToken error = &authError{"tokenprovider: malformed token"}
	// ErrMissingKID: the token header has no "kid".
	ErrMissingKID error = &authError{"tokenprovider: token header has no kid"}
	// ErrUnknownKID: no key in the key set has the token's "kid".
	ErrUnknownKID error = &authError{"tokenprovider: unknown kid"}
	// ErrAlgorithmNotAllowed: the token's "alg" is not in the verifier's
	// allow-list ("none" and HMAC algorithms never are).
	ErrAlgorithmNotAllowed error = &authError{"tokenprovider: signing algorithm not allowed"}
	// ErrKeyAlgorithmMismatch: the token's "alg" differs from the key's
	// "alg", or does not fit the key's type.
	ErrKeyAlgorithmMismatch error = &authError{"tokenprovider: signing algorithm does not match the key"}
	// ErrBadSignature: the signature does not verify with the key.
	ErrBadSignature error = &authError{"tokenprovider: bad signature"}
	// ErrWrongIssuer: "iss" is missing or differs from the configured
	// issuer after normalization.
	ErrWrongIssuer error = &authError{"tokenprovider: wrong issuer"}
	// ErrWrongAudience: an audience is configured and "aud" does not
	// contain it.
	ErrWrongAudience error = &authError{"tokenprovider: wrong audience"}
	// ErrExpired: "exp" has passed (beyond the leeway).
	ErrExpired error = &authError{"tokenprovider: token expired"}
	// ErrNotYetValid: "nbf" or "iat" is in the future (beyond the leeway).
	ErrNotYetValid error = &authError{"tokenprovider: token not yet valid"}
	// ErrMissingExpiry: the token has no "exp".
	ErrMissingExpiry error = &authError{"tokenprovider: token has no expiry"}
	// ErrMissingSubject: the token has no "sub".
	ErrMissingSubject error = &authError{"tokenprovider: token has no subject"}
	// ErrTokenTooLarge: the token is longer than MaxTokenSize bytes. It is
	// refused before any decoding.
	ErrTokenTooLarge error = &authError{"tokenprovider: token too large"}
	// ErrControlCharacter: the token contains an ASCII control character
	// (CR, LF, tab, NUL, DEL, ...). Go's base64 decoders skip CR and LF,
	// so without this check a line break in the signature segment would be
	// decoded away and the token accepted. It is refused, wherever it is,
	// before any decoding. Every other character outside the base64url
	// alphabet and "." is ErrMalformedToken.
	ErrControlCharacter error = &authError{"tokenprovider: control character in token"}
	// ErrCriticalHeader: the token header has "crit". RFC 7515 section
	// 4.1.11 requires a recipient to refuse a token whose "crit" lists an
	// extension it does not understand, and this package understands none,
	// so every "crit" is refused: one that lists an extension, and one that
	// is invalid in itself (not a non-empty array of strings, listing a
	// parameter the JWS or JWA specifications define, listing a name twice,
	// or listing a name the header does not have).
	ErrCriticalHeader error = &authError{"tokenprovider: unsupported critical header"}
)

// Errors about configuration and use rather than about a token. IsAuthError
// reports false for them.
var (
	// ErrInvalidJWKS: a key set could not be read. The returned error
	// says which key and why.
	ErrInvalidJWKS = errors.New("tokenprovider: invalid JWKS")
	// ErrNoSession: SessionCache was called with an empty session
	// credential.
	ErrNoSession = errors.New("tokenprovider: empty session credential")
)

// IsAuthError reports whether err means that a token was refused: the
// deployment (or a verifier) does not accept the credentials, so retrying
// with the same token cannot help but a freshly fetched one might.
//
// It is true when some error in err's chain (followed through Unwrap() error
// and Unwrap() []error) has a method AuthError() bool that returns true.
// This package's verification sentinels (ErrExpired, ErrBadSignature, ...)
// have it, and so can other packages' error types, which is how the client
// package's auth errors are recognised without this package importing it.
// Nothing else counts: a network failure or a function error is not an auth
// error.
func IsAuthError(err error) bool {
	for err != nil {
		if a, ok := err.(interface{ AuthError() bool }); ok && a.AuthError() {
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if IsAuthError(e) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
	return false
}
