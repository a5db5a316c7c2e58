// Command sidebyside runs the official Convex JavaScript client
// (ConvexClient from npm convex, pinned in package-lock.json, under Node
// with ws) and this module's Go client against the same test deployment
// (the demo `convexgo dev` serves), interleaved (Go run, JS run, Go run, ... for -pairs pairs)
// with the same parameters, and prints every figure as a ratio Go/JS:
// the median and the min-max over the pairs. Below 1 means the Go client
// is cheaper (less time or memory).
//
//	go run ./internal/sidebyside            # S = 10,000, 3 pairs
//	go run ./internal/sidebyside -quick     # smoke mode: S = 100, 1 pair
//
// The deployment runs in a child process of its own (this program again,
// in serve mode), so that neither client shares its CPU time, heap or
// garbage collector with the deployment; the Go side runs in this process
// and each JS run is a child process (bench.mjs) printing its raw figures
// as one JSON line. npm ci installs the pinned packages first. See
// BENCHMARKS.md for a measured table.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/convexgo/convex/internal/testserver"
)

// config is the parameters of one comparison; both sides get the same.
type config struct {
	S           int // subscribers for fan-out, memory and duplicate subscribe
	Pairs       int // Go run + JS run pairs
	Rounds      int // timed mutations per fan-out figure
	DupOps      int // duplicate subscribe + close operations per figure
	ListMsgs    int // messages in the chat list before its timed sends
	BodyBytes   int // body length of each message
	ListRounds  int // timed sends on the chat list
	FreshRounds int // timed fresh-channel round trips
}

func fullConfig() config {
	return config{S: 10_000, Pairs: 3, Rounds: 20, DupOps: 20_000, ListMsgs: 170, BodyBytes: 240, ListRounds: 30, FreshRounds: 30}
}

func quickConfig() config {
	return config{S: 100, Pairs: 1, Rounds: 2, DupOps: 50, ListMsgs: 3, BodyBytes: 16, ListRounds: 2, FreshRounds: 2}
}

// result is one run's raw figures (times in ns, memory in bytes). The JS
// run prints the same fields as JSON; the Cb fields are Go-only.
type result struct {
	BaseNs    float64 `json:"base_ns"`     // mutation until 1 subscriber has it
	AllNs     float64 `json:"all_ns"`      // mutation until all S subscribers have it
	CbBaseNs  float64 `json:"cb_base_ns"`  // Go OnUpdate: 1 callback
	CbAllNs   float64 `json:"cb_all_ns"`   // Go OnUpdate: S callbacks
	Dup1Ns    float64 `json:"dup1_ns"`     // duplicate subscribe + close, 1 live subscriber
	DupSNs    float64 `json:"dupS_ns"`     // the same, S live subscribers
	ListNs    float64 `json:"list_ns"`     // send on the chat list until own subscription shows it
	ListBytes int     `json:"list_bytes"`  // the chat list's JSON size before the timed sends
	MemPerSub float64 `json:"mem_per_sub"` // heap held per subscriber
	MemGorSub float64 `json:"mem_gor_sub"` // Go: heap + stacks per subscriber with its reader goroutine
	FreshNs   float64 `json:"fresh_ns"`    // fresh channel: subscribe, send, until shown
	FloorNs   float64 `json:"floor_ns"`    // Go only: S goroutines each woken by a bare channel send, no client
	FloorMem  float64 `json:"floor_mem"`   // Go only: heap + stacks per parked goroutine, no client
	GC        bool    `json:"gc"`          // JS: global.gc was available
}

func main() {
	if os.Getenv(serveEnv) == "1" {
		if err := serve(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "sidebyside:", err)
			os.Exit(1)
		}
		return
	}
	quick := flag.Bool("quick", false, "smoke mode: S = 100, 1 pair, tiny chat list")
	s := flag.Int("s", 0, "subscribers (default 10,000; 100 with -quick)")
	pairs := flag.Int("pairs", 0, "Go/JS run pairs (default 3; 1 with -quick)")
	flag.Parse()
	cfg := fullConfig()
	if *quick {
		cfg = quickConfig()
	}
	if *s > 0 {
		cfg.S = *s
	}
	if *pairs > 0 {
		cfg.Pairs = *pairs
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	if err := run(ctx, cfg, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "sidebyside:", err)
		os.Exit(1)
	}
}

