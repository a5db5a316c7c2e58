package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

var udfResponseSeeds = []string{
	`{"status":"success","value":"user-1","logLines":[]}`,
	`{"status":"success","value":{"a":[1,{"$integer":"AQAAAAAAAAA="}],"b":null},"logLines":["[LOG] 'x'"]}`,
	` { "status" : "error" , "errorMessage" : "Uncaught Error: boom" , "errorData" : {"code":1} , "logLines" : [ "a\nb", "\u00e9" ] } `,
	`{"status":"success","value":null}`,
	`{"status":"success"}`,
	`{}`,
	`{"status":"success","value":1,"extra":{"deep":[1,2,{"x":"}"}]}}`,
	`{"status":"success","logLines":null}`,
	`{"status":"error","errorMessage":"caf\u00e9 \"q\"","errorData":null}`,
	"{\"status\":\"success\",\"logLines\":[\"\xff\"]}",
	// Declined by the fast path, for encoding/json to decide.
	`{"status":"success","status":"error"}`,
	`{"Status":"success"}`,
	`{"st\u0061tus":"success"}`,
	`{"status":null,"value":1}`,
	`{"status":"success","logLines":[null]}`,
	`{"status":1}`,
	`{"status":"success",}`,
	`{"status":"success"}x`,
	`{"status":"success"`,
	`null`,
	`[]`,
	``,
	`{"value":` + strings.Repeat("[", 1001) + strings.Repeat("]", 1001) + `}`,
}

// TestDecodeUDFResponseMatchesEncodingJSON checks results and errors
// against json.Unmarshal, and that the bodies deployments send are read by
// the fast path.
func TestDecodeUDFResponseMatchesEncodingJSON(t *testing.T) {
	for i, s := range udfResponseSeeds {
		checkUDFResponse(t, []byte(s))
		if _, ok := fastUDFResponse([]byte(s)); ok != (i < 10) {
			t.Errorf("fast path took %q: %v", s, ok)
		}
	}
	r, err := DecodeUDFResponse([]byte(udfResponseSeeds[1]))
	if err != nil || r.Status != StatusSuccess || string(r.Value) != `{"a":[1,{"$integer":"AQAAAAAAAAA="}],"b":null}` ||
		!reflect.DeepEqual(r.LogLines, []string{"[LOG] 'x'"}) {
		t.Fatalf("DecodeUDFResponse = %+v, %v", r, err)
	}
}

func checkUDFResponse(t *testing.T, data []byte) {
	t.Helper()
	var want UDFResponse
	wantErr := json.Unmarshal(bytes.Clone(data), &want)
	got, err := DecodeUDFResponse(data)
	if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
		t.Fatalf("%q: error %v, encoding/json %v", data, err, wantErr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\ngot  %#v\nwant %#v", data, got, want)
	}
}

func FuzzDecodeUDFResponse(f *testing.F) {
	for _, s := range udfResponseSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkUDFResponse(t, data)
	})
}

var httpRequestSeeds = []HTTPRequest{
	{Path: "auth:whoami", Args: json.RawMessage(`{}`), Format: FormatConvexEncodedJSON},
	{Path: "messages:send", Args: json.RawMessage(`{"body":"<b>&amp;</b>","n":{"$integer":"AQAAAAAAAAA="}}`), Format: FormatJSON},
	{Path: "m:f"},
	{Path: "m:f", Args: json.RawMessage(` { "a" : [ 1 , 2 ] } `)},
	{Path: "m:f", Args: json.RawMessage("{\"s\":\"\u2028\"}")},
	// Through MarshalJSON.
	{Path: "a<b", Args: json.RawMessage(`{}`)},
	{Path: "caf\u00e9:f", Args: json.RawMessage(`{}`)},
	{Path: "bad\xff", Args: json.RawMessage(`{}`)},
	{Path: "m:f", Args: json.RawMessage(`{}`), Format: "a\"b"},
	{Path: "m:f", Args: json.RawMessage(`{"a":`)},
	{Path: "m:f", Args: json.RawMessage(`{} {}`)},
}

