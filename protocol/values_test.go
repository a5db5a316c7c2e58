package protocol

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var negZero = math.Copysign(0, -1)

// Examples from PROTOCOL.md section 2 and checklist items 6-8.
func TestEncodeValueExamples(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"Int64 5151996", Int64(5151996), `{"$integer":"/JxOAAAAAAA="}`},
		{"Int64 100", Int64(100), `{"$integer":"ZAAAAAAAAAA="}`},
		{"Int64 -1", Int64(-1), `{"$integer":"//////////8="}`},
		{"Int64 -42", Int64(-42), `{"$integer":"1v////////8="}`},
		{"Int64 1", Int64(1), `{"$integer":"AQAAAAAAAAA="}`},
		{"Int64 max", Int64(math.MaxInt64), `{"$integer":"/////////38="}`},
		{"Int64 min", Int64(math.MinInt64), `{"$integer":"AAAAAAAAAIA="}`},
		{"pointer to Int64", ptr(Int64(2)), `{"$integer":"AgAAAAAAAAA="}`},
		// Plain Go integers are JavaScript numbers: Float64.
		{"plain int is Float64", 7, `7`},
		{"int64 is Float64", int64(-42), `-42`},
		{"int32 is Float64", int32(-1), `-1`},
		{"uint8 is Float64", uint8(1), `1`},
		{"named int is Float64", priority(3), `3`},
		{"2^53 as int", int64(1 << 53), `9007199254740992`},
		{"-2^53 as int", int64(-1 << 53), `-9007199254740992`},
		// Exact float64 values, printed as JavaScript prints them.
		{"2^60 as int is exact", int64(1 << 60), `1152921504606847000`},
		{"min int64 is exact", int64(math.MinInt64), `-9223372036854776000`},
		{"2^63 as uint64 is exact", uint64(1 << 63), `9223372036854776000`},
		{"json.Number integer", json.Number("12"), `12`},
		{"json.Number fraction", json.Number("-1.25e2"), `-125`},
		{"time.Duration is its nanoseconds", time.Duration(1500), `1500`},
		{"NaN", math.NaN(), `{"$float":"AAAAAAAA+H8="}`},
		{"+Inf", math.Inf(1), `{"$float":"AAAAAAAA8H8="}`},
		{"-Inf", math.Inf(-1), `{"$float":"AAAAAAAA8P8="}`},
		{"-0", negZero, `{"$float":"AAAAAAAAAIA="}`},
		{"1.5", 1.5, `1.5`},
		{"0.0", 0.0, `0`},
		{"42.0", 42.0, `42`},
		{"2^53", float64(1 << 53), `9007199254740992`},
		{"smallest subnormal", 5e-324, `5e-324`},
		{"1e21", 1e21, `1e+21`},
		{"1e20", 1e20, `100000000000000000000`},
		{"1e-7", 1e-7, `1e-7`},
		{"float32", float32(0.5), `0.5`},
		{"bytes", []byte{0x00, 0x10, 0x83}, `{"$bytes":"ABCD"}`},
		{"hello bytes", []byte("hello"), `{"$bytes":"aGVsbG8="}`},
		{"empty bytes", []byte{}, `{"$bytes":""}`},
		{"byte array", [3]byte{0, 0x10, 0x83}, `{"$bytes":"ABCD"}`},
		{"bytes from FINDINGS", []byte{0, 1, 2, 250, 255}, `{"$bytes":"AAEC+v8="}`},
		{"null", nil, `null`},
		{"nil map", map[string]any(nil), `null`},
		{"nil pointer", (*int)(nil), `null`},
		{"true", true, `true`},
		{"string", "héllo \"q\" \\ \n\t\x01", `"héllo \"q\" \\ \n\t\u0001"`},
		{"empty object", map[string]any{}, `{}`},
		{"empty array", []any{}, `[]`},
		{"sorted keys", map[string]any{"b": 2.0, "a": 1.0}, `{"a":1,"b":2}`},
		{"FINDINGS sort order", map[string]any{"B": 1.0, "a": 1.0, "_c": 1.0, "Z": 1.0, "1": 1.0},
			`{"1":1,"B":1,"Z":1,"_c":1,"a":1}`},
		{"nested sort", map[string]any{"x": map[string]any{"d": 2.0, "c": 1.0}, "w": []any{map[string]any{"z": 1.0, "y": 2.0}}},
			`{"w":[{"y":2,"z":1}],"x":{"c":1,"d":2}}`},
		{"empty field name", map[string]any{"": 1.0}, `{"":1}`},
		{"typed map", map[string]int64{"n": 1}, `{"n":1}`},
		{"typed Int64 map", map[string]Int64{"n": 1}, `{"n":{"$integer":"AQAAAAAAAAA="}}`},
		{"json.Marshaler is honoured", celsius(21.5), `{"celsius":21.5}`},
		{"pointer json.Marshaler", &celsius2{1}, `{"c":1}`},
		{"pointer-receiver Marshaler in an addressable struct", &struct {
			C celsius2 `json:"c"`
		}{celsius2{2}}, `{"c":{"c":2}}`},
		{"TextMarshaler is a string", level(2), `"level-2"`},
		{"struct with no fields is an empty object", struct{}{}, `{}`},
		{"raw message is canonicalized", json.RawMessage(`{"b": 1, "a": {"$integer":"AQAAAAAAAAA="}}`),
			`{"a":{"$integer":"AQAAAAAAAAA="},"b":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := EncodeValue(tt.in)
			if err != nil {
				t.Fatalf("EncodeValue: %v", err)
			}
			if string(got) != tt.want {
				t.Errorf("EncodeValue = %s, want %s", got, tt.want)
			}
		})
	}
}

type embedded struct {
	Inner string `json:"inner"`
}

type message struct {
	embedded
	ID       string            `json:"_id"`
	Channel  string            `json:"channel"`
	Count    int64             `json:"count"`
	Big      int64             `json:"big" convex:"int64"`
	BigList  []int             `json:"bigList,omitempty" convex:"int64"`
	Score    float64           `json:"score"`
	Data     []byte            `json:"data"`
	Tags     []string          `json:"tags,omitempty"`
	Extra    map[string]any    `json:"extra,omitempty"`
	Nested   *message          `json:"nested,omitempty"`
	Skipped  string            `json:"-"`
	Untagged bool              //nolint: exercised as "Untagged"
	Labels   map[string]string `json:"labels,omitempty"`
	private  int
}

func TestEncodeStruct(t *testing.T) {
	m := message{embedded: embedded{"in"}, ID: "x", Channel: "general", Count: 3, Big: math.MaxInt64,
		BigList: []int{1, -1}, Score: 0.5, Data: []byte{1}, Skipped: "no", Untagged: true, private: 9}
	got, err := EncodeValue(m)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"Untagged":true,"_id":"x","big":{"$integer":"/////////38="},"bigList":[{"$integer":"AQAAAAAAAAA="},{"$integer":"//////////8="}],"channel":"general","count":3,"data":{"$bytes":"AQ=="},"inner":"in","score":0.5}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	// And back.
	var back message
	if err := Unmarshal(got, &back); err != nil {
		t.Fatal(err)
	}
	m.Skipped, m.private = "", 0
	if diff := cmp.Diff(m, back, cmp.AllowUnexported(message{})); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

// Checklist items 7, 9 and 10, and the limits of section 2.
func TestEncodeValueRejects(t *testing.T) {
	deep := any(1.0)
	for i := 0; i < MaxDepth+1; i++ {
		deep = []any{deep}
	}
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"dollar key", map[string]any{"$x": 1.0}, "starts with '$'"},
		{"control char key", map[string]any{"a\x01": 1.0}, "printable ASCII"},
		{"non-ASCII key", map[string]any{"é": 1.0}, "printable ASCII"},
		{"DEL key", map[string]any{"a\x7f": 1.0}, "printable ASCII"},
		{"1025-char key", map[string]any{strings.Repeat("k", 1025): 1.0}, "longer than 1024"},
		{"too deep", deep, "nested deeper"},
		{"too many fields", bigObject(MaxObjectFields + 1), "more than 1024"},
		{"too long array", make([]any, MaxArrayLength+1), "longer than 8192"},
		{"huge uint64", uint64(math.MaxUint64), "cannot be held exactly by a Float64"},
		{"2^53+1 is not a float64", int64(1<<53 + 1), "integer 9007199254740993 cannot be held exactly"},
		{"max int64 is not a float64", int64(math.MaxInt64), "cannot be held exactly"},
		{"max uint64 under int64 tag", struct {
			N uint64 `json:"n" convex:"int64"`
		}{math.MaxUint64}, "does not fit in an Int64"},
		{"int64 tag on a string", struct {
			S string `json:"s" convex:"int64"`
		}{"x"}, "tag needs an integer field"},
		{"json.Number 2^53+1", json.Number("9007199254740993"), "cannot be held exactly"},
		{"json.Number overflow", json.Number("1e400"), "out of range"},
		{"json.Number huge integer", json.Number("123456789012345678901234567890"), "cannot be held exactly"},
		{"json.Number not a number", json.Number("abc"), "not a number"},
		{"json.Number empty", json.Number(""), "not a number"},
		{"time.Time", time.Unix(1, 0), "time.Time has no Convex form"},
		{"time.Time in a struct", struct {
			At time.Time `json:"at"`
		}{}, "at .at: time.Time has no Convex form"},
		{"struct with only unexported fields", struct{ a, b int }{1, 2}, "has no exported fields"},
		{"sync.Mutex", &sync.Mutex{}, "has no exported fields"},
		{"failing MarshalJSON", badMarshaler{}, "MarshalJSON: no"},
		{"pointer-receiver MarshalJSON out of reach", struct {
			C celsius2 `json:"c"`
		}{celsius2{2}}, "pointer receiver"},
		{"MarshalJSON with a bad special", rawMarshaler(`{"$float":"AAAAAAAA+D8="}`), "should be encoded as a number"},
		{"invalid utf8", "\xff", "not valid UTF-8"},
		{"channel", make(chan int), "no Convex equivalent"},
		{"func", func() {}, "no Convex equivalent"},
		{"complex", complex(1, 2), "no Convex equivalent"},
		{"int-keyed map", map[int]string{1: "a"}, "not a string"},
		{"nested bad key", map[string]any{"ok": []any{map[string]any{"$bad": 1.0}}}, `at .ok[0]`},
		{"raw not JSON", json.RawMessage(`{`), "not JSON"},
		{"raw bad special", json.RawMessage(`{"$float":"AAAAAAAA+D8="}`), "should be encoded as a number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := EncodeValue(tt.in)
			if err == nil {
				t.Fatal("EncodeValue succeeded")
			}
			if !errors.Is(err, ErrInvalidValue) {
				t.Errorf("error %v does not match ErrInvalidValue", err)
			}
			var ve *ValueError
			if !errors.As(err, &ve) {
				t.Errorf("error %T is not a *ValueError", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
	// The limits themselves are accepted.
	atLimit := any(1.0)
	for i := 0; i < MaxDepth; i++ {
		atLimit = []any{atLimit}
	}
	for name, v := range map[string]any{
		"depth 64":    atLimit,
		"1024 fields": bigObject(MaxObjectFields),
		"8192 elems":  make([]any, MaxArrayLength),
		"1024 key":    map[string]any{strings.Repeat("k", 1024): 1.0},
	} {
		if _, err := EncodeValue(v); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func bigObject(n int) map[string]any {
	m := make(map[string]any, n)
	for i := 0; i < n; i++ {
		m["f"+strings.Repeat("x", i%7)+string(rune('A'+i%26))+itoa(i)] = 1.0
	}
	return m
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

func TestDecodeValueExamples(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want any
	}{
		{"int", `{"$integer":"/JxOAAAAAAA="}`, Int64(5151996)},
		{"neg int", `{"$integer":"1v////////8="}`, Int64(-42)},
		{"plain number is float", `5`, 5.0},
		{"bytes", `{"$bytes":"ABCD"}`, []byte{0x00, 0x10, 0x83}},
		{"-0", `{"$float":"AAAAAAAAAIA="}`, negZero},
		{"+Inf", `{"$float":"AAAAAAAA8H8="}`, math.Inf(1)},
		{"-Inf", `{"$float":"AAAAAAAA8P8="}`, math.Inf(-1)},
		{"object", `{"a":[1,"x",null,true,{"$bytes":""}]}`, map[string]any{"a": []any{1.0, "x", nil, true, []byte{}}}},
		{"special key with non-string value is an object", `{"$integer":5}`, nil}, // rejected below
	}
	for _, tt := range tests[:len(tests)-1] {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeValue([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(sameFloat)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	nan, err := DecodeValue([]byte(`{"$float":"AAAAAAAA+H8="}`))
	if err != nil || !math.IsNaN(nan.(float64)) {
		t.Errorf("NaN decoded to %v, %v", nan, err)
	}
}

func sameFloat(a, b float64) bool {
	return math.Float64bits(a) == math.Float64bits(b) || (math.IsNaN(a) && math.IsNaN(b))
}

// Checklist items 7 and 10, rule 5 of section 2, and bad encodings.
func TestDecodeValueRejects(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"$float of 1.5", `{"$float":"AAAAAAAA+D8="}`, "should be encoded as a number"},
		{"$float of 0", `{"$float":"AAAAAAAAAAA="}`, "should be encoded as a number"},
		{"$float of subnormal", `{"$float":"AQAAAAAAAAA="}`, "should be encoded as a number"},
		{"$integer of 4 bytes", `{"$integer":"AAAAAA=="}`, "not 8"},
		{"$integer of 9 bytes", `{"$integer":"AAAAAAAAAAAA"}`, "not 8"},
		{"$integer not base64", `{"$integer":"!!!"}`, "not base64"},
		{"$bytes not base64", `{"$bytes":"***"}`, "not base64"},
		{"two keys with $integer", `{"$integer":"AQAAAAAAAAA=","a":1}`, "starts with '$'"},
		{"$integer with number value", `{"$integer":5}`, "starts with '$'"},
		{"retired $set", `{"$set":[]}`, "starts with '$'"},
		{"retired $map", `{"$map":[]}`, "starts with '$'"},
		{"bad key", `{"a\u0001":1}`, "printable ASCII"},
		{"not JSON", `{"a":`, "not JSON"},
		{"empty", ``, "not JSON"},
		{"too deep", strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1), "nested deeper"},
		{"number out of range", `1e400`, "not JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := DecodeValue([]byte(tt.in))
			if err == nil {
				t.Fatalf("DecodeValue = %#v, want error", v)
			}
			if !errors.Is(err, ErrInvalidValue) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q: want ErrInvalidValue mentioning %q", err, tt.want)
			}
		})
	}
}

func TestUnmarshalConversions(t *testing.T) {
	type target struct {
		I   int     `json:"i"`
		I8  int8    `json:"i8"`
		U   uint16  `json:"u"`
		F   float64 `json:"f"`
		FI  float32 `json:"fi"`
		S   string  `json:"s"`
		B   []byte  `json:"b"`
		Any any     `json:"any"`
		P   *int64  `json:"p"`
		Arr [2]bool `json:"arr"`
		Raw json.RawMessage
		Map map[string][]float64 `json:"map"`
		CI  string               // matched case-insensitively as "ci"
	}
	in := `{"i":{"$integer":"BwAAAAAAAAA="},"i8":3,"u":{"$integer":"AQAAAAAAAAA="},"f":{"$integer":"AgAAAAAAAAA="},
		"fi":1.5,"s":"x","b":{"$bytes":"AQI="},"any":{"k":{"$integer":"AQAAAAAAAAA="}},"p":{"$integer":"CQAAAAAAAAA="},
		"arr":[true,false],"Raw":{"z":1,"a":2},"map":{"m":[1,2]},"ci":"yes","ignored":1}`
	var got target
	if err := Unmarshal([]byte(in), &got); err != nil {
		t.Fatal(err)
	}
	nine := int64(9)
	want := target{I: 7, I8: 3, U: 1, F: 2, FI: 1.5, S: "x", B: []byte{1, 2}, Any: map[string]any{"k": Int64(1)},
		P: &nine, Arr: [2]bool{true, false}, Raw: json.RawMessage(`{"a":2,"z":1}`),
		Map: map[string][]float64{"m": {1, 2}}, CI: "yes"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}

	bad := []struct {
		name string
		in   string
		dst  any
		want string
	}{
		{"fraction into int", `1.5`, new(int), "does not fit"},
		{"overflow int8", `{"$integer":"AAEAAAAAAAA="}`, new(int8), "does not fit"},
		{"negative into uint", `{"$integer":"//////////8="}`, new(uint), "does not fit"},
		{"string into int", `"1"`, new(int), "cannot store a string"},
		{"bytes into string", `{"$bytes":"AQ=="}`, new(string), "cannot store bytes"},
		{"array into struct", `[1]`, new(struct{}), "cannot store an array"},
		{"wrong array length", `[1,2,3]`, new([2]float64), "does not fit"},
		{"nested path", `{"a":[1,"x"]}`, new(struct{ A []float64 }), "at .a[1]"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			err := Unmarshal([]byte(tt.in), tt.dst)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Unmarshal error = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
	if err := Unmarshal([]byte(`1`), target{}); err == nil {
		t.Error("Unmarshal into a non-pointer succeeded")
	}
	if err := Unmarshal([]byte(`1`), (*int)(nil)); err == nil {
		t.Error("Unmarshal into a nil pointer succeeded")
	}
}

func TestEncodeCleanJSON(t *testing.T) {
	v := map[string]any{"i": Int64(-5), "b": []byte("hi"), "nan": math.NaN(), "inf": math.Inf(1),
		"ninf": math.Inf(-1), "f": 1.5, "s": "x", "n": nil, "a": []any{true}}
	got, err := EncodeCleanJSON(v)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"a":[true],"b":"aGk=","f":1.5,"i":"-5","inf":"Infinity","n":null,"nan":"NaN","ninf":"-Infinity","s":"x"}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	got, err = EncodeExportJSON(v)
	if err != nil {
		t.Fatal(err)
	}
	want = `{"a":[true],"b":"aGk=","f":1.5,"i":-5,"inf":"Infinity","n":null,"nan":"NaN","ninf":"-Infinity","s":"x"}`
	if string(got) != want {
		t.Errorf("export: got  %s\nwant %s", got, want)
	}
	if _, err := EncodeCleanJSON(struct{}{}); err == nil {
		t.Error("EncodeCleanJSON accepted a struct, which is not a decoded value")
	}
}

func TestEncodeArgs(t *testing.T) {
	got, err := EncodeArgs(nil)
	if err != nil || string(got) != "{}" {
		t.Errorf("EncodeArgs(nil) = %s, %v", got, err)
	}
	for _, bad := range []any{1.0, "x", []any{}, []byte("x")} {
		if _, err := EncodeArgs(bad); err == nil || !strings.Contains(err.Error(), "must be an object") {
			t.Errorf("EncodeArgs(%#v) error = %v", bad, err)
		}
	}
	got, err = EncodeArgs(struct {
		Channel string `json:"channel"`
	}{"general"})
	if err != nil || string(got) != `{"channel":"general"}` {
		t.Errorf("EncodeArgs(struct) = %s, %v", got, err)
	}
}

type hidden struct {
	X any `json:"x"`
}

type withHidden struct {
	hidden
	Y int `json:"y"`
}

func TestEncodeThroughUnexportedEmbedded(t *testing.T) {
	got, err := EncodeValue(withHidden{hidden{X: map[string]any{"a": 1.0}}, 2})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"x":{"a":1},"y":2}`; string(got) != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func ptr[T any](v T) *T { return &v }

type priority int

type celsius float64

func (c celsius) MarshalJSON() ([]byte, error) {
	return []byte(fmt.Sprintf(`{"celsius":%v}`, float64(c))), nil
}

func (c *celsius) UnmarshalJSON(b []byte) error {
	var v struct{ Celsius float64 }
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*c = celsius(v.Celsius)
	return nil
}

type celsius2 struct{ v int }

func (c *celsius2) MarshalJSON() ([]byte, error) { return []byte(fmt.Sprintf(`{"c":%d}`, c.v)), nil }

type level int

func (l level) MarshalText() ([]byte, error) { return []byte(fmt.Sprintf("level-%d", int(l))), nil }

type badMarshaler struct{}

func (badMarshaler) MarshalJSON() ([]byte, error) { return nil, errors.New("no") }

type rawMarshaler string

func (r rawMarshaler) MarshalJSON() ([]byte, error) { return []byte(r), nil }

// Go numbers behave as JavaScript numbers: what a document read into Go
// integers holds can be written back as the same Float64 values.
func TestIntegersRoundTripAsFloat64(t *testing.T) {
	type doc struct {
		Priority int     `json:"priority"`
		Count    uint16  `json:"count"`
		Score    float64 `json:"score"`
		Exact    Int64   `json:"exact"`
		Tagged   int64   `json:"tagged" convex:"int64"`
	}
	in := `{"count":3,"exact":{"$integer":"BQAAAAAAAAA="},"priority":2,"score":1.5,"tagged":{"$integer":"BgAAAAAAAAA="}}`
	var d doc
	if err := Unmarshal([]byte(in), &d); err != nil {
		t.Fatal(err)
	}
	if d != (doc{Priority: 2, Count: 3, Score: 1.5, Exact: 5, Tagged: 6}) {
		t.Fatalf("decoded %+v", d)
	}
	out, err := EncodeValue(d)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != in {
		t.Errorf("re-encoded\n%s\nwant\n%s", out, in)
	}
	// An Int64 decodes into a plain integer too, and a Float64 into Int64.
	var n struct {
		A int   `json:"a"`
		B Int64 `json:"b"`
	}
	if err := Unmarshal([]byte(`{"a":{"$integer":"BwAAAAAAAAA="},"b":8}`), &n); err != nil || n.A != 7 || n.B != 8 {
		t.Errorf("cross decode: %+v, %v", n, err)
	}
}

func TestUnmarshalRefusesInexact(t *testing.T) {
	var f float64
	// 2^53+1 as an Int64 cannot become a float64 without rounding.
	err := Unmarshal([]byte(`{"$integer":"AQAAAAAAIAA="}`), &f)
	if err == nil || !strings.Contains(err.Error(), "cannot be held exactly") {
		t.Errorf("Int64 2^53+1 into float64: %v (f=%v)", err, f)
	}
	var i int
	if err := Unmarshal([]byte(`1.5`), &i); err == nil {
		t.Error("1.5 into int succeeded")
	}
	var tm time.Time
	if err := Unmarshal([]byte(`"2024-01-01T00:00:00Z"`), &tm); err == nil || !strings.Contains(err.Error(), "time.Time") {
		t.Errorf("into time.Time: %v", err)
	}
}

func TestJSONNumber(t *testing.T) {
	var n json.Number
	for in, want := range map[string]string{`12`: "12", `{"$integer":"/////////38="}`: "9223372036854775807", `-0.5`: "-0.5", `1e21`: "1e+21"} {
		if err := Unmarshal([]byte(in), &n); err != nil || string(n) != want {
			t.Errorf("Unmarshal(%s) = %q, %v; want %q", in, n, err, want)
		}
	}
	if err := Unmarshal([]byte(`"12"`), &n); err == nil {
		t.Error("a string decoded into a json.Number")
	}
	if err := Unmarshal([]byte(`{"$float":"AAAAAAAA+H8="}`), &n); err == nil {
		t.Error("NaN decoded into a json.Number")
	}
}

func TestMarshalerRoundTrip(t *testing.T) {
	type reading struct {
		Temp celsius `json:"temp"`
	}
	b, err := EncodeValue(reading{21.5})
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"temp":{"celsius":21.5}}` {
		t.Fatalf("encoded %s", b)
	}
	var back reading
	if err := Unmarshal(b, &back); err != nil || back.Temp != 21.5 {
		t.Errorf("decoded %+v, %v", back, err)
	}
}

func TestParseInt64Literal(t *testing.T) {
	for in, want := range map[string]Int64{"0": 0, "-1": -1, "9007199254740993": 9007199254740993, "9223372036854775807": math.MaxInt64} {
		if got, err := ParseInt64Literal(in); err != nil || got != want {
			t.Errorf("ParseInt64Literal(%q) = %d, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "1.0", "1e3", "01", "-", "9223372036854775808", "x"} {
		if _, err := ParseInt64Literal(in); err == nil {
			t.Errorf("ParseInt64Literal(%q) succeeded", in)
		}
	}
}
