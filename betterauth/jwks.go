package betterauth

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/convexgo/convex/tokenprovider"
)

// row is one row of Better Auth's jwks table, as the Convex plugin's
// getLatestJwks and rotateKeys return them: {id, publicKey, privateKey,
// alg, crv, createdAt, expiresAt}, publicKey and privateKey being JWKs
// serialized as JSON strings (privateKey encrypted unless Better Auth's
// jwks.disablePrivateKeyEncryption is set). The struct has no privateKey
// field on purpose: the private key is never read.
type row struct {
	ID        *string          `json:"id"`
	PublicKey *json.RawMessage `json:"publicKey"`
	Alg       string           `json:"alg"`
	Crv       string           `json:"crv"`
}

// publicJWK is the public key written out, in a fixed field order. Only
// these members are copied from a row's publicKey.
type publicJWK struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Alg string `json:"alg,omitempty"`
	Use string `json:"use,omitempty"`
	Crv string `json:"crv,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
}

// privateMembers are the JWK members that carry private key material
// (RFC 7518 sections 6.2.2, 6.3.2 and 6.4; RFC 8037 section 2).
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// ParseJWKSRows turns Better Auth jwks rows into a standard JSON Web Key
// Set, {"keys":[...]}, holding public keys only, ready for
// tokenprovider.ParseJWKS (or a Convex auth config's data: URI).
//
// data is what the Convex plugin's getLatestJwks or rotateKeys returns (a
// JSON array of rows) or a single row object. Each row needs "id" (the
// key id) and "publicKey" (a JWK as a JSON string, or as an object). Each
// output key is built as the Convex plugin's createPublicJwks and
// Better Auth's jwks route build it: the row's publicKey, with "alg" and
// "crv" taken from the row when the publicKey has none, and "kid" the
// row's id. Unlike them it copies only the public members (kty, crv, n,
// e, x, y, alg, use), and a row whose publicKey holds private key
// material ("d" and the like) is refused with ErrPrivateKey rather than
// filtered. The rows' privateKey field is never read, so no private key
// can reach the output, encrypted or not. Expiry ("expiresAt") is
// ignored, as createPublicJwks ignores it.
//
// Errors wrap ErrInvalidRows or ErrPrivateKey; the result is also checked
// with tokenprovider.ParseJWKS, whose errors wrap
// tokenprovider.ErrInvalidJWKS.
func ParseJWKSRows(data []byte) ([]byte, error) {
	data = bytes.TrimSpace(data)
	var rows []row
	if len(data) > 0 && data[0] == '{' {
		var r row
		if err := json.Unmarshal(data, &r); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidRows, err)
		}
		rows = []row{r}
	} else if err := json.Unmarshal(data, &rows); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidRows, err)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%w: no rows", ErrInvalidRows)
	}
	out := struct {
		Keys []publicJWK `json:"keys"`
	}{Keys: make([]publicJWK, 0, len(rows))}
	for i, r := range rows {
		k, err := publicKeyOf(r)
		if err != nil {
			return nil, fmt.Errorf("row %d: %w", i, err)
		}
		out.Keys = append(out.Keys, k)
	}
	jwks, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidRows, err)
	}
	if _, err := tokenprovider.ParseJWKS(jwks); err != nil {
		return nil, err
	}
	return jwks, nil
}

func publicKeyOf(r row) (publicJWK, error) {
	if r.ID == nil || *r.ID == "" {
		return publicJWK{}, fmt.Errorf(`%w: no "id"`, ErrInvalidRows)
	}
	if r.PublicKey == nil {
		return publicJWK{}, fmt.Errorf(`%w: row %q has no "publicKey"`, ErrInvalidRows, *r.ID)
	}
	raw := []byte(*r.PublicKey)
	var s string
	if json.Unmarshal(raw, &s) == nil { // a JSON string holding the JWK
		raw = []byte(s)
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil || members == nil {
		return publicJWK{}, fmt.Errorf("%w: row %q: publicKey is not a JWK object", ErrInvalidRows, *r.ID)
	}
	for _, m := range privateMembers {
		if _, ok := members[m]; ok {
			return publicJWK{}, fmt.Errorf("%w: row %q: publicKey has %q", ErrPrivateKey, *r.ID, m)
		}
	}
	var k publicJWK
	str := func(name string, dst *string) error {
		v, ok := members[name]
		if !ok || string(v) == "null" {
			return nil
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return fmt.Errorf("%w: row %q: publicKey %q is not a string", ErrInvalidRows, *r.ID, name)
		}
		return nil
	}
	for name, dst := range map[string]*string{"kty": &k.Kty, "alg": &k.Alg, "use": &k.Use, "crv": &k.Crv,
		"n": &k.N, "e": &k.E, "x": &k.X, "y": &k.Y} {
		if err := str(name, dst); err != nil {
			return publicJWK{}, err
		}
	}
	if k.Kty == "" {
		return publicJWK{}, fmt.Errorf(`%w: row %q: publicKey has no "kty"`, ErrInvalidRows, *r.ID)
	}
	if k.Alg == "" {
		k.Alg = r.Alg
	}
	if k.Crv == "" {
		k.Crv = r.Crv
	}
	k.Kid = *r.ID
	return k, nil
}

// KeySetFromRows is ParseJWKSRows followed by tokenprovider.ParseJWKS.
func KeySetFromRows(data []byte) (*tokenprovider.KeySet, error) {
	jwks, err := ParseJWKSRows(data)
	if err != nil {
		return nil, err
	}
	return tokenprovider.ParseJWKS(jwks)
}

// FetchJWKS reads the site's key set once, GET {site}{basePath}/convex/jwks
// (the Convex plugin's public route), with opts' client, timeout and size
// bound and without any credential, and parses it. It returns the parsed
// set and the JSON as received.
func FetchJWKS(ctx context.Context, opts Options) (*tokenprovider.KeySet, []byte, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, nil, err
	}
	body, _, err := cfg.get(ctx, "/convex/jwks", nil, "")
	if err != nil {
		return nil, nil, err
	}
	keys, err := tokenprovider.ParseJWKS(body)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: GET %s: %w", ErrBadResponse, cfg.endpoint("/convex/jwks"), err)
	}
	return keys, body, nil
}

// FetchVerifier fetches the site's key set (FetchJWKS) and returns a
// Verifier for the tokens the Convex plugin signs: issuer Options.Issuer
// (default: the site's origin, the plugin's CONVEX_SITE_URL), audience
// "convex", algorithm RS256 (the only one the plugin signs custom-JWT
// tokens with). The keys are read once: after a key rotation, build a new
// Verifier.
func FetchVerifier(ctx context.Context, opts Options) (*tokenprovider.Verifier, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	keys, _, err := FetchJWKS(ctx, opts)
	if err != nil {
		return nil, err
	}
	return tokenprovider.NewVerifier(keys, &tokenprovider.VerifierOptions{
		Issuer:     cfg.issuer,
		Audience:   Audience,
		Algorithms: []string{tokenprovider.RS256},
		Now:        opts.Now,
	})
}
