package protocol

import (
	"bytes"
	"encoding"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Limits the deployment enforces on values. The encoder checks them so that
// a bad value fails early with a clear error instead of at the server.
const (
	// MaxDepth is the deepest nesting of arrays and objects in a value.
	MaxDepth = 64
	// MaxObjectFields is the largest number of fields in one object.
	MaxObjectFields = 1024
	// MaxArrayLength is the largest number of elements in one array.
	MaxArrayLength = 8192
	// MaxFieldNameLength is the longest object field name, in bytes.
	MaxFieldNameLength = 1024
	// MaxArgsSize is the largest encoded size of a function's arguments.
	MaxArgsSize = 16 << 20
)

// ErrInvalidValue is matched (with errors.Is) by every *ValueError.
var ErrInvalidValue = errors.New("invalid Convex value")

// ValueError reports a value that cannot be encoded or decoded as a Convex
// value. Path locates the offending part, for example ".messages[3].body";
// it is empty for the value as a whole.
type ValueError struct {
	Path   string
	Reason string
}

// Error describes the failure.
func (e *ValueError) Error() string {
	if e.Path == "" {
		return "convex: invalid value: " + e.Reason
	}
	return "convex: invalid value at " + e.Path + ": " + e.Reason
}

// Is reports whether target is ErrInvalidValue.
func (e *ValueError) Is(target error) bool { return target == ErrInvalidValue }

func valueErr(format string, args ...any) error {
	return &ValueError{Reason: fmt.Sprintf(format, args...)}
}

// valueErrAt is valueErr for the field k of the current object.
func valueErrAt(k string, format string, args ...any) error {
	return atKey(valueErr(format, args...), k)
}

// atKey and atIndex add one step to a *ValueError's Path as the error
// travels up out of a nested value, so that the path costs nothing unless
// there is an error.
func atKey(err error, k string) error {
	if ve, ok := err.(*ValueError); ok {
		ve.Path = "." + k + ve.Path
	}
	return err
}

func atIndex(err error, i int) error {
	if ve, ok := err.(*ValueError); ok {
		ve.Path = "[" + strconv.Itoa(i) + "]" + ve.Path
	}
	return err
}

// ValidateFieldName reports whether name may be used as an object field name
// in a Convex value: at most 1024 bytes of printable ASCII (32-126), not
// starting with '$'. The empty name is allowed.
func ValidateFieldName(name string) error {
	if len(name) > MaxFieldNameLength {
		return fmt.Errorf("field name of %d bytes is longer than %d", len(name), MaxFieldNameLength)
	}
	if strings.HasPrefix(name, "$") {
		return fmt.Errorf("field name %q starts with '$'", name)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 32 || c > 126 {
			return fmt.Errorf("field name %q holds a character outside printable ASCII", name)
		}
	}
	return nil
}

// EncodeValue encodes v as canonical Convex JSON ("convex_encoded_json"):
// object keys sorted at every level, no whitespace. See the package
// documentation for the mapping from Go types.
func EncodeValue(v any) ([]byte, error) {
	return AppendValue(nil, v)
}

// AppendValue appends the canonical Convex JSON of v to dst.
func AppendValue(dst []byte, v any) ([]byte, error) {
	e := encoder{buf: dst}
	if err := e.encodeAny(v, 0); err != nil {
		return dst, err
	}
	return e.buf, nil
}

// EncodeArgs encodes a function's arguments: v must encode to an object
// (nil gives {}). The result is the object itself, not the one-element
// array the wire wraps it in.
func EncodeArgs(v any) ([]byte, error) {
	b, err := AppendArgs(nil, v)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// AppendArgs appends the encoded arguments object of v (what EncodeArgs
// returns) to dst. On error it returns dst unchanged, with the error
// EncodeArgs gives.
func AppendArgs(dst []byte, v any) ([]byte, error) {
	if v == nil {
		return append(dst, "{}"...), nil
	}
	start := len(dst)
	out, err := AppendValue(dst, v)
	if err != nil {
		return dst, err
	}
	b := out[start:]
	// Canonical field names never start with '$', so `{"$` opens a special
	// value such as Bytes, not an object.
	if len(b) == 0 || b[0] != '{' || bytes.HasPrefix(b, []byte(`{"$`)) {
		return dst, &ValueError{Reason: fmt.Sprintf("function arguments must be an object, not %s", describe(reflect.ValueOf(v)))}
	}
	if len(b) > MaxArgsSize {
		return dst, &ValueError{Reason: fmt.Sprintf("arguments of %d bytes exceed the %d-byte limit", len(b), MaxArgsSize)}
	}
	return out, nil
}

func describe(v reflect.Value) string {
	if !v.IsValid() {
		return "null"
	}
	return v.Type().String()
}

type encoder struct {
	buf []byte
}

var (
	rawMessageType    = reflect.TypeFor[json.RawMessage]()
	int64Type         = reflect.TypeFor[Int64]()
	numberType        = reflect.TypeFor[json.Number]()
	timeType          = reflect.TypeFor[time.Time]()
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	unmarshalerType   = reflect.TypeFor[json.Unmarshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

// errTime is the error for a time.Time, which has no Convex form.
func errTime() error {
	return valueErr("time.Time has no Convex form; store a time as a float64 of milliseconds since the Unix epoch (t.UnixMilli()), as Convex's _creationTime is")
}

// encodeAny handles the decoded-value types without reflection, which is
// what most arguments and every re-encoded value are made of.
func (e *encoder) encodeAny(x any, depth int) error {
	switch x := x.(type) {
	case nil:
		e.buf = append(e.buf, "null"...)
	case string:
		return e.appendString(x)
	case float64:
		e.appendFloat(x)
	case Int64:
		e.appendInt64(int64(x))
	case int64:
		return e.appendInteger(x)
	case int:
		return e.appendInteger(int64(x))
	case json.Number:
		f, err := numberToFloat(x)
		if err != nil {
			return err
		}
		e.appendFloat(f)
	case bool:
		e.buf = strconv.AppendBool(e.buf, x)
	case []byte:
		if x == nil {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		e.appendBytes(x)
	case []any:
		if x == nil {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		if err := e.enter(depth); err != nil {
			return err
		}
		if len(x) > MaxArrayLength {
			return valueErr("array of %d elements is longer than %d", len(x), MaxArrayLength)
		}
		e.buf = append(e.buf, '[')
		for i, el := range x {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			if err := e.encodeAny(el, depth+1); err != nil {
				return atIndex(err, i)
			}
		}
		e.buf = append(e.buf, ']')
	case map[string]any:
		if x == nil {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		if err := e.enter(depth); err != nil {
			return err
		}
		if len(x) > MaxObjectFields {
			return valueErr("object with %d fields has more than %d", len(x), MaxObjectFields)
		}
		var stack [16]string
		keys := stack[:0]
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		e.buf = append(e.buf, '{')
		for i, k := range keys {
			if err := ValidateFieldName(k); err != nil {
				return valueErr("%v", err)
			}
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			e.buf = appendQuoted(e.buf, k)
			e.buf = append(e.buf, ':')
			if err := e.encodeAny(x[k], depth+1); err != nil {
				return atKey(err, k)
			}
		}
		e.buf = append(e.buf, '}')
	default:
		return e.encode(reflect.ValueOf(x), depth)
	}
	return nil
}

func (e *encoder) encode(v reflect.Value, depth int) error {
	if !v.IsValid() {
		e.buf = append(e.buf, "null"...)
		return nil
	}
	t := v.Type()
	switch t {
	case rawMessageType:
		return e.encodeRaw(v.Bytes(), depth)
	case int64Type:
		e.appendInt64(v.Int())
		return nil
	case numberType:
		f, err := numberToFloat(json.Number(v.String()))
		if err != nil {
			return err
		}
		e.appendFloat(f)
		return nil
	case timeType:
		return errTime()
	}
	if methods := methodsOf(t); methods&(isMarshaler|isTextMarshaler) != 0 ||
		(v.CanAddr() && methods&(ptrIsMarshaler|ptrIsTextMarshaler) != 0) {
		return e.encodeMarshaler(v, methods, depth)
	} else if methods&(ptrIsMarshaler|ptrIsTextMarshaler) != 0 {
		// encoding/json would silently ignore the method here.
		return valueErr("%s marshals itself with a pointer receiver, but this value is not addressable; pass a pointer to it (or to the struct holding it)", t)
	}
	switch v.Kind() {
	case reflect.Bool:
		e.buf = strconv.AppendBool(e.buf, v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return e.appendInteger(v.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		f, err := uintToFloat(v.Uint())
		if err != nil {
			return err
		}
		e.appendFloat(f)
	case reflect.Float32, reflect.Float64:
		e.appendFloat(v.Float())
	case reflect.String:
		return e.appendString(v.String())
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			if v.IsNil() {
				e.buf = append(e.buf, "null"...)
				return nil
			}
			e.appendBytes(v.Bytes())
			return nil
		}
		if v.IsNil() {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		return e.encodeArray(v, depth, false)
	case reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			b := make([]byte, v.Len())
			reflect.Copy(reflect.ValueOf(b), v)
			e.appendBytes(b)
			return nil
		}
		return e.encodeArray(v, depth, false)
	case reflect.Map:
		if v.IsNil() {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		return e.encodeMap(v, depth, false)
	case reflect.Struct:
		return e.encodeStruct(v, depth)
	case reflect.Interface:
		if v.IsNil() {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		if !v.CanInterface() { // reached through an unexported embedded struct
			return e.encode(v.Elem(), depth)
		}
		return e.encodeAny(v.Elem().Interface(), depth)
	case reflect.Pointer:
		if v.IsNil() {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		return e.encode(v.Elem(), depth)
	default:
		return valueErr("Go type %s has no Convex equivalent", v.Type())
	}
	return nil
}

// encodeMarshaler encodes a value whose type implements json.Marshaler
// (its JSON is read as Convex JSON, as a json.RawMessage is) or else
// encoding.TextMarshaler (its text is a String), as encoding/json does. A
// method with a pointer receiver is used only when v is addressable.
func (e *encoder) encodeMarshaler(v reflect.Value, methods typeMethods, depth int) error {
	m := v
	if methods&(isMarshaler|isTextMarshaler) == 0 {
		m = v.Addr()
	} else if m.Kind() == reflect.Pointer && m.IsNil() {
		e.buf = append(e.buf, "null"...)
		return nil
	}
	if jm, ok := m.Interface().(json.Marshaler); ok {
		raw, err := jm.MarshalJSON()
		if err != nil {
			return valueErr("%s.MarshalJSON: %v", v.Type(), err)
		}
		return e.encodeRaw(raw, depth)
	}
	text, err := m.Interface().(encoding.TextMarshaler).MarshalText()
	if err != nil {
		return valueErr("%s.MarshalText: %v", v.Type(), err)
	}
	return e.appendString(string(text))
}

// typeMethods records which of the encoding/json interfaces a type and its
// pointer implement.
type typeMethods uint8

const (
	isMarshaler typeMethods = 1 << iota
	ptrIsMarshaler
	isTextMarshaler
	ptrIsTextMarshaler
	ptrIsUnmarshaler
)

var methodCache sync.Map // reflect.Type -> typeMethods

// methodsOf reports, once per type, which marshaling interfaces t and *t
// implement.
func methodsOf(t reflect.Type) typeMethods {
	if m, ok := methodCache.Load(t); ok {
		return m.(typeMethods)
	}
	var m typeMethods
	pt := reflect.PointerTo(t)
	if t.Implements(marshalerType) {
		m |= isMarshaler
	} else if pt.Implements(marshalerType) {
		m |= ptrIsMarshaler
	}
	if m&(isMarshaler|ptrIsMarshaler) == 0 {
		if t.Implements(textMarshalerType) {
			m |= isTextMarshaler
		} else if pt.Implements(textMarshalerType) {
			m |= ptrIsTextMarshaler
		}
	}
	if pt.Implements(unmarshalerType) {
		m |= ptrIsUnmarshaler
	}
	methodCache.Store(t, m)
	return m
}

// appendInteger writes a plain Go integer as the Float64 it stands for.
func (e *encoder) appendInteger(n int64) error {
	f, err := intToFloat(n)
	if err != nil {
		return err
	}
	e.appendFloat(f)
	return nil
}

// encodeAsInt64 writes a value under a struct field tagged `convex:"int64"`:
// integers as Int64, through pointers, slices, arrays and map values.
func (e *encoder) encodeAsInt64(v reflect.Value, depth int) error {
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		e.appendInt64(v.Int())
		return nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u := v.Uint()
		if u > math.MaxInt64 {
			return valueErr("unsigned integer %d does not fit in an Int64", u)
		}
		e.appendInt64(int64(u))
		return nil
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		return e.encodeAsInt64(v.Elem(), depth)
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		return e.encodeArray(v, depth, true)
	case reflect.Map:
		if v.IsNil() {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		return e.encodeMap(v, depth, true)
	}
	return valueErr("the convex:\"int64\" tag needs an integer field (or pointers, slices, arrays or maps of integers), not %s", v.Type())
}

func (e *encoder) enter(depth int) error {
	if depth >= MaxDepth {
		return valueErr("nested deeper than %d levels", MaxDepth)
	}
	return nil
}

// encodeArray writes an array; asInt64 encodes its integers as Int64 (a
// field tagged convex:"int64").
func (e *encoder) encodeArray(v reflect.Value, depth int, asInt64 bool) error {
	if err := e.enter(depth); err != nil {
		return err
	}
	n := v.Len()
	if n > MaxArrayLength {
		return valueErr("array of %d elements is longer than %d", n, MaxArrayLength)
	}
	e.buf = append(e.buf, '[')
	for i := 0; i < n; i++ {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		var err error
		if asInt64 {
			err = e.encodeAsInt64(v.Index(i), depth+1)
		} else {
			err = e.encode(v.Index(i), depth+1)
		}
		if err != nil {
			return atIndex(err, i)
		}
	}
	e.buf = append(e.buf, ']')
	return nil
}

type field struct {
	name    string
	val     reflect.Value
	asInt64 bool // the field is tagged `convex:"int64"`
}

// encodeMap writes a map with string keys as an object; asInt64 as for
// encodeArray.
func (e *encoder) encodeMap(v reflect.Value, depth int, asInt64 bool) error {
	if err := e.enter(depth); err != nil {
		return err
	}
	if v.Type().Key().Kind() != reflect.String {
		return valueErr("map key type %s is not a string", v.Type().Key())
	}
	fields := make([]field, 0, v.Len())
	iter := v.MapRange()
	for iter.Next() {
		fields = append(fields, field{name: iter.Key().String(), val: iter.Value(), asInt64: asInt64})
	}
	return e.encodeFields(fields, depth)
}

func (e *encoder) encodeFields(fields []field, depth int) error {
	if len(fields) > MaxObjectFields {
		return valueErr("object with %d fields has more than %d", len(fields), MaxObjectFields)
	}
	slices.SortFunc(fields, func(a, b field) int { return strings.Compare(a.name, b.name) })
	e.buf = append(e.buf, '{')
	for i, f := range fields {
		if err := ValidateFieldName(f.name); err != nil {
			return valueErr("%v", err)
		}
		if i > 0 {
			if fields[i-1].name == f.name {
				return valueErr("field %q appears twice", f.name)
			}
			e.buf = append(e.buf, ',')
		}
		e.buf = appendQuoted(e.buf, f.name)
		e.buf = append(e.buf, ':')
		var err error
		if f.asInt64 {
			err = e.encodeAsInt64(f.val, depth+1)
		} else {
			err = e.encode(f.val, depth+1)
		}
		if err != nil {
			return atKey(err, f.name)
		}
	}
	e.buf = append(e.buf, '}')
	return nil
}

func (e *encoder) encodeStruct(v reflect.Value, depth int) error {
	if err := e.enter(depth); err != nil {
		return err
	}
	info := structFields(v.Type())
	if len(info) == 0 && hasOnlyUnexportedFields(v.Type()) {
		return valueErr("Go type %s has no exported fields, so it has no Convex form", v.Type())
	}
	fields := make([]field, 0, len(info))
	for _, fi := range info {
		fv, ok := fieldByIndex(v, fi.index)
		if !ok {
			continue // nil embedded pointer
		}
		if fi.omitEmpty && isEmptyValue(fv) {
			continue
		}
		fields = append(fields, field{name: fi.name, val: fv, asInt64: fi.asInt64})
	}
	return e.encodeFields(fields, depth)
}

func (e *encoder) appendInt64(n int64) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(n))
	e.buf = append(e.buf, `{"$integer":"`...)
	e.buf = base64.StdEncoding.AppendEncode(e.buf, b[:])
	e.buf = append(e.buf, `"}`...)
}

func (e *encoder) appendBytes(b []byte) {
	e.buf = append(e.buf, `{"$bytes":"`...)
	e.buf = base64.StdEncoding.AppendEncode(e.buf, b)
	e.buf = append(e.buf, `"}`...)
}

// canonicalNaN is the quiet NaN JavaScript uses, 0x7FF8000000000000.
const canonicalNaN = 0x7FF8000000000000

// isSpecialFloat reports whether f must be written as {"$float": ...}.
func isSpecialFloat(f float64) bool {
	return math.IsNaN(f) || math.IsInf(f, 0) || (f == 0 && math.Signbit(f))
}

func (e *encoder) appendFloat(f float64) {
	if isSpecialFloat(f) {
		bits := math.Float64bits(f)
		if math.IsNaN(f) {
			bits = canonicalNaN // every NaN is one value, as in JavaScript
		}
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], bits)
		e.buf = append(e.buf, `{"$float":"`...)
		e.buf = base64.StdEncoding.AppendEncode(e.buf, b[:])
		e.buf = append(e.buf, `"}`...)
		return
	}
	e.buf = appendJSONFloat(e.buf, f)
}

// appendJSONFloat writes a finite float the way JavaScript prints numbers:
// plain decimal between 1e-6 and 1e21, exponent form outside.
func appendJSONFloat(b []byte, f float64) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	start := len(b)
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// Go writes e-07; JavaScript writes e-7.
		n := len(b)
		if n-start >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

func (e *encoder) appendString(s string) error {
	if !utf8.ValidString(s) {
		return valueErr("string is not valid UTF-8")
	}
	e.buf = appendQuoted(e.buf, s)
	return nil
}

const hexDigits = "0123456789abcdef"

// appendQuoted writes s as a JSON string. Non-ASCII text is written as is;
// only '"', '\\' and control characters are escaped.
func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"':
			b = append(b, '\\', '"')
		case '\\':
			b = append(b, '\\', '\\')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// encodeRaw checks pre-encoded Convex JSON and writes it canonically.
func (e *encoder) encodeRaw(raw []byte, depth int) error {
	if len(raw) == 0 {
		return valueErr("empty json.RawMessage")
	}
	v, err := decodeValueAt(raw, depth)
	if err != nil {
		return err
	}
	return e.encodeAny(v, depth)
}
