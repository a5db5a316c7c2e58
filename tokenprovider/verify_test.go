package tokenprovider

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"
)

func TestVerifyAcceptsEachAlgorithm(t *testing.T) {
	clk := newClock()
	v := newTestVerifier(t, clk, "app")
	for alg, kid := range map[string]string{RS256: "rsa", ES256: "ec", EdDSA: "ed"} {
		t.Run(alg, func(t *testing.T) {
			claims := validClaims()
			claims["email"] = "a@example.com"
			claims["org"] = map[string]any{"id": "o1"}
			claims["n"] = 12345678901234567
			claims["jti"] = "j1"
			claims["nbf"] = t0.Add(-time.Minute).Unix()
			got, err := v.Verify(sign(t, alg, kid, claims))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			want := &Claims{
				Subject:   "user-1",
				Issuer:    testIssuer,
				Audience:  []string{"app"},
				ExpiresAt: time.Unix(t0.Add(time.Hour).Unix(), 0),
				IssuedAt:  time.Unix(t0.Add(-time.Minute).Unix(), 0),
				NotBefore: time.Unix(t0.Add(-time.Minute).Unix(), 0),
				ID:        "j1",
				Custom: map[string]any{
					"email": "a@example.com",
					"org":   map[string]any{"id": "o1"},
					"n":     json.Number("12345678901234567"),
				},
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("claims (-want +got):\n%s", d)
			}
		})
	}
}

