package codegen

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/convexgo/convex/protocol"
)

func TestReadSpecShapes(t *testing.T) {
	// The bare array is what _system/cli/modules:apiSpec returns; args and
	// returns may be strings of JSON, as the deployment stores them, or
	// missing (no validator: any).
	spec, err := ReadSpec([]byte(`[
		{"identifier": "a.js:f", "functionType": "Query", "visibility": {"kind": "internal"},
		 "args": "{\"type\":\"object\",\"value\":{\"x\":{\"fieldType\":{\"type\":\"bigint\"},\"optional\":true}}}"},
		{"identifier": "a.js:g", "functionType": "Action", "visibility": null, "returns": {"type": "literal", "value": {"$integer": "AQAAAAAAAAA="}}},
		{"functionType": "HttpAction", "method": "GET", "path": "/x"}
	]`))
	if err != nil {
		t.Fatal(err)
	}
	if len(spec.Functions) != 2 || len(spec.Routes) != 1 || spec.Routes[0] != (Route{"GET", "/x"}) {
		t.Fatalf("spec = %+v", spec)
	}
	f, g := spec.Functions[0], spec.Functions[1]
	if !f.Internal || f.Path() != "a:f" || f.Args.Kind != Object || f.Args.Fields[0].Type.Kind != Bigint || !f.Args.Fields[0].Optional {
		t.Errorf("f = %+v, args %+v", f, f.Args)
	}
	if f.Returns.Kind != Any {
		t.Errorf("missing returns = %v, want any", f.Returns.Kind)
	}
	if g.Internal || g.Args.Kind != Any || g.Returns.Kind != Literal || g.Returns.Value != protocol.Int64(1) {
		t.Errorf("g = %+v, returns %+v", g, g.Returns)
	}
}

