package main

import (
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/convexgo/convex/protocol"
)

func TestParseJSON5(t *testing.T) {
	negZero := math.Copysign(0, -1)
	for _, tt := range []struct {
		in   string
		ints bool
		want any
	}{
		{`{}`, false, map[string]any{}},
		{`{"a": 1}`, false, map[string]any{"a": 1.0}},
		{`{a: 1, _c: 3, \u0061b: 5, A1$: 6, "any key": 'ünï'}`, false, map[string]any{"a": 1.0, "_c": 3.0, "ab": 5.0, "A1$": 6.0, "any key": "ünï"}},
		{`{'single': 'it\'s', "double": "say \"hi\""}`, false, map[string]any{"single": "it's", "double": `say "hi"`}},
		{`{a: [1, 2,], b: {c: 3,},}`, false, map[string]any{"a": []any{1.0, 2.0}, "b": map[string]any{"c": 3.0}}},
		{"// leading\n{/* inside */ a: 1 // after\n} /* trailing */", false, map[string]any{"a": 1.0}},
		{"\ufeff\u00a0{\u2028a\u2029:\v1\f}\u3000", false, map[string]any{"a": 1.0}},
		{`{h: 0x1F, H: -0XfF, p: +1, d: .5, e: 5., x: 1e3, y: -2.5E-1}`, false,
			map[string]any{"h": 31.0, "H": -255.0, "p": 1.0, "d": 0.5, "e": 5.0, "x": 1000.0, "y": -0.25}},
		{`{i: Infinity, j: -Infinity, k: +Infinity, n: NaN, z: -0}`, false,
			map[string]any{"i": math.Inf(1), "j": math.Inf(-1), "k": math.Inf(1), "n": math.NaN(), "z": negZero}},
		{`{s: "\x41\u00e9\ud83d\ude00\0\v\b\f\n\r\t\/\q", t: 'line \` + "\n" + `continued'}`, false,
			map[string]any{"s": "Aé😀\x00\v\b\f\n\r\t/q", "t": "line continued"}},
		{"{tab: '\tok'}", false, map[string]any{"tab": "\tok"}},
		{`{a: 9007199254740992, b: -9007199254740992}`, false, map[string]any{"a": 9007199254740992.0, "b": -9007199254740992.0}},
		{`{a: 9007199254740993, b: 9223372036854775807, c: -9223372036854775808, f: 1.5, h: 0x7fffffffffffffff}`, true,
			map[string]any{"a": protocol.Int64(9007199254740993), "b": protocol.Int64(math.MaxInt64), "c": protocol.Int64(math.MinInt64), "f": 1.5, "h": protocol.Int64(math.MaxInt64)}},
		{`{i: {$integer: "AQAAAAAAAAA="}, b: {"$bytes": 'AQI='}, f: {$float: "AAAAAAAA+H8="}}`, false,
			map[string]any{"i": protocol.Int64(1), "b": []byte{1, 2}, "f": math.NaN()}},
		{`[true, false, null, "x"]`, false, []any{true, false, nil, "x"}},
	} {
		got, err := parseJSON5(tt.in, tt.ints)
		if err != nil {
			t.Errorf("parseJSON5(%q): %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got, cmp.Comparer(sameFloat)); diff != "" {
			t.Errorf("parseJSON5(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

// sameFloat compares floats bit for bit, so that NaN equals NaN and -0
// differs from 0.
func sameFloat(a, b float64) bool {
	return math.Float64bits(a) == math.Float64bits(b) || math.IsNaN(a) && math.IsNaN(b)
}

func TestParseJSON5Errors(t *testing.T) {
	for _, tt := range []struct {
		in, want string
		ints     bool
	}{
		{``, "unexpected end of input: want a value", false},
		{`{a: 1`, "want ',' or '}'", false},
		{`{a 1}`, "want ':'", false},
		{`{a: 1} x`, "after the value", false},
		{`{a: 1, a: 2}`, `the key "a" appears twice`, false},
		{`{1a: 1}`, "want a key", false},
		{`{a\x41: 1}`, `only \u escapes`, false},
		{`{\u0031: 1}`, "cannot appear in an unquoted key", false},
		{`{a: 01}`, "may not start with 0", false},
		{`{a: 0x}`, "hexadecimal digits", false},
		{`{a: 0x1g}`, "after a number", false},
		{`{a: 1e}`, "exponent", false},
		{`{a: .}`, "want a number", false},
		{`{a: 1e400}`, "out of range", false},
		{`{a: Infinit}`, "want a number", false},
		{`{a: 9007199254740993}`, "cannot be held exactly", false},
		{`{a: 0x20000000000001}`, "cannot be held exactly", false},
		{`{a: 9223372036854775808}`, "does not fit in an Int64", true},
		{`{a: -0x8000000000000001}`, "does not fit in an Int64", true},
		{"{a: 'x\ny'}", "must be escaped", false},
		{`{a: 'abc}`, "unterminated string", false},
		{`{a: "\1"}`, `\1 is not an escape`, false},
		{`{a: "\01"}`, "octal", false},
		{`{a: "\xZZ"}`, "hexadecimal digits", false},
		{`{a: "\ud800"}`, "lone surrogate", false},
		{`{a: "\udc00\ud800"}`, "lone surrogate", false},
		{`{a: 1 /* open`, "unterminated /* comment", false},
		{`{a: {$integer: "AQ=="}}`, "not 8", false},
		{`{a: {$integer: 1}}`, "must hold a base64 string", false},
		{`{a: {$other: "x"}}`, "starts with '$'", false},
		{`{$a: 1}`, "starts with '$'", false},
		{`{ünï: 1}`, "printable ASCII", false},
		{`{"a\u0001": 1}`, "printable ASCII", false},
		{"{a: \"\xff\"}", "not valid UTF-8", false},
		{`{a: nul}`, "want a value", false},
		{`{a: truex}`, "want a value", false},
		{strings.Repeat("[", 100) + strings.Repeat("]", 100), "nested deeper than 64", false},
	} {
		_, err := parseJSON5(tt.in, tt.ints)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseJSON5(%q) = %v, want an error containing %q", tt.in, err, tt.want)
		}
	}
}

// FuzzParseJSON5 checks that any input is read or refused without a
// panic, and that what is read survives a round trip through Convex JSON
// (itself JSON5) unchanged.
func FuzzParseJSON5(f *testing.F) {
	for _, s := range []string{
		`{}`, `{a: 1, 'b': "c", d: [1, 2.5, -0x1f,], e: {f: null}}`, `{n: NaN, i: -Infinity, z: -0, x: .5e-3}`,
		`{s: "\u00e9\ud83d\ude00\x41\0 \
"}`, `{i: {$integer: "AQAAAAAAAAA="}, b: {$bytes: ""}}`, "// c\n{/* d */}", `{a: 9223372036854775807}`,
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, in string, ints bool) {
		v, err := parseJSON5(in, ints)
		if err != nil {
			return
		}
		enc, err := protocol.EncodeValue(v)
		if err != nil {
			return // a value the protocol limits refuse, such as a huge one
		}
		back, err := parseJSON5(string(enc), false)
		if err != nil {
			t.Fatalf("parseJSON5(%q) = %#v, encoded %s, which does not parse: %v", in, v, enc, err)
		}
		if diff := cmp.Diff(v, back, cmp.Comparer(sameFloat)); diff != "" {
			t.Fatalf("round trip of %q through %s (-first +second):\n%s", in, enc, diff)
		}
	})
}
