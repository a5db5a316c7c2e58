// Package codegen turns a Convex deployment's function spec (what
// `npx convex function-spec` prints) into the Go source of a package of
// typed function references. It is pure: no IO, no network.
//
// The spec is {"url": ..., "functions": [...]}; each function is
// {"identifier": "messages.js:list", "functionType": "Query",
// "visibility": {"kind": "public"}, "args": V, "returns": V} where V is a
// validator as JSON (ValidatorJSON in the convex npm package), and an HTTP
// route is {"functionType": "HttpAction", "method", "path"}. ReadSpec also
// accepts the bare functions array, which is what the deployment's
// _system/cli/modules:apiSpec query returns.
package codegen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/convexgo/convex/protocol"
)

// Spec is a deployment's function spec.
type Spec struct {
	// URL is the deployment URL the spec came from; it may be empty.
	URL string
	// Functions are the queries, mutations and actions, in spec order.
	Functions []*Function
	// Routes are the HTTP actions, which have no typed bindings.
	Routes []Route
}

// FunctionType is a kind of Convex function.
type FunctionType string

// The function types a spec names, spelled as the deployment spells them.
const (
	Query      FunctionType = "Query"
	Mutation   FunctionType = "Mutation"
	Action     FunctionType = "Action"
	HTTPAction FunctionType = "HttpAction"
)

// Function is one query, mutation or action.
type Function struct {
	// Identifier is the spec's name for the function: the module path
	// with its extension, ':' and the export name ("messages.js:list").
	Identifier string
	Type       FunctionType
	// Internal is true for internal functions, which clients cannot call.
	Internal bool
	Args     *Validator
	Returns  *Validator
}

// Path returns the function's canonical path, as clients call it
// ("messages:list").
func (f *Function) Path() string { return protocol.CanonicalizeUDFPath(f.Identifier) }

// Route is one HTTP action route.
type Route struct {
	Method, Path string
}

// Kind is a validator's type, as ValidatorJSON spells it.
type Kind string

// The validator kinds. Number is v.number() (a Float64) and Bigint is
// v.int64(); CommitTs is v.commitTs(), which holds an Int64 once the
// writing transaction commits.
const (
	Null     Kind = "null"
	Number   Kind = "number"
	Bigint   Kind = "bigint"
	CommitTs Kind = "commitTs"
	Boolean  Kind = "boolean"
	String   Kind = "string"
	Bytes    Kind = "bytes"
	Any      Kind = "any"
	Literal  Kind = "literal"
	ID       Kind = "id"
	Array    Kind = "array"
	Record   Kind = "record"
	Object   Kind = "object"
	Union    Kind = "union"
)

// Validator is a decoded ValidatorJSON.
type Validator struct {
	Kind Kind
	// TableName is the table of an ID.
	TableName string
	// Value is a Literal's value: a string, bool, float64 or
	// protocol.Int64.
	Value any
	// Elem is an Array's element.
	Elem *Validator
	// Keys and Values are a Record's.
	Keys, Values *Validator
	// Fields are an Object's, sorted by name.
	Fields []Field
	// Members are a Union's, in spec order.
	Members []*Validator
}

// Field is one field of an object validator.
type Field struct {
	Name     string
	Type     *Validator
	Optional bool
}

// maxDepth bounds validator nesting, so that a hostile spec cannot
// exhaust the stack. Convex values nest at most 64 deep.
const maxDepth = 256

// SpecError reports a malformed spec. Where locates the problem, for
// example `functions[2] (messages.js:list): args.value["body"].fieldType`.
type SpecError struct {
	Where  string
	Reason string
}

func (e *SpecError) Error() string {
	if e.Where == "" {
		return "function spec: " + e.Reason
	}
	return "function spec: " + e.Where + ": " + e.Reason
}

func specErr(where, format string, args ...any) error {
	return &SpecError{Where: where, Reason: fmt.Sprintf(format, args...)}
}

