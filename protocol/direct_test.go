package protocol

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Destination types for comparing the direct path of Unmarshal with the
// reference (unmarshalReference): every kind assign handles, the tag and
// embedding rules of structFields, and the types the direct path leaves
// to the reference.

type fzLeaf struct {
	A int       `json:"a"`
	B *string   `json:"b"`
	C []float64 `json:"c"`
	D bool
}

type fzEmbed struct {
	E1   string `json:"e1"`
	E2   int8
	Name string // hidden by fzAll.Name
}

type FzEmbedPtr struct {
	X uint16  `json:"x"`
	Y *fzLeaf `json:"y"`
}

type fzHidden struct {
	H string `json:"h"`
}

type fzHidden2 struct {
	W int `json:"w"`
}

type (
	fzNamedStr   string
	fzNamedInt   int16
	fzNamedMap   map[fzNamedStr]fzNamedStr
	fzNamedSlice []fzLeaf
	fzNamedAny   []any
	fzNamedObj   map[string]any
)

type fzAll struct {
	ID      string             `json:"_id"`
	Created float64            `json:"_creationTime"`
	Name    string             // matched ignoring case too
	Count   int                `json:"count"`
	U8      uint8              `json:"u8"`
	U       uint               `json:"u"`
	U64     uint64             `json:"u64"`
	I64     int64              `json:"i64" convex:"int64"`
	NI      fzNamedInt         `json:"ni"`
	F32     float32            `json:"f32"`
	Flag    bool               `json:"flag"`
	Big     Int64              `json:"big"`
	Bytes   []byte             `json:"bytes"`
	Arr     [2]int             `json:"arr"`
	BArr    [2]byte            `json:"barr"`
	I8s     [3]int8            `json:"i8s"`
	Any     any                `json:"any"`
	Raw     json.RawMessage    `json:"raw"`
	Num     json.Number        `json:"num"`
	Ptr     *fzLeaf            `json:"ptr"`
	PP      **int              `json:"pp"`
	F64p    *float64           `json:"f64p"`
	Leaf    fzLeaf             `json:"leaf"`
	Leaves  []fzLeaf           `json:"leaves"`
	PLeaves []*fzLeaf          `json:"pleaves"`
	Strs    []string           `json:"strs"`
	M       map[string]int     `json:"m"`
	MP      map[string]*fzLeaf `json:"mp"`
	MA      map[string]any     `json:"ma"`
	SA      []any              `json:"sa"`
	NA      fzNamedAny         `json:"na"`
	NO      fzNamedObj         `json:"no"`
	MK      map[int]string     `json:"mk"`
	NM      fzNamedMap         `json:"nm"`
	NS      fzNamedSlice       `json:"ns"`
	Nested  [][]int            `json:"nested"`
	Str     fmt.Stringer       `json:"str"`
	Ch      chan int           `json:"ch"`
	Tm      *time.Time         `json:"tm"`
	Rec     *fzAll             `json:"rec"`
	Empty   struct{}           `json:"empty"`
	Skip    string             `json:"-"`
	//lint:ignore SA5008 the field named "-" is one of the tag rules under test
	Dash   string `json:"-,"`
	Dup1   string `json:"dup"`
	Dup2   string `json:"DUP"`
	Kelvin string `json:"Key"`  // KELVIN SIGN: "key" matches it ignoring case
	LongS  string `json:"ſong"` // LATIN SMALL LETTER LONG S
	NoFold string `json:"été"`
	Omit   string `json:"omit,omitempty"`
	//lint:ignore SA5008 names holding a quote and a backslash are valid Convex field names
	Quote string `json:"q\"t"`
	//lint:ignore SA5008 as above
	Back string `json:"b\\s"`
	fzEmbed
	*FzEmbedPtr
	fzHidden
	Uptr uintptr `json:"uptr"`
}

type fzC1 struct{ Z int }
type fzC2 struct{ Z string }
type fzC3 struct {
	Z bool `json:"Z"`
}

type fzConflict struct {
	fzC1
	fzC2
	Inner struct {
		fzC1
		fzC3
	} `json:"inner"`
}

type fzHidPtr struct {
	*fzHidden2
	V int `json:"v"`
}

type fzWithCelsius struct {
	T celsius `json:"t"`
	N int     `json:"n"`
}

type fzDeepCelsius struct {
	L []map[string]*celsius `json:"l"`
}

