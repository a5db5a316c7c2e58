package main

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/convexgo/convex/protocol"
)

// This file reads ARGS: JSON5 (https://spec.json5.org), the syntax `npx
// convex run` parses its arguments with (the json5 npm package, 2.2), into
// Convex values. JSON5 adds to JSON: unquoted (identifier) keys, single-
// quoted strings, more escapes (\x41, \v, \0, any other character escaping
// itself, a backslash before a line break continuing the string), trailing
// commas, // and /* */ comments, more white space, and numbers with a '+'
// sign, hexadecimal digits (0x1F), a leading or trailing decimal point,
// Infinity and NaN.
//
// Unlike the official CLI, which reads every number as a JavaScript double,
// integers are exact: an integer literal is a Float64 only if a float64
// holds it exactly, and with ints it is an Int64 (or an error if it does not
// fit one). A one-key object whose key starts with '$' is a special Convex
// value ({"$integer": ...}, {"$bytes": ...}, {"$float": ...}), as
// jsonToConvex reads it.

// json5Error is a syntax or value error at a byte offset of the input.
type json5Error struct {
	off int
	msg string
}

func (e *json5Error) Error() string { return fmt.Sprintf("at offset %d: %s", e.off, e.msg) }

// parseJSON5 reads one JSON5 value, with white space and comments around
// it, as a Convex value: nil, bool, float64, protocol.Int64, string,
// []byte, []any or map[string]any. With ints, integer literals are Int64.
func parseJSON5(text string, ints bool) (any, error) {
	if !utf8.ValidString(text) {
		return nil, &json5Error{0, "the text is not valid UTF-8"}
	}
	p := &json5Parser{s: text, ints: ints}
	if err := p.space(); err != nil {
		return nil, err
	}
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	if err := p.space(); err != nil {
		return nil, err
	}
	if p.i < len(p.s) {
		return nil, p.errorf("unexpected %s after the value", p.describe())
	}
	return v, nil
}

type json5Parser struct {
	s    string
	i    int
	ints bool
}

func (p *json5Parser) errorf(format string, args ...any) error {
	return &json5Error{p.i, fmt.Sprintf(format, args...)}
}

// peek returns the rune at the read position, or -1 at the end.
func (p *json5Parser) peek() rune {
	if p.i >= len(p.s) {
		return -1
	}
	r, _ := utf8.DecodeRuneInString(p.s[p.i:])
	return r
}

func (p *json5Parser) next() rune {
	r, n := utf8.DecodeRuneInString(p.s[p.i:])
	p.i += n
	return r
}

// describe names the character at the read position, for errors.
func (p *json5Parser) describe() string {
	r := p.peek()
	if r < 0 {
		return "end of input"
	}
	return fmt.Sprintf("character %q", r)
}

func isLineTerminator(r rune) bool {
	return r == '\n' || r == '\r' || r == '\u2028' || r == '\u2029'
}

// isJSON5Space reports JSON5 white space: tab, vertical tab, form feed,
// space, no-break space, the byte order mark, line terminators and the
// Unicode space separators.
func isJSON5Space(r rune) bool {
	switch r {
	case '\t', '\v', '\f', ' ', '\u00a0', '\ufeff':
		return true
	}
	return isLineTerminator(r) || unicode.Is(unicode.Zs, r)
}

// space skips white space and comments.
func (p *json5Parser) space() error {
	for p.i < len(p.s) {
		r := p.peek()
		switch {
		case isJSON5Space(r):
			p.next()
		case strings.HasPrefix(p.s[p.i:], "//"):
			for p.i < len(p.s) && !isLineTerminator(p.peek()) {
				p.next()
			}
		case strings.HasPrefix(p.s[p.i:], "/*"):
			end := strings.Index(p.s[p.i+2:], "*/")
			if end < 0 {
				return p.errorf("unterminated /* comment")
			}
			p.i += 2 + end + 2
		default:
			return nil
		}
	}
	return nil
}

