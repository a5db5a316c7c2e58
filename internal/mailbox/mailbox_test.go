package mailbox

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/convexgo/convex/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

func TestNextReturnsNewerValues(t *testing.T) {
	ctx := context.Background()
	m := New[int]()
	if _, _, ok := m.Latest(); ok {
		t.Fatal("Latest on an empty mailbox is ok")
	}
	m.Put(1)
	if v, err := m.Next(ctx); v != 1 || err != nil {
		t.Fatalf("Next = %d, %v", v, err)
	}
	// No newer value: Next waits until ctx ends.
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := m.Next(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next without a newer value = %v", err)
	}
	// A slow reader skips to the newest value.
	for i := 2; i <= 100; i++ {
		m.Put(i)
	}
	if v, _ := m.Next(ctx); v != 100 {
		t.Fatalf("Next after many puts = %d, want 100", v)
	}
	if v, seq, ok := m.Latest(); v != 100 || seq != 100 || !ok {
		t.Fatalf("Latest = %d, %d, %v", v, seq, ok)
	}
}

func TestProducerNeverBlocks(t *testing.T) {
	m := New[[]byte]()
	for i := 0; i < 100_000; i++ {
		m.Put(make([]byte, 8)) // nobody reads: must neither block nor pile up
	}
	if _, seq, _ := m.Latest(); seq != 100_000 {
		t.Fatalf("seq = %d", seq)
	}
}

func TestNextWakesOnPut(t *testing.T) {
	m := New[string]()
	got := make(chan string)
	go func() {
		v, _ := m.Next(context.Background())
		got <- v
	}()
	m.Put("hello")
	if v := <-got; v != "hello" {
		t.Fatalf("got %q", v)
	}
}

func TestClose(t *testing.T) {
	ctx := context.Background()
	errDone := errors.New("done")
	m := New[int]()
	m.Put(7)
	m.Close(errDone)
	m.Close(errors.New("second close ignored"))
	m.Put(8) // dropped
	if v, err := m.Next(ctx); v != 7 || err != nil {
		t.Fatalf("value put before Close: %d, %v", v, err)
	}
	if _, err := m.Next(ctx); err != errDone {
		t.Fatalf("after Close: %v", err)
	}
	// Close wakes a blocked reader.
	m2 := New[int]()
	res := make(chan error)
	go func() {
		_, err := m2.Next(ctx)
		res <- err
	}()
	m2.Close(errDone)
	if err := <-res; err != errDone {
		t.Fatalf("blocked Next after Close: %v", err)
	}
}

func TestConcurrentPutAndNext(t *testing.T) {
	m := New[int]()
	const n = 10_000
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 1; i <= n; i++ {
			m.Put(i)
		}
		m.Close(errors.New("end"))
	}()
	last := 0
	for {
		v, err := m.Next(context.Background())
		if err != nil {
			break
		}
		if v <= last {
			t.Fatalf("value %d not newer than %d", v, last)
		}
		last = v
	}
	wg.Wait()
	if last != n {
		t.Fatalf("last value %d, want %d", last, n)
	}
}

func BenchmarkPut(b *testing.B) {
	m := New[int]()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		m.Put(i)
	}
}

func BenchmarkPutNext(b *testing.B) {
	m := New[int]()
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		m.Put(i)
		if _, err := m.Next(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// waitUntil yields until cond (read under m.mu) holds: it observes a
// state the code under test reaches by itself, and sets nothing.
func waitUntil[T any](t *testing.T, m *Mailbox[T], what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		m.mu.Lock()
		ok := cond()
		m.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		runtime.Gosched()
	}
}

// TestWatchedContextCancel: a reader that waits twice with the same
// context waits on the signal alone (the context is watched); cancelling
// the context still ends its wait.
func TestWatchedContextCancel(t *testing.T) {
	m := New[int]()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res := make(chan error, 1)
	go func() {
		for {
			if _, err := m.Next(ctx); err != nil {
				res <- err
				return
			}
		}
	}()
	// First wait: select on the signal and ctx.Done.
	waitUntil(t, m, "the reader waits", func() bool { return m.w != nil && m.w.primaryBusy })
	m.Put(1)
	// Second wait with the same context: watched.
	waitUntil(t, m, "the context is watched", func() bool { return m.w != nil && m.w.primaryBusy && m.w.watchDone != nil && m.seq == m.taken })
	cancel()
	if err := <-res; !errors.Is(err, context.Canceled) {
		t.Fatalf("Next after cancel = %v, want context.Canceled", err)
	}
	m.Close(errors.New("end"))
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.w.stopWatch != nil || m.w.watchDone != nil {
		t.Fatal("Close left the context watch in place")
	}
}

// TestFreshContextPerCallRegistersNoWatch: a context per call (the
// pattern of a timeout per Next) costs no AfterFunc registration.
func TestFreshContextPerCallRegistersNoWatch(t *testing.T) {
	m := New[int]()
	for i := range 100 {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := m.Next(ctx)
			done <- err
		}()
		waitUntil(t, m, "the reader waits", func() bool { return m.w != nil && m.w.primaryBusy })
		if i%2 == 0 {
			m.Put(i)
			if err := <-done; err != nil {
				t.Fatalf("Next after Put = %v", err)
			}
		} else {
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Fatalf("Next after cancel = %v", err)
			}
		}
		cancel()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.w.stopWatch != nil {
		t.Fatal("a context used for one call only was watched")
	}
}

