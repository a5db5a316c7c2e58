package client

import "context"

// SetAuthToken sets the user token (a JWT) the client sends: on the socket
// now and after every reconnect, and as the Bearer token of one-shot HTTP
// queries. An empty token signs out. The deployment validates the token;
// a rejected token is reported by the deployment closing the socket, after
// which the client reconnects without it.
func (c *Client) SetAuthToken(ctx context.Context, token string) error {
	return c.do(ctx, func(o *owner) {
		c.authToken.Store(&token)
		o.engine.SetAuth(token)
	})
}

// currentToken returns the token one-shot HTTP calls send.
func (c *Client) currentToken(ctx context.Context) (string, error) {
	if t := c.authToken.Load(); t != nil {
		return *t, nil
	}
	return "", nil
}
