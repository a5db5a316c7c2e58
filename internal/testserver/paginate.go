package testserver

import (
	"encoding/base64"
	"fmt"
	"hash/crc32"
	"math"
	"strconv"
	"strings"

	"github.com/convexgo/convex/protocol"
)

// Pagination follows the backend's reactive pagination
// (crates/isolate/src/environment/udf/async_syscall.rs query_page and
// read_page_from_query, crates/database/src/query/index_range.rs) and the
// checks of the npm package's paginate (src/server/impl/query_impl.ts):
//
//   - A cursor is an opaque string naming a position in a table's
//     insertion order (after a document, or the end), for one table and
//     one order. A start cursor is exclusive, an end cursor inclusive.
//   - Without an end cursor a page holds up to numItems documents. With
//     one (given as endCursor, or taken from the query's journal), the page
//     holds every document up to it, whatever numItems says, and the row
//     and byte limits are not enforced: a reactive re-run of a page keeps
//     its boundaries, so documents inserted inside it make it grow.
//   - continueCursor is the end cursor when there is one, else the position
//     after the last document scanned, or the end of the table (isDone).
//   - The end cursor of each run is recorded in the query's journal, which
//     a sync socket sends with every QueryUpdated and uses for the next run;
//     a client re-sends it when it re-adds the query after a reconnect.
//   - maximumRowsRead and maximumBytesRead stop the page early with
//     pageStatus "SplitRequired" (at least one document is always scanned);
//     a page past three quarters of a limit (by default 32,000 rows and
//     16 MiB), or longer than 6,144 documents, gets "SplitRecommended".
//     splitCursor is the position of the middle document scanned, when
//     more than two were.
//   - Documents a filter rejects still count as rows read.

// Limits of one page (crates/common/src/knobs.rs TRANSACTION_MAX_READ_SIZE_*,
// async_syscall.rs SOFT_MAX_PAGE_LEN).
const (
	maxReadRows    = 32000
	maxReadBytes   = 1 << 24
	softMaxPageLen = 8192 * 3 / 4
)

// Order is the order in which Paginate walks a table.
type Order int

// The orders of a table's documents.
const (
	// Asc is insertion order, oldest first (Convex's default order).
	Asc Order = iota
	// Desc is newest first, as .order("desc").
	Desc
)

// PaginationResult is one page, as a Convex paginated query returns it.
type PaginationResult struct {
	Page           []map[string]any
	IsDone         bool
	ContinueCursor string
	SplitCursor    *string // nil when none
	PageStatus     string  // "", "SplitRecommended" or "SplitRequired"
}

// Value returns the result as the object a Convex function returns:
// {page, isDone, continueCursor, splitCursor, pageStatus}, with null for
// a missing splitCursor or pageStatus, as the backend writes them.
func (r PaginationResult) Value() map[string]any {
	page := make([]any, len(r.Page))
	for i, d := range r.Page {
		page[i] = d
	}
	m := map[string]any{"page": page, "isDone": r.IsDone, "continueCursor": r.ContinueCursor,
		"splitCursor": nil, "pageStatus": nil}
	if r.SplitCursor != nil {
		m["splitCursor"] = *r.SplitCursor
	}
	if r.PageStatus != "" {
		m["pageStatus"] = r.PageStatus
	}
	return m
}

// PaginationOpts is paginationOptsValidator of the npm package:
// {numItems: v.number(), cursor: v.union(v.string(), v.null()),
// endCursor: v.optional(v.union(v.string(), v.null())),
// id: v.optional(v.number()), maximumRowsRead: v.optional(v.number()),
// maximumBytesRead: v.optional(v.number())}.
func (ValidatorBuilder) PaginationOpts() *Validator {
	strOrNull := V.Union(V.String(), V.Null())
	return V.Object(map[string]*Validator{
		"numItems":         V.Number(),
		"cursor":           strOrNull,
		"endCursor":        V.Optional(strOrNull),
		"id":               V.Optional(V.Number()),
		"maximumRowsRead":  V.Optional(V.Number()),
		"maximumBytesRead": V.Optional(V.Number()),
	})
}

