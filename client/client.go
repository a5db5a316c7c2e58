package client

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/convexgo/convex/internal/backoff"
	"github.com/convexgo/convex/protocol"
	"github.com/convexgo/convex/transport"
)

// Client is a connection to one Convex deployment. It multiplexes every
// subscription, mutation and action of the process over one WebSocket,
// reconnecting as needed, and runs one-shot queries over HTTP.
//
// A Client is safe for concurrent use. Create one per deployment and
// process with New, and Close it when done. The zero Client is not
// usable: its methods return ErrNotInitialized and Close does nothing.
type Client struct {
	cfg        config
	deployment string // the deployment URL, without trailing '/'
	httpBase   string
	httpClient *http.Client
	log        *slog.Logger
	flights    flightGroup   // shared one-shot HTTP queries
	writeGen   atomic.Uint64 // bumped when a mutation or action completes

	// lifetime ends when Close is called; every goroutine watches it.
	lifetime context.Context
	cancel   context.CancelFunc

	cmds      chan func(*owner) // run on the owner goroutine
	ownerDone chan struct{}     // closed when the owner goroutine has returned
	wg        sync.WaitGroup    // every goroutine the client started, but token fetches
	// fetches counts the goroutines calling a token provider. Close does
	// not wait for them: a provider may ignore its ctx. Each ends when its
	// provider call returns.
	fetches   sync.WaitGroup
	closeOnce sync.Once
	state     *stateNotifier
	callbacks *callbackQueue
	live      liveGroups             // live query groups by token, for subscribing without the owner
	paged     pagedQueries           // live paginated queries, for sharing them
	authToken atomic.Pointer[string] // the Authorization header of one-shot HTTP calls
}

