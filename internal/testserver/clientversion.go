package testserver

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
)

// clientInfo is who a request's client says it is, parsed as the backend
// parses it (crates/common/src/version.rs, ClientVersion::from_str, and
// crates/common/src/http/mod.rs, client_version_from_req_parts).
type clientInfo struct {
	name    string  // "npm", "npm-cli", "actions", "python", "rust", ... (lower case), or "unknown"
	version *semver // nil when the version is not a semantic version
	raw     string  // the version as written
}

// Headers the backend sets on responses to deprecated client versions.
const (
	deprecationStateHeader = "X-Convex-Deprecation-State"
	deprecationMsgHeader   = "X-Convex-Deprecation-Message"
)

// clientTypes maps the recognised spellings of a client name to the name
// the backend writes for it.
var clientTypes = map[string]string{
	"python-convex": "python", "python": "python", "npm-cli": "npm-cli", "npm": "npm",
	"create-convex": "create-convex", "actions": "actions", "rust": "rust",
	"streaming-import": "streaming-import", "airbyte-export": "airbyte-export",
	"fivetran-import": "fivetran-import", "fivetran-export": "fivetran-export",
	"dashboard": "dashboard", "swift": "swift", "kotlin": "kotlin",
}

// identifyClient reads the Convex-Client header (ignored when it holds
// anything but visible ASCII, as the backend's to_str() check does), or
// else the version in the path, which means npm. Errors are the message
// of the backend's 400 InvalidClientVersion.
func identifyClient(r *http.Request, pathVersion string) (clientInfo, error) {
	if vals := r.Header.Values("Convex-Client"); len(vals) > 0 && visibleASCII(vals[0]) {
		return parseClientVersion(vals[0])
	}
	if pathVersion != "" {
		v, err := parseSemver(pathVersion)
		if err != nil {
			return clientInfo{}, fmt.Errorf("Failed to parse client version: %v", err)
		}
		return clientInfo{name: "npm", version: &v, raw: pathVersion}, nil
	}
	return clientInfo{name: "unknown", raw: "unknownversion"}, nil
}

func visibleASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 32 || c >= 127) && c != '\t' {
			return false
		}
	}
	return true
}

// parseClientVersion splits "<client>-<semver>" on '-', taking the longest
// suffix that is a semantic version; with none, the client is the first
// part and the rest an unrecognised version.
func parseClientVersion(s string) (clientInfo, error) {
	parts := strings.Split(s, "-")
	if len(parts) < 2 {
		return clientInfo{}, fmt.Errorf("Failed to parse client version string: '%s'. Expected format is {client_name}-{semver}, e.g. my-esolang-client-0.0.1", s)
	}
	ci := clientInfo{name: parts[0], raw: strings.Join(parts[1:], "-")}
	for n := 1; n < len(parts); n++ {
		if v, err := parseSemver(strings.Join(parts[n:], "-")); err == nil {
			ci = clientInfo{name: strings.Join(parts[:n], "-"), version: &v, raw: strings.Join(parts[n:], "-")}
			break
		}
	}
	ci.name = strings.ToLower(ci.name)
	if t, ok := clientTypes[ci.name]; ok {
		ci.name = t
	}
	return ci, nil
}

// npmLike reports whether the client is held to the npm package's
// version thresholds.
func (ci clientInfo) npmLike() bool {
	return ci.name == "npm" || ci.name == "npm-cli" || ci.name == "actions"
}

// atLeast reports version >= v; an unrecognised version counts as above
// every threshold, as the backend's above_threshold says.
func (ci clientInfo) atLeast(v semver) bool {
	return ci.version == nil || ci.version.compare(v) >= 0
}

// atMost reports version <= v; an unrecognised version counts as below
// every threshold.
func (ci clientInfo) atMost(v semver) bool {
	return ci.version == nil || ci.version.compare(v) <= 0
}

