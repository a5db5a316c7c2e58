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
//	Int64      Int64
//	String     string
//	Bytes      []byte
//	Array      []any
//	Object     map[string]any
//
// [EncodeValue] accepts those and more. Go numbers behave as JavaScript
// numbers: every plain Go integer type (int, int64, uint8, a named integer
// type, ...) and float32 and float64 encode as a Float64, which is what a
// schema's `v.number()` accepts. An integer that a float64 cannot hold
// exactly (beyond ±2^53, unless it happens to be representable) is an
// error, never a silent rounding. An Int64 (`v.int64()`, a JavaScript
// bigint) is always explicit: the [Int64] type, or a struct field tagged
// `convex:"int64"` (beside its `json` tag, which linters check for
// encoding/json's own options), which makes the field's integers (and those of its pointers, slices, arrays and map values)
// Int64. So `1`, `int64(1)` and `1.0` are one value, and `Int64(1)` is a
// different one: two queries that differ only so are two queries.
//
// A [json.Number] is a number, read with the same exactness rule. Any slice
// or array is an Array ([]byte alone is Bytes), maps with string keys and
// structs are Objects, pointers and interfaces are what they point to (nil
// is Null), and [json.RawMessage] is already-encoded Convex JSON (checked
// and canonicalized). A type with a MarshalJSON method is encoded from its
// JSON, read as Convex JSON; else one with a MarshalText method is a
// String, as in encoding/json. A method with a pointer receiver on a value
// that is not addressable is an error, where encoding/json would ignore it.
// Struct fields follow encoding/json's `json` tags: a name, "-" to skip,
// and omitempty; the `convex:"int64"` tag is the one addition. Values that Convex cannot hold
// are errors, never silent changes: channels, funcs, complex numbers,
// time.Time (store milliseconds since the epoch as a float64, as Convex's
// _creationTime does), structs that have fields but no exported one,
// invalid UTF-8 and reserved field names.
//
// Encoding is canonical: object keys are sorted bytewise at every level and
// no whitespace is written, so equal values give equal bytes. NaN, ±Inf and
// -0 are written as {"$float": ...}; every other float as a plain number.
//
// [DecodeValue] turns Convex JSON back into the table's Go types, and
// [Unmarshal] decodes into any Go value: a struct (by `json` tags), typed
// slices and maps, integers (from an Int64, or from an integral Float64 in
// range), floats (from a Float64, or from an Int64 a float64 holds
// exactly), json.Number from either, []byte from Bytes, a type with an
// UnmarshalJSON method from its Convex JSON, and `any` with the table's
// types. A value survives Go -> wire -> Go unchanged.
package protocol
