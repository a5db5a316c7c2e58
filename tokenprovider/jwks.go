package tokenprovider

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"slices"
	"strings"
)

// The key parsing below is done with the standard library on purpose: the
// three key types Convex deployments use (RSA, EC P-256, Ed25519) take a few
// lines each, and a JWK library would be a dependency of every user of this
// module for that.

// DefaultJWKSEnv is the environment variable JWKSFromEnv reads by default.
const DefaultJWKSEnv = "JWKS"

// minRSABits is the smallest RSA modulus a key set may hold.
const minRSABits = 2048

// Signing algorithms a Verifier can accept.
const (
	RS256 = "RS256" // RSASSA-PKCS1-v1_5 with SHA-256
	ES256 = "ES256" // ECDSA on P-256 with SHA-256
	EdDSA = "EdDSA" // Ed25519
)

// KeySet is a parsed JSON Web Key Set: public keys by key id. It is
// immutable and safe for concurrent use.
//
// Keys of the supported kinds are RSA ("kty":"RSA", "n", "e"; at least 2048
// bits), EC P-256 ("kty":"EC", "crv":"P-256", "x", "y") and Ed25519
// ("kty":"OKP", "crv":"Ed25519", "x"). Keys of other kinds or curves, keys
// without a "kid" (a token could never name them) and keys whose "use" is
// not "sig" are skipped. A key of a supported kind that is malformed makes
// the whole set an error, as does a repeated "kid" or a set with no usable
// key.
type KeySet struct {
	keys map[string]jwk
}

type jwk struct {
	kty string // "RSA", "EC" or "OKP"
	alg string // the key's "alg"; "" when it has none
	key crypto.PublicKey
}

// algFor is the only algorithm each key type is used with.
var algFor = map[string]string{"RSA": RS256, "EC": ES256, "OKP": EdDSA}

