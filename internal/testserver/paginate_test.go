package testserver

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/convexgo/convex/protocol"
)

// seedMessages inserts n messages into channel, bodies prefix0..prefix<n-1>
// in that order, and returns their ids.
func seedMessages(t *testing.T, s *Server, channel, prefix string, n int) []string {
	t.Helper()
	var ids []string
	err := s.Write(func(ctx *MutationCtx) error {
		for i := range n {
			id, err := ctx.Insert("messages", map[string]any{"channel": channel, "author": "a", "body": fmt.Sprintf("%s%d", prefix, i)})
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

type page struct {
	bodies     []string
	ids        []string
	isDone     bool
	cont       string
	split      any
	pageStatus any
}

func toPage(t *testing.T, v any) page {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("result %v is not an object", v)
	}
	p := page{isDone: m["isDone"].(bool), cont: m["continueCursor"].(string), split: m["splitCursor"], pageStatus: m["pageStatus"]}
	for _, d := range m["page"].([]any) {
		doc := d.(map[string]any)
		p.bodies = append(p.bodies, doc["body"].(string))
		p.ids = append(p.ids, doc["_id"].(string))
	}
	return p
}

func opts(n float64, cursor any, extra ...any) map[string]any {
	o := map[string]any{"numItems": n, "cursor": cursor}
	for i := 0; i+1 < len(extra); i += 2 {
		o[extra[i].(string)] = extra[i+1]
	}
	return o
}

func runPage(t *testing.T, s *Server, channel string, o map[string]any) page {
	t.Helper()
	v, err := s.RunQuery("messages:paginated", map[string]any{"channel": channel, "paginationOpts": o})
	if err != nil {
		t.Fatalf("messages:paginated %v: %v", o, err)
	}
	return toPage(t, v)
}

func TestPaginateWalksNewestFirst(t *testing.T) {
	s := newDemo(t)
	seedMessages(t, s, "b", "b", 3) // oldest: the last page scans them
	seedMessages(t, s, "a", "m", 10)
	var got []string
	var sizes []int
	var cur any
	for range 10 {
		p := runPage(t, s, "a", opts(3, cur))
		got = append(got, p.bodies...)
		sizes = append(sizes, len(p.bodies))
		if p.isDone {
			break
		}
		cur = p.cont
	}
	want := "m9 m8 m7 m6 m5 m4 m3 m2 m1 m0"
	if strings.Join(got, " ") != want || fmt.Sprint(sizes) != "[3 3 3 1]" {
		t.Fatalf("walk %v sizes %v", got, sizes)
	}
}

func TestPaginateAscendingAndEmpty(t *testing.T) {
	s := New()
	t.Cleanup(s.Close)
	s.RegisterQuery("t:page", func(ctx *QueryCtx, args map[string]any) (any, error) {
		r, err := ctx.Paginate("things", nil, args["paginationOpts"].(map[string]any))
		return r.Value(), err
	})
	v, err := s.RunQuery("t:page", map[string]any{"paginationOpts": opts(5, nil)})
	if err != nil {
		t.Fatal(err)
	}
	if p := toPage(t, v); !p.isDone || len(p.ids) != 0 || p.split != nil || p.pageStatus != nil {
		t.Fatalf("empty table %+v", p)
	}
	_ = s.Write(func(ctx *MutationCtx) error {
		for i := range 4 {
			if _, err := ctx.Insert("things", map[string]any{"body": fmt.Sprint(i)}); err != nil {
				return err
			}
		}
		return nil
	})
	v, _ = s.RunQuery("t:page", map[string]any{"paginationOpts": opts(2, nil)})
	p := toPage(t, v)
	if strings.Join(p.bodies, "") != "01" || p.isDone {
		t.Fatalf("first %+v", p)
	}
	// A page that fills exactly is not done: the next one is empty and done,
	// as the backend stops scanning once the page is full.
	v, _ = s.RunQuery("t:page", map[string]any{"paginationOpts": opts(2, p.cont)})
	p = toPage(t, v)
	if strings.Join(p.bodies, "") != "23" || p.isDone {
		t.Fatalf("second %+v", p)
	}
	v, _ = s.RunQuery("t:page", map[string]any{"paginationOpts": opts(2, p.cont)})
	if p = toPage(t, v); len(p.bodies) != 0 || !p.isDone {
		t.Fatalf("third %+v", p)
	}
	// The end cursor of a finished walk stays done.
	v, _ = s.RunQuery("t:page", map[string]any{"paginationOpts": opts(2, p.cont)})
	if p = toPage(t, v); len(p.bodies) != 0 || !p.isDone {
		t.Fatalf("after the end %+v", p)
	}
}

func TestPaginateWritesBetweenPages(t *testing.T) {
	s := newDemo(t)
	ids := seedMessages(t, s, "a", "m", 6)
	p1 := runPage(t, s, "a", opts(2, nil))
	if strings.Join(p1.bodies, " ") != "m5 m4" {
		t.Fatalf("page 1 %v", p1.bodies)
	}
	// A newer message lands before the cursor (newest first): not in later
	// pages. Deleting the document the cursor points after (m4) and the
	// first of the next page (m3) moves nothing: cursors are positions.
	seedMessages(t, s, "a", "new", 1)
	if err := s.Write(func(ctx *MutationCtx) error {
		if err := ctx.Delete(ids[4]); err != nil {
			return err
		}
		return ctx.Delete(ids[3])
	}); err != nil {
		t.Fatal(err)
	}
	p2 := runPage(t, s, "a", opts(2, p1.cont))
	if strings.Join(p2.bodies, " ") != "m2 m1" || p2.isDone {
		t.Fatalf("page 2 %v", p2)
	}
	p3 := runPage(t, s, "a", opts(2, p2.cont))
	if strings.Join(p3.bodies, " ") != "m0" || !p3.isDone {
		t.Fatalf("page 3 %+v", p3)
	}
	// The first page re-run with its end cursor fixed takes the new message
	// and keeps its end: m5 only remains of it, plus "new0".
	p1b := runPage(t, s, "a", opts(2, nil, "endCursor", p1.cont))
	if strings.Join(p1b.bodies, " ") != "new0 m5" || p1b.cont != p1.cont {
		t.Fatalf("page 1 with endCursor %+v", p1b)
	}
	// An end cursor ignores numItems: a page of 1 up to m0's page end.
	all := runPage(t, s, "a", opts(1, nil, "endCursor", p3.cont))
	if strings.Join(all.bodies, " ") != "new0 m5 m2 m1 m0" || !all.isDone {
		t.Fatalf("page up to the end %+v", all)
	}
}

func TestPaginateLimitsAndSplits(t *testing.T) {
	s := newDemo(t)
	seedMessages(t, s, "a", "m", 4)
	seedMessages(t, s, "b", "x", 6) // newest: scanned first, filtered out
	// maximumRowsRead 3: three rows scanned, none of them "a" → an empty
	// SplitRequired page that still moves on.
	p := runPage(t, s, "a", opts(10, nil, "maximumRowsRead", 3.0))
	if len(p.bodies) != 0 || p.isDone || p.pageStatus != "SplitRequired" || p.split == nil {
		t.Fatalf("rows limit %+v", p)
	}
	p = runPage(t, s, "a", opts(10, p.cont, "maximumRowsRead", 5.0))
	if strings.Join(p.bodies, " ") != "m3 m2" || p.pageStatus != "SplitRequired" || p.isDone {
		t.Fatalf("rows limit 2 %+v", p)
	}
	// The split cursor is the middle row scanned: a page from it ends where
	// the walk goes on.
	// maximumBytesRead: at least one document is always read.
	p = runPage(t, s, "b", opts(10, nil, "maximumBytesRead", 1.0))
	if strings.Join(p.bodies, " ") != "x5" || p.pageStatus != "SplitRequired" || p.split != nil {
		t.Fatalf("bytes limit %+v", p)
	}
	// Past three quarters of maximumRowsRead: SplitRecommended.
	p = runPage(t, s, "b", opts(5, nil, "maximumRowsRead", 6.0))
	if len(p.bodies) != 5 || p.pageStatus != "SplitRecommended" || p.split == nil {
		t.Fatalf("soft limit %+v", p)
	}
	// Split the page as the official client does: [cursor, split] and
	// (split, continueCursor] hold the same documents as the page.
	split := p.split.(string)
	a := runPage(t, s, "b", opts(5, nil, "endCursor", split))
	b := runPage(t, s, "b", opts(5, split, "endCursor", p.cont))
	if strings.Join(append(a.bodies, b.bodies...), " ") != strings.Join(p.bodies, " ") || len(a.bodies) == 0 || len(b.bodies) == 0 {
		t.Fatalf("split %v + %v != %v", a.bodies, b.bodies, p.bodies)
	}
	// An end cursor lifts the hard limits (not the soft ones, which still
	// recommend a split, as in the backend).
	p = runPage(t, s, "b", opts(1, nil, "maximumRowsRead", 1.0, "endCursor", b.cont))
	if len(p.bodies) != 5 || p.pageStatus != "SplitRecommended" {
		t.Fatalf("end cursor with limits %+v", p)
	}
}

func TestPaginateErrors(t *testing.T) {
	s := newDemo(t)
	seedMessages(t, s, "a", "m", 2)
	s.RegisterQuery("t:twice", func(ctx *QueryCtx, _ map[string]any) (any, error) {
		if _, err := ctx.Paginate("messages", nil, opts(1, nil)); err != nil {
			return nil, err
		}
		_, err := ctx.Paginate("messages", nil, opts(1, nil))
		return nil, err
	})
	s.RegisterQuery("t:asc", func(ctx *QueryCtx, args map[string]any) (any, error) {
		r, err := ctx.Paginate("messages", nil, args["paginationOpts"].(map[string]any))
		return r.Value(), err
	})
	ascPage, err := s.RunQuery("t:asc", map[string]any{"paginationOpts": opts(1, nil)})
	if err != nil {
		t.Fatal(err)
	}
	ascCursor := toPage(t, ascPage).cont
	call := func(path string, o map[string]any) httpResult {
		args := map[string]any{"channel": "a", "paginationOpts": o}
		if path != "messages:paginated" {
			args = map[string]any{"paginationOpts": o}
		}
		b, _ := protocol.EncodeValue(args)
		body, _ := json.Marshal(map[string]any{"path": path, "args": json.RawMessage(b), "format": "json"})
		return doHTTP(t, s, "POST", "/api/query", string(body), nil)
	}
	for _, tc := range []struct {
		path string
		o    map[string]any
		want string
	}{
		{"messages:paginated", opts(0, nil), "Uncaught Error: Must request at least 1 document while paginating"},
		{"messages:paginated", opts(-1, nil), "Uncaught Error: `options.numItems` must be a positive number. Received `-1`."},
		{"messages:paginated", opts(2.5, nil), "expected usize"},
		{"messages:paginated", opts(40000, nil), "Uncaught Error: Requested too many items: 40000"},
		{"messages:paginated", opts(1, nil, "maximumRowsRead", 0.0), "Uncaught Error: maximumRowsRead and maximumBytesRead must be greater than 0"},
		{"messages:paginated", opts(1, "not a cursor"), "Uncaught Error: Failed to parse cursor"},
		{"messages:paginated", opts(1, ascCursor[:len(ascCursor)-2]+"AA"), "Uncaught Error: Failed to parse cursor"},
		{"messages:paginated", opts(1, nil, "endCursor", "%%%"), "Uncaught Error: Failed to parse cursor"},
		{"messages:paginated", opts(1, ascCursor), "Uncaught Error: InvalidCursor: Tried to run a query starting from a cursor, but it looks like this cursor is from a different query."},
		{"t:twice", nil, "Uncaught Error: This query or mutation function ran multiple paginated queries."},
		{"messages:paginated", map[string]any{"numItems": 1.0}, "ArgumentValidationError"},
	} {
		r := call(tc.path, tc.o)
		msg, _ := r.body["errorMessage"].(string)
		if r.status != 200 || r.body["status"] != "error" || !strings.Contains(msg, tc.want) {
			t.Errorf("%s %v: %d %s; want %q", tc.path, tc.o, r.status, r.raw, tc.want)
		}
		if strings.Contains(tc.want, "InvalidCursor") {
			data, _ := r.body["errorData"].(map[string]any)
			if data["paginationError"] != "InvalidCursor" || data["isConvexSystemError"] != true {
				t.Errorf("InvalidCursor errorData %v", r.body["errorData"])
			}
		}
	}
}

// TestPaginatedJournalOverSocket checks that a live page keeps its end
// across re-runs (through the journal the server records) and across a
// reconnect (through the journal the client re-sends on Add).
func TestPaginatedJournalOverSocket(t *testing.T) {
	s := newDemo(t)
	seedMessages(t, s, "a", "m", 5)
	args := map[string]any{"channel": "a", "paginationOpts": opts(2, nil)}
	c := dial(t, s)
	c.connect()
	c.modify(0, add(t, 0, "messages:paginated", args))
	tr := c.transition()
	m := tr.Modifications[0]
	p := toPage(t, decode(t, m.Value))
	if m.Journal == nil || strings.Join(p.bodies, " ") != "m4 m3" {
		t.Fatalf("first page %+v journal %v", p, m.Journal)
	}
	journal := *m.Journal
	// A new message is newer than the page's start: the re-run keeps the
	// page's end (m3), so the page grows instead of dropping m3.
	c.mutation(0, "messages:send", map[string]any{"channel": "a", "author": "x", "body": "new"})
	expectMsg[*protocol.MutationResponse](c)
	tr = c.transition()
	if len(tr.Modifications) != 1 {
		t.Fatalf("mods %+v", tr.Modifications)
	}
	m = tr.Modifications[0]
	p2 := toPage(t, decode(t, m.Value))
	if strings.Join(p2.bodies, " ") != "new m4 m3" || p2.cont != p.cont || m.Journal == nil || *m.Journal != journal {
		t.Fatalf("re-run %+v journal %v", p2, m.Journal)
	}
	// Reconnect: an Add with the journal keeps the end; one without starts
	// afresh with numItems.
	c2 := dial(t, s)
	c2.connect()
	withJournal := add(t, 0, "messages:paginated", args)
	withJournal.Journal = &journal
	c2.modify(0, withJournal, add(t, 1, "messages:paginated", args))
	tr = c2.transition()
	if len(tr.Modifications) != 2 {
		t.Fatalf("mods %+v", tr.Modifications)
	}
	if p := toPage(t, decode(t, tr.Modifications[0].Value)); strings.Join(p.bodies, " ") != "new m4 m3" {
		t.Fatalf("re-add with journal %v", p.bodies)
	}
	if p := toPage(t, decode(t, tr.Modifications[1].Value)); strings.Join(p.bodies, " ") != "new m4" {
		t.Fatalf("re-add without journal %v", p.bodies)
	}
	// A query that does not paginate has a null journal.
	c2.modify(1, add(t, 2, "messages:list", map[string]any{"channel": "a"}))
	if tr = c2.transition(); tr.Modifications[0].Journal != nil {
		t.Fatalf("messages:list journal %v", *tr.Modifications[0].Journal)
	}
	// A mangled journal fails the query, not the socket.
	bad := add(t, 3, "messages:paginated", args)
	junk := "junk"
	bad.Journal = &junk
	c2.modify(2, bad)
	tr = c2.transition()
	if m := tr.Modifications[0]; m.Type != protocol.TypeQueryFailed || !strings.Contains(m.ErrorMessage, "Failed to parse query journal") {
		t.Fatalf("bad journal %+v", m)
	}
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestQueryAtTimestamp(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1700000000, 0)}
	s := newDemo(t, WithNow(clock.Now))
	seedMessages(t, s, "a", "m", 1)
	ts := doHTTP(t, s, "POST", "/api/query_ts", "", nil).body["ts"].(string)
	clock.Advance(time.Second)
	seedMessages(t, s, "a", "n", 1)
	at := func(ts any) httpResult {
		body, _ := json.Marshal(map[string]any{"path": "messages:list", "args": map[string]any{"channel": "a"}, "ts": ts, "format": "json"})
		return doHTTP(t, s, "POST", "/api/query_at_ts", string(body), nil)
	}
	if r := at(ts); r.status != 200 || len(r.body["value"].([]any)) != 1 {
		t.Fatalf("query_at_ts old: %d %s", r.status, r.raw)
	}
	latest := doHTTP(t, s, "POST", "/api/query_ts", "", nil).body["ts"].(string)
	if r := at(latest); r.status != 200 || len(r.body["value"].([]any)) != 2 {
		t.Fatalf("query_at_ts latest: %d %s", r.status, r.raw)
	}
	n, _ := protocol.DecodeU64(latest)
	if r := at(protocol.EncodeU64(n + 1)); r.status != 500 || r.body["code"] != "InternalServerError" {
		t.Fatalf("future ts: %d %s", r.status, r.raw)
	}
	if r := at("!!"); r.status != 400 {
		t.Fatalf("bad ts: %d %s", r.status, r.raw)
	}
	// Eleven seconds of commits later the first snapshot is gone.
	clock.Advance(11 * time.Second)
	seedMessages(t, s, "a", "o", 1)
	if r := at(ts); r.status != 503 || r.body["code"] != "InternalServerError" ||
		r.body["message"] != "Your request couldn't be completed. Try again later." {
		t.Fatalf("too old ts: %d %s", r.status, r.raw)
	}
	// The snapshot valid at the window's start is kept.
	if r := at(latest); r.status != 200 || len(r.body["value"].([]any)) != 2 {
		t.Fatalf("query_at_ts in window: %d %s", r.status, r.raw)
	}
}

func TestHistoryBounded(t *testing.T) {
	st := newStore(1)
	for i := range maxHistory + 10 {
		x := &tx{base: st.current(), st: st, now: time.Now}
		x.writable("t")
		st.commit(x, time.Unix(0, int64(i+2)))
	}
	if len(st.history) != maxHistory {
		t.Fatalf("history %d", len(st.history))
	}
	if _, err := st.snapshotAt(1); err == nil {
		t.Fatal("the first snapshot is still readable")
	}
	if s, err := st.snapshotAt(st.current().ts); err != nil || s != st.current() {
		t.Fatalf("latest: %v", err)
	}
}
