package testserver

import (
	"fmt"
	"strings"
)

// maxIdentifierLen is the backend's MAX_IDENTIFIER_LEN: the longest
// function name and the longest module path component, counted in bytes
// (sync_types identifier.rs, path.rs).
const maxIdentifierLen = 64

// functionPath is a function path parsed as the backend parses a UdfPath
// (crates/convex/sync_types/src/udf_path.rs, module_path.rs, path.rs,
// identifier.rs).
type functionPath struct {
	module   string // as written, without a ".js" extension
	function string // "default" when the path names none
}

// key is the path in the official JavaScript client's canonical form,
// module:function, under which functions are registered.
func (p functionPath) key() string { return p.module + ":" + p.function }

// canonical is the backend's canonical form, module.js:function, which its
// messages print.
func (p functionPath) canonical() string { return p.module + ".js:" + p.function }

// stripped is the form of "Could not find public function for '...'":
// no ".js", and no ":default".
func (p functionPath) stripped() string {
	if p.function == "default" {
		return p.module
	}
	return p.key()
}

// parseFunctionPath parses a function path with the backend's rules and
// messages: the last ':' separates the function name, an identifier of at
// most 64 bytes (made of letters, digits and '_', not starting with a
// digit, not only underscores); the module path is relative, its only
// allowed extension is .js, and each of its components (the last one
// counted with the ".js" the backend adds) is at most 64 bytes of
// [A-Za-z0-9_.] with at least one letter or digit. There is no limit on
// how many components a module path has.
func parseFunctionPath(p string) (functionPath, error) {
	modStr, fn, hasFn := p, "", false
	if i := strings.LastIndexByte(p, ':'); i >= 0 {
		modStr, fn, hasFn = p[:i], p[i+1:], true
	}
	module, err := parseModulePath(modStr)
	if err != nil {
		return functionPath{}, err
	}
	if !hasFn {
		return functionPath{module: module, function: "default"}, nil
	}
	if err := checkIdentifier(fn); err != nil {
		return functionPath{}, err
	}
	return functionPath{module: module, function: fn}, nil
}

// parseModulePath follows ModulePath::from_str, with the path split into
// components as Rust's Path does: repeated and trailing '/' are ignored,
// "." is dropped except at the start, where (like "..") it is an error.
func parseModulePath(p string) (string, error) {
	name := rustFileName(p)
	if name == "" {
		return "", fmt.Errorf("Module path %s doesn't have a filename.", p)
	}
	ext, hasExt := rustExtension(name)
	if hasExt && ext != "js" {
		return "", fmt.Errorf("Module path (%s) has an extension that isn't 'js'.", p)
	}
	if strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("Module paths must be relative (%s is absolute).", p)
	}
	comps := rustComponents(p)
	for i, c := range comps {
		switch {
		case c == "." && i == 0:
			return "", fmt.Errorf("Invalid path component CurDir in %s.", p)
		case c == "..":
			return "", fmt.Errorf("Invalid path component ParentDir in %s.", p)
		}
	}
	if !hasExt {
		comps[len(comps)-1] += ".js"
	}
	for _, c := range comps {
		if err := checkPathComponent(c); err != nil {
			return "", err
		}
	}
	// The module as written, trailing '/' aside (set_extension drops it),
	// so that an odd spelling such as a//b names no function, as it
	// names no module in a deployment.
	module := strings.TrimRight(p, "/")
	if hasExt {
		module = strings.TrimSuffix(module, ".js")
	}
	return module, nil
}

// rustComponents splits a relative path as Rust's Path::components does.
func rustComponents(p string) []string {
	var out []string
	for i, c := range strings.Split(p, "/") {
		if c == "" || (c == "." && i > 0) {
			continue
		}
		out = append(out, c)
	}
	return out
}

// rustFileName is Path::file_name: the last component if it is a normal
// one, else "".
func rustFileName(p string) string {
	comps := rustComponents(strings.TrimPrefix(p, "/"))
	if len(comps) == 0 {
		return ""
	}
	last := comps[len(comps)-1]
	if last == "." || last == ".." {
		return ""
	}
	return last
}

// rustExtension is Path::extension of a file name: none when the name has
// no '.' other than a leading one.
func rustExtension(name string) (string, bool) {
	i := strings.LastIndexByte(name, '.')
	if i <= 0 {
		return "", false
	}
	return name[i+1:], true
}

// checkPathComponent is check_valid_path_component.
func checkPathComponent(s string) error {
	if len(s) > maxIdentifierLen {
		return fmt.Errorf("Path component is too long (%d > maximum %d): %s...", len(s), maxIdentifierLen, s[:maxIdentifierLen])
	}
	alnum := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isASCIIAlnum(c):
			alnum = true
		case c == '_' || c == '.':
		default:
			return fmt.Errorf("Path component %s can only contain alphanumeric characters, underscores, or periods.", s)
		}
	}
	if !alnum {
		return fmt.Errorf("Path component %s must have at least one alphanumeric character.", s)
	}
	return nil
}

// checkIdentifier is check_valid_identifier (its slow path's messages).
func checkIdentifier(s string) error {
	if s == "" {
		return fmt.Errorf("Identifier cannot be empty")
	}
	for i, r := range s {
		if i == 0 {
			if !(r < 0x80 && (isASCIIAlpha(byte(r)) || r == '_')) {
				return fmt.Errorf("Invalid first character %s in %s: Identifiers must start with an alphabetic character or underscore",
					rustDebugChar(r), s)
			}
			continue
		}
		if !(r < 0x80 && (isASCIIAlnum(byte(r)) || r == '_')) {
			return fmt.Errorf("Identifier %s has invalid character %s: Identifiers can only contain alphanumeric characters or underscores",
				s, rustDebugChar(r))
		}
	}
	if len(s) > maxIdentifierLen {
		return fmt.Errorf("Identifier is too long (%d > maximum %d)", len(s), maxIdentifierLen)
	}
	if strings.Trim(s, "_") == "" {
		return fmt.Errorf("Identifier %s cannot have exclusively underscores", s)
	}
	return nil
}

func isASCIIAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isASCIIAlnum(c byte) bool { return isASCIIAlpha(c) || c >= '0' && c <= '9' }

// rustDebugChar quotes r as Rust's {:?} for char does.
func rustDebugChar(r rune) string {
	if r == '\'' {
		return `'\''`
	}
	if r == '"' {
		return `'"'`
	}
	s := rustDebugString(string(r))
	return "'" + s[1:len(s)-1] + "'"
}
