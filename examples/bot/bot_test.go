package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/convexgo/convex/client"
	"github.com/convexgo/convex/convextest"
	"github.com/convexgo/convex/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

func TestBotAnswersMentions(t *testing.T) {
	srv := convextest.Start(t, convextest.WithDemoFunctions())
	// A message from before the bot started is not answered.
	if _, err := srv.RunMutation("messages:send", map[string]any{"channel": "c", "author": "ada", "body": "old @gobot"}); err != nil {
		t.Fatal(err)
	}
	botClient, err := client.New(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer botClient.Close()
	user, err := client.New(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer user.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	botCtx, stopBot := context.WithCancel(ctx)
	done := make(chan error, 1)
	ready := make(chan struct{})
	go func() {
		done <- (&Bot{Name: "gobot", Channel: "c", Ready: func() { close(ready) }}).Run(botCtx, botClient)
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("bot stopped: %v", err)
	}

	sub, err := client.Subscribe[[]Message](ctx, user, "messages:list", map[string]any{"channel": "c"})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	for i, body := range []string{"hello @gobot how are you", "no mention here", "@GoBot again"} {
		if _, err := client.Mutation[string](ctx, user, "messages:send",
			map[string]any{"channel": "c", "author": "ada", "body": body}); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	want := []string{
		"old @gobot",
		"hello @gobot how are you",
		"no mention here",
		"@GoBot again",
		`@ada you said "hello how are you"`,
		`@ada you said "again"`,
	}
	var got []Message
	for {
		got, err = sub.Next(ctx)
		if err != nil {
			t.Fatalf("waiting for replies: %v (have %v)", err, got)
		}
		if len(got) >= len(want) {
			break
		}
	}
	stopBot()
	if err := <-done; err != nil {
		t.Fatalf("bot: %v", err)
	}
	bodies := map[string]int{}
	for _, m := range got {
		bodies[m.Body]++
	}
	for _, w := range want {
		if bodies[w] != 1 {
			t.Errorf("message %q appears %d times; all: %v", w, bodies[w], fmt.Sprint(got))
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d messages, want %d: %+v", len(got), len(want), got)
	}
}

func TestHistory(t *testing.T) {
	srv := convextest.Start(t, convextest.WithDemoFunctions())
	c, err := client.NewHTTPClient(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 120; i++ {
		if _, err := srv.RunMutation("messages:send", map[string]any{"channel": "h", "author": "ada", "body": fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := History(context.Background(), c.As(client.Anonymous()), "h", 70)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 70 || got[0].Body != "119" || got[69].Body != "50" {
		t.Fatalf("history: %d messages, first %+v", len(got), got[0])
	}
}
