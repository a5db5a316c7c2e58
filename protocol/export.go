package protocol

import (
	"encoding/base64"
	"math"
	"slices"
	"strconv"
	"strings"
)

// EncodeCleanJSON writes a decoded Convex value (as DecodeValue returns it)
// in the HTTP API's lossy "json" format: Int64 as a decimal string, Bytes
// as a base64 string, NaN and ±Inf as "NaN", "Infinity" and "-Infinity",
// everything else as plain JSON with object keys sorted.
func EncodeCleanJSON(v any) ([]byte, error) {
	return appendClean(nil, v, false)
}

// EncodeExportJSON writes a decoded Convex value in the "export_json"
// format: like EncodeCleanJSON, except that Int64 is a plain JSON integer.
func EncodeExportJSON(v any) ([]byte, error) {
	return appendClean(nil, v, true)
}

func appendClean(b []byte, v any, plainInts bool) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case float64:
		switch {
		case math.IsNaN(x):
			return append(b, `"NaN"`...), nil
		case math.IsInf(x, 1):
			return append(b, `"Infinity"`...), nil
		case math.IsInf(x, -1):
			return append(b, `"-Infinity"`...), nil
		}
		return appendJSONFloat(b, x), nil
	case Int64:
		if plainInts {
			return strconv.AppendInt(b, int64(x), 10), nil
		}
		b = append(b, '"')
		b = strconv.AppendInt(b, int64(x), 10)
		return append(b, '"'), nil
	case string:
		return appendQuoted(b, x), nil
	case []byte:
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, x)
		return append(b, '"'), nil
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendClean(b, e, plainInts); err != nil {
				return nil, atIndex(err, i)
			}
		}
		return append(b, ']'), nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, strings.Compare)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendQuoted(b, k)
			b = append(b, ':')
			var err error
			if b, err = appendClean(b, x[k], plainInts); err != nil {
				return nil, atKey(err, k)
			}
		}
		return append(b, '}'), nil
	}
	return nil, valueErr("%T is not a decoded Convex value", v)
}
