package client

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// Option configures a Client. Options are applied in order by New.
type Option func(*config) error

type config struct {
	httpClient        *http.Client
	logger            *slog.Logger
	readLimit         int64
	inactivityTimeout time.Duration
	writeTimeout      time.Duration
	onStateChange     func(ConnectionState)
	rand              func() float64
	backoffScale      float64
	refreshTimer      func(time.Duration) (<-chan time.Time, func() bool)
}

func defaultConfig() config {
	return config{
		readLimit:         16 << 20,
		inactivityTimeout: 60 * time.Second,
		writeTimeout:      10 * time.Second,
	}
}

// WithHTTPClient sets the HTTP client used for one-shot queries and for the
// WebSocket handshake. The default is a dedicated client with keep-alive;
// http.DefaultClient is never touched.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *config) error {
		if hc == nil {
			return fmt.Errorf("convex: WithHTTPClient(nil)")
		}
		c.httpClient = hc
		return nil
	}
}

// WithLogger sets where the client logs reconnects and protocol problems.
// The default discards everything.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return fmt.Errorf("convex: WithLogger(nil)")
		}
		c.logger = l
		return nil
	}
}

// WithReadLimit sets the largest WebSocket message the client accepts, in
// bytes. The default, 16 MiB, holds real transitions; a larger message
// fails the connection with a clear error.
func WithReadLimit(n int64) Option {
	return func(c *config) error {
		if n < 1<<10 {
			return fmt.Errorf("convex: read limit %d is below 1 KiB", n)
		}
		c.readLimit = n
		return nil
	}
}

// WithInactivityTimeout sets how long the client waits without hearing
// from the deployment before it reconnects. The deployment pings every 15
// seconds; the default is 60 seconds.
func WithInactivityTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("convex: inactivity timeout %v is not positive", d)
		}
		c.inactivityTimeout = d
		return nil
	}
}

// WithStateChange registers f to be called with each new connection state.
// Calls are made one at a time, in order, from a goroutine of the client's
// own, never from the one that drives the connection, so f may block
// briefly but should not call back into the Client and wait on it.
func WithStateChange(f func(ConnectionState)) Option {
	return func(c *config) error {
		c.onStateChange = f
		return nil
	}
}

// withRand replaces the backoff's random source (tests).
func withRand(f func() float64) Option {
	return func(c *config) error {
		c.rand = f
		return nil
	}
}

// withBackoffScale shortens reconnect delays (tests).
func withBackoffScale(f float64) Option {
	return func(c *config) error {
		c.backoffScale = f
		return nil
	}
}

// withRefreshTimer replaces the timer of scheduled token refreshes
// (tests): f is called on the owner goroutine, must not block, and returns
// the channel that fires and a function that stops it.
func withRefreshTimer(f func(time.Duration) (<-chan time.Time, func() bool)) Option {
	return func(c *config) error {
		c.refreshTimer = f
		return nil
	}
}
