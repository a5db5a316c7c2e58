package protocol

import (
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// Unmarshal decodes Convex JSON into the value pointed to by dst.
//
// Conversions: Int64 into any integer type (range-checked) or float type;
// Float64 into a float type, or into an integer type when it is integral and
// in range; Bytes into []byte; Array into a slice or array; Object into a
// map with string keys or a struct (fields matched by `json` tag or name,
// exactly first, then ignoring case; unknown fields are ignored); Null into
// the zero value. Into an interface the decoded value is stored as
// DecodeValue returns it, and into json.RawMessage as canonical Convex JSON.
// Anything else is an error naming where in the value it happened.
func Unmarshal(data []byte, dst any) error {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return &ValueError{Reason: "Unmarshal needs a non-nil pointer, not " + describe(rv)}
	}
	// Most values decode straight into dst (direct.go); what that path is
	// not sure of, errors included, it leaves untouched for the reference.
	if unmarshalDirect(data, rv.Elem(), true) {
		return nil
	}
	return unmarshalReference(data, rv)
}

// unmarshalReference is Unmarshal in two steps, the reference the direct
// path must agree with: DecodeValue, then assign. rv is a non-nil pointer.
func unmarshalReference(data []byte, rv reflect.Value) error {
	v, err := DecodeValue(data)
	if err != nil {
		return err
	}
	return assign(rv.Elem(), v)
}

// Assign stores an already-decoded Convex value (as DecodeValue returns it)
// into the value pointed to by dst, with the conversions of Unmarshal.
func Assign(dst any, v any) error {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return &ValueError{Reason: "Assign needs a non-nil pointer, not " + describe(rv)}
	}
	return assign(rv.Elem(), v)
}

func kindName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case float64:
		return "a float64"
	case Int64:
		return "an Int64"
	case string:
		return "a string"
	case []byte:
		return "bytes"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return "an unknown value"
}

func mismatch(dst reflect.Value, v any) error {
	return valueErr("cannot store %s in Go type %s", kindName(v), dst.Type())
}

