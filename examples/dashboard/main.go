// Command dashboard is a terminal dashboard of live Convex queries: three
// counters read as one consistent snapshot, the latest messages of a
// channel (subscribed twice, sharing one server subscription), the
// connection state, and how many local subscribers share how many server
// subscriptions.
//
//	go -C examples run ./dashboard
//
// With CONVEX_URL unset it starts an embedded test deployment and a
// simulated writer that keeps changing the data.
package main

import (
	"context"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/convexgo/convex/client"
	"github.com/convexgo/convex/examples/demoapi"
	"github.com/convexgo/convex/examples/internal/deploy"
)

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	states := make(chan client.ConnectionState, 16)
	conn, err := deploy.Connect(os.Stderr, client.WithStateChange(func(s client.ConnectionState) {
		select {
		case states <- s:
		default: // the dashboard reads the state on its next redraw anyway
		}
	}))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()

	var wg sync.WaitGroup
	if conn.Embedded != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			simulateWriter(ctx, conn.Client)
		}()
	}
	m, err := NewModel(ctx, conn.Client, states)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	_, err = tea.NewProgram(m, tea.WithAltScreen(), tea.WithContext(ctx)).Run()
	cancel()
	wg.Wait()
	if err != nil && ctx.Err() == nil {
		log.Fatal(err)
	}
}

// simulateWriter changes the counters and posts messages until ctx ends.
func simulateWriter(ctx context.Context, c *client.Client) {
	tick := time.NewTicker(700 * time.Millisecond)
	defer tick.Stop()
	for i := 1; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		name := Counters[rand.IntN(len(Counters))]
		if _, err := demoapi.CounterIncrement.Mutation(ctx, c, demoapi.CounterIncrementArgs{Name: name}); err != nil {
			return
		}
		if i%3 == 0 {
			body := fmt.Sprintf("update #%d", i/3)
			if _, err := demoapi.MessagesSend.Mutation(ctx, c,
				demoapi.MessagesSendArgs{Channel: Channel, Author: "writer", Body: body}); err != nil {
				return
			}
		}
	}
}
