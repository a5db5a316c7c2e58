package protocol

import (
	"encoding/binary"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
)

// scanner is a strict JSON scanner over one frame. It finds the boundaries
// of values without building Go values. Every method reports ok=false both
// for invalid JSON and for valid JSON it declines to interpret; callers
// then fall back to the reference decoder, which gives the error (or the
// result) encoding/json would.
type scanner struct {
	data []byte
	i    int
}

// scanMaxDepth bounds the nesting the scanner follows itself; deeper input
// goes to the reference decoder (whose own limit, encoding/json's 10000, is
// far above any valid Convex value's MaxDepth of 64).
const scanMaxDepth = 1000

// plainString marks the bytes that may appear unescaped in a JSON string
// and need no further thought: printable ASCII other than '"' and '\\'.
var plainString = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func (s *scanner) ws() {
	for s.i < len(s.data) {
		c := s.data[s.i]
		if c > ' ' || c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return
		}
		s.i++
	}
}

// peek skips whitespace and returns the next byte, or 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.data) {
		return s.data[s.i]
	}
	return 0
}

// eat skips whitespace and consumes c if it is next.
func (s *scanner) eat(c byte) bool {
	if s.peek() == c {
		s.i++
		return true
	}
	return false
}

// str scans a string token starting at s.i (which must be '"'). It returns
// the token with its quotes, and whether it holds an escape or a byte
// outside ASCII (so that its Go value is not simply its contents).
func (s *scanner) str() (tok []byte, special, ok bool) {
	d := s.data
	start := s.i
	i := s.i + 1
	for {
		for i+8 <= len(d) && !specialIn8(binary.LittleEndian.Uint64(d[i:])) {
			i += 8
		}
		for i < len(d) && plainString[d[i]] {
			i++
		}
		if i >= len(d) {
			return nil, false, false
		}
		switch c := d[i]; {
		case c == '"':
			s.i = i + 1
			return d[start:s.i], special, true
		case c == '\\':
			special = true
			if i+1 >= len(d) {
				return nil, false, false
			}
			switch d[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(d) {
					return nil, false, false
				}
				for _, h := range d[i+2 : i+6] {
					if !isHex(h) {
						return nil, false, false
					}
				}
				i += 6
			default:
				return nil, false, false
			}
		case c >= 0x80:
			special = true // any byte: encoding/json accepts invalid UTF-8 here
			i++
		default:
			return nil, false, false // a control character
		}
	}
}

// specialIn8 reports whether any of the 8 bytes in x may need attention in a
// string: '"', '\\', a control character or a byte outside ASCII. (It may
// also report true for a plain byte after such a one; the byte loop then
// sorts it out.)
func specialIn8(x uint64) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	zero := func(v uint64) uint64 { return (v - lo) & ^v & hi }
	return (zero(x^(lo*'"')) | zero(x^(lo*'\\')) | (x-lo*0x20)&^x&hi | x&hi) != 0
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// number scans a JSON number at s.i: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() (tok []byte, ok bool) {
	d := s.data
	start, i := s.i, s.i
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && '1' <= d[i] && d[i] <= '9':
		for i < len(d) && isDigit(d[i]) {
			i++
		}
	default:
		return nil, false
	}
	if i < len(d) && d[i] == '.' {
		i++
		if i >= len(d) || !isDigit(d[i]) {
			return nil, false
		}
		for i < len(d) && isDigit(d[i]) {
			i++
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i >= len(d) || !isDigit(d[i]) {
			return nil, false
		}
		for i < len(d) && isDigit(d[i]) {
			i++
		}
	}
	s.i = i
	return d[start:i], true
}

// literal consumes the literal word w (true, false or null) at s.i.
func (s *scanner) literal(w string) bool {
	if len(s.data)-s.i >= len(w) && string(s.data[s.i:s.i+len(w)]) == w {
		s.i += len(w)
		return true
	}
	return false
}

// value skips whitespace, then scans and checks one JSON value, returning
// its exact bytes.
func (s *scanner) value(depth int) ([]byte, bool) {
	s.ws()
	start := s.i
	if !s.skip(depth) {
		return nil, false
	}
	return s.data[start:s.i], true
}

