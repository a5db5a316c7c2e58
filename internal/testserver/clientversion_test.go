package testserver

import (
	"net/http"
	"testing"
)

// TestParseClientVersion: Convex-Client values are split as the backend's
// ClientVersion::from_str splits them.
func TestParseClientVersion(t *testing.T) {
	for _, tc := range []struct {
		in, name, version string
		semver            bool
	}{
		{"npm-1.45.0", "npm", "1.45.0", true},
		{"NPM-1.45.0", "npm", "1.45.0", true},
		{"npm-1.28.0-alpha.1+b.01", "npm", "1.28.0-alpha.1+b.01", true},
		{"npm-cli-1.0.0", "npm-cli", "1.0.0", true},
		{"python-convex-0.5.0", "python", "0.5.0", true},
		{"my-esolang-client-0.0.1", "my-esolang-client", "0.0.1", true},
		{"go-0.1.0", "go", "0.1.0", true},
		{"go-x", "go", "x", false},
		{"go-1.2", "go", "1.2", false},
		{"go-01.2.3", "go", "01.2.3", false},
		{"a-b-c", "a", "b-c", false},
		{"go-", "go", "", false},
	} {
		ci, err := parseClientVersion(tc.in)
		if err != nil || ci.name != tc.name || ci.raw != tc.version || (ci.version != nil) != tc.semver {
			t.Errorf("%s: %+v %v", tc.in, ci, err)
		}
	}
	for _, bad := range []string{"go", "", "npm1.0.0"} {
		if _, err := parseClientVersion(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"1.2.3.4", "unexpected character '.' after patch version number"},
		{"1.2", "unexpected end of input while parsing minor version number"},
		{"1.02.3", "invalid leading zero in minor version number"},
		{"1.2.3-", "empty identifier segment in pre-release identifier"},
		{"1.2.3-01", "invalid leading zero in pre-release identifier"},
		{"v1.2.3", "unexpected character 'v' while parsing major version number"},
		{"", "empty string, expected a semver version"},
	} {
		if _, err := parseSemver(tc.in); err == nil || err.Error() != tc.want {
			t.Errorf("%q: got %v, want %s", tc.in, err, tc.want)
		}
	}
	a, _ := parseSemver("1.28.0-alpha")
	b, _ := parseSemver("1.28.0")
	c, _ := parseSemver("1.28.0-alpha.1")
	d, _ := parseSemver("1.28.0-1")
	if a.compare(b) >= 0 || a.compare(c) >= 0 || d.compare(a) >= 0 || b.compare(b) != 0 {
		t.Error("prerelease ordering")
	}
}

// TestDeprecatedClients: an unsupported version gets 400
// ClientVersionUnsupported, a deprecated one the deprecation headers, over
// HTTP as over the sync route.
func TestDeprecatedClients(t *testing.T) {
	s := newDemo(t)
	do := func(client string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, s.URL()+"/api/query_ts", nil)
		req.Header.Set("Convex-Client", client)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := do("python-0.1.0"); r.StatusCode != 200 || r.Header.Get("X-Convex-Deprecation-State") != "UpgradeRequired" ||
		r.Header.Get("X-Convex-Deprecation-Message") == "" {
		t.Fatalf("python 0.1.0: %d %v", r.StatusCode, r.Header)
	}
	if r := do("rust-0.0.1"); r.StatusCode != 400 || r.Header.Get("X-Convex-Deprecation-State") != "Unsupported" {
		t.Fatalf("rust 0.0.1: %d %v", r.StatusCode, r.Header)
	}
	if r := do("go-0.0.1"); r.StatusCode != 200 || r.Header.Get("X-Convex-Deprecation-State") != "" {
		t.Fatalf("go 0.0.1: %d %v", r.StatusCode, r.Header)
	}
	if r := do("go"); r.StatusCode != 400 {
		t.Fatalf("go: %d", r.StatusCode)
	}
	// A header that is not visible ASCII (here, no dash either) is ignored, as the backend's
	// to_str() check ignores it.
	if r := do("gö"); r.StatusCode != 200 {
		t.Fatalf("control character: %d", r.StatusCode)
	}
}
