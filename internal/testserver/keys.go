package testserver

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Defaults of the keys made by GenerateKeys.
const (
	DefaultIssuer        = "https://auth.testserver.invalid"
	DefaultApplicationID = "convex-go-tests"
)

// Keys is a signing key with a key id, for minting tokens that a Server
// configured with AuthConfig() accepts. Change Issuer or ApplicationID
// before calling AuthConfig to use other values.
type Keys struct {
	// Kid is the key id put in the JWKS and in every token's header.
	Kid string
	// Algorithm is "RS256" or "ES256".
	Algorithm string
	// Issuer is the iss claim of minted tokens and the provider's issuer.
	Issuer string
	// ApplicationID is the aud claim of minted tokens and the provider's
	// application ID; empty leaves both out.
	ApplicationID string
	key           crypto.Signer
}

// GenerateKeys creates an RSA 2048 key for RS256 with a random kid, the
// default issuer and the default application ID.
func GenerateKeys() (*Keys, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	return newKeys("RS256", k), nil
}

// GenerateES256Keys creates a P-256 key for ES256, otherwise like
// GenerateKeys.
func GenerateES256Keys() (*Keys, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return newKeys("ES256", k), nil
}

func newKeys(alg string, key crypto.Signer) *Keys {
	var id [8]byte
	_, _ = rand.Read(id[:])
	return &Keys{Kid: hex.EncodeToString(id[:]), Algorithm: alg, Issuer: DefaultIssuer,
		ApplicationID: DefaultApplicationID, key: key}
}

// JWKS returns the public key set as JSON: one key with kid, alg and use.
func (k *Keys) JWKS() []byte {
	enc := base64.RawURLEncoding.EncodeToString
	jwk := map[string]string{"kid": k.Kid, "alg": k.Algorithm, "use": "sig"}
	switch pub := k.key.Public().(type) {
	case *rsa.PublicKey:
		jwk["kty"] = "RSA"
		jwk["n"] = enc(pub.N.Bytes())
		jwk["e"] = enc(big.NewInt(int64(pub.E)).Bytes())
	case *ecdsa.PublicKey:
		b, err := pub.Bytes()
		if err != nil {
			panic("testserver: " + err.Error())
		}
		jwk["kty"], jwk["crv"] = "EC", "P-256"
		jwk["x"], jwk["y"] = enc(b[1:33]), enc(b[33:65])
	}
	out, err := json.Marshal(map[string]any{"keys": []any{jwk}})
	if err != nil {
		panic("testserver: " + err.Error())
	}
	return out
}

// JWKSDataURI returns the key set as a base64 data: URI, the form a
// deployment's auth config can embed.
func (k *Keys) JWKSDataURI() string {
	return "data:text/plain;charset=utf-8;base64," + base64.StdEncoding.EncodeToString(k.JWKS())
}

// AuthConfig returns the provider configuration that accepts these keys'
// tokens, with the JWKS as a data: URI.
func (k *Keys) AuthConfig() AuthConfig {
	return AuthConfig{Issuer: k.Issuer, ApplicationID: k.ApplicationID, Algorithm: k.Algorithm, JWKS: k.JWKSDataURI()}
}

// MintToken signs a token for sub that is valid for ttl from now by the
// wall clock. See MintTokenAt.
func (k *Keys) MintToken(sub string, ttl time.Duration, extra map[string]any) (string, error) {
	return k.MintTokenAt(time.Now(), sub, ttl, extra)
}

// MintTokenAt signs a token with iss, sub, aud (when ApplicationID is set),
// iat = now and exp = now + ttl (whole seconds). extra adds claims or
// replaces these; an extra claim set to nil is left out of the token.
func (k *Keys) MintTokenAt(now time.Time, sub string, ttl time.Duration, extra map[string]any) (string, error) {
	claims := map[string]any{
		"iss": k.Issuer,
		"sub": sub,
		"iat": now.Unix(),
		"exp": now.Add(ttl).Unix(),
	}
	if k.ApplicationID != "" {
		claims["aud"] = k.ApplicationID
	}
	for name, v := range extra {
		if v == nil {
			delete(claims, name)
		} else {
			claims[name] = v
		}
	}
	return k.Sign(nil, claims)
}

// Sign signs claims as they are. The header has alg, typ "JWT" and kid;
// header entries replace those, and an entry set to nil removes one (for
// example {"kid": nil} makes a token without a key id). The signature is
// always made with the key's own algorithm.
func (k *Keys) Sign(header map[string]any, claims map[string]any) (string, error) {
	method := jwt.GetSigningMethod(k.Algorithm)
	if method == nil {
		return "", fmt.Errorf("testserver: unknown algorithm %q", k.Algorithm)
	}
	t := jwt.NewWithClaims(method, jwt.MapClaims(claims))
	t.Header["kid"] = k.Kid
	for name, v := range header {
		if v == nil {
			delete(t.Header, name)
		} else {
			t.Header[name] = v
		}
	}
	return t.SignedString(k.key)
}
