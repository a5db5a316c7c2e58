package main

import (
	"bytes"
	"context"
	"encoding/json"
	"go/format"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/convexgo/convex/internal/codegen"
	"github.com/convexgo/convex/internal/testserver"
	"github.com/convexgo/convex/protocol"
)

const specDir = "../../internal/codegen/testdata"

func TestGenUsage(t *testing.T) {
	ctx := context.Background()
	demo := filepath.Join(specDir, "demo.spec.json")
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`{"functions": [{"identifier": "m.js:f", "functionType": "Query", "args": {"type": "strin"}}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CONVEX_ADMIN_KEY", "")
	for _, tt := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no out", []string{"gen", "--spec", demo}, exitUsage, "--out is required"},
		{"no source", []string{"gen", "--out", "-", "--package", "api"}, exitUsage, "give --spec FILE or --url URL"},
		{"both sources", []string{"gen", "--spec", demo, "--url", "http://x", "--out", "-", "--package", "api"}, exitUsage, "not both"},
		{"stdout without package", []string{"gen", "--spec", demo, "--out", "-"}, exitUsage, "--package is required"},
		{"bad package", []string{"gen", "--spec", demo, "--out", "-", "--package", "my-api"}, exitUsage, "not a Go identifier"},
		{"bad directory name", []string{"gen", "--spec", demo, "--out", filepath.Join(t.TempDir(), "my-api")}, exitUsage, "give --package"},
		{"url without key", []string{"gen", "--url", "http://127.0.0.1:1", "--out", "-", "--package", "api"}, exitUsage, "needs --admin-key"},
		{"url not http", []string{"gen", "--url", "ftp://x", "--admin-key", "k", "--out", "-", "--package", "api"}, exitUsage, "want an http"},
		{"extra argument", []string{"gen", "--spec", demo, "--out", "-", "--package", "api", "x"}, exitUsage, "unexpected argument"},
		{"missing file", []string{"gen", "--spec", "nope.json", "--out", "-", "--package", "api"}, exitError, "nope.json"},
		{"malformed spec", []string{"gen", "--spec", bad, "--out", "-", "--package", "api"}, exitError,
			`bad.json: function spec: functions[0] (m.js:f).args.type: unknown validator type "strin"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, ctx, tt.args...)
			if code != tt.code || !strings.Contains(stderr, tt.stderr) || stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d and stderr containing %q", code, stdout, stderr, tt.code, tt.stderr)
			}
		})
	}
}

