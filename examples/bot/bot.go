package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/convexgo/convex/client"
	"github.com/convexgo/convex/examples/demoapi"
)

// Message is a document of the messages table, as the typed bindings
// generated from the deployment (package demoapi) declare it.
type Message = demoapi.MessagesListReturnsItem

// Bot answers the messages of one channel that mention it ("@name").
type Bot struct {
	Name    string
	Channel string
	// Logf, if set, is told about each reply.
	Logf func(format string, args ...any)
	// Ready, if set, is called once the bot has read the channel's current
	// messages; later messages that mention it get answers.
	Ready func()
}

// Run watches the channel and replies to every new message that mentions
// the bot, until ctx ends. Messages already in the channel when it starts
// are not answered, and each message is answered once: the subscription
// delivers whole lists, so a message is never missed even when updates
// are coalesced.
func (b *Bot) Run(ctx context.Context, c *client.Client) error {
	sub, err := demoapi.MessagesList.Subscribe(ctx, c, demoapi.MessagesListArgs{Channel: b.Channel})
	if err != nil {
		return err
	}
	defer sub.Close()
	seen := map[demoapi.MessagesID]bool{}
	first := true
	for msgs, err := range sub.Updates(ctx) {
		if ctx.Err() != nil {
			return nil
		}
		var fe *client.FunctionError
		if errors.As(err, &fe) {
			b.logf("query failed: %v", err)
			continue
		}
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if seen[m.ID] {
				continue
			}
			seen[m.ID] = true
			if first || m.Author == b.Name || !b.mentioned(m.Body) {
				continue
			}
			reply := b.reply(m)
			if _, err := demoapi.MessagesSend.Mutation(ctx, c,
				demoapi.MessagesSendArgs{Channel: b.Channel, Author: b.Name, Body: reply}); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("replying to %s: %w", m.ID, err)
			}
			b.logf("%s: %s", b.Name, reply)
		}
		if first && b.Ready != nil {
			b.Ready()
		}
		first = false
	}
	return nil
}

func (b *Bot) mentioned(body string) bool {
	return strings.Contains(strings.ToLower(body), "@"+strings.ToLower(b.Name))
}

// reply quotes the message without the mention.
func (b *Bot) reply(m Message) string {
	var words []string
	for _, w := range strings.Fields(m.Body) {
		if !strings.EqualFold(strings.TrimRight(w, ",.!?:;"), "@"+b.Name) {
			words = append(words, w)
		}
	}
	return fmt.Sprintf("@%s you said %q", m.Author, strings.Join(words, " "))
}

func (b *Bot) logf(format string, args ...any) {
	if b.Logf != nil {
		b.Logf(format, args...)
	}
}

// History returns up to max of the channel's most recent messages, newest
// first, read page by page from the paginated query messages:paginated.
func History(ctx context.Context, c client.Caller, channel string, max int) ([]Message, error) {
	var out []Message
	for m, err := range client.Paginate[Message](ctx, c, demoapi.MessagesPaginated.Path(),
		map[string]any{"channel": channel}, client.PageOptions{PageSize: min(max, 50)}) {
		if err != nil {
			return out, err
		}
		out = append(out, m)
		if len(out) == max {
			break
		}
	}
	return out, nil
}
