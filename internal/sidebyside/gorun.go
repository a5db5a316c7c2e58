package main

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/convexgo/convex/client"
)

// message is a messages:list element.
type message struct {
	ID           string  `json:"_id"`
	CreationTime float64 `json:"_creationTime"`
	Channel      string  `json:"channel"`
	Author       string  `json:"author"`
	Body         string  `json:"body"`
}

func medianDur(ds []time.Duration) float64 {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	m := len(s) / 2
	if len(s)%2 == 1 {
		return float64(s[m])
	}
	return float64(s[m-1]+s[m]) / 2
}

// memInUse is heap in use plus goroutine stacks after a full collection.
func memInUse() (heap, stacks uint64) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse, m.StackInuse
}

// countdown is what both fan-outs share: n subscribers of counter name
// compare each value with want and count left down; the last one of a
// round signals all.
type countdown struct {
	name string
	n    int
	want atomic.Value // float64
	left atomic.Int64
	all  chan struct{}
}

func newCountdown(name string, n int) countdown {
	return countdown{name: name, n: n, all: make(chan struct{}, 1)}
}

// saw counts a subscriber's value v.
func (f *countdown) saw(v float64) {
	if v == f.want.Load().(float64) && f.left.Add(-1) == 0 {
		f.all <- struct{}{}
	}
}

// round increments the counter and waits until every subscriber has seen
// the new value.
func (f *countdown) round(ctx context.Context, c *client.Client) (time.Duration, error) {
	want := f.want.Load().(float64) + 1
	f.left.Store(int64(f.n))
	f.want.Store(want)
	t0 := time.Now()
	got, err := client.Mutation[float64](ctx, c, "counter:increment", map[string]any{"name": f.name})
	if err != nil {
		return 0, err
	}
	if got != want {
		return 0, fmt.Errorf("mutation on %s returned %v, want %v", f.name, got, want)
	}
	select {
	case <-f.all:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	return time.Since(t0), nil
}

// typedFanOut is n typed Subscribe[float64] subscribers of counter name,
// each read by its own goroutine. A reader does with each value what the
// JS benchmark's callbacks do: compare it with the expected value and
// count down; the last one of a round signals.
type typedFanOut struct {
	countdown
	cancel context.CancelFunc
	wg     sync.WaitGroup
	memSub float64 // heap in use per subscription, without its goroutine
	memGor float64 // heap + stacks per subscription with its goroutine
}

func newTypedFanOut(ctx context.Context, c *client.Client, name string, n int) (*typedFanOut, error) {
	f := &typedFanOut{countdown: newCountdown(name, n)}
	f.want.Store(0.0)
	args := map[string]any{"name": name}
	h0, s0 := memInUse()
	subs := make([]*client.Subscription[float64], 0, n)
	closeAll := func() {
		for _, s := range subs {
			s.Close()
		}
	}
	for range n {
		s, err := client.Subscribe[float64](ctx, c, "counter:get", args)
		if err != nil {
			closeAll()
			return nil, err
		}
		subs = append(subs, s)
	}
	for _, s := range subs {
		if _, err := s.Next(ctx); err != nil {
			closeAll()
			return nil, err
		}
	}
	h1, _ := memInUse()
	rctx, cancel := context.WithCancel(ctx)
	f.cancel = cancel
	for _, s := range subs {
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			defer s.Close()
			for {
				v, err := s.Next(rctx)
				if err != nil {
					return
				}
				f.saw(v)
			}
		}()
	}
	h2, s2 := memInUse()
	f.memSub = (float64(h1) - float64(h0)) / float64(n)
	f.memGor = (float64(h2+s2) - float64(h0+s0)) / float64(n)
	return f, nil
}

func (f *typedFanOut) close() {
	f.cancel()
	f.wg.Wait()
}

