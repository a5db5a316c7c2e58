package testserver

import (
	"strings"
	"testing"
)

// TestParseFunctionPath: paths are parsed, and limits counted, as the
// backend's UdfPath parser does: 64 bytes per module component with the
// ".js" it adds to the last one, 64 bytes of function name, no limit on
// nesting.
func TestParseFunctionPath(t *testing.T) {
	deep := strings.Repeat("d/", 200) + "m"
	for _, tc := range []struct{ in, key, canonical string }{
		{"messages", "messages:default", "messages.js:default"},
		{"messages.js:list", "messages:list", "messages.js:list"},
		{"dir/file:fn", "dir/file:fn", "dir/file.js:fn"},
		{"messages/:list", "messages:list", "messages.js:list"},
		{strings.Repeat("m", 61) + ":f", strings.Repeat("m", 61) + ":f", strings.Repeat("m", 61) + ".js:f"},
		{strings.Repeat("m", 61) + ".js:f", strings.Repeat("m", 61) + ":f", strings.Repeat("m", 61) + ".js:f"},
		{strings.Repeat("d", 64) + "/m:" + strings.Repeat("f", 64), strings.Repeat("d", 64) + "/m:" + strings.Repeat("f", 64), ""},
		{deep + ":_f1", deep + ":_f1", ""},
		{"a.b.js:x", "a.b:x", ""},
		{"_system/x:y", "_system/x:y", ""},
	} {
		fp, err := parseFunctionPath(tc.in)
		if err != nil || fp.key() != tc.key || (tc.canonical != "" && fp.canonical() != tc.canonical) {
			t.Errorf("%.40s: %+v %v", tc.in, fp, err)
		}
	}
	long := strings.Repeat("m", 62)
	for _, tc := range []struct{ in, want string }{
		{long + ":f", "Path component is too long (65 > maximum 64): " + strings.Repeat("m", 62) + ".j..."},
		{"m:" + strings.Repeat("f", 65), "Identifier is too long (65 > maximum 64)"},
		{strings.Repeat("d", 65) + "/m:f", "Path component is too long (65 > maximum 64): " + strings.Repeat("d", 64) + "..."},
		{"", "Module path  doesn't have a filename."},
		{":f", "Module path  doesn't have a filename."},
		{"a/..:f", "Module path a/.. doesn't have a filename."},
		{"messages.ts:list", "Module path (messages.ts) has an extension that isn't 'js'."},
		{"a.:f", "Module path (a.) has an extension that isn't 'js'."},
		{"/abs:f", "Module paths must be relative (/abs is absolute)."},
		{"./m:f", "Invalid path component CurDir in ./m."},
		{"../m:f", "Invalid path component ParentDir in ../m."},
		{"a b:f", "Path component a b.js can only contain alphanumeric characters, underscores, or periods."},
		{"__/m:f", "Path component __ must have at least one alphanumeric character."},
		{"m:", "Identifier cannot be empty"},
		{"m:9f", "Invalid first character '9' in 9f: Identifiers must start with an alphabetic character or underscore"},
		{"m:f.g", "Identifier f.g has invalid character '.': Identifiers can only contain alphanumeric characters or underscores"},
		{"m:___", "Identifier ___ cannot have exclusively underscores"},
		{"a:b:c", "Path component a:b.js can only contain alphanumeric characters, underscores, or periods."},
	} {
		if _, err := parseFunctionPath(tc.in); err == nil || err.Error() != tc.want {
			t.Errorf("%.40q: got %v\nwant %s", tc.in, err, tc.want)
		}
	}
}

// TestFunctionPathOverHTTP: a bad path is a 400 BadConvexFunctionIdentifier
// with the backend's message.
func TestFunctionPathOverHTTP(t *testing.T) {
	s := newDemo(t)
	r := doHTTP(t, s, "POST", "/api/query", `{"path":"counter.ts:get","args":{}}`, nil)
	if r.status != 400 || r.body["code"] != "BadConvexFunctionIdentifier" ||
		r.body["message"] != "counter.ts:get is not a valid path to a Convex function. Module path (counter.ts) has an extension that isn't 'js'." {
		t.Fatalf("%d %s", r.status, r.raw)
	}
}
