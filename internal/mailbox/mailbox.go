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
	w       *waiters // made by the first Next that waits: a mailbox whose reader never waits costs no channel
}

// waiters is what waiting readers of a Mailbox need; under its mu.
type waiters struct {
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
func New[T any]() *Mailbox[T] { return &Mailbox[T]{} }

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
	w := m.w
	if w == nil {
		return
	}
	signal(w.notify)
	for i, ch := range w.extra {
		signal(ch)
		w.extra[i] = nil
	}
	w.extra = w.extra[:0]
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Next returns the newest value if it is newer than the last one Next
// returned, and otherwise waits for one. After Close it first returns a
// value put before Close and not yet taken, then the close error. It
// returns ctx's error if ctx ends first.
func (m *Mailbox[T]) Next(ctx context.Context) (T, error) {
	var zero T
	primary := false
	for {
		m.mu.Lock()
		w := m.w
		if primary {
			w.primaryBusy, primary = false, false
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
		if w == nil {
			w = &waiters{notify: make(chan struct{}, 1)}
			m.w = w
		}
		done := ctx.Done()
		if w.primaryBusy {
			ch := make(chan struct{}, 1)
			w.extra = append(w.extra, ch)
			m.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-done:
				m.mu.Lock()
				for i, c := range w.extra {
					if c == ch {
						w.extra = append(w.extra[:i], w.extra[i+1:]...)
						break
					}
				}
				m.mu.Unlock()
				return zero, ctx.Err()
			}
		}
		w.primaryBusy, primary = true, true
		watched := done == nil || done == w.watchDone
		if !watched && done == w.lastDone {
			if w.stopWatch != nil {
				w.stopWatch()
			}
			notify := w.notify
			w.watchDone, w.stopWatch = done, context.AfterFunc(ctx, func() { signal(notify) })
			watched = true
		}
		w.lastDone = done
		m.mu.Unlock()
		if watched {
			<-w.notify // a Put, Close or the watched context's end; the loop sees which
			continue
		}
		select {
		case <-w.notify:
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
	var stop func() bool
	if w := m.w; w != nil {
		stop = w.stopWatch
		w.stopWatch, w.watchDone, w.lastDone = nil, nil, nil
	}
	m.wakeLocked()
	m.mu.Unlock()
	if stop != nil {
		stop()
	}
}
