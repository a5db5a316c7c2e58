package backoff

import (
	"testing"
	"time"
)

func fixed(f float64) func() float64 { return func() float64 { return f } }

func TestInitialDelay(t *testing.T) {
	for _, tt := range []struct {
		c    Cause
		want time.Duration
	}{
		{Cause{ClientInitiated: true}, 100 * time.Millisecond},
		{Cause{ClientInitiated: true, ServerReason: "TooManyConcurrentRequests"}, 100 * time.Millisecond},
		{Cause{}, time.Second},
		{Cause{ServerReason: "closed with code 1006"}, time.Second},
		{Cause{ServerReason: "InternalServerError: test"}, time.Second},
		{Cause{ServerReason: "SubscriptionsWorkerFullError"}, 3 * time.Second},
		{Cause{ServerReason: "TooManyConcurrentRequests: slow down"}, 3 * time.Second},
		{Cause{ServerReason: "CommitterFullError"}, 3 * time.Second},
		{Cause{ServerReason: "AwsTooManyRequestsException"}, 3 * time.Second},
		{Cause{ServerReason: "ExecuteFullError"}, 3 * time.Second},
		{Cause{ServerReason: "SystemTimeoutError"}, 3 * time.Second},
		{Cause{ServerReason: "ExpiredInQueue"}, 3 * time.Second},
		{Cause{ServerReason: "VectorIndexesUnavailable"}, time.Second},
		{Cause{ServerReason: "SearchIndexesUnavailable"}, time.Second},
		{Cause{ServerReason: "TableSummariesUnavailable"}, time.Second},
		{Cause{ServerReason: "VectorIndexTooLarge"}, 3 * time.Second},
		{Cause{ServerReason: "SearchIndexTooLarge"}, 3 * time.Second},
		{Cause{ServerReason: "TooManyWritesInTimePeriod"}, 3 * time.Second},
	} {
		if got := InitialDelay(tt.c); got != tt.want {
			t.Errorf("InitialDelay(%+v) = %v, want %v", tt.c, got, tt.want)
		}
	}
}

// Checklist item 29: min(initial·2^n, 16 s)·U[0.5, 1.5), n reset after a
// re-sync.
func TestSequence(t *testing.T) {
	server := Cause{ServerReason: "closed with code 1006"}
	b := New(fixed(0.5)) // factor 1.0
	want := []time.Duration{1, 2, 4, 8, 16, 16, 16}
	for i, w := range want {
		if got := b.Next(server); got != w*time.Second {
			t.Errorf("attempt %d: %v, want %v", i, got, w*time.Second)
		}
	}
	if b.Retries() != len(want) {
		t.Errorf("Retries = %d", b.Retries())
	}
	b.Reset()
	if got := b.Next(Cause{ClientInitiated: true}); got != 100*time.Millisecond {
		t.Errorf("after reset: %v", got)
	}
	if got := b.Next(Cause{ClientInitiated: true}); got != 200*time.Millisecond {
		t.Errorf("second client-side attempt: %v", got)
	}
}

func TestJitterBounds(t *testing.T) {
	low := New(fixed(0)).Next(Cause{})
	if low != 500*time.Millisecond {
		t.Errorf("random 0 gives %v, want 500ms", low)
	}
	high := New(fixed(0.999999)).Next(Cause{})
	if high < 1499*time.Millisecond || high >= 1500*time.Millisecond {
		t.Errorf("random 0.999999 gives %v, want just under 1.5s", high)
	}
	b := New(fixed(0.999999))
	for i := 0; i < 40; i++ {
		if d := b.Next(Cause{ServerReason: "TooManyConcurrentRequests"}); d >= 24*time.Second {
			t.Fatalf("attempt %d: %v reaches the 24 s ceiling", i, d)
		}
	}
	// A broken source never yields a negative or unbounded delay.
	if d := New(fixed(7)).Next(Cause{}); d != time.Second {
		t.Errorf("out-of-range random gives %v", d)
	}
	// The default source stays within bounds.
	d := New(nil)
	for i := 0; i < 100; i++ {
		if v := d.Next(Cause{ClientInitiated: true}); v < 0 || v >= 24*time.Second {
			t.Fatalf("default source: %v", v)
		}
	}
}

func TestScaled(t *testing.T) {
	b := New(fixed(0.5)).Scaled(0.01)
	if got := b.Next(Cause{}); got != 10*time.Millisecond {
		t.Errorf("scaled first delay = %v", got)
	}
	if got := New(fixed(0.5)).Scaled(-1).Next(Cause{}); got != time.Second {
		t.Errorf("a non-positive scale changed the delay: %v", got)
	}
}
