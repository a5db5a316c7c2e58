package client

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strconv"
	"sync"

	"github.com/convexgo/convex/internal/mailbox"
)

// PaginationStatus is the state of a PaginatedSubscription, as the
// official client's usePaginatedQuery reports it.
type PaginationStatus string

// The statuses of a PaginatedSubscription.
const (
	// LoadingFirstPage: no page has a result yet.
	LoadingFirstPage PaginationStatus = "LoadingFirstPage"
	// CanLoadMore: every page is loaded and the last is not done.
	CanLoadMore PaginationStatus = "CanLoadMore"
	// LoadingMore: a page added by LoadMore has no result yet.
	LoadingMore PaginationStatus = "LoadingMore"
	// Exhausted: every page is loaded and the last one isDone.
	Exhausted PaginationStatus = "Exhausted"
)

// PaginatedResult is the whole loaded list of a PaginatedSubscription:
// the items of its pages concatenated in order, and its status.
type PaginatedResult[T any] struct {
	Items  []T
	Status PaginationStatus
}

// PaginatedSubscription is a live paginated query, as usePaginatedQuery
// of the official client keeps one: a list of pages, each its own
// subscription, that LoadMore extends. See SubscribePaginated.
type PaginatedSubscription[T any] struct {
	q    *pagedQuery
	box  *mailbox.Mailbox[pagedState]
	once sync.Once
	// watchers are the mailboxes of OnChange callbacks; under q.mu.
	watchers []*mailbox.Mailbox[pagedState]
}

