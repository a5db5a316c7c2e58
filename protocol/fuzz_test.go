package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// FuzzDecodeServerMessage feeds arbitrary frames to the server-message
// decoder: it must never panic, and whatever it accepts must encode and
// decode again to an equal message.
func FuzzDecodeServerMessage(f *testing.F) {
	for _, s := range []string{
		`{"type":"Ping"}`,
		`{"type":"FatalError","error":"x"}`,
		`{"type":"AuthError","error":"x","baseVersion":0,"authUpdateAttempted":true}`,
		`{"type":"Transition","startVersion":{"querySet":0,"identity":0,"ts":"AAAAAAAAAAA="},"endVersion":{"querySet":1,"identity":0,"ts":"Fc2yx35oFhg="},"modifications":[{"type":"QueryUpdated","queryId":0,"value":[{"a":{"$integer":"AQAAAAAAAAA="}}],"logLines":[],"journal":null},{"type":"QueryFailed","queryId":1,"errorMessage":"e","errorData":{"code":"boom"},"logLines":[],"journal":null},{"type":"QueryRemoved","queryId":2}],"clientClockSkew":-3,"serverTs":5}`,
		`{"type":"TransitionChunk","chunk":"{\"type\"","partNumber":0,"totalParts":2,"transitionId":"9"}`,
		`{"type":"MutationResponse","requestId":0,"success":true,"result":null,"ts":"AQAAAAAAAAA=","logLines":[]}`,
		`{"type":"MutationResponse","requestId":1,"success":false,"result":"no","ts":null,"logLines":[],"errorData":null}`,
		`{"type":"ActionResponse","requestId":2,"success":true,"result":{"$bytes":"AQ=="},"logLines":["l"]}`,
		`{"type":"Nope"}`, `{}`, `[]`, `null`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeServerMessage(data)
		if err != nil {
			if m != nil {
				t.Fatalf("error %v with a message %#v", err, m)
			}
			return
		}
		enc, err := EncodeServerMessage(m)
		if err != nil {
			t.Fatalf("cannot encode decoded %#v: %v", m, err)
		}
		m2, err := DecodeServerMessage(enc)
		if err != nil {
			t.Fatalf("cannot decode own encoding %s: %v", enc, err)
		}
		enc2, err := EncodeServerMessage(m2)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding not stable:\n%s\n%s (%v)", enc, enc2, err)
		}
	})
}

// FuzzDecodeClientMessage does the same for the client-message decoder the
// test deployment uses.
func FuzzDecodeClientMessage(f *testing.F) {
	for _, s := range []string{
		`{"type":"Connect","sessionId":"s","connectionCount":0,"lastCloseReason":"InitialConnect","clientTs":1}`,
		`{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{"type":"Add","queryId":0,"udfPath":"m:f","args":[{}]},{"type":"Remove","queryId":1}]}`,
		`{"type":"Mutation","requestId":0,"udfPath":"m:f","args":[{"a":1}]}`,
		`{"type":"Action","requestId":0,"udfPath":"m:f","args":[{}]}`,
		`{"type":"Authenticate","tokenType":"User","value":"t","baseVersion":0}`,
		`{"type":"Event","eventType":"x","event":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeClientMessage(data)
		if err != nil {
			return
		}
		if _, err := EncodeClientMessage(m); err != nil {
			t.Fatalf("cannot encode decoded %#v: %v", m, err)
		}
	})
}

// FuzzDecodeValue feeds arbitrary JSON to the value decoder: it must never
// panic, and an accepted value must re-encode canonically and stably.
func FuzzDecodeValue(f *testing.F) {
	for _, s := range []string{
		`null`, `true`, `1.5`, `"s"`, `[]`, `{}`,
		`{"$integer":"/JxOAAAAAAA="}`, `{"$float":"AAAAAAAA+H8="}`, `{"$bytes":"ABCD"}`,
		`{"$float":"AAAAAAAA+D8="}`, `{"$integer":"AAAA"}`, `{"$set":[]}`,
		`{"b":[1,{"$integer":"AQAAAAAAAAA="}],"a":{"c":null}}`, `[[[[[]]]]]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := DecodeValue(data)
		if err != nil {
			return
		}
		enc, err := EncodeValue(v)
		if err != nil {
			t.Fatalf("cannot encode decoded %#v: %v", v, err)
		}
		v2, err := DecodeValue(enc)
		if err != nil {
			t.Fatalf("cannot decode canonical %s: %v", enc, err)
		}
		enc2, err := EncodeValue(v2)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("canonical encoding not stable: %s vs %s (%v)", enc, enc2, err)
		}
		var typed struct {
			A []int64          `json:"a"`
			B map[string]bool  `json:"b"`
			C *float64         `json:"c"`
			D [2]string        `json:"d"`
			E map[string][]any `json:"e"`
		}
		_ = Unmarshal(data, &typed) // may fail; must not panic
	})
}

