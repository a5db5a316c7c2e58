package client

import (
	"encoding/json"
	"sync"

	"github.com/convexgo/convex/protocol"
)

// queryGroup is the local subscribers of one live query: pull-style
// RawSubscriptions and OnUpdate callbacks. It is shared between the owner
// goroutine, which creates it, delivers results into it and releases it,
// and subscribing goroutines, which join and leave it without a round
// trip through the owner while it is live.
//
// The group holds one reference on the engine's query, taken when the
// owner creates it and dropped (by release, on the owner) once its last
// member has left. A group that has become dead never accepts members
// again: a subscriber that finds it dead goes to the owner, which makes a
// new group for the query (re-using the engine's query if it is still
// there, so that nothing goes on the wire), so a duplicate subscribe
// racing the last Close either joins the group before it dies or makes
// the next one; it is never lost.
type queryGroup struct {
	c     *Client
	token protocol.QueryToken
	path  string

	mu   sync.Mutex
	subs []*RawSubscription // pull-style members; each knows its index
	cbs  []*callbackSub     // callback members; each knows its index
	last result             // latest result, valid when ver > 0
	ver  uint64             // counts the results put
	dead bool               // accepts no members: the last left, or the client stopped

	// dispatching is set while a dispatcher goroutine runs the group's
	// callbacks; dirty asks it for another pass.
	dispatching, dirty bool
}

// members returns the number of members; g.mu must be held.
func (g *queryGroup) members() int { return len(g.subs) + len(g.cbs) }

// addSub adds a pull-style member and hands it the latest result; g.mu
// must be held and g must be live.
func (g *queryGroup) addSub(s *RawSubscription) {
	s.group, s.idx = g, len(g.subs)
	g.subs = append(g.subs, s)
	if g.ver > 0 {
		s.box.Put(g.last)
	}
}

// leave removes a member (one of s or cb) and reports whether it was the
// last, in which case the group is now dead and its engine reference must
// be released through the owner.
func (g *queryGroup) leave(s *RawSubscription, cb *callbackSub) (last bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if s != nil {
		if s.idx < 0 {
			return false
		}
		end := len(g.subs) - 1
		g.subs[s.idx] = g.subs[end]
		g.subs[s.idx].idx = s.idx
		g.subs[end] = nil
		g.subs = g.subs[:end]
		s.idx = -1
	} else {
		if cb.idx < 0 {
			return false
		}
		end := len(g.cbs) - 1
		g.cbs[cb.idx] = g.cbs[end]
		g.cbs[cb.idx].idx = cb.idx
		g.cbs[end] = nil
		g.cbs = g.cbs[:end]
		cb.idx = -1
		if g.dispatching {
			g.dirty = true // the swap may have moved a callback behind the dispatcher's cursor
		}
	}
	if g.dead || g.members() > 0 {
		return false
	}
	g.dead = true
	return true
}

// put stores a new result and delivers it to every member. It runs on the
// owner and never blocks: mailboxes take it at once, and callbacks run on
// a dispatcher goroutine.
func (g *queryGroup) put(r result) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.dead {
		return
	}
	g.putLocked(r)
}

func (g *queryGroup) putLocked(r result) {
	g.last = r
	g.ver++
	for _, s := range g.subs {
		s.box.Put(r)
	}
	if len(g.cbs) > 0 {
		g.kick()
	}
}

// closeAll ends the group for good with err (the client closed or
// stopped): mailboxes close, callbacks are called once with err.
func (g *queryGroup) closeAll(err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.dead {
		return
	}
	g.dead = true
	for _, s := range g.subs {
		s.box.Close(err)
	}
	if len(g.cbs) > 0 {
		g.last = result{err: err}
		g.ver++
		g.kick()
	}
}

// liveGroups maps query tokens to their live groups so that a duplicate
// subscribe finds its group with one map access and no owner round trip.
// Only the owner adds entries; anyone may remove an entry for a group that
// has died.
type liveGroups struct {
	mu sync.RWMutex
	m  map[protocol.QueryToken]*queryGroup
}

// get returns the group for the token whose bytes are tok, or nil.
func (l *liveGroups) get(tok []byte) *queryGroup {
	l.mu.RLock()
	g := l.m[protocol.QueryToken(tok)]
	l.mu.RUnlock()
	return g
}

func (l *liveGroups) store(g *queryGroup) {
	l.mu.Lock()
	if l.m == nil {
		l.m = make(map[protocol.QueryToken]*queryGroup)
	}
	l.m[g.token] = g
	l.mu.Unlock()
}

// remove deletes g's entry if it is still g's.
func (l *liveGroups) remove(g *queryGroup) {
	l.mu.Lock()
	if l.m[g.token] == g {
		delete(l.m, g.token)
	}
	l.mu.Unlock()
}

// joinLive adds a member to the live group for tok, if there is one, with
// add (called with g.mu held), and reports whether it did.
func (c *Client) joinLive(tok []byte, add func(*queryGroup)) bool {
	g := c.live.get(tok)
	if g == nil {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.dead {
		return false
	}
	add(g)
	return true
}

// leaveGroup removes a member and, if it was the last, retires the group:
// no new member can find it, and the owner drops its engine reference.
func (c *Client) leaveGroup(g *queryGroup, s *RawSubscription, cb *callbackSub) {
	if g.leave(s, cb) {
		c.live.remove(g)
		c.doAsync(func(o *owner) { o.release(g) })
	}
}

// join adds a member on the owner: to the query's live group, or to a new
// group that takes an engine reference on the query (subscribing it on the
// deployment if it is new).
func (o *owner) join(path string, token protocol.QueryToken, args json.RawMessage, add func(*queryGroup)) error {
	if o.stopErr != nil {
		return o.stopErr
	}
	if id, ok := o.engine.QueryID(token); ok {
		if q := o.queries[id]; q != nil && q.group != nil {
			g := q.group
			g.mu.Lock()
			if !g.dead {
				add(g)
				g.mu.Unlock()
				return nil
			}
			g.mu.Unlock()
		}
	}
	id, _, _ := o.engine.Subscribe(path, args, nil)
	q := o.query(id, path)
	g := &queryGroup{c: o.c, token: token, path: path}
	g.mu.Lock()
	if q.last != nil {
		g.last, g.ver = *q.last, 1
	}
	add(g)
	g.mu.Unlock()
	q.group = g
	o.c.live.store(g)
	return nil
}

// release drops a dead group's engine reference, removing the query from
// the deployment if nothing else uses it.
func (o *owner) release(g *queryGroup) {
	if o.stopErr != nil {
		return
	}
	id, ok := o.engine.QueryID(g.token)
	if !ok {
		return
	}
	if o.engine.Unsubscribe(g.token) {
		o.queryRemoved()
	}
	if q := o.queries[id]; q != nil {
		if q.group == g {
			q.group = nil
		}
		o.forgetIfUnused(q)
	}
}