// wakeFloor measures what the Go runtime alone charges for a goroutine
// per subscriber: n goroutines, each parked on a one-slot channel of its
// own, woken by a send and counting down as the typed readers do. It
// returns the median ns per wake over rounds and the heap + stack bytes
// per parked goroutine. No client code runs: a client whose subscribers
// are read by a goroutine each cannot deliver for less than this.
func wakeFloor(ctx context.Context, n, rounds int) (nsPerWake, bytesPer float64, err error) {
	chans := make([]chan float64, n)
	for i := range chans {
		chans[i] = make(chan float64, 1)
	}
	var want atomic.Value
	want.Store(0.0)
	var left atomic.Int64
	all := make(chan struct{}, 1)
	var wg sync.WaitGroup
	defer func() {
		for _, ch := range chans {
			close(ch)
		}
		wg.Wait()
	}()
	runtime.GC()
	h0, s0 := memInUse()
	for _, ch := range chans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for v := range ch {
				if v == want.Load().(float64) && left.Add(-1) == 0 {
					all <- struct{}{}
				}
			}
		}()
	}
	h1, s1 := memInUse()
	bytesPer = (float64(h1+s1) - float64(h0+s0)) / float64(n)
	var ds []time.Duration
	for i := 0; i <= rounds; i++ {
		v := float64(i + 1)
		want.Store(v)
		left.Store(int64(n))
		t0 := time.Now()
		for _, ch := range chans {
			ch <- v
		}
		select {
		case <-all:
		case <-ctx.Done():
			return 0, 0, ctx.Err()
		}
		if i > 0 { // round 0 warms up, as elsewhere
			ds = append(ds, time.Since(t0))
		}
	}
	return medianDur(ds) / float64(n), bytesPer, nil
}

// callbackFanOut is n OnUpdate[float64] callbacks on counter name.
type callbackFanOut struct {
	countdown
	unsubs []func()
}

func newCallbackFanOut(ctx context.Context, c *client.Client, name string, n int) (*callbackFanOut, error) {
	f := &callbackFanOut{countdown: newCountdown(name, n)}
	f.want.Store(0.0)
	f.left.Store(int64(n))
	args := map[string]any{"name": name}
	for range n {
		unsub, err := client.OnUpdate(ctx, c, "counter:get", args, func(v float64, err error) {
			if err == nil {
				f.saw(v)
			}
		})
		if err != nil {
			f.close()
			return nil, err
		}
		f.unsubs = append(f.unsubs, unsub)
	}
	select {
	case <-f.all:
	case <-ctx.Done():
		f.close()
		return nil, ctx.Err()
	}
	return f, nil
}

func (f *callbackFanOut) close() {
	for _, u := range f.unsubs {
		u()
	}
}

type rounder interface {
	round(context.Context, *client.Client) (time.Duration, error)
}

// rounds runs one untimed warm-up round, then n timed ones, and returns
// their median.
func rounds(ctx context.Context, c *client.Client, f rounder, n int) (float64, error) {
	if _, err := f.round(ctx, c); err != nil {
		return 0, err
	}
	var ds []time.Duration
	for range n {
		d, err := f.round(ctx, c)
		if err != nil {
			return 0, err
		}
		ds = append(ds, d)
	}
	return medianDur(ds), nil
}

// dupSubscribe times ops typed Subscribe + first Next (the cached value)
// + Close on the live query counter:get {name}.
func dupSubscribe(ctx context.Context, c *client.Client, name string, ops int) (float64, error) {
	args := map[string]any{"name": name}
	t0 := time.Now()
	for range ops {
		s, err := client.Subscribe[float64](ctx, c, "counter:get", args)
		if err != nil {
			return 0, err
		}
		if _, err := s.Next(ctx); err != nil {
			return 0, err
		}
		s.Close()
	}
	return float64(time.Since(t0)) / float64(ops), nil
}

// sendAndSee sends a message on channel and waits until sub shows it as
// the list's last message.
func sendAndSee(ctx context.Context, c *client.Client, sub *client.Subscription[[]message], channel, body string) error {
	id, err := client.Mutation[string](ctx, c, "messages:send", map[string]any{"channel": channel, "author": "bench", "body": body})
	if err != nil {
		return err
	}
	shows := func(l []message) bool { return len(l) > 0 && l[len(l)-1].ID == id }
	if l, err, ok := sub.Latest(); ok && err == nil && shows(l) {
		return nil
	}
	for {
		l, err := sub.Next(ctx)
		if err != nil {
			return err
		}
		if shows(l) {
			return nil
		}
	}
}

