package mailbox

import (
	"context"
	"errors"
	"sync"
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
