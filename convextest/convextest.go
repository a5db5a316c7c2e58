// Package convextest runs an in-process Convex deployment for tests, as
// net/http/httptest serves HTTP: start one, declare its tables' functions
// in Go with Convex validators, point a client at its URL, mint tokens for
// test users, seed and inspect data, break connections, and close it.
//
//	d := convextest.Start(t)
//	d.Query("tasks:list", convextest.V.Object(nil), nil,
//		func(ctx *convextest.QueryCtx, _ map[string]any) (any, error) {
//			return ctx.List("tasks"), nil
//		})
//	c, _ := client.New(d.URL())
//
// The deployment speaks the Convex sync protocol and HTTP function API as
// a real deployment does, with the backend's validators, error messages,
// close codes and limits, and it is reactive: a write re-runs the live
// queries that read the tables it wrote. It is not the Convex backend:
// tables live in memory, functions are Go, and there are no indexes or
// schemas.
package convextest

import (
	"errors"
	"testing"
	"time"

	"github.com/convexgo/convex/internal/testserver"
)

// Validator is a Convex validator, built with V as Convex apps use v.
type Validator = testserver.Validator

// V builds validators: V.Object(map[string]*Validator{"name": V.String()}),
// V.Optional(V.Number()), V.ID("tasks"), V.Union(V.Null(), V.String()), ...
var V = testserver.V

// QueryCtx is what a query reads the database through: Get, List, Filter,
// Identity, Log.
type QueryCtx = testserver.QueryCtx

// MutationCtx is a QueryCtx that can also Insert, Patch and Delete.
type MutationCtx = testserver.MutationCtx

// ActionCtx runs queries and mutations (RunQuery, RunMutation).
type ActionCtx = testserver.ActionCtx

// Identity is the authenticated user a function runs for.
type Identity = testserver.Identity

// ConvexError is an error with data, as a Convex function's ConvexError:
// return ConvexError{Data: ...} to fail with errorData.
type ConvexError = testserver.ConvexError

// Deployment is an in-process Convex deployment. Its methods are safe for
// concurrent use.
type Deployment struct {
	srv  *testserver.Server
	keys *testserver.Keys
}

// Option configures a Deployment.
type Option func(*options)

type options struct {
	demo bool
}

// WithDemoFunctions registers the demo functions of `convexgo dev`:
// messages:list, messages:send, counter:get, counter:increment, echo:run,
// auth:whoami and errors:throw.
func WithDemoFunctions() Option { return func(o *options) { o.demo = true } }

// New starts a deployment on a free loopback port. It accepts tokens made
// by Token. Close it when done.
func New(opts ...Option) (*Deployment, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	keys, err := testserver.GenerateKeys()
	if err != nil {
		return nil, err
	}
	srv, err := testserver.Start("127.0.0.1:0", testserver.WithAuth(keys.AuthConfig()))
	if err != nil {
		return nil, err
	}
	if o.demo {
		testserver.RegisterDemo(srv)
	}
	return &Deployment{srv: srv, keys: keys}, nil
}

// Start is New for a test: it fails tb if the deployment cannot start and
// closes it when the test ends.
func Start(tb testing.TB, opts ...Option) *Deployment {
	tb.Helper()
	d, err := New(opts...)
	if err != nil {
		tb.Fatalf("convextest: %v", err)
	}
	tb.Cleanup(d.Close)
	return d
}

// URL is the deployment URL to give client.New or client.NewHTTPClient.
func (d *Deployment) URL() string { return d.srv.URL() }

// Close stops the deployment: its sockets close and its HTTP API stops
// answering. It is safe to call more than once.
func (d *Deployment) Close() { d.srv.Close() }

// Query declares the public query at path ("tasks:list"). args validates
// the arguments (an object validator or V.Any(); nil means none) and
// returns the result (nil means none), with the messages a real deployment
// gives. fn returns any Convex value, or an error (a ConvexError carries
// data). It panics on an invalid path or validator, as a deployment refuses
// to push such code.
func (d *Deployment) Query(path string, args, returns *Validator, fn func(ctx *QueryCtx, args map[string]any) (any, error)) {
	d.srv.RegisterQueryV(path, args, returns, fn)
}

