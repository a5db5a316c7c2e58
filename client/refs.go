package client

import "context"

// QueryRef is a typed reference to a query: calls through it are checked
// by the compiler for their argument and result types. `convexgo gen`
// writes one per query of a deployment; NewQueryRef makes one by hand.
//
// A QueryRef is a thin wrapper over Subscribe and Query: calls made
// through it and untyped calls with the same path and arguments share
// one server subscription and one in-flight HTTP request.
type QueryRef[Args, Result any] struct {
	path string
}

// NewQueryRef returns a reference to the query at path (for example
// "messages:list") taking Args and returning Result.
func NewQueryRef[Args, Result any](path string) QueryRef[Args, Result] {
	return QueryRef[Args, Result]{path: path}
}

// Path returns the function path the reference calls.
func (r QueryRef[Args, Result]) Path() string { return r.path }

// Subscribe subscribes to the query with args; see the package-level
// Subscribe.
func (r QueryRef[Args, Result]) Subscribe(ctx context.Context, c *Client, args Args) (*Subscription[Result], error) {
	return Subscribe[Result](ctx, c, r.path, args)
}

// Query runs the query once with args through c, a *Client or an
// *HTTPCaller (per-call credentials); see the package-level Query, whose
// options it takes.
func (r QueryRef[Args, Result]) Query(ctx context.Context, c Caller, args Args, opts ...QueryOption) (Result, error) {
	return Query[Result](ctx, c, r.path, args, opts...)
}

// MutationRef is a typed reference to a mutation; see QueryRef.
type MutationRef[Args, Result any] struct {
	path string
}

// NewMutationRef returns a reference to the mutation at path taking Args
// and returning Result.
func NewMutationRef[Args, Result any](path string) MutationRef[Args, Result] {
	return MutationRef[Args, Result]{path: path}
}

// Path returns the function path the reference calls.
func (r MutationRef[Args, Result]) Path() string { return r.path }

// Mutation runs the mutation with args through c, a *Client or an
// *HTTPCaller; see the package-level Mutation.
func (r MutationRef[Args, Result]) Mutation(ctx context.Context, c Caller, args Args, opts ...CallOption) (Result, error) {
	return Mutation[Result](ctx, c, r.path, args, opts...)
}

// ActionRef is a typed reference to an action; see QueryRef.
type ActionRef[Args, Result any] struct {
	path string
}

// NewActionRef returns a reference to the action at path taking Args and
// returning Result.
func NewActionRef[Args, Result any](path string) ActionRef[Args, Result] {
	return ActionRef[Args, Result]{path: path}
}

// Path returns the function path the reference calls.
func (r ActionRef[Args, Result]) Path() string { return r.path }

// Action runs the action with args through c, a *Client or an
// *HTTPCaller; see the package-level Action.
func (r ActionRef[Args, Result]) Action(ctx context.Context, c Caller, args Args, opts ...CallOption) (Result, error) {
	return Action[Result](ctx, c, r.path, args, opts...)
}
