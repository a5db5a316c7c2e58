// Package transport carries the Convex sync protocol's WebSocket frames:
// it dials with the right URL and headers, reads and writes text frames
// with a read limit and an inactivity timeout, and says why a socket
// closed. It knows nothing of Convex messages; package client encodes and
// decodes them.
package transport

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/convexgo/convex/internal/version"
)

// Defaults of Options.
const (
	DefaultReadLimit         = 256 << 20 // see client.DefaultReadLimit
	DefaultInactivityTimeout = 60 * time.Second
	DefaultWriteTimeout      = 10 * time.Second
	// DefaultHandshakeTimeout bounds the WebSocket handshake. The official
	// JavaScript client starts its 60-second server-inactivity timer when
	// it creates the socket, so a handshake that hangs is given up after
	// 60 seconds there too.
	DefaultHandshakeTimeout = 60 * time.Second
)

// Options configures Dial. A nil *Options means the defaults; Dial never
// modifies the value it is given.
type Options struct {
	// HTTPClient performs the handshake; nil means http.DefaultClient's
	// transport via coder/websocket's default.
	HTTPClient *http.Client
	// Header holds extra handshake headers. Convex-Client is always set.
	Header http.Header
	// ReadLimit is the largest message accepted, in bytes (default 256 MiB).
	ReadLimit int64
	// InactivityTimeout is how long Read waits for a frame before the
	// socket counts as dead (default 60 s).
	InactivityTimeout time.Duration
	// WriteTimeout bounds each Write (default 10 s).
	WriteTimeout time.Duration
	// HandshakeTimeout bounds Dial: the TCP and TLS set-up, the upgrade
	// request and its response (default 60 s). A deployment that accepts
	// the connection and never answers fails Dial with an error matching
	// ErrHandshakeTimeout.
	HandshakeTimeout time.Duration
	// Compression says whether Dial offers permessage-deflate and whether
	// this side compresses what it sends; the zero value offers nothing.
	Compression Compression
}

// Compression is what a Conn offers and does with permessage-deflate
// (RFC 7692). Whatever is offered, the deployment decides: a socket where
// it declines carries uncompressed frames and works the same.
//
// The real backend accepts exactly two offers, "permessage-deflate" and
// "permessage-deflate; client_max_window_bits", and answers the bare
// "permessage-deflate" (context takeover both ways); it declines any
// other form, such as one with *_no_context_takeover
// (convex-backend crates/common/src/http/websocket.rs, lines 361-385 and
// 245-251). So both modes that offer it send the bare offer:
// coder/websocket's CompressionNoContextTakeover would be declined.
type Compression int

const (
	// CompressionOff offers no extension; every frame is uncompressed.
	CompressionOff Compression = iota
	// CompressionReceive offers "permessage-deflate" and, once it is
	// accepted, reads the deployment's compressed messages but sends its
	// own uncompressed (RFC 7692 lets each message choose). It keeps a
	// 32 KiB window of what it has read and borrows a 44 KB decompressor
	// from a pool for each compressed message, but never allocates the
	// 1.2 MB compressor (compress/flate's Writer) that coder/websocket
	// keeps per socket for context takeover; and the client's own
	// messages (auth tokens among them) never share a compression context
	// with other data.
	CompressionReceive
	// CompressionBoth offers the same and also compresses this side's
	// messages of 128 bytes or more, with context takeover: that costs the
	// 1.2 MB compressor per socket, from the first such message until the
	// socket closes, and saves little, since a client's messages are small.
	CompressionBoth
)

// noSendCompression is a CompressionThreshold no message reaches, so that
// CompressionReceive never compresses (nor allocates a compressor).
const noSendCompression = math.MaxInt

func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
	}
	if c.ReadLimit <= 0 {
		c.ReadLimit = DefaultReadLimit
	}
	if c.InactivityTimeout <= 0 {
		c.InactivityTimeout = DefaultInactivityTimeout
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	return c
}

