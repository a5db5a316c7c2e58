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
//
// Waiting is built for the usual reader, one goroutine calling Next in a
// loop with the same context. That reader (the primary waiter) waits on a
// one-slot channel alone, and its context's cancellation reaches it through
// a context.AfterFunc registered once, the second time in a row it waits
// with the same context. Waiting with select on the channel and ctx.Done()
// instead would make every wait of every reader sharing a context (10,000
// subscribers under one cancel) lock that context's one channel, which
// was most of the cost of waking 10,000 readers. A reader that arrives
// while the primary waiter is waiting gets a channel of its own and
// selects on it and its context.
type Mailbox[T any] struct {
	mu      sync.Mutex
	val     T
	seq     uint64 // sequence number of val; 0 = nothing put yet
	taken   uint64 // sequence number of the last value Next returned
	closed  bool
	closeEr error

	notify      chan struct{}   // one-slot signal to the primary waiter
	primaryBusy bool            // a reader waits on notify
	extra       []chan struct{} // one-slot signals of the other waiters

	// The primary waiter's context watch: lastDone is the Done channel of
	// its previous wait; watchDone is the one an AfterFunc signals notify
	// for (nil: none), stopWatch stops that AfterFunc.
	lastDone  <-chan struct{}
	watchDone <-chan struct{}
	stopWatch func() bool
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
	m.wakeLocked()
	m.mu.Unlock()
}

// wakeLocked signals every waiter; m.mu must be held.
func (m *Mailbox[T]) wakeLocked() {
	signal(m.notify)
	for i, ch := range m.extra {
		signal(ch)
		m.extra[i] = nil
	}
	m.extra = m.extra[:0]
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// ctxDone wakes the primary waiter when the context it is watched for
// ends; Next then sees ctx.Err.
func (m *Mailbox[T]) ctxDone() { signal(m.notify) }

// Next returns the newest value if it is newer than the last one Next
// returned, and otherwise waits for one. After Close it first returns a
// value put before Close and not yet taken, then the close error. It
// returns ctx's error if ctx ends first.
func (m *Mailbox[T]) Next(ctx context.Context) (T, error) {
	var zero T
	primary := false
	for {
		m.mu.Lock()
		if primary {
			m.primaryBusy, primary = false, false
		}
		if m.seq > m.taken {
			m.taken = m.seq
			v := m.val
			m.mu.Unlock()
			return v, nil
		}
		if m.closed {
			err := m.closeEr
			m.mu.Unlock()
			return zero, err
		}
		if err := ctx.Err(); err != nil {
			m.mu.Unlock()
			return zero, err
		}
		done := ctx.Done()
		if m.primaryBusy {
			ch := make(chan struct{}, 1)
			m.extra = append(m.extra, ch)
			m.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-done:
				m.mu.Lock()
				for i, c := range m.extra {
					if c == ch {
						m.extra = append(m.extra[:i], m.extra[i+1:]...)
						break
					}
				}
				m.mu.Unlock()
				return zero, ctx.Err()
			}
		}
		m.primaryBusy, primary = true, true
		watched := done == nil || done == m.watchDone
		if !watched && done == m.lastDone {
			if m.stopWatch != nil {
				m.stopWatch()
			}
			m.watchDone, m.stopWatch = done, context.AfterFunc(ctx, m.ctxDone)
			watched = true
		}
		m.lastDone = done
		m.mu.Unlock()
		if watched {
			<-m.notify // a Put, Close or the watched context's end; the loop sees which
			continue
		}
		select {
		case <-m.notify:
		case <-done:
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

// Close ends the mailbox with err (which must not be nil): later Puts are
// dropped, and once any untaken value has been taken Next returns err.
// Only the first Close counts. It stops the context watch, so a closed
// Mailbox is not kept alive by a reader's long-lived context.
func (m *Mailbox[T]) Close(err error) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.closed, m.closeEr = true, err
	stop := m.stopWatch
	m.stopWatch, m.watchDone, m.lastDone = nil, nil, nil
	m.wakeLocked()
	m.mu.Unlock()
	if stop != nil {
		stop()
	}
}