type fzRO struct {
	fzHidden `json:"hid"`
	N        int `json:"n"`
}

type fzSelf *fzSelf

// fzLarge has more than 64 fields, past the bit masks of decodeStruct.
var fzLarge = func() reflect.Type {
	var fields []reflect.StructField
	for i := range 70 {
		tag := fmt.Sprintf(`json:"f%d"`, i)
		if i%10 == 9 {
			tag = fmt.Sprintf(`json:"F%d"`, i-1) // case twin of f(i-1)
		}
		var t reflect.Type
		switch i % 3 {
		case 0:
			t = reflect.TypeFor[int]()
		case 1:
			t = reflect.TypeFor[string]()
		default:
			t = reflect.TypeFor[[]float64]()
		}
		fields = append(fields, reflect.StructField{Name: fmt.Sprintf("F%d", i), Type: t, Tag: reflect.StructTag(tag)})
	}
	return reflect.StructOf(fields)
}()

// fzTypes are the destination types, as the pointer types Unmarshal gets.
var fzTypes = []reflect.Type{
	reflect.TypeFor[*[]listDoc](),
	reflect.TypeFor[*[]map[string]any](),
	reflect.TypeFor[*map[string]any](),
	reflect.TypeFor[*any](),
	reflect.TypeFor[*[]any](),
	reflect.TypeFor[*string](),
	reflect.TypeFor[*int](),
	reflect.TypeFor[*int8](),
	reflect.TypeFor[*uint32](),
	reflect.TypeFor[*uint64](),
	reflect.TypeFor[*float64](),
	reflect.TypeFor[*float32](),
	reflect.TypeFor[*bool](),
	reflect.TypeFor[*Int64](),
	reflect.TypeFor[*[]byte](),
	reflect.TypeFor[*json.RawMessage](),
	reflect.TypeFor[*json.Number](),
	reflect.TypeFor[*[3]float32](),
	reflect.TypeFor[*[0]int](),
	reflect.TypeFor[**int](),
	reflect.TypeFor[***fzLeaf](),
	reflect.TypeFor[*fzLeaf](),
	reflect.TypeFor[*fzAll](),
	reflect.TypeFor[*[]fzAll](),
	reflect.TypeFor[*map[string]fzLeaf](),
	reflect.TypeFor[*map[fzNamedStr][]int](),
	reflect.TypeFor[*fzNamedMap](),
	reflect.TypeFor[*fzNamedSlice](),
	reflect.TypeFor[*fzNamedAny](),
	reflect.TypeFor[*fzNamedObj](),
	reflect.TypeFor[*[2]fzLeaf](),
	reflect.TypeFor[*[]*fzLeaf](),
	reflect.TypeFor[*map[string]*int](),
	reflect.TypeFor[*map[string][]any](),
	reflect.TypeFor[*[][]string](),
	reflect.TypeFor[*fzConflict](),
	reflect.TypeFor[*fzHidPtr](),
	reflect.TypeFor[*fzWithCelsius](),
	reflect.TypeFor[*fzDeepCelsius](),
	reflect.TypeFor[*[]celsius](),
	reflect.TypeFor[*fzRO](),
	reflect.TypeFor[*struct{}](),
	reflect.TypeFor[*time.Time](),
	reflect.TypeFor[*map[int]string](),
	reflect.TypeFor[*chan int](),
	reflect.PointerTo(fzLarge),
	reflect.PointerTo(reflect.SliceOf(fzLarge)),
}

var fzCmp = []cmp.Option{
	cmp.Comparer(func(x, y float64) bool {
		return math.Float64bits(x) == math.Float64bits(y) || x != x && y != y
	}),
	cmp.Comparer(func(x, y float32) bool {
		return math.Float32bits(x) == math.Float32bits(y) || x != x && y != y
	}),
	// Generic values by equalValues: cmp's own diff of deeply nested
	// slices takes exponential time.
	cmp.Comparer(func(x, y []any) bool { return equalValues(x, y) }),
	cmp.Comparer(func(x, y map[string]any) bool { return equalValues(x, y) }),
	cmp.Exporter(func(reflect.Type) bool { return true }),
}

