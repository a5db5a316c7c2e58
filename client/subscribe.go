package client

import (
	"context"
	"encoding/json"
	"iter"
	"sync"

	"github.com/convexgo/convex/internal/mailbox"
	"github.com/convexgo/convex/protocol"
)

// result is one query result as delivered to subscribers: a value as
// Convex JSON, or the query's error.
type result struct {
	value json.RawMessage
	err   error
	dec   *decodeCache // decoded forms of value, shared by every reader; may be nil
}

// RawSubscription is a live query whose results are Convex JSON. Most code
// uses the typed Subscription returned by Subscribe.
//
// Delivery is latest-value: Convex promises a subscriber a value newer
// than the last it saw, not every intermediate one, so a slow reader skips
// straight to the newest value and never holds up the client or other
// subscribers, and memory stays bounded.
type RawSubscription struct {
	c     *Client
	path  string
	box   *mailbox.Mailbox[result]
	once  sync.Once
	group *queryGroup // set when it joins; never changes
	idx   int         // index in group.subs, -1 once it left; under group.mu
}

// SubscribeRaw subscribes to the query at path with args (a Go value that
// encodes to a Convex object; nil means {}). Identical queries share one
// server subscription: if one is live already, the new subscriber joins
// it without waiting for the client's owner goroutine and gets its latest
// value at once, with no wire traffic.
func (c *Client) SubscribeRaw(ctx context.Context, path string, args any) (*RawSubscription, error) {
	encoded, err := encodeArgs("query", path, args)
	if err != nil {
		return nil, err
	}
	if err := checkFrame("query", path, encoded); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := &RawSubscription{c: c, path: path, box: mailbox.New[result]()}
	add := func(g *queryGroup) { g.addSub(s) }
	var buf [256]byte
	if c.joinLive(protocol.AppendQueryToken(buf[:0], path, encoded), add) {
		return s, nil
	}
	token := protocol.NewQueryToken(path, encoded)
	done := make(chan error, 1)
	if err := c.do(ctx, func(o *owner) { done <- o.join(path, token, encoded, add) }); err != nil {
		return nil, err
	}
	if err := <-done; err != nil {
		return nil, err
	}
	return s, nil
}

// Next blocks until the query has a value newer than the last one Next
// returned (the first call returns the first value) and returns it. A
// query that failed returns its *FunctionError; the subscription stays
// live and a later Next may return a value again. After Close, or once the
// client is closed or stopped, Next returns ErrClosed or the *FatalError.
//
// The returned bytes are shared with every subscriber of the query: read
// them, do not modify them.
func (s *RawSubscription) Next(ctx context.Context) (json.RawMessage, error) {
	if s.box == nil {
		return nil, ErrNotInitialized
	}
	r, err := s.box.Next(ctx)
	if err != nil {
		return nil, err
	}
	return r.value, r.err
}

// Latest returns the newest value without waiting; ok is false when there
// is none yet. After Close it still returns the last value seen (Next
// returns ErrClosed).
func (s *RawSubscription) Latest() (value json.RawMessage, err error, ok bool) {
	if s.box == nil {
		return nil, ErrNotInitialized, false
	}
	r, _, ok := s.box.Latest()
	if !ok {
		return nil, nil, false
	}
	return r.value, r.err, true
}

// Path returns the function path the subscription was made with.
func (s *RawSubscription) Path() string { return s.path }

// Close ends the subscription. When it was the last subscriber of its
// query, the server subscription is removed (through the owner
// goroutine; Close does not wait for it). Close is idempotent.
func (s *RawSubscription) Close() error {
	if s.box == nil {
		return nil
	}
	s.once.Do(func() {
		s.box.Close(ErrClosed)
		s.c.leaveGroup(s.group, s, nil)
	})
	return nil
}

// Subscription is a live query whose results decode into T.
//
// Each result is decoded at most once per Go type, however many
// subscribers read it, and the decoded value is shared by all of them: a
// T holding slices, maps or pointers (a []Message, a map[string]any, a
// struct with such fields) aliases the same memory in every subscriber's
// copy. Read such values; do not modify them, or copy them first. Plain
// values (numbers, strings, structs of them) are copied as usual and safe
// to change.
//
// A Subscription read by a goroutine of its own costs that goroutine's
// stack and, per update, one goroutine wake; for thousands of subscribers
// of one query, OnUpdate delivers the same values through callbacks with
// neither.
type Subscription[T any] struct {
	raw *RawSubscription
}

// Subscribe subscribes to the query at path with args and decodes each
// result into a T (see protocol.Unmarshal for the conversions).
//
//	sub, err := client.Subscribe[[]Message](ctx, c, "messages:list", map[string]any{"channel": "general"})
//	...
//	defer sub.Close()
//	for msgs, err := range sub.Updates(ctx) { ... }
func Subscribe[T any](ctx context.Context, c *Client, path string, args any) (*Subscription[T], error) {
	raw, err := c.SubscribeRaw(ctx, path, args)
	if err != nil {
		return nil, err
	}
	return &Subscription[T]{raw: raw}, nil
}

func decode[T any](raw json.RawMessage, path string) (T, error) {
	var v T
	if err := protocol.Unmarshal(raw, &v); err != nil {
		return v, &DecodeError{Path: path, Err: err}
	}
	return v, nil
}

// Next blocks until there is a value newer than the last one returned,
// and decodes it. A value that does not fit T gives a *DecodeError; the
// subscription stays usable.
func (s *Subscription[T]) Next(ctx context.Context) (T, error) {
	if s.raw == nil || s.raw.box == nil {
		var zero T
		return zero, ErrNotInitialized
	}
	r, err := s.raw.box.Next(ctx)
	if err == nil {
		err = r.err
	}
	if err != nil {
		var zero T
		return zero, err
	}
	return decodeShared[T](r.dec, r.value, s.raw.path)
}

// Latest returns the newest value without waiting; ok is false when there
// is none yet. After Close it still returns the last value seen (Next
// returns ErrClosed).
func (s *Subscription[T]) Latest() (v T, err error, ok bool) {
	if s.raw == nil || s.raw.box == nil {
		return v, ErrNotInitialized, false
	}
	r, _, ok := s.raw.box.Latest()
	if !ok || r.err != nil {
		return v, r.err, ok
	}
	v, err = decodeShared[T](r.dec, r.value, s.raw.path)
	return v, err, true
}

// Updates returns an iterator over the subscription's values, for use
// with range. It yields every newer value (and query errors, which do not
// end it) until ctx ends, the subscription is closed, or the loop breaks;
// it then yields the final error (ctx's, ErrClosed or a *FatalError) once,
// except after a break.
func (s *Subscription[T]) Updates(ctx context.Context) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
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

// Close ends the subscription; see RawSubscription.Close.
func (s *Subscription[T]) Close() error {
	if s.raw == nil {
		return nil
	}
	return s.raw.Close()
}

// Raw returns the underlying raw subscription.
func (s *Subscription[T]) Raw() *RawSubscription { return s.raw }
