// Package mailbox provides a latest-value slot for slow consumers.
//
// A producer Puts values without ever blocking; each Put replaces any value
// the consumer has not taken yet. The consumer's Next returns a value newer
// than the last one it took. Memory stays bounded whatever the consumer
// does, and a stuck consumer never delays the producer. This is the right
// delivery for Convex query results: a subscriber is promised a value newer
// than the last it saw, not every intermediate value.
package mailbox

import (
	"context"
	"sync"
)

// Mailbox holds the newest value put into it. It is safe for one producer
// and any number of readers; every reader shares one cursor, so use one
// Mailbox per consumer.
type Mailbox[T any] struct {
	mu      sync.Mutex
	val     T
	seq     uint64        // sequence number of val; 0 = nothing put yet
	taken   uint64        // sequence number of the last value Next returned
	notify  chan struct{} // one-slot signal: something changed
	closed  bool
	closeEr error
}

// New returns an empty Mailbox.
func New[T any]() *Mailbox[T] {
	return &Mailbox[T]{notify: make(chan struct{}, 1)}
}

// Put stores v as the newest value and wakes a waiting reader. It never
// blocks. Puts after Close are dropped.
func (m *Mailbox[T]) Put(v T) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.val = v
	m.seq++
	m.mu.Unlock()
	m.signal()
}

func (m *Mailbox[T]) signal() {
	select {
	case m.notify <- struct{}{}:
	default:
	}
}

// Next returns the newest value if it is newer than the last one Next
// returned, and otherwise waits for one. After Close it first returns a
// value put before Close and not yet taken, then the close error. It
// returns ctx's error if ctx ends first.
func (m *Mailbox[T]) Next(ctx context.Context) (T, error) {
	for {
		m.mu.Lock()
		if m.seq > m.taken {
			m.taken = m.seq
			v := m.val
			m.mu.Unlock()
			return v, nil
		}
		if m.closed {
			err := m.closeEr
			m.mu.Unlock()
			var zero T
			return zero, err
		}
		m.mu.Unlock()
		select {
		case <-m.notify:
		case <-ctx.Done():
			var zero T
			return zero, ctx.Err()
		}
	}
}

// Latest returns the newest value and its sequence number without waiting
// and without moving Next's cursor; ok is false if nothing was put yet.
func (m *Mailbox[T]) Latest() (v T, seq uint64, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.val, m.seq, m.seq > 0
}

// Changed returns a channel that receives when a value is put or the
// mailbox closes, for select loops. The signal is shared with Next: use
// one or the other.
func (m *Mailbox[T]) Changed() <-chan struct{} { return m.notify }

// Close ends the mailbox with err (which must not be nil): later Puts are
// dropped, and once any untaken value has been taken Next returns err.
// Only the first Close counts.
func (m *Mailbox[T]) Close(err error) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.closed, m.closeEr = true, err
	m.mu.Unlock()
	m.signal()
}
