package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/convexgo/convex/client"
)

type demoMessage struct {
	Author string `json:"author"`
	Body   string `json:"body"`
}

// runDemo starts the embedded deployment, subscribes to live queries (three
// subscribers sharing one server subscription), runs a simulated writer,
// and prints every update as it arrives.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", stdout, help{
		usage: "demo [flags]",
		text: `Starts an embedded deployment, subscribes to live queries (three subscribers
sharing one server subscription), runs a simulated writer, and prints every
update as it arrives.`,
	})
	rounds := fs.Int("rounds", 6, "How many messages the simulated writer sends.")
	interval := fs.Duration("interval", 300*time.Millisecond, "The time between the writer's messages, as a `duration`.")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return &usageError{msg: fmt.Sprintf("unexpected arguments %q", rest), hint: true}
	}
	if *rounds < 1 || *interval < 0 {
		return &usageError{msg: "--rounds must be at least 1 and --interval not negative"}
	}

	srv, err := newDevServer("127.0.0.1:0", false)
	if err != nil {
		return err
	}
	defer srv.Close()
	fmt.Fprintf(stdout, "embedded Convex test deployment at %s\n", srv.URL)

	c, err := client.New(srv.URL)
	if err != nil {
		return err
	}
	defer c.Close()

	var mu sync.Mutex
	say := func(format string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(stdout, format+"\n", a...)
	}

	channel := map[string]any{"channel": "demo"}
	// Three subscribers of the same query: one server subscription.
	var subs []*client.Subscription[[]demoMessage]
	for i := 0; i < 3; i++ {
		s, err := client.Subscribe[[]demoMessage](ctx, c, "messages:list", channel)
		if err != nil {
			return err
		}
		defer s.Close()
		subs = append(subs, s)
	}
	counter, err := client.Subscribe[int64](ctx, c, "counter:get", map[string]any{"name": "demo"})
	if err != nil {
		return err
	}
	defer counter.Close()

	want := int64(*rounds)
	var wg sync.WaitGroup
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, 2)
	wg.Add(2)
	go func() { // prints the message list as seen by the first subscriber
		defer wg.Done()
		for msgs, err := range subs[0].Updates(wctx) {
			if err != nil {
				errs <- err
				return
			}
			if len(msgs) == 0 {
				say("[messages:list] (empty)")
				continue
			}
			last := msgs[len(msgs)-1]
			say("[messages:list] %d messages, latest %s: %q", len(msgs), last.Author, last.Body)
			if int64(len(msgs)) == want {
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for n, err := range counter.Updates(wctx) {
			if err != nil {
				errs <- err
				return
			}
			say("[counter:get] %d", n)
			if n == want {
				return
			}
		}
	}()

	for i := 1; i <= *rounds; i++ {
		select {
		case <-time.After(*interval):
		case <-ctx.Done():
			return ctx.Err()
		}
		body := fmt.Sprintf("hello #%d", i)
		if _, err := client.Mutation[string](ctx, c, "messages:send",
			map[string]any{"channel": "demo", "author": "writer", "body": body}); err != nil {
			return err
		}
		if _, err := client.Mutation[int64](ctx, c, "counter:increment", map[string]any{"name": "demo"}); err != nil {
			return err
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}

	// Every duplicate subscriber saw the same final list.
	for i, s := range subs {
		msgs, err, ok := s.Latest()
		if err != nil || !ok || int64(len(msgs)) != want {
			return fmt.Errorf("subscriber %d ends with %d messages (%v)", i, len(msgs), err)
		}
	}
	n, err := client.Query[int64](ctx, c, "counter:get", map[string]any{"name": "demo"})
	if err != nil {
		return err
	}
	st := srv.backend.Stats()
	say("one-shot HTTP query counter:get = %d", n)
	say("%d local subscribers shared %d server subscriptions (%d Adds received by the deployment)",
		len(subs)+1, st.LiveQueries, st.Adds)
	return nil
}
