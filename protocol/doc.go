// Package protocol is the wire vocabulary of the Convex sync protocol and
// HTTP function API: message types and their JSON, Convex values, function
// paths, query tokens and 64-bit timestamps.
//
// It is a low-level package: most programs use package client, which builds
// on it. Everything here is pure encode and decode; nothing does IO, starts
// a goroutine or reads the clock.
//
// # Convex values
//
// Convex has nine value types. Decoded values use these Go types:
//
//	Convex     Go
//	Null       nil
//	Boolean    bool
//	Float64    float64
//	Int64      int64
//	String     string
//	Bytes      []byte
//	Array      []any
//	Object     map[string]any
//
// [EncodeValue] accepts those and more: every Go integer type encodes as an
// Int64 (so `1` and `int64(1)` are the same value, and `1.0` is a different
// one), float32 and float64 as a Float64, any slice or array as an Array
// ([]byte alone is Bytes), maps with string keys and structs as Objects,
// pointers and interfaces as what they point to (nil as Null), and
// [json.RawMessage] as already-encoded Convex JSON (checked and
// canonicalized). Struct fields follow encoding/json's `json` tags: a name,
// "-" to skip, and omitempty. Values that Convex cannot hold (channels,
// funcs, complex numbers, uint64 above MaxInt64, invalid UTF-8, reserved
// field names) are errors, never silent changes.
//
// Encoding is canonical: object keys are sorted bytewise at every level and
// no whitespace is written, so equal values give equal bytes. NaN, ±Inf and
// -0 are written as {"$float": ...}; every other float as a plain number.
//
// [DecodeValue] turns Convex JSON back into the table's Go types, and
// [Unmarshal] decodes into any Go value: a struct (by `json` tags), typed
// slices and maps, integers (from an Int64, or from an integral Float64 in
// range), floats (from a Float64 or an Int64), []byte from Bytes, and `any`
// with the table's types. A value survives Go -> wire -> Go unchanged.
package protocol