// fzFill gives v (settable) a deterministic non-zero value, so that a
// destination that is not zero can be tried: two fills of one type are
// equal and share no memory.
func fzFill(v reflect.Value, depth int) {
	if depth > 3 || !v.CanSet() {
		return
	}
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(7)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		v.SetUint(9)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(2.5)
	case reflect.String:
		v.SetString("old")
	case reflect.Pointer:
		if v.Type().Elem() == v.Type() {
			return
		}
		v.Set(reflect.New(v.Type().Elem()))
		fzFill(v.Elem(), depth+1)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 3)
		for i := range 2 {
			fzFill(s.Index(i), depth+1)
		}
		v.Set(s)
	case reflect.Array:
		for i := range v.Len() {
			fzFill(v.Index(i), depth+1)
		}
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k := reflect.New(v.Type().Key()).Elem()
		fzFill(k, depth+1)
		e := reflect.New(v.Type().Elem()).Elem()
		fzFill(e, depth+1)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Struct:
		if v.Type() == timeType {
			v.Set(reflect.ValueOf(time.Unix(5, 0).UTC()))
			return
		}
		for i := range v.NumField() {
			fzFill(v.Field(i), depth+1)
		}
	case reflect.Interface:
		if v.NumMethod() == 0 {
			v.Set(reflect.ValueOf("old"))
		}
	}
}

// fzNew returns a new pointer of type pt, to a zero or a filled value.
func fzNew(pt reflect.Type, filled bool) reflect.Value {
	p := reflect.New(pt.Elem())
	if filled {
		fzFill(p.Elem(), 0)
	}
	return p
}

// caught runs f and returns the value it panicked with, if any.
func caught(f func()) (r any) {
	defer func() { r = recover() }()
	f()
	return nil
}

// fzFieldFolds holds, for each name of a struct field of fzTypes, its
// case-folded form.
var fzFieldFolds = func() map[string]map[string]bool {
	out := map[string]map[string]bool{}
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type)
	walk = func(t reflect.Type) {
		if seen[t] {
			return
		}
		seen[t] = true
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
			walk(t.Elem())
		case reflect.Struct:
			for _, fi := range structFields(t) {
				if f, ok := foldASCII(fi.name); ok {
					if out[f] == nil {
						out[f] = map[string]bool{}
					}
					out[f][fi.name] = true
				}
				ft := t
				for k, x := range fi.index {
					if k > 0 && ft.Kind() == reflect.Pointer {
						ft = ft.Elem()
					}
					ft = ft.Field(x).Type
				}
				walk(ft)
			}
		}
	}
	for _, t := range fzTypes {
		walk(t)
	}
	return out
}()

// ambiguousKeys reports whether some object in data has two different
// keys that equal a field name of fzTypes ignoring case, neither of them
// exactly. Into that field assign stores the one map iteration meets
// first, so the reference itself is not deterministic there.
func ambiguousKeys(data []byte) bool {
	v, err := DecodeValue(data)
	if err != nil {
		return false
	}
	var walk func(any) bool
	walk = func(v any) bool {
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				if walk(e) {
					return true
				}
			}
		case map[string]any:
			groups := map[string][]string{}
			for k, e := range x {
				if walk(e) {
					return true
				}
				f := strings.ToLower(k) // keys are ASCII
				groups[f] = append(groups[f], k)
			}
			for f, keys := range groups {
				if len(keys) < 2 {
					continue
				}
				for name := range fzFieldFolds[f] {
					exact := false
					for _, k := range keys {
						exact = exact || k == name
					}
					if !exact {
						return true
					}
				}
			}
		}
		return false
	}
	return walk(v)
}

