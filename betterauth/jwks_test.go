package betterauth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/convexgo/convex/tokenprovider"
)

func TestParseJWKSRowsNeverCopiesAPrivateKey(t *testing.T) {
	ka, kb := keys(t)
	// Rows as Better Auth stores them, one with the private key in plain
	// text (jwks.disablePrivateKeyEncryption), one encrypted.
	rows := fmt.Sprintf(`[
		{"id":%q,"publicKey":%q,"privateKey":%q,"alg":"RS256","createdAt":"2030-01-01T00:00:00.000Z"},
		{"id":%q,"publicKey":%q,"privateKey":"\"a6a480f7\"","alg":"RS256","expiresAt":"2020-01-01T00:00:00.000Z"}
	]`, ka.kid, publicJWKJSON(ka), privateJWKJSON(ka), kb.kid, publicJWKJSON(kb))
	jwks, err := ParseJWKSRows([]byte(rows))
	if err != nil {
		t.Fatal(err)
	}
	var priv map[string]string
	json.Unmarshal([]byte(privateJWKJSON(ka)), &priv)
	for _, bad := range []string{priv["d"], priv["p"], priv["q"], `"d"`, "privateKey", "a6a480f7", "createdAt"} {
		if strings.Contains(string(jwks), bad) {
			t.Fatalf("the JWKS contains %.30q: %s", bad, jwks)
		}
	}
	var doc struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(jwks, &doc); err != nil || len(doc.Keys) != 2 {
		t.Fatalf("%s: %v", jwks, err)
	}
	if k := doc.Keys[0]; k["kid"] != ka.kid || k["alg"] != "RS256" || k["kty"] != "RSA" || len(k) != 5 {
		t.Fatalf("key %v, want exactly kty, kid, alg, n, e", k)
	}
	// The set verifies the plugin's tokens.
	keySet, err := tokenprovider.ParseJWKS(jwks)
	if err != nil {
		t.Fatal(err)
	}
	v, err := tokenprovider.NewVerifier(keySet, &tokenprovider.VerifierOptions{Issuer: issuer, Audience: Audience,
		Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []testKey{ka, kb} {
		if _, err := v.Verify(mint(t, k, "u", t0, t0.Add(time.Minute))); err != nil {
			t.Fatalf("kid %s: %v", k.kid, err)
		}
	}
}

func TestParseJWKSRowsForms(t *testing.T) {
	ka, _ := keys(t)
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edPub := fmt.Sprintf(`{"kty":"OKP","crv":"Ed25519","x":%q}`, b64u(pub))
	for _, tc := range []struct {
		name, rows string
		want       error
	}{
		{"single row object (a static JWKS variable)", fmt.Sprintf(`{"id":"k1","publicKey":%q}`, publicJWKJSON(ka)), nil},
		{"publicKey as an object", fmt.Sprintf(`[{"id":"k1","publicKey":%s}]`, publicJWKJSON(ka)), nil},
		{"Ed25519 with no crv anywhere", fmt.Sprintf(`[{"id":"k2","publicKey":%q,"alg":"EdDSA"}]`, `{"kty":"OKP","x":"`+b64u(pub)+`"}`), tokenprovider.ErrInvalidJWKS},
		{"Ed25519", fmt.Sprintf(`[{"id":"k2","publicKey":%q}]`, edPub), nil},
		{"publicKey holding d", fmt.Sprintf(`[{"id":"k1","publicKey":%q}]`, privateJWKJSON(ka)), ErrPrivateKey},
		{"symmetric key", `[{"id":"k1","publicKey":"{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}"}]`, ErrPrivateKey},
		{"no id", fmt.Sprintf(`[{"publicKey":%q}]`, publicJWKJSON(ka)), ErrInvalidRows},
		{"no publicKey", `[{"id":"k1","privateKey":"x"}]`, ErrInvalidRows},
		{"publicKey not JSON", `[{"id":"k1","publicKey":"nope"}]`, ErrInvalidRows},
		{"no kty", `[{"id":"k1","publicKey":"{\"n\":\"x\"}"}]`, ErrInvalidRows},
		{"empty array", `[]`, ErrInvalidRows},
		{"not JSON", `<html>`, ErrInvalidRows},
		{"unusable key", `[{"id":"k1","publicKey":"{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}"}]`, tokenprovider.ErrInvalidJWKS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.want
			_, err := KeySetFromRows([]byte(tc.rows))
			if want == nil && err != nil || want != nil && !errors.Is(err, want) {
				t.Fatalf("err %v, want %v", err, want)
			}
		})
	}
	// crv from the row completes the key.
	if _, err := KeySetFromRows([]byte(fmt.Sprintf(`[{"id":"k2","publicKey":%q,"alg":"EdDSA","crv":"Ed25519"}]`,
		`{"kty":"OKP","x":"`+b64u(pub)+`"}`))); err != nil {
		t.Fatal(err)
	}
}

func TestFetchJWKS(t *testing.T) {
	ka, _ := keys(t)
	jwks, err := ParseJWKSRows([]byte(fmt.Sprintf(`[{"id":%q,"publicKey":%q,"alg":"RS256"}]`, ka.kid, publicJWKJSON(ka))))
	if err != nil {
		t.Fatal(err)
	}
	site := newFakeSite(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/auth/convex/jwks" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(jwks)
	})
	opts := Options{SiteURL: site.URL, Issuer: issuer, Now: func() time.Time { return t0 }}
	v, err := FetchVerifier(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(mint(t, ka, "u", t0, t0.Add(time.Minute))); err != nil {
		t.Fatal(err)
	}
	if len(site.cookies) != 0 || site.auth[0] != "" {
		t.Fatal("the JWKS request carried credentials")
	}
	// Bounded, and a bad set is ErrBadResponse.
	opts.MaxBodySize = 100
	if _, _, err := FetchJWKS(context.Background(), opts); !errors.Is(err, ErrResponseTooLarge) {
		t.Fatalf("err %v, want ErrResponseTooLarge", err)
	}
	empty := newFakeSite(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"keys":[]}`)) })
	if _, _, err := FetchJWKS(context.Background(), Options{SiteURL: empty.URL}); !errors.Is(err, ErrBadResponse) {
		t.Fatalf("err %v, want ErrBadResponse", err)
	}
}