// FuzzNumber checks the Go-number rules on arbitrary text and integers:
// a json.Number encodes to a Float64 that decodes to the number it names
// (exactly, for an integer literal) or fails; an integer encodes as the
// exact Float64 or fails; Int64 always round-trips.
func FuzzNumber(f *testing.F) {
	for _, s := range []string{"0", "-1", "1.5", "9007199254740993", "9007199254740992", "1e400", "-0", "1e-400", "01", "", "abc", "9223372036854775807"} {
		f.Add(s, int64(len(s)))
	}
	f.Add("1", int64(math.MaxInt64))
	f.Add("1", int64(math.MinInt64))
	f.Fuzz(func(t *testing.T, s string, n int64) {
		if b, err := EncodeValue(json.Number(s)); err == nil {
			v, err := DecodeValue(b)
			if err != nil {
				t.Fatalf("json.Number %q encoded to %s, which does not decode: %v", s, b, err)
			}
			f, ok := v.(float64)
			if !ok {
				t.Fatalf("json.Number %q decoded as %T", s, v)
			}
			if i, perr := strconv.ParseInt(s, 10, 64); perr == nil && isIntegerLiteral(s) && (f >= 1<<63 || int64(f) != i) {
				t.Fatalf("json.Number %q became %v", s, f)
			}
		}
		b, err := EncodeValue(n)
		if err == nil {
			var back int64
			if err := Unmarshal(b, &back); err != nil || back != n {
				t.Fatalf("int64 %d encoded to %s, back %d, %v", n, b, back, err)
			}
		} else if float64(n) < 1<<63 && int64(float64(n)) == n {
			t.Fatalf("exact integer %d refused: %v", n, err)
		}
		b, err = EncodeValue(Int64(n))
		if err != nil {
			t.Fatal(err)
		}
		var back Int64
		if err := Unmarshal(b, &back); err != nil || back != Int64(n) {
			t.Fatalf("Int64 %d round trip: %d, %v", n, back, err)
		}
	})
}

// transitionSeeds are Transition frames, ordinary and odd, for the fuzz
// targets that compare the fast path with the reference decoder.
var transitionSeeds = []string{
	`{"type":"Transition","startVersion":{"querySet":0,"identity":0,"ts":"AAAAAAAAAAA="},"endVersion":{"querySet":1,"identity":0,"ts":"Fc2yx35oFhg="},"modifications":[{"type":"QueryUpdated","queryId":0,"value":[{"a":{"$integer":"AQAAAAAAAAA="}}],"logLines":[],"journal":null},{"type":"QueryFailed","queryId":1,"errorMessage":"e","errorData":{"code":"boom"},"logLines":[],"journal":null},{"type":"QueryRemoved","queryId":2}],"clientClockSkew":-3,"serverTs":5}`,
	` { "type" : "Transition" , "startVersion" : { } , "endVersion" : {"ts":"AQAAAAAAAAA="} , "modifications" : [ ] } `,
	`{"startVersion":{},"endVersion":{},"modifications":[],"type":"Transition","x":[1,{"y":null}],"serverTs":null}`,
	`{"type":"Transition","startVersion":{},"endVersion":{},"modifications":[],"type":"Transition"}`,
	`{"type":"Transition","Type":"Ping","startVersion":{},"endVersion":{},"modifications":[]}`,
	`{"type":"Transition","startVersion":{"querySet":null},"endVersion":{},"modifications":[]}`,
	`{"type":"Transition","startVersion":{"QuerySet":4},"endVersion":{},"modifications":[]}`,
	`{"type":"Transition","startVersion":{},"endVersion":{},"modifications":[{"type":"QueryUpdated","queryId":1,"value":null,"journal":"j","logLines":["a\u00e9\ud800"]}]}`,
	`{"type":"Transition","startVersion":{},"endVersion":{},"modifications":[{"type":"Query\u0055pdated","queryId":4294967295,"value":"` + "\xff" + `"}]}`,
	`{"type":"Transition","startVersion":{},"endVersion":{},"modifications":[{"type":"QueryUpdated","queryId":4294967296,"value":1}]}`,
	`{"type":"Transition","startVersion":{},"endVersion":{},"modifications":[{"type":"QueryUpdated","queryId":1.0,"value":1}]}`,
	`{"type":"Transition","startVersion":{},"endVersion":{},"modifications":[{"type":"QueryFailed","queryId":1,"errorMessage":null}]}`,
	`{"type":"Transition","startVersion":{},"endVersion":{},"modifications":[{"type":"QueryRemoved","queryId":1,"logLines":null,"value":[1e5,-0.5E-3,true,false]}]}`,
	`{"type":"Transition","startVersion":{},"endVersion":{},"modifications":[{"queryId":1,"value":1}],"modifications":[{"type":"QueryUpdated"}]}`,
	`{"type":"Transition","startVersion":{},"endVersion":{},"modifications":[{"type":"QueryUpdated","queryId":1,"value":01}]}`,
	`{"type":"Transition","startVersion":{},"endVersion":{},"modifications":[],"clientClockSkew":-9223372036854775808}`,
	`{"type":"Transition","startVersion":{},"endVersion":{},"modifications":[]}x`,
}