// fzSame compares two values of one type exactly: floats by their bits
// (any NaN equal to any), nil apart from empty, slice capacities too (cmp
// compares lengths and elements only). It returns where they first differ,
// or "". It is the fast check; cmp.Diff shows a difference it finds.
func fzSame(want, got reflect.Value, path string) string {
	if want.IsValid() != got.IsValid() {
		return path + ": validity"
	}
	if !want.IsValid() {
		return ""
	}
	if want.Type() != got.Type() {
		return fmt.Sprintf("%s: type %s, want %s", path, got.Type(), want.Type())
	}
	switch want.Kind() {
	case reflect.Bool:
		if want.Bool() != got.Bool() {
			return path
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if want.Int() != got.Int() {
			return path
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if want.Uint() != got.Uint() {
			return path
		}
	case reflect.Float32, reflect.Float64:
		x, y := want.Float(), got.Float()
		if math.Float64bits(x) != math.Float64bits(y) && !(x != x && y != y) {
			return path
		}
	case reflect.String:
		if want.String() != got.String() {
			return path
		}
	case reflect.Slice:
		if want.IsNil() != got.IsNil() || want.Len() != got.Len() || want.Cap() != got.Cap() {
			return fmt.Sprintf("%s: nil %v len %d cap %d, want nil %v len %d cap %d",
				path, got.IsNil(), got.Len(), got.Cap(), want.IsNil(), want.Len(), want.Cap())
		}
		fallthrough
	case reflect.Array:
		for i := range want.Len() {
			if d := fzSame(want.Index(i), got.Index(i), fmt.Sprintf("%s[%d]", path, i)); d != "" {
				return d
			}
		}
	case reflect.Pointer, reflect.Interface:
		if want.IsNil() != got.IsNil() {
			return path + ": nil"
		}
		if !want.IsNil() {
			return fzSame(want.Elem(), got.Elem(), path)
		}
	case reflect.Struct:
		for i := range want.NumField() {
			if d := fzSame(want.Field(i), got.Field(i), path+"."+want.Type().Field(i).Name); d != "" {
				return d
			}
		}
	case reflect.Map:
		if want.IsNil() != got.IsNil() || want.Len() != got.Len() {
			return path + ": nil or length"
		}
		it := want.MapRange()
		for it.Next() {
			g := got.MapIndex(it.Key())
			if !g.IsValid() {
				return fmt.Sprintf("%s[%v]: missing", path, it.Key())
			}
			if d := fzSame(it.Value(), g, fmt.Sprintf("%s[%v]", path, it.Key())); d != "" {
				return d
			}
		}
	case reflect.Chan, reflect.Func, reflect.UnsafePointer:
		if want.IsNil() != got.IsNil() || want.Pointer() != got.Pointer() {
			return path
		}
	default:
		return path + ": unexpected kind " + want.Kind().String()
	}
	return ""
}

// differ returns "" when want and got (pointers) hold the same, or the
// difference, shown by cmp.Diff where it sees one.
func differ(want, got reflect.Value) string {
	d := fzSame(want, got, "v")
	if d == "" {
		return ""
	}
	if diff := cmp.Diff(want.Interface(), got.Interface(), fzCmp...); diff != "" {
		return diff
	}
	return d
}

// compareDirect checks Unmarshal and the direct path against the
// reference for data into a pt (a pointer type), from a zero and from a
// filled destination.
func compareDirect(t *testing.T, data []byte, pt reflect.Type) {
	t.Helper()
	ambiguous := ambiguousKeys(data)
	for _, filled := range []bool{false, true} {
		ref := fzNew(pt, filled)
		var refErr error
		refPanic := caught(func() { refErr = unmarshalReference(data, ref) })

		got := fzNew(pt, filled)
		var err error
		gotPanic := caught(func() { err = Unmarshal(data, got.Interface()) })

		// The direct path alone, without its recover: it must not panic.
		direct := fzNew(pt, filled)
		ok := unmarshalDirect(data, direct.Elem(), false)

		if ambiguous {
			continue // the reference's own result is a matter of chance
		}
		what := fmt.Sprintf("%s (filled %v) from %q", pt.Elem(), filled, data)
		if (refPanic != nil) != (gotPanic != nil) {
			t.Fatalf("%s: panic %v, reference panic %v", what, gotPanic, refPanic)
		}
		if refPanic != nil {
			if ok {
				t.Fatalf("%s: the direct path succeeded where the reference panics (%v)", what, refPanic)
			}
			continue
		}
		if (err == nil) != (refErr == nil) {
			t.Fatalf("%s: error %v, reference error %v", what, err, refErr)
		}
		if err != nil && err.Error() != refErr.Error() && !refCanSay(data, pt, filled, err.Error()) {
			t.Fatalf("%s: error %q, reference error %q", what, err, refErr)
		}
		if diff := differ(ref, got); diff != "" {
			t.Fatalf("%s: Unmarshal differs from the reference (err %v) (-ref +got):\n%s", what, err, diff)
		}
		if ok {
			if refErr != nil {
				t.Fatalf("%s: the direct path succeeded where the reference fails: %v", what, refErr)
			}
			if diff := differ(ref, direct); diff != "" {
				t.Fatalf("%s: the direct path differs from the reference (-ref +direct):\n%s", what, diff)
			}
		} else if diff := differ(fzNew(pt, filled), direct); diff != "" {
			t.Fatalf("%s: the direct path gave up but changed the destination (-before +after):\n%s", what, diff)
		}
	}
}

// refCanSay reports whether the reference, run again, can fail with msg:
// which of several bad map entries it reports depends on map order.
func refCanSay(data []byte, pt reflect.Type, filled bool, msg string) bool {
	for range 200 {
		if err := unmarshalReference(data, fzNew(pt, filled)); err != nil && err.Error() == msg {
			return true
		}
	}
	return false
}

// directSeeds are inputs for the direct path: each of its decisions, and
// the special values and limits of the value decoder.
var directSeeds = []string{
	`null`, `true`, `false`, `-0`, `0`, `1`, `-1`, `1.5`, `-0.0`, `1e400`, `1e-400`, `123456789012345`, `1234567890123456`,
	`-1234567890123456789`, `9223372036854775807`, `9223372036854775808`, `-9223372036854775808`, `18446744073709551615`,
	`4294967296`, `255`, `256`, `-129`, `3.4e39`, `1735689599000.5`, `0.1`, `12345678.9012345`, `1E5`, `2e-3`,
	`"s"`, `""`, `"\u00e9\ud800"`, "\"\xff\"", `"a\"b\\c\/\n"`, `"QueryUpdated"`, "\"\x7f\"",
	`[]`, `{}`, `[1,2]`, `[1,2,3]`, `[true,false]`, `[[1],[2,3]]`, `[null]`, `[1,]`, `[1 2]`, ` [ 1 , 2 ] `,
	`{"a":1,"a":2}`, `{"a":"x","a":1}`, `{"a":1,"a":"x"}`, `{"$integer":"/JxOAAAAAAA="}`, `{"$integer":"AQAAAAAAIAA="}`,
	`{"$integer":"AAAAAAAAAIA="}`, `{"$integer":"////////f38="}`, `{"$integer":"AAAA"}`, `{"$integer":5}`,
	`{"$float":"AAAAAAAA+H8="}`, `{"$float":"AAAAAAAA8H8="}`, `{"$float":"AAAAAAAAAIA="}`, `{"$float":"AAAAAAAA+D8="}`,
	`{"$bytes":"ABCD"}`, `{"$bytes":""}`, `{"$bytes":"AQI="}`, `{"$bytes":"!"}`, `{"\u0024bytes":"ABCD"}`,
	`{"$integer":{},"$integer":"AQAAAAAAAAA="}`, `{"$set":[]}`, `{"a\u0000":1}`, `{"a\u0041":1}`, "{\"\x7f\":1}",
	`{"b":[1,{"$integer":"AQAAAAAAAAA="}],"a":{"c":null}}`, `[[[[[]]]]]`, `01`, `{"a":1}x`, `{"a":1,}`, `{"a"1}`,
	strings.Repeat("[", 64) + strings.Repeat("]", 64), strings.Repeat("[", 65) + strings.Repeat("]", 65),
	strings.Repeat("[", 63) + "{}" + strings.Repeat("]", 63), strings.Repeat("[", 64) + "{}" + strings.Repeat("]", 64),
	strings.Repeat(`{"a":`, 64) + `{"$integer":"AQAAAAAAAAA="}` + strings.Repeat("}", 64),
	strings.Repeat(`{"rec":`, 63) + `{"count":1}` + strings.Repeat("}", 63),
	strings.Repeat(`{"rec":`, 64) + `{}` + strings.Repeat("}", 64),
	strings.Repeat(`{"leaves":[`, 20) + strings.Repeat("]}", 20),
	// Struct fields.
	`{"_id":"k1","_creationTime":1735689599000.5,"name":"n","count":3,"u8":255,"u":1,"u64":{"$integer":"//////////8="},"i64":{"$integer":"BgAAAAAAAAA="}}`,
	`{"ni":-32768,"f32":1.5,"flag":true,"big":{"$integer":"BQAAAAAAAAA="},"bytes":{"$bytes":"AQI="},"arr":[1,2],"barr":{"$bytes":"AQI="},"i8s":[1,2,3]}`,
	`{"any":{"k":{"$integer":"AQAAAAAAAAA="}},"raw":{"z":1,"a":[2,{"$float":"AAAAAAAA+H8="}]},"num":1.25,"ptr":{"a":1,"b":"s","c":[1.5],"D":true},"pp":5,"f64p":null}`,
	`{"leaf":{"a":1,"A":2},"leaves":[{"a":1},{"b":null},{}],"pleaves":[null,{"a":2}],"strs":["a","\u00e9"],"m":{"x":1,"y":2},"mp":{"p":null,"q":{"a":1}}}`,
	`{"ma":{"a":[1,{"b":null}]},"sa":[1,"x",null,{"$bytes":"AQ=="}],"na":[],"no":{},"mk":{"1":"a"},"nm":{"a":"b"},"ns":[{"a":1}],"nested":[[1],[],[2,3]]}`,
	`{"str":null,"ch":null,"tm":null,"rec":{"rec":{"name":"deep"}},"empty":{},"Skip":"no","-":"dash","dup":"lower","DUP":"upper","Dup":"mixed"}`,
	`{"key":"kelvin","KEY":"kelvin2","long":"s","LONG":"S","\u00e9t\u00e9":"x","omit":"o","e1":"e","E2":3,"x":4,"y":{"a":1},"h":"hidden","uptr":7}`,
	`{"Name":"exact","name":"fold"}`, `{"name":"fold","Name":"exact"}`, `{"name":"a","NAME":"b"}`, `{"NAME":"a","NAME":"b"}`,
	`{"name":"a","name":"b","Name":"c"}`, `{"count":"x","count":1}`, `{"count":1,"COUNT":"x"}`, `{"dup":"a","Dup":"b"}`,
	`{"Dup":"b"}`, `{"DuP":"b","dup":"c"}`, `{"Z":1}`, `{"z":"s"}`, `{"inner":{"Z":true,"z":false}}`, `{"inner":{"z":1}}`,
	`{"w":1}`, `{"v":1,"w":null}`, `{"v":2}`, `{"t":{"celsius":21.5},"n":1}`, `{"t":null}`, `{"l":[{"a":{"celsius":1}}]}`,
	`{"hid":null,"n":1}`, `{"hid":{"h":"x"}}`, `{"n":"x","hid":null}`, `{"ch":[]}`, `{"str":"s"}`, `{"tm":"2024"}`,
	`{"f0":1,"f1":"s","f2":[1],"F8":[2],"f8":[3],"f69":1,"F69":2,"f63":1,"f64":"x","f65":[]}`,
	`[{"f68":"s","F68":"S"},{"f67":[1],"f66":5}]`, `{"f9":1}`, `{"F9":1}`,
	`[{"_creationTime":1735689599000.5,"_id":"j57","author":"ada","body":"hello","channel":"general"}]`,
	`[{"_creationTime":1,"_id":"a","author":null,"body":"b","channel":"c","extra":[{"$integer":"AQAAAAAAAAA="}]},null]`,
	`[{"_ID":"upper"}]`, `[{"_creationtime":5}]`, `[{"body":{"$bytes":"AQ=="}}]`, `[{"author":"\ud83d\ude00"}]`,
	`{"a":{"$integer":"AQAAAAAAAAA="},"b":[1,2],"c":1.5}`, `{"a":null}`, `{"b":"s","a":5,"c":[1,1e400]}`,
	`[1.5,2.5,{"$float":"AAAAAAAA+H8="}]`, `[1,{"$integer":"AQAAAAAAAAA="}]`, `[{"$integer":"AQAAAAAAIAA="}]`,
	`{"x":[1,2,3],"y":[]}`, `{"x":{"$bytes":"AQ=="}}`, `{"x":null,"y":[null]}`, `{"1":"a","2":"b"}`,
	`{"q\"t":"quote","b\\s":"backslash","Q\"T":"x","B\u005cS":"y","d\u007f":1}`, `{"q\u0022t":"q"}`,
	`{"a":{"b":{"c":{"$set":1}}}}`, `{"a":{"b":"\u0000"}}`, `{"extra":{"$bad":1},"a":1}`, `{"extra":{"\u0024integer":"AQAAAAAAAAA="}}`,
}

// fuzzCorpusInputs reads the []byte inputs of the other value and message
// fuzz targets' stored corpora.
func fuzzCorpusInputs(tb testing.TB) [][]byte {
	var out [][]byte
	for _, dir := range []string{"FuzzDecodeValue", "FuzzDecodeServerMessage", "FuzzFastValue", "FuzzUnmarshalDirect"} {
		files, _ := filepath.Glob(filepath.Join("testdata", "fuzz", dir, "*"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				tb.Fatal(err)
			}
			for line := range strings.SplitSeq(string(b), "\n") {
				if q, ok := strings.CutPrefix(line, "[]byte("); ok {
					if s, err := strconv.Unquote(strings.TrimSuffix(q, ")")); err == nil {
						out = append(out, []byte(s))
					}
				}
			}
		}
	}
	return out
}

// FuzzUnmarshalDirect compares Unmarshal, and its direct path alone, with
// the reference two-step decoding (DecodeValue, then assign) for every
// input into every destination type of fzTypes: the same result, the same
// error (message included), the same partial writes on error, and no
// panic in the direct path.
func FuzzUnmarshalDirect(f *testing.F) {
	for _, s := range directSeeds {
		f.Add([]byte(s))
	}
	for _, s := range transitionSeeds {
		f.Add([]byte(s))
	}
	for _, b := range fuzzCorpusInputs(f) {
		f.Add(b)
	}
	// A short list like the benchmark's (the 61 KB one is in
	// TestUnmarshalDirectSeeds; inputs that size slow the fuzzer down
	// a hundredfold).
	f.Add(listFrameN(f, 3))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, pt := range fzTypes {
			compareDirect(t, data, pt)
		}
	})
}

