package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/convexgo/convex/internal/testserver"
)

// run calls a function of any kind, with JSON5 arguments and flags
// anywhere on the line.
func TestRunCommand(t *testing.T) {
	keys, err := testserver.GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	srv := testserver.NewDemo(testserver.WithAuth(keys.AuthConfig()))
	defer srv.Close()
	srv.RegisterQuery("logs:hello", func(ctx *testserver.QueryCtx, _ map[string]any) (any, error) {
		ctx.Log("hello from the function")
		return "hi", nil
	})
	tok, _ := keys.MintToken("alice", time.Hour, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	url := "--url=" + srv.URL()

	for _, tt := range []struct {
		name   string
		args   []string
		code   int
		stdout string // exact
		stderr string // contained
	}{
		{"a query", []string{"run", url, "counter:get", `{name: 'r'}`}, exitOK, "0\n", ""},
		{"a mutation, JSON5", []string{"run", url, "counter:increment", `{name: 'r', by: 2, /* comment */}`}, exitOK, "2\n", ""},
		{"an action", []string{"run", url, "echo:run", `{hex: 0x10, plus: +1.5, dot: .5, s: 'it\'s', list: [1, 2,], inf: -Infinity, nan: NaN}`}, exitOK,
			`{"dot":0.5,"hex":16,"inf":"-Infinity","list":[1,2],"nan":"NaN","plus":1.5,"s":"it's"}` + "\n", ""},
		{"flags after the arguments", []string{"run", "counter:get", `{name: 'r'}`, url, "--timeout", "20s"}, exitOK, "2\n", ""},
		{"flags between the arguments", []string{"run", "counter:get", url, `{name: 'r'}`}, exitOK, "2\n", ""},
		{"-- ends the flags", []string{"run", url, "--", "counter:get", `{name: 'r'}`}, exitOK, "2\n", ""},
		{"api.file.name", []string{"run", url, "api.counter.get", `{name: 'r'}`}, exitOK, "2\n", ""},
		{"--ints is exact", []string{"run", url, "echo:run", "--ints", `{a: 9007199254740993, b: 9223372036854775807, h: -0x8000000000000000}`}, exitOK,
			`{"a":9007199254740993,"b":9223372036854775807,"h":-9223372036854775808}` + "\n", ""},
		{"inexact without --ints", []string{"run", url, "echo:run", `{a: 9007199254740993}`}, exitUsage, "", "cannot be held exactly"},
		{"no ARGS is {}", []string{"run", url, "echo:run"}, exitOK, "{}\n", ""},
		{"log lines go to stderr", []string{"run", url, "logs:hello"}, exitOK, "\"hi\"\n", "hello from the function"},
		{"a ConvexError", []string{"run", url, "errors:throw"}, exitError, "", `ConvexError: {"code":"boom"}`},
		{"a missing function", []string{"run", url, "nope:missing"}, exitError, "", "Could not find public function for 'nope:missing'"},
		{"as a user", []string{"run", url, "--token", tok, "auth:whoami"}, exitOK, "\"alice\"\n", ""},
		{"a refused token", []string{"run", url, "--token", "not-a-jwt", "auth:whoami"}, exitAuth, "", "HTTP 401"},
		{"no connection", []string{"run", "--url=http://127.0.0.1:1", "counter:get"}, exitConnection, "", "connection refused (is the deployment at http://127.0.0.1:1, from --url, running?)"},
		{"bad JSON5", []string{"run", url, "counter:get", `{name: }`}, exitUsage, "", "ARGS: at offset 7: unexpected character '}': want a value"},
		{"a bad path", []string{"run", url, "not a path"}, exitUsage, "", "function path"},
		{"too many arguments", []string{"run", url, "counter:get", "{}", "{}"}, exitUsage, "", "want PATH and an optional ARGS, got 3 arguments"},
		{"--watch", []string{"run", url, "--watch", "--count=1", "counter:get", `{name: 'r'}`}, exitOK, "2\n", ""},
		{"--watch, flags last", []string{"run", "counter:get", `{name: 'r'}`, url, "--watch", "--count", "1"}, exitOK, "2\n", ""},
		{"--count without --watch", []string{"run", url, "--count=1", "counter:get"}, exitUsage, "", "--count goes with --watch"},
		{"--watch of a mutation", []string{"run", url, "--watch", "counter:increment", `{name: 'r'}`}, exitError, "", "counter:increment"},
		{"query flags after the arguments", []string{"query", "counter:get", `{name: 'r'}`, url, "--socket"}, exitOK, "2\n", ""},
		{"mutation has no --socket", []string{"mutation", url, "--socket", "counter:increment", `{name: 'r'}`}, exitUsage, "", "flag provided but not defined: -socket"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, ctx, tt.args...)
			if code != tt.code || out != tt.stdout || !strings.Contains(errOut, tt.stderr) {
				t.Errorf("convexgo %q\n got %d stdout %q stderr %q\nwant %d stdout %q stderr containing %q",
					tt.args, code, out, errOut, tt.code, tt.stdout, tt.stderr)
			}
		})
	}
}

// The indented output on a terminal keeps every digit of an Int64.
func TestPrintValueExact(t *testing.T) {
	raw := json.RawMessage(`{"big":{"$integer":"/////////38="},"list":[{"$integer":"AQAAAAAAIAA="},1.5]}`)
	for _, tt := range []struct {
		pretty bool
		want   string
	}{
		{false, `{"big":9223372036854775807,"list":[9007199254740993,1.5]}` + "\n"},
		{true, "{\n  \"big\": 9223372036854775807,\n  \"list\": [\n    9007199254740993,\n    1.5\n  ]\n}\n"},
	} {
		var buf bytes.Buffer
		if err := printValue(&buf, raw, tt.pretty); err != nil {
			t.Fatal(err)
		}
		if buf.String() != tt.want {
			t.Errorf("printValue(pretty=%v) = %q, want %q", tt.pretty, buf.String(), tt.want)
		}
	}
}
