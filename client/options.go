package client

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/convexgo/convex/transport"
)

// Option configures a Client. Options are applied in order by New.
type Option func(*config) error

type config struct {
	httpClient        *http.Client
	logger            *slog.Logger
	readLimit         int64
	inactivityTimeout time.Duration
	writeTimeout      time.Duration
	handshakeTimeout  time.Duration
	compression       transport.Compression
	httpTimeout       time.Duration
	onStateChange     func(ConnectionState)
	rand              func() float64
	backoffScale      float64
	refreshTimer      func(time.Duration) (<-chan time.Time, func() bool)
}

func defaultConfig() config {
	return config{
		readLimit:         DefaultReadLimit,
		inactivityTimeout: 60 * time.Second,
		writeTimeout:      10 * time.Second,
		handshakeTimeout:  transport.DefaultHandshakeTimeout,
		compression:       transport.CompressionReceive, // see WithCompression
		httpTimeout:       DefaultHTTPTimeout,
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

// DefaultReadLimit is the largest WebSocket message the client accepts by
// default: 256 MiB. A deployment sends each Transition whole to this
// client (it splits Transitions into 5 MB TransitionChunks only for npm
// clients from 1.28.0 on; crates/local_backend/src/subs/mod.rs), and one
// Transition carries every changed query result, all of them in the
// re-sync after a reconnect; the backend bounds no Transition's size. One
// query result may be 16 MiB by Convex's size measure (knob
// FUNCTION_MAX_RESULT_SIZE, crates/common/src/knobs.rs), which counts a
// number or an Int64 as 9 bytes and null or a boolean as 1, so its JSON
// text can be several times that: about 3 times for arrays of numbers
// ($integer or 17-digit floats), up to 5 for booleans. 256 MiB holds a
// worst-case result of about 80 MiB of JSON three times over, or a re-sync
// of a dozen results at the limit with typical 1.5-2x JSON overhead; it is
// also the bound the engine sets on a Transition reassembled from chunks.
// The limit is a ceiling, not an allocation: memory grows only with the
// messages that actually arrive.
const DefaultReadLimit = 256 << 20

// WithReadLimit sets the largest WebSocket message the client accepts, in
// bytes (default DefaultReadLimit). A larger message ends the socket: the
// subscribers get an error matching ErrMessageTooBig from Next, the
// connection status reports it, and the client reconnects with a backoff
// that keeps growing (to its 16-second cap) for as long as the message
// keeps coming.
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

// WithHandshakeTimeout bounds each WebSocket handshake: a deployment (or a
// proxy in front of it) that accepts the connection and never answers
// counts as a failed attempt after d, and the client retries with its
// backoff. The default is 60 seconds, as the official client, whose
// inactivity timer starts when it creates the socket.
func WithHandshakeTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("convex: handshake timeout %v is not positive", d)
		}
		c.handshakeTimeout = d
		return nil
	}
}

// WithCompression sets whether the client offers permessage-deflate
// (RFC 7692) on its WebSocket, so that the deployment compresses the
// messages it sends. It is on by default. The client sends its own
// messages uncompressed either way: they are small, compressing them
// would keep a 1.2 MB compressor per socket, and this way the auth token
// it sends never shares a compression context with other data.
//
// The real backend accepts the offer (convex-backend
// crates/common/src/http/websocket.rs, used by the sync handler in
// crates/local_backend/src/subs/mod.rs), as it does from the official
// JavaScript client, whose browsers and ws package offer it by default.
// A deployment or proxy that declines it gets an uncompressed socket that
// works the same; so does WithCompression(false).
//
// What it costs: the client inflates each compressed message, 0.05-0.5
// ms for a 57 KB query result on a 2-core VM, and keeps a 32 KiB window
// per socket. What it saves: that result arrives as 2-34 KB instead of
// 58 KB, depending on how repetitive it is (BENCHMARKS.md,
// "permessage-deflate"). At 100 Mbit/s that is 2-4.5 ms less transfer per
// update, ten times that at 10 Mbit/s, and fewer round trips while TCP's
// window is small. The default was chosen from those figures: it stops
// paying off only near 1 Gbit/s or more per connection, such as a
// deployment on the same host or LAN, where over loopback it added up to
// 1 ms per 57 KB update. Turn it off there if large results and their
// latency matter.
func WithCompression(on bool) Option {
	return func(c *config) error {
		c.compression = transport.CompressionOff
		if on {
			c.compression = transport.CompressionReceive
		}
		return nil
	}
}

// withCompressionMode sets the transport's compression mode directly
// (tests and benchmarks).
func withCompressionMode(m transport.Compression) Option {
	return func(c *config) error {
		c.compression = m
		return nil
	}
}

// DefaultHTTPTimeout is how long one HTTP request of the client may take
// by default, from sending it to reading the whole response. Convex runs a
// query for at most a second of function time, so a minute leaves room
// for queueing and large results on slow links.
const DefaultHTTPTimeout = 60 * time.Second

// WithHTTPTimeout bounds every HTTP request the client makes itself (the
// one-shot queries of QueryRaw and Query), from sending it to reading the
// whole response; the caller's ctx may end it sooner. The default is
// DefaultHTTPTimeout. The WebSocket handshake has its own bound, see
// WithHandshakeTimeout.
func WithHTTPTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("convex: HTTP timeout %v is not positive", d)
		}
		c.httpTimeout = d
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