// New creates a Client for the deployment at deploymentURL (for example
// https://happy-animal-123.convex.cloud, or http://127.0.0.1:3210 for a
// local one) and starts connecting in the background. A .convex.site URL
// (where a deployment serves HTTP actions) is refused with an error that
// names the .convex.cloud URL. It does not wait for
// the connection: calls made before it is up are queued.
func New(deploymentURL string, opts ...Option) (*Client, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	base, err := parseDeploymentURL(deploymentURL)
	if err != nil {
		return nil, err
	}
	if _, err := transport.WebSocketURL(base); err != nil {
		return nil, err
	}
	hc := cfg.httpClient
	if hc == nil {
		hc = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	log := cfg.logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Client{
		cfg:        cfg,
		deployment: base,
		httpBase:   base,
		httpClient: hc,
		log:        log,
		cmds:       make(chan func(*owner)),
		ownerDone:  make(chan struct{}),
		callbacks:  newCallbackQueue(),
	}
	c.state = newStateNotifier(cfg.onStateChange, c.callbacks)
	c.lifetime, c.cancel = context.WithCancel(context.Background())
	o := newOwner(c, newSessionID())
	c.wg.Add(2)
	go func() {
		defer c.wg.Done()
		c.callbacks.run(c.ownerDone)
	}()
	go func() {
		defer c.wg.Done()
		defer close(c.ownerDone)
		o.run()
	}()
	return c, nil
}

// Close stops the client: it closes the socket, ends every subscription
// and fails every pending call with ErrClosed, and waits for every
// goroutine the client started, except a call to the auth token provider
// in progress: its ctx is cancelled, but Close does not wait for a
// provider that ignores it. That call's goroutine ends as soon as the
// provider returns, and its result is dropped. It is safe to call more
// than once.
func (c *Client) Close() error {
	if c.cancel == nil {
		return nil // the zero Client: nothing to close
	}
	c.closeOnce.Do(func() {
		c.cancel()
		c.flights.close()
		c.wg.Wait()
		if c.cfg.httpClient == nil {
			c.httpClient.CloseIdleConnections()
		}
	})
	return nil
}

// OnStateChange registers f to be called with each new connection state,
// from the same goroutine and with the same rules as WithStateChange's
// callback (in order, never from the goroutine that drives the
// connection). Any number may be registered, at any time; remove stops the
// calls (one already queued may still run).
func (c *Client) OnStateChange(f func(ConnectionState)) (remove func(), err error) {
	if c.state == nil {
		return func() {}, ErrNotInitialized
	}
	if f == nil {
		return func() {}, errors.New("convex: OnStateChange(nil)")
	}
	return c.state.add(f), nil
}

// ConnectionState returns the current state of the client's WebSocket.
func (c *Client) ConnectionState() ConnectionState {
	if c.state == nil {
		return Closed
	}
	return c.state.now()
}

// WaitForState blocks until the connection state satisfies ok, or ctx ends.
// Once the client is Closed, the state never changes again, so
// WaitForState returns at once with ErrClosed if ok rejects Closed.
func (c *Client) WaitForState(ctx context.Context, ok func(ConnectionState) bool) (ConnectionState, error) {
	st, err := c.WaitForStatus(ctx, func(st ConnectionStatus) bool { return ok(st.State) })
	return st.State, err
}

// Status returns the connection state with its details: the failed
// attempts since the client was last in sync, the last connection error
// and the time of the next attempt.
func (c *Client) Status() ConnectionStatus {
	if c.state == nil {
		return ConnectionStatus{State: Closed, LastError: ErrNotInitialized}
	}
	return c.state.status()
}

// WaitForStatus blocks until the connection status satisfies ok, or ctx
// ends; it then returns the status it saw last. ok is called on every
// change of the status, from the caller's goroutine.
func (c *Client) WaitForStatus(ctx context.Context, ok func(ConnectionStatus) bool) (ConnectionStatus, error) {
	if c.state == nil {
		return c.Status(), ErrNotInitialized
	}
	for {
		st, changed := c.state.get()
		if ok(st) {
			return st, nil
		}
		if st.State == Closed {
			return st, ErrClosed
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return st, ctx.Err()
		}
	}
}

// do runs f on the owner goroutine and returns once it has run. It fails
// with ErrClosed after Close and with ctx's error if ctx ends first; f
// never runs in those cases. The owner runs f as soon as it takes it and
// f never blocks, so the wait is short.
func (c *Client) do(ctx context.Context, f func(*owner)) error {
	if c.cmds == nil {
		return ErrNotInitialized
	}
	done := make(chan struct{})
	select {
	case c.cmds <- func(o *owner) { f(o); close(done) }:
		<-done
		return nil
	case <-c.ownerDone:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// doAsync runs f on the owner goroutine without a caller context; it is
// for cleanup (closing a subscription) and gives up once the client closes.
func (c *Client) doAsync(f func(*owner)) {
	if c.cmds == nil {
		return
	}
	select {
	case c.cmds <- f:
	case <-c.ownerDone:
	}
}

func newSessionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])      // crypto/rand.Read never fails
	b[6] = (b[6] & 0x0f) | 0x40 // version 4
	b[8] = (b[8] & 0x3f) | 0x80 // RFC 4122 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// parseDeploymentURL checks a deployment URL and returns it without
// trailing slashes.
func parseDeploymentURL(deploymentURL string) (string, error) {
	base := strings.TrimRight(deploymentURL, "/")
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("convex: bad deployment URL %q: %w", deploymentURL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("convex: deployment URL %q must be http:// or https:// with a host", deploymentURL)
	}
	if host := strings.ToLower(u.Hostname()); strings.HasSuffix(host, ".convex.site") {
		// As the official client's validateDeploymentUrl: .convex.site
		// serves HTTP actions, the sync and function APIs are on
		// .convex.cloud.
		cloud := *u
		cloud.Host = strings.TrimSuffix(host, ".convex.site") + ".convex.cloud"
		if p := u.Port(); p != "" {
			cloud.Host += ":" + p
		}
		return "", fmt.Errorf("convex: deployment URL %q is a .convex.site URL, which serves HTTP actions; use the deployment's .convex.cloud URL, %s", deploymentURL, cloud.String())
	}
	return base, nil
}

// encodeArgs turns user arguments into canonical Convex JSON.
func encodeArgs(kind, path string, args any) (json.RawMessage, error) {
	if err := protocol.ValidateUDFPath(path); err != nil {
		return nil, err
	}
	b, err := protocol.EncodeArgs(args)
	if err != nil {
		return nil, wrapErr(kind+" "+path, err)
	}
	return b, nil
}

// newBackoff builds the reconnect backoff with the configured random
// source and scale.
func (c *Client) newBackoff() *backoff.Backoff {
	return backoff.New(c.cfg.rand).Scaled(c.cfg.backoffScale)
}
