package testserver

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// AuthConfig is a custom-JWT auth provider, as configured in a Convex
// deployment's auth.config.ts with type "customJwt".
type AuthConfig struct {
	// Issuer must equal the tokens' iss claim. A missing scheme means
	// https:// and a trailing '/' is ignored, on both sides.
	Issuer string
	// ApplicationID, if set, must be among the tokens' aud claim.
	ApplicationID string
	// Algorithm is "RS256" (the default when empty) or "ES256".
	Algorithm string
	// JWKS is the key set: its JSON text, or a data: URI holding it
	// (base64 or percent-encoded).
	JWKS string
}

// TokenError is why a token was rejected. Code is the short code of the
// HTTP 401 body, as the backend's custom-JWT check has it
// (crates/authentication/src/lib.rs): NoAuthProvider when no configured
// provider matches the token's issuer and audience, and InvalidAuthHeader
// for every other failure (not a JWT, no iss, key, signature, claims,
// expiry).
type TokenError struct {
	// Code is the short error code.
	Code string
	// Message says which check failed.
	Message string
}

// Error returns the message.
func (e *TokenError) Error() string { return e.Message }

func unauthenticated(format string, args ...any) error {
	return &TokenError{Code: "InvalidAuthHeader", Message: fmt.Sprintf(format, args...)}
}

// clockSkew is the leeway of the temporal checks.
const clockSkew = 5 * time.Second

type authProvider struct {
	issuer string // normalized
	appID  string
	alg    string
	keys   map[string]jwkKey // by kid
}

type jwkKey struct {
	alg string // the key's own "alg", if it has one
	pub any    // *rsa.PublicKey or *ecdsa.PublicKey
}

func newAuthProvider(cfg AuthConfig) (*authProvider, error) {
	alg := cfg.Algorithm
	if alg == "" {
		alg = "RS256"
	}
	if alg != "RS256" && alg != "ES256" {
		return nil, fmt.Errorf("auth algorithm must be RS256 or ES256, not %q", alg)
	}
	if cfg.Issuer == "" {
		return nil, errors.New("auth config needs an issuer")
	}
	text := cfg.JWKS
	if strings.HasPrefix(text, "data:") {
		b, err := decodeDataURI(text)
		if err != nil {
			return nil, err
		}
		text = string(b)
	}
	keys, err := parseJWKS([]byte(text))
	if err != nil {
		return nil, err
	}
	return &authProvider{issuer: normalizeIssuer(cfg.Issuer), appID: cfg.ApplicationID, alg: alg, keys: keys}, nil
}

// decodeDataURI decodes data:[<mediatype>][;base64],<data>.
func decodeDataURI(s string) ([]byte, error) {
	meta, data, ok := strings.Cut(strings.TrimPrefix(s, "data:"), ",")
	if !ok {
		return nil, errors.New("JWKS data: URI has no ','")
	}
	if strings.HasSuffix(meta, ";base64") {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if b, err := enc.DecodeString(data); err == nil {
				return b, nil
			}
		}
		return nil, errors.New("JWKS data: URI is not valid base64")
	}
	u, err := url.PathUnescape(data)
	if err != nil {
		return nil, fmt.Errorf("JWKS data: URI: %w", err)
	}
	return []byte(u), nil
}

