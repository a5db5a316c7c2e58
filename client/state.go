package client

import "sync"

// ConnectionState is where the client's WebSocket stands.
type ConnectionState int

const (
	// Connecting: a socket is being opened (the first one, or after a wait).
	Connecting ConnectionState = iota
	// Connected: the socket is open and the client is syncing or in sync.
	Connected
	// Reconnecting: the last socket failed; the client waits out its backoff
	// before the next attempt. Subscribers keep their latest values.
	Reconnecting
	// Stopped: the deployment sent a FatalError; the client will not
	// reconnect. Close it and create another.
	Stopped
	// Closed: Close was called.
	Closed
)

func (s ConnectionState) String() string {
	switch s {
	case Connecting:
		return "connecting"
	case Connected:
		return "connected"
	case Reconnecting:
		return "reconnecting"
	case Stopped:
		return "stopped"
	case Closed:
		return "closed"
	}
	return "unknown"
}

// stateNotifier delivers state changes to a callback one at a time, in
// order, from its own goroutine, so the owner never waits on user code.
type stateNotifier struct {
	mu      sync.Mutex
	queue   []ConnectionState
	wake    chan struct{}
	done    chan struct{}
	current ConnectionState
	waiters []chan struct{} // closed on the next change
}

func newStateNotifier() *stateNotifier {
	return &stateNotifier{wake: make(chan struct{}, 1), done: make(chan struct{}), current: Connecting}
}

// set records a new state; it never blocks.
func (n *stateNotifier) set(s ConnectionState) {
	n.mu.Lock()
	if n.current == s {
		n.mu.Unlock()
		return
	}
	n.current = s
	n.queue = append(n.queue, s)
	waiters := n.waiters
	n.waiters = nil
	n.mu.Unlock()
	for _, w := range waiters {
		close(w)
	}
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

func (n *stateNotifier) get() (ConnectionState, <-chan struct{}) {
	n.mu.Lock()
	defer n.mu.Unlock()
	w := make(chan struct{})
	n.waiters = append(n.waiters, w)
	return n.current, w
}

// run calls f for each queued state until stop is closed and the queue is
// drained.
func (n *stateNotifier) run(f func(ConnectionState), stop <-chan struct{}) {
	defer close(n.done)
	for {
		n.mu.Lock()
		q := n.queue
		n.queue = nil
		n.mu.Unlock()
		for _, s := range q {
			if f != nil {
				f(s)
			}
		}
		select {
		case <-n.wake:
		case <-stop:
			n.mu.Lock()
			left := n.queue
			n.queue = nil
			n.mu.Unlock()
			for _, s := range left {
				if f != nil {
					f(s)
				}
			}
			return
		}
	}
}