// packageDir is this source file's directory, where bench.mjs and
// package-lock.json are, under go run and go test alike; built with
// -trimpath it falls back to the working directory (go test's is the
// package's).
func packageDir() string {
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Dir(file)
	if _, err := os.Stat(filepath.Join(dir, "bench.mjs")); err != nil {
		return "."
	}
	return dir
}

// errNoNode says node or npm is not installed; the test skips on it
// outside CI.
var errNoNode = errors.New("node and npm are required (install Node.js and npm)")

// run installs the JS client, runs the pairs and prints the table to out;
// progress goes to log.
func run(ctx context.Context, cfg config, out, log io.Writer) error {
	node, err := exec.LookPath("node")
	if err != nil {
		return fmt.Errorf("%w: %v", errNoNode, err)
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return fmt.Errorf("%w: %v", errNoNode, err)
	}
	dir := packageDir()
	install := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
	install.Dir = dir
	if b, err := install.CombinedOutput(); err != nil {
		return fmt.Errorf("npm ci: %v\n%s", err, b)
	}
	version, err := exec.CommandContext(ctx, node, "--version").Output()
	if err != nil {
		return fmt.Errorf("node --version: %v", err)
	}

	srv, err := startDeployment(ctx)
	if err != nil {
		return err
	}
	defer srv.stop()
	var goRuns, jsRuns []result
	for i := range cfg.Pairs {
		g, err := runGo(ctx, srv.url, cfg, fmt.Sprintf("go%d", i))
		if err != nil {
			return fmt.Errorf("run %d of the Go client: %w", i+1, err)
		}
		if err := srv.clear(); err != nil {
			return err
		}
		fmt.Fprintf(log, "pair %d: Go run done\n", i+1)
		j, err := runJS(ctx, node, dir, srv.url, cfg, fmt.Sprintf("js%d", i))
		if err != nil {
			return fmt.Errorf("run %d of the JS client: %w", i+1, err)
		}
		if err := srv.clear(); err != nil {
			return err
		}
		fmt.Fprintf(log, "pair %d: JS run done\n", i+1)
		goRuns, jsRuns = append(goRuns, g), append(jsRuns, j)
	}
	report(out, cfg, strings.TrimSpace(string(version)), goRuns, jsRuns)
	return nil
}