func TestVerifyRejections(t *testing.T) {
	keys(t)
	clk := newClock()
	v := newTestVerifier(t, clk, "app")
	with := func(k string, val any) jwt.MapClaims {
		c := validClaims()
		if val == nil {
			delete(c, k)
		} else {
			c[k] = val
		}
		return c
	}
	valid := sign(t, RS256, "rsa", validClaims())
	parts := strings.Split(valid, ".")

	// HS256 with the RSA public key (PEM) as the HMAC secret: the classic
	// algorithm-confusion attack.
	der, err := x509.MarshalPKIXPublicKey(&testKeys.rsa.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, validClaims())
	hs.Header["kid"] = "rsa"
	hsTok, err := hs.SignedString(pemKey)
	if err != nil {
		t.Fatal(err)
	}
	hsRaw := jwt.NewWithClaims(jwt.SigningMethodHS256, validClaims())
	hsRaw.Header["kid"] = "rsa"
	hsRawTok, err := hsRaw.SignedString(testKeys.rsa.N.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	none := jwt.NewWithClaims(jwt.SigningMethodNone, validClaims())
	none.Header["kid"] = "rsa"
	noneTok, err := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	// Flip one character in the middle of the signature.
	sig := []byte(parts[2])
	if sig[10] == 'A' {
		sig[10] = 'B'
	} else {
		sig[10] = 'A'
	}
	tampered := parts[0] + "." + parts[1] + "." + string(sig)
	// Change the payload but keep the signature.
	otherPayload := strings.Split(sign(t, RS256, "rsa", with("sub", "admin")), ".")[1]
	swapped := parts[0] + "." + otherPayload + "." + parts[2]
	// critTok is a valid signed token whose header also has "crit" (the
	// JSON crit) and, if name is not empty, the parameter name with value
	// val.
	critTok := func(crit, name string, val any) string {
		hdr := map[string]any{"crit": json.RawMessage(crit)}
		if name != "" {
			hdr[name] = val
		}
		return signHeader(t, RS256, "rsa", hdr, validClaims())
	}

	cases := []struct {
		name  string
		token string
		want  error
	}{
		{"expired", sign(t, RS256, "rsa", with("exp", t0.Add(-6*time.Second).Unix())), ErrExpired},
		{"wrong issuer", sign(t, RS256, "rsa", with("iss", "https://evil.example.com")), ErrWrongIssuer},
		{"no issuer", sign(t, RS256, "rsa", with("iss", nil)), ErrWrongIssuer},
		{"wrong audience", sign(t, RS256, "rsa", with("aud", "other")), ErrWrongAudience},
		{"no audience", sign(t, RS256, "rsa", with("aud", nil)), ErrWrongAudience},
		{"unknown kid", sign(t, RS256, "nope", validClaims()), ErrUnknownKID},
		{"missing kid", sign(t, RS256, "-", validClaims()), ErrMissingKID},
		{"alg none", noneTok, ErrAlgorithmNotAllowed},
		{"HS256 with RSA public key PEM", hsTok, ErrAlgorithmNotAllowed},
		{"HS256 with RSA modulus bytes", hsRawTok, ErrAlgorithmNotAllowed},
		{"tampered signature", tampered, ErrBadSignature},
		{"payload swapped", swapped, ErrBadSignature},
		{"missing sub", sign(t, RS256, "rsa", with("sub", nil)), ErrMissingSubject},
		{"missing exp", sign(t, RS256, "rsa", with("exp", nil)), ErrMissingExpiry},
		{"nbf in the future", sign(t, RS256, "rsa", with("nbf", t0.Add(6*time.Second).Unix())), ErrNotYetValid},
		{"iat in the future", sign(t, RS256, "rsa", with("iat", t0.Add(6*time.Second).Unix())), ErrNotYetValid},
		{"RS256 token naming an EC key", sign(t, RS256, "ec", validClaims()), ErrKeyAlgorithmMismatch},
		{"ES256 token naming a key with alg RS256", sign(t, ES256, "rsa", validClaims()), ErrKeyAlgorithmMismatch},
		{"EdDSA token signed with another key type", sign(t, EdDSA, "ec", validClaims()), ErrKeyAlgorithmMismatch},
		{"ES256 signed by another EC key id", sign(t, ES256, "ed", validClaims()), ErrKeyAlgorithmMismatch},
		{"exp is a string", sign(t, RS256, "rsa", with("exp", "tomorrow")), ErrMalformedToken},
		{"sub is a number", sign(t, RS256, "rsa", with("sub", 7)), ErrMalformedToken},
		{"two segments", parts[0] + "." + parts[1], ErrMalformedToken},
		{"empty", "", ErrMalformedToken},
		{"header not base64", "!!!." + parts[1] + "." + parts[2], ErrMalformedToken},
		{"header not JSON", b64u([]byte("nope")) + "." + parts[1] + "." + parts[2], ErrMalformedToken},
		{"payload not JSON", parts[0] + "." + b64u([]byte("[")) + "." + parts[2], ErrMalformedToken},
		{"kid not a string", b64u([]byte(`{"alg":"RS256","kid":7}`)) + "." + parts[1] + "." + parts[2], ErrMalformedToken},
		{"signed but larger than MaxTokenSize", sign(t, RS256, "rsa", with("pad", strings.Repeat("x", MaxTokenSize))), ErrTokenTooLarge},
		{"garbage larger than MaxTokenSize", strings.Repeat("a", MaxTokenSize+1), ErrTokenTooLarge},
		{"LF inside the signature", parts[0] + "." + parts[1] + "." + parts[2][:100] + "\n" + parts[2][100:], ErrControlCharacter},
		{"CRLF inside the signature", parts[0] + "." + parts[1] + "." + parts[2][:100] + "\r\n" + parts[2][100:], ErrControlCharacter},
		{"CR inside the payload", parts[0] + "." + parts[1][:10] + "\r" + parts[1][10:] + "." + parts[2], ErrControlCharacter},
		{"LF inside the header", parts[0][:5] + "\n" + parts[0][5:] + "." + parts[1] + "." + parts[2], ErrControlCharacter},
		{"trailing LF", valid + "\n", ErrControlCharacter},
		{"LF before a dot", parts[0] + "\n." + parts[1] + "." + parts[2], ErrControlCharacter},
		{"tab inside the signature", parts[0] + "." + parts[1] + "." + parts[2][:100] + "\t" + parts[2][100:], ErrControlCharacter},
		{"NUL after the signature", valid + "\x00", ErrControlCharacter},
		{"DEL inside the payload", parts[0] + "." + parts[1][:10] + "\x7f" + parts[1][10:] + "." + parts[2], ErrControlCharacter},
		{"space inside the signature", parts[0] + "." + parts[1] + "." + parts[2][:100] + " " + parts[2][100:], ErrMalformedToken},
		{"padded signature", valid + strings.Repeat("=", (4-len(parts[2])%4)%4), ErrMalformedToken},
		{"padding in the header", parts[0] + "=." + parts[1] + "." + parts[2], ErrMalformedToken},
		{"standard base64 alphabet", parts[0] + "." + parts[1] + "." + parts[2][:100] + "+/" + parts[2][102:], ErrMalformedToken},
		{"non-ASCII inside the payload", parts[0] + "." + parts[1][:10] + "\u00e9" + parts[1][10:] + "." + parts[2], ErrMalformedToken},
		{"four segments", valid + ".AAAA", ErrMalformedToken},
		{"non-canonical signature", nonCanonical(t, valid, 2), ErrMalformedToken},
		{"non-canonical payload", nonCanonical(t, slackToken(t, 1), 1), ErrMalformedToken},
		{"non-canonical header", nonCanonical(t, slackToken(t, 0), 0), ErrMalformedToken},
		{"kid spelt KID", signHeader(t, RS256, "-", map[string]any{"KID": "rsa"}, validClaims()), ErrMissingKID},
		{"alg spelt ALG", b64u([]byte(`{"ALG":"RS256","kid":"rsa"}`)) + "." + parts[1] + "." + parts[2], ErrAlgorithmNotAllowed},
		{"header is null", b64u([]byte(`null`)) + "." + parts[1] + "." + parts[2], ErrAlgorithmNotAllowed},
		{"header is an array", b64u([]byte(`["RS256"]`)) + "." + parts[1] + "." + parts[2], ErrMalformedToken},
		{"alg not a string", b64u([]byte(`{"alg":["RS256"],"kid":"rsa"}`)) + "." + parts[1] + "." + parts[2], ErrMalformedToken},
		{"crit lists an unknown extension", critTok(`["exp"]`, "exp", 1), ErrCriticalHeader},
		{"crit lists b64 (RFC 7797)", critTok(`["b64"]`, "b64", false), ErrCriticalHeader},
		{"crit empty", critTok(`[]`, "", nil), ErrCriticalHeader},
		{"crit null", critTok(`null`, "", nil), ErrCriticalHeader},
		{"crit a string", critTok(`"exp"`, "exp", 1), ErrCriticalHeader},
		{"crit an object", critTok(`{"exp":true}`, "exp", 1), ErrCriticalHeader},
		{"crit lists a number", critTok(`[1]`, "", nil), ErrCriticalHeader},
		{"crit lists alg", critTok(`["alg"]`, "", nil), ErrCriticalHeader},
		{"crit lists kid", critTok(`["kid"]`, "", nil), ErrCriticalHeader},
		{"crit lists a name twice", critTok(`["x","x"]`, "x", 1), ErrCriticalHeader},
		{"crit lists an absent name", critTok(`["x"]`, "", nil), ErrCriticalHeader},
	}
	all := []error{ErrMalformedToken, ErrMissingKID, ErrUnknownKID, ErrAlgorithmNotAllowed,
		ErrKeyAlgorithmMismatch, ErrBadSignature, ErrWrongIssuer, ErrWrongAudience, ErrExpired,
		ErrNotYetValid, ErrMissingExpiry, ErrMissingSubject, ErrTokenTooLarge, ErrControlCharacter,
		ErrCriticalHeader}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := v.Verify(tc.token)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, %v; want %v", c, err, tc.want)
			}
			for _, other := range all {
				if other != tc.want && errors.Is(err, other) {
					t.Errorf("error %q also matches %v", err, other)
				}
			}
			if !IsAuthError(err) {
				t.Errorf("IsAuthError(%v) = false", err)
			}
		})
	}
}

