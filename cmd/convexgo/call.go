package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/convexgo/convex/client"
	"github.com/convexgo/convex/protocol"
	"github.com/convexgo/convex/tokenprovider"
)

// More exit codes, for the calling commands.
const (
	exitAuth       = 3 // the deployment refused the credentials
	exitConnection = 4 // the deployment could not be reached
)

// connFlags are the flags every calling command shares.
type connFlags struct {
	url      *string
	token    *string
	tokenCmd *string
	ints     *bool
	timeout  *time.Duration
}

func addConnFlags(fs *flag.FlagSet) *connFlags {
	return &connFlags{
		url:      fs.String("url", os.Getenv("CONVEX_URL"), "deployment URL (default $CONVEX_URL; none starts the embedded deployment)"),
		token:    fs.String("token", os.Getenv("CONVEX_AUTH_TOKEN"), "auth token (default $CONVEX_AUTH_TOKEN)"),
		tokenCmd: fs.String("token-command", "", "a shell command that prints the auth token"),
		ints:     fs.Bool("ints", false, "read integer literals in ARGS_JSON as Int64 (v.int64()), exactly, instead of Float64 (v.number())"),
		timeout:  fs.Duration("timeout", 30*time.Second, "how long to wait for a one-shot call"),
	}
}

// callError carries an exit status.
type callError struct {
	code int
	err  error
}

func (e *callError) Error() string { return e.err.Error() }
func (e *callError) Unwrap() error { return e.err }

// classify maps a client error to the exit status a shell user expects.
func classify(err error) error {
	var fe *client.FunctionError
	var ne net.Error
	var oe *net.OpError
	switch {
	case err == nil:
		return nil
	case tokenprovider.IsAuthError(err):
		return &callError{exitAuth, err}
	case errors.As(err, &fe):
		return &callError{exitError, err}
	case errors.As(err, &oe), errors.As(err, &ne), errors.Is(err, context.DeadlineExceeded):
		return &callError{exitConnection, fmt.Errorf("%w (is the deployment running?)", err)}
	}
	return err
}

// parseArgs reads ARGS_JSON: a JSON object in Convex JSON, so that
// {"$integer": ...} and {"$bytes": ...} work. Numbers are Float64, as in
// JavaScript, and an integer a float64 cannot hold exactly is an error;
// with ints, integer literals are Int64 instead, exactly.
func parseArgs(text string, ints bool) (any, error) {
	if strings.TrimSpace(text) == "" {
		return nil, nil
	}
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, &usageError{fmt.Sprintf("ARGS_JSON: %v", err)}
	}
	if dec.More() {
		return nil, &usageError{"ARGS_JSON: more than one JSON value"}
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, &usageError{"ARGS_JSON must be a JSON object"}
	}
	v, err := convexArgs(v, ints)
	if err != nil {
		return nil, &usageError{fmt.Sprintf("ARGS_JSON: %v", err)}
	}
	return v, nil
}

// convexArgs turns JSON decoded with UseNumber into Convex values: numbers
// by the rule of parseArgs, one-key special objects such as {"$integer":
// ...} into their values, checked by the protocol decoder.
func convexArgs(v any, ints bool) (any, error) {
	switch x := v.(type) {
	case json.Number:
		if ints {
			if n, err := protocol.ParseInt64Literal(string(x)); err == nil {
				return n, nil
			} else if !strings.ContainsAny(string(x), ".eE") {
				return nil, err // an integer literal out of Int64's range
			}
		}
		b, err := protocol.EncodeValue(x) // exact, or an error
		if err != nil {
			return nil, err
		}
		return protocol.DecodeValue(b)
	case []any:
		for i := range x {
			c, err := convexArgs(x[i], ints)
			if err != nil {
				return nil, err
			}
			x[i] = c
		}
	case map[string]any:
		if len(x) == 1 {
			for k := range x {
				if strings.HasPrefix(k, "$") {
					b, err := json.Marshal(x)
					if err != nil {
						return nil, err
					}
					return protocol.DecodeValue(b)
				}
			}
		}
		for k := range x {
			c, err := convexArgs(x[k], ints)
			if err != nil {
				return nil, err
			}
			x[k] = c
		}
	}
	return v, nil
}

// connect makes a client for the flags, starting the embedded deployment
// when no URL is given. The returned func releases everything.
func connect(ctx context.Context, cf *connFlags, stderr io.Writer, opts ...client.Option) (*client.Client, func(), error) {
	url := *cf.url
	var dev *devServer
	if url == "" {
		var err error
		dev, err = newDevServer("127.0.0.1:0", false)
		if err != nil {
			return nil, nil, err
		}
		url = dev.URL
		fmt.Fprintf(stderr, "no --url or CONVEX_URL: using an embedded test deployment at %s\n", url)
	}
	c, err := client.New(url, opts...)
	if err != nil {
		if dev != nil {
			dev.Close()
		}
		return nil, nil, &usageError{err.Error()}
	}
	release := func() {
		c.Close()
		if dev != nil {
			dev.Close()
		}
	}
	token := *cf.token
	if *cf.tokenCmd != "" {
		out, err := exec.CommandContext(ctx, "sh", "-c", *cf.tokenCmd).Output()
		if err != nil {
			release()
			return nil, nil, fmt.Errorf("--token-command: %w", err)
		}
		token = strings.TrimSpace(string(out))
	}
	if token != "" {
		// Wait for the deployment's verdict on the token, so that a refused
		// token is an auth failure rather than a call made anonymously.
		verdict := make(chan bool, 1)
		fixed := tokenprovider.Func(func(context.Context, bool) (string, error) { return token, nil })
		if err := c.SetAuth(ctx, fixed, func(ok bool) {
			select {
			case verdict <- ok:
			default:
			}
		}); err != nil {
			release()
			return nil, nil, err
		}
		select {
		case ok := <-verdict:
			if !ok {
				release()
				return nil, nil, &callError{exitAuth, errors.New("the deployment refused the auth token")}
			}
		case <-ctx.Done():
			release()
			return nil, nil, &callError{exitConnection, fmt.Errorf("no answer from the deployment about the auth token: %w", ctx.Err())}
		}
	}
	return c, release, nil
}

