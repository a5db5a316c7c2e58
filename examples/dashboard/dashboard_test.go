package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/teatest"

	"github.com/convexgo/convex/client"
	"github.com/convexgo/convex/convextest"
	"github.com/convexgo/convex/internal/leakcheck"
)

// teatest starts a goroutine per test model that waits for SIGINT for the
// rest of the process; it is the test helper's, not the dashboard's.
func TestMain(m *testing.M) { leakcheck.Main(m, "teatest.NewTestModel") }

// The dashboard, run headless, shows live values changing on screen.
func TestDashboardShowsLiveValues(t *testing.T) {
	srv := convextest.Start(t, convextest.WithDemoFunctions())
	states := make(chan client.ConnectionState, 16)
	c, err := client.New(srv.URL(), client.WithStateChange(func(s client.ConnectionState) {
		select {
		case states <- s:
		default:
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := NewModel(ctx, c, states)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()

	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(100, 30))
	// screen accumulates everything rendered; waitFor looks for text
	// rendered after mark, so that a redraw is told from an old frame.
	var screen []byte
	waitFor := func(mark int, what string) {
		t.Helper()
		var seen []byte
		teatest.WaitFor(t, tm.Output(), func(b []byte) bool {
			seen = b
			all := append(append([]byte(nil), screen...), b...)
			return bytes.Contains(all[mark:], []byte(what))
		}, teatest.WithDuration(15*time.Second), teatest.WithCheckInterval(10*time.Millisecond))
		screen = append(screen, seen...)
	}
	waitFor(0, "connection: connected")
	waitFor(0, "(none yet)")
	waitFor(0, "5 local subscribers share 4 server subscriptions")

	mark := len(screen)
	if _, err := srv.RunMutation("counter:increment", map[string]any{"name": "likes", "by": 42}); err != nil {
		t.Fatal(err)
	}
	waitFor(mark, "likes        42")
	mark = len(screen)
	if _, err := srv.RunMutation("messages:send", map[string]any{"channel": Channel, "author": "ada", "body": "hello dashboard"}); err != nil {
		t.Fatal(err)
	}
	waitFor(mark, "ada: hello dashboard")
	waitFor(mark, "#general: 1 messages")

	mark = len(screen)
	srv.DropConnections()
	waitFor(mark, "connection: reconnecting")
	mark = len(screen)
	waitFor(mark, "connection: connected")

	tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("q")})
	tm.WaitFinished(t, teatest.WithFinalTimeout(10*time.Second))
}
