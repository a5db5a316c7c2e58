// Command bot is a realtime bot: it watches messages:list for a channel
// and answers, through messages:send, every message that mentions it.
//
//	go -C examples run ./bot [--name gobot] [--channel general]
//
// With CONVEX_URL unset it starts an embedded test deployment and a
// simulated user who keeps mentioning the bot, so there is something to
// see.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"sync"
	"time"

	"github.com/convexgo/convex/examples/demoapi"
	"github.com/convexgo/convex/examples/internal/deploy"
)

func main() {
	name := flag.String("name", "gobot", "the bot's name; it answers messages containing @name")
	channel := flag.String("channel", "general", "the channel to watch")
	runFor := flag.Duration("for", 0, "stop after this long (0: until interrupted)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *runFor > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *runFor)
		defer cancel()
	}
	conn, err := deploy.Connect(os.Stderr)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()

	var wg sync.WaitGroup
	if conn.Embedded != nil {
		wg.Add(1)
		go func() { // a simulated user
			defer wg.Done()
			tick := time.NewTicker(2 * time.Second)
			defer tick.Stop()
			for i := 1; ; i++ {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				body := fmt.Sprintf("hey @%s, message %d", *name, i)
				fmt.Printf("ada: %s\n", body)
				if _, err := demoapi.MessagesSend.Mutation(ctx, conn.Client,
					demoapi.MessagesSendArgs{Channel: *channel, Author: "ada", Body: body}); err != nil && ctx.Err() == nil {
					log.Print(err)
				}
			}
		}()
	}
	recent, err := History(ctx, conn.Client, *channel, 5)
	if err != nil {
		log.Print(err)
	}
	for i := len(recent) - 1; i >= 0; i-- { // oldest of them first
		fmt.Printf("(history) %s: %s\n", recent[i].Author, recent[i].Body)
	}
	bot := &Bot{Name: *name, Channel: *channel, Logf: func(f string, a ...any) { fmt.Printf(f+"\n", a...) }}
	fmt.Fprintf(os.Stderr, "%s is watching #%s; mention @%s to get an answer\n", *name, *channel, *name)
	err = bot.Run(ctx, conn.Client)
	stop()
	wg.Wait()
	if err != nil {
		log.Fatal(err)
	}
}