// ReadSpec decodes a function spec.
func ReadSpec(data []byte) (*Spec, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, specErr("", "empty input")
	}
	spec := &Spec{}
	var fns []json.RawMessage
	switch data[0] {
	case '[':
		if err := json.Unmarshal(data, &fns); err != nil {
			return nil, specErr("", "not JSON: %v", err)
		}
	case '{':
		var top map[string]json.RawMessage
		if err := json.Unmarshal(data, &top); err != nil {
			return nil, specErr("", "not JSON: %v", err)
		}
		if raw, ok := top["url"]; ok && !isNull(raw) {
			if err := json.Unmarshal(raw, &spec.URL); err != nil {
				return nil, specErr("url", "want a string")
			}
		}
		raw, ok := top["functions"]
		if !ok {
			return nil, specErr("", `no "functions" field: want {"url": ..., "functions": [...]}, as npx convex function-spec prints`)
		}
		if err := json.Unmarshal(raw, &fns); err != nil {
			return nil, specErr("functions", "want an array")
		}
	default:
		return nil, specErr("", `want a JSON object {"url": ..., "functions": [...]} or an array of functions`)
	}
	seen := map[string]string{}
	for i, raw := range fns {
		where := fmt.Sprintf("functions[%d]", i)
		f, route, err := readFunction(where, raw)
		if err != nil {
			return nil, err
		}
		if f == nil {
			spec.Routes = append(spec.Routes, route)
			continue
		}
		where += " (" + f.Identifier + ")"
		if prev, ok := seen[f.Path()]; ok {
			return nil, specErr(where, "function %s is listed twice (also as %s)", f.Path(), prev)
		}
		seen[f.Path()] = where
		spec.Functions = append(spec.Functions, f)
	}
	return spec, nil
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

func readObject(where string, raw json.RawMessage) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, specErr(where, "want a JSON object, got %s", describeJSON(raw))
	}
	return m, nil
}

func readString(where string, raw json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", specErr(where, "want a string, got %s", describeJSON(raw))
	}
	return s, nil
}

