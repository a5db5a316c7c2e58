package testserver

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/convexgo/convex/protocol"
)

func TestMutationsAreTransactional(t *testing.T) {
	clk := newClock()
	s := newDemo(t, WithNow(clk.Now))
	s.RegisterMutation("t:insertThenFail", func(ctx *MutationCtx, _ map[string]any) (any, error) {
		id, err := ctx.Insert("items", map[string]any{"n": 1})
		if err != nil {
			return nil, err
		}
		if d, ok := ctx.Get(id); !ok || d["n"] != 1.0 {
			return nil, errors.New("own write not visible")
		}
		if len(ctx.List("items")) != 1 {
			return nil, errors.New("own insert not listed")
		}
		return nil, errors.New("rollback")
	})
	s.RegisterMutation("t:panics", func(ctx *MutationCtx, _ map[string]any) (any, error) {
		_, _ = ctx.Insert("items", map[string]any{"n": 2})
		panic("boom")
	})
	s.RegisterMutation("t:badResult", func(ctx *MutationCtx, _ map[string]any) (any, error) {
		_, _ = ctx.Insert("items", map[string]any{"n": 3})
		return make(chan int), nil
	})
	s.RegisterQuery("t:list", func(ctx *QueryCtx, _ map[string]any) (any, error) { return ctx.List("items"), nil })
	for _, p := range []string{"t:insertThenFail", "t:panics", "t:badResult"} {
		if _, err := s.RunMutation(p, nil); err == nil {
			t.Fatalf("%s succeeded", p)
		}
	}
	if v, _ := s.RunQuery("t:list", nil); len(v.([]any)) != 0 {
		t.Fatalf("rolled-back writes visible: %v", v)
	}
	if st := s.Stats(); st.MutationsRun != 3 || st.MutationsCommitted != 0 {
		t.Fatalf("%+v", st)
	}
}