// Mutation declares a public mutation; see Query. Its writes commit only
// when it succeeds.
func (d *Deployment) Mutation(path string, args, returns *Validator, fn func(ctx *MutationCtx, args map[string]any) (any, error)) {
	d.srv.RegisterMutationV(path, args, returns, fn)
}

// Action declares a public action; see Query.
func (d *Deployment) Action(path string, args, returns *Validator, fn func(ctx *ActionCtx, args map[string]any) (any, error)) {
	d.srv.RegisterActionV(path, args, returns, fn)
}

// AdminKey returns the deployment's admin key: with it (client.AdminKey,
// Client.SetAdminAuth) a caller may call internal functions and act as any
// user, and `convexgo gen --url` reads the deployment's function spec.
func (d *Deployment) AdminKey() string { return d.srv.AdminKey() }

// InternalQuery declares an internal query: only a caller with the admin
// key can call it. See Query.
func (d *Deployment) InternalQuery(path string, args, returns *Validator, fn func(ctx *QueryCtx, args map[string]any) (any, error)) {
	d.srv.RegisterInternalQueryV(path, args, returns, fn)
}

// InternalMutation declares an internal mutation; see InternalQuery.
func (d *Deployment) InternalMutation(path string, args, returns *Validator, fn func(ctx *MutationCtx, args map[string]any) (any, error)) {
	d.srv.RegisterInternalMutationV(path, args, returns, fn)
}

// Token mints a JWT that the deployment accepts for the user subject, valid
// for ttl, with extra claims (nil for none). Give it to Client.SetAuthToken
// or client.UserToken; functions see it as ctx.Identity().
func (d *Deployment) Token(subject string, ttl time.Duration, claims map[string]any) (string, error) {
	if subject == "" {
		return "", errors.New("convextest: Token needs a subject")
	}
	return d.keys.MintToken(subject, ttl, claims)
}

// Write runs fn as one transaction outside any function, to seed data:
// its writes commit together when it returns nil (re-running the live
// queries that read those tables), and none do when it returns an error.
func (d *Deployment) Write(fn func(ctx *MutationCtx) error) error { return d.srv.Write(fn) }

// Insert adds one document to table and returns its _id.
func (d *Deployment) Insert(table string, doc map[string]any) (string, error) {
	var id string
	err := d.srv.Write(func(ctx *MutationCtx) error {
		var err error
		id, err = ctx.Insert(table, doc)
		return err
	})
	return id, err
}

// RunQuery runs the declared query at path with args, as an anonymous
// caller with no client, and returns its decoded result.
func (d *Deployment) RunQuery(path string, args map[string]any) (any, error) {
	return d.srv.RunQuery(path, args)
}

// RunMutation runs the declared mutation at path with args, as an
// anonymous caller with no client (live queries see its writes), and
// returns its decoded result.
func (d *Deployment) RunMutation(path string, args map[string]any) (any, error) {
	return d.srv.RunMutation(path, args)
}

// Documents returns the documents of table, in insertion order, with
// their _id and _creationTime.
func (d *Deployment) Documents(table string) ([]map[string]any, error) {
	var docs []map[string]any
	err := d.srv.Read(func(ctx *QueryCtx) error {
		docs = ctx.List(table)
		return nil
	})
	return docs, err
}

// DropConnections closes every open WebSocket abruptly, as a network
// failure would, and returns how many it closed. Clients reconnect.
func (d *Deployment) DropConnections() int { return d.srv.DropAll() }

// Stall stops the deployment from sending anything on its sockets until
// Resume, as a stuck network would; HTTP calls still run.
func (d *Deployment) Stall() { d.srv.Stall() }

// Resume ends a Stall: held messages go out in order.
func (d *Deployment) Resume() { d.srv.Resume() }

// RefuseConnections makes new WebSocket connections fail (HTTP 503) while
// on is true.
func (d *Deployment) RefuseConnections(on bool) { d.srv.Refuse(on) }
