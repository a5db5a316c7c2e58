// Package client is a Go client for Convex deployments.
//
// A Client multiplexes every query subscription, mutation and action of a
// process over one WebSocket speaking the Convex sync protocol, and runs
// one-shot queries over HTTP. Create one per deployment with New and Close
// it when done:
//
//	c, err := client.New("https://happy-animal-123.convex.cloud")
//	...
//	defer c.Close()
//
// # Subscriptions
//
// Subscribe (typed) and Client.SubscribeRaw (Convex JSON) start a live
// query. Next blocks for a value newer than the last one seen, Latest
// returns the newest without waiting, and Updates is an iterator for
// range-over-func. Queries are deduplicated: a query is identified by its
// canonical function path plus its canonical arguments (object keys
// sorted, an Int64 distinct from the Float64 of the same number), and any
// number of subscribers
// share one server subscription, the last to Close removing it. A new
// subscriber to a live query gets the cached value at once.
//
// Delivery is latest-value: Convex promises a subscriber a value newer
// than the last it saw, not every intermediate one, so each subscriber
// holds at most one pending value, a slow reader skips to the newest, and
// a reader that never reads neither blocks anyone nor grows memory.
//
// SubscribeAll delivers several queries together, each snapshot
// consistent at one database timestamp.
//
// # Values
//
// Arguments and results are Convex values, mapped as JavaScript maps them:
// Go integers and floats are Float64 (a schema's v.number()), exactly or
// not at all; an Int64 (v.int64()) is explicit, with the Int64 type or a
// `convex:"int64"` field tag; []byte is Bytes; structs follow their
// json tags. Package protocol documents the whole mapping.
//
// # Mutations, actions and one-shot queries
//
// Mutation and Action run over the socket. A mutation returns once its
// effects are visible in this client's subscriptions; one whose answer is
// lost in a reconnect is re-sent and run once by the deployment. An action
// cut off by a reconnect fails with an error matching ErrConnectionLost,
// since actions are not idempotent. Query runs a query once over HTTP
// (identical concurrent calls share one request, except with one started
// before this client's last write returned), or over the socket with
// ViaSocket.
//
// # Connection
//
// The client reconnects on its own with jittered exponential backoff (100
// ms to 16 s), re-subscribes and re-sends what must be re-sent; subscribers
// keep their latest values meanwhile. ConnectionState, WaitForState and
// WithStateChange report where the socket stands; Status and WaitForStatus
// add the failed attempts, the last connection error and the time of the
// next attempt. Each handshake is bounded (WithHandshakeTimeout). The
// client offers permessage-deflate, so that the deployment compresses
// what it sends (WithCompression turns it off). A FatalError from the
// deployment stops the client for good.
//
// # Errors
//
// A function that throws gives a *FunctionError; when it threw a
// ConvexError, HasData is set and Data holds the error's data. A result
// that does not fit the requested Go type gives a *DecodeError. Calls on
// a closed client return ErrClosed. Every blocking call takes a context
// and returns its error when it ends first; a call whose context ends while
// the client is not connected returns a *ConnectionError, which matches
// both the context's error and the last connection error.
//
// # Goroutines
//
// A Client runs one owner goroutine that drives the protocol engine
// (package subscription), plus a reader and a writer per socket and a
// dialer while connecting. Close stops and waits for all of them.
package client