// supportsChunks: TransitionChunk only for npm clients at 1.28.0 or later
// (local_backend/src/subs/mod.rs, MIN_NPM_VERSION_FOR_TRANSITION_CHUNKS);
// an npm client with an unrecognised version gets none.
func (ci clientInfo) supportsChunks() bool {
	return ci.name == "npm" && ci.version != nil && ci.atLeast(semver{major: 1, minor: 28})
}

// versionState is the backend's ClientVersionState for deprecation.json's
// thresholds: npm (also npm-cli, actions) unsupported at or below 0.19.1,
// python unsupported at or below 0.0.2 and deprecated at or below 0.2.0,
// rust unsupported at or below 0.0.1. It returns "Unsupported",
// "UpgradeRequired" or "" and the message.
func (ci clientInfo) versionState() (string, string) {
	var unsupported, upgrade semver
	var instructions string
	switch {
	case ci.npmLike():
		unsupported, upgrade = semver{minor: 19, patch: 1}, semver{minor: 19, patch: 1}
		instructions = "Update your Convex npm version with `npx convex update` or `npm update`."
	case ci.name == "python":
		unsupported, upgrade = semver{patch: 2}, semver{minor: 2}
		instructions = "Update your Convex python version with `pip install --upgrade convex`."
	case ci.name == "rust":
		unsupported, upgrade = semver{patch: 1}, semver{patch: 1}
		instructions = "Update your Convex rust version with `cargo update -p convex` or by updating `Cargo.toml`."
	default:
		return "", ""
	}
	if ci.atMost(unsupported) {
		return "Unsupported", fmt.Sprintf("The Convex %s package at version %s is no longer supported. %s", ci.name, ci.raw, instructions)
	}
	if ci.atMost(upgrade) {
		return "UpgradeRequired", fmt.Sprintf("The Convex %s package at %s is deprecated and will no longer be supported soon. "+
			"When this version is no longer supported, requests to Convex will fail, so it is best to upgrade and redeploy "+
			"your application as soon as possible. %s", ci.name, ci.raw, instructions)
	}
	return "", ""
}

// defaultFormat is the output format when a request names none: clean
// JSON, except for npm-like clients before 1.4.1 and python before 0.5.0.
func (ci clientInfo) defaultFormat() string {
	switch {
	case ci.npmLike() && !ci.atLeast(semver{major: 1, minor: 4, patch: 1}),
		ci.name == "python" && !ci.atLeast(semver{minor: 5}):
		return "convex_encoded_json"
	}
	return "json"
}

// checkClient answers a request from an unsupported client version with
// the backend's 400 ClientVersionUnsupported, and marks responses to
// deprecated ones with the deprecation headers. It reports whether the
// request may go on.
func checkClient(w http.ResponseWriter, ci clientInfo) bool {
	state, msg := ci.versionState()
	if state == "" {
		return true
	}
	w.Header().Set(deprecationStateHeader, state)
	w.Header().Set(deprecationMsgHeader, msg)
	if state == "Unsupported" {
		writeHTTPError(w, http.StatusBadRequest, "ClientVersionUnsupported", msg)
		return false
	}
	return true
}

// semver is a semantic version as the Rust semver crate reads it.
type semver struct {
	major, minor, patch uint64
	pre, build          []string
}

