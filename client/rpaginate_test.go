package client

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/convexgo/convex/internal/testserver"
)

// bodies returns the bodies of msgs.
func bodies(msgs []pageMsg) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.Body
	}
	return out
}

// span returns prefix+hi down to prefix+lo, newest first.
func span(prefix string, hi, lo int) []string {
	var out []string
	for i := hi; i >= lo; i-- {
		out = append(out, fmt.Sprintf("%s%d", prefix, i))
	}
	return out
}

// waitList reads values until the list's bodies are want with status st.
func waitList(t *testing.T, ctx context.Context, ps *PaginatedSubscription[pageMsg], st PaginationStatus, want ...string) PaginatedResult[pageMsg] {
	t.Helper()
	var last PaginatedResult[pageMsg]
	for {
		v, err := ps.Next(ctx)
		if err != nil {
			t.Fatalf("Next: %v (last %v %v, want %v %v)", err, last.Status, bodies(last.Items), st, want)
		}
		last = v
		if v.Status == st && slices.Equal(bodies(v.Items), want) {
			return v
		}
	}
}

func send(t *testing.T, ctx context.Context, c *Client, channel, body string) {
	t.Helper()
	if _, err := Mutation[string](ctx, c, "messages:send", map[string]any{"channel": channel, "author": "a", "body": body}); err != nil {
		t.Fatal(err)
	}
}

func cat(parts ...[]string) []string { return slices.Concat(parts...) }

