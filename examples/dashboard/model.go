package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/convexgo/convex/client"
	"github.com/convexgo/convex/examples/demoapi"
	"github.com/convexgo/convex/protocol"
)

// Counters shown by the dashboard, read together in one consistent
// snapshot.
var Counters = []string{"visits", "likes", "shares"}

// Channel is the message channel shown.
const Channel = "general"

// Message is a document of the messages table, as the typed bindings
// generated from the deployment (package demoapi) declare it.
type Message = demoapi.MessagesListReturnsItem

// Model is the dashboard's bubbletea model. Outside events reach it as
// commands that block on a subscription's Next and return a message;
// Update re-arms each one after it fires.
type Model struct {
	ctx      context.Context
	c        *client.Client
	counters *client.SnapshotSubscription
	list     *client.Subscription[[]Message]
	count    *client.Subscription[[]Message] // the same query again: shares the server subscription
	states   <-chan client.ConnectionState

	values   []int64
	snapTS   uint64
	messages []Message
	total    int
	state    client.ConnectionState
	stats    client.Stats
	err      error
}

type (
	snapshotMsg client.Snapshot
	listMsg     []Message
	countMsg    int
	stateMsg    client.ConnectionState
	statsMsg    client.Stats
	errMsg      struct{ err error }
)

// NewModel subscribes to the dashboard's queries. states, if not nil,
// delivers connection-state changes (see client.WithStateChange).
func NewModel(ctx context.Context, c *client.Client, states <-chan client.ConnectionState) (*Model, error) {
	specs := make([]client.QuerySpec, len(Counters))
	for i, name := range Counters {
		specs[i] = client.QuerySpec{Path: demoapi.CounterGet.Path(), Args: demoapi.CounterGetArgs{Name: name}}
	}
	counters, err := c.SubscribeAll(ctx, specs...)
	if err != nil {
		return nil, err
	}
	args := demoapi.MessagesListArgs{Channel: Channel}
	list, err := demoapi.MessagesList.Subscribe(ctx, c, args)
	if err != nil {
		counters.Close()
		return nil, err
	}
	count, err := demoapi.MessagesList.Subscribe(ctx, c, args)
	if err != nil {
		counters.Close()
		list.Close()
		return nil, err
	}
	return &Model{ctx: ctx, c: c, counters: counters, list: list, count: count, states: states,
		values: make([]int64, len(Counters)), state: c.ConnectionState()}, nil
}

// Close ends the model's subscriptions.
func (m *Model) Close() {
	m.counters.Close()
	m.list.Close()
	m.count.Close()
}

func (m *Model) waitSnapshot() tea.Msg {
	s, err := m.counters.Next(m.ctx)
	if err != nil {
		return errMsg{err}
	}
	return snapshotMsg(s)
}

func (m *Model) waitList() tea.Msg {
	v, err := m.list.Next(m.ctx)
	if err != nil {
		return errMsg{err}
	}
	return listMsg(v)
}

func (m *Model) waitCount() tea.Msg {
	v, err := m.count.Next(m.ctx)
	if err != nil {
		return errMsg{err}
	}
	return countMsg(len(v))
}

func (m *Model) waitState() tea.Msg {
	select {
	case s := <-m.states:
		return stateMsg(s)
	case <-m.ctx.Done():
		return errMsg{m.ctx.Err()}
	}
}

func (m *Model) pollStats() tea.Cmd {
	return tea.Tick(300*time.Millisecond, func(time.Time) tea.Msg {
		st, err := m.c.Stats(m.ctx)
		if err != nil {
			return errMsg{err}
		}
		return statsMsg(st)
	})
}

// Init starts the waits.
func (m *Model) Init() tea.Cmd {
	cmds := []tea.Cmd{m.waitSnapshot, m.waitList, m.waitCount, m.pollStats()}
	if m.states != nil {
		cmds = append(cmds, m.waitState)
	}
	return tea.Batch(cmds...)
}

// Update applies one event and re-arms its wait.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.KeyMsg:
		switch msg.String() {
		case "q", "ctrl+c", "esc":
			return m, tea.Quit
		}
	case snapshotMsg:
		m.snapTS = msg.TS
		for i, raw := range msg.Values {
			if msg.Errs[i] == nil {
				_ = protocol.Unmarshal(raw, &m.values[i])
			}
		}
		return m, m.waitSnapshot
	case listMsg:
		m.messages = msg
		return m, m.waitList
	case countMsg:
		m.total = int(msg)
		return m, m.waitCount
	case stateMsg:
		m.state = client.ConnectionState(msg)
		return m, m.waitState
	case statsMsg:
		m.stats = client.Stats(msg)
		return m, m.pollStats()
	case errMsg:
		if m.ctx.Err() != nil {
			return m, tea.Quit
		}
		m.err = msg.err
	}
	return m, nil
}

// View renders the dashboard.
func (m *Model) View() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Convex live dashboard   connection: %s\n\n", m.state)
	b.WriteString("Counters (one consistent snapshot)\n")
	for i, name := range Counters {
		fmt.Fprintf(&b, "  %-8s %6d\n", name, m.values[i])
	}
	fmt.Fprintf(&b, "\n#%s: %d messages, latest:\n", Channel, m.total)
	start := max(0, len(m.messages)-5)
	for _, msg := range m.messages[start:] {
		fmt.Fprintf(&b, "  %s: %s\n", msg.Author, msg.Body)
	}
	if len(m.messages) == 0 {
		b.WriteString("  (none yet)\n")
	}
	fmt.Fprintf(&b, "\n%d local subscribers share %d server subscriptions\n", m.stats.Subscribers, m.stats.Queries)
	if m.err != nil {
		fmt.Fprintf(&b, "error: %v\n", m.err)
	}
	b.WriteString("\nq to quit\n")
	return b.String()
}
