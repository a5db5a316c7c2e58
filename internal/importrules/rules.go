// Package importrules states the module's package boundaries and checks
// them. The rules are listed in Rules; TestModuleFollowsRules applies them to
// the real module with `go list`, so a forbidden import fails the tests.
package importrules

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strings"
)

// Module is the module path the rules are written for.
const Module = "github.com/convexgo/convex"

// Package is what the checker needs to know of one package.
type Package struct {
	ImportPath string
	Dir        string
	GoFiles    []string // non-test files, relative to Dir
	Deps       []string // every package it depends on, transitively
	Imports    []string // the packages it imports directly
}

// Rule limits what the packages matching Match may depend on.
type Rule struct {
	Match string // a package path, or a prefix ending in "/..."
	// Forbid lists dependencies (transitive) that are not allowed; an entry
	// ending in "/..." forbids a whole tree.
	Forbid []string
	// Allow lists dependencies that Forbid would otherwise catch.
	Allow []string
	// ForbidDirect lists packages that may not be imported directly. The
	// standard library's own internals (fmt uses os) are not held against a
	// package, so IO packages are checked here.
	ForbidDirect []string
	// Pure packages may not contain go statements or call time.Now.
	Pure bool
	Why  string
}

var ioPackages = []string{"net", "net/...", "os", "os/...", "log", "log/...", "syscall", "io/fs"}

// Rules are the module's import rules (see DESIGN.md).
var Rules = []Rule{
	{Match: Module + "/protocol", Pure: true, Why: "the wire vocabulary is pure encode/decode",
		Forbid: []string{Module + "/...", "github.com/..."}, ForbidDirect: ioPackages},
	{Match: Module + "/subscription", Pure: true, Why: "the sync engine is sans-IO",
		Forbid: []string{Module + "/...", "github.com/..."}, Allow: []string{Module + "/protocol"},
		ForbidDirect: append([]string{"sync", "time"}, ioPackages...)},
	{Match: Module + "/internal/backoff", Pure: true, Why: "backoff is a pure computation",
		Forbid: []string{Module + "/...", "github.com/..."}, ForbidDirect: ioPackages},
	{Match: Module + "/internal/mailbox", Pure: true, Why: "the mailbox is a pure data structure",
		Forbid: []string{Module + "/...", "github.com/..."}, ForbidDirect: ioPackages},
	{Match: Module + "/transport", Why: "transport moves frames and knows no Convex messages",
		Forbid: []string{Module + "/protocol", Module + "/subscription", Module + "/client", Module + "/tokenprovider"}},
	{Match: Module + "/tokenprovider", Why: "tokenprovider must be usable without the client",
		Forbid: []string{Module + "/client", Module + "/transport", Module + "/subscription", Module + "/internal/testserver"}},
	{Match: Module + "/internal/testserver/...", Why: "the test deployment is an independent oracle",
		Forbid: []string{Module + "/subscription", Module + "/client", Module + "/transport", Module + "/tokenprovider"}},
	{Match: Module + "/convextest", Why: "the public test deployment is the independent oracle's face, not a client",
		Forbid: []string{Module + "/subscription", Module + "/client", Module + "/transport", Module + "/tokenprovider"}},
	{Match: Module + "/betterauth", Why: "the Better Auth token source sits on tokenprovider, below the client",
		Forbid: []string{Module + "/client", Module + "/transport", Module + "/subscription", Module + "/internal/..."}},
	{Match: Module + "/serverauth", Why: "the middleware sits on client, tokenprovider and betterauth; tests' servers stay out of it",
		Forbid: []string{Module + "/internal/testserver", Module + "/internal/betterauthserver"}},
	{Match: Module + "/internal/betterauthserver", Why: "the Better Auth test server is an independent oracle",
		Forbid: []string{Module + "/...", "github.com/..."}},
	{Match: Module + "/...", Why: "optional integrations stay out of the library module",
		Forbid: []string{"github.com/redis/...", "github.com/charmbracelet/..."}},
}

func matches(pattern, path string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "/..."); ok {
		return path == prefix || strings.HasPrefix(path, prefix+"/")
	}
	return path == pattern
}

// Check applies the rules to pkgs and returns one line per violation.
func Check(pkgs []Package, rules []Rule) []string {
	var out []string
	for _, p := range pkgs {
		for _, r := range rules {
			if !matches(r.Match, p.ImportPath) {
				continue
			}
			for _, d := range p.Deps {
				if d == p.ImportPath || slices.ContainsFunc(r.Allow, func(a string) bool { return matches(a, d) }) {
					continue
				}
				for _, f := range r.Forbid {
					if matches(f, d) {
						out = append(out, fmt.Sprintf("%s depends on %s (forbidden: %s)", p.ImportPath, d, r.Why))
					}
				}
			}
			for _, d := range p.Imports {
				for _, f := range r.ForbidDirect {
					if matches(f, d) {
						out = append(out, fmt.Sprintf("%s imports %s (forbidden: %s)", p.ImportPath, d, r.Why))
					}
				}
			}
			if r.Pure {
				out = append(out, checkPure(p, r)...)
			}
		}
		// Nothing in the library imports client except programs (cmd/, and
		// the side-by-side benchmark command), examples and the server
		// middleware, which sits above it (DESIGN.md).
		if slices.Contains(p.Imports, Module+"/client") && !matches(Module+"/cmd/...", p.ImportPath) &&
			!matches(Module+"/client/...", p.ImportPath) && p.ImportPath != Module+"/serverauth" &&
			p.ImportPath != Module+"/internal/sidebyside" {
			out = append(out, fmt.Sprintf("%s imports %s/client (only cmd/ and examples may, besides serverauth)", p.ImportPath, Module))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// checkPure reports go statements and wall-clock reads in a package's
// non-test files.
func checkPure(p Package, r Rule) []string {
	var out []string
	fset := token.NewFileSet()
	for _, name := range p.GoFiles {
		f, err := parser.ParseFile(fset, filepath.Join(p.Dir, name), nil, 0)
		if err != nil {
			out = append(out, fmt.Sprintf("%s: cannot parse %s: %v", p.ImportPath, name, err))
			continue
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.GoStmt:
				out = append(out, fmt.Sprintf("%s starts a goroutine at %s (%s)", p.ImportPath, fset.Position(n.Pos()), r.Why))
			case *ast.SelectorExpr:
				if id, ok := n.X.(*ast.Ident); ok && id.Name == "time" && (n.Sel.Name == "Now" || n.Sel.Name == "Since" || n.Sel.Name == "Until") {
					out = append(out, fmt.Sprintf("%s reads the clock at %s (%s)", p.ImportPath, fset.Position(n.Pos()), r.Why))
				}
			}
			return true
		})
	}
	return out
}