// runGo is one Go run: the figures bench.mjs measures, in the same order,
// plus the OnUpdate callback lines.
func runGo(ctx context.Context, url string, cfg config, runID string) (r result, err error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	c, err := client.New(url)
	if err != nil {
		return r, err
	}
	defer c.Close()

	// The runtime's own floor for a goroutine per subscriber.
	if r.FloorNs, r.FloorMem, err = wakeFloor(ctx, cfg.S, cfg.Rounds); err != nil {
		return r, err
	}

	// Figures 1, 2 and 5 with typed subscribers.
	base, err := newTypedFanOut(ctx, c, runID+"-base", 1)
	if err != nil {
		return r, err
	}
	defer base.close()
	fan, err := newTypedFanOut(ctx, c, runID+"-fan", cfg.S)
	if err != nil {
		return r, err
	}
	defer fan.close()
	r.MemPerSub, r.MemGorSub = fan.memSub, fan.memGor
	if r.BaseNs, err = rounds(ctx, c, base, cfg.Rounds); err != nil {
		return r, err
	}
	if r.AllNs, err = rounds(ctx, c, fan, cfg.Rounds); err != nil {
		return r, err
	}

	// Figure 3 on the same live queries.
	if r.Dup1Ns, err = dupSubscribe(ctx, c, runID+"-base", cfg.DupOps); err != nil {
		return r, err
	}
	if r.DupSNs, err = dupSubscribe(ctx, c, runID+"-fan", cfg.DupOps); err != nil {
		return r, err
	}
	base.close()
	fan.close()

	// Figures 1 and 2 with OnUpdate callbacks.
	cbBase, err := newCallbackFanOut(ctx, c, runID+"-cbbase", 1)
	if err != nil {
		return r, err
	}
	defer cbBase.close()
	cbFan, err := newCallbackFanOut(ctx, c, runID+"-cbfan", cfg.S)
	if err != nil {
		return r, err
	}
	defer cbFan.close()
	if r.CbBaseNs, err = rounds(ctx, c, cbBase, cfg.Rounds); err != nil {
		return r, err
	}
	if r.CbAllNs, err = rounds(ctx, c, cbFan, cfg.Rounds); err != nil {
		return r, err
	}
	cbBase.close()
	cbFan.close()

	// Figure 4: the chat list.
	body := strings.Repeat("x", cfg.BodyBytes)
	chat := runID + "-chat"
	for range cfg.ListMsgs {
		if _, err := client.Mutation[string](ctx, c, "messages:send", map[string]any{"channel": chat, "author": "bench", "body": body}); err != nil {
			return r, err
		}
	}
	raw, err := c.QueryRaw(ctx, "messages:list", map[string]any{"channel": chat})
	if err != nil {
		return r, err
	}
	r.ListBytes = len(json.RawMessage(raw))
	sub, err := client.Subscribe[[]message](ctx, c, "messages:list", map[string]any{"channel": chat})
	if err != nil {
		return r, err
	}
	defer sub.Close()
	if l, err := sub.Next(ctx); err != nil {
		return r, err
	} else if len(l) != cfg.ListMsgs {
		return r, fmt.Errorf("chat list has %d messages, want %d", len(l), cfg.ListMsgs)
	}
	var ds []time.Duration
	for range cfg.ListRounds {
		t0 := time.Now()
		if err := sendAndSee(ctx, c, sub, chat, body); err != nil {
			return r, err
		}
		ds = append(ds, time.Since(t0))
	}
	sub.Close()
	r.ListNs = medianDur(ds)

	// Figure 6: fresh channels.
	ds = ds[:0]
	for i := range cfg.FreshRounds {
		channel := fmt.Sprintf("%s-fresh-%d", runID, i)
		t0 := time.Now()
		s, err := client.Subscribe[[]message](ctx, c, "messages:list", map[string]any{"channel": channel})
		if err != nil {
			return r, err
		}
		if _, err := s.Next(ctx); err != nil {
			s.Close()
			return r, err
		}
		err = sendAndSee(ctx, c, s, channel, body)
		ds = append(ds, time.Since(t0))
		s.Close()
		if err != nil {
			return r, err
		}
	}
	r.FreshNs = medianDur(ds)
	return r, nil
}
