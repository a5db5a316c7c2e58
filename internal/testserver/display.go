package testserver

import (
	"encoding/base64"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/convexgo/convex/protocol"
)

// This file writes Convex values the way the backend's error messages do
// (crates/value: Display for ConvexValue, ConvexObject, ConvexArray and
// ConvexBytes), which is Rust formatting: an Int64 as its decimal digits,
// a Float64 with Rust's {:?} (3.0, 1e16, NaN, inf), a string with Rust's
// {:?} escapes, bytes as b"<base64>", and objects as {field: value, ...}
// with unquoted field names in sorted order.

// displayValue writes a decoded Convex value (as protocol.DecodeValue
// returns it) as the backend's error messages show it.
func displayValue(v any) string {
	var b strings.Builder
	writeValue(&b, v)
	return b.String()
}

func writeValue(b *strings.Builder, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case protocol.Int64:
		b.WriteString(strconv.FormatInt(int64(x), 10))
	case float64:
		b.WriteString(rustDebugFloat(x))
	case string:
		b.WriteString(rustDebugString(x))
	case []byte:
		b.WriteString("b")
		b.WriteString(rustDebugString(base64.StdEncoding.EncodeToString(x)))
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			writeValue(b, e)
		}
		b.WriteByte(']')
	case map[string]any:
		b.WriteByte('{')
		for i, k := range sortedKeys(x) {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(k)
			b.WriteString(": ")
			writeValue(b, x[k])
		}
		b.WriteByte('}')
	default:
		fmt.Fprint(b, x)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// rustDebugFloat formats f as Rust's {:?} does: the shortest digits that
// read back as f, in plain decimal with at least one fractional digit when
// 1e-4 <= |f| < 1e16 (or f is zero), in exponent form otherwise.
func rustDebugFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	if a := math.Abs(f); f != 0 && (a < 1e-4 || a >= 1e16) {
		return rustExponent(strconv.FormatFloat(f, 'e', -1, 64))
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if math.Signbit(f) && f == 0 {
		s = "-0"
	}
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// rustExponent turns Go's "1.5e+16" / "1e-05" into Rust's "1.5e16" / "1e-5".
func rustExponent(s string) string {
	mant, exp, _ := strings.Cut(s, "e")
	neg := strings.HasPrefix(exp, "-")
	exp = strings.TrimLeft(strings.TrimLeft(exp, "+-"), "0")
	if exp == "" {
		exp = "0"
	}
	if neg {
		exp = "-" + exp
	}
	return mant + "e" + exp
}

// jsonFloat formats a finite f as serde_json does (the ryu crate): the
// shortest digits, plain when the decimal exponent is small, otherwise
// "1e16" or "1.5e-7"; integers keep a ".0".
func jsonFloat(f float64) string {
	if f == 0 {
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	sci := strconv.FormatFloat(f, 'e', -1, 64) // d.ddde±XX
	neg := strings.HasPrefix(sci, "-")
	sci = strings.TrimPrefix(sci, "-")
	mant, expStr, _ := strings.Cut(sci, "e")
	digits := strings.Replace(mant, ".", "", 1)
	e, _ := strconv.Atoi(expStr)
	length := len(digits)
	k := e - (length - 1) // value = digits × 10^k
	kk := length + k      // position of the decimal point
	var out string
	switch {
	case k >= 0 && kk <= 16:
		out = digits + strings.Repeat("0", k) + ".0"
	case kk > 0 && kk <= 16:
		out = digits[:kk] + "." + digits[kk:]
	case kk > -5 && kk <= 0:
		out = "0." + strings.Repeat("0", -kk) + digits
	case length == 1:
		out = digits + "e" + strconv.Itoa(kk-1)
	default:
		out = digits[:1] + "." + digits[1:] + "e" + strconv.Itoa(kk-1)
	}
	if neg {
		out = "-" + out
	}
	return out
}

// rustDebugString quotes s as Rust's {:?} for str does.
func rustDebugString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		case '\n':
			b.WriteString(`\n`)
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		case 0:
			b.WriteString(`\0`)
		default:
			if r == ' ' || (unicode.IsGraphic(r) && !unicode.In(r, unicode.Mn, unicode.Me)) {
				b.WriteRune(r)
			} else {
				fmt.Fprintf(&b, `\u{%x}`, r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// jsonString quotes s as serde_json does: only '"', '\\' and control
// characters are escaped.
func jsonString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			if r < 0x20 {
				fmt.Fprintf(&b, `\u%04x`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}
