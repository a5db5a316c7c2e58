package protocol

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"unicode/utf8"
)

// DecodeValue decodes Convex JSON ("convex_encoded_json") into the Go types
// listed in the package documentation: nil, bool, float64, Int64, string,
// []byte, []any and map[string]any.
//
// Every plain JSON number is a float64. A one-key object {"$integer": s},
// {"$bytes": s} or {"$float": s} with a string s is the special type it
// names; any other object whose field name starts with '$' is an error, as
// is a $float holding an ordinary number or a $integer that is not 8 bytes.
//
// Values are read by a hand-written decoder (fastValue); a value it refuses
// is decoded again by the reference decoder (decodeValueRef, built on
// encoding/json) for its error, so both accept the same values with equal
// results (FuzzFastValue checks it).
func DecodeValue(data []byte) (any, error) {
	return decodeValueAt(data, 0)
}

func decodeValueAt(data []byte, depth int) (any, error) {
	if v, ok := fastValue(data, depth); ok {
		return v, nil
	}
	return decodeValueRef(data, depth)
}

// decodeValueRef is the reference value decoder: encoding/json into an
// any, then convertJSON.
func decodeValueRef(data []byte, depth int) (any, error) {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, valueErr("not JSON: %v", err)
	}
	return convertJSON(v, depth)
}

// convertJSON turns the output of encoding/json into Convex values, in place
// where it can.
func convertJSON(v any, depth int) (any, error) {
	switch x := v.(type) {
	case nil, bool, float64:
		return x, nil
	case string:
		if !utf8.ValidString(x) {
			return nil, valueErr("string is not valid UTF-8")
		}
		return x, nil
	case []any:
		if depth >= MaxDepth {
			return nil, valueErr("nested deeper than %d levels", MaxDepth)
		}
		for i, e := range x {
			c, err := convertJSON(e, depth+1)
			if err != nil {
				return nil, atIndex(err, i)
			}
			x[i] = c
		}
		return x, nil
	case map[string]any:
		if len(x) == 1 {
			for k, e := range x {
				if s, ok := e.(string); ok {
					switch k {
					case "$integer":
						return decodeInteger(s)
					case "$bytes":
						return decodeBytes(s)
					case "$float":
						return decodeFloat(s)
					}
				}
			}
		}
		if depth >= MaxDepth {
			return nil, valueErr("nested deeper than %d levels", MaxDepth)
		}
		for k, e := range x {
			if err := ValidateFieldName(k); err != nil {
				return nil, valueErr("%v", err)
			}
			c, err := convertJSON(e, depth+1)
			if err != nil {
				return nil, atKey(err, k)
			}
			x[k] = c
		}
		return x, nil
	default:
		return nil, valueErr("unexpected JSON value of type %T", v)
	}
}

func decode8(s string, what string) ([8]byte, error) {
	var out [8]byte
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return out, valueErr("%s %q is not base64: %v", what, s, err)
	}
	if len(b) != 8 {
		return out, valueErr("%s %q holds %d bytes, not 8", what, s, len(b))
	}
	copy(out[:], b)
	return out, nil
}

func decodeInteger(s string) (any, error) {
	b, err := decode8(s, "$integer")
	if err != nil {
		return nil, err
	}
	return Int64(binary.LittleEndian.Uint64(b[:])), nil
}

func decodeFloat(s string) (any, error) {
	b, err := decode8(s, "$float")
	if err != nil {
		return nil, err
	}
	f := math.Float64frombits(binary.LittleEndian.Uint64(b[:]))
	if !isSpecialFloat(f) {
		return nil, valueErr("$float %q holds %v, which should be encoded as a number", s, f)
	}
	return f, nil
}

func decodeBytes(s string) (any, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, valueErr("$bytes is not base64: %v", err)
	}
	return b, nil
}

// CanonicalJSON re-encodes Convex JSON canonically (sorted keys, no
// whitespace), checking it on the way.
func CanonicalJSON(data []byte) ([]byte, error) {
	v, err := DecodeValue(data)
	if err != nil {
		return nil, err
	}
	return EncodeValue(v)
}

// isJSONNull reports whether raw is absent or the JSON literal null.
func isJSONNull(raw []byte) bool {
	return len(raw) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}