// apiSpecServer serves the functions of a spec file the way a deployment
// answers _system/cli/modules:apiSpec over POST /api/query.
func apiSpecServer(t *testing.T, specFile, adminKey string) *httptest.Server {
	t.Helper()
	data, err := os.ReadFile(specFile)
	if err != nil {
		t.Fatal(err)
	}
	var top struct{ Functions json.RawMessage }
	if err := json.Unmarshal(data, &top); err != nil {
		t.Fatal(err)
	}
	// The deployment sends Convex JSON, canonical: keys sorted, no spaces.
	value, err := protocol.CanonicalJSON(top.Functions)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != protocol.PathQuery {
			http.NotFound(w, r)
			return
		}
		var req protocol.HTTPRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || r.Header.Get("Content-Type") != "application/json" {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"code":"BadJsonBody","message":"bad body"}`))
			return
		}
		if r.Header.Get("Authorization") != "Convex "+adminKey {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"code":"BadAdminKey","message":"The provided admin key was invalid for this instance"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch {
		case req.Path == "_system/cli/modules:apiSpec" && string(req.Args) == "{}" && req.Format == protocol.FormatConvexEncodedJSON:
			_, _ = w.Write([]byte(`{"status":"success","value":` + string(value) + `}`))
		case req.Path == "_system/cli/modules:hang":
			<-r.Context().Done()
		default:
			_, _ = w.Write([]byte(`{"status":"error","errorMessage":"Could not find public function for '` + req.Path + `'"}`))
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestGenFromDeployment(t *testing.T) {
	ctx := context.Background()
	specFile := filepath.Join(specDir, "kinds.spec.json")
	srv := apiSpecServer(t, specFile, "test-admin-key")

	code, stdout, stderr := runCmd(t, ctx, "gen", "--url", srv.URL, "--admin-key", "test-admin-key", "--out", "-", "--package", "kinds", "--internal")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	data, err := os.ReadFile(specFile)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := codegen.ReadSpec(data)
	if err != nil {
		t.Fatal(err)
	}
	spec.URL = srv.URL
	want, err := codegen.Generate(spec, codegen.Options{Package: "kinds", Internal: true, Source: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if stdout != string(want) {
		t.Errorf("generated from the deployment:\n%s\nwant what the spec file gives:\n%s", stdout, want)
	}

	// The admin key comes from the environment too.
	t.Setenv("CONVEX_ADMIN_KEY", "test-admin-key")
	out := filepath.Join(t.TempDir(), "kinds")
	if code, _, stderr := runCmd(t, ctx, "gen", "--url", srv.URL+"/", "--out", out, "--internal"); code != exitOK || !strings.Contains(stderr, "package kinds, 15 functions") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if got, err := os.ReadFile(filepath.Join(out, genFile)); err != nil || string(got) != string(want) {
		t.Errorf("written file differs (%v)", err)
	}

	for _, tt := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"wrong key", []string{"--admin-key", "nope"}, exitAuth, "HTTP 401: BadAdminKey: The provided admin key was invalid"},
		{"no deployment", []string{"--url", "http://127.0.0.1:1"}, exitConnection, "connection refused"},
		{"not a deployment", []string{"--url", srv.URL + "/elsewhere"}, exitError, "HTTP 404"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"gen", "--url", srv.URL, "--out", "-", "--package", "api"}, tt.args...)
			code, stdout, stderr := runCmd(t, ctx, args...)
			if code != tt.code || !strings.Contains(stderr, tt.want) || stdout != "" {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, tt.code, tt.want)
			}
		})
	}
}

func TestFetchSpecErrors(t *testing.T) {
	srv := apiSpecServer(t, filepath.Join(specDir, "demo.spec.json"), "k")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	value, err := fetchSpec(ctx, srv.Client(), srv.URL, "k")
	if err != nil {
		t.Fatal(err)
	}
	if spec, err := codegen.ReadSpec(value); err != nil || len(spec.Functions) != 7 {
		t.Errorf("spec from the deployment: %v functions, %v", len(spec.Functions), err)
	}
	// The caller's ctx bounds the request.
	short, stop := context.WithTimeout(ctx, 50*time.Millisecond)
	defer stop()
	if _, err := fetchWith(short, srv, "_system/cli/modules:hang"); err == nil || !strings.Contains(err.Error(), "deadline exceeded") {
		t.Errorf("hanging deployment: %v", err)
	}
	if _, err := fetchWith(ctx, srv, "_system/cli/modules:other"); err == nil || !strings.Contains(err.Error(), "Could not find public function") {
		t.Errorf("function error: %v", err)
	}
}

// fetchWith is fetchSpec for another system query path, by rewriting the
// request body on its way out.
func fetchWith(ctx context.Context, srv *httptest.Server, path string) ([]byte, error) {
	hc := &http.Client{Transport: rewrite{srv.Client().Transport, path}}
	return fetchSpec(ctx, hc, srv.URL, "k")
}

type rewrite struct {
	next http.RoundTripper
	path string
}

func (rw rewrite) RoundTrip(r *http.Request) (*http.Response, error) {
	body, err := json.Marshal(protocol.HTTPRequest{Path: rw.path, Args: json.RawMessage("{}"), Format: protocol.FormatConvexEncodedJSON})
	if err != nil {
		return nil, err
	}
	r = r.Clone(r.Context())
	r.ContentLength = int64(len(body))
	r.Body = readCloser{bytes.NewReader(body)}
	return rw.next.RoundTrip(r)
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

// TestGenCompilesAndRuns writes a package for every spec in
// internal/codegen/testdata into a temporary module that uses this
// repository, checks that each is gofmt'ed and equals its golden file,
// runs go vet and staticcheck on them, and runs a test there that
// round-trips values through the generated types and calls the demo
// deployment through the generated references.
func TestGenCompilesAndRuns(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed: %v", err)
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	specs, err := filepath.Glob(filepath.Join(specDir, "*.spec.json"))
	if err != nil || len(specs) == 0 {
		t.Fatalf("no specs: %v", err)
	}
	for _, spec := range specs {
		name := strings.TrimSuffix(filepath.Base(spec), ".spec.json")
		code, _, stderr := runCmd(t, ctx, "gen", "--spec", spec, "--out", filepath.Join(dir, name), "--internal")
		if code != exitOK {
			t.Fatalf("gen %s: exit %d: %s", spec, code, stderr)
		}
		src, err := os.ReadFile(filepath.Join(dir, name, genFile))
		if err != nil {
			t.Fatal(err)
		}
		if formatted, err := format.Source(src); err != nil || !bytes.Equal(formatted, src) {
			t.Errorf("%s: not gofmt'ed (%v)", name, err)
		}
		golden := filepath.Join(specDir, name+".internal.golden")
		if _, err := os.Stat(golden); err != nil {
			golden = filepath.Join(specDir, name+".golden")
		}
		if want, err := os.ReadFile(golden); err != nil || !bytes.Equal(src, want) {
			t.Errorf("%s: convexgo gen's output differs from %s (%v)", name, golden, err)
		}
	}
	gomod := "module gentest\n\ngo 1.25.0\n\nrequire github.com/convexgo/convex v0.0.0-00010101000000-000000000000\n\nreplace github.com/convexgo/convex => " + root + "\n"
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	test, err := os.ReadFile(filepath.Join("testdata", "gen", "roundtrip_test.go.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"go.mod": []byte(gomod), "go.sum": sum, "roundtrip_test.go": test} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	srv := testserver.NewDemo()
	defer srv.Close()
	env := append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "CONVEX_TEST_URL="+srv.URL())
	goCmd := func(args ...string) {
		t.Helper()
		cmd := exec.CommandContext(ctx, goTool, args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		t.Logf("go %s:\n%s", strings.Join(args, " "), out)
	}
	goCmd("vet", "./...")
	goCmd("run", "honnef.co/go/tools/cmd/staticcheck@v0.8.2", "./...")
	goCmd("test", "-count=1", "-v", "./...")
}

// `convexgo gen --url` works against the test deployment with zero setup:
// it serves the apiSpec system query to its admin key, and the package
// generated from it is the one committed in examples/demoapi.
func TestGenFromTestDeployment(t *testing.T) {
	srv := testserver.NewDemo()
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code, out, errOut := runCmd(t, ctx, "gen", "--url", srv.URL(), "--admin-key", srv.AdminKey(), "--out", "-", "--package", "demoapi")
	if code != exitOK {
		t.Fatalf("gen --url: exit %d, stderr %s", code, errOut)
	}
	// examples/demoapi holds the bindings generated from this deployment's
	// spec (its own test keeps them current).
	golden, err := os.ReadFile("../../examples/demoapi/convex_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	// The first line names the source; the rest must match.
	_, gotRest, _ := strings.Cut(out, "\n")
	_, wantRest, _ := strings.Cut(string(golden), "\n")
	gotRest = strings.Replace(gotRest, srv.URL(), "http://127.0.0.1:3210", 1)
	if !strings.Contains(gotRest, "var MessagesList = client.NewQueryRef") || gotRest != wantRest {
		t.Errorf("generated from the deployment differs from examples/demoapi:\n%s", gotRest)
	}
	// Without the admin key the spec is not there.
	if code, _, errOut := runCmd(t, ctx, "gen", "--url", srv.URL(), "--admin-key", "dev:x|wrong", "--out", "-", "--package", "demo"); code != exitAuth {
		t.Errorf("wrong admin key: exit %d, stderr %s", code, errOut)
	}
}