func TestDocumentsAndTimestamps(t *testing.T) {
	clk := newClock()
	s := newDemo(t, WithNow(clk.Now))
	s.RegisterMutation("t:edit", func(ctx *MutationCtx, args map[string]any) (any, error) {
		a, _ := ctx.Insert("items", map[string]any{"n": 1, "keep": "k"})
		b, _ := ctx.Insert("items", map[string]any{"n": 2})
		c, _ := ctx.Insert("items", map[string]any{"n": 3})
		if err := ctx.Patch(a, map[string]any{"n": 10}); err != nil {
			return nil, err
		}
		if err := ctx.Delete(b); err != nil {
			return nil, err
		}
		if err := ctx.Delete(b); err == nil {
			return nil, errors.New("double delete succeeded")
		}
		if _, err := ctx.Insert("items", map[string]any{"_id": "x"}); err == nil {
			return nil, errors.New("system field accepted")
		}
		if _, err := ctx.Insert("bad table!", nil); err == nil {
			return nil, errors.New("bad table name accepted")
		}
		return []any{a, b, c}, nil
	})
	s.RegisterQuery("t:list", func(ctx *QueryCtx, _ map[string]any) (any, error) { return ctx.List("items"), nil })
	v, err := s.RunMutation("t:edit", nil)
	if err != nil {
		t.Fatal(err)
	}
	ids := v.([]any)
	if ids[0] == ids[1] || ids[1] == ids[2] || !strings.HasPrefix(ids[0].(string), "items_") {
		t.Fatalf("ids %v", ids)
	}
	list, _ := s.RunQuery("t:list", nil)
	docs := list.([]any)
	if len(docs) != 2 {
		t.Fatalf("docs %v", docs)
	}
	d0, d1 := docs[0].(map[string]any), docs[1].(map[string]any)
	if d0["_id"] != ids[0] || d0["n"] != 10.0 || d0["keep"] != "k" || d1["_id"] != ids[2] {
		t.Fatalf("docs %v", docs)
	}
	if !(d0["_creationTime"].(float64) < d1["_creationTime"].(float64)) {
		t.Fatalf("creation times %v %v", d0["_creationTime"], d1["_creationTime"])
	}
	if d0["_creationTime"].(float64) != float64(clk.Now().UnixMilli()) {
		t.Fatalf("creation time %v from clock %v", d0["_creationTime"], clk.Now())
	}

	// With a frozen clock every commit still gets a larger timestamp.
	t0 := s.store.current().ts
	for range 3 {
		if _, err := s.RunMutation("counter:increment", map[string]any{"name": "x"}); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.store.current().ts; got != t0+3 {
		t.Fatalf("ts %d after 3 commits from %d", got, t0)
	}
	clk.Advance(time.Second)
	if _, err := s.RunMutation("counter:increment", map[string]any{"name": "x"}); err != nil {
		t.Fatal(err)
	}
	if got := s.store.current().ts; int64(got) != clk.Now().UnixNano() {
		t.Fatalf("ts %d, clock %d", got, clk.Now().UnixNano())
	}
}

func TestReadsAreCopies(t *testing.T) {
	s := newDemo(t)
	s.RegisterQuery("t:mutateRead", func(ctx *QueryCtx, _ map[string]any) (any, error) {
		for _, d := range ctx.List("messages") {
			d["body"] = "changed"
		}
		return nil, nil
	})
	if _, err := s.RunMutation("messages:send", map[string]any{"channel": "c", "author": "a", "body": "orig"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RunQuery("t:mutateRead", nil); err != nil {
		t.Fatal(err)
	}
	v, _ := s.RunQuery("messages:list", map[string]any{"channel": "c"})
	if v.([]any)[0].(map[string]any)["body"] != "orig" {
		t.Fatalf("stored document changed: %v", v)
	}
}

// TestDemoValidation: the demo's validators refuse bad arguments with the
// backend's exact messages, and accept what a Convex app's would.
func TestDemoValidation(t *testing.T) {
	s := newDemo(t)
	for _, tc := range []struct {
		path string
		args map[string]any
		want string
	}{
		{"messages:list", map[string]any{}, "ArgumentValidationError: Object is missing the required field `channel`. " +
			"Consider wrapping the field validator in `v.optional(...)` if this is expected.\n\n" +
			"Object: {}\nValidator: v.object({channel: v.string()})"},
		{"messages:list", map[string]any{"channel": 1}, "ArgumentValidationError: Value does not match validator.\n" +
			"Path: .channel\nValue: 1.0\nValidator: v.string()"},
		{"messages:send", map[string]any{"channel": "c", "author": "a"}, "ArgumentValidationError: Object is missing the required field `body`. " +
			"Consider wrapping the field validator in `v.optional(...)` if this is expected.\n\n" +
			`Object: {author: "a", channel: "c"}` + "\nValidator: v.object({author: v.string(), body: v.string(), channel: v.string()})"},
		// An Int64 is not a v.number(); the backend prints it as digits.
		{"counter:increment", map[string]any{"name": "n", "by": protocol.Int64(1)}, "ArgumentValidationError: Value does not match validator.\n" +
			"Path: .by\nValue: 1\nValidator: v.float64()"},
		{"counter:get", map[string]any{"name": "n", "extra": true}, "ArgumentValidationError: Object contains extra field `extra` that is not in the validator.\n\n" +
			`Object: {extra: true, name: "n"}` + "\nValidator: v.object({name: v.string()})"},
		{"auth:whoami", map[string]any{"x": 1}, "ArgumentValidationError: Object contains extra field `x` that is not in the validator.\n\n" +
			"Object: {x: 1.0}\nValidator: v.object({})"},
	} {
		out := s.call(s.ctx, 0, tc.path, mustNormalize(t, tc.args), nil, callOpts{requestID: "0123456789abcdef"})
		if out.err == nil || out.errCore != tc.want {
			t.Errorf("%s %v:\n got %q\nwant %q", tc.path, tc.args, out.errCore, tc.want)
		}
		if want := "[Request ID: 0123456789abcdef] Server Error\n" + tc.want + "\n"; out.errMsg != want {
			t.Errorf("%s %v: message %q, want %q", tc.path, tc.args, out.errMsg, want)
		}
	}
	v, err := s.RunMutation("counter:increment", map[string]any{"name": "n", "by": 5})
	if err != nil || v != 5.0 {
		t.Fatal(v, err)
	}
	v, _ = s.RunMutation("counter:increment", map[string]any{"name": "n"})
	if v != 6.0 {
		t.Fatal(v)
	}
	v, _ = s.RunQuery("counter:get", map[string]any{"name": "n"})
	w, _ := s.RunQuery("counter:get", map[string]any{"name": "unset"})
	if v != 6.0 || w != 0.0 {
		t.Fatal(v, w)
	}
	// echo:run has args v.any(): anything goes, Int64 included.
	args := map[string]any{"x": []any{protocol.Int64(1), "s"}}
	if v, _ := s.RunAction("echo:run", args); !reflect.DeepEqual(v, args) {
		t.Fatal(v)
	}
	var ce ConvexError
	if _, err := s.RunQuery("errors:throw", nil); !errors.As(err, &ce) || !reflect.DeepEqual(ce.Data, map[string]any{"code": "boom"}) {
		t.Fatal(err)
	}
	if v, err := s.RunQuery("auth:whoami", nil); v != nil || err != nil {
		t.Fatal(v, err)
	}
	id, err := s.RunMutation("messages:send", map[string]any{"channel": "c", "author": "a", "body": "b"})
	if err != nil {
		t.Fatal(err)
	}
	docs, err := s.RunQuery("messages:list", map[string]any{"channel": "c"})
	if err != nil || len(docs.([]any)) != 1 || docs.([]any)[0].(map[string]any)["_id"] != id {
		t.Fatal(docs, err)
	}
}

func mustNormalize(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	v, err := normalizeFieldsAny(m)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestRegisterInvalidPathPanics(t *testing.T) {
	s := New()
	defer s.Close()
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	s.RegisterQuery("bad path!", nil)
}
