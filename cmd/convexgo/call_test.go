package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/convexgo/convex/internal/testserver"
)

func TestCallCommands(t *testing.T) {
	keys, err := testserver.GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	srv := testserver.NewDemo(testserver.WithAuth(keys.AuthConfig()))
	defer srv.Close()
	tok, _ := keys.MintToken("alice", time.Hour, nil)
	other, err := testserver.GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	otherTok, _ := other.MintToken("alice", time.Hour, nil)
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
		{"query", []string{"query", url, "counter:get", `{"name":"n"}`}, exitOK, "0\n", ""},
		{"mutation", []string{"mutation", url, "counter:increment", `{"name":"n","by":5}`}, exitOK, "5\n", ""},
		{"query over the socket", []string{"query", url, "--socket", "counter:get", `{"name":"n"}`}, exitOK, "5\n", ""},
		{"Int64 where v.number() is required", []string{"mutation", url, "--ints", "counter:increment", `{"name":"n","by":1}`}, exitError, "", "Validator: v.float64()"},
		{"explicit $integer where v.number() is required", []string{"mutation", url, "counter:increment", `{"name":"n","by":{"$integer":"AQAAAAAAAAA="}}`}, exitError, "", "Validator: v.float64()"},
		{"fraction", []string{"mutation", url, "counter:increment", `{"name":"n","by":0.5e1}`}, exitOK, "10\n", ""},
		{"--ints is exact", []string{"action", url, "--ints", "echo:run", `{"a":9007199254740993,"b":9223372036854775807,"c":-9223372036854775808,"f":1.5}`}, exitOK,
			`{"a":9007199254740993,"b":9223372036854775807,"c":-9223372036854775808,"f":1.5}` + "\n", ""},
		{"--ints out of range", []string{"action", url, "--ints", "echo:run", `{"a":9223372036854775808}`}, exitUsage, "", "does not fit in an Int64"},
		{"inexact number", []string{"action", url, "echo:run", `{"a":9007199254740993}`}, exitUsage, "", "cannot be held exactly"},
		{"exact large number", []string{"action", url, "echo:run", `{"a":9007199254740992}`}, exitOK, `{"a":9007199254740992}` + "\n", ""},
		{"action echo", []string{"action", url, "echo:run", `{"b":{"$bytes":"AQI="},"i":{"$integer":"//////////8="},"x":[1.5,null]}`}, exitOK, `{"b":"AQI=","i":-1,"x":[1.5,null]}` + "\n", ""},
		{"convex error", []string{"query", url, "errors:throw"}, exitError, "", "boom"},
		{"unknown function", []string{"query", url, "nope:missing"}, exitError, "", "Could not find public function"},
		{"bad json", []string{"query", url, "counter:get", `{"name":`}, exitUsage, "", "ARGS: at offset 8: unexpected end of input"},
		{"args not an object", []string{"query", url, "counter:get", `[1]`}, exitUsage, "", "ARGS must be an object"},
		{"bad path", []string{"query", url, "not a path"}, exitUsage, "", "function path"},
		{"no path", []string{"query", url}, exitUsage, "", "want PATH"},
		{"auth", []string{"query", url, "--token", tok, "auth:whoami"}, exitOK, "\"alice\"\n", ""},
		{"token command", []string{"query", url, "--token-command", "echo " + tok, "auth:whoami"}, exitOK, "\"alice\"\n", ""},
		{"bad token", []string{"query", url, "--token", "not-a-jwt", "auth:whoami"}, exitAuth, "", "refused the auth token"},
		{"token signed by another key", []string{"query", url, "--token", otherTok, "auth:whoami"}, exitAuth, "", "refused the auth token"},
		{"no connection", []string{"query", "--url=http://127.0.0.1:1", "--timeout=5s", "counter:get", `{"name":"n"}`}, exitConnection, "", "connection refused"},
		{"watch piped", []string{"watch", url, "--count=1", "counter:get", `{"name":"n"}`}, exitOK, "10\n", ""},
		{"embedded deployment", []string{"query", "--embedded", "counter:get", `{"name":"n"}`}, exitOK, "0\n", "throwaway test deployment"},
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

// watch prints each new value as another client changes it.
func TestWatchFollowsChanges(t *testing.T) {
	srv := testserver.NewDemo()
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"watch", "--url=" + srv.URL(), "--count=3", "counter:get", `{"name":"w"}`}, &out, &errb)
	}()
	for i := 1; i <= 2; i++ {
		// Wait until watch has printed the previous value, then change it.
		out.waitFor(t, ctx, func(s string) bool { return strings.Count(s, "\n") >= i })
		if _, err := srv.RunMutation("counter:increment", map[string]any{"name": "w"}); err != nil {
			t.Fatal(err)
		}
	}
	if code := <-done; code != exitOK {
		t.Fatalf("watch exited %d: %s", code, errb.String())
	}
	if got := out.String(); got != "0\n1\n2\n" {
		t.Fatalf("watch printed %q", got)
	}
}
