package testserver

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

type httpResult struct {
	status int
	body   map[string]any
	raw    string
}

func doHTTP(t *testing.T, s *Server, method, path, body string, header map[string]string) httpResult {
	t.Helper()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: waitTimeout}
	var rd *strings.Reader
	if body != "" {
		rd = strings.NewReader(body)
	} else {
		rd = strings.NewReader("")
	}
	req, err := http.NewRequest(method, s.URL()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw := readAll(t, resp)
	var m map[string]any
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatalf("%s %s: body %q is not a JSON object", method, path, raw)
	}
	return httpResult{status: resp.StatusCode, body: m, raw: raw}
}

func TestHTTPFunctionAPI(t *testing.T) {
	s := newDemo(t)
	post := func(path, body string) httpResult {
		t.Helper()
		return doHTTP(t, s, "POST", path, body, nil)
	}
	r := post("/api/mutation", `{"path":"counter:increment","args":[{"name":"n","by":3}],"format":"convex_encoded_json"}`)
	if r.status != 200 || r.raw != `{"status":"success","value":3}` {
		t.Fatalf("mutation %d %s", r.status, r.raw)
	}
	r = post("/api/query", `{"path":"counter.js:get","args":{"name":"n"},"format":"convex_encoded_json"}`)
	if r.raw != `{"status":"success","value":3}` {
		t.Fatalf("query %s", r.raw)
	}
	// Clean JSON by default: Int64 as a decimal string.
	int64Args := `{"path":"echo:run","args":{"i":{"$integer":"AwAAAAAAAAA="}}}`
	if r = post("/api/action", int64Args); r.raw != `{"status":"success","value":{"i":"3"}}` {
		t.Fatalf("clean %s", r.raw)
	}
	if r = post("/api/action", strings.Replace(int64Args, `}}}`, `}},"format":"convex_json"}`, 1)); r.raw != `{"status":"success","value":{"i":{"$integer":"AwAAAAAAAAA="}}}` {
		t.Fatalf("legacy encoded %s", r.raw)
	}
	// Old npm clients get encoded JSON by default.
	r = doHTTP(t, s, "POST", "/api/action", int64Args, map[string]string{"Convex-Client": "npm-1.3.0"})
	if r.raw != `{"status":"success","value":{"i":{"$integer":"AwAAAAAAAAA="}}}` {
		t.Fatalf("npm 1.3.0 %s", r.raw)
	}
	q := url.Values{"path": {"counter:get"}, "args": {`{"name":"n"}`}, "format": {"json"}}
	if r = doHTTP(t, s, "GET", "/api/query?"+q.Encode(), "", nil); r.raw != `{"status":"success","value":3}` {
		t.Fatalf("GET %s", r.raw)
	}
	r = post("/api/action", `{"path":"echo:run","args":[{"b":{"$bytes":"AAEC"},"f":{"$float":"AAAAAAAA+H8="}}],"format":"json"}`)
	if r.raw != `{"status":"success","value":{"b":"AAEC","f":"NaN"}}` {
		t.Fatalf("action %s", r.raw)
	}
	if r = post("/api/function", `{"path":"counter:increment","args":{"name":"n"}}`); r.raw != `{"status":"success","value":4}` {
		t.Fatalf("function %s", r.raw)
	}
	// /api/run: module path segments and the function, clean JSON.
	if r = post("/api/run/counter/get", `{"args":{"name":"n"}}`); r.raw != `{"status":"success","value":4}` {
		t.Fatalf("run %s", r.raw)
	}
	if r = post("/api/run/messages/send", `{"args":{"channel":"c","author":"a","body":"b"}}`); r.body["status"] != "success" {
		t.Fatalf("run send %s", r.raw)
	}
	if r = post("/api/run/messages/list", `{"args":{"channel":"c"}}`); !strings.Contains(r.raw, `"body":"b"`) {
		t.Fatalf("run list %s", r.raw)
	}
	if r = post("/api/run/counter", `{}`); r.status != 400 || r.body["code"] != "MissingIdentifier" {
		t.Fatalf("run one segment %d %s", r.status, r.raw)
	}

	// Function errors are 200 with status error, and the message of a
	// development deployment: the request id (Convex-Request-Id when the
	// request has one), "Server Error", the error.
	r = post("/api/query", `{"path":"errors:throw","args":{},"format":"convex_encoded_json"}`)
	if core, _ := serverError(t, fmt.Sprint(r.body["errorMessage"])); r.status != 200 || r.body["status"] != "error" ||
		core != `Uncaught ConvexError: {"code":"boom"}` || r.body["errorData"].(map[string]any)["code"] != "boom" {
		t.Fatalf("throw %s", r.raw)
	}
	withID := map[string]string{"Convex-Request-Id": "feedfacecafebeef"}
	if r = doHTTP(t, s, "POST", "/api/query", `{"path":"nope:x","args":{}}`, withID); r.body["errorMessage"] !=
		"[Request ID: feedfacecafebeef] Server Error\nCould not find public function for 'nope:x'.\n" {
		t.Fatalf("missing %s", r.raw)
	}
	if r = doHTTP(t, s, "POST", "/api/query", `{"path":"nope","args":{}}`, withID); r.body["errorMessage"] !=
		"[Request ID: feedfacecafebeef] Server Error\nCould not find public function for 'nope'.\n" {
		t.Fatalf("missing default export %s", r.raw)
	}
	if r = post("/api/query", `{"path":"messages:send","args":{}}`); r.body["status"] != "error" || r.body["errorData"] != nil {
		t.Fatalf("wrong kind %s", r.raw)
	} else if core, _ := serverError(t, fmt.Sprint(r.body["errorMessage"])); core != "Trying to execute messages.js:send as Query, but it is defined as Mutation." {
		t.Fatalf("wrong kind %q", core)
	}
	r = doHTTP(t, s, "POST", "/api/mutation", `{"path":"counter:increment","args":{"name":"n","by":"2"}}`, withID)
	if r.status != 200 || r.body["errorMessage"] != "[Request ID: feedfacecafebeef] Server Error\nArgumentValidationError: Value does not match validator.\n"+
		"Path: .by\nValue: \"2\"\nValidator: v.float64()\n" {
		t.Fatalf("validation %s", r.raw)
	}

	// Request errors are 4xx with code and message.
	for _, tc := range []struct{ path, body, code string }{
		{"/api/query", `{"path":`, "BadJsonBody"},
		{"/api/query", `{"path":"bad path!","args":{}}`, "BadConvexFunctionIdentifier"},
		{"/api/query", `{"args":{}}`, "BadConvexFunctionIdentifier"},
		{"/api/query", `{"path":"counter:get","args":[1,2]}`, "BadJsonBody"},
		{"/api/query", `{"path":"counter:get","args":{"$bad":1}}`, "BadJsonBody"},
		{"/api/query", `{"path":"counter:get","args":{},"format":"yaml"}`, "BadFormat"},
	} {
		r := post(tc.path, tc.body)
		if r.status != 400 || r.body["code"] != tc.code || r.body["message"] == "" {
			t.Errorf("%s %s: %d %s", tc.path, tc.body, r.status, r.raw)
		}
	}
	if r = doHTTP(t, s, "GET", "/api/nothing", "", nil); r.status != 404 {
		t.Fatalf("404: %d", r.status)
	}
	if r = post("/api/query_ts", ""); len(r.body["ts"].(string)) != 12 {
		t.Fatalf("query_ts %s", r.raw)
	}
	if st := s.Stats(); st.HTTPRequests != 25 {
		t.Fatalf("HTTP requests counted: %d", st.HTTPRequests)
	}
}

