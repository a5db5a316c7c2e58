package testserver

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
)

// PrivateKeyPEM returns the signing key as a PKCS #8 PEM block, so that a
// program (the dev command) can keep it and mint tokens later.
func (k *Keys) PrivateKeyPEM() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k.key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// KeysFromPEM loads a signing key written by PrivateKeyPEM, with the given
// key id and the default issuer and application ID. RSA keys sign RS256
// and P-256 keys ES256.
func KeysFromPEM(data []byte, kid string) (*Keys, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("testserver: no PEM block in key file")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("testserver: parsing private key: %w", err)
	}
	var alg string
	switch key.(type) {
	case *rsa.PrivateKey:
		alg = "RS256"
	case *ecdsa.PrivateKey:
		alg = "ES256"
	default:
		return nil, fmt.Errorf("testserver: unsupported key type %T", key)
	}
	if kid == "" {
		return nil, fmt.Errorf("testserver: empty key id")
	}
	k := newKeys(alg, key.(crypto.Signer))
	k.Kid = kid
	return k, nil
}
