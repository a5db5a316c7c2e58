package tokenprovider

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// t0 is the start of every test clock.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: t0} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// fakeJWT builds an unsigned-looking JWT (HS256 header, fake signature)
// with the given iat and exp (zero: absent) and subject, as the official
// client's tests do. The cache only reads it.
func fakeJWT(iat, exp time.Time, sub string) string {
	claims := map[string]any{"sub": sub}
	if !iat.IsZero() {
		claims["iat"] = iat.Unix()
	}
	if !exp.IsZero() {
		claims["exp"] = exp.Unix()
	}
	p, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc(p) + "." + enc([]byte("sig"))
}

// fakeProvider counts calls and answers with next.
type fakeProvider struct {
	calls  atomic.Int64
	forced atomic.Int64
	next   func(ctx context.Context, n int64, force bool) (string, error)
}

func (p *fakeProvider) Token(ctx context.Context, force bool) (string, error) {
	n := p.calls.Add(1)
	if force {
		p.forced.Add(1)
	}
	return p.next(ctx, n, force)
}

// numbered returns a provider whose n-th token has subject "user-n" and
// lives from now for life.
func numbered(clk *clock, life time.Duration) *fakeProvider {
	return &fakeProvider{next: func(_ context.Context, n int64, _ bool) (string, error) {
		now := clk.Now()
		return fakeJWT(now, now.Add(life), fmt.Sprintf("user-%d", n)), nil
	}}
}

// Test keys, generated once per test binary.
var (
	keysOnce sync.Once
	testKeys struct {
		rsa *rsa.PrivateKey
		ec  *ecdsa.PrivateKey
		ed  ed25519.PrivateKey
	}
)

func keys(t testing.TB) {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		if testKeys.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if testKeys.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
		if _, testKeys.ed, err = ed25519.GenerateKey(rand.Reader); err != nil {
			panic(err)
		}
	})
}

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// jwkOf returns the public JWK of a private key as a map, with kid (and alg
// if not empty).
func jwkOf(priv any, kid, alg string) map[string]any {
	m := map[string]any{"kid": kid}
	switch k := priv.(type) {
	case *rsa.PrivateKey:
		m["kty"], m["n"], m["e"] = "RSA", b64u(k.N.Bytes()), b64u(big.NewInt(int64(k.E)).Bytes())
	case *ecdsa.PrivateKey:
		pub, _ := k.PublicKey.Bytes() // 0x04 || x || y
		m["kty"], m["crv"], m["x"], m["y"] = "EC", "P-256", b64u(pub[1:33]), b64u(pub[33:])
	case ed25519.PrivateKey:
		m["kty"], m["crv"], m["x"] = "OKP", "Ed25519", b64u(k.Public().(ed25519.PublicKey))
	}
	if alg != "" {
		m["alg"] = alg
	}
	return m
}

// testJWKS is the key set of the three test keys, with kids "rsa", "ec"
// and "ed".
func testJWKS(t testing.TB) []byte {
	keys(t)
	b, err := json.Marshal(map[string]any{"keys": []any{
		jwkOf(testKeys.rsa, "rsa", "RS256"),
		jwkOf(testKeys.ec, "ec", ""),
		jwkOf(testKeys.ed, "ed", ""),
	}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const testIssuer = "https://issuer.example.com"

// validClaims are claims a verifier built by newTestVerifier accepts at t0.
func validClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"iss": testIssuer,
		"sub": "user-1",
		"aud": "app",
		"iat": t0.Add(-time.Minute).Unix(),
		"exp": t0.Add(time.Hour).Unix(),
	}
}

// sign signs claims with the test key for alg, putting kid in the header
// (none if kid is "-").
func sign(t testing.TB, alg, kid string, claims jwt.MapClaims) string {
	return signHeader(t, alg, kid, nil, claims)
}

// signHeader is sign with the extra JOSE header parameters in hdr.
func signHeader(t testing.TB, alg, kid string, hdr map[string]any, claims jwt.MapClaims) string {
	keys(t)
	var (
		m   jwt.SigningMethod
		key any
	)
	switch alg {
	case RS256:
		m, key = jwt.SigningMethodRS256, testKeys.rsa
	case ES256:
		m, key = jwt.SigningMethodES256, testKeys.ec
	case EdDSA:
		m, key = jwt.SigningMethodEdDSA, testKeys.ed
	default:
		t.Fatalf("sign: unknown alg %s", alg)
	}
	tok := jwt.NewWithClaims(m, claims)
	for k, v := range hdr {
		tok.Header[k] = v
	}
	if kid != "-" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newTestVerifier(t testing.TB, clk *clock, audience string) *Verifier {
	t.Helper()
	set, err := ParseJWKS(testJWKS(t))
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(set, &VerifierOptions{Issuer: testIssuer, Audience: audience, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return v
}