func TestReadSpecErrors(t *testing.T) {
	fn := func(fields string) string {
		return `{"url": "u", "functions": [{"identifier": "m.js:f", "functionType": "Query", "visibility": {"kind": "public"}, ` + fields + `}]}`
	}
	for _, tt := range []struct {
		name, spec, want string
	}{
		{"empty", ``, "empty input"},
		{"not json", `{`, "not JSON"},
		{"scalar", `3`, "want a JSON object"},
		{"no functions", `{"url": "x"}`, `no "functions"`},
		{"functions not array", `{"functions": {}}`, "functions: want an array"},
		{"function not object", `{"functions": [1]}`, "functions[0]: want a JSON object, got a number"},
		{"no type", `{"functions": [{"identifier": "m:f"}]}`, `functions[0]: no "functionType"`},
		{"bad type", `{"functions": [{"identifier": "m:f", "functionType": "query"}]}`, `functions[0].functionType: "query" is not "Query"`},
		{"no identifier", `{"functions": [{"functionType": "Query"}]}`, `no "identifier"`},
		{"identifier without name", `{"functions": [{"functionType": "Query", "identifier": "m.js"}]}`, `is not "module:name"`},
		{"bad identifier", `{"functions": [{"functionType": "Query", "identifier": "a b:f"}]}`, `functions[0].identifier`},
		{"bad visibility", fn(`"visibility": {"kind": "secret"}`), `functions[0] (m.js:f).visibility.kind: "secret"`},
		{"duplicate", `{"functions": [{"functionType": "Query", "identifier": "m.js:f"}, {"functionType": "Mutation", "identifier": "m:f"}]}`, "listed twice"},
		{"unknown validator", fn(`"args": {"type": "object", "value": {"body": {"fieldType": {"type": "strin"}, "optional": false}}}`),
			`functions[0] (m.js:f).args.value["body"].fieldType.type: unknown validator type "strin"`},
		{"no fieldType", fn(`"args": {"type": "object", "value": {"body": {"optional": false}}}`), `args.value["body"]: no "fieldType"`},
		{"optional not bool", fn(`"args": {"type": "object", "value": {"b": {"fieldType": {"type": "null"}, "optional": "yes"}}}`), `.optional: want a boolean`},
		{"dollar field", fn(`"args": {"type": "object", "value": {"$x": {"fieldType": {"type": "null"}, "optional": false}}}`), `is not a Convex field name`},
		{"array without value", fn(`"returns": {"type": "array"}`), `returns: array has no "value"`},
		{"union not array", fn(`"returns": {"type": "union", "value": {}}`), `returns.value: want an array`},
		{"union member", fn(`"returns": {"type": "union", "value": [{"type": "null"}, 5]}`), `returns.value[1]: want a JSON object`},
		{"literal object", fn(`"returns": {"type": "literal", "value": {"a": 1}}`), `returns.value: a literal must be`},
		{"literal bad special", fn(`"returns": {"type": "literal", "value": {"$integer": "x"}}`), `returns.value:`},
		{"id without table", fn(`"returns": {"type": "id"}`), `id has no "tableName"`},
		{"record number keys", fn(`"returns": {"type": "record", "keys": {"type": "number"}, "values": {"fieldType": {"type": "null"}, "optional": false}}`), `returns.keys: record keys must be strings`},
		{"record optional values", fn(`"returns": {"type": "record", "keys": {"type": "string"}, "values": {"fieldType": {"type": "null"}, "optional": true}}`), `returns.values: record values cannot be optional`},
		{"args string not json", fn(`"args": "{nope"`), `args: the string is not a JSON validator`},
		{"too deep", fn(`"returns": ` + strings.Repeat(`{"type": "array", "value": `, 300) + `{"type": "null"}` + strings.Repeat(`}`, 300)), `nest more than`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadSpec([]byte(tt.spec))
			var se *SpecError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want a *SpecError", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestGenerateErrors(t *testing.T) {
	spec, err := ReadSpec([]byte(`[{"identifier": "m.js:f", "functionType": "Query",
		"args": {"type": "object", "value": {"a,b": {"fieldType": {"type": "null"}, "optional": false}}}}]`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Generate(spec, Options{Package: "api"}); err == nil || !strings.Contains(err.Error(), `m.js:f: field name "a,b" holds a comma`) {
		t.Errorf("err = %v", err)
	}
	for _, bad := range []string{"", "_", "a-b", "func"} {
		if _, err := Generate(&Spec{}, Options{Package: bad}); err == nil {
			t.Errorf("package %q: no error", bad)
		}
	}
}

func TestGenerateNoFunctions(t *testing.T) {
	// Only internal functions, and no --internal: a package with no
	// references, which must not import client.
	spec, err := ReadSpec([]byte(`[{"identifier": "m.js:f", "functionType": "Query", "visibility": {"kind": "internal"}}]`))
	if err != nil {
		t.Fatal(err)
	}
	src, err := Generate(spec, Options{Package: "api"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(src), "import") || !strings.Contains(string(src), "package api") {
		t.Errorf("source:\n%s", src)
	}
}

func TestGoName(t *testing.T) {
	for in, want := range map[string]string{
		"_id": "ID", "_creationTime": "CreationTime", "userId": "UserID", "channelIds": "ChannelIDs",
		"by_channel": "ByChannel", "HTTPServer": "HTTPServer", "dir/sub_file": "DirSubFile", "2fa": "X2fa",
		"imageUrl": "ImageURL", "a1B": "A1B", "-": "", "": "", "with space": "WithSpace", "ALLCAPS": "ALLCAPS",
	} {
		if got := goName(in); got != want {
			t.Errorf("goName(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzReadSpec: no input panics the reader or the generator, and what
// the reader accepts the generator turns into Go that gofmt accepts.
func FuzzReadSpec(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "*.spec.json"))
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`[{"identifier":"a:b","functionType":"Query","args":{"type":"union","value":[{"type":"object","value":{"k":{"fieldType":{"type":"literal","value":1},"optional":false}}},{"type":"object","value":{"k":{"fieldType":{"type":"literal","value":2},"optional":false}}}]}}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		spec, err := ReadSpec(data)
		if err != nil {
			var se *SpecError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is not a *SpecError", err)
			}
			return
		}
		if _, err := Generate(spec, Options{Package: "api", Internal: true}); err != nil && !strings.Contains(err.Error(), "holds a comma") {
			t.Fatalf("Generate: %v", err)
		}
	})
}
