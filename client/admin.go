package client

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
)

// SetAdminAuth authenticates the whole Client with a deployment's admin
// (or deploy) key, as the dashboard and the CLI do: internal functions can
// be called, and with actingAs not nil every call runs as that user
// identity (the official clients' setAdminAuth with an acting-as
// identity). It replaces any SetAuth provider; ClearAuth signs out. Keep
// admin keys on servers: they grant full access to the deployment.
//
// The key is sent on every (re)connect in Authenticate{tokenType: "Admin"}
// and on one-shot HTTP queries as "Authorization: Convex <key>". If the
// deployment rejects the key, the client logs it and continues
// unauthenticated.
func (c *Client) SetAdminAuth(ctx context.Context, key string, actingAs *UserIdentity) error {
	if key == "" || strings.ContainsAny(key, "\r\n") {
		return errors.New("convex: SetAdminAuth: the admin key is empty or holds a line break")
	}
	cred := AdminKey(key)
	var acting json.RawMessage
	if actingAs != nil {
		cred = cred.ActingAs(*actingAs)
		b, err := actingAs.encode()
		if err != nil {
			return err
		}
		acting = b
	}
	header, err := cred.authorization()
	if err != nil {
		return err
	}
	return c.do(ctx, func(o *owner) {
		if o.auth != nil {
			o.auth.stop()
			o.auth = nil
		}
		c.authToken.Store(&header)
		o.engine.SetAdminAuth(key, acting)
		o.resumeAfterAuth()
	})
}