func assign(dst reflect.Value, v any) error {
	switch dst.Type() {
	case rawMessageType:
		b, err := EncodeValue(v)
		if err != nil {
			return err
		}
		dst.SetBytes(b)
		return nil
	case numberType:
		return assignNumber(dst, v)
	case timeType:
		return errTime()
	}
	if dst.CanAddr() && methodsOf(dst.Type())&ptrIsUnmarshaler != 0 {
		// The counterpart of honouring json.Marshaler when encoding: the
		// method reads the value's Convex JSON.
		b, err := EncodeValue(v)
		if err != nil {
			return err
		}
		if err := dst.Addr().Interface().(json.Unmarshaler).UnmarshalJSON(b); err != nil {
			return valueErr("%s.UnmarshalJSON: %v", dst.Type(), err)
		}
		return nil
	}
	switch dst.Kind() {
	case reflect.Interface:
		if v == nil {
			dst.SetZero()
			return nil
		}
		rv := reflect.ValueOf(v)
		if !rv.Type().AssignableTo(dst.Type()) {
			return mismatch(dst, v)
		}
		dst.Set(rv)
		return nil
	case reflect.Pointer:
		if v == nil {
			dst.SetZero()
			return nil
		}
		if dst.IsNil() {
			dst.Set(reflect.New(dst.Type().Elem()))
		}
		return assign(dst.Elem(), v)
	}
	if v == nil {
		dst.SetZero()
		return nil
	}
	switch dst.Kind() {
	case reflect.Bool:
		b, ok := v.(bool)
		if !ok {
			return mismatch(dst, v)
		}
		dst.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := toInt64(v)
		if !ok || dst.OverflowInt(n) {
			return intErr(dst, v)
		}
		dst.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		n, ok := toInt64(v)
		if !ok || n < 0 || dst.OverflowUint(uint64(n)) {
			return intErr(dst, v)
		}
		dst.SetUint(uint64(n))
	case reflect.Float32, reflect.Float64:
		switch x := v.(type) {
		case float64:
			dst.SetFloat(x)
		case Int64:
			f, err := intToFloat(int64(x))
			if err != nil {
				return err
			}
			dst.SetFloat(f)
		default:
			return mismatch(dst, v)
		}
	case reflect.String:
		s, ok := v.(string)
		if !ok {
			return mismatch(dst, v)
		}
		dst.SetString(s)
	case reflect.Slice:
		if dst.Type().Elem().Kind() == reflect.Uint8 {
			b, ok := v.([]byte)
			if !ok {
				return mismatch(dst, v)
			}
			dst.SetBytes(append(make([]byte, 0, len(b)), b...))
			return nil
		}
		arr, ok := v.([]any)
		if !ok {
			return mismatch(dst, v)
		}
		s := reflect.MakeSlice(dst.Type(), len(arr), len(arr))
		for i, e := range arr {
			if err := assign(s.Index(i), e); err != nil {
				return atIndex(err, i)
			}
		}
		dst.Set(s)
	case reflect.Array:
		if dst.Type().Elem().Kind() == reflect.Uint8 {
			b, ok := v.([]byte)
			if !ok || len(b) != dst.Len() {
				return mismatch(dst, v)
			}
			reflect.Copy(dst, reflect.ValueOf(b))
			return nil
		}
		arr, ok := v.([]any)
		if !ok || len(arr) != dst.Len() {
			if ok {
				return valueErr("array of %d elements does not fit Go type %s", len(arr), dst.Type())
			}
			return mismatch(dst, v)
		}
		for i, e := range arr {
			if err := assign(dst.Index(i), e); err != nil {
				return atIndex(err, i)
			}
		}
	case reflect.Map:
		obj, ok := v.(map[string]any)
		if !ok || dst.Type().Key().Kind() != reflect.String {
			return mismatch(dst, v)
		}
		m := reflect.MakeMapWithSize(dst.Type(), len(obj))
		for k, e := range obj {
			ev := reflect.New(dst.Type().Elem()).Elem()
			if err := assign(ev, e); err != nil {
				return atKey(err, k)
			}
			m.SetMapIndex(reflect.ValueOf(k).Convert(dst.Type().Key()), ev)
		}
		dst.Set(m)
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			return mismatch(dst, v)
		}
		return assignStruct(dst, obj)
	default:
		return valueErr("Go type %s cannot hold a Convex value", dst.Type())
	}
	return nil
}

func assignStruct(dst reflect.Value, obj map[string]any) error {
	fields := structFields(dst.Type())
	for _, fi := range fields {
		key := fi.name
		e, ok := obj[key]
		if !ok {
			for k, x := range obj {
				if strings.EqualFold(k, fi.name) {
					key, e, ok = k, x, true
					break
				}
			}
		}
		if !ok {
			continue
		}
		fv, ok := fieldByIndexAlloc(dst, fi.index)
		if !ok {
			return valueErrAt(key, "cannot set a field of a nil unexported embedded struct")
		}
		if err := assign(fv, e); err != nil {
			return atKey(err, key)
		}
	}
	return nil
}

func toInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case Int64:
		return int64(x), true
	case float64:
		if x != math.Trunc(x) || x < -(1<<63) || x >= 1<<63 {
			return 0, false
		}
		return int64(x), true
	}
	return 0, false
}

func intErr(dst reflect.Value, v any) error {
	switch v.(type) {
	case Int64, float64:
		return valueErr("%v does not fit Go type %s", v, dst.Type())
	}
	return mismatch(dst, v)
}

// assignNumber stores a Float64 or an Int64 in a json.Number, as the
// decimal text JavaScript would print for it.
func assignNumber(dst reflect.Value, v any) error {
	switch x := v.(type) {
	case Int64:
		dst.SetString(strconv.FormatInt(int64(x), 10))
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return valueErr("%v cannot be held by a json.Number", x)
		}
		dst.SetString(string(appendJSONFloat(nil, x)))
	case nil:
		dst.SetString("")
	default:
		return mismatch(dst, v)
	}
	return nil
}
