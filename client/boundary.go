package client

import (
	"bytes"
	"context"
	"errors"

	"github.com/convexgo/convex/tokenprovider"
)

// AuthBoundary watches a query that reflects the signed-in user (such as
// a "whoami" query returning null when unauthenticated) and calls a
// function when authentication is lost. Create one with WatchAuth.
type AuthBoundary struct {
	sub  *RawSubscription
	done chan struct{}
}

// WatchAuth keeps a live subscription to the query at path and calls
// onChange, from a goroutine of the client's, whenever the user's state
// changes: onChange(false, err) once each time the query's value turns
// null or the query fails with an auth error (see
// tokenprovider.IsAuthError), including when the first value already says
// so, and onChange(true, nil) when a value shows a user again. err is the
// query's error, or nil for a null value. On a loss the application can
// sign the user in again, or stop a bot. Other query errors change
// nothing. Close the boundary, or the client, to stop watching.
//
// Delivery is latest-value: a state that lasts less than the time to
// deliver one value may be missed.
func (c *Client) WatchAuth(ctx context.Context, path string, args any, onChange func(authenticated bool, err error)) (*AuthBoundary, error) {
	sub, err := c.SubscribeRaw(ctx, path, args)
	if err != nil {
		return nil, err
	}
	b := &AuthBoundary{sub: sub, done: make(chan struct{})}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer close(b.done)
		known, authed := false, false
		for {
			v, err := sub.Next(c.lifetime)
			var fatal *FatalError
			if errors.Is(err, ErrClosed) || errors.As(err, &fatal) || c.lifetime.Err() != nil {
				return
			}
			if err != nil && !tokenprovider.IsAuthError(err) {
				continue // not about auth
			}
			now := err == nil && !bytes.Equal(bytes.TrimSpace(v), []byte("null"))
			if !known || now != authed {
				known, authed = true, now
				onChange(now, err)
			}
		}
	}()
	return b, nil
}

// Close stops watching and waits until no callback is running.
func (b *AuthBoundary) Close() error {
	if b.sub == nil {
		return nil
	}
	b.sub.Close()
	<-b.done
	return nil
}