// clearData deletes every message and counter, so that each run starts from
// the same, empty deployment.
func clearData(srv *testserver.Server) error {
	return srv.Write(func(ctx *testserver.MutationCtx) error {
		for _, t := range []string{"messages", "counters"} {
			for _, d := range ctx.List(t) {
				if err := ctx.Delete(d["_id"].(string)); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// serveEnv, set to 1, makes this program (or its test binary, see
// TestMain) serve the deployment instead: it prints the deployment's URL
// on a line, then answers each "clear" line read from stdin with "ok"
// once clearData has run, and exits when stdin closes.
const serveEnv = "SIDEBYSIDE_SERVE"

// serve is the deployment process's main.
func serve(in io.Reader, out io.Writer) error {
	srv := testserver.NewDemo()
	defer srv.Close()
	if _, err := fmt.Fprintln(out, srv.URL()); err != nil {
		return err
	}
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		if sc.Text() != "clear" {
			return fmt.Errorf("serve: unknown command %q", sc.Text())
		}
		if err := clearData(srv); err != nil {
			return err
		}
		if _, err := fmt.Fprintln(out, "ok"); err != nil {
			return err
		}
	}
	return sc.Err()
}

// deployment is the child process serving the deployment.
type deployment struct {
	url   string
	cmd   *exec.Cmd
	in    io.WriteCloser
	lines *bufio.Scanner
}

// startDeployment starts this executable in serve mode and reads the
// deployment's URL.
func startDeployment(ctx context.Context) (*deployment, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), serveEnv+"=1")
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	d := &deployment{cmd: cmd, in: in, lines: bufio.NewScanner(outPipe)}
	if !d.lines.Scan() {
		d.stop()
		return nil, fmt.Errorf("deployment process: no URL (%v)", d.lines.Err())
	}
	d.url = d.lines.Text()
	return d, nil
}

// clear empties the deployment's tables and waits until it has.
func (d *deployment) clear() error {
	if _, err := fmt.Fprintln(d.in, "clear"); err != nil {
		return fmt.Errorf("deployment process: %w", err)
	}
	if !d.lines.Scan() || d.lines.Text() != "ok" {
		return fmt.Errorf("deployment process: clear not acknowledged (%q, %v)", d.lines.Text(), d.lines.Err())
	}
	return nil
}

// stop closes the deployment's stdin and waits for it to exit.
func (d *deployment) stop() {
	d.in.Close()
	_ = d.cmd.Wait()
}

func runJS(ctx context.Context, node, dir, url string, cfg config, runID string) (result, error) {
	cmd := exec.CommandContext(ctx, node, "--expose-gc", "bench.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"CONVEX_URL="+url, "RUN="+runID,
		fmt.Sprint("S=", cfg.S), fmt.Sprint("ROUNDS=", cfg.Rounds), fmt.Sprint("DUP_OPS=", cfg.DupOps),
		fmt.Sprint("LIST_MSGS=", cfg.ListMsgs), fmt.Sprint("BODY_BYTES=", cfg.BodyBytes),
		fmt.Sprint("LIST_ROUNDS=", cfg.ListRounds), fmt.Sprint("FRESH_ROUNDS=", cfg.FreshRounds))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		return result{}, fmt.Errorf("node bench.mjs: %v; stderr:\n%s", err, stderr.String())
	}
	var r result
	if err := json.Unmarshal(bytes.TrimSpace(b), &r); err != nil {
		return result{}, fmt.Errorf("node bench.mjs printed %q: %v", b, err)
	}
	return r, nil
}

// figure is one line of the table: how to get the figure from a Go run
// and from a JS run, and the goal for the ratio (0: none).
type figure struct {
	name   string
	unit   string
	goFig  func(result) float64
	jsFig  func(result) float64
	goal   float64
	strict bool // goal is < rather than ≤
}

func figures(cfg config) []figure {
	s := float64(cfg.S)
	perDelivery := func(all, base float64) float64 { return (all - base) / (s - 1) }
	us := func(f func(result) float64) func(result) float64 {
		return func(r result) float64 { return f(r) / 1e3 }
	}
	return []figure{
		{"1. fan-out, ns per delivery (1-subscriber baseline subtracted): Go typed `Subscribe[float64]`, a goroutine each, vs JS `onUpdate` callbacks", "ns",
			func(r result) float64 { return perDelivery(r.AllNs, r.BaseNs) }, func(r result) float64 { return perDelivery(r.AllNs, r.BaseNs) }, 0.33, false},
		{"1. fan-out, ns per delivery (baseline subtracted): Go `OnUpdate[float64]` callbacks vs JS `onUpdate` callbacks", "ns",
			func(r result) float64 { return perDelivery(r.CbAllNs, r.CbBaseNs) }, func(r result) float64 { return perDelivery(r.AllNs, r.BaseNs) }, 0.33, false},
		{"1. for reference, the Go runtime alone: S goroutines each woken by a bare channel send (no client), ns per wake, vs JS `onUpdate` ns per delivery", "ns",
			func(r result) float64 { return r.FloorNs }, func(r result) float64 { return perDelivery(r.AllNs, r.BaseNs) }, 0, false},
		{"2. mutation until all S subscribers have it: Go typed subscribers vs JS callbacks", "µs",
			us(func(r result) float64 { return r.AllNs }), us(func(r result) float64 { return r.AllNs }), 0.5, false},
		{"2. mutation until all S subscribers have it: Go `OnUpdate` callbacks vs JS callbacks", "µs",
			us(func(r result) float64 { return r.CbAllNs }), us(func(r result) float64 { return r.AllNs }), 0.5, false},
		{"3. duplicate subscribe + close, 1 live subscriber (Go typed `Subscribe`+`Next`+`Close`; JS `onUpdate`+`getCurrentValue`+unsubscribe)", "ns",
			func(r result) float64 { return r.Dup1Ns }, func(r result) float64 { return r.Dup1Ns }, 0.5, false},
		{"3. duplicate subscribe + close, S live subscribers (same)", "ns",
			func(r result) float64 { return r.DupSNs }, func(r result) float64 { return r.DupSNs }, 0.5, false},
		{"4. send on a chat list until own subscription shows it (list size in the note)", "µs",
			us(func(r result) float64 { return r.ListNs }), us(func(r result) float64 { return r.ListNs }), 0.7, false},
		{"5. memory per subscriber: Go typed subscription (heap in use) vs JS `onUpdate` (heapUsed)", "B",
			func(r result) float64 { return r.MemPerSub }, func(r result) float64 { return r.MemPerSub }, 0.4, true},
		{"5. memory per subscriber: Go typed subscription + its reader goroutine (heap + stacks) vs JS `onUpdate`", "B",
			func(r result) float64 { return r.MemGorSub }, func(r result) float64 { return r.MemPerSub }, 0.4, true},
		{"5. for reference, the Go runtime alone: one parked goroutine (no client), heap + stacks, vs JS `onUpdate` per subscriber", "B",
			func(r result) float64 { return r.FloorMem }, func(r result) float64 { return r.MemPerSub }, 0, true},
		{"6. fresh channel: subscribe, send, until own subscription shows it", "µs",
			us(func(r result) float64 { return r.FreshNs }), us(func(r result) float64 { return r.FreshNs }), 0.8, true},
	}
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

func report(out io.Writer, cfg config, nodeVersion string, goRuns, jsRuns []result) {
	fmt.Fprintf(out, "Go client (package client, %s) vs official JS ConvexClient (npm convex 1.48.0, ws 8.21.0, Node %s)\n",
		runtime.Version(), nodeVersion)
	fmt.Fprintf(out, "same test deployment (the demo, in a process of its own); S = %d subscribers of one query; %d pairs (Go run, JS run, interleaved); %d fan-out rounds, %d duplicate subscribes, %d chat sends, %d fresh channels per run\n",
		cfg.S, cfg.Pairs, cfg.Rounds, cfg.DupOps, cfg.ListRounds, cfg.FreshRounds)
	fmt.Fprintln(out, "JS subscribers are always onUpdate callbacks; Go lines say whether they are typed subscribers (a goroutine each calling Next) or OnUpdate callbacks.")
	fmt.Fprintln(out, "Go and JS columns: median over runs of each run's median; Go/JS: per pair, then median [min–max] over pairs; below 1 = Go cheaper.")
	fmt.Fprintln(out)
	fmt.Fprintln(out, "| figure | Go | JS | Go/JS median [min–max] | goal | met |")
	fmt.Fprintln(out, "|---|---:|---:|---|---|---|")
	for _, f := range figures(cfg) {
		var gs, js, ratios []float64
		for i := range goRuns {
			g, j := f.goFig(goRuns[i]), f.jsFig(jsRuns[i])
			gs, js, ratios = append(gs, g), append(js, j), append(ratios, g/j)
		}
		mr := median(ratios)
		lo, hi := ratios[0], ratios[0]
		for _, r := range ratios {
			lo, hi = min(lo, r), max(hi, r)
		}
		op := "≤"
		met := mr <= f.goal
		if f.strict {
			op, met = "<", mr < f.goal
		}
		verdict := "no"
		if met {
			verdict = "yes"
		}
		goal := fmt.Sprintf("%s %.2f", op, f.goal)
		if f.goal == 0 {
			goal, verdict = "—", "—"
		}
		fmt.Fprintf(out, "| %s | %s %s | %s %s | %.2f [%.2f–%.2f] | %s | %s |\n",
			f.name, num(median(gs)), f.unit, num(median(js)), f.unit, mr, lo, hi, goal, verdict)
	}
	fmt.Fprintln(out)
	var g1, gs, j1, js, lb []float64
	var gc = true
	for i := range goRuns {
		g1, gs = append(g1, goRuns[i].Dup1Ns), append(gs, goRuns[i].DupSNs)
		j1, js = append(j1, jsRuns[i].Dup1Ns), append(js, jsRuns[i].DupSNs)
		lb = append(lb, float64(goRuns[i].ListBytes))
		gc = gc && jsRuns[i].GC
	}
	fmt.Fprintf(out, "duplicate subscribe flatness (S live / 1 live, medians): Go %.2f, JS %.2f\n", median(gs)/median(g1), median(js)/median(j1))
	fmt.Fprintf(out, "chat list: %d messages, %.0f bytes of JSON before the timed sends (growing by one message per send)\n", cfg.ListMsgs, median(lb))
	fmt.Fprintf(out, "fan-out deliveries/s (baseline subtracted) = 1e9 / ns per delivery; JS memory taken after global.gc: %v\n", gc)
}

func num(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}