// TestAppendHTTPRequestMatchesMarshalJSON checks that the body reads, as
// JSON, the same as MarshalJSON's, that invalid args are the same error,
// and that what is there already in dst is kept.
func TestAppendHTTPRequestMatchesMarshalJSON(t *testing.T) {
	for _, r := range httpRequestSeeds {
		checkHTTPRequest(t, r)
	}
	got, err := AppendHTTPRequest([]byte("x"), httpRequestSeeds[0])
	if want := `x{"path":"auth:whoami","args":[{}],"format":"convex_encoded_json"}`; err != nil || string(got) != want {
		t.Fatalf("AppendHTTPRequest = %s, %v; want %s", got, err, want)
	}
}

func checkHTTPRequest(t *testing.T, r HTTPRequest) {
	t.Helper()
	want, wantErr := r.MarshalJSON()
	got, err := AppendHTTPRequest(nil, r)
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("%+v: error %v, MarshalJSON %v", r, err, wantErr)
	}
	if err != nil {
		if err.Error() != wantErr.Error() {
			t.Fatalf("%+v: error %v, MarshalJSON %v", r, err, wantErr)
		}
		return
	}
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%+v: AppendHTTPRequest wrote %q: %v", r, got, err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("%+v:\ngot  %s\nwant %s", r, got, want)
	}
	var gr, wr HTTPRequest
	gerr, werr := json.Unmarshal(got, &gr), json.Unmarshal(want, &wr)
	if (gerr == nil) != (werr == nil) || gr.Path != wr.Path || gr.Format != wr.Format {
		t.Fatalf("%+v: read back as %+v, %v; MarshalJSON's as %+v, %v", r, gr, gerr, wr, werr)
	}
}

func FuzzAppendHTTPRequest(f *testing.F) {
	for _, r := range httpRequestSeeds {
		f.Add(r.Path, []byte(r.Args), r.Format)
	}
	f.Fuzz(func(t *testing.T, path string, args []byte, format string) {
		checkHTTPRequest(t, HTTPRequest{Path: path, Args: args, Format: format})
	})
}

// TestAppendArgs checks that AppendArgs appends what EncodeArgs returns,
// and leaves dst as it was on error.
func TestAppendArgs(t *testing.T) {
	for _, v := range []any{nil, map[string]any{"a": 1, "b": []any{"x", Int64(2)}}, struct{ N int }{3}} {
		want, err := EncodeArgs(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := AppendArgs([]byte("pre"), v)
		if err != nil || string(got) != "pre"+string(want) {
			t.Fatalf("AppendArgs(%v) = %s, %v; want pre%s", v, got, err, want)
		}
	}
	for _, v := range []any{1, []any{}, map[string]any{"$bad": 1}, []byte{1}, map[string]any{"a": strings.Repeat("x", MaxArgsSize)}} {
		_, want := EncodeArgs(v)
		got, err := AppendArgs([]byte("pre"), v)
		if err == nil || want == nil || err.Error() != want.Error() || string(got) != "pre" {
			t.Fatalf("AppendArgs(%.40v) = %q, %v; EncodeArgs error %v", v, got, err, want)
		}
		if !errors.Is(err, ErrInvalidValue) {
			t.Fatalf("AppendArgs(%.40v) error %T is not a ValueError", v, err)
		}
	}
}

func BenchmarkHTTPRequestBody(b *testing.B) {
	r := HTTPRequest{Path: "messages:list", Args: json.RawMessage(`{"channel":"general","limit":20}`), Format: FormatConvexEncodedJSON}
	b.Run("MarshalJSON", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("AppendHTTPRequest", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 256)
		for b.Loop() {
			if _, err := AppendHTTPRequest(buf[:0], r); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkUDFResponse(b *testing.B) {
	data := []byte(`{"status":"success","value":{"_id":"k57abc","_creationTime":1735689599000.5,"author":"ada","body":"hello there"},"logLines":[]}`)
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var r UDFResponse
			if err := json.Unmarshal(data, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("DecodeUDFResponse", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := DecodeUDFResponse(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
