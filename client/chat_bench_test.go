package client

import (
	"context"
	"strings"
	"testing"
)

// chatMessage is a document of the demo's messages table.
type chatMessage struct {
	ID      string  `json:"_id"`
	Created float64 `json:"_creationTime"`
	Channel string  `json:"channel"`
	Author  string  `json:"author"`
	Body    string  `json:"body"`
}

// BenchmarkChatListRoundTrip is figure 4 of the side-by-side comparison
// on its own: a channel of 170 messages with 240-byte bodies (~57 KB of
// JSON, growing by one message per op), subscribed as a typed
// []chatMessage; one op sends a message and waits until the own
// subscription's list ends with it. The deployment runs in this process,
// so the profile holds its work (the mutation, re-running the query,
// encoding the list) as well as the client's.
func BenchmarkChatListRoundTrip(b *testing.B) {
	_, c := benchClient(b)
	ctx := context.Background()
	body := strings.Repeat("x", 240)
	send := func() string {
		id, err := Mutation[string](ctx, c, "messages:send", map[string]any{"channel": "bench", "author": "bench", "body": body})
		if err != nil {
			b.Fatal(err)
		}
		return id
	}
	for range 170 {
		send()
	}
	sub, err := Subscribe[[]chatMessage](ctx, c, "messages:list", map[string]any{"channel": "bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Close()
	if l, err := sub.Next(ctx); err != nil || len(l) != 170 {
		b.Fatalf("first list: %d messages, %v", len(l), err)
	}
	b.ReportAllocs()
	for b.Loop() {
		id := send()
		for {
			l, err, ok := sub.Latest()
			if ok && err == nil && len(l) > 0 && l[len(l)-1].ID == id {
				break
			}
			l, err = sub.Next(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if len(l) > 0 && l[len(l)-1].ID == id {
				break
			}
		}
	}
}