// WebSocketURL maps a deployment URL to its sync endpoint: http becomes ws
// and https wss (ws and wss are kept), trailing slashes are dropped, and
// /api/sync is appended: the path the official Rust client uses. (A
// version in the path would make the deployment take the client for npm
// at that version if a proxy dropped the Convex-Client header.)
func WebSocketURL(deploymentURL string) (string, error) {
	u, err := url.Parse(strings.TrimRight(deploymentURL, "/"))
	if err != nil {
		return "", fmt.Errorf("convex: bad deployment URL %q: %w", deploymentURL, err)
	}
	switch u.Scheme {
	case "http", "ws":
		u.Scheme = "ws"
	case "https", "wss":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("convex: deployment URL %q: scheme must be http or https", deploymentURL)
	}
	if u.Host == "" {
		return "", fmt.Errorf("convex: deployment URL %q has no host", deploymentURL)
	}
	u.Path = strings.TrimRight(u.Path, "/") + "/api/sync"
	u.RawQuery, u.Fragment = "", ""
	return u.String(), nil
}

// Conn is one WebSocket to a deployment. Read and Write may be called
// concurrently with each other and with Close; do not call Read from two
// goroutines at once.
type Conn struct {
	ws         *websocket.Conn
	opts       Options
	compressed bool

	closeOnce sync.Once
	mu        sync.Mutex
	endErr    error // why the socket ended, once known
}

// Dial opens a socket to the deployment's sync endpoint, sending the
// header Convex-Client: go-<version>. ctx and Options.HandshakeTimeout
// bound the handshake only; every failure is a *DialError.
func Dial(ctx context.Context, deploymentURL string, opts *Options) (*Conn, error) {
	o := opts.withDefaults()
	wsURL, err := WebSocketURL(deploymentURL)
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	for k, v := range o.Header {
		h[k] = append([]string(nil), v...)
	}
	h.Set("Convex-Client", version.ClientHeader)
	hctx, cancel := context.WithTimeout(ctx, o.HandshakeTimeout)
	defer cancel()
	dopts := &websocket.DialOptions{HTTPClient: o.HTTPClient, HTTPHeader: h}
	switch o.Compression {
	case CompressionReceive:
		dopts.CompressionMode = websocket.CompressionContextTakeover
		dopts.CompressionThreshold = noSendCompression
	case CompressionBoth:
		dopts.CompressionMode = websocket.CompressionContextTakeover
	}
	ws, resp, err := websocket.Dial(hctx, wsURL, dopts)
	if err != nil {
		if ctx.Err() == nil && errors.Is(hctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("%w (%v): %w", ErrHandshakeTimeout, o.HandshakeTimeout, err)
		}
		if resp != nil {
			return nil, &DialError{StatusCode: resp.StatusCode, Err: err}
		}
		return nil, &DialError{Err: err}
	}
	ws.SetReadLimit(o.ReadLimit)
	// coder/websocket fails Dial if the answer names an extension it did
	// not offer or cannot honour, so any answer here is permessage-deflate.
	compressed := dopts.CompressionMode != websocket.CompressionDisabled &&
		resp.Header.Get("Sec-WebSocket-Extensions") != ""
	return &Conn{ws: ws, opts: o, compressed: compressed}, nil
}

// Compressed reports whether the deployment accepted permessage-deflate
// for this socket. The read limit applies to messages as decompressed.
func (c *Conn) Compressed() bool { return c.compressed }

// DialError is a failed handshake. StatusCode is the HTTP status when the
// server answered, else 0.
type DialError struct {
	StatusCode int
	Err        error
}

// Error describes the failure.
func (e *DialError) Error() string {
	if e.StatusCode != 0 {
		return fmt.Sprintf("convex: connecting: HTTP %d: %v", e.StatusCode, e.Err)
	}
	return "convex: connecting: " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *DialError) Unwrap() error { return e.Err }

// Errors Read and Write return; Reason maps them to close reasons.
var (
	// ErrInactive: no frame arrived within the inactivity timeout.
	ErrInactive = errors.New("convex: no message from the deployment within the inactivity timeout")
	// ErrMessageTooBig: a message exceeded the read limit.
	ErrMessageTooBig = errors.New("convex: message from the deployment exceeds the read limit")
	// ErrBinaryFrame: the deployment sent a binary frame, which the
	// protocol never uses.
	ErrBinaryFrame = errors.New("convex: unexpected binary frame")
	// ErrHandshakeTimeout: the deployment did not complete the WebSocket
	// handshake within Options.HandshakeTimeout. Dial's *DialError
	// matches it.
	ErrHandshakeTimeout = errors.New("convex: the deployment did not answer the WebSocket handshake in time")
	// ErrClosed: the socket was closed by this side.
	ErrClosed = errors.New("convex: socket closed")
)