func (p *json5Parser) value(depth int) (any, error) {
	if depth > protocol.MaxDepth {
		return nil, p.errorf("nested deeper than %d levels", protocol.MaxDepth)
	}
	switch r := p.peek(); {
	case r == '{':
		return p.object(depth)
	case r == '[':
		return p.array(depth)
	case r == '"' || r == '\'':
		return p.str()
	case r == '+' || r == '-' || r == '.' || (r >= '0' && r <= '9'):
		return p.number()
	case r == 'I' || r == 'N':
		return p.number()
	}
	for _, lit := range []struct {
		word string
		v    any
	}{{"true", true}, {"false", false}, {"null", nil}} {
		if p.word(lit.word) {
			return lit.v, nil
		}
	}
	return nil, p.errorf("unexpected %s: want a value", p.describe())
}

// word consumes w if it is next and not followed by more of an identifier.
func (p *json5Parser) word(w string) bool {
	if !strings.HasPrefix(p.s[p.i:], w) {
		return false
	}
	if r, _ := utf8.DecodeRuneInString(p.s[p.i+len(w):]); p.i+len(w) < len(p.s) && isIdentPart(r) {
		return false
	}
	p.i += len(w)
	return true
}

func (p *json5Parser) array(depth int) (any, error) {
	p.next() // [
	out := []any{}
	for {
		if err := p.space(); err != nil {
			return nil, err
		}
		if p.peek() == ']' {
			p.next()
			return out, nil
		}
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		if err := p.space(); err != nil {
			return nil, err
		}
		switch p.peek() {
		case ',':
			p.next()
		case ']':
		default:
			return nil, p.errorf("unexpected %s in an array: want ',' or ']'", p.describe())
		}
	}
}

func (p *json5Parser) object(depth int) (any, error) {
	start := p.i
	p.next() // {
	out := map[string]any{}
	for {
		if err := p.space(); err != nil {
			return nil, err
		}
		if p.peek() == '}' {
			p.next()
			break
		}
		keyAt := p.i
		var key string
		var err error
		if r := p.peek(); r == '"' || r == '\'' {
			key, err = p.str()
		} else {
			key, err = p.ident()
		}
		if err != nil {
			return nil, err
		}
		if err := p.space(); err != nil {
			return nil, err
		}
		if p.peek() != ':' {
			return nil, p.errorf("unexpected %s after the key %q: want ':'", p.describe(), key)
		}
		p.next()
		if err := p.space(); err != nil {
			return nil, err
		}
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		if _, dup := out[key]; dup {
			// JSON5.parse keeps the last; a repeated key in a command
			// line is more likely a slip, and the official CLI's
			// result would be surprising either way.
			return nil, &json5Error{keyAt, fmt.Sprintf("the key %q appears twice", key)}
		}
		out[key] = v
		if err := p.space(); err != nil {
			return nil, err
		}
		switch p.peek() {
		case ',':
			p.next()
		case '}':
		default:
			return nil, p.errorf("unexpected %s in an object: want ',' or '}'", p.describe())
		}
	}
	return p.special(out, start)
}

// special turns a one-key object {"$integer": s}, {"$bytes": s} or
// {"$float": s} into the Convex value it encodes, and checks other objects'
// field names (printable ASCII, not starting with '$').
func (p *json5Parser) special(obj map[string]any, at int) (any, error) {
	if len(obj) == 1 {
		for k, v := range obj {
			if k != "$integer" && k != "$bytes" && k != "$float" {
				break
			}
			if _, ok := v.(string); !ok {
				return nil, &json5Error{at, fmt.Sprintf("%s must hold a base64 string", k)}
			}
			b, err := json.Marshal(obj)
			if err != nil {
				return nil, &json5Error{at, err.Error()}
			}
			x, err := protocol.DecodeValue(b)
			if err != nil {
				return nil, &json5Error{at, err.Error()}
			}
			return x, nil
		}
	}
	for k := range obj {
		if err := protocol.ValidateFieldName(k); err != nil {
			return nil, &json5Error{at, err.Error()}
		}
	}
	return obj, nil
}

func isIdentStart(r rune) bool {
	return r == '$' || r == '_' || unicode.In(r, unicode.Lu, unicode.Ll, unicode.Lt, unicode.Lm, unicode.Lo, unicode.Nl)
}

