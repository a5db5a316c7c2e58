package client

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
)

// DefaultPageSize is the page size of Paginate and Pages when
// PageOptions.PageSize is 0.
const DefaultPageSize = 100

// PageOptions configure a walk over a paginated query.
type PageOptions struct {
	// PageSize is numItems of each page request (DefaultPageSize if 0).
	// The backend allows at most 32,000.
	PageSize int
	// Cursor starts the walk after the page that returned it as its
	// continueCursor (for example PageError.Cursor, to resume a walk).
	// Empty starts at the beginning.
	Cursor string
	// Field is the name of the pagination options argument; empty means
	// "paginationOpts", the Convex convention.
	Field string
	// MaximumRowsRead and MaximumBytesRead, when positive, are sent as
	// maximumRowsRead and maximumBytesRead: a page stops early (and the
	// walk goes on from where it stopped).
	MaximumRowsRead  int
	MaximumBytesRead int
	// OneTimestamp reads every page at one database timestamp (the latest
	// when the walk starts), so that the whole walk sees one snapshot; the
	// Caller must be a ConsistentReader (a *Client or an *HTTPCaller).
	// Deployments keep snapshots only briefly (about 10 s in the
	// open-source backend), so a longer walk fails with an *HTTPError of
	// status 503. Without it each page is read at the latest timestamp of
	// its own request: see Pages.
	OneTimestamp bool
}

// Page is one page of a paginated query, as PaginationResult of a Convex
// function: {page, isDone, continueCursor, splitCursor?, pageStatus?}.
type Page[T any] struct {
	// Items are the page's documents.
	Items []T `json:"page"`
	// IsDone reports that the page is the last one.
	IsDone bool `json:"isDone"`
	// ContinueCursor is the cursor of the next page.
	ContinueCursor string `json:"continueCursor"`
	// SplitCursor, when not empty, splits the page in two.
	SplitCursor string `json:"splitCursor"`
	// PageStatus is "", "SplitRecommended" or "SplitRequired" (the page
	// stopped at a row or byte limit and may hold fewer than PageSize
	// items).
	PageStatus string `json:"pageStatus"`
	// Cursor is the cursor the page was read from ("" for the first).
	Cursor string `json:"-"`
}

// PageError is the error of a walk whose page failed. The walk can be
// resumed with PageOptions.Cursor = Cursor: every page before it was
// complete.
type PageError struct {
	// Cursor is the continueCursor of the last complete page (the
	// walk's start cursor if none was).
	Cursor string
	// Err is what failed: a *FunctionError, an *HTTPError, a
	// *DecodeError, ctx's error...
	Err error
}

// Error describes the failure and the cursor that resumes the walk.
func (e *PageError) Error() string {
	return fmt.Sprintf("%v (resume from cursor %q)", e.Err, e.Cursor)
}

// Unwrap returns the underlying error.
func (e *PageError) Unwrap() error { return e.Err }

// Pages walks a paginated query page by page: it calls the query at path
// with args plus {paginationOpts: {numItems, cursor}} (see PageOptions)
// once per page, following continueCursor until a page isDone, and yields
// each page. A failure is yielded once as a *PageError and ends the walk.
// args may be nil; it is not modified.
//
// Consistency: each page is one run of the query, so it is consistent in
// itself. Without PageOptions.OneTimestamp successive pages are read at
// successive timestamps; since a cursor is a position in the query's
// order, no document is yielded twice and none that exists throughout the
// walk is missed, but documents written during the walk appear or not
// depending on where they land. With OneTimestamp every page is read at one
// timestamp, as ConvexHttpClient.consistentQuery reads (/api/query_ts once,
// then /api/query_at_ts), and the walk is a snapshot.
func Pages[T any](ctx context.Context, c Caller, path string, args map[string]any, opts PageOptions) iter.Seq2[Page[T], error] {
	return func(yield func(Page[T], error) bool) {
		cursor := opts.Cursor
		fail := func(err error) { yield(Page[T]{Cursor: cursor}, &PageError{Cursor: cursor, Err: err}) }
		size := opts.PageSize
		if size == 0 {
			size = DefaultPageSize
		}
		if size < 0 {
			fail(fmt.Errorf("convex: paginate %s: page size %d is negative", path, size))
			return
		}
		field := opts.Field
		if field == "" {
			field = "paginationOpts"
		}
		if _, taken := args[field]; taken {
			fail(fmt.Errorf("convex: paginate %s: args already hold %q", path, field))
			return
		}
		if opts.OneTimestamp {
			r, ok := c.(ConsistentReader)
			if !ok {
				fail(fmt.Errorf("convex: paginate %s: OneTimestamp needs a ConsistentReader (*Client or *HTTPCaller), not %T", path, c))
				return
			}
			ts, err := r.QueryTimestamp(ctx)
			if err != nil {
				fail(err)
				return
			}
			c = At(r, ts)
		}
		call := maps.Clone(args)
		if call == nil {
			call = map[string]any{}
		}
		for {
			po := map[string]any{"numItems": float64(size), "cursor": nil}
			if cursor != "" {
				po["cursor"] = cursor
			}
			if opts.MaximumRowsRead > 0 {
				po["maximumRowsRead"] = float64(opts.MaximumRowsRead)
			}
			if opts.MaximumBytesRead > 0 {
				po["maximumBytesRead"] = float64(opts.MaximumBytesRead)
			}
			call[field] = po
			p, err := Query[Page[T]](ctx, c, path, call)
			if err == nil && p.ContinueCursor == "" {
				err = fmt.Errorf("convex: paginate %s: the result has no continueCursor; is it a paginated query?", path)
			}
			if err == nil && !p.IsDone && p.ContinueCursor == cursor {
				err = fmt.Errorf("convex: paginate %s: the page did not advance its cursor", path)
			}
			if err != nil {
				fail(err)
				return
			}
			p.Cursor = cursor
			if p.Items == nil {
				p.Items = []T{}
			}
			if !yield(p, nil) || p.IsDone {
				return
			}
			cursor = p.ContinueCursor
		}
	}
}

// Paginate walks every item of a paginated query, page by page (see
// Pages for the options and consistency):
//
//	for msg, err := range client.Paginate[Message](ctx, h.As(cred), "messages:paginated",
//		map[string]any{"channel": "general"}, client.PageOptions{PageSize: 200}) {
//		if err != nil {
//			var pe *client.PageError
//			errors.As(err, &pe) // pe.Cursor resumes the walk
//			...
//		}
//	}
//
// A failure is yielded once, as a *PageError, and ends the iteration.
func Paginate[T any](ctx context.Context, c Caller, path string, args map[string]any, opts PageOptions) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for p, err := range Pages[T](ctx, c, path, args, opts) {
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, it := range p.Items {
				if !yield(it, nil) {
					return
				}
			}
		}
	}
}

// ResumeCursor returns the cursor to resume a walk that failed with err
// (a *PageError), and whether err was one.
func ResumeCursor(err error) (string, bool) {
	var pe *PageError
	if errors.As(err, &pe) {
		return pe.Cursor, true
	}
	return "", false
}
