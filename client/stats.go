package client

import "context"

// Stats describes what a client holds.
type Stats struct {
	// Subscribers is the number of open local subscriptions, snapshot
	// subscriptions and auth boundaries included.
	Subscribers int
	// Queries is the number of distinct queries subscribed on the
	// deployment: identical subscriptions share one.
	Queries int
	// PendingRequests is the number of unfinished mutations and actions.
	PendingRequests int
}

// Stats reports how many local subscribers share how many server
// subscriptions, and the calls in flight.
func (c *Client) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	err := c.do(ctx, func(o *owner) {
		for _, q := range o.queries {
			if g := q.group; g != nil {
				g.mu.Lock()
				st.Subscribers += g.members()
				g.mu.Unlock()
			}
			for _, n := range q.sets {
				st.Subscribers += n
			}
		}
		st.Queries = o.engine.LiveQueries()
		st.PendingRequests = o.engine.PendingRequests()
	})
	return st, err
}
