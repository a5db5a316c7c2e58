package tokenprovider

import (
	"container/heap"
	"container/list"
	"context"
	"errors"
	"sync"
	"time"
)

// DefaultMemoryStoreSize is how many entries a MemoryStore holds by default.
const DefaultMemoryStoreSize = 10_000

// MemoryStoreOptions configure a MemoryStore. The zero value of each field
// selects its default.
type MemoryStoreOptions struct {
	// MaxEntries bounds the number of entries. When a new entry would
	// exceed it, expired entries go first, then the least recently used.
	// Default DefaultMemoryStoreSize.
	MaxEntries int
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// MemoryStore is a Store held in the process's memory: bounded in size,
// expiring entries by their TTL, evicting the least recently used entry
// when full. It is safe for concurrent use. Its zero value is not usable;
// call NewMemoryStore.
//
// It is a Locker too, so that several SessionCaches sharing one
// MemoryStore (one per handler, say) fetch a session's token once between
// them, as a single SessionCache does.
type MemoryStore struct {
	max int
	now func() time.Time

	mu      sync.Mutex
	entries map[string]*memEntry
	lru     list.List // of *memEntry, most recently used at the front
	byExp   expHeap
	locks   map[string]*memLease
}

var (
	_ Store  = (*MemoryStore)(nil)
	_ Locker = (*MemoryStore)(nil)
)

type memEntry struct {
	key, token string
	expires    time.Time
	elem       *list.Element
	index      int // in byExp
}

// NewMemoryStore returns an empty MemoryStore. opts may be nil.
func NewMemoryStore(opts *MemoryStoreOptions) *MemoryStore {
	var o MemoryStoreOptions
	if opts != nil {
		o = *opts
	}
	s := &MemoryStore{max: o.MaxEntries, now: o.Now, entries: make(map[string]*memEntry),
		locks: make(map[string]*memLease)}
	if s.max <= 0 {
		s.max = DefaultMemoryStoreSize
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// Get returns the token stored under key, if it has not expired.
func (s *MemoryStore) Get(_ context.Context, key string) (string, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[key]
	if !ok {
		return "", false, nil
	}
	if !s.now().Before(e.expires) {
		s.removeLocked(e)
		return "", false, nil
	}
	s.lru.MoveToFront(e.elem)
	return e.token, true, nil
}

// Set stores token under key for ttl. A ttl of zero or less deletes the
// entry instead.
func (s *MemoryStore) Set(_ context.Context, key, token string, ttl time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.entries[key]; ok {
		s.removeLocked(e)
	}
	if ttl <= 0 {
		return nil
	}
	now := s.now()
	if len(s.entries) >= s.max {
		for s.byExp.Len() > 0 && !now.Before(s.byExp[0].expires) {
			s.removeLocked(s.byExp[0])
		}
	}
	for len(s.entries) >= s.max {
		s.removeLocked(s.lru.Back().Value.(*memEntry))
	}
	e := &memEntry{key: key, token: token, expires: now.Add(ttl)}
	e.elem = s.lru.PushFront(e)
	heap.Push(&s.byExp, e)
	s.entries[key] = e
	return nil
}

// Delete removes the entry under key, if any.
func (s *MemoryStore) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.entries[key]; ok {
		s.removeLocked(e)
	}
	return nil
}

// Len returns the number of entries held, expired ones not yet evicted
// included.
func (s *MemoryStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

// memLease is a lease on a MemoryStore key; leases are told apart by
// identity, so a lease that expired never releases its successor.
type memLease struct {
	s       *MemoryStore
	key     string
	expires time.Time
}

// TryLock takes the lease on key for ttl unless an unexpired lease on key
// is held, in which case it returns nil, nil. Leases are kept apart from
// the entries and do not count against MaxEntries; expired ones are swept
// when the number of leases reaches MaxEntries.
func (s *MemoryStore) TryLock(_ context.Context, key string, ttl time.Duration) (Lease, error) {
	if ttl <= 0 {
		return nil, errors.New("tokenprovider: MemoryStore.TryLock needs a positive ttl")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if l, ok := s.locks[key]; ok && now.Before(l.expires) {
		return nil, nil
	}
	if len(s.locks) >= s.max {
		for k, l := range s.locks {
			if !now.Before(l.expires) {
				delete(s.locks, k)
			}
		}
	}
	l := &memLease{s: s, key: key, expires: now.Add(ttl)}
	s.locks[key] = l
	return l, nil
}

// Release ends the lease if it is still the key's current one.
func (l *memLease) Release(context.Context) error {
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	if l.s.locks[l.key] == l {
		delete(l.s.locks, l.key)
	}
	return nil
}

func (s *MemoryStore) removeLocked(e *memEntry) {
	delete(s.entries, e.key)
	s.lru.Remove(e.elem)
	heap.Remove(&s.byExp, e.index)
}

// expHeap orders entries by expiry, soonest first.
type expHeap []*memEntry

func (h expHeap) Len() int           { return len(h) }
func (h expHeap) Less(i, j int) bool { return h[i].expires.Before(h[j].expires) }
func (h expHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *expHeap) Push(x any) {
	e := x.(*memEntry)
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *expHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}
