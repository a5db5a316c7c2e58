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

// String returns the state's name, such as "connected".
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

// stateNotifier holds the current state, wakes WaitForState callers on a
// change, and queues the WithStateChange callback on the client's callback
// queue, so the owner never waits on user code.
type stateNotifier struct {
	mu       sync.Mutex
	current  ConnectionState
	changed  chan struct{} // closed and replaced on each change
	callback func(ConnectionState)
	queue    *callbackQueue
}

func newStateNotifier(callback func(ConnectionState), queue *callbackQueue) *stateNotifier {
	return &stateNotifier{current: Connecting, changed: make(chan struct{}), callback: callback, queue: queue}
}

// set records a new state; it never blocks.
func (n *stateNotifier) set(s ConnectionState) {
	n.mu.Lock()
	if n.current == s {
		n.mu.Unlock()
		return
	}
	n.current = s
	close(n.changed)
	n.changed = make(chan struct{})
	n.mu.Unlock()
	if f := n.callback; f != nil {
		n.queue.add(func() { f(s) })
	}
}

func (n *stateNotifier) now() ConnectionState {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.current
}

// get returns the state and a channel closed at the next change.
func (n *stateNotifier) get() (ConnectionState, <-chan struct{}) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.current, n.changed
}
