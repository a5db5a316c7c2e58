package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/convexgo/convex/internal/testserver"
)

// The calling commands never start a deployment of their own unasked:
// they take --url, $CONVEX_URL, or CONVEX_URL from ./.env.local or ./.env,
// and otherwise fail with a hint.
func TestDeploymentSelection(t *testing.T) {
	srv := testserver.NewDemo()
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const refused = "http://127.0.0.1:1"
	get := []string{"counter:get", `{name: "n"}`}

	for _, tt := range []struct {
		name     string
		env      string            // $CONVEX_URL
		files    map[string]string // written in the current folder ("../x": its parent)
		args     []string
		code     int
		stdout   string // exact
		inStderr string
	}{
		{"nothing: query", "", nil, append([]string{"query"}, get...), exitUsage, "", "no deployment to talk to"},
		{"nothing: mutation", "", nil, []string{"mutation", "counter:increment", `{name: "n"}`}, exitUsage, "", "convexgo dev\nand copy the \"export CONVEX_URL=...\" line"},
		{"nothing: action", "", nil, []string{"action", "echo:run"}, exitUsage, "", "pass --embedded"},
		{"nothing: watch", "", nil, append([]string{"watch"}, get...), exitUsage, "", "no deployment to talk to"},
		{"nothing: run", "", nil, append([]string{"run"}, get...), exitUsage, "", "no deployment to talk to"},
		{"$CONVEX_URL", srv.URL(), nil, append([]string{"query"}, get...), exitOK, "0\n", ""},
		{".env.local", "", map[string]string{".env.local": "# written by npx convex dev\nCONVEX_DEPLOYMENT=local:x # team: t\nexport CONVEX_URL=\"" + srv.URL() + "\" # the URL\n"},
			append([]string{"query"}, get...), exitOK, "0\n", ""},
		{".env", "", map[string]string{".env": "CONVEX_URL='" + srv.URL() + "'\n"}, append([]string{"query"}, get...), exitOK, "0\n", ""},
		{".env.local before .env", "", map[string]string{".env.local": "CONVEX_URL=" + srv.URL() + "\n", ".env": "CONVEX_URL=" + refused + "\n"},
			append([]string{"query"}, get...), exitOK, "0\n", ""},
		{"a framework's name", "", map[string]string{".env.local": "VITE_CONVEX_URL=" + srv.URL() + "\n"}, append([]string{"run"}, get...), exitOK, "0\n", ""},
		{"an empty value is unset", "", map[string]string{".env.local": "CONVEX_URL=\n"}, append([]string{"query"}, get...), exitUsage, "", "no deployment to talk to"},
		{"not a parent folder's, as npx convex", "", map[string]string{"../.env.local": "CONVEX_URL=" + srv.URL() + "\n"},
			append([]string{"query"}, get...), exitUsage, "", "no deployment to talk to"},
		{"$CONVEX_URL before .env.local", srv.URL(), map[string]string{".env.local": "CONVEX_URL=" + refused + "\n"}, append([]string{"query"}, get...), exitOK, "0\n", ""},
		{"--url before $CONVEX_URL", refused, nil, append([]string{"query", "--url", srv.URL()}, get...), exitOK, "0\n", ""},
		{"the source is named when unreachable", "", map[string]string{".env.local": "CONVEX_URL=" + refused + "\n"},
			append([]string{"query", "--timeout=10s"}, get...), exitConnection, "", "from .env.local (CONVEX_URL)"},
		{"--embedded, asked for", "", nil, []string{"mutation", "--embedded", "counter:increment", `{name: "n"}`}, exitOK, "1\n", "its data goes when this command ends"},
		{"--embedded and --url", "", nil, append([]string{"query", "--embedded", "--url", srv.URL()}, get...), exitUsage, "", "--embedded and --url"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, "project")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for name, text := range tt.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			t.Chdir(dir)
			t.Setenv("CONVEX_URL", tt.env)
			code, out, errOut := runCmd(t, ctx, tt.args...)
			if code != tt.code || out != tt.stdout || !strings.Contains(errOut, tt.inStderr) {
				t.Errorf("convexgo %q\n got %d stdout %q stderr %q\nwant %d stdout %q stderr containing %q",
					tt.args, code, out, errOut, tt.code, tt.stdout, tt.inStderr)
			}
		})
	}
}

// parseDotenv reads files as npm dotenv 16 (which npx convex uses) does.
func TestParseDotenv(t *testing.T) {
	src := "# a comment\n" +
		"PLAIN=value\n" +
		"  SPACED  =  padded value  \n" +
		"export EXPORTED=yes\n" +
		"COMMENTED=kept # dropped\n" +
		"HASH_IN_QUOTES=\"a # b\"\n" +
		"SINGLE='no \\n expansion'\n" +
		"DOUBLE=\"line\\nbreak\"\n" +
		"BACKTICK=`it's \"quoted\"`\n" +
		"MULTI=\"first\nsecond\"\n" +
		"EMPTY=\n" +
		"COLON: yaml-ish\n" +
		"DOTTED.KEY-1=ok\n" +
		"DUP=first\r\n" +
		"DUP=second\r\n" +
		"not an assignment\n" +
		"URL=http://127.0.0.1:3210/ # trailing comment\n" +
		"UNMATCHED='open\n" +
		"NOEXPAND=${PLAIN}\n"
	want := map[string]string{
		"PLAIN":          "value",
		"SPACED":         "padded value",
		"EXPORTED":       "yes",
		"COMMENTED":      "kept",
		"HASH_IN_QUOTES": "a # b",
		"SINGLE":         `no \n expansion`,
		"DOUBLE":         "line\nbreak",
		"BACKTICK":       `it's "quoted"`,
		"MULTI":          "first\nsecond",
		"EMPTY":          "",
		"COLON":          "yaml-ish",
		"DOTTED.KEY-1":   "ok",
		"DUP":            "second",
		"URL":            "http://127.0.0.1:3210/",
		"UNMATCHED":      "'open",
		"NOEXPAND":       "${PLAIN}",
	}
	if diff := cmp.Diff(want, parseDotenv(src)); diff != "" {
		t.Errorf("parseDotenv (-want +got):\n%s", diff)
	}
}