// PaginationResultOf is paginationResultValidator(item) of the npm package.
func (ValidatorBuilder) PaginationResultOf(item *Validator) *Validator {
	return V.Object(map[string]*Validator{
		"page":           V.Array(item),
		"continueCursor": V.String(),
		"isDone":         V.Boolean(),
		"splitCursor":    V.Optional(V.Union(V.String(), V.Null())),
		"pageStatus": V.Optional(V.Union(V.Literal("SplitRecommended"), V.Literal("SplitRequired"),
			V.Null())),
	})
}

// position is a place in a table's insertion order: after the document
// with sequence number seq, or the end.
type position struct {
	end bool
	seq uint64
}

// cursor is a decoded cursor.
type cursor struct {
	table string
	order Order
	pos   position
}

const cursorPrefix = "c1"

// encodeCursor writes a cursor as an opaque string: base64url of its
// fields and a checksum, so that a mangled cursor is detected.
func encodeCursor(c cursor) string {
	pos := "e"
	if !c.pos.end {
		pos = strconv.FormatUint(c.pos.seq, 36)
	}
	body := cursorPrefix + "|" + strconv.Itoa(int(c.order)) + "|" + pos + "|" + c.table
	sum := crc32.ChecksumIEEE([]byte(body))
	return base64.RawURLEncoding.EncodeToString([]byte(body + "|" + strconv.FormatUint(uint64(sum), 36)))
}

// errCursorParse is the backend's cursor_parse_error
// (crates/keybroker/src/broker.rs), thrown into the function.
var errCursorParse = pageErrf("Failed to parse cursor")

func decodeCursor(s string) (cursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, errCursorParse
	}
	parts := strings.SplitN(string(raw), "|", 4)
	if len(parts) != 4 || parts[0] != cursorPrefix {
		return cursor{}, errCursorParse
	}
	i := strings.LastIndexByte(parts[3], '|')
	if i < 0 {
		return cursor{}, errCursorParse
	}
	table, sumStr := parts[3][:i], parts[3][i+1:]
	body := string(raw[:len(raw)-len(sumStr)-1])
	sum, err := strconv.ParseUint(sumStr, 36, 32)
	if err != nil || uint32(sum) != crc32.ChecksumIEEE([]byte(body)) {
		return cursor{}, errCursorParse
	}
	c := cursor{table: table}
	switch parts[1] {
	case "0":
		c.order = Asc
	case "1":
		c.order = Desc
	default:
		return cursor{}, errCursorParse
	}
	if parts[2] == "e" {
		c.pos.end = true
	} else if c.pos.seq, err = strconv.ParseUint(parts[2], 36, 64); err != nil {
		return cursor{}, errCursorParse
	}
	return c, nil
}

// journalPrefix starts an encoded query journal.
const journalPrefix = "j1:"

// encodeJournal writes a query journal holding an end cursor, or nil for
// an empty journal (a query that did not paginate), as the backend's
// encrypt_query_journal does.
func encodeJournal(end *string) *string {
	if end == nil {
		return nil
	}
	j := base64.RawURLEncoding.EncodeToString([]byte(journalPrefix + *end))
	return &j
}

// decodeJournal reads a journal's end cursor; an empty journal has none.
func decodeJournal(j *string) (*string, error) {
	if j == nil {
		return nil, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(*j)
	if err != nil || !strings.HasPrefix(string(raw), journalPrefix) {
		return nil, pageErrf("Failed to parse query journal")
	}
	end := strings.TrimPrefix(string(raw), journalPrefix)
	return &end, nil
}

// paginationError is an error thrown into a function by pagination, with
// optional ConvexError-style data (for InvalidCursor).
type paginationError struct {
	msg  string
	data map[string]any
}

func (e *paginationError) Error() string { return e.msg }

// pageErrf makes a paginationError with one of the backend's messages
// (which are capitalized and punctuated, unlike Go's error strings).
func pageErrf(format string, args ...any) error {
	return &paginationError{msg: fmt.Sprintf(format, args...)}
}

// invalidCursorError is the backend's invalid_cursor
// (crates/database/src/query/mod.rs): a cursor of another query.
func invalidCursorError() error {
	return &paginationError{
		msg:  "InvalidCursor: Tried to run a query starting from a cursor, but it looks like this cursor is from a different query.",
		data: map[string]any{"isConvexSystemError": true, "paginationError": "InvalidCursor"},
	}
}

// paginationOptions is the decoded paginationOpts object.
type paginationOptions struct {
	numItems  int
	cursor    *string
	endCursor *string
	maxRows   int // 0: none
	maxBytes  int // 0: none
}

func optString(m map[string]any, key string) (*string, error) {
	v, ok := m[key]
	if !ok || v == nil {
		return nil, nil
	}
	s, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("invalid type: `%s` must be a string or null", key)
	}
	return &s, nil
}

