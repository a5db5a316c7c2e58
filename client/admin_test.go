package client

import (
	"encoding/json"
	"errors"
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
	key := srv.AdminKey()
	if err := c.SetAdminAuth(ctx, key, id); err != nil {
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
		if err := json.Unmarshal(a.Impersonating, &acting); err != nil || a.Value != key ||
			acting["issuer"] != id.Issuer || acting["subject"] != id.Subject {
			t.Fatalf("Authenticate = %+v (%s), %v", a, a.Impersonating, err)
		}
	}
	// One-shot HTTP queries send the key, with the identity.
	_, _ = c.QueryRaw(ctx, "auth:whoami", nil)
	auths, bodies, _ := rt.snapshot()
	found := false
	for i, a := range auths {
		if strings.Contains(bodies[i], `"path":"auth:whoami"`) {
			found = strings.HasPrefix(a, "Convex "+key+":")
		}
	}
	if !found {
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

// Against the test deployment: an admin key calls internal functions, acts
// as a user when asked, and a wrong key is refused.
func TestAdminKeyAgainstDeployment(t *testing.T) {
	srv, c, ctx := setup(t)
	srv.RegisterInternalQueryV("secrets:count", nil, nil, func(*testserver.QueryCtx, map[string]any) (any, error) {
		return 42.0, nil
	})
	h, err := NewHTTPClient(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	admin := h.As(AdminKey(srv.AdminKey()))
	if n, err := Query[int](ctx, admin, "secrets:count", nil); err != nil || n != 42 {
		t.Fatalf("admin internal query = %v, %v", n, err)
	}
	// For anyone else an internal function does not exist.
	_, err = Query[int](ctx, h.As(Anonymous()), "secrets:count", nil)
	var fe *FunctionError
	if !errors.As(err, &fe) || !strings.Contains(fe.Message, "Could not find public function for 'secrets:count'") {
		t.Fatalf("anonymous internal query = %v", err)
	}
	// A plain admin has no user identity; acting as one, it does.
	if who, err := Query[*string](ctx, admin, "auth:whoami", nil); err != nil || who != nil {
		t.Fatalf("admin whoami = %v, %v", who, err)
	}
	actor := h.As(AdminKey(srv.AdminKey()).ActingAs(UserIdentity{Issuer: "https://auth.example.com", Subject: "user_7"}))
	if who, err := Query[*string](ctx, actor, "auth:whoami", nil); err != nil || who == nil || *who != "user_7" {
		t.Fatalf("acting-as whoami = %v, %v", who, err)
	}
	if n, err := Query[int](ctx, actor, "secrets:count", nil); err != nil || n != 42 {
		t.Fatalf("acting-as internal query = %v, %v", n, err)
	}
	// A wrong key is a 401 BadAdminKey.
	_, err = Query[any](ctx, h.As(AdminKey("dev:convexgo-local|wrong")), "auth:whoami", nil)
	var he *HTTPError
	if !errors.As(err, &he) || he.StatusCode != http.StatusUnauthorized || he.Code != "BadAdminKey" {
		t.Fatalf("wrong admin key = %v", err)
	}
	// The socket Client acting as a user sees that user in subscriptions.
	if err := c.SetAdminAuth(ctx, srv.AdminKey(), &UserIdentity{Issuer: "https://auth.example.com", Subject: "user_8"}); err != nil {
		t.Fatal(err)
	}
	sub, err := Subscribe[*string](ctx, c, "auth:whoami", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	for {
		who, err := sub.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if who != nil && *who == "user_8" {
			break
		}
	}
	if n, err := Query[int](ctx, c, "secrets:count", nil, ViaSocket()); err != nil || n != 42 {
		t.Fatalf("socket internal query = %v, %v", n, err)
	}
}