// SubscribePaginated subscribes to the paginated query at path (a query
// taking paginationOpts, returning a PaginationResult) with args plus
// {paginationOpts: {numItems: initialNumItems, cursor: null}}: the first
// page. args may be nil; it must not hold "paginationOpts" and is not
// modified.
//
// Every loaded page stays live. A page's end boundary is fixed by its
// query journal after its first run (the deployment re-runs it up to the
// end cursor its first run reached, and the client re-sends the journal
// when it re-adds the query after a reconnect), so that documents written
// inside a page make it grow or shrink and never move to another page:
// the concatenated list holds no duplicates and misses nothing. For a
// query ordered newest first, a new document lands at the top of the
// first page. A page that grows past 2 × initialNumItems, or whose result
// asks for a split (pageStatus SplitRecommended or SplitRequired), is
// replaced by two subscriptions, [cursor, splitCursor] and (splitCursor,
// continueCursor] (using endCursor), once both have results, as the
// official client splits pages.
//
// Two identical paginated subscriptions (same path, args and
// initialNumItems) share their pages, as the official client shares a
// paginated query: LoadMore on either loads a page for both. Closing the
// last one removes every page's subscription.
//
//	ps, err := client.SubscribePaginated[Message](ctx, c, "messages:paginated",
//		map[string]any{"channel": "general"}, 20)
//	...
//	defer ps.Close()
//	for res, err := range ps.Updates(ctx) { ... res.Items, res.Status ... }
func SubscribePaginated[T any](ctx context.Context, c *Client, path string, args map[string]any, initialNumItems int) (*PaginatedSubscription[T], error) {
	if initialNumItems <= 0 {
		return nil, fmt.Errorf("convex: subscribe paginated %s: initialNumItems %d must be positive", path, initialNumItems)
	}
	if _, taken := args["paginationOpts"]; taken {
		return nil, fmt.Errorf("convex: subscribe paginated %s: args already hold \"paginationOpts\"", path)
	}
	encoded, err := encodeArgs("query", path, args)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	key := strconv.Itoa(initialNumItems) + "|" + path + "|" + string(encoded)
	s := &PaginatedSubscription[T]{box: mailbox.New[pagedState]()}
	c.paged.mu.Lock()
	defer c.paged.mu.Unlock()
	if q := c.paged.m[key]; q != nil {
		q.mu.Lock()
		if !q.closed {
			q.members[s.box] = true
			q.publishTo(s.box)
			q.mu.Unlock()
			s.q = q
			return s, nil
		}
		q.mu.Unlock()
	}
	q := &pagedQuery{c: c, key: key, path: path, args: maps.Clone(args), initial: initialNumItems,
		parts: make(map[int]*pagePart), splits: make(map[int][2]int),
		members: map[*mailbox.Mailbox[pagedState]]bool{s.box: true}}
	if q.args == nil {
		q.args = map[string]any{}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	k, err := q.subscribePage(ctx, nil, nil, initialNumItems)
	if err != nil {
		q.closed = true
		return nil, err
	}
	q.order = []int{k}
	if c.paged.m == nil {
		c.paged.m = make(map[string]*pagedQuery)
	}
	c.paged.m[key] = q
	q.publishTo(s.box)
	s.q = q
	return s, nil
}

// LoadMore adds a page of up to n items after the last one (subscribing
// with its continueCursor) and reports whether it did: it does not while
// the last page has no result yet or once it isDone.
func (s *PaginatedSubscription[T]) LoadMore(ctx context.Context, n int) (bool, error) {
	if s.q == nil {
		return false, ErrNotInitialized
	}
	if n <= 0 {
		return false, fmt.Errorf("convex: load more of %s: %d items must be positive", s.q.path, n)
	}
	q := s.q
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed || !q.members[s.box] {
		return false, ErrClosed
	}
	last := q.parts[q.order[len(q.order)-1]]
	if last.res == nil || last.meta == nil || last.meta.IsDone {
		return false, nil
	}
	cursor := last.meta.ContinueCursor
	k, err := q.subscribePage(ctx, &cursor, nil, n)
	if err != nil {
		return false, err
	}
	q.order = append(q.order, k)
	q.publish()
	return true, nil
}

// Next blocks until the list or its status changed since the last value
// Next returned and returns it. The first call returns at once: with
// status LoadingFirstPage and no items while the first page has no result
// yet.
// A page whose query failed gives its *FunctionError, with the items of
// the pages before it; the subscription stays live. After Close, or once
// the client is closed or stopped, Next returns a value not yet taken,
// then ErrClosed or the *FatalError.
//
// Items are decoded once per page result and shared with other readers,
// as with Subscription: do not modify what they point to.
func (s *PaginatedSubscription[T]) Next(ctx context.Context) (PaginatedResult[T], error) {
	if s.box == nil {
		return PaginatedResult[T]{}, ErrNotInitialized
	}
	st, err := s.box.Next(ctx)
	if err != nil {
		return PaginatedResult[T]{}, err
	}
	return decodePaged[T](st, s.q.path)
}

// Latest returns the newest value without waiting; ok is false when
// there is none yet.
func (s *PaginatedSubscription[T]) Latest() (res PaginatedResult[T], err error, ok bool) {
	if s.box == nil {
		return res, ErrNotInitialized, false
	}
	st, _, ok := s.box.Latest()
	if !ok {
		return res, nil, false
	}
	res, err = decodePaged[T](st, s.q.path)
	return res, err, true
}

// Updates returns an iterator over the subscription's values, as
// Subscription.Updates does: query errors do not end it; ctx's error,
// ErrClosed or a *FatalError is yielded once at the end, except after a
// break.
func (s *PaginatedSubscription[T]) Updates(ctx context.Context) iter.Seq2[PaginatedResult[T], error] {
	return func(yield func(PaginatedResult[T], error) bool) {
		for {
			v, err := s.Next(ctx)
			if err != nil && isTerminal(ctx, err) {
				yield(v, err)
				return
			}
			if !yield(v, err) {
				return
			}
		}
	}
}

// OnChange calls f with each newer value, from a goroutine of its own,
// until stop is called, the subscription is closed (f then gets ErrClosed
// once) or the client ends (f gets ErrClosed or the *FatalError); after
// the client is closed it does nothing. Calls never overlap and f should
// not block: the client's Close waits for the goroutine. stop does not
// wait for a call under way.
func (s *PaginatedSubscription[T]) OnChange(f func(PaginatedResult[T], error)) (stop func()) {
	if s.q == nil || s.q.c.lifetime.Err() != nil {
		return func() {}
	}
	// The callback reads a mailbox of its own, a member of the query like
	// the subscription's: sharing the subscription's would split values
	// between f and the subscription's Next.
	box := mailbox.New[pagedState]()
	q := s.q
	q.mu.Lock()
	if q.closed || !q.members[s.box] {
		box.Close(ErrClosed)
	} else {
		q.members[box] = true
		q.publishTo(box)
		s.watchers = append(s.watchers, box)
	}
	q.mu.Unlock()
	ctx, cancel := context.WithCancel(q.c.lifetime)
	q.c.wg.Add(1)
	go func() {
		defer q.c.wg.Done()
		defer func() {
			q.mu.Lock()
			delete(q.members, box)
			s.watchers = slices.DeleteFunc(s.watchers, func(b *mailbox.Mailbox[pagedState]) bool { return b == box })
			q.mu.Unlock()
			box.Close(ErrClosed)
		}()
		for {
			st, err := box.Next(ctx)
			if ctx.Err() != nil {
				return
			}
			var v PaginatedResult[T]
			if err == nil {
				v, err = decodePaged[T](st, q.path)
			} else if isTerminal(ctx, err) {
				f(v, err)
				return
			}
			f(v, err)
		}
	}()
	return cancel
}

// Close ends the subscription. When it was the last of its paginated
// query, every page's subscription is removed. Close is idempotent.
func (s *PaginatedSubscription[T]) Close() error {
	if s.q == nil {
		return nil
	}
	s.once.Do(func() {
		s.box.Close(ErrClosed)
		q := s.q
		q.mu.Lock()
		delete(q.members, s.box)
		for _, b := range s.watchers {
			delete(q.members, b)
			b.Close(ErrClosed)
		}
		s.watchers = nil
		last := len(q.members) == 0 && !q.closed
		if last {
			q.closeLocked()
		}
		q.mu.Unlock()
		if last {
			q.c.paged.mu.Lock()
			if q.c.paged.m[q.key] == q {
				delete(q.c.paged.m, q.key)
			}
			q.c.paged.mu.Unlock()
		}
	})
	return nil
}

// decodePaged builds the typed list from the page results of st.
func decodePaged[T any](st pagedState, path string) (PaginatedResult[T], error) {
	res := PaginatedResult[T]{Items: []T{}, Status: st.status}
	for _, r := range st.pages {
		if r == nil {
			continue
		}
		if r.err != nil {
			return res, r.err
		}
		p, err := decodeShared[Page[T]](r.dec, r.value, path)
		if err != nil {
			return res, err
		}
		res.Items = append(res.Items, p.Items...)
	}
	return res, nil
}

// pagedQueries maps keys (initialNumItems, path, canonical args) to live
// paginated queries, for sharing them.
type pagedQueries struct {
	mu sync.Mutex
	m  map[string]*pagedQuery
}

// pagedState is what a paginated query hands its members: the results of
// its active pages in order (nil for a page without one yet) and the
// status.
type pagedState struct {
	pages  []*result
	status PaginationStatus
}

// pagedQuery is the shared state of one paginated query: its pages, each a
// subscription, and its members' mailboxes. Page callbacks, LoadMore and
// Close change it under mu.
type pagedQuery struct {
	c       *Client
	key     string
	path    string
	args    map[string]any // without paginationOpts
	initial int

	mu      sync.Mutex
	closed  bool
	next    int               // key of the next page
	order   []int             // the active pages, in order
	parts   map[int]*pagePart // every page subscription: active ones and split halves
	splits  map[int][2]int    // pages being split, to their halves
	members map[*mailbox.Mailbox[pagedState]]bool
}

// pagePart is one page subscription.
type pagePart struct {
	key    int
	cursor *string // its start cursor (nil for the first page)
	unsub  func()
	res    *result   // latest result, nil until one arrives
	meta   *pageMeta // res's pagination fields, nil if it failed or did not parse
}

// pageMeta is what the pagination logic reads of a page result.
type pageMeta struct {
	Page           []json.RawMessage `json:"page"`
	IsDone         bool              `json:"isDone"`
	ContinueCursor string            `json:"continueCursor"`
	SplitCursor    *string           `json:"splitCursor"`
	PageStatus     *string           `json:"pageStatus"`
}

// subscribePage subscribes a page from cursor (exclusive) to end
// (inclusive, nil for none) and returns its key; q.mu must be held.
func (q *pagedQuery) subscribePage(ctx context.Context, cursor, end *string, n int) (int, error) {
	k := q.next
	q.next++
	opts := map[string]any{"numItems": float64(n), "cursor": nil}
	if cursor != nil {
		opts["cursor"] = *cursor
	}
	if end != nil {
		opts["endCursor"] = *end
	}
	args := maps.Clone(q.args)
	args["paginationOpts"] = opts
	p := &pagePart{key: k, cursor: cursor}
	q.parts[k] = p
	unsub, err := q.c.onResult(ctx, q.path, args, func(r result) { q.update(p, r) })
	if err != nil {
		delete(q.parts, k)
		return 0, err
	}
	p.unsub = unsub
	return k, nil
}

// update takes a new result of page p, on p's query dispatcher.
func (q *pagedQuery) update(p *pagePart, r result) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed || q.parts[p.key] != p {
		return // closed, or a page a split replaced
	}
	if r.err != nil && isTerminal(context.Background(), r.err) {
		// The client closed or stopped: so does every member.
		for box := range q.members {
			box.Close(r.err)
		}
		q.closed = true
		return
	}
	p.res, p.meta = &r, nil
	if r.err == nil {
		var m pageMeta
		if err := json.Unmarshal(r.value, &m); err == nil {
			p.meta = &m
		}
	}
	q.splitPages()
	q.publish()
}