func TestHTTPAuth(t *testing.T) {
	keys := mustKeys(t)
	s := newDemo(t, WithAuth(keys.AuthConfig()))
	tok, err := keys.MintToken("user_7", time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	body := `{"path":"auth:whoami","args":{}}`
	if r := doHTTP(t, s, "POST", "/api/query", body, nil); r.raw != `{"status":"success","value":null}` {
		t.Fatalf("anonymous %s", r.raw)
	}
	r := doHTTP(t, s, "POST", "/api/query", body, map[string]string{"Authorization": "Bearer " + tok})
	if r.raw != `{"status":"success","value":"user_7"}` {
		t.Fatalf("authenticated %s", r.raw)
	}
	s.RegisterAction("who:act", func(ctx *ActionCtx, _ map[string]any) (any, error) {
		return ctx.Identity().TokenIdentifier, nil
	})
	s.RegisterMutation("who:mut", func(ctx *MutationCtx, _ map[string]any) (any, error) {
		return ctx.Identity().Subject, nil
	})
	r = doHTTP(t, s, "POST", "/api/action", `{"path":"who:act","args":{}}`, map[string]string{"Authorization": "Bearer " + tok})
	if r.raw != `{"status":"success","value":"`+keys.Issuer+`|user_7"}` {
		t.Fatalf("action identity %s", r.raw)
	}
	r = doHTTP(t, s, "POST", "/api/mutation", `{"path":"who:mut","args":{}}`, map[string]string{"Authorization": "Bearer " + tok})
	if r.raw != `{"status":"success","value":"user_7"}` {
		t.Fatalf("mutation identity %s", r.raw)
	}
	expired, _ := keys.MintToken("user_7", -time.Hour, nil)
	for _, tc := range []struct{ header, code string }{
		{"Bearer " + expired, "InvalidAuthHeader"},
		{"bearer " + expired, "InvalidAuthHeader"},
		{"Bearer not-a-jwt", "InvalidAuthHeader"},
		{"Bearer", "InvalidAuthHeader"},
		{"Basic abc", "InvalidAuthHeader"},
	} {
		r := doHTTP(t, s, "POST", "/api/query", body, map[string]string{"Authorization": tc.header})
		if r.status != 401 || r.body["code"] != tc.code || r.body["message"] == "" {
			t.Errorf("%q: %d %s", tc.header, r.status, r.raw)
		}
	}
}

func TestPathSpellings(t *testing.T) {
	s := newDemo(t)
	s.RegisterQuery("dir/mod", func(*QueryCtx, map[string]any) (any, error) { return "default export", nil })
	for _, p := range []string{"dir/mod", "dir/mod:default", "dir/mod.js", "dir/mod.js:default"} {
		v, err := s.RunQuery(p, nil)
		if err != nil || v != "default export" {
			t.Fatalf("%s: %v %v", p, v, err)
		}
	}
	if r := doHTTP(t, s, "POST", "/api/run/dir/mod/default", `{}`, nil); r.raw != `{"status":"success","value":"default export"}` {
		t.Fatalf("run %s", r.raw)
	}
}
