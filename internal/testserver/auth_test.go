package testserver

import (
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

var (
	keysOnce sync.Once
	keysRSA  *Keys
	keysErr  error
)

// mustKeys returns a copy of one RSA key pair shared by the tests (RSA
// key generation is slow).
func mustKeys(t *testing.T) *Keys {
	t.Helper()
	keysOnce.Do(func() { keysRSA, keysErr = GenerateKeys() })
	if keysErr != nil {
		t.Fatal(keysErr)
	}
	k := *keysRSA
	return &k
}

// clock is a settable clock for WithNow.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Unix(1_735_689_600, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func utf8Valid(s string) bool { return utf8.ValidString(s) }

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestValidateToken(t *testing.T) {
	keys := mustKeys(t)
	clk := newClock()
	now := clk.Now()
	s := New(WithAuth(keys.AuthConfig()), WithNow(clk.Now))
	defer s.Close()

	mint := func(extra map[string]any) string {
		t.Helper()
		tok, err := keys.MintTokenAt(now, "user_9", time.Hour, extra)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	sign := func(header, claims map[string]any) string {
		t.Helper()
		tok, err := keys.Sign(header, claims)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	other, err := GenerateES256Keys()
	if err != nil {
		t.Fatal(err)
	}
	other.Kid = keys.Kid // right kid, wrong key
	forged, err := other.MintTokenAt(now, "user_9", time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	good := map[string]any{"iss": keys.Issuer, "sub": "s", "aud": keys.ApplicationID, "exp": now.Add(time.Hour).Unix()}
	unsigned := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"`+keys.Kid+`"}`)) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"`+keys.Issuer+`","sub":"s","aud":"`+keys.ApplicationID+`","exp":9999999999}`)) + "."

	rejected := []struct {
		name, token, code, want string
	}{
		{"garbage", "not.a.jwt", "InvalidAuthHeader", "Could not parse"},
		{"no kid", sign(map[string]any{"kid": nil}, good), "InvalidAuthHeader", "kid"},
		{"unknown kid", sign(map[string]any{"kid": "other"}, good), "InvalidAuthHeader", "No key with kid"},
		{"wrong alg header", sign(map[string]any{"alg": "RS384"}, good), "InvalidAuthHeader", "does not match"},
		{"alg none", unsigned, "InvalidAuthHeader", "not allowed"},
		{"bad signature", forged, "InvalidAuthHeader", "does not match"},
		{"wrong iss", mint(map[string]any{"iss": "https://evil.example"}), "NoAuthProvider", "Invalid issuer"},
		{"no iss", mint(map[string]any{"iss": nil}), "InvalidAuthHeader", "Missing issuer"},
		{"wrong aud", mint(map[string]any{"aud": "other-app"}), "NoAuthProvider", "Invalid audience"},
		{"no aud", mint(map[string]any{"aud": nil}), "NoAuthProvider", "Missing audience"},
		{"no exp", mint(map[string]any{"exp": nil}), "InvalidAuthHeader", "Missing expiry"},
		{"expired", mint(map[string]any{"exp": now.Add(-6 * time.Second).Unix()}), "InvalidAuthHeader", "expired"},
		{"nbf future", mint(map[string]any{"nbf": now.Add(time.Minute).Unix()}), "InvalidAuthHeader", "not valid before"},
		{"iat future", mint(map[string]any{"iat": now.Add(time.Minute).Unix()}), "InvalidAuthHeader", "issued in the future"},
		{"no sub", mint(map[string]any{"sub": nil}), "InvalidAuthHeader", "Missing subject"},
	}
	for _, tc := range rejected {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.ValidateToken(tc.token)
			var te *TokenError
			if !errors.As(err, &te) || te.Code != tc.code || !strings.Contains(te.Message, tc.want) {
				t.Fatalf("got %#v, want code %s and %q", err, tc.code, tc.want)
			}
		})
	}
	// forged is signed with an EC key but claims RS256-less alg ES256; make
	// sure a same-alg forgery is caught by the signature check too.
	rsaOther, err := GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	rsaOther.Kid = keys.Kid
	forgedRSA, _ := rsaOther.MintTokenAt(now, "user_9", time.Hour, nil)
	if _, err := s.ValidateToken(forgedRSA); err == nil || !strings.Contains(err.Error(), "signature") {
		t.Fatalf("forged RS256: %v", err)
	}

	accepted := []struct{ name, token string }{
		{"plain", mint(nil)},
		{"aud array", mint(map[string]any{"aud": []string{"x", keys.ApplicationID}})},
		{"iss without scheme and with slash", mint(map[string]any{"iss": strings.TrimPrefix(keys.Issuer, "https://") + "/"})},
		{"expired within skew", mint(map[string]any{"exp": now.Add(-4 * time.Second).Unix()})},
		{"nbf within skew", mint(map[string]any{"nbf": now.Add(4 * time.Second).Unix()})},
	}
	for _, tc := range accepted {
		t.Run(tc.name, func(t *testing.T) {
			id, err := s.ValidateToken(tc.token)
			if err != nil {
				t.Fatal(err)
			}
			if id.Subject != "user_9" || id.TokenIdentifier != id.Issuer+"|user_9" || id.Claims["sub"] != "user_9" {
				t.Fatalf("%+v", id)
			}
		})
	}
	id, _ := s.ValidateToken(mint(nil))
	if !id.Expiry.Equal(now.Add(time.Hour)) || id.Issuer != keys.Issuer {
		t.Fatalf("%+v", id)
	}
	st := s.Stats()
	if st.TokensValidated != st.TokensAccepted+st.TokensRejected || st.TokensRejected != len(rejected)+1 {
		t.Fatalf("%+v", st)
	}
}