func isIdentPart(r rune) bool {
	return isIdentStart(r) || r == '\u200c' || r == '\u200d' || unicode.In(r, unicode.Mn, unicode.Mc, unicode.Nd, unicode.Pc)
}

// ident reads an unquoted key: an ECMAScript 5.1 IdentifierName, in which
// \uXXXX escapes stand for identifier characters.
func (p *json5Parser) ident() (string, error) {
	var b strings.Builder
	for first := true; ; first = false {
		at := p.i
		r := p.peek()
		if r == '\\' {
			p.next()
			if p.peek() != 'u' {
				return "", p.errorf("only \\u escapes may appear in an unquoted key")
			}
			p.next()
			var err error
			if r, err = p.hex(4); err != nil {
				return "", err
			}
		} else if r >= 0 && (first && isIdentStart(r) || !first && isIdentPart(r)) {
			p.next()
		} else {
			if first {
				return "", p.errorf("unexpected %s: want a key", p.describe())
			}
			return b.String(), nil
		}
		if first && !isIdentStart(r) || !first && !isIdentPart(r) {
			return "", &json5Error{at, fmt.Sprintf("%q cannot appear in an unquoted key", r)}
		}
		b.WriteRune(r)
	}
}

// hex reads n hexadecimal digits.
func (p *json5Parser) hex(n int) (rune, error) {
	if p.i+n > len(p.s) {
		return 0, p.errorf("want %d hexadecimal digits", n)
	}
	v, err := strconv.ParseUint(p.s[p.i:p.i+n], 16, 32)
	if err != nil || strings.ContainsAny(p.s[p.i:p.i+n], "+-_") {
		return 0, p.errorf("want %d hexadecimal digits", n)
	}
	p.i += n
	return rune(v), nil
}

// str reads a single- or double-quoted string. Its UTF-16 code units are
// gathered as JavaScript does, so that escaped surrogate pairs combine; a
// lone surrogate is an error, since Convex strings are UTF-8.
func (p *json5Parser) str() (string, error) {
	start := p.i
	quote := p.next()
	var units []uint16
	add := func(r rune) { units = utf16.AppendRune(units, r) }
	for {
		if p.i >= len(p.s) {
			return "", &json5Error{start, "unterminated string"}
		}
		r := p.next()
		switch {
		case r == quote:
			return p.fromUTF16(units, start)
		case r == '\n' || r == '\r':
			return "", &json5Error{p.i - 1, "a line break in a string must be escaped (\\n)"}
		case r != '\\':
			add(r)
			continue
		}
		if p.i >= len(p.s) {
			return "", &json5Error{start, "unterminated string"}
		}
		at := p.i
		e := p.next()
		switch e {
		case 'b':
			add('\b')
		case 'f':
			add('\f')
		case 'n':
			add('\n')
		case 'r':
			add('\r')
		case 't':
			add('\t')
		case 'v':
			add('\v')
		case '0':
			if c := p.peek(); c >= '0' && c <= '9' {
				return "", &json5Error{at, "octal escapes are not allowed"}
			}
			add(0)
		case 'x':
			v, err := p.hex(2)
			if err != nil {
				return "", err
			}
			add(v)
		case 'u':
			v, err := p.hex(4)
			if err != nil {
				return "", err
			}
			units = append(units, uint16(v))
		case '\r':
			if p.peek() == '\n' {
				p.next()
			}
		case '\n', '\u2028', '\u2029':
			// a line continuation: nothing
		default:
			if e >= '1' && e <= '9' {
				return "", &json5Error{at, fmt.Sprintf("\\%c is not an escape", e)}
			}
			add(e)
		}
	}
}

