package protocol

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// fuzzTransition builds a Transition holding value (as a QueryUpdated
// result and as a QueryFailed's errorData) and the strings given.
func fuzzTransition(value []byte, msg, logLine, journal string) *Transition {
	skew, ts := int64(-3), int64(1764590000000)
	return &Transition{
		StartVersion: StateVersion{QuerySet: 1, Identity: 2, TS: 3},
		EndVersion:   StateVersion{QuerySet: 4, Identity: 5, TS: 6},
		Modifications: []StateModification{
			{Type: TypeQueryUpdated, QueryID: 7, Value: value, LogLines: []string{logLine}, Journal: &journal},
			{Type: TypeQueryUpdated, QueryID: 8},
			{Type: TypeQueryFailed, QueryID: 9, ErrorMessage: msg, ErrorData: value},
			{Type: TypeQueryFailed, QueryID: 10, ErrorMessage: msg},
			{Type: TypeQueryRemoved, QueryID: 11},
		},
		ClientClockSkew: &skew, ServerTS: &ts,
	}
}

// FuzzEncodeTransition compares the direct Transition encoder with the
// encoding/json reference: when the direct one accepts, the bytes are the
// reference's; it declines exactly when the reference fails.
func FuzzEncodeTransition(f *testing.F) {
	for _, s := range []string{
		`null`, `1`, `"x"`, `[1, 2]`, `{"a" : [ true , false , null ]}`, `{"html":"<b>&amp;</b>"}`,
		"\"\u2028\u2029\"", `"\u003c\\"`, `{"$integer":"AQAAAAAAAAA="}`, ` 1`, `1 `, `[1,]`, `{"a":1}{`, ``, `"\"`, "\"\xff\"",
	} {
		f.Add([]byte(s), "message <x> & y", "log\nline", "journal\u2028")
	}
	f.Fuzz(func(t *testing.T, value []byte, msg, logLine, journal string) {
		tr := fuzzTransition(value, msg, logLine, journal)
		want, refErr := encodeTransitionRef(tr)
		got, ok := appendTransition(nil, tr)
		switch {
		case refErr != nil && ok:
			t.Fatalf("direct encoder accepted what the reference refused (%v): %s", refErr, got)
		case refErr == nil && ok && !bytes.Equal(got, want):
			t.Fatalf("direct encoder:\n%s\nreference:\n%s", got, want)
		case refErr == nil && !ok && len(value) > 0:
			// Declining valid input is allowed (the reference then runs),
			// but only for values the scanner does not take whole.
			s := scanner{data: value}
			if s.skip(0) && s.i == len(value) {
				t.Fatalf("direct encoder declined a value the scanner accepts: %q", value)
			}
		}
		enc, err := EncodeServerMessage(tr)
		if (err != nil) != (refErr != nil) || (err == nil && !bytes.Equal(enc, want)) {
			t.Fatalf("EncodeServerMessage = %s, %v; reference %s, %v", enc, err, want, refErr)
		}
	})
}

// TestEncodeTransitionTakesTheDirectPath: a query result as the test
// deployment produces it (compact, with HTML characters in strings) is
// encoded without the reference, and equals it.
func TestEncodeTransitionTakesTheDirectPath(t *testing.T) {
	value, err := EncodeValue([]any{map[string]any{"body": "a <b> & c \u2028", "n": 1.5}, strings.Repeat("x", 100)})
	if err != nil {
		t.Fatal(err)
	}
	tr := fuzzTransition(value, "Uncaught Error: <boom>", "[LOG] 'hi'", "j")
	got, ok := appendTransition(nil, tr)
	if !ok {
		t.Fatal("the direct encoder declined a compact value")
	}
	want, err := encodeTransitionRef(tr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("direct:\n%s\nreference:\n%s", got, want)
	}
	if !json.Valid(got) {
		t.Fatal("not JSON")
	}
}