// optCount reads a non-negative integer field, as the backend deserializes
// a usize from a JSON number.
func optCount(m map[string]any, key string) (int, bool, error) {
	v, ok := m[key]
	if !ok || v == nil {
		return 0, false, nil
	}
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case protocol.Int64:
		f = float64(x)
	default:
		return 0, false, fmt.Errorf("invalid type: `%s` must be a number", key)
	}
	if f < 0 || f != math.Trunc(f) || f > math.MaxInt32 {
		return 0, false, fmt.Errorf("invalid value: `%s` must be a non-negative integer, got %v", key, f)
	}
	return int(f), true, nil
}

// parsePaginationOptions checks opts as paginate() and the queryPage
// syscall do, with their messages.
func parsePaginationOptions(opts map[string]any) (paginationOptions, error) {
	var o paginationOptions
	n, present := opts["numItems"]
	f, isNum := n.(float64) // a bigint (protocol.Int64) is not a number to paginate()
	if !present || !isNum || f < 0 || math.IsNaN(f) {
		shown := "undefined"
		if present {
			shown = fmt.Sprint(n)
		}
		return o, pageErrf("`options.numItems` must be a positive number. Received `%s`.", shown)
	}
	if f != math.Trunc(f) || math.IsInf(f, 0) {
		return o, pageErrf("Invalid arguments for queryPage: pageSize: invalid value: floating point `%v`, expected usize", f)
	}
	if f == 0 {
		return o, pageErrf("Must request at least 1 document while paginating")
	}
	if f > maxReadRows {
		return o, pageErrf("Requested too many items: %d", int64(f))
	}
	o.numItems = int(f)
	var err error
	if o.cursor, err = optString(opts, "cursor"); err != nil {
		return o, pageErrf("Invalid arguments for queryPage: %v", err)
	}
	if o.endCursor, err = optString(opts, "endCursor"); err != nil {
		return o, pageErrf("Invalid arguments for queryPage: %v", err)
	}
	var rowsSet, bytesSet bool
	if o.maxRows, rowsSet, err = optCount(opts, "maximumRowsRead"); err != nil {
		return o, pageErrf("Invalid arguments for queryPage: %v", err)
	}
	if o.maxBytes, bytesSet, err = optCount(opts, "maximumBytesRead"); err != nil {
		return o, pageErrf("Invalid arguments for queryPage: %v", err)
	}
	if rowsSet && o.maxRows == 0 || bytesSet && o.maxBytes == 0 {
		return o, pageErrf("maximumRowsRead and maximumBytesRead must be greater than 0")
	}
	return o, nil
}

// docSeq is a document's sequence number: the counter of its _id, which
// grows in insertion order across the server.
func docSeq(d map[string]any) uint64 {
	id, _ := d["_id"].(string)
	i := strings.LastIndexByte(id, '_')
	n, _ := strconv.ParseUint(id[i+1:], 36, 64)
	return n
}

// docSize approximates a document's size as its encoded Convex JSON.
func docSize(d map[string]any) int {
	b, err := protocol.EncodeValue(d)
	if err != nil {
		return 0
	}
	return len(b)
}

// Paginate returns one page of the documents of a table in insertion
// order, oldest first, for which keep returns true (all of them if keep is
// nil). opts is the function's paginationOpts argument (see
// V.PaginationOpts): {numItems, cursor, endCursor?, maximumRowsRead?,
// maximumBytesRead?}. It records a read of the table, and of the page's
// end in the query's journal. A function may paginate once; bad options
// or cursors fail it with the backend's messages.
func (c *QueryCtx) Paginate(tableName string, keep func(doc map[string]any) bool, opts map[string]any) (PaginationResult, error) {
	return c.PaginateOrder(tableName, Asc, keep, opts)
}