func TestVerifyLeeway(t *testing.T) {
	clk := newClock()
	v := newTestVerifier(t, clk, "")
	c := validClaims()
	c["exp"] = t0.Add(-4 * time.Second).Unix()
	c["nbf"] = t0.Add(4 * time.Second).Unix()
	c["iat"] = t0.Add(4 * time.Second).Unix()
	tok := sign(t, ES256, "ec", c)
	if _, err := v.Verify(tok); err != nil {
		t.Fatalf("within the 5 s leeway: %v", err)
	}
	clk.Advance(time.Second)
	if _, err := v.Verify(tok); !errors.Is(err, ErrExpired) {
		t.Fatalf("at exp + 5 s: %v, want ErrExpired", err)
	}

	set, _ := ParseJWKS(testJWKS(t))
	strict, err := NewVerifier(set, &VerifierOptions{Issuer: testIssuer, Leeway: -1, Now: newClock().Now})
	if err != nil {
		t.Fatal(err)
	}
	c = validClaims()
	c["exp"] = t0.Unix()
	if _, err := strict.Verify(sign(t, EdDSA, "ed", c)); !errors.Is(err, ErrExpired) {
		t.Fatalf("no leeway, exp == now: %v, want ErrExpired", err)
	}
}

func TestVerifyIssuerNormalization(t *testing.T) {
	set, err := ParseJWKS(testJWKS(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ configured, token string }{
		{"issuer.example.com", "https://issuer.example.com"},
		{"https://issuer.example.com/", "issuer.example.com"},
		{"https://issuer.example.com", "https://issuer.example.com/"},
		{"http://localhost:3210", "http://localhost:3210/"},
	} {
		v, err := NewVerifier(set, &VerifierOptions{Issuer: tc.configured, Now: newClock().Now})
		if err != nil {
			t.Fatal(err)
		}
		c := validClaims()
		c["iss"] = tc.token
		got, err := v.Verify(sign(t, RS256, "rsa", c))
		if err != nil {
			t.Errorf("issuer %q, token iss %q: %v", tc.configured, tc.token, err)
			continue
		}
		if got.Issuer != tc.token {
			t.Errorf("Claims.Issuer = %q, want the token's %q", got.Issuer, tc.token)
		}
	}
	v, _ := NewVerifier(set, &VerifierOptions{Issuer: "https://issuer.example.com", Now: newClock().Now})
	c := validClaims()
	c["iss"] = "http://issuer.example.com"
	if _, err := v.Verify(sign(t, RS256, "rsa", c)); !errors.Is(err, ErrWrongIssuer) {
		t.Errorf("http vs https: %v, want ErrWrongIssuer", err)
	}
}

func TestVerifyAudienceList(t *testing.T) {
	v := newTestVerifier(t, newClock(), "app")
	c := validClaims()
	c["aud"] = []string{"other", "app"}
	got, err := v.Verify(sign(t, RS256, "rsa", c))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"other", "app"}, got.Audience); d != "" {
		t.Error(d)
	}
	// No audience configured: aud is not checked.
	v = newTestVerifier(t, newClock(), "")
	c["aud"] = "anything"
	if _, err := v.Verify(sign(t, RS256, "rsa", c)); err != nil {
		t.Errorf("no audience configured: %v", err)
	}
}

