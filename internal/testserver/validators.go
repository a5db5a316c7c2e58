package testserver

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/convexgo/convex/protocol"
)

// Validator is a Convex validator, as `v.*` builds one in a Convex app, for
// a function's arguments or return value. Build validators with V; the
// zero Validator is not valid. A Validator is immutable once built and
// safe for concurrent use.
//
// String writes it as the backend's error messages do (v.float64() for a
// number, v.object({a: v.string()}) with fields in sorted order), and
// MarshalJSON writes the ValidatorJSON form convex-js's validators produce
// ({"type":"number"}, {"type":"object","value":{...}}).
type Validator struct {
	kind      validatorKind
	optional  bool
	table     string                // id
	elem      *Validator            // array element, record values
	key       *Validator            // record keys
	fields    map[string]*Validator // object fields, none of them optional
	optFields map[string]bool       // object fields that may be missing
	members   []*Validator          // union
	literal   any                   // string, bool, float64 or protocol.Int64
	err       error                 // why the validator is invalid
}

type validatorKind int

const (
	vInvalid validatorKind = iota
	vNull
	vNumber
	vInt64
	vBoolean
	vString
	vBytes
	vAny
	vLiteral
	vID
	vArray
	vRecord
	vObject
	vUnion
)

// ValidatorBuilder builds validators; use its only value, V, as Convex
// apps use v: V.Object(map[string]*Validator{"name": V.String()}).
type ValidatorBuilder struct{}

// V builds validators.
var V ValidatorBuilder

// Number is v.number(): a Float64 (the backend calls it v.float64()).
func (ValidatorBuilder) Number() *Validator { return &Validator{kind: vNumber} }

// Float64 is v.float64(), the same validator as Number.
func (ValidatorBuilder) Float64() *Validator { return &Validator{kind: vNumber} }

// Int64 is v.int64() (v.bigint()): an Int64, protocol.Int64 in Go.
func (ValidatorBuilder) Int64() *Validator { return &Validator{kind: vInt64} }

// String is v.string().
func (ValidatorBuilder) String() *Validator { return &Validator{kind: vString} }

// Boolean is v.boolean().
func (ValidatorBuilder) Boolean() *Validator { return &Validator{kind: vBoolean} }

// Null is v.null().
func (ValidatorBuilder) Null() *Validator { return &Validator{kind: vNull} }

// Bytes is v.bytes(): an ArrayBuffer, []byte in Go.
func (ValidatorBuilder) Bytes() *Validator { return &Validator{kind: vBytes} }

// Any is v.any(). As an args validator it means no argument validation.
func (ValidatorBuilder) Any() *Validator { return &Validator{kind: vAny} }

// ID is v.id(table): the _id of a document of that table.
func (ValidatorBuilder) ID(table string) *Validator {
	v := &Validator{kind: vID, table: table}
	if err := validateTableName(table); err != nil {
		v.err = fmt.Errorf("v.id(%q): %w", table, err)
	}
	return v
}

// Array is v.array(elem).
func (ValidatorBuilder) Array(elem *Validator) *Validator {
	return &Validator{kind: vArray, elem: elem, err: memberErr("v.array()", elem)}
}

// Object is v.object(fields). Wrap a field's validator in V.Optional for an
// optional field. Field names must be identifiers (system fields such as
// _id included).
func (ValidatorBuilder) Object(fields map[string]*Validator) *Validator {
	v := &Validator{kind: vObject, fields: make(map[string]*Validator, len(fields)), optFields: map[string]bool{}}
	for _, name := range sortedKeys(fields) {
		f := fields[name]
		if v.err == nil && !validIdentifier(name) {
			v.err = fmt.Errorf("v.object(): field name %q is not an identifier", name)
		}
		if v.err == nil && (f == nil || f.err != nil) {
			v.err = memberErr(fmt.Sprintf("v.object() field %q", name), f)
		}
		if f != nil && f.optional {
			inner := *f
			inner.optional = false
			v.fields[name], v.optFields[name] = &inner, true
		} else {
			v.fields[name] = f
		}
	}
	return v
}

