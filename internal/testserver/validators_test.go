package testserver

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/convexgo/convex/protocol"
)

// TestValidatorJSON: the JSON of each validator is what convex-js's
// validators.ts .json getters produce.
func TestValidatorJSON(t *testing.T) {
	for _, tc := range []struct {
		v    *Validator
		want string
	}{
		{V.Number(), `{"type":"number"}`},
		{V.Float64(), `{"type":"number"}`},
		{V.Int64(), `{"type":"bigint"}`},
		{V.String(), `{"type":"string"}`},
		{V.Boolean(), `{"type":"boolean"}`},
		{V.Null(), `{"type":"null"}`},
		{V.Bytes(), `{"type":"bytes"}`},
		{V.Any(), `{"type":"any"}`},
		{V.ID("messages"), `{"type":"id","tableName":"messages"}`},
		{V.Literal("a\"b"), `{"type":"literal","value":"a\"b"}`},
		{V.Literal(3), `{"type":"literal","value":3}`},
		{V.Literal(protocol.Int64(5)), `{"type":"literal","value":{"$integer":"BQAAAAAAAAA="}}`},
		{V.Literal(true), `{"type":"literal","value":true}`},
		{V.Array(V.String()), `{"type":"array","value":{"type":"string"}}`},
		{V.Record(V.String(), V.Number()), `{"type":"record","keys":{"type":"string"},"values":{"fieldType":{"type":"number"},"optional":false}}`},
		{V.Union(V.Null(), V.String()), `{"type":"union","value":[{"type":"null"},{"type":"string"}]}`},
		{V.Object(nil), `{"type":"object","value":{}}`},
		{V.Object(map[string]*Validator{"name": V.String(), "by": V.Optional(V.Number())}),
			`{"type":"object","value":{"by":{"fieldType":{"type":"number"},"optional":true},"name":{"fieldType":{"type":"string"},"optional":false}}}`},
		{V.Optional(V.String()), `{"type":"string"}`},
	} {
		got, err := json.Marshal(tc.v)
		if err != nil || string(got) != tc.want {
			t.Errorf("%s: got %s (%v), want %s", tc.v, got, err, tc.want)
		}
	}
	if _, err := json.Marshal(V.Array(V.Optional(V.String()))); err == nil {
		t.Error("an optional array element was serialized")
	}
}

// TestValidatorString: validators print as the backend's Display does.
func TestValidatorString(t *testing.T) {
	for _, tc := range []struct {
		v    *Validator
		want string
	}{
		{V.Number(), "v.float64()"},
		{V.Int64(), "v.int64()"},
		{V.ID("users"), `v.id("users")`},
		{V.Literal("x"), `v.literal("x")`},
		{V.Literal(1.5), "v.literal(1.5)"},
		{V.Literal(2), "v.literal(2.0)"},
		{V.Literal(1e21), "v.literal(1e21)"},
		{V.Literal(math.Inf(1)), "v.literal(<number>)"},
		{V.Literal(protocol.Int64(2)), "v.literal(<bigint>)"},
		{V.Record(V.ID("t"), V.Array(V.Bytes())), `v.record(v.id("t"), v.array(v.bytes()))`},
		{V.Union(V.Null(), V.Boolean(), V.Any()), "v.union(v.null(), v.boolean(), v.any())"},
		{V.Object(map[string]*Validator{"b": V.Optional(V.String()), "a": V.Null()}), "v.object({a: v.null(), b: v.optional(v.string())})"},
	} {
		if got := tc.v.String(); got != tc.want {
			t.Errorf("got %s, want %s", got, tc.want)
		}
	}
}

