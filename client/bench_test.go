package client

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/convexgo/convex/internal/testserver"
)

func benchClient(b *testing.B) (*testserver.Server, *Client) {
	b.Helper()
	srv := testserver.NewDemo()
	b.Cleanup(srv.Close)
	c, err := New(srv.URL())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return srv, c
}

// BenchmarkDuplicateSubscribe subscribes to and closes a query that is
// already live, with 1 or 10,000 live subscribers on it: the cached value
// answers, and nothing goes on the wire.
func BenchmarkDuplicateSubscribe(b *testing.B) {
	for _, live := range []int{1, 10_000} {
		b.Run(fmt.Sprintf("live=%d", live), func(b *testing.B) {
			srv, c := benchClient(b)
			ctx := context.Background()
			args := map[string]any{"channel": "general"}
			for range live {
				first, err := c.SubscribeRaw(ctx, "messages:list", args)
				if err != nil {
					b.Fatal(err)
				}
				defer first.Close()
				if _, err := first.Next(ctx); err != nil {
					b.Fatal(err)
				}
			}
			before := srv.Stats().MessagesReceived
			b.ReportAllocs()
			for b.Loop() {
				s, err := c.SubscribeRaw(ctx, "messages:list", args)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := s.Next(ctx); err != nil {
					b.Fatal(err)
				}
				s.Close()
			}
			// Close may be asynchronous; a round trip through the owner orders it.
			if _, err := c.QueryRaw(ctx, "messages:list", args, ViaSocket()); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(srv.Stats().MessagesReceived-before), "wire-msgs")
		})
	}
}

// BenchmarkDuplicateSubscribeParallel is DuplicateSubscribe from every
// CPU at once, on one live query.
func BenchmarkDuplicateSubscribeParallel(b *testing.B) {
	_, c := benchClient(b)
	ctx := context.Background()
	args := map[string]any{"channel": "general"}
	first, err := c.SubscribeRaw(ctx, "messages:list", args)
	if err != nil {
		b.Fatal(err)
	}
	defer first.Close()
	if _, err := first.Next(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s, err := c.SubscribeRaw(ctx, "messages:list", args)
			if err != nil {
				b.Error(err)
				return
			}
			if _, err := s.Next(ctx); err != nil {
				b.Error(err)
			}
			s.Close()
		}
	})
}

// BenchmarkManySubscribers subscribes 10,000 subscribers over 100 distinct
// queries and reports the Adds the server received and the memory held per
// subscriber.
func BenchmarkManySubscribers(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		srv := testserver.NewDemo()
		c, err := New(srv.URL())
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		b.StartTimer()
		subs := make([]*RawSubscription, 0, 10_000)
		for i := 0; i < 10_000; i++ {
			s, err := c.SubscribeRaw(ctx, "counter:get", map[string]any{"name": fmt.Sprint("n", i%100)})
			if err != nil {
				b.Fatal(err)
			}
			subs = append(subs, s)
		}
		for _, s := range subs {
			if _, err := s.Next(ctx); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(srv.Stats().Adds), "server-adds")
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/10_000, "bytes/subscriber")
		runtime.KeepAlive(subs)
		c.Close()
		srv.Close()
		b.StartTimer()
	}
}

// BenchmarkFanOut delivers one Transition to 10,000 subscribers of one
// query and waits until every one has read it.
func BenchmarkFanOut(b *testing.B) {
	_, c := benchClient(b)
	ctx := context.Background()
	const n = 10_000
	args := map[string]any{"name": "fan"}
	subs := make([]*RawSubscription, n)
	for i := range subs {
		s, err := c.SubscribeRaw(ctx, "counter:get", args)
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		if _, err := s.Next(ctx); err != nil {
			b.Fatal(err)
		}
		subs[i] = s
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.MutationRaw(ctx, "counter:increment", args); err != nil {
			b.Fatal(err)
		}
		for _, s := range subs {
			if _, err := s.Next(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
}

// BenchmarkMutationRoundTrip runs a mutation until this client's own
// subscription shows its effect, over loopback.
func BenchmarkMutationRoundTrip(b *testing.B) {
	_, c := benchClient(b)
	ctx := context.Background()
	args := map[string]any{"name": "rt"}
	sub, err := Subscribe[int64](ctx, c, "counter:get", args)
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Close()
	if _, err := sub.Next(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		n, err := Mutation[int64](ctx, c, "counter:increment", args)
		if err != nil {
			b.Fatal(err)
		}
		if v, err, _ := sub.Latest(); err != nil || v != n {
			b.Fatalf("subscription shows %d after mutation returned %d", v, n)
		}
	}
}

// BenchmarkFanOutTyped delivers one Transition to 10,000 typed
// Subscribe[int64] subscribers of one query, each read by its own
// goroutine (as users read them), and waits until every one has read it.
// Each reader does what the official client's benchmark callbacks do with
// a value: compare it with the expected one and count down; the last
// reader of a round signals the benchmark.
func BenchmarkFanOutTyped(b *testing.B) {
	_, c := benchClient(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const n = 10_000
	args := map[string]any{"name": "fantyped"}
	var want, left atomic.Int64
	var wrong atomic.Int64
	all := make(chan struct{}, 1)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	for range n {
		s, err := Subscribe[int64](ctx, c, "counter:get", args)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Next(ctx); err != nil {
			b.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer s.Close()
			for {
				v, err := s.Next(ctx)
				if err != nil {
					return
				}
				if v != want.Load() {
					wrong.Add(1)
				}
				if left.Add(-1) == 0 {
					all <- struct{}{}
				}
			}
		}()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		want.Add(1)
		left.Store(n)
		got, err := Mutation[int64](ctx, c, "counter:increment", args)
		if err != nil {
			b.Fatal(err)
		}
		if got != want.Load() {
			b.Fatalf("mutation returned %d, want %d", got, want.Load())
		}
		<-all
		if w := wrong.Load(); w != 0 {
			b.Fatalf("%d subscribers read a value other than %d", w, got)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
}

// BenchmarkFanOutOnUpdate is FanOutTyped with 10,000 OnUpdate callbacks
// (typed, int64) instead of goroutines: one mutation until every callback
// has been called with its value.
func BenchmarkFanOutOnUpdate(b *testing.B) {
	_, c := benchClient(b)
	ctx := context.Background()
	const n = 10_000
	args := map[string]any{"name": "fanonupdate"}
	var mu sync.Mutex
	var want int64
	var left int
	all := make(chan struct{}, 1)
	ready := make(chan struct{}, n)
	for range n {
		first := true
		unsub, err := OnUpdate(ctx, c, "counter:get", args, func(v int64, err error) {
			if err != nil {
				return
			}
			if first {
				first = false
				ready <- struct{}{}
				return
			}
			mu.Lock()
			if v == want {
				if left--; left == 0 {
					all <- struct{}{}
				}
			}
			mu.Unlock()
		})
		if err != nil {
			b.Fatal(err)
		}
		defer unsub()
	}
	for range n {
		<-ready
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		mu.Lock()
		want++
		left = n
		mu.Unlock()
		got, err := Mutation[int64](ctx, c, "counter:increment", args)
		if err != nil {
			b.Fatal(err)
		}
		if got != want {
			b.Fatalf("mutation returned %d, want %d", got, want)
		}
		<-all
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
}