// Record is v.record(keys, values). keys must be V.String(), V.ID(...) or
// a union of those; values may not be optional.
func (ValidatorBuilder) Record(keys, values *Validator) *Validator {
	v := &Validator{kind: vRecord, key: keys, elem: values}
	switch {
	case memberErr("v.record() keys", keys) != nil:
		v.err = memberErr("v.record() keys", keys)
	case memberErr("v.record() values", values) != nil:
		v.err = memberErr("v.record() values", values)
	case !keys.isRecordKey():
		v.err = fmt.Errorf("v.record() keys must be v.string(), v.id() or a union of them, not %s", keys)
	}
	return v
}

// Union is v.union(members...).
func (ValidatorBuilder) Union(members ...*Validator) *Validator {
	v := &Validator{kind: vUnion, members: members}
	for _, m := range members {
		if err := memberErr("v.union()", m); err != nil {
			v.err = err
			break
		}
	}
	return v
}

// Literal is v.literal(value): a string, a bool, a number (any Go number,
// as a Float64) or a protocol.Int64.
func (ValidatorBuilder) Literal(value any) *Validator {
	v := &Validator{kind: vLiteral}
	b, err := protocol.EncodeValue(value)
	if err == nil {
		v.literal, err = protocol.DecodeValue(b)
	}
	switch v.literal.(type) {
	case string, bool, float64, protocol.Int64:
	default:
		if err == nil {
			err = errors.New("the value must be a string, number, boolean or Int64")
		}
		v.err = fmt.Errorf("v.literal(%v): %w", value, err)
	}
	return v
}

// Optional is v.optional(inner): an object field that may be missing.
func (ValidatorBuilder) Optional(inner *Validator) *Validator {
	if inner == nil {
		return &Validator{err: errors.New("v.optional(): nil validator")}
	}
	c := *inner
	c.optional = true
	return &c
}

func memberErr(where string, m *Validator) error {
	switch {
	case m == nil || m.kind == vInvalid && m.err == nil:
		return fmt.Errorf("%s: missing validator", where)
	case m.err != nil:
		return m.err
	case m.optional:
		return fmt.Errorf("%s: v.optional() is only allowed for object fields", where)
	}
	return nil
}

// Err reports why the validator is invalid (an optional validator where
// only an object field may be optional, a bad table or field name, ...),
// or nil. Registering a function with an invalid validator panics.
func (v *Validator) Err() error {
	if v == nil {
		return errors.New("nil validator")
	}
	if v.kind == vInvalid && v.err == nil {
		return errors.New("zero Validator; build validators with V")
	}
	return v.err
}

// IsOptional reports whether v was made with V.Optional.
func (v *Validator) IsOptional() bool { return v != nil && v.optional }

func (v *Validator) isRecordKey() bool {
	switch v.kind {
	case vString, vID:
		return true
	case vUnion:
		for _, m := range v.members {
			if !m.isRecordKey() {
				return false
			}
		}
		return true
	}
	return false
}

func validIdentifier(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	nonUnderscore := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
			nonUnderscore = true
		case c >= '0' && c <= '9' && i > 0:
			nonUnderscore = true
		case c == '_':
		default:
			return false
		}
	}
	return nonUnderscore
}

// String writes v as the backend's messages do (crates/common/src/schemas
// /validator.rs, Display for Validator), e.g. v.float64() for a number.
func (v *Validator) String() string {
	if v == nil {
		return "<nil>"
	}
	var b strings.Builder
	v.write(&b)
	return b.String()
}

