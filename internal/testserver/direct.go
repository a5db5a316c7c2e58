package testserver

import "errors"

var errServerClosed = errors.New("testserver: the deployment is closed")

// Write runs fn as a mutation of its own, outside any function: its
// inserts, patches and deletes commit together when fn returns nil (and
// re-run the live queries that read the tables it wrote), and none do when
// it returns an error. It is for seeding data in tests.
func (s *Server) Write(fn func(ctx *MutationCtx) error) error {
	if !s.enter() {
		return errServerClosed
	}
	defer s.wg.Done()
	s.mutMu.Lock()
	defer s.mutMu.Unlock()
	x := &tx{base: s.store.current(), st: s.store, now: s.now}
	mc := &MutationCtx{QueryCtx: QueryCtx{ctx: s.ctx, view: x, logs: &logBuf{}}, tx: x}
	if _, err := runGuarded(func() (any, error) { return nil, fn(mc) }); err != nil {
		return err
	}
	s.store.commit(x, s.now())
	s.bump(func(st *Stats) { st.MutationsCommitted++ })
	s.wakeAll(nil)
	return nil
}

// Read runs fn against the latest snapshot of the data, for inspecting
// it in tests.
func (s *Server) Read(fn func(ctx *QueryCtx) error) error {
	if !s.enter() {
		return errServerClosed
	}
	defer s.wg.Done()
	snap := s.store.current()
	qc := &QueryCtx{ctx: s.ctx, view: snap, logs: &logBuf{}}
	_, err := runGuarded(func() (any, error) { return nil, fn(qc) })
	return err
}