func TestAuthConfigForms(t *testing.T) {
	keys := mustKeys(t)
	es, err := GenerateES256Keys()
	if err != nil {
		t.Fatal(err)
	}
	plainURI := "data:application/json," + url.PathEscape(string(keys.JWKS()))
	for _, tc := range []struct {
		name string
		cfg  AuthConfig
		keys *Keys
	}{
		{"RS256 JSON", AuthConfig{Issuer: keys.Issuer, ApplicationID: keys.ApplicationID, JWKS: string(keys.JWKS())}, keys},
		{"RS256 base64 data URI", keys.AuthConfig(), keys},
		{"RS256 plain data URI", AuthConfig{Issuer: keys.Issuer, Algorithm: "RS256", JWKS: plainURI}, keys},
		{"ES256", es.AuthConfig(), es},
		{"no application id", AuthConfig{Issuer: "auth.testserver.invalid", JWKS: string(keys.JWKS())}, keys},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New(WithAuth(tc.cfg))
			defer s.Close()
			tok, err := tc.keys.MintToken("who", time.Minute, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.ValidateToken(tok); err != nil {
				t.Fatal(err)
			}
		})
	}
	// An ES256 provider rejects an RS256 token with the same kid.
	s := New(WithAuth(es.AuthConfig()))
	defer s.Close()
	k := *keys
	k.Kid, k.Issuer = es.Kid, es.Issuer
	tok, _ := k.MintToken("who", time.Minute, nil)
	if _, err := s.ValidateToken(tok); err == nil {
		t.Fatal("RS256 token accepted by an ES256 provider")
	}
	// No provider at all.
	s2 := New()
	defer s2.Close()
	var te *TokenError
	if _, err := s2.ValidateToken(tok); !errors.As(err, &te) || te.Code != "NoAuthProvider" {
		t.Fatalf("%v", err)
	}
}

func TestBadAuthConfig(t *testing.T) {
	for _, cfg := range []AuthConfig{
		{Issuer: "x", Algorithm: "HS256", JWKS: `{"keys":[]}`},
		{Issuer: "", JWKS: `{"keys":[]}`},
		{Issuer: "x", JWKS: `not json`},
		{Issuer: "x", JWKS: `data:;base64,@@@`},
		{Issuer: "x", JWKS: `{"keys":[{"kty":"RSA","kid":"a","n":"","e":"AQAB"}]}`},
	} {
		if _, err := Start("127.0.0.1:0", WithAuth(cfg)); err == nil {
			t.Fatalf("%+v accepted", cfg)
		}
	}
}