// parseJWKS reads RSA and P-256 EC keys; keys of other types, and keys
// without a kid, are skipped.
func parseJWKS(data []byte) (map[string]jwkKey, error) {
	var set struct {
		Keys []struct {
			Kty string `json:"kty"`
			Kid string `json:"kid"`
			Alg string `json:"alg"`
			N   string `json:"n"`
			E   string `json:"e"`
			Crv string `json:"crv"`
			X   string `json:"x"`
			Y   string `json:"y"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("JWKS is not valid JSON: %w", err)
	}
	keys := map[string]jwkKey{}
	for i, k := range set.Keys {
		if k.Kid == "" {
			continue
		}
		switch k.Kty {
		case "RSA":
			n, err1 := b64url(k.N)
			e, err2 := b64url(k.E)
			if err1 != nil || err2 != nil || len(n) == 0 || len(e) == 0 || len(e) > 4 {
				return nil, fmt.Errorf("JWKS key %d (%q): bad RSA n or e", i, k.Kid)
			}
			exp := int(new(big.Int).SetBytes(e).Int64())
			keys[k.Kid] = jwkKey{alg: k.Alg, pub: &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: exp}}
		case "EC":
			if k.Crv != "P-256" {
				continue
			}
			x, err1 := b64url(k.X)
			y, err2 := b64url(k.Y)
			if err1 != nil || err2 != nil || len(x) != 32 || len(y) != 32 {
				return nil, fmt.Errorf("JWKS key %d (%q): bad EC x or y", i, k.Kid)
			}
			pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
			if err != nil {
				return nil, fmt.Errorf("JWKS key %d (%q): %w", i, k.Kid, err)
			}
			keys[k.Kid] = jwkKey{alg: k.Alg, pub: pub}
		}
	}
	return keys, nil
}

func b64url(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// normalizeIssuer adds https:// when there is no scheme and drops trailing
// slashes.
func normalizeIssuer(iss string) string {
	if !strings.Contains(iss, "://") {
		iss = "https://" + iss
	}
	return strings.TrimRight(iss, "/")
}

// ValidateToken checks a user JWT the way the deployment's custom-JWT
// provider does and returns the identity it carries. Errors are
// *TokenError. It counts towards Stats.TokensValidated.
func (s *Server) ValidateToken(token string) (*Identity, error) {
	ident, err := s.validateToken(token)
	s.bump(func(st *Stats) {
		st.TokensValidated++
		if err != nil {
			st.TokensRejected++
		} else {
			st.TokensAccepted++
		}
	})
	return ident, err
}

func (s *Server) validateToken(raw string) (*Identity, error) {
	p := s.auth
	if p == nil {
		return nil, &TokenError{Code: "NoAuthProvider", Message: "No auth provider found matching the given token: the deployment has no auth providers"}
	}
	parser := jwt.NewParser(jwt.WithValidMethods([]string{p.alg}), jwt.WithoutClaimsValidation())
	claims := jwt.MapClaims{}
	tok, _, err := parser.ParseUnverified(raw, claims)
	if err != nil {
		return nil, &TokenError{Code: "InvalidAuthHeader", Message: "Could not parse JWT payload. Check that the token is a valid JWT format with three base64-encoded parts separated by dots."}
	}

	// Choose the provider from the unverified iss and aud.
	iss, err := claims.GetIssuer()
	if err != nil || iss == "" {
		return nil, unauthenticated("Missing issuer claim ('iss') in JWT payload. The JWT must include an 'iss' claim that matches one of your configured auth providers.")
	}
	if normalizeIssuer(iss) != p.issuer {
		return nil, &TokenError{Code: "NoAuthProvider",
			Message: fmt.Sprintf("No auth provider found matching the given token: Invalid issuer %q, expected %q", iss, p.issuer)}
	}
	if p.appID != "" {
		aud, err := claims.GetAudience()
		if err != nil || len(aud) == 0 {
			return nil, &TokenError{Code: "NoAuthProvider",
				Message: "No auth provider found matching the given token: Missing audience, expected " + p.appID}
		}
		if !slices.Contains(aud, p.appID) {
			return nil, &TokenError{Code: "NoAuthProvider",
				Message: fmt.Sprintf("No auth provider found matching the given token: Invalid audience %v, expected %q", []string(aud), p.appID)}
		}
	}

	kid, _ := tok.Header["kid"].(string)
	if kid == "" {
		return nil, unauthenticated("Token is missing the key id (kid) header")
	}
	alg, _ := tok.Header["alg"].(string)
	if alg == "" || strings.EqualFold(alg, "none") || strings.HasPrefix(strings.ToUpper(alg), "HS") {
		return nil, unauthenticated("Token algorithm %q is not allowed", alg)
	}
	if alg != p.alg {
		return nil, unauthenticated("Token algorithm %s does not match the provider's algorithm %s", alg, p.alg)
	}
	key, ok := p.keys[kid]
	if !ok {
		return nil, unauthenticated("No key with kid %q in the provider's JWKS", kid)
	}
	if key.alg != "" && key.alg != alg {
		return nil, unauthenticated("Key %q is for algorithm %s, but the token uses %s", kid, key.alg, alg)
	}
	if _, err := parser.Parse(raw, func(*jwt.Token) (any, error) { return key.pub, nil }); err != nil {
		return nil, unauthenticated("Could not verify the token's signature: %v", err)
	}

	now := s.now()
	exp, err := claims.GetExpirationTime()
	if err != nil {
		return nil, unauthenticated("Invalid expiry: %v", err)
	}
	if exp == nil {
		return nil, unauthenticated("Missing expiry: the token has no exp claim")
	}
	if !exp.After(now.Add(-clockSkew)) {
		return nil, unauthenticated("Token expired at %s", exp.UTC().Format(time.RFC3339))
	}
	if nbf, err := claims.GetNotBefore(); err != nil {
		return nil, unauthenticated("Invalid nbf: %v", err)
	} else if nbf != nil && nbf.After(now.Add(clockSkew)) {
		return nil, unauthenticated("Token is not valid before %s", nbf.UTC().Format(time.RFC3339))
	}
	if iat, err := claims.GetIssuedAt(); err != nil {
		return nil, unauthenticated("Invalid iat: %v", err)
	} else if iat != nil && iat.After(now.Add(clockSkew)) {
		return nil, unauthenticated("Token was issued in the future (iat %s)", iat.UTC().Format(time.RFC3339))
	}
	sub, err := claims.GetSubject()
	if err != nil || sub == "" {
		return nil, unauthenticated("Missing subject: the token has no sub claim")
	}
	return &Identity{Subject: sub, Issuer: iss, TokenIdentifier: iss + "|" + sub, Expiry: exp.Time,
		Claims: maps.Clone(map[string]any(claims))}, nil
}
