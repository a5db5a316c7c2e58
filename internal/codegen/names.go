package codegen

import (
	"strconv"
	"strings"
)

// initialisms are the words Go spells in capitals (Effective Go's
// "userID", not "userId").
var initialisms = map[string]string{
	"id": "ID", "ids": "IDs", "url": "URL", "urls": "URLs", "uri": "URI",
	"http": "HTTP", "https": "HTTPS", "json": "JSON", "api": "API",
	"html": "HTML", "uuid": "UUID", "ip": "IP", "sql": "SQL", "ui": "UI",
}

// words splits s into words: at every character that is not an ASCII
// letter or digit, and where a lower-case letter or digit is followed by
// an upper-case one ("userId" -> "user", "Id").
func words(s string) []string {
	var out []string
	start := -1
	for i := 0; i <= len(s); i++ {
		alnum := i < len(s) && isAlnum(s[i])
		if !alnum {
			if start >= 0 {
				out = append(out, s[start:i])
				start = -1
			}
			continue
		}
		if start < 0 {
			start = i
			continue
		}
		if isUpper(s[i]) && (isLower(s[i-1]) || isDigit(s[i-1])) {
			out = append(out, s[start:i])
			start = i
		}
	}
	return out
}

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
func isLower(c byte) bool { return c >= 'a' && c <= 'z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlnum(c byte) bool { return isUpper(c) || isLower(c) || isDigit(c) }

// goName turns a Convex name (a module path, export, field or table
// name) into an exported Go identifier: "by_channel" -> "ByChannel",
// "_id" -> "ID", "userId" -> "UserID". It returns "" when s has no letter
// or digit.
func goName(s string) string {
	var b strings.Builder
	for _, w := range words(s) {
		if up, ok := initialisms[strings.ToLower(w)]; ok {
			b.WriteString(up)
			continue
		}
		b.WriteString(strings.ToUpper(w[:1]))
		b.WriteString(w[1:])
	}
	name := b.String()
	if name != "" && isDigit(name[0]) {
		name = "X" + name
	}
	return name
}

// namer hands out unique names within one scope: the second claim of a
// name gets "2", the third "3", and so on, in the order of the claims.
type namer struct {
	taken map[string]bool
}

func newNamer(reserved ...string) *namer {
	n := &namer{taken: map[string]bool{}}
	for _, r := range reserved {
		n.taken[r] = true
	}
	return n
}

// claim returns name, or name with the smallest numeric suffix that is
// free, and marks it taken. An empty name becomes fallback.
func (n *namer) claim(name, fallback string) string {
	if name == "" {
		name = fallback
	}
	if !n.taken[name] {
		n.taken[name] = true
		return name
	}
	for i := 2; ; i++ {
		c := name + strconv.Itoa(i)
		if !n.taken[c] {
			n.taken[c] = true
			return c
		}
	}
}