// PaginateOrder is Paginate in the given order (Desc: newest first). A
// cursor is valid only for the table and order that made it.
func (c *QueryCtx) PaginateOrder(tableName string, order Order, keep func(doc map[string]any) bool, opts map[string]any) (PaginationResult, error) {
	o, err := parsePaginationOptions(opts)
	if err != nil {
		return PaginationResult{}, err
	}
	if c.paginated {
		return PaginationResult{}, pageErrf("This query or mutation function ran multiple paginated queries. Convex only supports a single paginated query in each function.")
	}
	if order != Asc && order != Desc {
		return PaginationResult{}, fmt.Errorf("unknown order %d", order)
	}
	parse := func(s *string) (*position, error) {
		if s == nil {
			return nil, nil
		}
		cur, err := decodeCursor(*s)
		if err != nil {
			return nil, err
		}
		if cur.table != tableName || cur.order != order {
			return nil, invalidCursorError()
		}
		return &cur.pos, nil
	}
	start, err := parse(o.cursor)
	if err != nil {
		return PaginationResult{}, err
	}
	endStr := o.endCursor
	if endStr == nil {
		if endStr, err = decodeJournal(c.prevJournal); err != nil {
			return PaginationResult{}, err
		}
	}
	end, err := parse(endStr)
	if err != nil {
		return PaginationResult{}, err
	}
	var docs []map[string]any
	if t := c.read(tableName); t != nil {
		docs = t.docs
	}
	res, last := scanPage(docs, order, start, end, o, keep)
	cont := cursor{table: tableName, order: order, pos: last}
	res.ContinueCursor = encodeCursor(cont)
	if end != nil {
		res.ContinueCursor = *endStr
		cont.pos = *end
	}
	res.IsDone = cont.pos.end
	if res.splitPos != nil {
		s := encodeCursor(cursor{table: tableName, order: order, pos: *res.splitPos})
		res.SplitCursor = &s
	}
	c.paginated = true
	c.nextJournal = encodeJournal(&res.ContinueCursor)
	return res.PaginationResult, nil
}

type scanned struct {
	PaginationResult
	splitPos *position
}

// scanPage walks docs (sorted by sequence number) from start (exclusive)
// to end (inclusive) in order and returns the page and the position after
// the last document scanned (the end when the table ran out).
func scanPage(docs []map[string]any, order Order, start, end *position, o paginationOptions,
	keep func(map[string]any) bool) (scanned, position) {
	// after reports whether a document lies beyond p in the walk's order.
	after := func(seq uint64, p position) bool {
		if p.end {
			return false
		}
		if order == Asc {
			return seq > p.seq
		}
		return seq < p.seq
	}
	n := len(docs)
	idx := func(k int) int { // the k-th document of the walk
		if order == Asc {
			return k
		}
		return n - 1 - k
	}
	// The first document of the walk after start: binary search.
	k := 0
	if start != nil {
		if start.end {
			k = n
		} else {
			lo, hi := 0, n
			for lo < hi {
				mid := (lo + hi) / 2
				if after(docSeq(docs[idx(mid)]), *start) {
					hi = mid
				} else {
					lo = mid + 1
				}
			}
			k = lo
		}
	}
	var res scanned
	res.Page = []map[string]any{}
	var scannedPos []position
	rows, bytes := 0, 0
	last := position{end: true}
	enforce := end == nil
	softRows := min(orMax(o.maxRows, maxReadRows), maxReadRows) * 3 / 4
	softBytes := min(orMax(o.maxBytes, maxReadBytes), maxReadBytes) * 3 / 4
	exhausted := false
	for ; ; k++ {
		if end == nil && len(res.Page) >= o.numItems {
			break // the backend stops once the page is full, without looking further
		}
		if k >= n {
			exhausted = true
			break
		}
		d := docs[idx(k)]
		seq := docSeq(d)
		if end != nil && after(seq, *end) {
			break
		}
		if enforce && (o.maxRows > 0 && rows >= o.maxRows || o.maxBytes > 0 && bytes >= o.maxBytes) {
			res.PageStatus = "SplitRequired"
			break
		}
		rows++
		bytes += docSize(d)
		scannedPos = append(scannedPos, position{seq: seq})
		last = position{seq: seq}
		if keep == nil || keep(d) {
			res.Page = append(res.Page, cloneDoc(d))
		}
	}
	if exhausted {
		last = position{end: true} // the walk reached the end of the table
	}
	if res.PageStatus == "" && (rows > softRows || bytes > softBytes || len(res.Page) > softMaxPageLen) {
		res.PageStatus = "SplitRecommended"
	}
	if len(scannedPos) > 2 {
		p := scannedPos[len(scannedPos)/2]
		res.splitPos = &p
	}
	return res, last
}

func orMax(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}