// FuzzFastTransition compares the hand-written Transition scanner with the
// reference decoder (encoding/json) on every input: whatever the fast path
// accepts, the reference must accept with an equal result, and
// DecodeServerMessage must agree with the reference in all cases.
func FuzzFastTransition(f *testing.F) {
	for _, s := range transitionSeeds {
		f.Add([]byte(s))
	}
	f.Add([]byte(`{"type":"Ping"}`))
	f.Add([]byte(`{"type":"MutationResponse","requestId":0,"success":true,"result":null,"ts":"AQAAAAAAAAA=","logLines":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ref, refErr := decodeServerMessageRef(data)
		fast, ok := fastTransition(data)
		if ok {
			if refErr != nil {
				t.Fatalf("fast path accepted what the reference refuses (%v):\n%q", refErr, data)
			}
			if !reflect.DeepEqual(ServerMessage(fast), ref) {
				t.Fatalf("fast path and reference differ on %q:\nfast %#v\nref  %#v", data, fast, ref)
			}
		}
		got, err := DecodeServerMessage(data)
		if (err == nil) != (refErr == nil) || !reflect.DeepEqual(got, ref) {
			t.Fatalf("DecodeServerMessage differs from the reference on %q: %#v, %v vs %#v, %v", data, got, err, ref, refErr)
		}
		if err != nil {
			var me *MessageError
			if !errors.As(err, &me) {
				t.Fatalf("error %T is not a *MessageError", err)
			}
		}
	})
}

// FuzzFastValue compares the hand-written value decoder with the reference
// (encoding/json and convertJSON) on every input: whatever the fast path
// accepts, the reference must accept with an equal value, and DecodeValue
// must agree with the reference in all cases.
func FuzzFastValue(f *testing.F) {
	for _, s := range []string{
		`null`, `true`, `false`, `-0`, `1.5`, `1e400`, `123456789012345`, `-1234567890123456789`, `"s"`, `"\u00e9\ud800"`, "\"\xff\"",
		`[]`, `{}`, ` [ 1 , { "a" : [ ] } ] `, `{"a":1,"a":2}`, `{"$integer":"/JxOAAAAAAA="}`, `{"$float":"AAAAAAAA+H8="}`,
		`{"$bytes":"ABCD"}`, `{"\u0024bytes":"ABCD"}`, `{"$integer":{},"$integer":"AQAAAAAAAAA="}`, `{"$set":[]}`, `{"a\u0000":1}`,
		`{"b":[1,{"$integer":"AQAAAAAAAAA="}],"a":{"c":null}}`, `[[[[[]]]]]`, `01`, `[1,]`, `{"a":1}x`,
		strings.Repeat("[", 64) + strings.Repeat("]", 64), strings.Repeat("[", 65) + strings.Repeat("]", 65),
		strings.Repeat(`{"a":`, 64) + `{"$integer":"AQAAAAAAAAA="}` + strings.Repeat("}", 64),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ref, refErr := decodeValueRef(bytes.Clone(data), 0)
		fast, ok := fastValue(data, 0)
		if ok {
			if refErr != nil {
				t.Fatalf("fast path accepted what the reference refuses (%v):\n%q", refErr, data)
			}
			if !equalValues(fast, ref) {
				t.Fatalf("fast path and reference differ on %q:\nfast %#v\nref  %#v", data, fast, ref)
			}
		}
		got, err := DecodeValue(data)
		if (err == nil) != (refErr == nil) || !equalValues(got, ref) {
			t.Fatalf("DecodeValue differs from the reference on %q: %#v, %v vs %#v, %v", data, got, err, ref, refErr)
		}
		if err != nil && !errors.Is(err, ErrInvalidValue) {
			t.Fatalf("error %T is not a *ValueError", err)
		}
	})
}

// equalValues compares decoded values, telling -0 from 0 and taking NaN
// as equal to itself.
func equalValues(a, b any) bool {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		return ok && math.Float64bits(x) == math.Float64bits(y) || ok && x != x && y != y
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) || (x == nil) != (y == nil) {
			return false
		}
		for i := range x {
			if !equalValues(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) || (x == nil) != (y == nil) {
			return false
		}
		for k, e := range x {
			f, ok := y[k]
			if !ok || !equalValues(e, f) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}