func TestSubscribePaginatedLiveAndLoadMore(t *testing.T) {
	srv, c, ctx := setup(t)
	seed(t, srv, "ch", "m", 10)
	ps, err := SubscribePaginated[pageMsg](ctx, c, "messages:paginated", map[string]any{"channel": "ch"}, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	waitList(t, ctx, ps, CanLoadMore, span("m", 9, 7)...)

	// Newest first: a new message is at the top of page 1, which grows
	// (its journal keeps its end at m7).
	send(t, ctx, c, "ch", "n0")
	waitList(t, ctx, ps, CanLoadMore, cat([]string{"n0"}, span("m", 9, 7))...)

	srv.Stall() // the new page has no result until Resume
	if ok, err := ps.LoadMore(ctx, 3); !ok || err != nil {
		t.Fatalf("LoadMore = %v, %v", ok, err)
	}
	if v, err := ps.Next(ctx); err != nil || v.Status != LoadingMore || len(v.Items) != 4 {
		t.Fatalf("after LoadMore: %v %v %v, want LoadingMore with page 1", v.Status, bodies(v.Items), err)
	}
	srv.Resume()
	waitList(t, ctx, ps, CanLoadMore, cat([]string{"n0"}, span("m", 9, 4))...)

	// A write between page loads, and one into a later page's range.
	send(t, ctx, c, "ch", "n1")
	waitList(t, ctx, ps, CanLoadMore, cat([]string{"n1", "n0"}, span("m", 9, 4))...)
	if ok, err := ps.LoadMore(ctx, 10); !ok || err != nil {
		t.Fatalf("LoadMore = %v, %v", ok, err)
	}
	waitList(t, ctx, ps, Exhausted, cat([]string{"n1", "n0"}, span("m", 9, 0))...)
	if ok, err := ps.LoadMore(ctx, 10); ok || err != nil {
		t.Fatalf("LoadMore when exhausted = %v, %v; want false, nil", ok, err)
	}
	send(t, ctx, c, "ch", "n2")
	waitList(t, ctx, ps, Exhausted, cat([]string{"n2", "n1", "n0"}, span("m", 9, 0))...)
}

func TestSubscribePaginatedDeleteAtBoundary(t *testing.T) {
	srv, c, ctx := setup(t)
	seed(t, srv, "ch", "m", 9)
	ps, err := SubscribePaginated[pageMsg](ctx, c, "messages:paginated", map[string]any{"channel": "ch"}, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	waitList(t, ctx, ps, CanLoadMore, span("m", 8, 6)...)
	if _, err := ps.LoadMore(ctx, 3); err != nil {
		t.Fatal(err)
	}
	v := waitList(t, ctx, ps, CanLoadMore, span("m", 8, 3)...)
	// Delete the last item of page 1 (its end cursor) and the first of
	// page 2: the pages keep their boundaries, nothing moves.
	del := []string{v.Items[2].ID, v.Items[3].ID}
	if err := srv.Write(func(mc *testserver.MutationCtx) error {
		for _, id := range del {
			if err := mc.Delete(id); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	waitList(t, ctx, ps, CanLoadMore, "m8", "m7", "m4", "m3")
	send(t, ctx, c, "ch", "n0")
	waitList(t, ctx, ps, CanLoadMore, "n0", "m8", "m7", "m4", "m3")
	if _, err := ps.LoadMore(ctx, 5); err != nil {
		t.Fatal(err)
	}
	waitList(t, ctx, ps, Exhausted, "n0", "m8", "m7", "m4", "m3", "m2", "m1", "m0")
}

// A reconnect re-adds every page with its journal: page 1 keeps its end
// at m7 though a document was inserted before the re-sync (without the
// journal it would re-run as the newest 3 and lose m7).
func TestSubscribePaginatedReconnectKeepsBoundaries(t *testing.T) {
	srv, c, ctx := setup(t)
	seed(t, srv, "ch", "m", 10)
	ps, err := SubscribePaginated[pageMsg](ctx, c, "messages:paginated", map[string]any{"channel": "ch"}, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	waitList(t, ctx, ps, CanLoadMore, span("m", 9, 7)...)
	if _, err := ps.LoadMore(ctx, 3); err != nil {
		t.Fatal(err)
	}
	waitList(t, ctx, ps, CanLoadMore, span("m", 9, 4)...)

	srv.Refuse(true)
	srv.DropAll()
	if err := srv.WaitFor(ctx, func(st testserver.Stats) bool { return st.LiveQueries == 0 }); err != nil {
		t.Fatal(err)
	}
	seed(t, srv, "ch", "n", 1)
	srv.Refuse(false)
	waitList(t, ctx, ps, CanLoadMore, cat([]string{"n0"}, span("m", 9, 4))...)
	if err := srv.WaitFor(ctx, func(st testserver.Stats) bool { return st.LiveQueries == 2 }); err != nil {
		t.Fatal(err)
	}
}

func pageCount[T any](ps *PaginatedSubscription[T]) (active, all int) {
	ps.q.mu.Lock()
	defer ps.q.mu.Unlock()
	return len(ps.q.order), len(ps.q.parts)
}

// A page that grows past 2 × initialNumItems is split in two, and the
// list stays the same throughout.
func TestSubscribePaginatedSplit(t *testing.T) {
	srv, c, ctx := setup(t)
	seed(t, srv, "ch", "m", 4)
	ps, err := SubscribePaginated[pageMsg](ctx, c, "messages:paginated", map[string]any{"channel": "ch"}, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	waitList(t, ctx, ps, CanLoadMore, "m3", "m2")
	seed(t, srv, "ch", "n", 3)
	want := cat(span("n", 2, 0), []string{"m3", "m2"})
	waitList(t, ctx, ps, CanLoadMore, want...)
	if err := srv.WaitFor(ctx, func(st testserver.Stats) bool { return st.LiveQueries == 2 }); err != nil {
		t.Fatal(err)
	}
	for {
		if a, all := pageCount(ps); a == 2 && all == 2 {
			break
		}
		waitList(t, ctx, ps, CanLoadMore, want...) // every value on the way is the same list
	}
	// Both halves stay live and LoadMore goes on from the last.
	send(t, ctx, c, "ch", "n3")
	want = cat([]string{"n3"}, want)
	waitList(t, ctx, ps, CanLoadMore, want...)
	if _, err := ps.LoadMore(ctx, 5); err != nil {
		t.Fatal(err)
	}
	waitList(t, ctx, ps, Exhausted, cat(want, []string{"m1", "m0"})...)
	ps.Close()
	if err := srv.WaitFor(ctx, func(st testserver.Stats) bool { return st.LiveQueries == 0 }); err != nil {
		t.Fatal(err)
	}
}

func TestSubscribePaginatedSharedAndClose(t *testing.T) {
	srv, c, ctx := setup(t)
	seed(t, srv, "ch", "m", 6)
	args := map[string]any{"channel": "ch"}
	a, err := SubscribePaginated[pageMsg](ctx, c, "messages:paginated", args, 2)
	if err != nil {
		t.Fatal(err)
	}
	waitList(t, ctx, a, CanLoadMore, "m5", "m4")
	b, err := SubscribePaginated[pageMsg](ctx, c, "messages:paginated", args, 2)
	if err != nil {
		t.Fatal(err)
	}
	if a.q != b.q {
		t.Fatal("identical paginated subscriptions do not share their pages")
	}
	waitList(t, ctx, b, CanLoadMore, "m5", "m4")
	if _, err := b.LoadMore(ctx, 2); err != nil {
		t.Fatal(err)
	}
	waitList(t, ctx, a, CanLoadMore, span("m", 5, 2)...)
	waitList(t, ctx, b, CanLoadMore, span("m", 5, 2)...)
	if st := srv.Stats(); st.LiveQueries != 2 {
		t.Fatalf("LiveQueries = %d, want 2 (one per page)", st.LiveQueries)
	}

	changes := make(chan PaginatedResult[pageMsg], 10)
	stop := b.OnChange(func(v PaginatedResult[pageMsg], err error) {
		if err == nil {
			select {
			case changes <- v:
			default:
			}
		}
	})
	defer stop()
	send(t, ctx, c, "ch", "n0")
	for v := range changes {
		if len(v.Items) == 5 {
			break
		}
	}

	a.Close()
	for { // a value put before Close comes first
		if _, err := a.Next(ctx); err != nil {
			if err != ErrClosed {
				t.Fatalf("Next after Close = %v, want ErrClosed", err)
			}
			break
		}
	}
	if _, err := b.LoadMore(ctx, 2); err != nil {
		t.Fatalf("the other subscription: %v", err)
	}
	waitList(t, ctx, b, CanLoadMore, cat([]string{"n0"}, span("m", 5, 0))...)
	b.Close()
	b.Close()
	if err := srv.WaitFor(ctx, func(st testserver.Stats) bool { return st.LiveQueries == 0 }); err != nil {
		t.Fatal(err)
	}
}

func TestSubscribePaginatedFirstPageAndClientClose(t *testing.T) {
	srv, c, ctx := setup(t)
	srv.Stall() // no query result until Resume
	ps, err := SubscribePaginated[pageMsg](ctx, c, "messages:paginated", map[string]any{"channel": "ch"}, 3)
	if err != nil {
		t.Fatal(err)
	}
	v, err := ps.Next(ctx)
	if err != nil || v.Status != LoadingFirstPage || len(v.Items) != 0 {
		t.Fatalf("first Next = %v %v %v, want LoadingFirstPage and no items", v.Status, v.Items, err)
	}
	srv.Resume()
	waitList(t, ctx, ps, Exhausted)
	c.Close()
	for {
		if _, err := ps.Next(ctx); err != nil {
			if err != ErrClosed {
				t.Fatalf("Next after the client closed = %v, want ErrClosed", err)
			}
			break
		}
	}
	ps.Close()
}

func TestSubscribePaginatedBadArgs(t *testing.T) {
	_, c, ctx := setup(t)
	if _, err := SubscribePaginated[pageMsg](ctx, c, "messages:paginated", nil, 0); err == nil {
		t.Fatal("initialNumItems 0 accepted")
	}
	_, err := SubscribePaginated[pageMsg](ctx, c, "messages:paginated", map[string]any{"paginationOpts": 1}, 3)
	if err == nil || !strings.Contains(err.Error(), "paginationOpts") {
		t.Fatalf("err = %v", err)
	}
}

// TestPaginatedOnChangeAndNextBothSeeEachValue: a callback added with
// OnChange reads the values on its own, so Next on the same subscription
// still sees every newer list (they used to split the values between
// them), and closing the subscription ends the callback with ErrClosed.
func TestPaginatedOnChangeAndNextBothSeeEachValue(t *testing.T) {
	srv, c, ctx := setup(t)
	seed(t, srv, "ch", "m", 2)
	ps, err := SubscribePaginated[pageMsg](ctx, c, "messages:paginated", map[string]any{"channel": "ch"}, 5)
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	waitList(t, ctx, ps, Exhausted, "m1", "m0")
	seen := make(chan []string, 100)
	ended := make(chan error, 1)
	stop := ps.OnChange(func(v PaginatedResult[pageMsg], err error) {
		if err != nil {
			ended <- err
			return
		}
		seen <- bodies(v.Items)
	})
	defer stop()
	want := []string{"m1", "m0"}
	for i := range 5 {
		body := fmt.Sprint("n", i)
		send(t, ctx, c, "ch", body)
		want = cat([]string{body}, want)
		waitList(t, ctx, ps, Exhausted, want...) // Next sees it
		for {                                    // and so does the callback
			select {
			case got := <-seen:
				if !slices.Equal(got, want) {
					continue
				}
			case <-ctx.Done():
				t.Fatalf("the callback never saw %v", want)
			}
			break
		}
	}
	ps.Close()
	select {
	case err := <-ended:
		if err != ErrClosed {
			t.Fatalf("callback ended with %v, want ErrClosed", err)
		}
	case <-ctx.Done():
		t.Fatal("closing the subscription did not end the callback")
	}
}
