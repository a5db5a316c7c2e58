package client

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/convexgo/convex/internal/testserver"
	"github.com/convexgo/convex/protocol"
)

func TestSetAdminAuthOnTheWire(t *testing.T) {
	rt := &holdingTransport{}
	srv, c, ctx := setup(t, WithHTTPClient(&http.Client{Transport: rt}))
	id := &UserIdentity{Issuer: "https://auth.example.com", Subject: "user_1"}
	if err := c.SetAdminAuth(ctx, "dev:name|secret", id); err != nil {
		t.Fatal(err)
	}
	// The socket carries Authenticate{Admin, impersonating}.
	if err := srv.WaitFor(ctx, func(testserver.Stats) bool {
		for _, m := range srv.Received() {
			if a, ok := m.Msg.(*protocol.Authenticate); ok && a.TokenType == protocol.TokenTypeAdmin {
				return true
			}
		}
		return false
	}); err != nil {
		t.Fatal(err)
	}
	for _, m := range srv.Received() {
		a, ok := m.Msg.(*protocol.Authenticate)
		if !ok {
			continue
		}
		var acting map[string]any
		if err := json.Unmarshal(a.Impersonating, &acting); err != nil || a.Value != "dev:name|secret" ||
			acting["issuer"] != id.Issuer || acting["subject"] != id.Subject {
			t.Fatalf("Authenticate = %+v (%s), %v", a, a.Impersonating, err)
		}
	}
	// One-shot HTTP queries send the key, with the identity.
	_, _ = c.QueryRaw(ctx, "auth:whoami", nil)
	auths, _, _ := rt.snapshot()
	if len(auths) == 0 || !strings.HasPrefix(auths[len(auths)-1], "Convex dev:name|secret:") {
		t.Fatalf("HTTP Authorization = %q", auths)
	}
	// Bad input is refused before anything is sent.
	if err := c.SetAdminAuth(ctx, "", nil); err == nil {
		t.Error("empty admin key accepted")
	}
	if err := c.SetAdminAuth(ctx, "k", &UserIdentity{Name: "no subject"}); err == nil {
		t.Error("identity without issuer and subject accepted")
	}
	// ClearAuth signs out: HTTP calls carry nothing.
	if err := c.ClearAuth(ctx); err != nil {
		t.Fatal(err)
	}
	if h := c.currentAuthorization(); h != "" {
		t.Fatalf("after ClearAuth: %q", h)
	}
}
