package testserver

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/convexgo/convex/protocol"
)

// A table holds documents in insertion order. Committed tables are never
// modified: a transaction that writes to a table works on a copy, and the
// commit swaps the copy in.
type table struct {
	docs  []map[string]any // insertion order
	index map[string]int   // _id -> position in docs
}

func newTable() *table { return &table{index: map[string]int{}} }

func (t *table) clone() *table {
	return &table{docs: append([]map[string]any(nil), t.docs...), index: maps.Clone(t.index)}
}

func (t *table) get(id string) (map[string]any, bool) {
	i, ok := t.index[id]
	if !ok {
		return nil, false
	}
	return t.docs[i], true
}

func (t *table) remove(id string) {
	i, ok := t.index[id]
	if !ok {
		return
	}
	t.docs = append(t.docs[:i:i], t.docs[i+1:]...)
	delete(t.index, id)
	for j := i; j < len(t.docs); j++ {
		t.index[t.docs[j]["_id"].(string)] = j
	}
}

// A snapshot is the database at one timestamp. It is immutable.
type snapshot struct {
	ts     protocol.Timestamp
	tables map[string]*table
}

func (s *snapshot) table(name string) *table { return s.tables[name] }

// commitRecord says which tables one commit wrote.
type commitRecord struct {
	ts     protocol.Timestamp
	tables []string
}

// maxCommitLog bounds the commit history kept for invalidation. A socket
// whose results are older than the oldest kept record re-runs all of its
// queries.
const maxCommitLog = 4096

// store is the in-memory database: the latest snapshot and a log of recent
// commits. Mutations are serialized by Server.mutMu; store.mu only guards
// the swap of the snapshot pointer and the log.
type store struct {
	mu       sync.Mutex
	snap     *snapshot
	history  []*snapshot // recent snapshots, oldest first; the last is snap
	log      []commitRecord
	logFloor protocol.Timestamp // commits at or below this ts may be missing from log

	nextID       atomic.Uint64
	lastCreation float64 // guarded by Server.mutMu
}

func newStore(start protocol.Timestamp) *store {
	snap := &snapshot{ts: start, tables: map[string]*table{}}
	return &store{snap: snap, history: []*snapshot{snap}, logFloor: start}
}

func (st *store) current() *snapshot {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.snap
}

// changedSince returns the tables written by commits with since < ts <=
// until. complete is false when the log no longer reaches back to since.
func (st *store) changedSince(since, until protocol.Timestamp) (tables map[string]bool, complete bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if since < st.logFloor {
		return nil, false
	}
	tables = map[string]bool{}
	for i := len(st.log) - 1; i >= 0; i-- {
		rec := st.log[i]
		if rec.ts <= since {
			break
		}
		if rec.ts > until {
			continue
		}
		for _, t := range rec.tables {
			tables[t] = true
		}
	}
	return tables, true
}

// commit installs the tables written by tx as a new snapshot with a
// timestamp strictly greater than the previous one and at least now.
func (st *store) commit(tx *tx, now time.Time) protocol.Timestamp {
	st.mu.Lock()
	defer st.mu.Unlock()
	if tx.base != st.snap {
		panic("testserver: a transaction committed on a stale snapshot")
	}
	ts := protocol.Timestamp(max(now.UnixNano(), 0))
	if ts <= st.snap.ts {
		ts = st.snap.ts + 1
	}
	tables := maps.Clone(st.snap.tables)
	written := make([]string, 0, len(tx.tables))
	for name, t := range tx.tables {
		tables[name] = t
		written = append(written, name)
	}
	st.snap = &snapshot{ts: ts, tables: tables}
	st.keepHistory()
	st.log = append(st.log, commitRecord{ts: ts, tables: written})
	if len(st.log) > maxCommitLog {
		drop := len(st.log) - maxCommitLog
		st.logFloor = st.log[drop-1].ts
		st.log = append([]commitRecord(nil), st.log[drop:]...)
	}
	return ts
}

// newID returns a fresh document id for table: the table name, '_', and a
// base-36 counter unique within the server.
func (st *store) newID(tableName string) string {
	return tableName + "_" + strconv.FormatUint(st.nextID.Add(1), 36)
}

// tableOfID returns the table an id belongs to.
func tableOfID(id string) (string, bool) {
	i := strings.LastIndexByte(id, '_')
	if i <= 0 || i == len(id)-1 {
		return "", false
	}
	return id[:i], true
}

