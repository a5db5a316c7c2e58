package client

import (
	"reflect"
	"slices"
	"sync"
	"time"
)

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

// ConnectionStatus is the connection state with the details of why the
// client is not connected and when it tries next. Client.Status returns
// it; Client.WaitForStatus waits for one.
type ConnectionStatus struct {
	// State is where the WebSocket stands, as Client.ConnectionState
	// reports it.
	State ConnectionState
	// Attempts counts the connection attempts that failed (handshakes that
	// failed and sockets that ended) since the client was last in sync
	// with the deployment; it is 0 while all is well, and it is the
	// exponent of the reconnect backoff.
	Attempts int
	// LastError is why the last handshake failed or the last socket ended
	// (for example a *transport.DialError, or an error matching
	// transport.ErrMessageTooBig or transport.ErrHandshakeTimeout); nil
	// until the first failure. It is kept after a successful reconnect, as
	// a record of the last problem, until the next one replaces it.
	LastError error
	// NextRetry is when the next connection attempt starts, while the
	// state is Reconnecting and the client waits out its backoff; it is
	// the zero time while an attempt is under way and in other states.
	NextRetry time.Time
}

// stateNotifier holds the current status, wakes WaitForState and
// WaitForStatus callers on a change, and queues the WithStateChange
// callback on the client's callback queue when the state changes, so the
// owner never waits on user code.
type stateNotifier struct {
	mu      sync.Mutex
	current ConnectionStatus
	changed chan struct{} // closed and replaced on each change
	queue   *callbackQueue
	// callbacks are the WithStateChange option's and OnStateChange's,
	// by registration number (removed entries are deleted).
	callbacks map[uint64]func(ConnectionState)
	nextCB    uint64
}

func newStateNotifier(callback func(ConnectionState), queue *callbackQueue) *stateNotifier {
	n := &stateNotifier{current: ConnectionStatus{State: Connecting}, changed: make(chan struct{}), queue: queue,
		callbacks: map[uint64]func(ConnectionState){}}
	if callback != nil {
		n.add(callback)
	}
	return n
}

// add registers f and returns its removal.
func (n *stateNotifier) add(f func(ConnectionState)) (remove func()) {
	n.mu.Lock()
	defer n.mu.Unlock()
	id := n.nextCB
	n.nextCB++
	n.callbacks[id] = f
	return func() {
		n.mu.Lock()
		defer n.mu.Unlock()
		delete(n.callbacks, id)
	}
}

// set records a new state; it never blocks. Leaving Reconnecting clears
// NextRetry.
func (n *stateNotifier) set(s ConnectionState) {
	n.update(func(st *ConnectionStatus) {
		st.State = s
		if s != Reconnecting {
			st.NextRetry = time.Time{}
		}
	})
}

// update changes the status with f; it never blocks. Waiters wake on any
// change; the WithStateChange callback runs when the state changed.
func (n *stateNotifier) update(f func(*ConnectionStatus)) {
	n.mu.Lock()
	old := n.current
	f(&n.current)
	cur := n.current
	if old.State == cur.State && old.Attempts == cur.Attempts && old.NextRetry.Equal(cur.NextRetry) &&
		sameError(old.LastError, cur.LastError) {
		n.mu.Unlock()
		return
	}
	close(n.changed)
	n.changed = make(chan struct{})
	var cbs []func(ConnectionState)
	if old.State != cur.State {
		ids := make([]uint64, 0, len(n.callbacks))
		for id := range n.callbacks {
			ids = append(ids, id)
		}
		slices.Sort(ids) // in registration order
		for _, id := range ids {
			cbs = append(cbs, n.callbacks[id])
		}
	}
	n.mu.Unlock()
	if len(cbs) > 0 {
		s := cur.State
		n.queue.add(func() {
			for _, cb := range cbs {
				cb(s)
			}
		})
	}
}

// sameError reports whether a and b are the same error value. Only
// pointers are compared (== on other dynamic types may panic); other
// errors count as different, which only costs waiters a spurious wake-up.
func sameError(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	ta := reflect.TypeOf(a)
	return ta.Kind() == reflect.Pointer && ta == reflect.TypeOf(b) && a == b
}

func (n *stateNotifier) now() ConnectionState {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.current.State
}

func (n *stateNotifier) status() ConnectionStatus {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.current
}

// get returns the status and a channel closed at the next change.
func (n *stateNotifier) get() (ConnectionStatus, <-chan struct{}) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.current, n.changed
}