// TestUnmarshalDirectSeeds runs the comparison of FuzzUnmarshalDirect on
// its seeds and on the list of the benchmark, and checks that those the
// direct path should take it does take.
func TestUnmarshalDirectSeeds(t *testing.T) {
	for _, s := range directSeeds {
		for _, pt := range fzTypes {
			compareDirect(t, []byte(s), pt)
		}
	}
	frame := listFrame(t)
	for _, pt := range fzTypes {
		compareDirect(t, frame, pt)
	}
	var docs []listDoc
	if !unmarshalDirect(frame, reflect.ValueOf(&docs).Elem(), false) || len(docs) != 170 {
		t.Fatal("the direct path refused the benchmark's list")
	}
	var maps []map[string]any
	if !unmarshalDirect(frame, reflect.ValueOf(&maps).Elem(), false) || len(maps) != 170 {
		t.Fatal("the direct path refused the benchmark's list into maps")
	}
}

// TestUnmarshalDirectTakes lists inputs the direct path handles itself
// (not by giving up), so that a change making it give up more is seen.
func TestUnmarshalDirectTakes(t *testing.T) {
	for _, tt := range []struct {
		in  string
		dst any
	}{
		{`{"_id":"a","count":{"$integer":"AQAAAAAAAAA="},"leaf":{"a":1},"Name":"n","key":"k","dup":"d","DUP":"D"}`, new(fzAll)},
		{`{"name":"fold"}`, new(fzAll)},
		{`{"KEY":"kelvin","SONG":"long s","ETE":"no fold"}`, new(fzAll)},
		{`{"name":"fold","name":"again"}`, new(fzAll)},
		{`{"Dup":"both"}`, new(fzAll)},
		{`[1,2.5,null]`, new([]*float64)},
		{`{"a":[1],"b":null}`, new(map[string][]int)},
		{`[{"a":1}]`, new([]map[string]any)},
		{`[1,"x",{"$integer":"AQAAAAAAAAA="}]`, new([]any)},
		{`{"$integer":"AQAAAAAAAAA="}`, new(int)},
		{`[[1,2],[3,4]]`, new([2][2]int8)},
		{`{"x":4,"e1":"e"}`, new(fzAll)},
		{`{"F67":"a","F67":"b","f66":1,"F66":"x","f65":[1]}`, reflect.New(fzLarge).Interface()},
	} {
		if !unmarshalDirect([]byte(tt.in), reflect.ValueOf(tt.dst).Elem(), false) {
			t.Errorf("the direct path gave up on %s into %T", tt.in, tt.dst)
		}
		compareDirect(t, []byte(tt.in), reflect.TypeOf(tt.dst))
	}
}