// KeyIDs returns the key ids in the set, sorted.
func (s *KeySet) KeyIDs() []string {
	ids := make([]string, 0, len(s.keys))
	for id := range s.keys {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// rawJWK is one key as it appears in the JSON. Fields this package does not
// use are ignored.
type rawJWK struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
	Crv string `json:"crv"`
	N   string `json:"n"`
	E   string `json:"e"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// ParseJWKS parses a JSON Web Key Set ({"keys":[...]}). Errors wrap
// ErrInvalidJWKS.
func ParseJWKS(data []byte) (*KeySet, error) {
	var doc struct {
		Keys *[]json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidJWKS, err)
	}
	if doc.Keys == nil {
		return nil, fmt.Errorf(`%w: no "keys" array`, ErrInvalidJWKS)
	}
	set := &KeySet{keys: make(map[string]jwk)}
	for i, raw := range *doc.Keys {
		var r rawJWK
		if err := json.Unmarshal(raw, &r); err != nil {
			return nil, fmt.Errorf("%w: key %d: %v", ErrInvalidJWKS, i, err)
		}
		k, ok, err := parseKey(r)
		if err != nil {
			return nil, fmt.Errorf("%w: key %d (kid %q): %v", ErrInvalidJWKS, i, r.Kid, err)
		}
		if !ok {
			continue
		}
		if _, dup := set.keys[r.Kid]; dup {
			return nil, fmt.Errorf("%w: kid %q appears twice", ErrInvalidJWKS, r.Kid)
		}
		set.keys[r.Kid] = k
	}
	if len(set.keys) == 0 {
		return nil, fmt.Errorf("%w: no usable key (RSA, EC P-256 or Ed25519 with a kid)", ErrInvalidJWKS)
	}
	return set, nil
}

// parseKey returns ok == false for a key that is skipped.
func parseKey(r rawJWK) (k jwk, ok bool, err error) {
	if r.Kid == "" || (r.Use != "" && r.Use != "sig") {
		return jwk{}, false, nil
	}
	k = jwk{kty: r.Kty, alg: r.Alg}
	switch {
	case r.Kty == "RSA":
		k.key, err = parseRSA(r)
	case r.Kty == "EC" && r.Crv == "P-256":
		k.key, err = parseP256(r)
	case r.Kty == "OKP" && r.Crv == "Ed25519":
		k.key, err = parseEd25519(r)
	default:
		return jwk{}, false, nil
	}
	if err != nil {
		return jwk{}, false, err
	}
	return k, true, nil
}

// b64 decodes a base64url field; JWKs use no padding, but some publishers
// add it.
func b64(field, s string) ([]byte, error) {
	if s == "" {
		return nil, fmt.Errorf("missing %q", field)
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return nil, fmt.Errorf("%q is not base64url: %v", field, err)
	}
	return b, nil
}

func parseRSA(r rawJWK) (crypto.PublicKey, error) {
	n, err := b64("n", r.N)
	if err != nil {
		return nil, err
	}
	e, err := b64("e", r.E)
	if err != nil {
		return nil, err
	}
	e = bytes.TrimLeft(e, "\x00")
	if len(e) == 0 || len(e) > 4 {
		return nil, fmt.Errorf(`"e" is out of range`)
	}
	var exp int
	for _, b := range e {
		exp = exp<<8 | int(b)
	}
	if exp < 3 || exp%2 == 0 || exp > 1<<31-1 {
		return nil, fmt.Errorf(`"e" = %d is not a valid RSA exponent`, exp)
	}
	mod := new(big.Int).SetBytes(n)
	if bits := mod.BitLen(); bits < minRSABits {
		return nil, fmt.Errorf("RSA modulus is %d bits; at least %d are required", bits, minRSABits)
	}
	if mod.Bit(0) == 0 {
		return nil, fmt.Errorf("RSA modulus is even")
	}
	return &rsa.PublicKey{N: mod, E: exp}, nil
}

func parseP256(r rawJWK) (crypto.PublicKey, error) {
	x, err := b64("x", r.X)
	if err != nil {
		return nil, err
	}
	y, err := b64("y", r.Y)
	if err != nil {
		return nil, err
	}
	if len(x) != 32 || len(y) != 32 {
		return nil, fmt.Errorf(`P-256 "x" and "y" must be 32 bytes each, got %d and %d`, len(x), len(y))
	}
	// ParseUncompressedPublicKey checks that the point is on the curve.
	pt := append(append([]byte{4}, x...), y...)
	k, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), pt)
	if err != nil {
		return nil, fmt.Errorf("P-256 point: %v", err)
	}
	return k, nil
}

func parseEd25519(r rawJWK) (crypto.PublicKey, error) {
	x, err := b64("x", r.X)
	if err != nil {
		return nil, err
	}
	if len(x) != ed25519.PublicKeySize {
		return nil, fmt.Errorf(`Ed25519 "x" must be %d bytes, got %d`, ed25519.PublicKeySize, len(x))
	}
	return ed25519.PublicKey(x), nil
}

// ParseJWKSDataURI parses a key set given as a data: URI, the form Convex's
// auth.config.ts accepts for a custom JWT provider's "jwks", for example
// "data:text/plain;charset=utf-8;base64,eyJrZXlzIjpb...". Both base64 and
// percent-encoded (non-base64) data URIs are accepted; the media type is not
// checked. Errors wrap ErrInvalidJWKS.
func ParseJWKSDataURI(uri string) (*KeySet, error) {
	data, err := decodeDataURI(uri)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidJWKS, err)
	}
	return ParseJWKS(data)
}

func decodeDataURI(uri string) ([]byte, error) {
	if len(uri) < 5 || !strings.EqualFold(uri[:5], "data:") {
		return nil, fmt.Errorf("not a data: URI")
	}
	meta, payload, ok := strings.Cut(uri[5:], ",")
	if !ok {
		return nil, fmt.Errorf("data: URI has no ','")
	}
	if strings.Contains(payload, "%") {
		p, err := url.PathUnescape(payload)
		if err != nil {
			return nil, fmt.Errorf("data: URI: %v", err)
		}
		payload = p
	}
	if !strings.HasSuffix(strings.ToLower(meta), ";base64") {
		return []byte(payload), nil
	}
	payload = strings.TrimRight(strings.Join(strings.Fields(payload), ""), "=")
	if b, err := base64.RawStdEncoding.DecodeString(payload); err == nil {
		return b, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return nil, fmt.Errorf("data: URI is not valid base64: %v", err)
	}
	return b, nil
}

// parseJWKSText parses a key set given as JSON text or as a data: URI.
func parseJWKSText(s string) (*KeySet, error) {
	s = strings.TrimSpace(s)
	if len(s) >= 5 && strings.EqualFold(s[:5], "data:") {
		return ParseJWKSDataURI(s)
	}
	return ParseJWKS([]byte(s))
}

// JWKSFromEnv parses the key set held by the environment variable name
// (DefaultJWKSEnv, "JWKS", when name is empty), given either as JSON or as
// a data: URI. Errors wrap ErrInvalidJWKS.
func JWKSFromEnv(name string) (*KeySet, error) {
	if name == "" {
		name = DefaultJWKSEnv
	}
	v, ok := os.LookupEnv(name)
	if !ok || strings.TrimSpace(v) == "" {
		return nil, fmt.Errorf("%w: environment variable %s is not set", ErrInvalidJWKS, name)
	}
	set, err := parseJWKSText(v)
	if err != nil {
		return nil, fmt.Errorf("environment variable %s: %w", name, err)
	}
	return set, nil
}
