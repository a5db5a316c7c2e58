// Command convexgo runs a local Convex-compatible deployment and talks to
// Convex deployments from the shell.
//
//	convexgo demo                 live demo against an embedded deployment
//	convexgo dev [--port 3210]    serve the embedded test deployment
//	convexgo token --sub alice    mint a token the dev deployment accepts
//	convexgo run PATH [ARGS]      run a function of any kind (--watch: follow a query)
//	convexgo watch PATH [ARGS]    print each new value of a query
//	convexgo query PATH [ARGS]    run a query once (also: mutation, action)
//
// The calling commands talk to --url, $CONVEX_URL, or the CONVEX_URL in
// the current folder's .env.local; --embedded runs them against a
// throwaway in-memory deployment.
//
// Run "convexgo help" for every flag.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// exit codes
const (
	exitOK    = 0
	exitError = 1 // the command failed
	exitUsage = 2 // bad flags or arguments
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"demo", "run a live demo against an embedded deployment", runDemo},
		{"dev", "serve the embedded test deployment", runDev},
		{"token", "mint a token the dev deployment accepts", runToken},
		{"run", "run a function of any kind, as npx convex run does", runRun},
		{"watch", "print each new value of a query", runWatch},
		{"query", "run a query once (over HTTP)", oneShot("query")},
		{"mutation", "run a mutation", oneShot("mutation")},
		{"action", "run an action", oneShot("action")},
		{"gen", "generate typed Go bindings from a function spec", runGen},
	}
}

// usageError marks a bad command line (exit status 2). With hint, the
// message is followed by a pointer to the command's -h.
type usageError struct {
	msg  string
	hint bool
}

func (e *usageError) Error() string { return e.msg }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		var ue *usageError
		var ce *callError
		switch {
		case err == nil:
			return exitOK
		case errors.As(err, &ce):
			fmt.Fprintf(stderr, "convexgo %s: %v\n", c.name, err)
			return ce.code
		case errors.Is(err, flag.ErrHelp):
			return exitOK
		case errors.As(err, &ue):
			fmt.Fprintf(stderr, "convexgo %s: %v\n", c.name, err)
			if ue.hint {
				fmt.Fprintf(stderr, "Run \"convexgo %s -h\" for help.\n", c.name)
			}
			return exitUsage
		default:
			fmt.Fprintf(stderr, "convexgo %s: %v\n", c.name, err)
			return exitError
		}
	}
	fmt.Fprintf(stderr, "convexgo: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: convexgo <command> [flags]")
	fmt.Fprintln(w)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, `Run "convexgo <command> -h" for a command's flags.`)
	fmt.Fprintln(w)
	fmt.Fprintln(w, deploymentHelp)
	fmt.Fprintln(w)
	fmt.Fprintln(w, exitHelp)
}