// splitPages completes the splits whose halves both have results and
// starts splitting the pages that ask for it, as the official client's
// processPaginatedQuerySplits does; q.mu must be held.
func (q *pagedQuery) splitPages() {
	for k, halves := range q.splits {
		a, b := q.parts[halves[0]], q.parts[halves[1]]
		if a.res == nil || b.res == nil {
			continue
		}
		for i, x := range q.order {
			if x == k {
				q.order = append(q.order[:i], append([]int{halves[0], halves[1]}, q.order[i+1:]...)...)
				break
			}
		}
		delete(q.splits, k)
		q.parts[k].unsub()
		delete(q.parts, k)
	}
	for _, k := range q.order {
		if _, splitting := q.splits[k]; splitting {
			continue
		}
		p := q.parts[k]
		m := p.meta
		if m == nil || m.SplitCursor == nil {
			continue
		}
		status := ""
		if m.PageStatus != nil {
			status = *m.PageStatus
		}
		if status != "SplitRecommended" && status != "SplitRequired" && len(m.Page) <= 2*q.initial {
			continue
		}
		split, cont := *m.SplitCursor, m.ContinueCursor
		ctx := q.c.lifetime
		a, err := q.subscribePage(ctx, p.cursor, &split, q.initial)
		if err != nil {
			continue // the client is closing
		}
		b, err := q.subscribePage(ctx, &split, &cont, q.initial)
		if err != nil {
			q.parts[a].unsub()
			delete(q.parts, a)
			continue
		}
		q.splits[k] = [2]int{a, b}
	}
}

