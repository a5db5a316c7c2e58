package testserver

import (
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/convexgo/convex/protocol"
)

// validationError is the backend's ValidationError
// (crates/common/src/schemas/validator.rs): which check failed, and the
// path to the value that failed it.
type validationError struct {
	kind      validationErrorKind
	value     any // the value (NoMatch, literal), or the object
	validator *Validator
	field     string // missing or extra field
	id        string // the id whose table does not match
	found     string // that id's table
	path      []string
}

type validationErrorKind int

const (
	noMatch validationErrorKind = iota
	tableNamesDoNotMatch
	literalValuesDoNotMatch
	missingRequiredField
	extraField
)

func (e *validationError) context() string {
	if len(e.path) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("Path: ")
	for _, p := range slices.Backward(e.path) {
		b.WriteString(p)
	}
	return b.String()
}

// Error renders the message exactly as the backend's Display does.
func (e *validationError) Error() string {
	switch e.kind {
	case tableNamesDoNotMatch:
		return `Found ID "` + e.id + "\" from table `" + e.found + "`, which does not match the table name in validator `v.id(\"" +
			e.validator.table + "\")`." + e.context()
	case literalValuesDoNotMatch:
		return "`" + displayValue(e.value) + "` does not match literal validator `v.literal(" +
			displayLiteral(e.validator.literal) + ")`." + e.context()
	case missingRequiredField:
		return "Object is missing the required field `" + e.field + "`. Consider wrapping the field validator in `v.optional(...)` if this is expected.\n" +
			e.context() + "\nObject: " + displayValue(e.value) + "\nValidator: " + e.validator.String()
	case extraField:
		return "Object contains extra field `" + e.field + "` that is not in the validator.\n" +
			e.context() + "\nObject: " + displayValue(e.value) + "\nValidator: " + e.validator.String()
	}
	return "Value does not match validator.\n" + e.context() + "\nValue: " + displayValue(e.value) +
		"\nValidator: " + e.validator.String()
}

func (e *validationError) at(p string) *validationError {
	e.path = append(e.path, p)
	return e
}

// tableExists says whether a table exists, for v.id checks: the backend
// only accepts an id whose table is in the deployment's table mapping.
type tableExists func(name string) bool

func viewTables(v view) tableExists {
	return func(name string) bool { return v.table(name) != nil }
}

// check validates a decoded Convex value, following the backend's
// check_value: object fields in sorted order, the first failure wins, a
// union reports the whole union (or its only member's error).
func (v *Validator) check(value any, tables tableExists) *validationError {
	mismatch := func() *validationError { return &validationError{kind: noMatch, value: value, validator: v} }
	switch v.kind {
	case vAny:
		return nil
	case vID:
		s, ok := value.(string)
		if !ok {
			return mismatch()
		}
		table, ok := tableOfID(s)
		if !ok || validateTableName(table) != nil || !tables(table) {
			return mismatch()
		}
		if table != v.table {
			return &validationError{kind: tableNamesDoNotMatch, id: s, found: table, validator: v}
		}
		return nil
	case vNull:
		if value == nil {
			return nil
		}
	case vNumber:
		if _, ok := value.(float64); ok {
			return nil
		}
	case vInt64:
		if _, ok := value.(protocol.Int64); ok {
			return nil
		}
	case vBoolean:
		if _, ok := value.(bool); ok {
			return nil
		}
	case vString:
		if _, ok := value.(string); ok {
			return nil
		}
	case vBytes:
		if _, ok := value.([]byte); ok {
			return nil
		}
	case vLiteral:
		if !literalEqual(v.literal, value) {
			return &validationError{kind: literalValuesDoNotMatch, value: value, validator: v}
		}
		return nil
	case vArray:
		arr, ok := value.([]any)
		if !ok {
			return mismatch()
		}
		for i, e := range arr {
			if err := v.elem.check(e, tables); err != nil {
				return err.at("[" + strconv.Itoa(i) + "]")
			}
		}
		return nil
	case vRecord:
		obj, ok := value.(map[string]any)
		if !ok {
			return mismatch()
		}
		for _, k := range sortedKeys(obj) {
			if err := v.key.check(k, tables); err != nil {
				return err.at(".keys()")
			}
			if err := v.elem.check(obj[k], tables); err != nil {
				return err.at(".values()")
			}
		}
		return nil
	case vObject:
		obj, ok := value.(map[string]any)
		if !ok {
			return mismatch()
		}
		for _, name := range sortedKeys(v.fields) {
			f := v.fields[name]
			if fv, ok := obj[name]; ok {
				if err := f.check(fv, tables); err != nil {
					return err.at("." + name)
				}
			} else if !v.optFields[name] {
				return &validationError{kind: missingRequiredField, value: value, field: name, validator: v}
			}
		}
		for _, k := range sortedKeys(obj) {
			if _, ok := v.fields[k]; !ok {
				return &validationError{kind: extraField, value: value, field: k, validator: v}
			}
		}
		return nil
	case vUnion:
		if len(v.members) == 1 {
			return v.members[0].check(value, tables)
		}
		for _, m := range v.members {
			if m.check(value, tables) == nil {
				return nil
			}
		}
	}
	return mismatch()
}

// literalEqual compares as ConvexValue's equality does: same type, and
// floats by their bits (so -0 is not 0).
func literalEqual(lit, value any) bool {
	switch l := lit.(type) {
	case float64:
		f, ok := value.(float64)
		return ok && (math.Float64bits(l) == math.Float64bits(f) || math.IsNaN(l) && math.IsNaN(f))
	case protocol.Int64:
		n, ok := value.(protocol.Int64)
		return ok && n == l
	case string:
		s, ok := value.(string)
		return ok && s == l
	case bool:
		b, ok := value.(bool)
		return ok && b == l
	}
	return false
}