// skip scans one JSON value at s.i (no leading whitespace).
func (s *scanner) skip(depth int) bool {
	if s.i >= len(s.data) {
		return false
	}
	switch c := s.data[s.i]; c {
	case '"':
		_, _, ok := s.str()
		return ok
	case '{':
		if depth >= scanMaxDepth {
			return false
		}
		s.i++
		if s.eat('}') {
			return true
		}
		for {
			if s.peek() != '"' {
				return false
			}
			if _, _, ok := s.str(); !ok || !s.eat(':') {
				return false
			}
			s.ws()
			if !s.skip(depth + 1) {
				return false
			}
			if s.eat(',') {
				continue
			}
			return s.eat('}')
		}
	case '[':
		if depth >= scanMaxDepth {
			return false
		}
		s.i++
		if s.eat(']') {
			return true
		}
		for {
			s.ws()
			if !s.skip(depth + 1) {
				return false
			}
			if s.eat(',') {
				continue
			}
			return s.eat(']')
		}
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	default:
		_, ok := s.number()
		return ok
	}
}

// key scans an object key and its colon. It declines (ok=false) keys that
// hold escapes or non-ASCII bytes, since encoding/json would unescape them
// and match them to fields ignoring case (and Unicode folding).
// The key is returned as bytes so that callers' switch on string(k) does
// not allocate.
func (s *scanner) key() ([]byte, bool) {
	if s.peek() != '"' {
		return nil, false
	}
	tok, special, ok := s.str()
	if !ok || special || !s.eat(':') {
		return nil, false
	}
	return tok[1 : len(tok)-1], true
}

// unknownKey reports whether an ASCII key k that is none of fields would
// also be ignored by encoding/json, which matches field names ignoring case.
func unknownKey(k string, fields ...string) bool {
	for _, f := range fields {
		if strings.EqualFold(k, f) {
			return false
		}
	}
	return true
}

// fields scans an object (s.i at its '{') whose known keys are names.
// For each known key it calls field with the key's index in names, with
// s.i at the value, and field must scan the value; a key seen twice, or
// field returning false, declines. Unknown keys are skipped if
// encoding/json would ignore them too (unknownKey), else declined. seen
// has bit i set for each names[i] found. The fast decoders share it so
// that each keeps only its own fields' code.
func (s *scanner) fields(names []string, field func(i int) bool) (seen uint32, ok bool) {
	if !s.eat('{') {
		return 0, false
	}
	if s.eat('}') {
		return 0, true
	}
	for {
		k, ok := s.key()
		if !ok {
			return 0, false
		}
		i := 0
		for i < len(names) && names[i] != string(k) {
			i++
		}
		if i < len(names) {
			if seen&(1<<i) != 0 || !field(i) {
				return 0, false
			}
			seen |= 1 << i
		} else {
			if !unknownKey(string(k), names...) {
				return 0, false
			}
			s.ws()
			if !s.skip(1) {
				return 0, false
			}
		}
		if s.eat(',') {
			continue
		}
		return seen, s.eat('}')
	}
}

// stringValue scans a JSON string value and returns its Go value as
// encoding/json gives it.
func (s *scanner) stringValue() (string, bool) {
	if s.peek() != '"' {
		return "", false
	}
	tok, special, ok := s.str()
	if !ok {
		return "", false
	}
	if !special || utf8.Valid(tok) && !hasBackslash(tok) {
		switch string(tok) { // the modification types, without allocating
		case `"QueryUpdated"`:
			return TypeQueryUpdated, true
		case `"QueryFailed"`:
			return TypeQueryFailed, true
		case `"QueryRemoved"`:
			return TypeQueryRemoved, true
		}
		return string(tok[1 : len(tok)-1]), true
	}
	var out string // escapes, or invalid UTF-8 that encoding/json replaces
	if json.Unmarshal(tok, &out) != nil {
		return "", false
	}
	return out, true
}

func hasBackslash(b []byte) bool {
	for _, c := range b {
		if c == '\\' {
			return true
		}
	}
	return false
}

// uintValue scans a JSON number and reads it as encoding/json reads one
// into an unsigned field of the given bit size.
func (s *scanner) uintValue(bits int) (uint64, bool) {
	s.ws()
	tok, ok := s.number()
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(string(tok), 10, 64)
	if err != nil || bits < 64 && n >= 1<<bits {
		return 0, false
	}
	return n, true
}

// int64Value scans a JSON number and reads it as encoding/json reads one
// into an int64 field.
func (s *scanner) int64Value() (int64, bool) {
	s.ws()
	tok, ok := s.number()
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(string(tok), 10, 64)
	return n, err == nil
}

// end reports whether only whitespace is left.
func (s *scanner) end() bool {
	s.ws()
	return s.i == len(s.data)
}