// state returns the members' view of the pages; q.mu must be held.
func (q *pagedQuery) state() pagedState {
	st := pagedState{pages: make([]*result, len(q.order))}
	loading, items, done := false, false, false
	for i, k := range q.order {
		p := q.parts[k]
		st.pages[i] = p.res
		if p.res == nil {
			loading, done = true, false
			continue
		}
		if p.meta != nil {
			items = items || len(p.meta.Page) > 0
			done = p.meta.IsDone
		} else {
			done = false
		}
	}
	switch {
	case loading && !items:
		st.status = LoadingFirstPage
	case loading:
		st.status = LoadingMore
	case done:
		st.status = Exhausted
	default:
		st.status = CanLoadMore
	}
	return st
}

// publish hands the current state to every member; q.mu must be held.
func (q *pagedQuery) publish() {
	st := q.state()
	for box := range q.members {
		box.Put(st)
	}
}

// publishTo hands the current state to a new member; q.mu must be held.
func (q *pagedQuery) publishTo(box *mailbox.Mailbox[pagedState]) { box.Put(q.state()) }

// closeLocked removes every page subscription; q.mu must be held.
func (q *pagedQuery) closeLocked() {
	q.closed = true
	for k, p := range q.parts {
		if p.unsub != nil {
			p.unsub()
		}
		delete(q.parts, k)
	}
	clear(q.splits)
	q.order = nil
}