// parseSemver parses MAJOR.MINOR.PATCH[-PRE][+BUILD] as the Rust semver
// crate's Version::from_str does, with its error messages: no leading
// zeros in numbers or numeric prerelease identifiers, identifiers of
// [0-9A-Za-z-] separated by '.', none empty.
func parseSemver(s string) (semver, error) {
	var v semver
	if s == "" {
		return v, fmt.Errorf("empty string, expected a semver version")
	}
	text := s
	var err error
	for i, pos := range []string{"major version number", "minor version number", "patch version number"} {
		var n uint64
		if n, text, err = semverNumber(text, pos); err != nil {
			return semver{}, err
		}
		switch i {
		case 0:
			v.major = n
		case 1:
			v.minor = n
		case 2:
			v.patch = n
			continue
		}
		if rest, ok := strings.CutPrefix(text, "."); ok {
			text = rest
		} else if text != "" {
			return semver{}, fmt.Errorf("unexpected character %s after %s", rustDebugChar([]rune(text)[0]), pos)
		} else {
			return semver{}, fmt.Errorf("unexpected end of input while parsing %s", pos)
		}
	}
	pos := "patch version number"
	if rest, ok := strings.CutPrefix(text, "-"); ok {
		pos = "pre-release identifier"
		if v.pre, text, err = semverIdentifiers(rest, pos, true); err != nil {
			return semver{}, err
		}
	}
	if rest, ok := strings.CutPrefix(text, "+"); ok {
		pos = "build metadata"
		if v.build, text, err = semverIdentifiers(rest, pos, false); err != nil {
			return semver{}, err
		}
	}
	if text != "" {
		return semver{}, fmt.Errorf("unexpected character %s after %s", rustDebugChar([]rune(text)[0]), pos)
	}
	return v, nil
}

func semverNumber(text, pos string) (uint64, string, error) {
	var n uint64
	i := 0
	for ; i < len(text) && text[i] >= '0' && text[i] <= '9'; i++ {
		if n == 0 && i > 0 {
			return 0, "", fmt.Errorf("invalid leading zero in %s", pos)
		}
		d := uint64(text[i] - '0')
		if n > (math.MaxUint64-d)/10 {
			return 0, "", fmt.Errorf("value of %s exceeds u64::MAX", pos)
		}
		n = n*10 + d
	}
	if i > 0 {
		return n, text[i:], nil
	}
	if text != "" {
		return 0, "", fmt.Errorf("unexpected character %s while parsing %s", rustDebugChar([]rune(text)[0]), pos)
	}
	return 0, "", fmt.Errorf("unexpected end of input while parsing %s", pos)
}

// semverIdentifiers reads dot-separated identifiers up to the first
// character that cannot be in one, and returns the rest.
func semverIdentifiers(text, pos string, noLeadingZero bool) ([]string, string, error) {
	var ids []string
	for {
		i := 0
		for i < len(text) && (isASCIIAlnum(text[i]) || text[i] == '-') {
			i++
		}
		id := text[:i]
		if id == "" {
			return nil, "", fmt.Errorf("empty identifier segment in %s", pos)
		}
		if noLeadingZero && len(id) > 1 && id[0] == '0' && strings.Trim(id, "0123456789") == "" {
			return nil, "", fmt.Errorf("invalid leading zero in %s", pos)
		}
		ids = append(ids, id)
		text = text[i:]
		rest, ok := strings.CutPrefix(text, ".")
		if !ok {
			return ids, text, nil
		}
		text = rest
	}
}

// compare orders versions as the semver crate does: by the numbers, then a
// prerelease before the release, then prerelease and build identifiers.
func (a semver) compare(b semver) int {
	for _, d := range [][2]uint64{{a.major, b.major}, {a.minor, b.minor}, {a.patch, b.patch}} {
		if d[0] != d[1] {
			if d[0] < d[1] {
				return -1
			}
			return 1
		}
	}
	switch {
	case len(a.pre) == 0 && len(b.pre) > 0:
		return 1
	case len(a.pre) > 0 && len(b.pre) == 0:
		return -1
	}
	if c := compareIdentifiers(a.pre, b.pre); c != 0 {
		return c
	}
	return compareIdentifiers(a.build, b.build)
}

func compareIdentifiers(a, b []string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		x, errX := strconv.ParseUint(a[i], 10, 64)
		y, errY := strconv.ParseUint(b[i], 10, 64)
		switch {
		case errX == nil && errY == nil && x != y:
			if x < y {
				return -1
			}
			return 1
		case errX == nil && errY != nil:
			return -1
		case errX != nil && errY == nil:
			return 1
		case a[i] != b[i]:
			return strings.Compare(a[i], b[i])
		}
	}
	return len(a) - len(b)
}
