package client

import (
	"encoding/json"
	"reflect"
	"sync"
	"sync/atomic"
)

// decodeCache holds one query result decoded into each Go type its readers
// asked for, so that a result is decoded at most once per Go type however
// many subscribers read it. One is made per query per result (per
// Transition that changed it) and shared by every reader of that result.
//
// The decoded values are shared: a T holding slices, maps or pointers
// aliases the same memory in every reader, which is why Subscription's
// documentation forbids modifying them.
type decodeCache struct {
	first atomic.Pointer[decodedValue] // the first type asked for: the common case, read without locking
	mu    sync.Mutex
	more  []*decodedValue // further types, under mu
}

// decodedValue is the result decoded into one Go type, filled once.
type decodedValue struct {
	typ  reflect.Type
	once sync.Once
	v    any
	err  error
}

// entry returns the slot for typ, creating it.
func (c *decodeCache) entry(typ reflect.Type) *decodedValue {
	if d := c.first.Load(); d != nil && d.typ == typ {
		return d
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.first.Load()
	if d == nil {
		d = &decodedValue{typ: typ}
		c.first.Store(d)
		return d
	}
	if d.typ == typ {
		return d
	}
	for _, d := range c.more {
		if d.typ == typ {
			return d
		}
	}
	d = &decodedValue{typ: typ}
	c.more = append(c.more, d)
	return d
}

// decodeShared decodes raw into a T once per cache and type, and returns
// the shared value. With a nil cache it decodes afresh.
func decodeShared[T any](c *decodeCache, raw json.RawMessage, path string) (T, error) {
	if c == nil {
		return decode[T](raw, path)
	}
	d := c.entry(reflect.TypeFor[T]())
	d.once.Do(func() {
		v, err := decode[T](raw, path)
		d.v, d.err = v, err
	})
	v, _ := d.v.(T) // always a T: d was made for T's type
	return v, d.err
}
