package tokenprovider

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseJWKSForms(t *testing.T) {
	js := testJWKS(t)
	want := []string{"ec", "ed", "rsa"}
	forms := map[string]func() (*KeySet, error){
		"JSON": func() (*KeySet, error) { return ParseJWKS(js) },
		"base64 data URI": func() (*KeySet, error) {
			return ParseJWKSDataURI("data:text/plain;charset=utf-8;base64," + base64.StdEncoding.EncodeToString(js))
		},
		"unpadded base64 data URI": func() (*KeySet, error) {
			return ParseJWKSDataURI("data:;base64," + base64.RawStdEncoding.EncodeToString(js))
		},
		"percent-encoded data URI": func() (*KeySet, error) {
			return ParseJWKSDataURI("data:application/json," + url.PathEscape(string(js)))
		},
		"plain data URI": func() (*KeySet, error) { return ParseJWKSDataURI("data:application/json," + string(js)) },
		"env JSON": func() (*KeySet, error) {
			t.Setenv("JWKS", string(js))
			return JWKSFromEnv("")
		},
		"env data URI": func() (*KeySet, error) {
			t.Setenv("MY_JWKS", "data:text/plain;charset=utf-8;base64,"+base64.StdEncoding.EncodeToString(js))
			return JWKSFromEnv("MY_JWKS")
		},
	}
	for name, parse := range forms {
		t.Run(name, func(t *testing.T) {
			set, err := parse()
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(want, set.KeyIDs()); d != "" {
				t.Error(d)
			}
		})
	}
}

func TestParseJWKSSkipsUnsupportedKeys(t *testing.T) {
	keys(t)
	doc := map[string]any{"keys": []any{
		jwkOf(testKeys.ed, "ed", ""),
		map[string]any{"kty": "EC", "crv": "P-384", "kid": "p384", "x": "AA", "y": "AA"},
		map[string]any{"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
		map[string]any{"kty": "OKP", "crv": "X25519", "kid": "x", "x": "AA"},
		func() map[string]any { k := jwkOf(testKeys.ec, "enc", ""); k["use"] = "enc"; return k }(),
		func() map[string]any { k := jwkOf(testKeys.rsa, "", ""); delete(k, "kid"); return k }(),
	}}
	b, _ := json.Marshal(doc)
	set, err := ParseJWKS(b)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"ed"}, set.KeyIDs()); d != "" {
		t.Error(d)
	}
}

func TestParseJWKSErrors(t *testing.T) {
	keys(t)
	mod := func(priv any, f func(map[string]any)) string {
		k := jwkOf(priv, "k", "")
		f(k)
		b, _ := json.Marshal(map[string]any{"keys": []any{k}})
		return string(b)
	}
	dupDoc, _ := json.Marshal(map[string]any{"keys": []any{jwkOf(testKeys.ed, "k", ""), jwkOf(testKeys.ec, "k", "")}})
	dup := string(dupDoc)
	small := `{"keys":[{"kty":"RSA","kid":"k","n":"` + b64u(make([]byte, 128)) + `","e":"AQAB"}]}`
	cases := map[string]string{
		"empty":                   "",
		"not JSON":                "{",
		"array":                   "[]",
		"no keys":                 `{}`,
		"keys null":               `{"keys":null}`,
		"keys not array":          `{"keys":{}}`,
		"no usable key":           `{"keys":[]}`,
		"key not object":          `{"keys":[1]}`,
		"kid not string":          `{"keys":[{"kty":"RSA","kid":1}]}`,
		"RSA without n":           mod(testKeys.rsa, func(k map[string]any) { delete(k, "n") }),
		"RSA n not base64":        mod(testKeys.rsa, func(k map[string]any) { k["n"] = "***" }),
		"RSA e zero":              mod(testKeys.rsa, func(k map[string]any) { k["e"] = "AA" }),
		"RSA e even":              mod(testKeys.rsa, func(k map[string]any) { k["e"] = "BA" }),
		"RSA e huge":              mod(testKeys.rsa, func(k map[string]any) { k["e"] = b64u([]byte{1, 2, 3, 4, 5}) }),
		"RSA 1024 bits":           small,
		"EC without y":            mod(testKeys.ec, func(k map[string]any) { delete(k, "y") }),
		"EC short x":              mod(testKeys.ec, func(k map[string]any) { k["x"] = b64u([]byte{1}) }),
		"EC point off curve":      mod(testKeys.ec, func(k map[string]any) { k["y"] = b64u(make([]byte, 32)) }),
		"Ed25519 short x":         mod(testKeys.ed, func(k map[string]any) { k["x"] = b64u(make([]byte, 31)) }),
		"duplicate kid":           dup,
		"field of the wrong type": `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k","x":["a"]}]}`,
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			set, err := ParseJWKS([]byte(in))
			if !errors.Is(err, ErrInvalidJWKS) {
				t.Fatalf("ParseJWKS(%s) = %v, %v; want ErrInvalidJWKS", in, set, err)
			}
			if IsAuthError(err) {
				t.Errorf("IsAuthError(%v) = true for a configuration error", err)
			}
		})
	}
}

func TestParseJWKSDataURIErrors(t *testing.T) {
	for _, in := range []string{
		"", "http://example.com/jwks", "data:text/plain;base64", "data:;base64,!!!!",
		"data:application/json,%zz", "data:;base64," + base64.StdEncoding.EncodeToString([]byte("{")),
	} {
		if _, err := ParseJWKSDataURI(in); !errors.Is(err, ErrInvalidJWKS) {
			t.Errorf("ParseJWKSDataURI(%q) error = %v, want ErrInvalidJWKS", in, err)
		}
	}
}

func TestJWKSFromEnvUnset(t *testing.T) {
	t.Setenv("JWKS", "")
	_, err := JWKSFromEnv("")
	if !errors.Is(err, ErrInvalidJWKS) || !strings.Contains(err.Error(), "JWKS is not set") {
		t.Errorf("empty JWKS: %v", err)
	}
	t.Setenv("JWKS", "{nope")
	if _, err := JWKSFromEnv(""); !errors.Is(err, ErrInvalidJWKS) || !strings.Contains(err.Error(), "environment variable JWKS") {
		t.Errorf("bad JWKS: %v", err)
	}
}
