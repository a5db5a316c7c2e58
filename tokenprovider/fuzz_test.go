package tokenprovider

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// fuzzKey is a fixed Ed25519 key, so tokens in the committed corpus stay
// valid (for the fixed clock t0) across runs.
var fuzzKey = ed25519.NewKeyFromSeed([]byte("convex-go tokenprovider fuzz key"))

func fuzzJWKS() []byte {
	x := base64.RawURLEncoding.EncodeToString(fuzzKey.Public().(ed25519.PublicKey))
	return []byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"fz","alg":"EdDSA","x":"` + x + `"}]}`)
}

func FuzzParseJWKS(f *testing.F) {
	f.Add(fuzzJWKS())
	f.Add([]byte(`{"keys":[]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","kid":"a","n":"AQAB","e":"AQAB"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","kid":"a","x":"AA","y":"AA"}]}`))
	f.Add([]byte("data:;base64," + base64.StdEncoding.EncodeToString(fuzzJWKS())))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, parse := range []func() (*KeySet, error){
			func() (*KeySet, error) { return ParseJWKS(data) },
			func() (*KeySet, error) { return ParseJWKSDataURI(string(data)) },
			func() (*KeySet, error) { return parseJWKSText(string(data)) },
		} {
			set, err := parse()
			if err != nil {
				if !errors.Is(err, ErrInvalidJWKS) || set != nil {
					t.Fatalf("error %v does not wrap ErrInvalidJWKS (set %v)", err, set)
				}
				continue
			}
			if len(set.KeyIDs()) == 0 {
				t.Fatal("a key set without keys was accepted")
			}
			for _, k := range set.keys {
				if algFor[k.kty] == "" || k.key == nil {
					t.Fatalf("unusable key %+v accepted", k)
				}
			}
		}
	})
}

func fuzzToken(claims jwt.MapClaims) string {
	return fuzzTokenHeader(nil, claims)
}

// fuzzTokenHeader is fuzzToken with the header parameters in hdr added,
// or removed where the value is nil.
func fuzzTokenHeader(hdr map[string]any, claims jwt.MapClaims) string {
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	t.Header["kid"] = "fz"
	for k, v := range hdr {
		if v == nil {
			delete(t.Header, k)
		} else {
			t.Header[k] = v
		}
	}
	s, err := t.SignedString(fuzzKey)
	if err != nil {
		panic(err)
	}
	return s
}

func FuzzVerify(f *testing.F) {
	set, err := ParseJWKS(fuzzJWKS())
	if err != nil {
		f.Fatal(err)
	}
	v, err := NewVerifier(set, &VerifierOptions{Issuer: testIssuer, Audience: "app",
		Now: func() time.Time { return t0 }})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(fuzzToken(validClaims()))
	f.Add(fuzzToken(jwt.MapClaims{"iss": testIssuer, "aud": []string{"x", "app"}, "sub": "s", "exp": 1.9e9}))
	f.Add("")
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIiwia2lkIjoiZnoifQ.e30.")
	// Forms that were once accepted or reached the decoders: line breaks
	// and other control characters, padding, non-canonical base64url,
	// "crit", a case-changed kid, and oversized tokens.
	valid := fuzzToken(validClaims())
	sig := valid[strings.LastIndexByte(valid, '.')+1:]
	head := valid[:len(valid)-len(sig)]
	f.Add(head + sig[:20] + "\n" + sig[20:])
	f.Add(head + sig[:20] + "\r\n" + sig[20:])
	f.Add(valid + "\n")
	f.Add(head + sig[:20] + "\t" + sig[20:])
	f.Add(valid + "==")
	// An Ed25519 signature is 64 bytes, so its last character has 4 spare
	// bits: set the lowest.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	f.Add(head + sig[:len(sig)-1] + string(alphabet[strings.IndexByte(alphabet, sig[len(sig)-1])|1]))
	f.Add(fuzzTokenHeader(map[string]any{"crit": []string{"exp"}, "exp": 1}, validClaims()))
	f.Add(fuzzTokenHeader(map[string]any{"crit": []string{}}, validClaims()))
	f.Add(fuzzTokenHeader(map[string]any{"crit": []string{"x", "x"}, "x": 1}, validClaims()))
	f.Add(fuzzTokenHeader(map[string]any{"CRIT": []string{"x"}}, validClaims()))
	f.Add(fuzzTokenHeader(map[string]any{"kid": nil, "KID": "fz"}, validClaims()))
	big := validClaims()
	big["pad"] = strings.Repeat("x", MaxTokenSize)
	f.Add(fuzzToken(big))
	sentinels := []error{ErrMalformedToken, ErrMissingKID, ErrUnknownKID, ErrAlgorithmNotAllowed,
		ErrKeyAlgorithmMismatch, ErrBadSignature, ErrWrongIssuer, ErrWrongAudience, ErrExpired,
		ErrNotYetValid, ErrMissingExpiry, ErrMissingSubject, ErrTokenTooLarge, ErrControlCharacter,
		ErrCriticalHeader}
	f.Fuzz(func(t *testing.T, token string) {
		claims, err := v.Verify(token)
		if err != nil {
			n := 0
			for _, s := range sentinels {
				if errors.Is(err, s) {
					n++
				}
			}
			if n != 1 || !IsAuthError(err) || claims != nil {
				t.Fatalf("error %v matches %d sentinels", err, n)
			}
			return
		}
		// Accepted: every promised check holds.
		if len(token) > MaxTokenSize || strings.Count(token, ".") != 2 ||
			strings.Trim(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") != "" {
			t.Fatalf("accepted token %q is not %d bytes of base64url and dots", token, MaxTokenSize)
		}
		var hdr map[string]any
		if raw, err := base64.RawURLEncoding.Strict().DecodeString(token[:strings.IndexByte(token, '.')]); err != nil {
			t.Fatalf("accepted header: %v", err)
		} else if err := json.Unmarshal(raw, &hdr); err != nil {
			t.Fatalf("accepted header %s: %v", raw, err)
		} else if _, ok := hdr["crit"]; ok {
			t.Fatalf("accepted header %s has crit", raw)
		}
		if claims.Subject == "" || normalizeIssuer(claims.Issuer) != testIssuer || claims.ExpiresAt.IsZero() ||
			!t0.Before(claims.ExpiresAt.Add(DefaultLeeway)) {
			t.Fatalf("accepted claims %+v", claims)
		}
		found := false
		for _, a := range claims.Audience {
			found = found || a == "app"
		}
		if !found {
			t.Fatalf("accepted audience %v", claims.Audience)
		}
		_, _, _ = Expiry(token)
		_, _ = RefreshDelay(token, DefaultRefreshLeeway)
		if b, err := json.Marshal(claims.Custom); err != nil {
			t.Fatalf("custom claims %s: %v", b, err)
		}
	})
}

// FuzzExpiry checks that the unverified readers never panic.
func FuzzExpiry(f *testing.F) {
	f.Add(fuzzToken(validClaims()))
	f.Add(fakeJWT(t0, t0.Add(time.Hour), "u"))
	f.Add("x.y.z")
	f.Fuzz(func(t *testing.T, token string) {
		iat, exp, ok := Expiry(token)
		if !ok && (!iat.IsZero() || !exp.IsZero()) {
			t.Fatal("times returned with ok == false")
		}
		if d, ok := RefreshDelay(token, DefaultRefreshLeeway); ok && (d < 0 || d > MaxRefreshDelay) {
			t.Fatalf("RefreshDelay = %v", d)
		}
	})
}