func TestVerifyAlgorithmAllowList(t *testing.T) {
	set, err := ParseJWKS(testJWKS(t))
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(set, &VerifierOptions{Issuer: testIssuer, Algorithms: []string{ES256}, Now: newClock().Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(sign(t, ES256, "ec", validClaims())); err != nil {
		t.Errorf("ES256 allowed: %v", err)
	}
	if _, err := v.Verify(sign(t, RS256, "rsa", validClaims())); !errors.Is(err, ErrAlgorithmNotAllowed) {
		t.Errorf("RS256 not in the list: %v", err)
	}
	for _, bad := range []string{"none", "HS256", "RS512", "PS256", ""} {
		if _, err := NewVerifier(set, &VerifierOptions{Issuer: testIssuer, Algorithms: []string{bad}}); err == nil {
			t.Errorf("Algorithms [%q] was accepted", bad)
		}
	}
	if _, err := NewVerifier(set, nil); err == nil {
		t.Error("NewVerifier without an issuer succeeded")
	}
	if _, err := NewVerifier(nil, &VerifierOptions{Issuer: testIssuer}); err == nil {
		t.Error("NewVerifier without keys succeeded")
	}
}

func TestVerifierFromEnv(t *testing.T) {
	t.Setenv(DefaultJWKSEnv, string(testJWKS(t)))
	v, err := NewVerifierFromEnv(&VerifierOptions{Issuer: testIssuer, Now: newClock().Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(sign(t, EdDSA, "ed", validClaims())); err != nil {
		t.Fatal(err)
	}
}

// TestVerifySizeLimit checks both sides of MaxTokenSize with signed,
// otherwise valid tokens.
func TestVerifySizeLimit(t *testing.T) {
	v := newTestVerifier(t, newClock(), "app")
	padded := func(n int) string {
		c := validClaims()
		c["pad"] = strings.Repeat("x", n)
		return sign(t, EdDSA, "ed", c)
	}
	// Base64url output grows by one or two characters per input byte, so
	// the largest padding that fits gives a token of MaxTokenSize or
	// MaxTokenSize-1 bytes, and one more byte gives a token over the limit.
	// Start from the estimate (4 characters per 3 bytes) and step.
	n := (MaxTokenSize - len(padded(0))) * 3 / 4
	for len(padded(n)) > MaxTokenSize {
		n--
	}
	for len(padded(n+1)) <= MaxTokenSize {
		n++
	}
	fits, over := padded(n), padded(n+1)
	if len(fits) > MaxTokenSize || len(fits) < MaxTokenSize-1 || len(over) <= MaxTokenSize {
		t.Fatalf("lengths %d and %d do not straddle %d", len(fits), len(over), MaxTokenSize)
	}
	if _, err := v.Verify(fits); err != nil {
		t.Errorf("%d-byte token: %v", len(fits), err)
	}
	if _, err := v.Verify(over); !errors.Is(err, ErrTokenTooLarge) {
		t.Errorf("%d-byte token: %v, want ErrTokenTooLarge", len(over), err)
	}
}

// slackToken returns a valid RS256 token whose segment seg (0 header, 1
// payload) has a length that is not a multiple of 4, so that its last
// character carries unused low bits.
func slackToken(t *testing.T, seg int) string {
	t.Helper()
	for pad := ""; len(pad) < 3; pad += "x" {
		c := validClaims()
		hdr := map[string]any{}
		if seg == 0 {
			hdr["x"] = pad
		} else {
			c["x"] = pad
		}
		tok := signHeader(t, RS256, "rsa", hdr, c)
		if len(strings.Split(tok, ".")[seg])%4 != 0 {
			return tok
		}
	}
	t.Fatalf("no padding gives segment %d spare bits", seg)
	return ""
}

// nonCanonical sets the lowest bit of the last character of segment seg
// of token. That bit is one the decoder discards, so the segment decodes
// to the same bytes but is not the canonical encoding of them.
func nonCanonical(t *testing.T, token string, seg int) string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	parts := strings.Split(token, ".")
	s := parts[seg]
	if len(s)%4 == 0 {
		t.Fatalf("segment %d (%d characters) has no spare bits", seg, len(s))
	}
	i := strings.IndexByte(alphabet, s[len(s)-1])
	if i < 0 || i&1 != 0 {
		t.Fatalf("segment %d ends in %q, not a canonical last character", seg, s[len(s)-1])
	}
	parts[seg] = s[:len(s)-1] + string(alphabet[i|1])
	return strings.Join(parts, ".")
}

// TestVerifyIgnoresUnknownHeaderParameters checks that a header parameter
// that is not "crit" (not even "CRIT": names are case-sensitive) does not
// make a token fail, as RFC 7515 section 4 requires.
func TestVerifyIgnoresUnknownHeaderParameters(t *testing.T) {
	v := newTestVerifier(t, newClock(), "app")
	hdr := map[string]any{"CRIT": []string{"x"}, "x": 1, "Crit": "y", "cty": "JWT", "x5t#S256": "z"}
	if _, err := v.Verify(signHeader(t, RS256, "rsa", hdr, validClaims())); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyCritDetail checks that an ErrCriticalHeader says what is wrong
// with the "crit" parameter.
func TestVerifyCritDetail(t *testing.T) {
	v := newTestVerifier(t, newClock(), "app")
	for _, tc := range []struct {
		hdr  map[string]any
		want string
	}{
		{map[string]any{"crit": json.RawMessage(`["b64"]`), "b64": false}, `extension "b64" is not supported`},
		{map[string]any{"crit": json.RawMessage(`["b64","x"]`), "b64": false}, `"x", which the header does not have`},
		{map[string]any{"crit": json.RawMessage(`["x","y","x"]`), "x": 1, "y": 2}, `"x" twice`},
		{map[string]any{"crit": json.RawMessage(`["x","x5t#S256"]`), "x": 1}, `"x5t#S256", which JWS or JWA defines`},
		{map[string]any{"crit": json.RawMessage(`["p2c"]`), "p2c": 1000}, `"p2c", which JWS or JWA defines`},
		{map[string]any{"crit": json.RawMessage(`[]`)}, "crit is empty"},
		{map[string]any{"crit": json.RawMessage(`null`)}, "not an array of strings"},
		{map[string]any{"crit": json.RawMessage(`["x",null]`), "x": 1}, "not an array of strings"},
	} {
		_, err := v.Verify(signHeader(t, RS256, "rsa", tc.hdr, validClaims()))
		if !errors.Is(err, ErrCriticalHeader) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("crit %s: %v, want ErrCriticalHeader saying %s", tc.hdr["crit"], err, tc.want)
		}
	}
}
