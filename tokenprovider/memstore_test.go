package tokenprovider

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestMemoryStoreGetSetDelete(t *testing.T) {
	clk := newClock()
	s := NewMemoryStore(&MemoryStoreOptions{Now: clk.Now})
	ctx := context.Background()
	if _, ok, err := s.Get(ctx, "k"); ok || err != nil {
		t.Fatalf("empty store: ok=%v err=%v", ok, err)
	}
	if err := s.Set(ctx, "k", "v", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if tok, ok, _ := s.Get(ctx, "k"); !ok || tok != "v" {
		t.Fatalf("Get = %q, %v", tok, ok)
	}
	_ = s.Set(ctx, "k", "v2", 10*time.Second)
	if tok, _, _ := s.Get(ctx, "k"); tok != "v2" {
		t.Fatalf("Set did not replace: %q", tok)
	}
	if err := s.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Get(ctx, "k"); ok {
		t.Fatal("Delete left the entry")
	}
	if err := s.Delete(ctx, "missing"); err != nil {
		t.Fatal(err)
	}
	_ = s.Set(ctx, "k", "v", 10*time.Second)
	_ = s.Set(ctx, "k", "v", 0)
	if _, ok, _ := s.Get(ctx, "k"); ok || s.Len() != 0 {
		t.Fatal("Set with ttl 0 did not delete")
	}
}

func TestMemoryStoreExpiry(t *testing.T) {
	clk := newClock()
	s := NewMemoryStore(&MemoryStoreOptions{Now: clk.Now})
	ctx := context.Background()
	_ = s.Set(ctx, "k", "v", 10*time.Second)
	clk.Advance(10*time.Second - time.Nanosecond)
	if _, ok, _ := s.Get(ctx, "k"); !ok {
		t.Fatal("entry gone before its ttl")
	}
	clk.Advance(time.Nanosecond)
	if _, ok, _ := s.Get(ctx, "k"); ok {
		t.Fatal("entry served at its ttl")
	}
	if s.Len() != 0 {
		t.Fatal("expired entry was not removed on Get")
	}
}

func TestMemoryStoreBounded(t *testing.T) {
	clk := newClock()
	s := NewMemoryStore(&MemoryStoreOptions{Now: clk.Now, MaxEntries: 3})
	ctx := context.Background()
	_ = s.Set(ctx, "a", "1", time.Minute)
	_ = s.Set(ctx, "b", "2", time.Minute)
	_ = s.Set(ctx, "c", "3", time.Minute)
	s.Get(ctx, "a") // a is now the most recently used; b the least
	_ = s.Set(ctx, "d", "4", time.Minute)
	if s.Len() != 3 {
		t.Fatalf("Len = %d, want 3", s.Len())
	}
	if _, ok, _ := s.Get(ctx, "b"); ok {
		t.Fatal("the least recently used entry was kept")
	}
	for _, k := range []string{"a", "c", "d"} {
		if _, ok, _ := s.Get(ctx, k); !ok {
			t.Fatalf("%s was evicted", k)
		}
	}
	// Expired entries go before live ones, however recently used.
	_ = s.Set(ctx, "short", "5", time.Second) // evicts the LRU (a)
	clk.Advance(2 * time.Second)
	_ = s.Set(ctx, "e", "6", time.Minute)
	for k, want := range map[string]bool{"short": false, "c": true, "d": true, "e": true} {
		if _, ok, _ := s.Get(ctx, k); ok != want {
			t.Errorf("%s present = %v, want %v", k, ok, want)
		}
	}
}

func TestMemoryStoreConcurrent(t *testing.T) {
	clk := newClock()
	s := NewMemoryStore(&MemoryStoreOptions{Now: clk.Now, MaxEntries: 50})
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				k := fmt.Sprint((g*31 + i) % 97)
				switch i % 4 {
				case 0, 1:
					_ = s.Set(ctx, k, "v", time.Duration(1+i%5)*time.Second)
				case 2:
					s.Get(ctx, k)
				case 3:
					_ = s.Delete(ctx, k)
				}
				if i%100 == 0 {
					clk.Advance(time.Second)
				}
			}
		})
	}
	wg.Wait()
	if n := s.Len(); n > 50 {
		t.Fatalf("Len = %d over the bound", n)
	}
	// The three structures agree.
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.entries) != s.lru.Len() || len(s.entries) != s.byExp.Len() {
		t.Fatalf("map %d, list %d, heap %d", len(s.entries), s.lru.Len(), s.byExp.Len())
	}
	for i, e := range s.byExp {
		if e.index != i || s.entries[e.key] != e {
			t.Fatalf("heap entry %d is inconsistent", i)
		}
	}
}
