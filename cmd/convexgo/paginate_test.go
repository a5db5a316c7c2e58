package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/convexgo/convex/internal/testserver"
)

func TestQueryAllPages(t *testing.T) {
	srv := testserver.NewDemo()
	defer srv.Close()
	for i := range 5 {
		if _, err := srv.RunMutation("messages:send", map[string]any{"channel": "a", "author": "x", "body": fmt.Sprint("m", i)}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	code := run(ctx, []string{"query", "--url=" + srv.URL(), "--all-pages", "--page-size=2", "messages:paginated", `{"channel":"a"}`}, &out, &errb)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var bodies []string
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		bodies = append(bodies, m["body"].(string))
	}
	if strings.Join(bodies, " ") != "m4 m3 m2 m1 m0" {
		t.Fatalf("output %q", out.String())
	}
	out.Reset()
	errb.Reset()
	code = run(ctx, []string{"query", "--url=" + srv.URL(), "--all-pages", "messages:list", `{"channel":"a"}`}, &out, &errb)
	if code != exitError || !strings.Contains(errb.String(), "ArgumentValidationError") {
		t.Fatalf("not paginated: exit %d %q %q", code, out.String(), errb.String())
	}
}
