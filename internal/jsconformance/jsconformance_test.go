// Package jsconformance drives the official Convex JavaScript client (npm
// package convex, pinned in package-lock.json) against the test deployment,
// so that the deployment is trusted only as far as the real client works
// with it.
package jsconformance

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/convexgo/convex/internal/leakcheck"
	"github.com/convexgo/convex/internal/testserver"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// requireTool finds a program; under CI a missing one fails the test
// instead of skipping it.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is required under CI (install Node.js and npm): %v", name, err)
	}
	t.Skipf("%s not found; install Node.js and npm to run the official-client conformance test", name)
	return ""
}

var wantChecks = []string{
	"initial value then another client's update",
	"two identical subscriptions see equal values",
	"mutation resolves only after the subscription reflects it",
	"echo round-trips int64, bytes, special floats and nested values",
	"ConvexError data reaches the client",
	"ConvexHttpClient one-shot queries",
	"setAuth with a valid RS256 token",
	"a token signed by another key is rejected",
	"after a forced drop the subscription resumes and keeps updating",
}

func TestOfficialClient(t *testing.T) {
	node := requireTool(t, "node")
	npm := requireTool(t, "npm")

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	install := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("npm ci: %v\n%s", err, out)
	}

	keys, err := testserver.GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	srv := testserver.NewDemo(testserver.WithAuth(keys.AuthConfig()))
	defer srv.Close()

	drop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		srv.DropAll()
	}))
	defer drop.Close()

	good, err := keys.MintToken("user-42", time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	other, err := testserver.GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	other.Kid = keys.Kid // same key id and claims, wrong key: only the signature is wrong
	bad, err := other.MintToken("user-42", time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}

	cmd := exec.CommandContext(ctx, node, "conformance.mjs")
	cmd.Env = append(os.Environ(),
		"CONVEX_URL="+srv.URL(), "GOOD_TOKEN="+good, "GOOD_SUB=user-42", "BAD_TOKEN="+bad, "DROP_URL="+drop.URL)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, runErr := cmd.Output()

	seen := map[string]bool{}
	done := false
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var line struct {
			Check  string          `json:"check"`
			OK     bool            `json:"ok"`
			Detail json.RawMessage `json:"detail"`
			Done   bool            `json:"done"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Logf("node: %s", sc.Text())
			continue
		}
		if line.Done {
			done = true
			continue
		}
		seen[line.Check] = true
		if line.OK {
			t.Logf("ok: %s: %s", line.Check, line.Detail)
		} else {
			t.Errorf("FAILED: %s: %s", line.Check, line.Detail)
		}
	}
	for _, c := range wantChecks {
		if !seen[c] {
			t.Errorf("check %q did not run", c)
		}
	}
	if !done || runErr != nil {
		t.Errorf("node exited with %v (finished: %v); stderr:\n%s", runErr, done, stderr.String())
	}
	// Under Node the official client dials with the ws package, whose
	// perMessageDeflate defaults to true (ws 8.21.0 lib/websocket.js,
	// initAsClient): it offers "permessage-deflate; client_max_window_bits",
	// one of the two offers the real backend accepts. So every socket above
	// ran compressed, as it would against a real deployment.
	if st := srv.Stats(); st.SocketsOpened == 0 || st.SocketsCompressed != st.SocketsOpened {
		t.Errorf("%d of %d sockets negotiated permessage-deflate, want all", st.SocketsCompressed, st.SocketsOpened)
	}
	const offer = "permessage-deflate; client_max_window_bits"
	for _, r := range srv.SyncPaths() {
		if r.Extensions != offer {
			t.Errorf("the official client offered %q, want %q", r.Extensions, offer)
			break
		}
	}
}
