package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/convexgo/convex/protocol"
	"github.com/convexgo/convex/transport"
)

// ErrClosed is returned by calls on a Client, or a Subscription, that has
// been closed.
var ErrClosed = errors.New("convex: client closed")

// ErrNotInitialized is returned by the methods of a zero Client,
// Subscription, RawSubscription, SnapshotSubscription or AuthBoundary:
// they are made by New, Subscribe, SubscribeRaw, SubscribeAll and
// WatchAuth, and their zero values are not usable (Close on them does
// nothing).
var ErrNotInitialized = errors.New("convex: not made by this package's constructors (zero value)")

// ErrConnectionLost is matched (errors.Is) by the error of an action that
// was sent but whose connection dropped before it answered. Actions are not
// idempotent, so the client does not re-send them; retry only if the action
// is safe to repeat.
var ErrConnectionLost = errors.New("convex: connection lost while action was in flight")

// FunctionError is a Convex function that ran and failed: a query, mutation
// or action that threw. When it threw a ConvexError, HasData is true and
// Data holds the error's data (decoded as protocol.DecodeValue does).
//
//	var fe *client.FunctionError
//	if errors.As(err, &fe) && fe.HasData { ... fe.Data ... }
type FunctionError struct {
	Kind     string // "query", "mutation" or "action"
	Path     string // the function path as called
	Message  string // the deployment's error message
	HasData  bool   // the function threw a ConvexError
	Data     any    // the ConvexError's data (may be nil even when HasData)
	RawData  json.RawMessage
	LogLines []string

	cause error // ErrConnectionLost for actions cut off by a reconnect
}

// Unwrap returns ErrConnectionLost for an action whose connection dropped
// while it ran, and nil otherwise.
func (e *FunctionError) Unwrap() error { return e.cause }

// Error describes the failure.
func (e *FunctionError) Error() string {
	return fmt.Sprintf("convex: %s %s failed: %s", e.Kind, e.Path, e.Message)
}

// DataAs decodes the ConvexError data into v (see protocol.Unmarshal).
func (e *FunctionError) DataAs(v any) error {
	if !e.HasData {
		return fmt.Errorf("convex: %s %s failed without ConvexError data", e.Kind, e.Path)
	}
	return protocol.Unmarshal(e.RawData, v)
}

// newFunctionError builds a FunctionError from the wire's message and raw
// error data (nil when absent).
func newFunctionError(kind, path, msg string, rawData json.RawMessage, logLines []string) *FunctionError {
	fe := &FunctionError{Kind: kind, Path: path, Message: msg, LogLines: logLines}
	if rawData != nil {
		fe.HasData, fe.RawData = true, rawData
		if v, err := protocol.DecodeValue(rawData); err == nil {
			fe.Data = v
		} else {
			fe.Message += fmt.Sprintf(" (and its error data could not be decoded: %v)", err)
		}
	}
	return fe
}

// ConnectionError is the error of a call whose ctx ended while the client
// was not connected: it says why. It matches (errors.Is, errors.As) both
// ctx's error (context.DeadlineExceeded or context.Canceled) and the last
// connection error, such as a *transport.DialError.
type ConnectionError struct {
	Kind  string // "mutation", "action" or "query"
	Path  string
	Err   error           // ctx's error
	State ConnectionState // the state when ctx ended: Connecting or Reconnecting
	// Attempts is the number of failed connection attempts since the
	// client was last in sync (see ConnectionStatus).
	Attempts int
	// Cause is the last connection error, or nil before the first attempt
	// failed (the first handshake was still under way).
	Cause error
}

// Error describes the failure and its cause.
func (e *ConnectionError) Error() string {
	s := fmt.Sprintf("convex: %s %s: %v while %s", e.Kind, e.Path, e.Err, e.State)
	if e.Cause == nil {
		return s + " (the first connection attempt has not finished)"
	}
	return fmt.Sprintf("%s after %d failed connection attempt(s); last error: %v", s, e.Attempts, e.Cause)
}

// Unwrap returns ctx's error and the last connection error.
func (e *ConnectionError) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Err}
	}
	return []error{e.Err, e.Cause}
}

// whyNot returns ctxErr, or a *ConnectionError around it when the client is
// not connected, so that a call that times out offline says why.
func (c *Client) whyNot(kind, path string, ctxErr error) error {
	st := c.Status()
	if st.State != Connecting && st.State != Reconnecting {
		return ctxErr
	}
	return &ConnectionError{Kind: kind, Path: path, Err: ctxErr, State: st.State, Attempts: st.Attempts, Cause: st.LastError}
}

// HTTPError is a response of the HTTP function API that is not a function
// result: a bad request, an auth failure, an overload. Code is the
// deployment's short error code, such as "Unauthenticated".
type HTTPError struct {
	StatusCode int
	Code       string
	Message    string
}

// Error describes the failure.
func (e *HTTPError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("convex: HTTP %d: %s", e.StatusCode, e.Message)
	}
	return fmt.Sprintf("convex: HTTP %d %s: %s", e.StatusCode, e.Code, e.Message)
}

// AuthError reports whether the deployment refused the request's
// credentials (HTTP 401).
func (e *HTTPError) AuthError() bool { return e.StatusCode == 401 }

// FatalError is the deployment's FatalError: it refused the connection for
// a reason retrying cannot fix, and the client has stopped for good.
type FatalError struct {
	Message string
}

// Error describes the failure.
func (e *FatalError) Error() string { return "convex: fatal error from deployment: " + e.Message }

// AuthError is the deployment rejecting the client's auth token.
type AuthError struct {
	Message string
}

// Error describes the failure.
func (e *AuthError) Error() string { return "convex: authentication failed: " + e.Message }

// AuthError reports true; tokenprovider.IsAuthError recognises it by this
// method.
func (e *AuthError) AuthError() bool { return true }

// DecodeError reports a result that does not fit the Go type it was
// decoded into.
type DecodeError struct {
	Path string
	Err  error
}

// Error describes the failure.
func (e *DecodeError) Error() string {
	return "convex: decoding result of " + e.Path + ": " + e.Err.Error()
}

// Unwrap returns the underlying *protocol.ValueError.
func (e *DecodeError) Unwrap() error { return e.Err }

// isTerminal reports whether err ends a subscription's stream.
func isTerminal(ctx context.Context, err error) bool {
	var fatal *FatalError
	return ctx.Err() != nil || errors.Is(err, ErrClosed) || errors.As(err, &fatal)
}

// ErrMessageTooBig is matched (errors.Is) by the error subscribers get
// from Next, and the connection status reports, when the deployment sent
// a message larger than the read limit (WithReadLimit). The client keeps
// reconnecting with a growing backoff while it does.
var ErrMessageTooBig = transport.ErrMessageTooBig

// wrapErr adds context to err: "convex: <context>: <err>", saying
// "convex:" once even when err is one of this module's errors, which say
// it themselves. errors.Is and errors.As see err.
func wrapErr(context string, err error) error {
	return &wrappedError{msg: "convex: " + context + ": " + strings.TrimPrefix(err.Error(), "convex: "), err: err}
}

type wrappedError struct {
	msg string
	err error
}

func (e *wrappedError) Error() string { return e.msg }
func (e *wrappedError) Unwrap() error { return e.err }
