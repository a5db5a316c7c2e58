package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
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
	embedded *bool
	token    *string
	tokenCmd *string
	ints     *bool
	timeout  *time.Duration
}

// addConnFlags defines the calling commands' shared flags; timeoutUsage is
// the command's sentence for --timeout.
func addConnFlags(fs *cmdFlags, timeoutUsage string) *connFlags {
	return &connFlags{
		url: fs.String("url", "", "The `URL` of the deployment to talk to, such as http://127.0.0.1:3210. "+
			"Without it: $CONVEX_URL, then CONVEX_URL in .env.local or .env in the current folder."),
		embedded: fs.Bool("embedded", false, "Start a throwaway in-memory deployment with the demo functions for this "+
			"command alone instead; its data is gone when the command ends."),
		token:    fs.String("token", "", "An auth `token` (a JWT) to call the function as its user; without it: $CONVEX_AUTH_TOKEN."),
		tokenCmd: fs.String("token-command", "", "A shell `command` that prints the auth token; it runs once, before the call."),
		ints:     fs.Bool("ints", false, "Read the integer literals in ARGS as Int64 (v.int64()), exactly, instead of Float64 (v.number())."),
		timeout:  fs.Duration("timeout", 30*time.Second, timeoutUsage),
	}
}

// target finds the deployment the flags name (see findDeployment), or
// starts the embedded one for --embedded. release stops what it started.
func (cf *connFlags) target(stderr io.Writer) (dep deployment, release func(), err error) {
	if *cf.embedded {
		if *cf.url != "" {
			return deployment{}, nil, &usageError{msg: "--embedded and --url name different deployments: give one", hint: true}
		}
		dev, err := newDevServer("127.0.0.1:0", false)
		if err != nil {
			return deployment{}, nil, err
		}
		fmt.Fprintf(stderr, "--embedded: using a throwaway test deployment at %s; its data goes when this command ends\n", dev.URL)
		return deployment{dev.URL, "--embedded"}, dev.Close, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return deployment{}, nil, err
	}
	dep, err = findDeployment(*cf.url, os.Getenv, dir)
	if err != nil {
		return deployment{}, nil, err
	}
	return dep, func() {}, nil
}

// authToken returns the token to call with: --token-command's output,
// else --token, else $CONVEX_AUTH_TOKEN; "" for none.
func (cf *connFlags) authToken(ctx context.Context) (string, error) {
	if *cf.tokenCmd != "" {
		out, err := exec.CommandContext(ctx, "sh", "-c", *cf.tokenCmd).Output()
		if err != nil {
			return "", fmt.Errorf("--token-command: %w", err)
		}
		return strings.TrimSpace(string(out)), nil
	}
	if *cf.token != "" {
		return *cf.token, nil
	}
	return os.Getenv("CONVEX_AUTH_TOKEN"), nil
}

// callError carries an exit status.
type callError struct {
	code int
	err  error
}

func (e *callError) Error() string { return e.err.Error() }
func (e *callError) Unwrap() error { return e.err }

// classify maps a client error to the exit status a shell user expects;
// a connection failure names the deployment and where its URL came from.
func classify(err error, dep deployment) error {
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
		return &callError{exitConnection, fmt.Errorf("%w (is the deployment at %s, from %s, running?)", err, dep.url, dep.source)}
	}
	return err
}

// parseArgs reads ARGS: a JSON5 object (see parseJSON5), in which
// {"$integer": ...} and {"$bytes": ...} stand for Int64 and Bytes values.
// Numbers are Float64, as in JavaScript, and an integer a float64 cannot
// hold exactly is an error; with ints, integer literals are Int64 instead,
// exactly. Blank text is no arguments.
func parseArgs(text string, ints bool) (any, error) {
	if strings.TrimSpace(text) == "" {
		return nil, nil
	}
	v, err := parseJSON5(text, ints)
	if err != nil {
		return nil, &usageError{msg: fmt.Sprintf("ARGS: %v", err)}
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, &usageError{msg: `ARGS must be an object, such as {name: "n"}`}
	}
	return v, nil
}

