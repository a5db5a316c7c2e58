package protocol

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// Int64 is a Convex Int64: what `v.int64()` accepts and a JavaScript
// bigint holds. Plain Go integers encode as Float64 (`v.number()`), as
// JavaScript numbers do, so an Int64 is always asked for explicitly: with
// this type, or with a struct field's `convex:"int64"` tag
// (`convex:"int64"`, beside the field's `json` tag). DecodeValue returns an Int64 for every
// {"$integer": ...} value.
type Int64 int64

// maxExactInt is 2^53: every integer of smaller magnitude is exactly a
// float64, as every integer JavaScript's Number.isSafeInteger accepts.
const maxExactInt = 1 << 53

// intToFloat converts a Go integer to the Float64 it stands for, refusing
// one that a float64 cannot hold exactly rather than rounding it.
func intToFloat(n int64) (float64, error) {
	f := float64(n)
	if (n > maxExactInt || n < -maxExactInt) && (f >= 1<<63 || int64(f) != n) {
		return 0, valueErr("integer %d cannot be held exactly by a Float64 (v.number()); use protocol.Int64 for a v.int64() value", n)
	}
	return f, nil
}

func uintToFloat(n uint64) (float64, error) {
	f := float64(n)
	if n > maxExactInt && (f >= 1<<64 || uint64(f) != n) {
		return 0, valueErr("integer %d cannot be held exactly by a Float64 (v.number()); use protocol.Int64 for a v.int64() value", n)
	}
	return f, nil
}

// numberToFloat reads a json.Number as the Float64 it names. An integer
// literal must be exactly representable; a literal out of float64's range
// is an error.
func numberToFloat(n json.Number) (float64, error) {
	s := string(n)
	if isIntegerLiteral(s) {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return intToFloat(i)
		}
		if u, err := strconv.ParseUint(s, 10, 64); err == nil {
			return uintToFloat(u)
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(f, 0) {
			return 0, valueErr("json.Number %q is out of range", s)
		}
		return 0, valueErr("integer %s cannot be held exactly by a Float64 (v.number())", s)
	}
	if s == "" || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) || !json.Valid([]byte(s)) {
		return 0, valueErr("json.Number %q is not a number", s)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, valueErr("json.Number %q is out of range", s)
	}
	return f, nil
}

// ParseInt64Literal reads a JSON integer literal (optional '-', digits) as
// an Int64, exactly. It is for tools that let a user say that the integers
// of a JSON text are Int64 values.
func ParseInt64Literal(s string) (Int64, error) {
	if !isIntegerLiteral(s) {
		return 0, valueErr("%q is not an integer literal", s)
	}
	i, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, valueErr("integer %s does not fit in an Int64", s)
	}
	return Int64(i), nil
}

// isIntegerLiteral reports whether s is a JSON number with no fraction or
// exponent.
func isIntegerLiteral(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" || (len(s) > 1 && s[0] == '0') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