// printValue writes a Convex JSON value as plain JSON (Int64 as an
// integer), indented when pretty.
func printValue(w io.Writer, raw json.RawMessage, pretty bool) error {
	v, err := protocol.DecodeValue(raw)
	if err != nil {
		return err
	}
	out, err := protocol.EncodeExportJSON(v)
	if err != nil {
		return err
	}
	if pretty {
		var buf bytes.Buffer
		if json.Indent(&buf, out, "", "  ") == nil {
			out = buf.Bytes()
		}
	}
	_, err = fmt.Fprintf(w, "%s\n", out)
	return err
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// parseCall parses a calling command's flags and its PATH [ARGS_JSON].
func parseCall(name string, fs *flag.FlagSet, cf *connFlags, args []string, stderr io.Writer) (string, any, error) {
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: convexgo %s [flags] PATH [ARGS_JSON]\n", name)
		fs.PrintDefaults()
	}
	if err := parse(fs, args); err != nil {
		return "", nil, err
	}
	if fs.NArg() < 1 || fs.NArg() > 2 {
		return "", nil, &usageError{"want PATH and an optional ARGS_JSON"}
	}
	path := fs.Arg(0)
	if err := protocol.ValidateUDFPath(path); err != nil {
		return "", nil, &usageError{err.Error()}
	}
	fargs, err := parseArgs(fs.Arg(1), *cf.ints)
	return path, fargs, err
}

func oneShot(kind string) func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		fs := newFlags(kind, stderr)
		cf := addConnFlags(fs)
		socket := fs.Bool("socket", false, "query over the WebSocket instead of HTTP")
		path, fargs, err := parseCall(kind, fs, cf, args, stderr)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(ctx, *cf.timeout)
		defer cancel()
		c, release, err := connect(ctx, cf, stderr)
		if err != nil {
			return classify(err)
		}
		defer release()
		var raw json.RawMessage
		switch kind {
		case "query":
			var opts []client.QueryOption
			if *socket {
				opts = append(opts, client.ViaSocket())
			}
			raw, err = c.QueryRaw(ctx, path, fargs, opts...)
		case "mutation":
			raw, err = c.MutationRaw(ctx, path, fargs)
		case "action":
			raw, err = c.ActionRaw(ctx, path, fargs)
		}
		if err != nil {
			return classify(err)
		}
		return printValue(stdout, raw, isTerminal(stdout))
	}
}

func runWatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("watch", stderr)
	cf := addConnFlags(fs)
	count := fs.Int("count", 0, "exit after this many values (0: run until interrupted)")
	path, fargs, err := parseCall("watch", fs, cf, args, stderr)
	if err != nil {
		return err
	}
	// On a terminal: indented values under a live connection-status line.
	// Piped: one compact JSON value per line, nothing else on stdout.
	pretty := isTerminal(stdout)
	var mu sync.Mutex
	state := client.Connecting
	drawStatus := func() {
		if pretty {
			fmt.Fprintf(stdout, "\r\033[K● %s — watching %s", state, path)
		}
	}
	var opts []client.Option
	if pretty {
		opts = append(opts, client.WithStateChange(func(s client.ConnectionState) {
			mu.Lock()
			defer mu.Unlock()
			state = s
			drawStatus()
		}))
	}
	setup, cancel := context.WithTimeout(ctx, *cf.timeout)
	defer cancel()
	c, release, err := connect(setup, cf, stderr, opts...)
	if err != nil {
		return classify(err)
	}
	defer release()
	sub, err := c.SubscribeRaw(setup, path, fargs)
	if err != nil {
		return classify(err)
	}
	defer sub.Close()

	for n := 0; *count == 0 || n < *count; n++ {
		raw, err := sub.Next(ctx)
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			return nil // interrupted
		}
		var fe *client.FunctionError
		if errors.As(err, &fe) {
			fmt.Fprintf(stderr, "%s: %v\n", path, err)
			continue
		}
		if err != nil {
			return classify(err)
		}
		mu.Lock()
		if pretty {
			fmt.Fprint(stdout, "\r\033[K")
		}
		err = printValue(stdout, raw, pretty)
		drawStatus()
		mu.Unlock()
		if err != nil {
			return err
		}
	}
	if pretty {
		fmt.Fprintln(stdout)
	}
	return nil
}
