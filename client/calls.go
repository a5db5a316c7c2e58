package client

import (
	"context"
	"encoding/json"
	"errors"
)

// callResult is the outcome of a mutation or action.
type callResult struct {
	value json.RawMessage
	err   error
}

// MutationRaw runs the mutation at path with args over the WebSocket and
// returns its result as Convex JSON. It returns once the result is
// reflected in every subscription of this client (read-your-writes), and
// it survives reconnects: a mutation whose answer was lost is re-sent, and
// the deployment runs it once.
//
// If ctx ends first, MutationRaw returns ctx's error, but the mutation may
// still run.
//
// The options are for HTTPCaller; a Client's mutations are ordered by its
// socket and SkipQueue changes nothing.
func (c *Client) MutationRaw(ctx context.Context, path string, args any, _ ...CallOption) (json.RawMessage, error) {
	return c.call(ctx, "mutation", path, args)
}

// ActionRaw runs the action at path with args over the WebSocket and
// returns its result as Convex JSON. An action whose connection drops
// while it runs fails with an error matching ErrConnectionLost: actions
// are not re-sent, since they may not be idempotent.
func (c *Client) ActionRaw(ctx context.Context, path string, args any, _ ...CallOption) (json.RawMessage, error) {
	return c.call(ctx, "action", path, args)
}

func (c *Client) call(ctx context.Context, kind, path string, args any) (json.RawMessage, error) {
	encoded, err := encodeArgs(kind, path, args)
	if err != nil {
		return nil, err
	}
	if err := checkFrame(kind, path, encoded); err != nil {
		return nil, err
	}
	reply := make(chan callResult, 1)
	if err := c.do(ctx, func(o *owner) { o.request(kind, path, encoded, reply) }); err != nil {
		return nil, err
	}
	select {
	case r := <-reply:
		return r.value, r.err
	case <-ctx.Done():
		return nil, c.whyNot(kind, path, ctx.Err())
	}
}

// Caller runs Convex functions: a *Client (over its WebSocket, with the
// Client's identity) or an *HTTPCaller (over HTTP, with its own
// credentials). Query, Mutation and Action take either.
type Caller interface {
	QueryRaw(ctx context.Context, path string, args any, opts ...QueryOption) (json.RawMessage, error)
	MutationRaw(ctx context.Context, path string, args any, opts ...CallOption) (json.RawMessage, error)
	ActionRaw(ctx context.Context, path string, args any, opts ...CallOption) (json.RawMessage, error)
}

var (
	_ Caller = (*Client)(nil)
	_ Caller = (*HTTPCaller)(nil)
)

// CallOption changes how a mutation or action runs.
type CallOption func(*callOptions)

type callOptions struct {
	skipQueue bool
}

// SkipQueue runs an HTTPCaller's mutation at once instead of after the
// caller's earlier mutations, as the official HTTP client's skipQueue does.
func SkipQueue() CallOption { return func(o *callOptions) { o.skipQueue = true } }

// Mutation runs a mutation and decodes its result into T.
func Mutation[T any](ctx context.Context, c Caller, path string, args any, opts ...CallOption) (T, error) {
	raw, err := c.MutationRaw(ctx, path, args, opts...)
	if err != nil {
		var zero T
		return zero, err
	}
	return decode[T](raw, path)
}

// Action runs an action and decodes its result into T.
func Action[T any](ctx context.Context, c Caller, path string, args any, opts ...CallOption) (T, error) {
	raw, err := c.ActionRaw(ctx, path, args, opts...)
	if err != nil {
		var zero T
		return zero, err
	}
	return decode[T](raw, path)
}

// QueryOption changes how a one-shot query runs.
type QueryOption func(*queryOptions)

type queryOptions struct {
	socket bool
}

// ViaSocket reads the query once over the WebSocket instead of HTTP:
// subscribe, take the first value, unsubscribe. When the same query is
// already live on this client, its cached value answers at once with no
// network traffic.
func ViaSocket() QueryOption { return func(o *queryOptions) { o.socket = true } }

// QueryRaw runs the query at path once and returns its value as Convex
// JSON. By default it is a plain HTTP request (POST /api/query) on the
// client's keep-alive HTTP client; identical concurrent calls share one
// request, but a call never shares a request that started before this
// client's last mutation or action returned, so it sees that write. The
// request carries the values of the context of the call that started it,
// is cancelled once every call waiting for it has given up, and is bounded
// by WithHTTPTimeout.
func (c *Client) QueryRaw(ctx context.Context, path string, args any, opts ...QueryOption) (json.RawMessage, error) {
	if c.cmds == nil {
		return nil, ErrNotInitialized
	}
	var qo queryOptions
	for _, o := range opts {
		o(&qo)
	}
	if qo.socket {
		s, err := c.SubscribeRaw(ctx, path, args)
		if err != nil {
			return nil, err
		}
		defer s.Close()
		v, err := s.Next(ctx)
		if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return nil, c.whyNot("query", path, err)
		}
		return v, err
	}
	encoded, err := encodeArgs("query", path, args)
	if err != nil {
		return nil, err
	}
	select {
	case <-c.lifetime.Done():
		return nil, ErrClosed
	default:
	}
	return c.httpQuery(ctx, path, encoded)
}

// Query runs a query once and decodes its value into T.
func Query[T any](ctx context.Context, c Caller, path string, args any, opts ...QueryOption) (T, error) {
	raw, err := c.QueryRaw(ctx, path, args, opts...)
	if err != nil {
		var zero T
		return zero, err
	}
	return decode[T](raw, path)
}
