package testserver

import (
	"testing"
	"time"
)

func TestKeysPEMRoundTrip(t *testing.T) {
	for _, gen := range []func() (*Keys, error){GenerateKeys, GenerateES256Keys} {
		k, err := gen()
		if err != nil {
			t.Fatal(err)
		}
		p, err := k.PrivateKeyPEM()
		if err != nil {
			t.Fatal(err)
		}
		back, err := KeysFromPEM(p, k.Kid)
		if err != nil {
			t.Fatal(err)
		}
		if back.Algorithm != k.Algorithm || string(back.JWKS()) != string(k.JWKS()) {
			t.Fatalf("%s: reloaded key differs", k.Algorithm)
		}
		// A token minted by the reloaded key passes the original's check.
		srv := New(WithAuth(k.AuthConfig()))
		tok, err := back.MintToken("alice", time.Minute, nil)
		if err != nil {
			t.Fatal(err)
		}
		if id, err := srv.ValidateToken(tok); err != nil || id.Subject != "alice" {
			t.Fatalf("%s: %v, %+v", k.Algorithm, err, id)
		}
		srv.Close()
	}
	for _, bad := range []string{"", "not pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"} {
		if _, err := KeysFromPEM([]byte(bad), "k"); err == nil {
			t.Errorf("KeysFromPEM(%q) succeeded", bad)
		}
	}
}