// writeError marks a failed write.
type writeError struct{ err error }

func (e *writeError) Error() string { return "convex: sending: " + e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

// Read returns the next text frame. It fails with ErrInactive when no
// frame arrives within the inactivity timeout, with ErrMessageTooBig for an
// oversized message, and with the socket's close error otherwise. Any
// failure ends the socket.
func (c *Conn) Read(ctx context.Context) ([]byte, error) {
	rctx, cancel := context.WithTimeout(ctx, c.opts.InactivityTimeout)
	defer cancel()
	typ, data, err := c.ws.Read(rctx)
	if err != nil {
		switch {
		case ctx.Err() != nil:
			err = ctx.Err()
		case errors.Is(rctx.Err(), context.DeadlineExceeded):
			err = ErrInactive
		case errors.Is(err, websocket.ErrMessageTooBig):
			err = fmt.Errorf("%w (%d bytes): %w", ErrMessageTooBig, c.opts.ReadLimit, err)
		}
		return nil, c.end(err)
	}
	if typ != websocket.MessageText {
		return nil, c.end(ErrBinaryFrame)
	}
	return data, nil
}

// Write sends one text frame, waiting at most the write timeout.
func (c *Conn) Write(ctx context.Context, frame []byte) error {
	wctx, cancel := context.WithTimeout(ctx, c.opts.WriteTimeout)
	defer cancel()
	if err := c.ws.Write(wctx, websocket.MessageText, frame); err != nil {
		if ctx.Err() != nil {
			return c.end(ctx.Err())
		}
		return c.end(&writeError{err})
	}
	return nil
}

// end records the first error that ended the socket and closes it.
func (c *Conn) end(err error) error {
	c.mu.Lock()
	if c.endErr == nil {
		c.endErr = err
	}
	c.mu.Unlock()
	c.closeOnce.Do(func() { c.ws.CloseNow() })
	return err
}

// Close closes the socket with a normal-closure frame carrying reason. It
// is idempotent and safe to call concurrently with Read and Write.
func (c *Conn) Close(reason string) error {
	c.mu.Lock()
	if c.endErr == nil {
		c.endErr = ErrClosed
	}
	c.mu.Unlock()
	c.closeOnce.Do(func() {
		if len(reason) > 123 {
			reason = reason[:123]
		}
		// Bound the close handshake: a peer that never answers must not
		// hold the caller.
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = c.ws.Close(websocket.StatusNormalClosure, reason)
		}()
		select {
		case <-done:
		case <-time.After(time.Second):
			_ = c.ws.CloseNow()
			<-done
		}
	})
	return nil
}

// Reason says why err ended a socket, in the words the official client
// puts in the next Connect's lastCloseReason, and whether this side closed
// it (which picks the short backoff): the deployment's close reason
// verbatim, "closed with code N" when it gave none, "InactiveServer" after
// the inactivity timeout or a handshake timeout (the official client's
// inactivity timer covers the handshake too), "FailedToSendMessage" after
// a failed write.
func Reason(err error) (reason string, clientInitiated bool) {
	var we *writeError
	switch {
	case err == nil:
		return "", false
	case errors.Is(err, ErrInactive), errors.Is(err, ErrHandshakeTimeout):
		return "InactiveServer", true
	case errors.As(err, &we):
		return "FailedToSendMessage", true
	case errors.Is(err, ErrMessageTooBig):
		return "MessageTooBig", true
	case errors.Is(err, ErrBinaryFrame):
		return "UnexpectedBinaryFrame", true
	case errors.Is(err, ErrClosed), errors.Is(err, context.Canceled):
		return "ClientClosed", true
	}
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		if ce.Reason != "" {
			return ce.Reason, false
		}
		return fmt.Sprintf("closed with code %d", int(ce.Code)), false
	}
	var de *DialError
	if errors.As(err, &de) {
		if de.StatusCode != 0 {
			return fmt.Sprintf("connect failed with HTTP %d", de.StatusCode), false
		}
		return "connect failed", false
	}
	// The TCP connection ended without a close frame.
	return "closed with code 1006", false
}