func (p *json5Parser) fromUTF16(units []uint16, at int) (string, error) {
	var b strings.Builder
	for i := 0; i < len(units); i++ {
		u := rune(units[i])
		switch {
		case utf16.IsSurrogate(u) && u < 0xdc00 && i+1 < len(units):
			r := utf16.DecodeRune(u, rune(units[i+1]))
			if r == utf8.RuneError {
				return "", &json5Error{at, "the string holds a lone surrogate (\\u" + strconv.FormatUint(uint64(u), 16) + "), which a Convex string cannot"}
			}
			b.WriteRune(r)
			i++
		case utf16.IsSurrogate(u):
			return "", &json5Error{at, "the string holds a lone surrogate (\\u" + strconv.FormatUint(uint64(u), 16) + "), which a Convex string cannot"}
		default:
			b.WriteRune(u)
		}
	}
	return b.String(), nil
}

// number reads a JSON5 number: [+-] then Infinity, NaN, 0x hex digits, or
// a decimal with optional fraction and exponent.
func (p *json5Parser) number() (any, error) {
	start := p.i
	neg := false
	if c := p.s[p.i]; c == '+' || c == '-' {
		neg = c == '-'
		p.i++
	}
	switch {
	case p.word("Infinity"):
		if neg {
			return math.Inf(-1), nil
		}
		return math.Inf(1), nil
	case p.word("NaN"):
		return math.NaN(), nil
	case strings.HasPrefix(p.s[p.i:], "0x") || strings.HasPrefix(p.s[p.i:], "0X"):
		p.i += 2
		digits := p.i
		for p.i < len(p.s) && strings.IndexByte("0123456789abcdefABCDEF", p.s[p.i]) >= 0 {
			p.i++
		}
		if p.i == digits {
			return nil, p.errorf("want hexadecimal digits after 0x")
		}
		if r := p.peek(); r >= 0 && isIdentPart(r) {
			return nil, p.errorf("unexpected %s after a number", p.describe())
		}
		n, _ := new(big.Int).SetString(p.s[digits:p.i], 16)
		lit := n.String()
		if neg {
			lit = "-" + lit
		}
		return p.integer(lit, start)
	}
	digits := p.i
	intDigits := p.digits()
	if intDigits > 1 && p.s[digits] == '0' {
		return nil, &json5Error{digits, "a number may not start with 0 (use 0x for hexadecimal)"}
	}
	integer := true
	fracDigits := 0
	if p.i < len(p.s) && p.s[p.i] == '.' {
		integer = false
		p.i++
		fracDigits = p.digits()
	}
	if intDigits == 0 && fracDigits == 0 {
		p.i = start
		return nil, p.errorf("unexpected %s: want a number", p.describe())
	}
	if p.i < len(p.s) && (p.s[p.i] == 'e' || p.s[p.i] == 'E') {
		integer = false
		p.i++
		if p.i < len(p.s) && (p.s[p.i] == '+' || p.s[p.i] == '-') {
			p.i++
		}
		if p.digits() == 0 {
			return nil, p.errorf("want digits in the exponent")
		}
	}
	if r := p.peek(); r >= 0 && isIdentPart(r) {
		return nil, p.errorf("unexpected %s after a number", p.describe())
	}
	lit := p.s[digits:p.i]
	if integer {
		if neg {
			lit = "-" + lit
		}
		return p.integer(lit, start)
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil {
		return nil, &json5Error{start, fmt.Sprintf("the number %s is out of range", p.s[start:p.i])}
	}
	if neg {
		f = -f
	}
	return f, nil
}

func (p *json5Parser) digits() int {
	n := 0
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
		n++
	}
	return n
}

// integer converts a decimal integer literal ('-' and digits, no leading
// zeros): an Int64 with p.ints, else an exact Float64. "-0" is a negative
// zero, as in JavaScript.
func (p *json5Parser) integer(lit string, at int) (any, error) {
	if p.ints {
		n, err := protocol.ParseInt64Literal(lit)
		if err != nil {
			return nil, &json5Error{at, err.Error()}
		}
		return n, nil
	}
	if lit == "-0" {
		return math.Copysign(0, -1), nil
	}
	b, err := protocol.EncodeValue(json.Number(lit)) // exact, or an error
	if err != nil {
		return nil, &json5Error{at, err.Error()}
	}
	v, err := protocol.DecodeValue(b)
	if err != nil {
		return nil, &json5Error{at, err.Error()}
	}
	return v, nil
}
