package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/convexgo/convex/internal/testserver"
)

var updateReadme = flag.Bool("update-readme", false, "rewrite testdata/readme_cli.golden")

// readmeCommands returns the convexgo command lines of the README's
// command-line section, as argument lists.
func readmeCommands(t *testing.T) [][]string {
	t.Helper()
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(data), "## Command-line tool\n")
	if !ok {
		t.Fatal("README has no command-line section")
	}
	_, block, _ := strings.Cut(section, "```sh\n")
	block, _, _ = strings.Cut(block, "```")
	var cmds [][]string
	for _, line := range strings.Split(block, "\n") {
		rest, ok := strings.CutPrefix(line, "go run ./cmd/convexgo ")
		if !ok {
			continue
		}
		cmds = append(cmds, shellWords(t, rest))
	}
	if len(cmds) == 0 {
		t.Fatal("no convexgo commands found in the README's command-line section")
	}
	return cmds
}

// shellWords splits a README command line as sh would: words separated by
// blanks, single-quoted parts kept whole, a " # comment" ending the line.
func shellWords(t *testing.T, s string) []string {
	var words []string
	var cur strings.Builder
	inWord, quoted := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quoted:
			if c == '\'' {
				quoted = false
			} else {
				cur.WriteByte(c)
			}
		case c == '\'':
			quoted, inWord = true, true
		case c == '#' && !inWord:
			i = len(s)
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if quoted {
		t.Fatalf("unterminated quote in README line %q", s)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// Every command of the README's command-line section runs as documented,
// in order, against a deployment named by CONVEX_URL: its exit status and
// output are a golden file. (dev serves until interrupted and is tested by
// TestDevAndToken; watch commands get --count=1 so that they end.)
func TestReadmeCommands(t *testing.T) {
	cmds := readmeCommands(t)
	golden, err := filepath.Abs("testdata/readme_cli.golden")
	if err != nil {
		t.Fatal(err)
	}
	srv := testserver.NewDemo()
	defer srv.Close()
	t.Setenv("CONVEX_URL", srv.URL())
	t.Chdir(t.TempDir()) // no .env.local of the repository's
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var got strings.Builder
	ran := 0
	for _, args := range cmds {
		if args[0] == "dev" {
			continue
		}
		if args[0] == "watch" || (args[0] == "run" && contains(args, "--watch")) {
			args = append(args, "--count=1")
		}
		code, out, errOut := runCmd(t, ctx, args...)
		fmt.Fprintf(&got, "$ convexgo %s\nexit %d\n%s", strings.Join(args, " "), code, out)
		if code != exitOK {
			t.Errorf("convexgo %q: exit %d, stderr %s", args, code, errOut)
		}
		ran++
	}
	if ran < 5 {
		t.Fatalf("only %d README commands ran", ran)
	}
	if *updateReadme {
		if err := os.WriteFile(golden, []byte(got.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != string(want) {
		t.Errorf("README commands printed\n%s\nwant (%s)\n%s", got.String(), golden, want)
	}
}

func contains(args []string, s string) bool {
	for _, a := range args {
		if a == s {
			return true
		}
	}
	return false
}