// validateTableName accepts names Convex accepts for user tables: a letter
// followed by letters, digits and underscores, at most 64 characters.
func validateTableName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("invalid table name %q", name)
	}
	for i, c := range name {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '_'):
		default:
			return fmt.Errorf("invalid table name %q", name)
		}
	}
	return nil
}

// view is what a function reads: a snapshot, or a transaction's view of
// one with its own writes applied.
type view interface {
	table(name string) *table
}

// tx is a mutation's transaction: copies of the tables it wrote, on top of
// the snapshot it started from. Nothing is visible to anyone else until
// store.commit.
type tx struct {
	base   *snapshot
	tables map[string]*table
	st     *store
	now    func() time.Time
}

func (x *tx) table(name string) *table {
	if t, ok := x.tables[name]; ok {
		return t
	}
	return x.base.table(name)
}

func (x *tx) writable(name string) *table {
	if t, ok := x.tables[name]; ok {
		return t
	}
	var t *table
	if b := x.base.table(name); b != nil {
		t = b.clone()
	} else {
		t = newTable()
	}
	if x.tables == nil {
		x.tables = map[string]*table{}
	}
	x.tables[name] = t
	return t
}

var errSystemField = errors.New("field names starting with '_' are reserved for system fields")

// normalizeFields checks that fields are Convex values and converts them to
// their decoded Go form (for example int to float64).
func normalizeFields(fields map[string]any) (map[string]any, error) {
	for k := range fields {
		if strings.HasPrefix(k, "_") {
			return nil, fmt.Errorf("field %q: %w", k, errSystemField)
		}
	}
	if fields == nil {
		return map[string]any{}, nil
	}
	b, err := protocol.EncodeValue(fields)
	if err != nil {
		return nil, err
	}
	v, err := protocol.DecodeValue(b)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("fields must be an object")
	}
	return m, nil
}

func (x *tx) insert(tableName string, fields map[string]any) (string, error) {
	if err := validateTableName(tableName); err != nil {
		return "", err
	}
	doc, err := normalizeFields(fields)
	if err != nil {
		return "", err
	}
	id := x.st.newID(tableName)
	ct := float64(x.now().UnixNano()) / 1e6
	if ct <= x.st.lastCreation {
		ct = x.st.lastCreation + 1.0/1024
	}
	x.st.lastCreation = ct
	doc["_id"] = id
	doc["_creationTime"] = ct
	t := x.writable(tableName)
	t.index[id] = len(t.docs)
	t.docs = append(t.docs, doc)
	return id, nil
}

func (x *tx) patch(id string, fields map[string]any) error {
	tableName, ok := tableOfID(id)
	if !ok {
		return fmt.Errorf("invalid document id %q", id)
	}
	if t := x.table(tableName); t == nil {
		return fmt.Errorf("update on nonexistent document ID %s", id)
	} else if _, ok := t.get(id); !ok {
		return fmt.Errorf("update on nonexistent document ID %s", id)
	}
	upd, err := normalizeFields(fields)
	if err != nil {
		return err
	}
	t := x.writable(tableName)
	old, _ := t.get(id)
	doc := maps.Clone(old)
	maps.Copy(doc, upd)
	t.docs[t.index[id]] = doc
	return nil
}

func (x *tx) delete(id string) error {
	tableName, ok := tableOfID(id)
	if !ok {
		return fmt.Errorf("invalid document id %q", id)
	}
	if t := x.table(tableName); t == nil {
		return fmt.Errorf("delete on nonexistent document ID %s", id)
	} else if _, ok := t.get(id); !ok {
		return fmt.Errorf("delete on nonexistent document ID %s", id)
	}
	x.writable(tableName).remove(id)
	return nil
}

// cloneValue deep-copies a decoded Convex value so that functions cannot
// change stored documents through what they read.
func cloneValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = cloneValue(e)
		}
		return m
	case []any:
		a := make([]any, len(x))
		for i, e := range x {
			a[i] = cloneValue(e)
		}
		return a
	case []byte:
		return bytes.Clone(x) // keeps an empty (non-nil) value empty, not null
	}
	return v
}

func cloneDoc(d map[string]any) map[string]any { return cloneValue(d).(map[string]any) }
