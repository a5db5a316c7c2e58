package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Where the calling commands look for the deployment URL, after --url and
// the environment: the files `npx convex dev` writes, in the current folder
// only. The official CLI loads ".env.local" and then ".env" relative to the
// working directory (dotenv.config({path: ".env.local"}) and
// dotenv.config(), src/cli/lib/deploymentSelection.ts); it searches no
// parent folders for them.
var envFiles = []string{".env.local", ".env"}

// urlVars are the names under which a project's env file holds the
// deployment URL: CONVEX_URL, then the framework-specific names the official
// CLI writes for Next.js, Vite, SvelteKit, create-react-app and Expo
// (EXPECTED_CONVEX_URL_NAMES in src/cli/lib/envvars.ts).
var urlVars = []string{
	"CONVEX_URL",
	"NEXT_PUBLIC_CONVEX_URL",
	"VITE_CONVEX_URL",
	"PUBLIC_CONVEX_URL",
	"REACT_APP_CONVEX_URL",
	"EXPO_PUBLIC_CONVEX_URL",
}

// deployment is the URL a calling command talks to and where it came from,
// for messages.
type deployment struct {
	url    string
	source string // "--url", "$CONVEX_URL", ".env.local (CONVEX_URL)", "--embedded"
}

// errNoDeployment is the usage error of a calling command that found no
// deployment URL anywhere.
var errNoDeployment = &usageError{msg: `no deployment to talk to: give --url, or set CONVEX_URL,
or run this in a project folder whose .env.local (or .env) sets CONVEX_URL.
To start a local deployment, run in another terminal:
    convexgo dev
and copy the "export CONVEX_URL=..." line it prints into this shell.
For a throwaway in-memory deployment whose data goes when the command ends,
pass --embedded.`}

// findDeployment picks the deployment: flagURL (--url), else $CONVEX_URL
// (getenv), else the first of urlVars set in .env.local, then .env, in dir.
// An empty value counts as unset, as in the official CLI. No URL at all is
// errNoDeployment.
func findDeployment(flagURL string, getenv func(string) string, dir string) (deployment, error) {
	if flagURL != "" {
		return deployment{flagURL, "--url"}, nil
	}
	if u := getenv("CONVEX_URL"); u != "" {
		return deployment{u, "$CONVEX_URL"}, nil
	}
	for _, name := range envFiles {
		path := filepath.Join(dir, name)
		data, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return deployment{}, fmt.Errorf("reading %s: %w", name, err)
		}
		vars := parseDotenv(string(data))
		for _, v := range urlVars {
			if u := vars[v]; u != "" {
				return deployment{u, fmt.Sprintf("%s (%s)", name, v)}, nil
			}
		}
	}
	return deployment{}, errNoDeployment
}

// dotenvLine matches one assignment the way the dotenv package the
// official CLI uses (npm dotenv 16) reads it: an optional "export ", a key
// of letters, digits, '_', '.' and '-', '=' (or ": "), and a value that is
// single-, double- or backtick-quoted (possibly over several lines) or
// unquoted up to a '#' or the end of the line, then an optional comment.
// Lines that are not assignments are ignored.
var dotenvLine = regexp.MustCompile(`(?m)^\s*(?:export\s+)?([\w.-]+)(?:\s*=\s*?|:\s+?)(\s*'(?:\\'|[^'])*'|\s*"(?:\\"|[^"])*"|\s*` + "`(?:\\\\`|[^`])*`" + `|[^#\r\n]+)?\s*(?:#.*)?$`)

// parseDotenv reads a dotenv file into its variables. As npm dotenv: line
// ends are normalized to \n, a later assignment replaces an earlier one,
// values are trimmed, one pair of matching surrounding quotes is removed,
// and in a double-quoted value \n and \r stand for line breaks. There is
// no ${VAR} expansion (dotenv leaves that to dotenv-expand, which the
// official CLI does not use).
func parseDotenv(src string) map[string]string {
	src = strings.ReplaceAll(src, "\r\n", "\n")
	src = strings.ReplaceAll(src, "\r", "\n")
	vars := map[string]string{}
	for _, m := range dotenvLine.FindAllStringSubmatch(src, -1) {
		value := strings.TrimSpace(m[2])
		if n := len(value); n >= 2 && strings.ContainsRune("'\"`", rune(value[0])) && value[n-1] == value[0] {
			quote := value[0]
			value = value[1 : n-1]
			if quote == '"' {
				value = strings.ReplaceAll(value, `\n`, "\n")
				value = strings.ReplaceAll(value, `\r`, "\r")
			}
		}
		vars[m[1]] = value
	}
	return vars
}
