package protocol

import (
	"strconv"
)

// fastValue decodes Convex JSON straight into Go values with the scanner,
// as decodeValueRef does with encoding/json. ok is false when data is
// invalid or the value is refused; the caller then runs the reference
// decoder for its error. So when ok is true the result equals the
// reference's.
func fastValue(data []byte, depth int) (v any, ok bool) {
	s := scanner{data: data}
	s.ws()
	v, ok = s.anyValue(depth)
	if !ok || !s.end() {
		return nil, false
	}
	return v, true
}

// anyValue decodes one value at s.i (no leading whitespace).
func (s *scanner) anyValue(depth int) (any, bool) {
	if s.i >= len(s.data) {
		return nil, false
	}
	switch s.data[s.i] {
	case '"':
		return s.stringValue()
	case '{':
		return s.object(depth)
	case '[':
		if depth >= MaxDepth {
			return nil, false
		}
		s.i++
		arr := []any{}
		if s.eat(']') {
			return arr, true
		}
		for {
			s.ws()
			e, ok := s.anyValue(depth + 1)
			if !ok {
				return nil, false
			}
			arr = append(arr, e)
			if s.eat(',') {
				continue
			}
			return arr, s.eat(']')
		}
	case 't':
		return true, s.literal("true")
	case 'f':
		return false, s.literal("false")
	case 'n':
		return nil, s.literal("null")
	default:
		tok, ok := s.number()
		if !ok {
			return nil, false
		}
		return parseFloat(tok)
	}
}

// parseFloat reads a JSON number token as encoding/json does into an any
// (strconv.ParseFloat, refusing out-of-range numbers), exactly and without
// allocating for small integers.
func parseFloat(tok []byte) (any, bool) {
	f, ok := parseFloat64(tok)
	if !ok {
		return nil, false
	}
	return f, true
}

// parseFloat64 is parseFloat without the interface, for callers that store
// the number in a typed place.
func parseFloat64(tok []byte) (float64, bool) {
	if len(tok) <= 17 { // a sign, 15 digits and a point
		neg, digits := false, tok
		if digits[0] == '-' {
			neg, digits = true, digits[1:]
		}
		var n int64
		count, frac, point, plain := 0, 0, false, true
		for _, c := range digits {
			switch {
			case isDigit(c):
				n = n*10 + int64(c-'0')
				count++
				if point {
					frac++
				}
			case c == '.':
				point = true
			default: // an exponent
				plain = false
			}
			if !plain {
				break
			}
		}
		if plain && count <= 15 {
			// At most 15 digits: n is exact as a float64, as is 10^frac
			// (frac <= 15 < 23), so the one division rounds correctly and
			// gives ParseFloat's float64. "-0" and "-0.0" are negative
			// zero, as ParseFloat gives.
			f := float64(n)
			if frac > 0 {
				f /= exactPow10[frac]
			}
			if neg {
				f = -f
			}
			return f, true
		}
	}
	f, err := strconv.ParseFloat(string(tok), 64)
	if err != nil {
		return 0, false
	}
	return f, true
}

// exactPow10 holds the powers of ten a float64 holds exactly.
var exactPow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16}

// object decodes an object at s.i: a special {"$integer"|"$bytes"|"$float":
// string} or a map with valid field names.
func (s *scanner) object(depth int) (any, bool) {
	if depth > MaxDepth {
		// Only a special object, whose one value is a string, may be this
		// deep (its parent is at MaxDepth); that is never a container.
		return nil, false
	}
	s.i++
	obj := map[string]any{}
	if s.eat('}') {
		if depth >= MaxDepth {
			return nil, false
		}
		return obj, true
	}
	for {
		if s.peek() != '"' {
			return nil, false
		}
		tok, special, ok := s.str()
		if !ok || !s.eat(':') {
			return nil, false
		}
		var k string
		if special {
			sub := scanner{data: tok}
			if k, ok = sub.stringValue(); !ok {
				return nil, false
			}
		} else {
			k = string(tok[1 : len(tok)-1])
		}
		s.ws()
		e, ok := s.anyValue(depth + 1)
		if !ok {
			return nil, false
		}
		obj[k] = e
		if s.eat(',') {
			continue
		}
		if !s.eat('}') {
			return nil, false
		}
		break
	}
	if len(obj) == 1 {
		for k, e := range obj {
			if str, ok := e.(string); ok {
				var v any
				var err error
				switch k {
				case "$integer":
					v, err = decodeInteger(str)
				case "$bytes":
					v, err = decodeBytes(str)
				case "$float":
					v, err = decodeFloat(str)
				default:
					goto plain
				}
				return v, err == nil
			}
		}
	}
plain:
	if depth >= MaxDepth {
		return nil, false
	}
	for k := range obj {
		if ValidateFieldName(k) != nil {
			return nil, false
		}
	}
	return obj, true
}
