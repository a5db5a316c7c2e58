package importrules

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func listModule(t *testing.T) []Package {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps=false", "-json", Module+"/...")
	cmd.Dir = filepath.Join("..", "..")
	// Only the library module: examples/ and other workspace modules have
	// dependencies of their own by design.
	cmd.Env = append(os.Environ(), "GOWORK=off")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pkgs []Package
	dec := json.NewDecoder(out)
	for {
		var p Package
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("go list: %v", err)
	}
	return pkgs
}

func TestModuleFollowsRules(t *testing.T) {
	pkgs := listModule(t)
	if len(pkgs) < 3 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	for _, v := range Check(pkgs, Rules) {
		t.Error(v)
	}
}

// The checker itself must catch each kind of violation.
func TestCheckerCatchesViolations(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.go", "package p\nimport \"time\"\nfunc f() { go f(); _ = time.Now() }\n")
	write("clean.go", "package p\nfunc g() {}\n")

	tests := []struct {
		name string
		pkg  Package
		want string
	}{
		{"protocol importing net", Package{ImportPath: Module + "/protocol", Imports: []string{"encoding/json", "net"}}, "imports net"},
		{"protocol importing os/exec", Package{ImportPath: Module + "/protocol", Imports: []string{"os/exec"}}, "imports os/exec"},
		{"protocol importing another module package", Package{ImportPath: Module + "/protocol", Deps: []string{Module + "/internal/version"}}, "depends on " + Module + "/internal/version"},
		{"subscription importing transport", Package{ImportPath: Module + "/subscription", Deps: []string{Module + "/transport"}}, "depends on " + Module + "/transport"},
		{"subscription importing sync", Package{ImportPath: Module + "/subscription", Imports: []string{"sync"}}, "imports sync"},
		{"testserver importing subscription", Package{ImportPath: Module + "/internal/testserver", Deps: []string{Module + "/subscription"}}, "independent oracle"},
		{"testserver subpackage importing client", Package{ImportPath: Module + "/internal/testserver/x", Deps: []string{Module + "/client"}}, "independent oracle"},
		{"tokenprovider importing client", Package{ImportPath: Module + "/tokenprovider", Deps: []string{Module + "/client"}}, "usable without the client"},
		{"tokenprovider importing transport", Package{ImportPath: Module + "/tokenprovider", Deps: []string{Module + "/transport"}}, "usable without the client"},
		{"transport importing protocol", Package{ImportPath: Module + "/transport", Deps: []string{Module + "/protocol"}}, "knows no Convex messages"},
		{"library importing redis", Package{ImportPath: Module + "/tokenprovider", Deps: []string{"github.com/redis/go-redis/v9"}}, "optional integrations"},
		{"package importing client", Package{ImportPath: Module + "/internal/testserver", Imports: []string{Module + "/client"}}, "only cmd/ and examples"},
		{"goroutine and clock in a pure package", Package{ImportPath: Module + "/subscription", Dir: dir, GoFiles: []string{"a.go"}}, "starts a goroutine"},
		{"clock in a pure package", Package{ImportPath: Module + "/internal/backoff", Dir: dir, GoFiles: []string{"a.go"}}, "reads the clock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Check([]Package{tt.pkg}, Rules)
			if !strings.Contains(strings.Join(got, "\n"), tt.want) {
				t.Errorf("Check = %q, want a violation mentioning %q", got, tt.want)
			}
		})
	}
	// And allowed imports pass.
	ok := []Package{
		{ImportPath: Module + "/protocol", Imports: []string{"encoding/json", "sync", "reflect"}, Deps: []string{"os", "fmt"}, Dir: dir, GoFiles: []string{"clean.go"}},
		{ImportPath: Module + "/subscription", Deps: []string{Module + "/protocol", "encoding/json"}},
		{ImportPath: Module + "/internal/testserver", Deps: []string{Module + "/protocol", "net/http", "github.com/coder/websocket"}},
		{ImportPath: Module + "/cmd/convexgo", Imports: []string{Module + "/client"}},
		{ImportPath: Module + "/tokenprovider", Deps: []string{"golang.org/x/sync/singleflight", "github.com/golang-jwt/jwt/v5"}},
	}
	if got := Check(ok, Rules); len(got) != 0 {
		t.Errorf("allowed packages reported: %q", got)
	}
}
