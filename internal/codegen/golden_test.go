package codegen

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the generator's output")

// goldenCases lists testdata/*.spec.json; each generates package NAME
// (the file's base name) into testdata/NAME.golden and, when it has
// internal functions, NAME.internal.golden with them included.
func goldenCases(t *testing.T) []string {
	t.Helper()
	specs, err := filepath.Glob(filepath.Join("testdata", "*.spec.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(specs) == 0 {
		t.Fatal("no testdata/*.spec.json")
	}
	return specs
}

func generateFile(t *testing.T, path string, internal bool) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := ReadSpec(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	name := strings.TrimSuffix(filepath.Base(path), ".spec.json")
	src, err := Generate(spec, Options{Package: name, Internal: internal, Source: filepath.Base(path)})
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return src
}

func TestGolden(t *testing.T) {
	for _, path := range goldenCases(t) {
		variants := []bool{false}
		if hasInternal(t, path) {
			variants = append(variants, true)
		}
		for _, internal := range variants {
			golden := strings.TrimSuffix(path, ".spec.json")
			if internal {
				golden += ".internal"
			}
			golden += ".golden"
			t.Run(filepath.Base(golden), func(t *testing.T) {
				got := generateFile(t, path, internal)
				if *update {
					if err := os.WriteFile(golden, got, 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test -update to create it)", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("output differs from %s (run go test -update and review the diff):\n%s", golden, firstDiff(got, want))
				}
				// Deterministic: a second run gives the same bytes.
				if again := generateFile(t, path, internal); !bytes.Equal(again, got) {
					t.Error("two runs of Generate differ")
				}
			})
		}
	}
}

// hasInternal reports whether the spec at path lists internal functions.
func hasInternal(t *testing.T, path string) bool {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := ReadSpec(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	for _, f := range spec.Functions {
		if f.Internal {
			return true
		}
	}
	return false
}

// firstDiff shows the first differing line of got and want.
func firstDiff(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return "line " + strconv.Itoa(i+1) + ":\n got: " + gl + "\nwant: " + wl
		}
	}
	return ""
}