// TestValidatorErrors: every kind of failure has the backend's message
// (crates/common/src/schemas/validator.rs ValidationError), with the path
// built from the innermost failure outwards.
func TestValidatorErrors(t *testing.T) {
	tables := func(name string) bool { return name == "users" || name == "messages" }
	obj := V.Object(map[string]*Validator{
		"tags":  V.Optional(V.Array(V.String())),
		"owner": V.Optional(V.ID("users")),
		"kind":  V.Optional(V.Union(V.Literal("a"), V.Literal("b"))),
		"one":   V.Optional(V.Union(V.Literal("only"))),
		"meta":  V.Optional(V.Record(V.String(), V.Int64())),
		"n":     V.Number(),
	})
	for _, tc := range []struct {
		name  string
		value any
		want  string
	}{
		{"ok", map[string]any{"n": 1.0, "tags": []any{"x"}, "owner": "users_1", "kind": "b", "meta": map[string]any{"k": protocol.Int64(1)}}, ""},
		{"array element", map[string]any{"n": 1.0, "tags": []any{"x", 2.0}},
			"Value does not match validator.\nPath: .tags[1]\nValue: 2.0\nValidator: v.string()"},
		{"id of another table", map[string]any{"n": 1.0, "owner": "messages_4"},
			"Found ID \"messages_4\" from table `messages`, which does not match the table name in validator `v.id(\"users\")`.Path: .owner"},
		{"id of a table that does not exist", map[string]any{"n": 1.0, "owner": "ghosts_4"},
			"Value does not match validator.\nPath: .owner\nValue: \"ghosts_4\"\nValidator: v.id(\"users\")"},
		{"union", map[string]any{"n": 1.0, "kind": "c"},
			"Value does not match validator.\nPath: .kind\nValue: \"c\"\nValidator: v.union(v.literal(\"a\"), v.literal(\"b\"))"},
		{"union of one reports its member", map[string]any{"n": 1.0, "one": "other"},
			"`\"other\"` does not match literal validator `v.literal(\"only\")`.Path: .one"},
		{"record value", map[string]any{"n": 1.0, "meta": map[string]any{"k": 1.0}},
			"Value does not match validator.\nPath: .meta.values()\nValue: 1.0\nValidator: v.int64()"},
		{"missing field", map[string]any{},
			"Object is missing the required field `n`. Consider wrapping the field validator in `v.optional(...)` if this is expected.\n\nObject: {}\nValidator: " + obj.String()},
		{"extra field comes after the fields' own checks", map[string]any{"n": 1.0, "zz": nil, "aa": []byte{1}},
			"Object contains extra field `aa` that is not in the validator.\n\nObject: {aa: b\"AQ==\", n: 1.0, zz: null}\nValidator: " + obj.String()},
		{"not an object", []any{math.NaN(), math.Inf(-1), math.Copysign(0, -1), 1e16, 1e-5, 0.0001, "a\n\"b\""},
			"Value does not match validator.\n\nValue: [NaN, -inf, -0.0, 1e16, 1e-5, 0.0001, \"a\\n\\\"b\\\"\"]\nValidator: " + obj.String()},
	} {
		err := obj.check(tc.value, tables)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || err.Error() != tc.want):
			t.Errorf("%s:\n got %v\nwant %s", tc.name, err, tc.want)
		}
	}
	if err := V.Record(V.ID("users"), V.Any()).check(map[string]any{"k": 1.0}, tables); err == nil ||
		err.Error() != "Value does not match validator.\nPath: .keys()\nValue: \"k\"\nValidator: v.id(\"users\")" {
		t.Errorf("record key: %v", err)
	}
	// A literal compares as Convex values do: 1 is not 1n, -0 is not 0.
	if V.Literal(1).check(protocol.Int64(1), tables) == nil || V.Literal(0.0).check(math.Copysign(0, -1), tables) == nil {
		t.Error("literal matched a different value")
	}
}

func TestInvalidValidators(t *testing.T) {
	for name, v := range map[string]*Validator{
		"optional array element": V.Array(V.Optional(V.String())),
		"optional union member":  V.Union(V.String(), V.Optional(V.Null())),
		"record number keys":     V.Record(V.Number(), V.String()),
		"record optional values": V.Record(V.String(), V.Optional(V.String())),
		"bad field name":         V.Object(map[string]*Validator{"$x": V.String()}),
		"nil field":              V.Object(map[string]*Validator{"x": nil}),
		"bad table":              V.ID("no-dashes"),
		"literal of an array":    V.Literal([]any{1}),
		"zero":                   {},
	} {
		if v.Err() == nil {
			t.Errorf("%s: no error", name)
		}
	}
	s := New()
	defer s.Close()
	for name, reg := range map[string]func(){
		"args not an object":  func() { s.RegisterQueryV("a:b", V.String(), nil, nil) },
		"args optional":       func() { s.RegisterQueryV("a:b", V.Optional(V.Object(nil)), nil, nil) },
		"returns optional":    func() { s.RegisterQueryV("a:b", nil, V.Optional(V.String()), nil) },
		"invalid validator":   func() { s.RegisterMutationV("a:b", V.Object(map[string]*Validator{"x": V.ID("")}), nil, nil) },
		"reserved module":     func() { s.RegisterQuery("_system/x:y", nil) },
		"module too long":     func() { s.RegisterQuery(strings.Repeat("m", 62)+":f", nil) },
		"function name empty": func() { s.RegisterAction("m:", nil) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: registered", name)
				}
			}()
			reg()
		}()
	}
}

// TestReturnsValidation: a result that fails the returns validator is the
// backend's ReturnsValidationError, and a mutation's writes are dropped.
func TestReturnsValidation(t *testing.T) {
	s := newDemo(t)
	s.RegisterMutationV("bad:insert", V.Object(nil), V.String(), func(ctx *MutationCtx, _ map[string]any) (any, error) {
		if _, err := ctx.Insert("things", map[string]any{"n": 1}); err != nil {
			return nil, err
		}
		return 5, nil
	})
	s.RegisterQueryV("bad:id", nil, V.ID("messages"), func(*QueryCtx, map[string]any) (any, error) { return "counters_1", nil })
	s.RegisterQuery("t:list", func(ctx *QueryCtx, _ map[string]any) (any, error) { return ctx.List("things"), nil })
	out := s.call(s.ctx, 0, "bad:insert", map[string]any{}, nil, callOpts{requestID: "00000000000000aa"})
	want := "[Request ID: 00000000000000aa] Server Error\nReturnsValidationError: Value does not match validator.\n\nValue: 5.0\nValidator: v.string()\n"
	if out.err == nil || out.errMsg != want {
		t.Fatalf("got %q, want %q", out.errMsg, want)
	}
	if v, err := s.RunQuery("t:list", nil); err != nil || len(v.([]any)) != 0 {
		t.Fatalf("the mutation's write was committed: %v %v", v, err)
	}
	// The id's table exists, but it is not the validator's.
	if _, err := s.RunMutation("counter:increment", map[string]any{"name": "x"}); err != nil {
		t.Fatal(err)
	}
	_, err := s.RunQuery("bad:id", nil)
	if err == nil || !strings.HasPrefix(err.Error(), "ReturnsValidationError: Found ID \"counters_1\" from table `counters`") {
		t.Fatalf("got %v", err)
	}
}
