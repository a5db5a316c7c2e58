package client

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/convexgo/convex/internal/testserver"
)

type pageMsg struct {
	ID   string `json:"_id"`
	Body string `json:"body"`
}

func seed(t *testing.T, srv *testserver.Server, channel, prefix string, n int) {
	t.Helper()
	err := srv.Write(func(ctx *testserver.MutationCtx) error {
		for i := range n {
			if _, err := ctx.Insert("messages", map[string]any{"channel": channel, "author": "a", "body": fmt.Sprintf("%s%d", prefix, i)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func collect(t *testing.T, seq func(func(pageMsg, error) bool)) ([]string, error) {
	t.Helper()
	var out []string
	var last error
	for m, err := range seq {
		if err != nil {
			last = err
			break
		}
		out = append(out, m.Body)
	}
	return out, last
}

func TestPaginateOverClientAndHTTPCaller(t *testing.T) {
	srv, keys, h, ctx := httpSetup(t)
	seed(t, srv, "a", "m", 25)
	seed(t, srv, "b", "x", 5)
	c, err := New(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tok, err := keys.MintToken("u1", time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	args := map[string]any{"channel": "a"}
	for name, caller := range map[string]Caller{"client": c, "http": h.As(UserToken(tok)), "anon": h.As(Anonymous())} {
		for _, one := range []bool{false, true} {
			got, err := collect(t, Paginate[pageMsg](ctx, caller, "messages:paginated", args, PageOptions{PageSize: 7, OneTimestamp: one}))
			if err != nil || len(got) != 25 || got[0] != "m24" || got[24] != "m0" {
				t.Fatalf("%s oneTS=%v: %v %v", name, one, got, err)
			}
		}
	}
	if len(args) != 1 {
		t.Fatalf("args modified: %v", args)
	}
	// Pages: sizes, cursors chain, the last is done.
	var sizes []int
	prev := ""
	for p, err := range Pages[pageMsg](ctx, c, "messages:paginated", args, PageOptions{PageSize: 10}) {
		if err != nil {
			t.Fatal(err)
		}
		if p.Cursor != prev {
			t.Fatalf("page cursor %q, want %q", p.Cursor, prev)
		}
		prev = p.ContinueCursor
		sizes = append(sizes, len(p.Items))
	}
	if fmt.Sprint(sizes) != "[10 10 5]" {
		t.Fatalf("sizes %v", sizes)
	}
	// Breaking out of the loop stops the walk.
	n := 0
	for range Paginate[pageMsg](ctx, c, "messages:paginated", args, PageOptions{PageSize: 3}) {
		n++
		if n == 4 {
			break
		}
	}
}

// countingTransport counts requests and fails those after the limit.
type countingTransport struct {
	n, failAfter atomic.Int64
}

func (ct *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if ct.n.Add(1) > ct.failAfter.Load() {
		return nil, errors.New("network down")
	}
	return http.DefaultTransport.RoundTrip(r)
}

func TestPaginateResumesAfterError(t *testing.T) {
	ct := &countingTransport{}
	ct.failAfter.Store(2)
	srv, _, h, ctx := httpSetup(t, WithHTTPClient(&http.Client{Transport: ct}))
	seed(t, srv, "a", "m", 10)
	caller := h.As(Anonymous())
	args := map[string]any{"channel": "a"}
	got, err := collect(t, Paginate[pageMsg](ctx, caller, "messages:paginated", args, PageOptions{PageSize: 3}))
	cur, ok := ResumeCursor(err)
	if !ok || len(got) != 6 || cur == "" || !strings.Contains(err.Error(), "network down") {
		t.Fatalf("first walk %v %v", got, err)
	}
	ct.failAfter.Store(1 << 40)
	rest, err := collect(t, Paginate[pageMsg](ctx, caller, "messages:paginated", args, PageOptions{PageSize: 3, Cursor: cur}))
	if err != nil || strings.Join(append(got, rest...), " ") != "m9 m8 m7 m6 m5 m4 m3 m2 m1 m0" {
		t.Fatalf("resumed %v %v", rest, err)
	}
}

func TestPaginateErrors(t *testing.T) {
	srv, _, h, ctx := httpSetup(t)
	seed(t, srv, "a", "m", 3)
	caller := h.As(Anonymous())
	for name, tc := range map[string]struct {
		path string
		args map[string]any
		opts PageOptions
		want string
	}{
		"bad cursor":    {"messages:paginated", map[string]any{"channel": "a"}, PageOptions{Cursor: "nope"}, "Failed to parse cursor"},
		"too many":      {"messages:paginated", map[string]any{"channel": "a"}, PageOptions{PageSize: 40000}, "Requested too many items"},
		"negative":      {"messages:paginated", map[string]any{"channel": "a"}, PageOptions{PageSize: -1}, "negative"},
		"not paginated": {"messages:list", map[string]any{"channel": "a"}, PageOptions{}, "ArgumentValidationError"},
		"field taken":   {"messages:paginated", map[string]any{"channel": "a", "paginationOpts": 1}, PageOptions{}, "already hold"},
		"one ts":        {"messages:paginated", map[string]any{"channel": "a"}, PageOptions{OneTimestamp: true}, ""},
	} {
		var c Caller = caller
		if name == "one ts" {
			c = plainCaller{caller}
			tc.want = "needs a ConsistentReader"
		}
		_, err := collect(t, Paginate[pageMsg](ctx, c, tc.path, tc.args, tc.opts))
		var pe *PageError
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// plainCaller hides the ConsistentReader methods of a Caller.
type plainCaller struct{ Caller }

func TestConsistentQuery(t *testing.T) {
	srv, _, h, ctx := httpSetup(t)
	seed(t, srv, "a", "m", 2)
	caller := h.As(Anonymous())
	ts, err := caller.QueryTimestamp(ctx)
	if err != nil || ts == 0 {
		t.Fatal(ts, err)
	}
	seed(t, srv, "a", "n", 1)
	if _, err := Mutation[float64](ctx, caller, "counter:increment", map[string]any{"name": "c"}); err != nil {
		t.Fatal(err)
	}
	// At the old timestamp: two messages and no counter.
	old := At(caller, ts)
	msgs, err := Query[[]pageMsg](ctx, old, "messages:list", map[string]any{"channel": "a"})
	if err != nil || len(msgs) != 2 {
		t.Fatalf("at ts: %v %v", msgs, err)
	}
	if n, err := Query[float64](ctx, old, "counter:get", map[string]any{"name": "c"}); err != nil || n != 0 {
		t.Fatalf("counter at ts: %v %v", n, err)
	}
	if _, err := old.MutationRaw(ctx, "counter:increment", nil); err == nil {
		t.Fatal("a mutation through At ran")
	}
	c, err := New(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for name, r := range map[string]ConsistentReader{"http": caller, "client": c} {
		snap, err := ConsistentQuery(ctx, r,
			QuerySpec{Path: "messages:list", Args: map[string]any{"channel": "a"}},
			QuerySpec{Path: "counter:get", Args: map[string]any{"name": "c"}},
			QuerySpec{Path: "errors:throw"})
		if err != nil || snap.TS <= ts || snap.Errs[0] != nil || snap.Errs[1] != nil {
			t.Fatalf("%s: %+v %v", name, snap, err)
		}
		var fe *FunctionError
		if !errors.As(snap.Errs[2], &fe) || string(snap.Values[1]) != "1" {
			t.Fatalf("%s: %+v", name, snap)
		}
	}
	// A timestamp newer than the deployment's latest is an HTTP error.
	_, err = caller.QueryAtRaw(ctx, ts+1<<50, "counter:get", map[string]any{"name": "c"})
	var he *HTTPError
	if !errors.As(err, &he) || he.StatusCode != 500 {
		t.Fatalf("future ts: %v", err)
	}
}

func TestPaginateOneTimestampIsASnapshot(t *testing.T) {
	srv, _, h, ctx := httpSetup(t)
	seed(t, srv, "a", "m", 6)
	caller := h.As(Anonymous())
	// Delete and insert messages while the walk is under way: a walk at
	// one timestamp sees none of it.
	var got []string
	for m, err := range Paginate[pageMsg](ctx, caller, "messages:paginated", map[string]any{"channel": "a"},
		PageOptions{PageSize: 2, OneTimestamp: true}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, m.Body)
		if len(got) == 1 {
			seed(t, srv, "a", "late", 3)
			if err := srv.Write(func(ctx *testserver.MutationCtx) error {
				for _, d := range ctx.Filter("messages", func(d map[string]any) bool { return d["body"] == "m0" }) {
					if err := ctx.Delete(d["_id"].(string)); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if strings.Join(got, " ") != "m5 m4 m3 m2 m1 m0" {
		t.Fatalf("walk %v", got)
	}
}