// connect makes a client for the deployment the flags name. With a token,
// it waits for the deployment's verdict on it. The returned func releases
// everything.
func connect(ctx context.Context, cf *connFlags, stderr io.Writer, opts ...client.Option) (*client.Client, deployment, func(), error) {
	dep, stop, err := cf.target(stderr)
	if err != nil {
		return nil, dep, nil, err
	}
	c, err := client.New(dep.url, opts...)
	if err != nil {
		stop()
		return nil, dep, nil, &usageError{msg: fmt.Sprintf("the deployment URL from %s: %v", dep.source, err)}
	}
	release := func() {
		c.Close()
		stop()
	}
	token, err := cf.authToken(ctx)
	if err != nil {
		release()
		return nil, dep, nil, err
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
			return nil, dep, nil, err
		}
		select {
		case ok := <-verdict:
			if !ok {
				release()
				return nil, dep, nil, &callError{exitAuth, errors.New("the deployment refused the auth token")}
			}
		case <-ctx.Done():
			release()
			return nil, dep, nil, &callError{exitConnection, fmt.Errorf("no answer from the deployment at %s about the auth token: %w", dep.url, context.Cause(ctx))}
		}
	}
	return c, dep, release, nil
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

// terminal is implemented by writers that stand for a terminal, so that
// tests can see what a terminal would.
type terminal interface {
	io.Writer
	isTerminal() bool
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	if t, ok := w.(terminal); ok {
		return t.isTerminal()
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// functionPath reads PATH: "file:name", "dir/file:name", "file" (its
// default export), or "api.dir.file.name" (also "internal.", as the
// official CLI takes them).
func functionPath(s string) (string, error) {
	if strings.HasPrefix(s, "api.") || strings.HasPrefix(s, "internal.") {
		parts := strings.Split(s, ".")
		if len(parts) < 3 {
			return "", &usageError{msg: fmt.Sprintf("function path %q has too few parts: want api.file.name", s)}
		}
		s = strings.Join(parts[1:len(parts)-1], "/") + ":" + parts[len(parts)-1]
	}
	if err := protocol.ValidateUDFPath(s); err != nil {
		return "", &usageError{msg: err.Error(), hint: true}
	}
	return s, nil
}

// parseCall parses a calling command's flags and its PATH [ARGS].
func parseCall(fs *cmdFlags, cf *connFlags, args []string) (string, any, error) {
	pos, err := parseFlags(fs, args)
	if err != nil {
		return "", nil, err
	}
	if len(pos) < 1 || len(pos) > 2 {
		return "", nil, &usageError{msg: fmt.Sprintf("want PATH and an optional ARGS, got %d arguments", len(pos)), hint: true}
	}
	path, err := functionPath(pos[0])
	if err != nil {
		return "", nil, err
	}
	var text string
	if len(pos) == 2 {
		text = pos[1]
	}
	fargs, err := parseArgs(text, *cf.ints)
	return path, fargs, err
}

// oneShotHelp is the -h text of query, mutation and action.
var oneShotHelp = map[string]string{
	"query": `Runs the query PATH once, over HTTP (or the WebSocket with --socket), and
prints its value as JSON: indented on a terminal, one line when piped.`,
	"mutation": `Runs the mutation PATH once and prints its value as JSON: indented on a
terminal, one line when piped.`,
	"action": `Runs the action PATH once and prints its value as JSON: indented on a
terminal, one line when piped.`,
}

func oneShot(kind string) func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		fs := newFlags(kind, stdout, help{
			usage: kind + " [flags] PATH [ARGS]",
			text:  oneShotHelp[kind] + "\n\n" + pathArgsHelp + "\n\n" + deploymentHelp + "\n\n" + exitHelp,
		})
		cf := addConnFlags(fs, "How long to wait for the result, as a `duration` such as 10s.")
		var socket, allPages *bool
		var pageSize *int
		if kind == "query" {
			socket = fs.Bool("socket", false, "Run the query over the WebSocket instead of HTTP.")
			allPages = fs.Bool("all-pages", false, "Walk a paginated query (one taking paginationOpts) page by page and print each item as one line of JSON.")
			pageSize = fs.Int("page-size", client.DefaultPageSize, "Items per page with --all-pages.")
		}
		path, fargs, err := parseCall(fs, cf, args)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(ctx, *cf.timeout)
		defer cancel()
		c, dep, release, err := connect(ctx, cf, stderr)
		if err != nil {
			return classify(err, dep)
		}
		defer release()
		var raw json.RawMessage
		switch {
		case kind == "query" && *allPages:
			if err := printAllPages(ctx, c, path, fargs, *pageSize, stdout); err != nil {
				return classify(err, dep)
			}
			return nil
		case kind == "query":
			var opts []client.QueryOption
			if *socket {
				opts = append(opts, client.ViaSocket())
			}
			raw, err = c.QueryRaw(ctx, path, fargs, opts...)
		case kind == "mutation":
			raw, err = c.MutationRaw(ctx, path, fargs)
		case kind == "action":
			raw, err = c.ActionRaw(ctx, path, fargs)
		}
		if err != nil {
			return classify(err, dep)
		}
		return printValue(stdout, raw, isTerminal(stdout))
	}
}