func (v *Validator) write(b *strings.Builder) {
	inner := *v
	if inner.optional {
		inner.optional = false
		b.WriteString("v.optional(")
		inner.write(b)
		b.WriteString(")")
		return
	}
	switch v.kind {
	case vNull:
		b.WriteString("v.null()")
	case vNumber:
		b.WriteString("v.float64()")
	case vInt64:
		b.WriteString("v.int64()")
	case vBoolean:
		b.WriteString("v.boolean()")
	case vString:
		b.WriteString("v.string()")
	case vBytes:
		b.WriteString("v.bytes()")
	case vAny:
		b.WriteString("v.any()")
	case vID:
		b.WriteString(`v.id("` + v.table + `")`)
	case vLiteral:
		b.WriteString("v.literal(" + displayLiteral(v.literal) + ")")
	case vArray:
		b.WriteString("v.array(")
		v.elem.write(b)
		b.WriteString(")")
	case vRecord:
		b.WriteString("v.record(")
		v.key.write(b)
		b.WriteString(", ")
		v.elem.write(b)
		b.WriteString(")")
	case vObject:
		b.WriteString("v.object({")
		for i, name := range sortedKeys(v.fields) {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(name + ": ")
			if v.optFields[name] {
				b.WriteString("v.optional(")
				v.fields[name].write(b)
				b.WriteString(")")
			} else {
				v.fields[name].write(b)
			}
		}
		b.WriteString("})")
	case vUnion:
		b.WriteString("v.union(")
		for i, m := range v.members {
			if i > 0 {
				b.WriteString(", ")
			}
			m.write(b)
		}
		b.WriteString(")")
	default:
		b.WriteString("<invalid validator>")
	}
}

// displayLiteral writes a literal as the backend does: JSON, with
// "<bigint>" for an Int64 and "<number>" for a non-finite number.
func displayLiteral(l any) string {
	switch x := l.(type) {
	case string:
		return jsonString(x)
	case bool:
		if x {
			return "true"
		}
		return "false"
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return "<number>"
		}
		return jsonFloat(x)
	case protocol.Int64:
		return "<bigint>"
	}
	return "<invalid>"
}

// MarshalJSON writes the ValidatorJSON form, exactly as the .json of
// convex-js's validators (src/values/validators.ts) has it: {"type":
// "number"} for v.number(), {"type":"bigint"} for v.int64(), {"type":"id",
// "tableName":...}, {"type":"literal","value":<Convex JSON>}, {"type":
// "array","value":...}, {"type":"record","keys":...,"values":{"fieldType":
// ...,"optional":false}}, {"type":"object","value":{"f":{"fieldType":...,
// "optional":bool}}} and {"type":"union","value":[...]}. Object fields are
// written in sorted order. An optional validator is written as its inner
// validator: optionality belongs to the object field holding it.
func (v *Validator) MarshalJSON() ([]byte, error) {
	if err := v.Err(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := v.writeJSON(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func (v *Validator) writeJSON(b *bytes.Buffer) error {
	simple := map[validatorKind]string{vNull: "null", vNumber: "number", vInt64: "bigint", vBoolean: "boolean",
		vString: "string", vBytes: "bytes", vAny: "any"}
	if t, ok := simple[v.kind]; ok {
		b.WriteString(`{"type":"` + t + `"}`)
		return nil
	}
	switch v.kind {
	case vID:
		b.WriteString(`{"type":"id","tableName":` + jsonString(v.table) + `}`)
	case vLiteral:
		lit, err := protocol.EncodeValue(v.literal)
		if err != nil {
			return err
		}
		b.WriteString(`{"type":"literal","value":`)
		b.Write(lit)
		b.WriteString(`}`)
	case vArray:
		b.WriteString(`{"type":"array","value":`)
		if err := v.elem.writeJSON(b); err != nil {
			return err
		}
		b.WriteString(`}`)
	case vRecord:
		b.WriteString(`{"type":"record","keys":`)
		if err := v.key.writeJSON(b); err != nil {
			return err
		}
		b.WriteString(`,"values":{"fieldType":`)
		if err := v.elem.writeJSON(b); err != nil {
			return err
		}
		b.WriteString(`,"optional":false}}`)
	case vObject:
		b.WriteString(`{"type":"object","value":{`)
		for i, name := range sortedKeys(v.fields) {
			if i > 0 {
				b.WriteByte(',')
			}
			f := v.fields[name]
			b.WriteString(jsonString(name) + `:{"fieldType":`)
			if err := f.writeJSON(b); err != nil {
				return err
			}
			fmt.Fprintf(b, `,"optional":%t}`, v.optFields[name])
		}
		b.WriteString(`}}`)
	case vUnion:
		b.WriteString(`{"type":"union","value":[`)
		for i, m := range v.members {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := m.writeJSON(b); err != nil {
				return err
			}
		}
		b.WriteString(`]}`)
	default:
		return errors.New("invalid validator")
	}
	return nil
}
