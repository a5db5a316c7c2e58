package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/convexgo/convex/internal/leakcheck"
)

// TestMain is also the deployment process of the tests' runs: run starts
// this binary again with serveEnv set.
func TestMain(m *testing.M) {
	if os.Getenv(serveEnv) == "1" {
		if err := serve(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "sidebyside:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	leakcheck.Main(m)
}

// TestQuick runs the smoke mode to check the machinery: both sides run
// against one deployment and every figure is printed. The numbers are not
// checked.
func TestQuick(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out, log bytes.Buffer
	err := run(ctx, quickConfig(), &out, &log)
	if errors.Is(err, errNoNode) {
		if os.Getenv("CI") != "" {
			t.Fatalf("under CI: %v", err)
		}
		t.Skip(err)
	}
	if err != nil {
		t.Fatalf("%v\nprogress:\n%s", err, log.String())
	}
	t.Logf("\n%s", out.String())
	for _, f := range figures(quickConfig()) {
		if !strings.Contains(out.String(), "| "+f.name+" |") {
			t.Errorf("figure %q missing from the output", f.name)
		}
	}
	if strings.Contains(out.String(), "NaN") {
		t.Errorf("a figure is NaN:\n%s", out.String())
	}
}
