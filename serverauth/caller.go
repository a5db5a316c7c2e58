package serverauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/convexgo/convex/client"
)

// UserCaller runs Convex functions as the user of one request. Middleware
// makes one per request; get it with Caller or FromContext. It implements
// client.Caller and is safe for concurrent use by the request's
// goroutines. Mutations through one UserCaller run one at a time in call
// order (see client.HTTPCaller), unless a call opts out with
// client.SkipQueue.
type UserCaller struct {
	m *Middleware
	s Session

	mu       sync.Mutex
	firstTok string                        // the token of first; a request mostly uses one
	first    *client.HTTPCaller            // nil until the first call
	callers  map[string]*client.HTTPCaller // by token, for tokens after the first; "" is anonymous
	got      string                        // the latest token a call got for the session and did not see refused
}

var _ client.Caller = (*UserCaller)(nil)

// SignedIn reports whether the request has a session (or a token of its
// own). A session that has ended is reported by the calls: their errors
// then match betterauth.ErrSignedOut, or whatever the session's Fetch
// returned.
func (c *UserCaller) SignedIn() bool { return c.s.signedIn() }

// QueryRaw runs the query at path as the request's user and returns its
// value as Convex JSON. See the package documentation for when it is
// retried.
func (c *UserCaller) QueryRaw(ctx context.Context, path string, args any, opts ...client.QueryOption) (json.RawMessage, error) {
	return c.do(ctx, kindQuery, func(hc *client.HTTPCaller) (json.RawMessage, error) {
		return hc.QueryRaw(ctx, path, args, opts...)
	})
}

// MutationRaw runs the mutation at path as the request's user and returns
// its result as Convex JSON. It is retried (once, with a fresh token) only
// after an HTTP 401 on a token that was not fetched for it.
func (c *UserCaller) MutationRaw(ctx context.Context, path string, args any, opts ...client.CallOption) (json.RawMessage, error) {
	return c.do(ctx, kindWrite, func(hc *client.HTTPCaller) (json.RawMessage, error) {
		return hc.MutationRaw(ctx, path, args, opts...)
	})
}

// ActionRaw runs the action at path as the request's user and returns its
// result as Convex JSON. It is retried as MutationRaw is.
func (c *UserCaller) ActionRaw(ctx context.Context, path string, args any, opts ...client.CallOption) (json.RawMessage, error) {
	return c.do(ctx, kindWrite, func(hc *client.HTTPCaller) (json.RawMessage, error) {
		return hc.ActionRaw(ctx, path, args, opts...)
	})
}

type callKind int

const (
	kindQuery callKind = iota
	kindWrite          // a mutation or an action: retried only if it cannot have run
)

// caller returns the HTTPCaller for token, one per token so that the
// request's mutations keep their order.
func (c *UserCaller) caller(token string) *client.HTTPCaller {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.first == nil {
		c.first, c.firstTok = c.m.client.As(client.UserToken(token)), token
		return c.first
	}
	if c.firstTok == token {
		return c.first
	}
	if hc, ok := c.callers[token]; ok {
		return hc
	}
	if c.callers == nil {
		c.callers = make(map[string]*client.HTTPCaller, 1)
	}
	hc := c.m.client.As(client.UserToken(token))
	c.callers[token] = hc
	return hc
}

// didNotRun reports whether err proves that the deployment ran no
// function: it refused the request's credentials with HTTP 401.
func didNotRun(err error) bool {
	var he *client.HTTPError
	return errors.As(err, &he) && he.StatusCode == 401
}

// retryable reports whether a call of kind that failed with err, on a
// token not fetched for it, may run once more with a fresh token.
func (c *UserCaller) retryable(kind callKind, err error) bool {
	if !c.m.isAuth(err) {
		return false
	}
	return kind == kindQuery || didNotRun(err)
}

// errNotRetried stands in, for the SessionCache's classifier, for the
// error of a mutation or action that must not be retried. It has no
// Unwrap and no AuthError method, so no classifier can count it.
type errNotRetried struct{}

func (errNotRetried) Error() string { return "serverauth: the call may have run; not retried" }

// do runs call as the request's user, with the retry rule of the package
// documentation.
func (c *UserCaller) do(ctx context.Context, kind callKind, call func(*client.HTTPCaller) (json.RawMessage, error)) (json.RawMessage, error) {
	s := c.s
	if !s.signedIn() {
		return call(c.caller(""))
	}
	if s.Token != "" {
		return c.withRequestToken(ctx, kind, call)
	}
	if s.Fetch == nil {
		return nil, errors.New("serverauth: the session has an ID and no Fetch function")
	}
	var out json.RawMessage
	var hidden error // the real error behind an errNotRetried
	err := c.m.cache.Do(ctx, s.ID, s.Fetch, func(_ context.Context, token string) error {
		v, err := call(c.caller(token))
		c.gotToken(token, err)
		if err != nil && kind == kindWrite && !didNotRun(err) {
			// The classifier of the cache must not see this error: it
			// may count a function error, which for a write means the
			// function ran.
			hidden = err
			return errNotRetried{}
		}
		out = v
		return err
	})
	if errors.Is(err, errNotRetried{}) {
		return nil, hidden
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// withRequestToken runs call with the token the request carries and, if
// the deployment refuses it (see retryable), once more with a token
// fetched for the session now.
func (c *UserCaller) withRequestToken(ctx context.Context, kind callKind, call func(*client.HTTPCaller) (json.RawMessage, error)) (json.RawMessage, error) {
	s := c.s
	v, err := call(c.caller(s.Token))
	if err == nil || s.ID == "" || s.Fetch == nil || !c.retryable(kind, err) {
		return v, err
	}
	// Drop any cached token of the session, so that this one is fetched
	// now (shared with concurrent requests of the session).
	if cerr := c.m.cache.Clear(ctx, s.ID); cerr != nil {
		return nil, fmt.Errorf("%w (clearing the cached token failed: %w)", err, cerr)
	}
	fresh, ferr := c.m.cache.Token(ctx, s.ID, s.Fetch)
	if ferr != nil {
		return nil, fmt.Errorf("%w (fetching a new token failed: %w)", err, ferr)
	}
	if fresh == "" || fresh == s.Token {
		return nil, err
	}
	v, err = call(c.caller(fresh))
	c.gotToken(fresh, err)
	return v, err
}

// noCaller is Caller's answer for a context without a caller.
type noCaller struct{}

func (noCaller) QueryRaw(context.Context, string, any, ...client.QueryOption) (json.RawMessage, error) {
	return nil, ErrNoCaller
}

func (noCaller) MutationRaw(context.Context, string, any, ...client.CallOption) (json.RawMessage, error) {
	return nil, ErrNoCaller
}

func (noCaller) ActionRaw(context.Context, string, any, ...client.CallOption) (json.RawMessage, error) {
	return nil, ErrNoCaller
}
