package client

import (
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
)

// TestDecodeOncePerType checks that subscribers of one query reading the
// same Go type share one decoded value (the slices alias), that another
// type is decoded separately, and that a later result is decoded afresh.
func TestDecodeOncePerType(t *testing.T) {
	_, c, ctx := setup(t)
	args := map[string]any{"channel": "decode-once"}
	if _, err := c.MutationRaw(ctx, "messages:send", map[string]any{"channel": "decode-once", "author": "a", "body": "x"}); err != nil {
		t.Fatal(err)
	}
	var subs []*Subscription[[]message]
	for range 3 {
		s, err := Subscribe[[]message](ctx, c, "messages:list", args)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		subs = append(subs, s)
	}
	var first []message
	for i, s := range subs {
		v := nextUntil(t, ctx, s, func(v []message) bool { return len(v) == 1 })
		if i == 0 {
			first = v
		} else if &v[0] != &first[0] {
			t.Fatalf("subscriber %d decoded its own copy; want the shared one", i)
		}
	}
	other, err := Subscribe[[]map[string]any](ctx, c, "messages:list", args)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if v := nextUntil(t, ctx, other, func(v []map[string]any) bool { return len(v) == 1 }); v[0]["body"] != "x" {
		t.Fatalf("as maps: %v", v)
	}
	if _, err := c.MutationRaw(ctx, "messages:send", map[string]any{"channel": "decode-once", "author": "a", "body": "y"}); err != nil {
		t.Fatal(err)
	}
	v := nextUntil(t, ctx, subs[0], func(v []message) bool { return len(v) == 2 })
	if &v[0] == &first[0] {
		t.Fatal("a new result reused the old decoded value")
	}
}

// TestDecodeCacheConcurrent has many goroutines read one result as two
// types: each type is decoded exactly once (run under -race).
func TestDecodeCacheConcurrent(t *testing.T) {
	var cache decodeCache
	raw := []byte(`[1,2,3]`)
	var wg sync.WaitGroup
	var decodes atomic.Int32
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				d := cache.entry(reflect.TypeFor[[]int64]())
				d.once.Do(func() { decodes.Add(1); d.v, d.err = decode[[]int64](raw, "q") })
				if v, _ := decodeShared[[]int64](&cache, raw, "q"); len(v) != 3 {
					t.Errorf("got %v", v)
				}
			} else if v, err := decodeShared[[]float64](&cache, raw, "q"); err != nil || len(v) != 3 {
				t.Errorf("got %v, %v", v, err)
			}
		}()
	}
	wg.Wait()
	if n := decodes.Load(); n != 1 {
		t.Fatalf("[]int64 decoded %d times, want 1", n)
	}
	if _, err := decodeShared[string](&cache, raw, "q"); err == nil {
		t.Fatal("want a DecodeError for a type that does not fit")
	}
}