// TestUnmarshalAllOrNothing pins the reference's behaviour on error that
// the direct path keeps: a struct keeps the fields assigned before the
// failing one, a slice or map destination is left as it was.
func TestUnmarshalAllOrNothing(t *testing.T) {
	var s struct {
		A int `json:"a"`
		B int `json:"b"`
		C int `json:"c"`
	}
	if err := Unmarshal([]byte(`{"c":3,"b":"x","a":1}`), &s); err == nil || s.A != 1 || s.B != 0 || s.C != 0 {
		t.Errorf("struct after error: %+v, %v", s, err)
	}
	list := []int{9}
	if err := Unmarshal([]byte(`[1,2,"x"]`), &list); err == nil || len(list) != 1 || list[0] != 9 {
		t.Errorf("slice after error: %v, %v", list, err)
	}
	if err := Unmarshal([]byte(`[1,2] x`), &list); err == nil || len(list) != 1 || list[0] != 9 {
		t.Errorf("slice after trailing garbage: %v, %v", list, err)
	}
	if err := Unmarshal([]byte(`[1,2]`), &list); err != nil || len(list) != 2 || cap(list) != 2 {
		t.Errorf("slice: %v (cap %d), %v", list, cap(list), err)
	}
}

// TestParseFloat64 checks the decimal fast path of parseFloat64 against
// strconv.ParseFloat.
func TestParseFloat64(t *testing.T) {
	for _, s := range []string{"0", "-0", "0.0", "-0.0", "1.5", "0.1", "0.3", "1735689599000.5", "999999999999999",
		"99999999999999.9", "0.000000000000001", "-0.000000000000009", "123456789012345", "1234567890123456",
		"9007199254740993", "0.1234567890123456", "1e5", "1E-5", "2.5e+3", "1.7976931348623157e308", "1e309", "4.9e-324"} {
		want, werr := strconv.ParseFloat(s, 64)
		got, ok := parseFloat64([]byte(s))
		if ok != (werr == nil) || ok && math.Float64bits(got) != math.Float64bits(want) {
			t.Errorf("parseFloat64(%s) = %v, %v; ParseFloat gives %v, %v", s, got, ok, want, werr)
		}
	}
	for i := range 200000 {
		// Decimals of up to 15 digits, the fast path's whole domain.
		n := uint64(i)*48271%1000000000000000 + uint64(i)
		digits := strconv.FormatUint(n, 10)
		for point := 1; point < len(digits); point += 3 {
			s := digits[:point] + "." + digits[point:]
			if len(digits) > 1 && digits[0] == '0' {
				continue
			}
			want, _ := strconv.ParseFloat(s, 64)
			if got, ok := parseFloat64([]byte(s)); !ok || math.Float64bits(got) != math.Float64bits(want) {
				t.Fatalf("parseFloat64(%s) = %v, want %v", s, got, want)
			}
		}
	}
}

