package client

import "sync"

// callbackQueue runs user callbacks one at a time, in order, on a
// goroutine of its own, so the owner never waits on user code.
type callbackQueue struct {
	mu    sync.Mutex
	queue []func()
	wake  chan struct{}
}

func newCallbackQueue() *callbackQueue { return &callbackQueue{wake: make(chan struct{}, 1)} }

// add queues f; it never blocks.
func (q *callbackQueue) add(f func()) {
	q.mu.Lock()
	q.queue = append(q.queue, f)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// run calls queued functions until stop is closed, then runs what is left.
func (q *callbackQueue) run(stop <-chan struct{}) {
	for {
		q.mu.Lock()
		fs := q.queue
		q.queue = nil
		q.mu.Unlock()
		for _, f := range fs {
			f()
		}
		select {
		case <-q.wake:
		case <-stop:
			q.mu.Lock()
			fs := q.queue
			q.queue = nil
			q.mu.Unlock()
			for _, f := range fs {
				f()
			}
			return
		}
	}
}
