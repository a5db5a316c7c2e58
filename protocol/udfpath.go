package protocol

import (
	"fmt"
	"strings"
)

// CanonicalizeUDFPath returns the canonical form of a function path, as the
// official JavaScript client computes it: the last ':' splits module from
// function (a path without ':' names the module's default export), and a
// trailing ".js" is removed from the module. Nothing else is changed.
//
//	messages          -> messages:default
//	messages.js:list  -> messages:list
//	dir/file:fn       -> dir/file:fn
func CanonicalizeUDFPath(udfPath string) string {
	module, function := splitUDFPath(udfPath)
	return module + ":" + function
}

func splitUDFPath(udfPath string) (module, function string) {
	module, function = udfPath, "default"
	if i := strings.LastIndexByte(udfPath, ':'); i >= 0 {
		module, function = udfPath[:i], udfPath[i+1:]
	}
	return strings.TrimSuffix(module, ".js"), function
}

// ValidateUDFPath checks a function path's syntax: a module path of
// '/'-separated parts made of [A-Za-z0-9_.], each with at least one letter
// or digit and at most 64 characters, an optional ".js" extension (no
// other), and an optional ":name" where name is an identifier of at most 64
// characters that is not all underscores. Paths under _system/ and _deps/
// are reserved.
func ValidateUDFPath(udfPath string) error {
	module, function, hasFn := strings.Cut(udfPath, ":")
	if hasFn {
		if err := validateIdentifier(function); err != nil {
			return fmt.Errorf("convex: function path %q: %w", udfPath, err)
		}
	}
	if err := validateModulePath(module); err != nil {
		return fmt.Errorf("convex: function path %q: %w", udfPath, err)
	}
	return nil
}

func validateModulePath(module string) error {
	if module == "" {
		return fmt.Errorf("empty module path")
	}
	if strings.HasPrefix(module, "_system/") || strings.HasPrefix(module, "_deps/") {
		return fmt.Errorf("module path is reserved")
	}
	last := module[strings.LastIndexByte(module, '/')+1:]
	if strings.Contains(last, ".") && !strings.HasSuffix(last, ".js") {
		return fmt.Errorf("only the .js extension is allowed")
	}
	for part := range strings.SplitSeq(module, "/") { // without allocating the parts' slice
		if part == "" {
			return fmt.Errorf("empty path component")
		}
		if len(part) > 64 {
			return fmt.Errorf("path component %q is longer than 64 characters", part)
		}
		alnum := false
		for _, c := range part {
			switch {
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
				alnum = true
			case c == '_' || c == '.':
			default:
				return fmt.Errorf("path component %q holds %q", part, c)
			}
		}
		if !alnum {
			return fmt.Errorf("path component %q has no letter or digit", part)
		}
	}
	return nil
}

func validateIdentifier(name string) error {
	if name == "" {
		return fmt.Errorf("empty function name")
	}
	if len(name) > 64 {
		return fmt.Errorf("function name %q is longer than 64 characters", name)
	}
	allUnderscore := true
	for i, c := range name {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case c >= '0' && c <= '9' && i > 0:
		case c == '_':
			continue
		default:
			return fmt.Errorf("function name %q is not an identifier", name)
		}
		allUnderscore = false
	}
	if allUnderscore {
		return fmt.Errorf("function name %q is only underscores", name)
	}
	return nil
}

// QueryToken identifies a query by its canonical path and canonical
// arguments. Two subscriptions with equal tokens share one server query.
// Tokens never leave the client.
type QueryToken string

// NewQueryToken builds the token of a query from its path (in any form) and
// its canonically encoded arguments, as EncodeArgs returns them.
func NewQueryToken(udfPath string, canonicalArgs []byte) QueryToken {
	return QueryToken(AppendQueryToken(make([]byte, 0, len(udfPath)+12+len(canonicalArgs)), udfPath, canonicalArgs))
}

// AppendQueryToken appends the bytes of NewQueryToken(udfPath,
// canonicalArgs) to dst, so a caller can look a token up without
// allocating.
func AppendQueryToken(dst []byte, udfPath string, canonicalArgs []byte) []byte {
	module, function := splitUDFPath(udfPath)
	dst = append(dst, module...)
	dst = append(dst, ':')
	dst = append(dst, function...)
	dst = append(dst, 0)
	return append(dst, canonicalArgs...)
}

// Path returns the canonical function path the token was built from.
func (t QueryToken) Path() string {
	p, _, _ := strings.Cut(string(t), "\x00")
	return p
}

// Args returns the canonical arguments the token was built from.
func (t QueryToken) Args() []byte {
	_, a, _ := strings.Cut(string(t), "\x00")
	return []byte(a)
}
