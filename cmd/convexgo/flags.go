package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// help is what a command's -h prints besides its flags.
type help struct {
	usage string // after "usage: convexgo ", e.g. "query [flags] PATH [ARGS]"
	text  string // paragraphs explaining the command and its arguments
}

// pathArgsHelp explains PATH and ARGS, for the commands that call a
// function.
const pathArgsHelp = `PATH names a function as "file:name", e.g. "messages:list" for the export
"list" of convex/messages.ts, or "dir/file:name"; "file" alone is its
default export, and "api.dir.file.name" is accepted too.

ARGS is the function's arguments: a JSON5 object, as "npx convex run" takes
it, such as '{name: "n", by: 1}' (quotes, trailing commas and comments are
optional; {"$integer": "<base64>"} and {"$bytes": "<base64>"} make Int64 and
Bytes values). Without ARGS the function gets {}. Numbers are Float64
(v.number()); an integer a Float64 cannot hold exactly is refused, unless
--ints makes integers Int64 (v.int64()).

Flags may come before or after PATH and ARGS.`

// deploymentHelp says how the calling commands find their deployment.
const deploymentHelp = `The deployment is --url, else $CONVEX_URL, else CONVEX_URL (or a framework's
NEXT_PUBLIC_CONVEX_URL, VITE_CONVEX_URL, ...) in .env.local or .env in the
current folder, as "npx convex dev" writes them. With none of these the
command fails; --embedded runs it against a throwaway in-memory deployment.`

// cmdFlags is a command's flag set and the help its -h prints.
type cmdFlags struct {
	*flag.FlagSet
	printHelp func()
}

// newFlags makes a flag set for the command name. Its errors come back
// from parseFlags instead of being printed, and -h prints h and the flags
// on stdout.
func newFlags(name string, stdout io.Writer, h help) *cmdFlags {
	fs := flag.NewFlagSet("convexgo "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {} // the flag package calls it on every error, not only -h
	return &cmdFlags{fs, func() { printHelp(stdout, fs, h) }}
}

// printHelp writes the usage line, the command's text and one line per
// flag: its name, its value's placeholder, its sentence and its default.
func printHelp(w io.Writer, fs *flag.FlagSet, h help) {
	fmt.Fprintf(w, "usage: convexgo %s\n\n", h.usage)
	if h.text != "" {
		fmt.Fprintf(w, "%s\n\n", strings.TrimSpace(h.text))
	}
	fmt.Fprintln(w, "Flags:")
	fs.VisitAll(func(f *flag.Flag) {
		placeholder, usage := flag.UnquoteUsage(f)
		name := "--" + f.Name
		if placeholder != "" {
			name += " " + strings.ToUpper(placeholder)
		}
		if def := f.DefValue; def != "" && def != "false" && def != "0" {
			usage += fmt.Sprintf(" Default: %s.", def)
		}
		fmt.Fprintf(w, "  %s\n", name)
		for _, line := range wrap(usage, 72) {
			fmt.Fprintf(w, "        %s\n", line)
		}
	})
}

// wrap breaks text into lines of at most width bytes at spaces (a longer
// word gets a line of its own).
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		switch {
		case line == "":
			line = word
		case len(line)+1+len(word) <= width:
			line += " " + word
		default:
			lines = append(lines, line)
			line = word
		}
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

// boolFlag is the interface the flag package uses for flags that take no
// value.
type boolFlag interface{ IsBoolFlag() bool }

// parseFlags parses args with fs, allowing flags before, between and after
// the positional arguments, which it returns in order. "--" ends the flags.
// A flag that takes a value may have it after '=' or as the next argument;
// a boolean flag takes one only after '='. Errors are usage errors, except
// flag.ErrHelp after -h (which has printed the help).
func parseFlags(fs *cmdFlags, args []string) ([]string, error) {
	var flags, positional []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			positional = append(positional, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			positional = append(positional, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		if strings.Contains(name, "=") {
			continue
		}
		f := fs.Lookup(name)
		if f == nil {
			continue // fs.Parse reports it
		}
		if b, ok := f.Value.(boolFlag); ok && b.IsBoolFlag() {
			continue
		}
		if i+1 < len(args) {
			i++
			flags = append(flags, args[i])
		}
	}
	if err := fs.Parse(flags); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.printHelp()
			return nil, err
		}
		return nil, &usageError{msg: err.Error(), hint: true}
	}
	return positional, nil
}

// exitHelp lists the exit statuses.
const exitHelp = `Exit status: 0 ok, 1 the function failed (or another error), 2 bad usage or
arguments, 3 the deployment refused the credentials, 4 no connection.`
