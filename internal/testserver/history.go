package testserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"time"

	"github.com/convexgo/convex/protocol"
)

// Snapshot history for reads at a timestamp (/api/query_at_ts). The
// backend's snapshot manager keeps the versions of the last
// MAX_TRANSACTION_WINDOW (10 s, crates/common/src/knobs.rs) and fails an
// older timestamp with an OutOfRetention error
// (crates/database/src/snapshot_manager.rs SnapshotManager::snapshot):
// HTTP 503 with the generic InternalServerError body. This deployment keeps
// the snapshots of the last historyWindow of commit timestamps, and at most
// maxHistory of them.
const (
	historyWindow = 10 * time.Second
	maxHistory    = 1024
)

// errOutOfRetention is a read at a timestamp older than the history.
var errOutOfRetention = errors.New("out of retention")

// keepHistory appends st.snap to the history and drops what is too old.
// st.mu is held.
func (st *store) keepHistory() {
	st.history = append(st.history, st.snap)
	var floor protocol.Timestamp
	if w := protocol.Timestamp(historyWindow.Nanoseconds()); st.snap.ts > w {
		floor = st.snap.ts - w
	}
	drop := 0
	// history[drop] stays while it is the snapshot valid at floor.
	for drop+1 < len(st.history) && (len(st.history)-drop > maxHistory || st.history[drop+1].ts <= floor) {
		drop++
	}
	if drop > 0 {
		clear(st.history[:drop])
		st.history = st.history[drop:]
	}
}

// snapshotAt returns the snapshot valid at ts: the last one committed at
// or before it. A ts older than the history is errOutOfRetention; one
// newer than the latest commit is an error, as in the backend.
func (st *store) snapshotAt(ts protocol.Timestamp) (*snapshot, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if ts < st.history[0].ts {
		return nil, fmt.Errorf("timestamp %d is too early, retry with a higher timestamp: %w", ts, errOutOfRetention)
	}
	if ts > st.snap.ts {
		return nil, fmt.Errorf("timestamp %d is more recent than latest_ts %d", ts, st.snap.ts)
	}
	i := sort.Search(len(st.history), func(i int) bool { return st.history[i].ts > ts })
	return st.history[i-1], nil
}

// serveQueryAtTS handles POST /api/query_at_ts: {path, args, ts, format?},
// a query run at the snapshot of ts (crates/local_backend/src/public_api.rs
// public_query_at_ts_post), with no journal.
func (s *Server) serveQueryAtTS(w http.ResponseWriter, r *http.Request) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxHTTPBody))
	if err != nil {
		writeHTTPError(w, http.StatusBadRequest, "BadJsonBody", err.Error())
		return
	}
	var b struct {
		httpBody
		TS json.RawMessage `json:"ts"`
	}
	if err := json.Unmarshal(data, &b); err != nil {
		writeHTTPError(w, http.StatusBadRequest, "BadJsonBody", "Failed to parse the JSON body: "+err.Error())
		return
	}
	ts, err := parseSerializedTS(b.TS)
	if err != nil {
		writeHTTPError(w, http.StatusBadRequest, "BadJsonBody", "Failed to deserialize the JSON body: ts: "+err.Error())
		return
	}
	snap, err := s.store.snapshotAt(ts)
	if errors.Is(err, errOutOfRetention) {
		// ErrorMetadata::out_of_retention: 503 with the generic message.
		writeHTTPError(w, http.StatusServiceUnavailable, "InternalServerError", "Your request couldn't be completed. Try again later.")
		return
	} else if err != nil {
		writeHTTPError(w, http.StatusInternalServerError, "InternalServerError", "Your request couldn't be completed. Try again later.")
		return
	}
	path := ""
	if b.Path != nil {
		path = *b.Path
	}
	s.respondAt(w, r, KindQuery, path, b.Args, b.Format, "", snap)
}

// parseSerializedTS reads a timestamp as the backend's SerializedTs: an
// EncodedU64 string (what /api/query_ts returns) or a JSON integer.
func parseSerializedTS(raw json.RawMessage) (protocol.Timestamp, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, errors.New("missing field `ts`")
	}
	var str string
	if json.Unmarshal(raw, &str) == nil {
		n, err := protocol.DecodeU64(str)
		if err != nil {
			return 0, err
		}
		return protocol.Timestamp(n), nil
	}
	var n uint64
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, errors.New("expected an encoded u64 or an integer")
	}
	return protocol.Timestamp(n), nil
}