// describeJSON names a JSON value's type for an error message.
func describeJSON(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

func readFunction(where string, raw json.RawMessage) (*Function, Route, error) {
	m, err := readObject(where, raw)
	if err != nil {
		return nil, Route{}, err
	}
	rawType, ok := m["functionType"]
	if !ok {
		return nil, Route{}, specErr(where, `no "functionType"`)
	}
	typ, err := readString(where+".functionType", rawType)
	if err != nil {
		return nil, Route{}, err
	}
	switch FunctionType(typ) {
	case HTTPAction:
		var r Route
		if raw, ok := m["method"]; ok {
			if r.Method, err = readString(where+".method", raw); err != nil {
				return nil, Route{}, err
			}
		}
		if raw, ok := m["path"]; ok {
			if r.Path, err = readString(where+".path", raw); err != nil {
				return nil, Route{}, err
			}
		}
		return nil, r, nil
	case Query, Mutation, Action:
	default:
		return nil, Route{}, specErr(where+".functionType", `%q is not "Query", "Mutation", "Action" or "HttpAction"`, typ)
	}
	f := &Function{Type: FunctionType(typ)}
	rawID, ok := m["identifier"]
	if !ok {
		return nil, Route{}, specErr(where, `no "identifier"`)
	}
	if f.Identifier, err = readString(where+".identifier", rawID); err != nil {
		return nil, Route{}, err
	}
	if !strings.Contains(f.Identifier, ":") {
		return nil, Route{}, specErr(where+".identifier", `%q is not "module:name"`, f.Identifier)
	}
	if err := protocol.ValidateUDFPath(f.Identifier); err != nil {
		return nil, Route{}, specErr(where+".identifier", "%v", err)
	}
	where += " (" + f.Identifier + ")"
	if raw, ok := m["visibility"]; ok && !isNull(raw) {
		vm, err := readObject(where+".visibility", raw)
		if err != nil {
			return nil, Route{}, err
		}
		kind, err := readString(where+".visibility.kind", vm["kind"])
		if err != nil {
			return nil, Route{}, err
		}
		switch kind {
		case "public":
		case "internal":
			f.Internal = true
		default:
			return nil, Route{}, specErr(where+".visibility.kind", `%q is not "public" or "internal"`, kind)
		}
	}
	if f.Args, err = readTopValidator(where+".args", m["args"]); err != nil {
		return nil, Route{}, err
	}
	if f.Returns, err = readTopValidator(where+".returns", m["returns"]); err != nil {
		return nil, Route{}, err
	}
	return f, Route{}, nil
}

// readTopValidator reads a function's args or returns: a validator, a
// string holding one (as the deployment stores them), or nothing (no
// validator: any value).
func readTopValidator(where string, raw json.RawMessage) (*Validator, error) {
	if raw == nil || isNull(raw) {
		return &Validator{Kind: Any}, nil
	}
	if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '"' {
		s, err := readString(where, raw)
		if err != nil {
			return nil, err
		}
		raw = json.RawMessage(s)
		if !json.Valid(raw) {
			return nil, specErr(where, "the string is not a JSON validator")
		}
	}
	return readValidator(where, raw, 0)
}

func readValidator(where string, raw json.RawMessage, depth int) (*Validator, error) {
	if depth > maxDepth {
		return nil, specErr(where, "validators nest more than %d deep", maxDepth)
	}
	m, err := readObject(where, raw)
	if err != nil {
		return nil, err
	}
	rawKind, ok := m["type"]
	if !ok {
		return nil, specErr(where, `no "type"`)
	}
	kind, err := readString(where+".type", rawKind)
	if err != nil {
		return nil, err
	}
	v := &Validator{Kind: Kind(kind)}
	switch v.Kind {
	case Null, Number, Bigint, CommitTs, Boolean, String, Bytes, Any:
	case "map", "set": // old names the deployment reads as any
		v.Kind = Any
	case Literal:
		raw, ok := m["value"]
		if !ok {
			return nil, specErr(where, `literal has no "value"`)
		}
		val, err := protocol.DecodeValue(raw)
		if err != nil {
			return nil, specErr(where+".value", "%v", err)
		}
		switch val.(type) {
		case string, bool, float64, protocol.Int64:
		default:
			return nil, specErr(where+".value", "a literal must be a string, number, bigint or boolean, not %s", describeJSON(raw))
		}
		v.Value = val
	case ID:
		raw, ok := m["tableName"]
		if !ok {
			return nil, specErr(where, `id has no "tableName"`)
		}
		if v.TableName, err = readString(where+".tableName", raw); err != nil {
			return nil, err
		}
		if v.TableName == "" {
			return nil, specErr(where+".tableName", "empty table name")
		}
	case Array:
		raw, ok := m["value"]
		if !ok {
			return nil, specErr(where, `array has no "value"`)
		}
		if v.Elem, err = readValidator(where+".value", raw, depth+1); err != nil {
			return nil, err
		}
	case Record:
		rawKeys, ok := m["keys"]
		if !ok {
			return nil, specErr(where, `record has no "keys"`)
		}
		if v.Keys, err = readValidator(where+".keys", rawKeys, depth+1); err != nil {
			return nil, err
		}
		if !stringKeys(v.Keys) {
			return nil, specErr(where+".keys", "record keys must be strings or IDs")
		}
		rawValues, ok := m["values"]
		if !ok {
			return nil, specErr(where, `record has no "values"`)
		}
		fv, err := readFieldType(where+".values", rawValues, depth+1)
		if err != nil {
			return nil, err
		}
		if fv.Optional {
			return nil, specErr(where+".values", "record values cannot be optional")
		}
		v.Values = fv.Type
	case Object:
		raw, ok := m["value"]
		if !ok {
			return nil, specErr(where, `object has no "value"`)
		}
		fields, err := readObject(where+".value", raw)
		if err != nil {
			return nil, err
		}
		for name, raw := range fields {
			fwhere := where + ".value[" + strconv.Quote(name) + "]"
			if name == "" || strings.HasPrefix(name, "$") {
				return nil, specErr(fwhere, "%q is not a Convex field name", name)
			}
			fv, err := readFieldType(fwhere, raw, depth+1)
			if err != nil {
				return nil, err
			}
			fv.Name = name
			v.Fields = append(v.Fields, fv)
		}
		slices.SortFunc(v.Fields, func(a, b Field) int { return strings.Compare(a.Name, b.Name) })
	case Union:
		raw, ok := m["value"]
		if !ok {
			return nil, specErr(where, `union has no "value"`)
		}
		var members []json.RawMessage
		if err := json.Unmarshal(raw, &members); err != nil {
			return nil, specErr(where+".value", "want an array, got %s", describeJSON(raw))
		}
		for i, raw := range members {
			mv, err := readValidator(fmt.Sprintf("%s.value[%d]", where, i), raw, depth+1)
			if err != nil {
				return nil, err
			}
			v.Members = append(v.Members, mv)
		}
	default:
		return nil, specErr(where+".type", "unknown validator type %q", kind)
	}
	return v, nil
}

func readFieldType(where string, raw json.RawMessage, depth int) (Field, error) {
	m, err := readObject(where, raw)
	if err != nil {
		return Field{}, err
	}
	rawType, ok := m["fieldType"]
	if !ok {
		return Field{}, specErr(where, `no "fieldType"`)
	}
	t, err := readValidator(where+".fieldType", rawType, depth)
	if err != nil {
		return Field{}, err
	}
	f := Field{Type: t}
	if raw, ok := m["optional"]; ok && !isNull(raw) {
		if err := json.Unmarshal(raw, &f.Optional); err != nil {
			return Field{}, specErr(where+".optional", "want a boolean, got %s", describeJSON(raw))
		}
	}
	return f, nil
}

// stringKeys reports whether v accepts only strings, as record keys must.
func stringKeys(v *Validator) bool {
	switch v.Kind {
	case String, ID:
		return true
	case Literal:
		_, ok := v.Value.(string)
		return ok
	case Union:
		for _, m := range v.Members {
			if !stringKeys(m) {
				return false
			}
		}
		return len(v.Members) > 0
	}
	return false
}