// TestConcurrentReadersCancelIndependently: two readers with their own
// contexts wait on one mailbox; cancelling either ends only its wait, and
// a Put reaches the one still waiting. Each order is tried, with the
// watched reader first and second.
func TestConcurrentReadersCancelIndependently(t *testing.T) {
	for _, cancelPrimary := range []bool{true, false} {
		m := New[int]()
		ctxA, cancelA := context.WithCancel(context.Background())
		ctxB, cancelB := context.WithCancel(context.Background())
		// Make A the watched primary: it waits twice with ctxA.
		resA := make(chan error, 1)
		go func() {
			for {
				v, err := m.Next(ctxA)
				if err != nil || v == 2 {
					resA <- err
					return
				}
			}
		}()
		waitUntil(t, m, "A waits", func() bool { return m.w != nil && m.w.primaryBusy })
		m.Put(1)
		waitUntil(t, m, "A waits watched", func() bool { return m.w != nil && m.w.primaryBusy && m.w.watchDone != nil && m.seq == m.taken })
		resB := make(chan error, 1)
		go func() {
			v, err := m.Next(ctxB)
			if err == nil && v != 2 {
				err = fmt.Errorf("B read %d, want 2", v)
			}
			resB <- err
		}()
		waitUntil(t, m, "B waits", func() bool { return len(m.w.extra) == 1 })
		if cancelPrimary {
			cancelA()
			if err := <-resA; !errors.Is(err, context.Canceled) {
				t.Fatalf("A after cancel = %v", err)
			}
			m.Put(2)
			if err := <-resB; err != nil {
				t.Fatalf("B after Put = %v", err)
			}
		} else {
			cancelB()
			if err := <-resB; !errors.Is(err, context.Canceled) {
				t.Fatalf("B after cancel = %v", err)
			}
			m.mu.Lock()
			left := len(m.w.extra)
			m.mu.Unlock()
			if left != 0 {
				t.Fatalf("B's wait channel is still registered (%d)", left)
			}
			m.Put(2)
			if err := <-resA; err != nil {
				t.Fatalf("A after Put = %v", err)
			}
		}
		cancelA()
		cancelB()
		m.Close(errors.New("end"))
	}
}

// TestCloseWakesEveryWaiter: Close ends the waits of the primary and the
// other waiters.
func TestCloseWakesEveryWaiter(t *testing.T) {
	m := New[int]()
	errEnd := errors.New("end")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const readers = 5
	res := make(chan error, readers)
	for range readers {
		go func() {
			_, err := m.Next(ctx)
			res <- err
		}()
	}
	waitUntil(t, m, "all readers wait", func() bool { return m.w != nil && m.w.primaryBusy && len(m.w.extra) == readers-1 })
	m.Close(errEnd)
	for range readers {
		if err := <-res; err != errEnd {
			t.Fatalf("Next after Close = %v, want %v", err, errEnd)
		}
	}
}

// BenchmarkWake10k puts a value into 10,000 mailboxes, each read by its
// own goroutine with one shared cancellable context, and waits until every
// reader has taken it: the cost of waking a goroutine per subscriber.
// "floor" does the same with a bare one-slot channel per goroutine and no
// mailbox: what the Go runtime charges for one wake, whatever a library
// does, on this machine.
func BenchmarkWake10k(b *testing.B) {
	const n = 10_000
	b.Run("floor", func(b *testing.B) {
		chans := make([]chan int, n)
		var left atomic.Int64
		all := make(chan struct{}, 1)
		var wg sync.WaitGroup
		for i := range chans {
			chans[i] = make(chan int, 1)
			wg.Add(1)
			go func(c chan int) {
				defer wg.Done()
				for range c {
					if left.Add(-1) == 0 {
						all <- struct{}{}
					}
				}
			}(chans[i])
		}
		for i := 0; b.Loop(); i++ {
			left.Store(n)
			for _, c := range chans {
				c <- i
			}
			<-all
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/delivery")
		for _, c := range chans {
			close(c)
		}
		wg.Wait()
	})
	b.Run("mailbox", func(b *testing.B) {
		ctx, cancel := context.WithCancel(context.Background())
		boxes := make([]*Mailbox[int], n)
		var want, left, wrong atomic.Int64
		all := make(chan struct{}, 1)
		var wg sync.WaitGroup
		for i := range boxes {
			boxes[i] = New[int]()
			wg.Add(1)
			go func(m *Mailbox[int]) {
				defer wg.Done()
				for {
					v, err := m.Next(ctx)
					if err != nil {
						return
					}
					if int64(v) != want.Load() {
						wrong.Add(1)
					}
					if left.Add(-1) == 0 {
						all <- struct{}{}
					}
				}
			}(boxes[i])
		}
		for i := 1; b.Loop(); i++ {
			want.Store(int64(i))
			left.Store(n)
			for _, m := range boxes {
				m.Put(i)
			}
			<-all
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/delivery")
		cancel()
		wg.Wait()
		if w := wrong.Load(); w != 0 {
			b.Fatalf("%d reads of a value other than the latest", w)
		}
	})
}
