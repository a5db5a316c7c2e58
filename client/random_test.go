package client

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/convexgo/convex/internal/testserver"
)

// TestRandomOperations subscribes, unsubscribes, mutates and drops the
// sockets in random order, for many seeds, and checks that the server's
// live queries match the client's distinct live queries, that every
// subscriber converges to the server's final value, and that no mutation
// is applied twice. The package's TestMain checks that no goroutine
// outlives Close.
func TestRandomOperations(t *testing.T) {
	seeds := 20
	if testing.Short() {
		seeds = 5
	}
	for seed := 0; seed < seeds; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { randomRun(t, uint64(seed)) })
	}
}

func randomRun(t *testing.T, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 2026))
	srv := testserver.NewDemo()
	defer srv.Close()
	c, err := New(srv.URL(), withBackoffScale(0.01), WithInactivityTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	names := []string{"a", "b", "c", "d"}
	type live struct {
		name string
		sub  *Subscription[int64]
	}
	var subs []live
	increments := map[string]int64{}
	var mutations int

	for step := 0; step < 60; step++ {
		switch op := r.IntN(10); {
		case op < 4:
			name := names[r.IntN(len(names))]
			s, err := Subscribe[int64](ctx, c, "counter:get", map[string]any{"name": name})
			if err != nil {
				t.Fatalf("seed %d step %d: %v", seed, step, err)
			}
			subs = append(subs, live{name, s})
		case op < 6 && len(subs) > 0:
			i := r.IntN(len(subs))
			subs[i].sub.Close()
			subs = append(subs[:i], subs[i+1:]...)
		case op < 9:
			name := names[r.IntN(len(names))]
			by := int64(r.IntN(5) + 1)
			if _, err := Mutation[int64](ctx, c, "counter:increment", map[string]any{"name": name, "by": by}); err != nil {
				t.Fatalf("seed %d step %d: %v", seed, step, err)
			}
			increments[name] += by
			mutations++
		default:
			srv.DropAll()
		}
	}

	// Every subscriber converges to the server's value.
	for _, l := range subs {
		want := increments[l.name]
		for {
			v, err := l.sub.Next(ctx)
			if err != nil {
				t.Fatalf("seed %d: subscriber of %s: %v", seed, l.name, err)
			}
			if v == want {
				break
			}
			if v > want {
				t.Fatalf("seed %d: %s shows %d, more than the %d applied", seed, l.name, v, want)
			}
		}
	}
	// The server holds exactly the client's distinct live queries.
	distinct := map[string]bool{}
	for _, l := range subs {
		distinct[l.name] = true
	}
	// Order the asynchronous Closes before reading the server's count.
	if _, err := c.QueryRaw(ctx, "counter:get", map[string]any{"name": "sync"}, ViaSocket()); err != nil {
		t.Fatal(err)
	}
	if err := srv.WaitFor(ctx, func(s testserver.Stats) bool { return s.LiveQueries == len(distinct) }); err != nil {
		t.Fatalf("seed %d: server has %d live queries, client %d distinct", seed, srv.Stats().LiveQueries, len(distinct))
	}
	// No mutation ran twice: the server's counters equal the sums.
	for _, name := range names {
		n, err := Query[int64](ctx, c, "counter:get", map[string]any{"name": name})
		if err != nil || n != increments[name] {
			t.Fatalf("seed %d: counter %s = %d, %v; want %d", seed, name, n, err, increments[name])
		}
	}
	if got := srv.Stats().MutationsCommitted; got != mutations {
		t.Fatalf("seed %d: %d mutations committed, %d made", seed, got, mutations)
	}
	for _, l := range subs {
		l.sub.Close()
	}
}
