package testserver

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
)

// WithAdminKey sets the deployment's admin key, in the form the dashboard
// shows ("dev:<name>|<secret>"). Without it the server makes a random one;
// see Server.AdminKey.
func WithAdminKey(key string) Option {
	return func(c *config) { c.adminKey = key }
}

// AdminKey returns the key that makes a caller the deployment's admin: it
// may call internal functions, and may act as any user identity.
func (s *Server) AdminKey() string { return s.adminKey }

func newAdminKey() string {
	var b [24]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return "dev:convexgo-local|" + hex.EncodeToString(b[:])
}

// errBadAdminKey is the backend's refusal of an admin key
// (crates/authentication/src/application_auth.rs).
var errBadAdminKey = &TokenError{Code: "BadAdminKey", Message: "The provided admin key was invalid for this instance"}

// removeTypePrefix drops the "dev:" or "prod:" the dashboard and CLI put in
// front of an admin key's deployment name, and the whole instance prefix of
// a "preview:" or "project:" key, as AdminKey::remove_type_prefix does
// (crates/common/src/types/admin_key.rs).
func removeTypePrefix(key string) string {
	name, rest, ok := strings.Cut(key, "|")
	if !ok {
		return key
	}
	typ, info, ok := strings.Cut(name, ":")
	if !ok {
		return key
	}
	if strings.EqualFold(typ, "preview") || strings.EqualFold(typ, "project") {
		return rest
	}
	return info + "|" + rest
}

// adminIdentity checks an admin key, as sent in Authenticate{tokenType:
// "Admin"} or after "Convex " in an Authorization header, where the key
// may be followed by ":" and the base64 JSON of a user identity to act as
// (crates/local_backend/src/authentication.rs). impersonating, from
// Authenticate, is that identity as JSON, when not empty.
func (s *Server) adminIdentity(key string, impersonating json.RawMessage) (*Identity, error) {
	key = removeTypePrefix(key)
	key, actingB64, acting := strings.Cut(key, ":")
	if subtle.ConstantTimeCompare([]byte(key), []byte(removeTypePrefix(s.adminKey))) != 1 {
		return nil, errBadAdminKey
	}
	ident := &Identity{Admin: true}
	if acting {
		raw, err := base64.StdEncoding.DecodeString(actingB64)
		if err != nil {
			return nil, &TokenError{Code: "HeaderParseFailure", Message: "Malformed Authorization header."}
		}
		impersonating = raw
	}
	if len(impersonating) == 0 || string(impersonating) == "null" {
		return ident, nil
	}
	if err := ident.actAs(impersonating); err != nil {
		return nil, &TokenError{Code: "HeaderParseFailure", Message: "Malformed Authorization header."}
	}
	return ident, nil
}

// actAs fills in the user an admin acts as from UserIdentityAttributes
// JSON: tokenIdentifier, or issuer and subject (tokenIdentifier is then
// issuer|subject), the standard fields and custom claims.
func (id *Identity) actAs(attrs json.RawMessage) error {
	var m map[string]any
	if err := json.Unmarshal(attrs, &m); err != nil {
		return err
	}
	str := func(k string) string { s, _ := m[k].(string); return s }
	id.Issuer, id.Subject, id.TokenIdentifier = str("issuer"), str("subject"), str("tokenIdentifier")
	if id.TokenIdentifier == "" {
		if id.Issuer == "" || id.Subject == "" {
			return fmt.Errorf(`either "tokenIdentifier" or "issuer" and "subject" must be set`)
		}
		id.TokenIdentifier = id.Issuer + "|" + id.Subject
	}
	id.ActingAsUser = true
	id.Claims = m
	return nil
}