// TestUnmarshalDirectGivesUp lists inputs the direct path must leave to
// the reference, whose result it could not promise to match.
func TestUnmarshalDirectGivesUp(t *testing.T) {
	filled := fzNew(reflect.TypeFor[*fzLeaf](), true).Interface()
	for _, tt := range []struct {
		why string
		in  string
		dst any
	}{
		{"two keys match Name ignoring case only: map order decides", `{"name":"a","NAME":"b"}`, new(fzAll)},
		{"the same, nested", `{"rec":{"nAme":"a","namE":"b"}}`, new(fzAll)},
		{"a struct that is not zero: assign merges", `{"a":1}`, filled},
		{"json.Unmarshaler", `{"t":{"celsius":1}}`, new(fzWithCelsius)},
		{"json.Unmarshaler deep inside", `{"l":[]}`, new(fzDeepCelsius)},
		{"a field assign cannot set", `{"n":1}`, new(fzRO)},
		{"a pointer cycle", `null`, new(fzSelf)},
		{"an interface", `1`, new(any)},
		{"a nil unexported embedded pointer", `{"w":1}`, new(fzHidPtr)},
		{"an error", `{"count":"x"}`, new(fzAll)},
		// Not errors, but a key's value that does not fit is taken as one,
		// although a later key may replace it (never in canonical JSON).
		{"a repeated key", `{"count":"x","count":1}`, new(fzAll)},
		{"a key matching ignoring case before the exact one", `{"dUp":1,"DUP":"x"}`, new(fzAll)},
		{"trailing text", `[1] x`, new([]int)},
		{"too deep", strings.Repeat("[", 65) + strings.Repeat("]", 65), new([]any)},
	} {
		if unmarshalDirect([]byte(tt.in), reflect.ValueOf(tt.dst).Elem(), false) {
			t.Errorf("%s: the direct path took %s into %T", tt.why, tt.in, tt.dst)
		}
		if tt.dst != filled && reflect.TypeOf(tt.dst) != reflect.TypeFor[*fzSelf]() {
			compareDirect(t, []byte(tt.in), reflect.TypeOf(tt.dst))
		}
	}
}
