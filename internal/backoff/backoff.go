// Package backoff computes reconnect delays the way the official Convex
// JavaScript client does: an initial delay chosen by why the socket closed,
// doubled after each failed attempt, capped at 16 seconds, with ±50%
// jitter, and reset once the client has re-synced.
//
// It is pure: it reads no clock and starts no goroutine; randomness comes
// from a function the caller may replace.
package backoff

import (
	"math/rand/v2"
	"strings"
	"time"
)

// Initial delays by cause.
const (
	ClientInitiated = 100 * time.Millisecond  // the client closed the socket itself
	ServerDefault   = 1000 * time.Millisecond // an unknown server close reason
	Overloaded      = 3000 * time.Millisecond // the deployment said it is busy
	// Max caps the doubled delay before jitter.
	Max = 16 * time.Second
)

// Cause says why the last socket ended.
type Cause struct {
	// ClientInitiated is true when the client closed the socket itself
	// (inactivity timeout, failed write).
	ClientInitiated bool
	// ServerReason is the close reason the deployment sent, if any.
	ServerReason string
}

var reasonPrefixes = []struct {
	prefix string
	delay  time.Duration
}{
	{"InternalServerError", ServerDefault},
	{"SubscriptionsWorkerFullError", Overloaded},
	{"TooManyConcurrentRequests", Overloaded},
	{"CommitterFullError", Overloaded},
	{"AwsTooManyRequestsException", Overloaded},
	{"ExecuteFullError", Overloaded},
	{"SystemTimeoutError", Overloaded},
	{"ExpiredInQueue", Overloaded},
	{"VectorIndexesUnavailable", ServerDefault},
	{"SearchIndexesUnavailable", ServerDefault},
	{"TableSummariesUnavailable", ServerDefault},
	{"VectorIndexTooLarge", Overloaded},
	{"SearchIndexTooLarge", Overloaded},
	{"TooManyWritesInTimePeriod", Overloaded},
}

// InitialDelay returns the starting delay for a cause.
func InitialDelay(c Cause) time.Duration {
	if c.ClientInitiated {
		return ClientInitiated
	}
	for _, p := range reasonPrefixes {
		if strings.HasPrefix(c.ServerReason, p.prefix) {
			return p.delay
		}
	}
	return ServerDefault
}

// Backoff counts failed attempts since the last reset. The zero value is
// not usable; call New. It is not safe for concurrent use.
type Backoff struct {
	rnd     func() float64
	retries int
	scale   float64
}

// New returns a Backoff drawing jitter from rnd, a source of numbers in
// [0, 1); nil means math/rand/v2.Float64.
func New(rnd func() float64) *Backoff {
	if rnd == nil {
		rnd = rand.Float64
	}
	return &Backoff{rnd: rnd, scale: 1}
}

// Scaled multiplies every delay by f (tests use it to run many reconnects
// quickly); f must be positive.
func (b *Backoff) Scaled(f float64) *Backoff {
	if f > 0 {
		b.scale = f
	}
	return b
}

// Next returns the delay before the next attempt and counts the attempt:
// min(initial·2^retries, Max) scaled by a random factor in [0.5, 1.5).
func (b *Backoff) Next(c Cause) time.Duration {
	d := InitialDelay(c)
	for i := 0; i < b.retries && d < Max; i++ {
		d *= 2
	}
	d = min(d, Max)
	b.retries++
	f := b.rnd()
	if f < 0 || f >= 1 {
		f = 0.5
	}
	return time.Duration(float64(d) * (0.5 + f) * b.scale)
}

// Reset starts counting from zero again, after the client re-synced.
func (b *Backoff) Reset() { b.retries = 0 }

// Retries returns how many delays were handed out since the last Reset.
func (b *Backoff) Retries() int { return b.retries }
