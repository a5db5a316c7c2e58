package tokenprovider

import (
	"context"
	"time"

	"golang.org/x/sync/singleflight"
)

// DefaultFetchTimeout bounds one shared fetch (see Cache and SessionCache).
const DefaultFetchTimeout = time.Minute

// shared runs fetch once for all concurrent callers using the same key and
// waits for its result or for the end of ctx, whichever comes first.
//
// The fetch runs with a context detached from the caller that started it:
// it keeps that caller's values but not its cancellation, so one caller
// giving up does not fail the others waiting on the same fetch, and a
// result that arrives late is still stored for the next caller. timeout
// bounds it instead. waiting, if not nil, is called once the caller has
// joined the flight (a hook for tests).
func shared(ctx context.Context, g *singleflight.Group, key string, timeout time.Duration,
	fetch func(context.Context) (string, error), waiting func()) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	ch := g.DoChan(key, func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		defer cancel()
		return fetch(fctx)
	})
	if waiting != nil {
		waiting()
	}
	select {
	case r := <-ch:
		if r.Err != nil {
			return "", r.Err
		}
		s, _ := r.Val.(string)
		return s, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

func positiveOr(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
