package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/convexgo/convex/protocol"
)

// HTTP endpoints for reads at a timestamp (crates/local_backend/src/public_api.rs).
const (
	pathQueryTS   = "/api/query_ts"
	pathQueryAtTS = "/api/query_at_ts"
)

// ConsistentReader runs queries at a chosen database timestamp over HTTP,
// as the official ConvexHttpClient's consistentQuery does: one
// POST /api/query_ts for the latest timestamp, then POST /api/query_at_ts
// for each query at it. *HTTPCaller (with its credentials) and *Client
// (with the Client's auth) are ConsistentReaders.
//
// A deployment keeps only a short history of snapshots (the open-source
// backend about 10 seconds, its MAX_TRANSACTION_WINDOW); a read at an
// older timestamp fails with an *HTTPError of status 503.
type ConsistentReader interface {
	// QueryTimestamp returns the deployment's latest timestamp.
	QueryTimestamp(ctx context.Context) (uint64, error)
	// QueryAtRaw runs the query at path at timestamp ts and returns its
	// value as Convex JSON.
	QueryAtRaw(ctx context.Context, ts uint64, path string, args any) (json.RawMessage, error)
}

var (
	_ ConsistentReader = (*Client)(nil)
	_ ConsistentReader = (*HTTPCaller)(nil)
)

// QueryTimestamp returns the deployment's latest timestamp (POST
// /api/query_ts), for QueryAtRaw or At.
func (c *HTTPCaller) QueryTimestamp(ctx context.Context) (uint64, error) {
	if c == nil || c.h == nil {
		return 0, errors.New("convex: HTTPCaller not made by HTTPClient.As")
	}
	auth, err := c.cred.authorization()
	if err != nil {
		return 0, fmt.Errorf("convex: query_ts: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.h.timeout)
	defer cancel()
	return c.h.api.queryTS(ctx, auth)
}

// QueryAtRaw runs the query at path at timestamp ts (POST
// /api/query_at_ts) with the caller's credentials.
func (c *HTTPCaller) QueryAtRaw(ctx context.Context, ts uint64, path string, args any) (json.RawMessage, error) {
	if c == nil || c.h == nil {
		return nil, errors.New("convex: HTTPCaller not made by HTTPClient.As")
	}
	encoded, err := encodeArgs("query", path, args)
	if err != nil {
		return nil, err
	}
	auth, err := c.cred.authorization()
	if err != nil {
		return nil, fmt.Errorf("convex: query %s: %w", path, err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.h.timeout)
	defer cancel()
	return c.h.api.queryAt(ctx, ts, path, encoded, auth)
}

// QueryTimestamp returns the deployment's latest timestamp over HTTP, with
// the Client's auth.
func (c *Client) QueryTimestamp(ctx context.Context) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.httpTimeout)
	defer cancel()
	return c.api().queryTS(ctx, c.currentAuthorization())
}

// QueryAtRaw runs the query at path at timestamp ts over HTTP, with the
// Client's auth.
func (c *Client) QueryAtRaw(ctx context.Context, ts uint64, path string, args any) (json.RawMessage, error) {
	encoded, err := encodeArgs("query", path, args)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.httpTimeout)
	defer cancel()
	return c.api().queryAt(ctx, ts, path, encoded, c.currentAuthorization())
}

func (a httpAPI) queryTS(ctx context.Context, auth string) (uint64, error) {
	data, err := a.roundTrip(ctx, pathQueryTS, "query_ts", "", nil, auth)
	if err != nil {
		return 0, err
	}
	var r struct {
		TS string `json:"ts"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return 0, fmt.Errorf("convex: query_ts: malformed response: %w", err)
	}
	ts, err := protocol.DecodeU64(r.TS)
	if err != nil {
		return 0, fmt.Errorf("convex: query_ts: malformed timestamp %q: %w", r.TS, err)
	}
	return ts, nil
}

func (a httpAPI) queryAt(ctx context.Context, ts uint64, path string, args json.RawMessage, auth string) (json.RawMessage, error) {
	body, err := json.Marshal(struct {
		Path   string          `json:"path"`
		Args   json.RawMessage `json:"args"`
		TS     string          `json:"ts"`
		Format string          `json:"format"`
	}{path, args, protocol.EncodeU64(ts), protocol.FormatConvexEncodedJSON})
	if err != nil {
		return nil, err
	}
	return a.send(ctx, pathQueryAtTS, "query", path, body, auth)
}

// At returns a Caller whose queries all run at timestamp ts through r, so
// that Query, typed references and Paginate read one snapshot. Its
// mutations and actions fail: writes do not happen at a past timestamp.
func At(r ConsistentReader, ts uint64) Caller { return atCaller{r: r, ts: ts} }

type atCaller struct {
	r  ConsistentReader
	ts uint64
}

func (a atCaller) QueryRaw(ctx context.Context, path string, args any, opts ...QueryOption) (json.RawMessage, error) {
	var qo queryOptions
	for _, o := range opts {
		o(&qo)
	}
	if qo.socket {
		return nil, fmt.Errorf("convex: query %s: ViaSocket cannot read at a timestamp", path)
	}
	return a.r.QueryAtRaw(ctx, a.ts, path, args)
}

func (a atCaller) MutationRaw(_ context.Context, path string, _ any, _ ...CallOption) (json.RawMessage, error) {
	return nil, fmt.Errorf("convex: mutation %s: a Caller made by At only runs queries", path)
}

func (a atCaller) ActionRaw(_ context.Context, path string, _ any, _ ...CallOption) (json.RawMessage, error) {
	return nil, fmt.Errorf("convex: action %s: a Caller made by At only runs queries", path)
}

// ConsistentQuery runs several queries at one timestamp, the deployment's
// latest when it is called (one /api/query_ts, then one /api/query_at_ts
// per query, concurrently), as ConvexHttpClient.consistentQuery does. A
// query that fails has its *FunctionError in Errs; any other failure (the
// network, HTTP errors such as a timestamp out of retention) is returned.
func ConsistentQuery(ctx context.Context, r ConsistentReader, queries ...QuerySpec) (Snapshot, error) {
	ts, err := r.QueryTimestamp(ctx)
	if err != nil {
		return Snapshot{}, err
	}
	snap := Snapshot{TS: ts, Values: make([]json.RawMessage, len(queries)), Errs: make([]error, len(queries))}
	var wg sync.WaitGroup
	for i, q := range queries {
		wg.Go(func() { snap.Values[i], snap.Errs[i] = r.QueryAtRaw(ctx, ts, q.Path, q.Args) })
	}
	wg.Wait()
	for _, e := range snap.Errs {
		var fe *FunctionError
		if e != nil && !errors.As(e, &fe) {
			return Snapshot{}, e
		}
	}
	return snap, nil
}
