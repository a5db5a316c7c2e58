package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/convexgo/convex/client"
)

const watchHelp = `Subscribes to the query PATH over the WebSocket and prints its value, then
each new value as the data changes, until interrupted (or --count values).
On a terminal the values are indented under a live connection-status line;
piped, each value is one line of JSON and nothing else is written to stdout.

The first value must come within --timeout: a deployment that cannot be
reached, or a query that fails (a missing function, an exception), ends the
command with the cause on stderr. Later failures of the query are reported
on stderr and the watch goes on; lost connections are retried.`

func runWatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("watch", stdout, help{
		usage: "watch [flags] PATH [ARGS]",
		text:  watchHelp + "\n\n" + pathArgsHelp + "\n\n" + deploymentHelp + "\n\n" + exitHelp,
	})
	cf := addConnFlags(fs, watchTimeoutUsage)
	count := fs.Int("count", 0, "Exit after printing this many values; 0 runs until interrupted.")
	path, fargs, err := parseCall(fs, cf, args)
	if err != nil {
		return err
	}
	return watch(ctx, cf, path, fargs, *count, stdout, stderr)
}

const watchTimeoutUsage = "How long to wait for the first value, as a `duration` such as 10s; later values are awaited without limit."

// lastErr is a slog handler that keeps the last "err" attribute the client
// logged: the reason a connection attempt failed, for the message of a
// watch that never got its first value.
type lastErr struct {
	mu  sync.Mutex
	err string
}

func (h *lastErr) Enabled(context.Context, slog.Level) bool { return true }
func (h *lastErr) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *lastErr) WithGroup(string) slog.Handler            { return h }

func (h *lastErr) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "err" {
			h.mu.Lock()
			h.err = a.Value.String()
			h.mu.Unlock()
		}
		return true
	})
	return nil
}

func (h *lastErr) String() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err
}

// watch prints each new value of the query path until ctx ends or count
// values (0: no limit) have been printed. Until the first value, a failed
// connection or a failed query ends it with an error, and so does the end
// of --timeout.
func watch(ctx context.Context, cf *connFlags, path string, fargs any, count int, stdout, stderr io.Writer) error {
	// On a terminal: indented values under a live connection-status line.
	// Piped: one compact JSON value per line, nothing else on stdout.
	pretty := isTerminal(stdout)
	var mu sync.Mutex // guards stdout and the fields below
	state := client.Connecting
	statusShown, finished := false, false
	drawStatus := func() {
		if pretty && !finished {
			fmt.Fprintf(stdout, "\r\033[K● %s — watching %s", state, path)
			statusShown = true
		}
	}
	clearStatus := func() {
		if statusShown {
			fmt.Fprint(stdout, "\r\033[K")
			statusShown = false
		}
	}
	// However the watch ends (interrupted, failed, done), the status line
	// is erased, leaving the cursor at the start of an empty line, and is
	// not drawn again by a late state change.
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		clearStatus()
		finished = true
	}()
	mu.Lock()
	drawStatus()
	mu.Unlock()

	// first ends when the first value is overdue or a connection attempt
	// before it failed; its cause says which.
	first, failFirst := context.WithCancelCause(ctx)
	defer failFirst(nil)
	overdue := errors.New("overdue")
	setup, cancel := context.WithTimeoutCause(first, *cf.timeout, overdue)
	defer cancel()
	var gotFirst atomic.Bool
	var dep deployment
	var depMu sync.Mutex
	causes := &lastErr{}
	opts := []client.Option{
		client.WithLogger(slog.New(causes)),
		client.WithStateChange(func(s client.ConnectionState) {
			mu.Lock()
			state = s
			drawStatus()
			mu.Unlock()
			if (s == client.Reconnecting || s == client.Stopped) && !gotFirst.Load() {
				depMu.Lock()
				d := dep
				depMu.Unlock()
				why := causes.String()
				if why == "" {
					why = "the connection " + s.String()
				}
				failFirst(fmt.Errorf("cannot connect to the deployment at %s (from %s): %s", d.url, d.source, why))
			}
		}),
	}
	// failed explains a failure before the first value: by the cause of
	// setup's end (a failed connection, the timeout) when it ended.
	failed := func(err error) error {
		switch cause := context.Cause(setup); {
		case ctx.Err() != nil:
			return nil // interrupted
		case setup.Err() == nil:
			return classify(err, dep)
		case cause == overdue:
			mu.Lock()
			s := state
			mu.Unlock()
			why := ""
			if c := causes.String(); c != "" {
				why = "; last connection error: " + c
			}
			return &callError{exitConnection, fmt.Errorf("no value of %s within --timeout=%v from the deployment at %s (from %s): the connection is %s%s",
				path, *cf.timeout, dep.url, dep.source, s, why)}
		default:
			return &callError{exitConnection, cause}
		}
	}
	c, d, release, err := connect(setup, cf, stderr, opts...)
	depMu.Lock()
	dep = d
	depMu.Unlock()
	if err != nil {
		var ue *usageError
		if errors.As(err, &ue) {
			return err
		}
		return failed(err)
	}
	defer release()
	sub, err := c.SubscribeRaw(setup, path, fargs)
	if err != nil {
		return failed(err)
	}
	defer sub.Close()

	for printed := 0; count == 0 || printed < count; {
		wait := ctx
		if printed == 0 {
			wait = setup
		}
		raw, err := sub.Next(wait)
		if ctx.Err() != nil {
			return nil // interrupted
		}
		var fe *client.FunctionError
		failedQuery := errors.As(err, &fe)
		switch {
		case failedQuery && printed > 0:
			mu.Lock()
			clearStatus()
			fmt.Fprintf(stderr, "%s: %v\n", path, err)
			drawStatus()
			mu.Unlock()
			continue
		case err != nil && printed == 0:
			if failedQuery {
				return classify(err, dep) // the query failed: exit 1
			}
			return failed(err)
		case err != nil:
			return classify(err, dep)
		}
		gotFirst.Store(true)
		mu.Lock()
		clearStatus()
		err = printValue(stdout, raw, pretty)
		drawStatus()
		mu.Unlock()
		if err != nil {
			return err
		}
		printed++
	}
	return nil
}
