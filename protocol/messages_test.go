package protocol

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Checklist item 5 and section 1.2.
func TestU64(t *testing.T) {
	for _, tt := range []struct {
		n    uint64
		want string
	}{
		{0, "AAAAAAAAAAA="},
		{1, "AQAAAAAAAAA="},
		{1735689600123456789, "Fc2yx35oFhg="},
		{1735689601000000000, "AMrx+35oFhg="},
		{^uint64(0), "//////////8="},
	} {
		if got := EncodeU64(tt.n); got != tt.want {
			t.Errorf("EncodeU64(%d) = %q, want %q", tt.n, got, tt.want)
		}
		got, err := DecodeU64(tt.want)
		if err != nil || got != tt.n {
			t.Errorf("DecodeU64(%q) = %d, %v", tt.want, got, err)
		}
	}
	// URL-safe alphabet, as the official client accepts.
	if got, err := DecodeU64("AMrx-35oFhg="); err != nil || got != 1735689601000000000 {
		t.Errorf("URL-safe decode = %d, %v", got, err)
	}
	for _, bad := range []string{"", "AAAA", "AAAAAAAAAAAAAAAA", "AAAAAAAAAA==", "not base64!!", "AAAAAAAAAAA"} {
		if _, err := DecodeU64(bad); err == nil {
			t.Errorf("DecodeU64(%q) succeeded", bad)
		}
	}
	var ts Timestamp
	for _, bad := range []string{`1`, `null`, `"AAAA"`, `"`} {
		if err := json.Unmarshal([]byte(bad), &ts); err == nil {
			t.Errorf("Timestamp.UnmarshalJSON(%s) succeeded", bad)
		}
	}
}

// Checklist item 11 and section 4.2.
func TestCanonicalizeUDFPath(t *testing.T) {
	for in, want := range map[string]string{
		"messages":             "messages:default",
		"messages.js:list":     "messages:list",
		"messages:list":        "messages:list",
		"a/b:c":                "a/b:c",
		"dir/file:fn":          "dir/file:fn",
		"dir/messages.js:list": "dir/messages:list",
		"dir/messages":         "dir/messages:default",
		"messages.js":          "messages:default",
		"a:b:c":                "a:b:c",
		"Messages.TS:x":        "Messages.TS:x",
	} {
		if got := CanonicalizeUDFPath(in); got != want {
			t.Errorf("CanonicalizeUDFPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestValidateUDFPath(t *testing.T) {
	for _, ok := range []string{"messages:list", "messages", "messages.js", "messages.js:list", "dir/file:fn",
		"a_b/c.d.js:_x1", "m:" + strings.Repeat("f", 64)} {
		if err := ValidateUDFPath(ok); err != nil {
			t.Errorf("ValidateUDFPath(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", ":list", "messages:", "messages:1x", "messages:__", "a//b:c", "a/:c",
		"mess ages:list", "messages.ts:list", "_system/x:y", "_deps/x:y", "__/x:y", "a:b:c",
		"m:" + strings.Repeat("f", 65), strings.Repeat("m", 65) + ":f"} {
		if err := ValidateUDFPath(bad); err == nil {
			t.Errorf("ValidateUDFPath(%q) succeeded", bad)
		}
	}
}

func token(t *testing.T, path string, args any) QueryToken {
	t.Helper()
	b, err := EncodeArgs(args)
	if err != nil {
		t.Fatal(err)
	}
	return NewQueryToken(path, b)
}

// Checklist items 12-14 and section 4.3, at the token level.
func TestQueryToken(t *testing.T) {
	same := [][2]QueryToken{
		{token(t, "messages:list", map[string]any{"a": 1.0, "b": 2.0}), token(t, "messages:list", map[string]any{"b": 2.0, "a": 1.0})},
		{token(t, "messages.js:list", nil), token(t, "messages:list", map[string]any{})},
		{token(t, "messages", nil), token(t, "messages:default", nil)},
		{token(t, "m:f", map[string]any{"x": map[string]any{"d": 2.0, "c": 1.0}}), token(t, "m:f", json.RawMessage(`{"x":{"c":1,"d":2}}`))},
		// Plain Go integers are Float64, as JavaScript numbers are.
		{token(t, "m:f", map[string]any{"n": 1}), token(t, "m:f", map[string]any{"n": 1.0})},
		{token(t, "m:f", map[string]any{"n": int64(1)}), token(t, "m:f", map[string]any{"n": 1.0})},
		{token(t, "m:f", struct {
			N int64 `json:"n" convex:"int64"`
		}{1}), token(t, "m:f", map[string]any{"n": Int64(1)})},
	}
	for i, p := range same {
		if p[0] != p[1] {
			t.Errorf("pair %d: tokens differ:\n%q\n%q", i, p[0], p[1])
		}
	}
	different := [][2]QueryToken{
		{token(t, "m:f", map[string]any{"n": 1.0}), token(t, "m:f", map[string]any{"n": Int64(1)})},
		{token(t, "m:f", map[string]any{"n": 1}), token(t, "m:f", map[string]any{"n": Int64(1)})},
		{token(t, "m:f", map[string]any{"n": 0.0}), token(t, "m:f", map[string]any{"n": negZero})},
		{token(t, "m:f", map[string]any{"a": []any{1.0, 2.0}}), token(t, "m:f", map[string]any{"a": []any{2.0, 1.0}})},
		{token(t, "m:f", map[string]any{"s": "hi"}), token(t, "m:f", map[string]any{"s": []byte("hi")})},
		{token(t, "m:f", nil), token(t, "m:g", nil)},
		{token(t, "dir/m:f", nil), token(t, "m:f", nil)},
	}
	for i, p := range different {
		if p[0] == p[1] {
			t.Errorf("pair %d: tokens equal: %q", i, p[0])
		}
	}
	tok := token(t, "messages.js:list", map[string]any{"b": 1.0, "a": 2.0})
	if tok.Path() != "messages:list" || string(tok.Args()) != `{"a":2,"b":1}` {
		t.Errorf("token parts = %q, %s", tok.Path(), tok.Args())
	}
}

func strp(s string) *string { return &s }
func tsp(t Timestamp) *Timestamp {
	return &t
}

// Client messages: the examples of section 5 and checklist item 18.
func TestClientMessagesEncode(t *testing.T) {
	limit, _ := EncodeArgs(map[string]any{"channel": "general", "limit": Int64(100)})
	tests := []struct {
		name string
		msg  ClientMessage
		want string
	}{
		{"first connect", &Connect{SessionID: "3f2b8c1e-9a4d-4c6e-8b1f-2d7e5a9c0b13", LastCloseReason: strp("InitialConnect"), ClientTS: 1735689600000},
			`{"type":"Connect","sessionId":"3f2b8c1e-9a4d-4c6e-8b1f-2d7e5a9c0b13","connectionCount":0,"lastCloseReason":"InitialConnect","clientTs":1735689600000}`},
		{"reconnect", &Connect{SessionID: "3f2b8c1e-9a4d-4c6e-8b1f-2d7e5a9c0b13", ConnectionCount: 1, LastCloseReason: strp("InactiveServer"),
			MaxObservedTimestamp: tsp(1735689600123456789), ClientTS: 1735689661200},
			`{"type":"Connect","sessionId":"3f2b8c1e-9a4d-4c6e-8b1f-2d7e5a9c0b13","connectionCount":1,"lastCloseReason":"InactiveServer","maxObservedTimestamp":"Fc2yx35oFhg=","clientTs":1735689661200}`},
		{"null close reason", &Connect{SessionID: "s", ConnectionCount: 1},
			`{"type":"Connect","sessionId":"s","connectionCount":1,"lastCloseReason":null,"clientTs":0}`},
		{"add", &ModifyQuerySet{BaseVersion: 0, NewVersion: 1, Modifications: []QuerySetModification{
			{Type: TypeAdd, QueryID: 0, UDFPath: "messages:list", Args: limit}}},
			`{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{"type":"Add","queryId":0,"udfPath":"messages:list","args":[{"channel":"general","limit":{"$integer":"ZAAAAAAAAAA="}}]}]}`},
		{"remove", &ModifyQuerySet{BaseVersion: 1, NewVersion: 2, Modifications: []QuerySetModification{{Type: TypeRemove, QueryID: 0}}},
			`{"type":"ModifyQuerySet","baseVersion":1,"newVersion":2,"modifications":[{"type":"Remove","queryId":0}]}`},
		{"empty", &ModifyQuerySet{BaseVersion: 0, NewVersion: 1},
			`{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[]}`},
		{"add with no args and a component", &ModifyQuerySet{BaseVersion: 0, NewVersion: 1, Modifications: []QuerySetModification{
			{Type: TypeAdd, QueryID: 3, UDFPath: "m:f", ComponentPath: "c"}}},
			`{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{"type":"Add","queryId":3,"udfPath":"m:f","args":[{}],"componentPath":"c"}]}`},
		{"mutation", &Mutation{RequestID: 0, UDFPath: "messages:send", Args: json.RawMessage(`{"body":"hi","channel":"general"}`)},
			`{"type":"Mutation","requestId":0,"udfPath":"messages:send","args":[{"body":"hi","channel":"general"}]}`},
		{"action", &Action{RequestID: 1, UDFPath: "ai:summarize", Args: json.RawMessage(`{"channel":"general"}`)},
			`{"type":"Action","requestId":1,"udfPath":"ai:summarize","args":[{"channel":"general"}]}`},
		{"action no args", &Action{RequestID: 2, UDFPath: "echo:run"},
			`{"type":"Action","requestId":2,"udfPath":"echo:run","args":[{}]}`},
		{"authenticate", &Authenticate{TokenType: TokenTypeUser, Value: "eyJ", BaseVersion: 0},
			`{"type":"Authenticate","tokenType":"User","value":"eyJ","baseVersion":0}`},
		{"authenticate none", &Authenticate{TokenType: TokenTypeNone, BaseVersion: 1},
			`{"type":"Authenticate","tokenType":"None","baseVersion":1}`},
		{"event", &Event{EventType: "NetworkRecoveryReconnect", Event: json.RawMessage(`{"timeSavedMs":4210}`)},
			`{"type":"Event","eventType":"NetworkRecoveryReconnect","event":{"timeSavedMs":4210}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := EncodeClientMessage(tt.msg)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			back, err := DecodeClientMessage(got)
			if err != nil {
				t.Fatalf("DecodeClientMessage: %v", err)
			}
			again, err := EncodeClientMessage(back)
			if err != nil || string(again) != tt.want {
				t.Errorf("re-encoded %s, %v", again, err)
			}
		})
	}
	if _, err := EncodeClientMessage(nil); err == nil {
		t.Error("encoding nil succeeded")
	}
	if _, err := EncodeClientMessage(&ModifyQuerySet{Modifications: []QuerySetModification{{Type: "Nope"}}}); err == nil {
		t.Error("encoding a bad modification type succeeded")
	}
}

func TestDecodeClientMessageRejects(t *testing.T) {
	for _, tt := range []struct{ name, in string }{
		{"not json", `{`},
		{"no type", `{}`},
		{"unknown type", `{"type":"Hello"}`},
		{"connect without session", `{"type":"Connect","connectionCount":0}`},
		{"positional args", `{"type":"Mutation","requestId":0,"udfPath":"m:f","args":[1,2]}`},
		{"args not object", `{"type":"Mutation","requestId":0,"udfPath":"m:f","args":[1]}`},
		{"args missing", `{"type":"Action","requestId":0,"udfPath":"m:f"}`},
		{"mqs without versions", `{"type":"ModifyQuerySet","modifications":[]}`},
		{"add without path", `{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{"type":"Add","queryId":0,"args":[{}]}]}`},
		{"bad modification type", `{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{"type":"Swap","queryId":0}]}`},
		{"user without value", `{"type":"Authenticate","tokenType":"User","baseVersion":0}`},
		{"bad token type", `{"type":"Authenticate","tokenType":"Root","baseVersion":0}`},
		{"wrong field type", `{"type":"Connect","sessionId":5,"connectionCount":0}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m, err := DecodeClientMessage([]byte(tt.in))
			if err == nil {
				t.Fatalf("decoded %#v", m)
			}
			if !errors.Is(err, ErrMalformedMessage) {
				t.Errorf("error %v is not ErrMalformedMessage", err)
			}
		})
	}
	_, err := DecodeClientMessage([]byte(`{"type":"Hello"}`))
	if !errors.Is(err, ErrUnknownMessageType) {
		t.Errorf("unknown type error %v does not match ErrUnknownMessageType", err)
	}
}

// TestDecodeAddWithoutArgs: the backend accepts an Add with no args (or
// args null) and fails the query later, so the decoder keeps the message
// and marks its Args "null"; a Mutation or Action without args is refused.
func TestDecodeAddWithoutArgs(t *testing.T) {
	for _, in := range []string{
		`{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{"type":"Add","queryId":0,"udfPath":"m:f"}]}`,
		`{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{"type":"Add","queryId":0,"udfPath":"m:f","args":null}]}`,
	} {
		m, err := DecodeClientMessage([]byte(in))
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		mods := m.(*ModifyQuerySet).Modifications
		if len(mods) != 1 || string(mods[0].Args) != "null" || mods[0].UDFPath != "m:f" {
			t.Fatalf("%s: decoded %+v", in, mods)
		}
	}
	if _, err := DecodeClientMessage([]byte(`{"type":"Mutation","requestId":0,"udfPath":"m:f","args":null}`)); err == nil {
		t.Fatal("a Mutation with args null was accepted")
	}
}

// Server messages: the examples of section 6, decoded.
func TestServerMessagesDecode(t *testing.T) {
	skew, serverTS := int64(-37), int64(1735689600150000000)
	tests := []struct {
		name string
		in   string
		want ServerMessage
	}{
		{"transition", `{"type":"Transition",
			"startVersion":{"querySet":0,"identity":0,"ts":"AAAAAAAAAAA="},
			"endVersion":{"querySet":1,"identity":0,"ts":"Fc2yx35oFhg="},
			"modifications":[{"type":"QueryUpdated","queryId":0,"value":[{"_id":"jd7a","_creationTime":1735689599000.5,"body":"hi"}],"logLines":[],"journal":null}],
			"clientClockSkew":-37,"serverTs":1735689600150000000}`,
			&Transition{StartVersion: StateVersion{}, EndVersion: StateVersion{QuerySet: 1, TS: 1735689600123456789},
				Modifications: []StateModification{{Type: TypeQueryUpdated, QueryID: 0,
					Value:    json.RawMessage(`[{"_id":"jd7a","_creationTime":1735689599000.5,"body":"hi"}]`),
					LogLines: []string{}}},
				ClientClockSkew: &skew, ServerTS: &serverTS}},
		{"failed and removed", `{"type":"Transition","startVersion":{"querySet":1,"identity":0,"ts":"AAAAAAAAAAA="},"endVersion":{"querySet":2,"identity":1,"ts":"AQAAAAAAAAA="},
			"modifications":[{"type":"QueryFailed","queryId":2,"errorMessage":"boom","logLines":[],"journal":"j","errorData":{"code":"NOT_FOUND"}},{"type":"QueryRemoved","queryId":0}],
			"clientClockSkew":null,"serverTs":null}`,
			&Transition{StartVersion: StateVersion{QuerySet: 1}, EndVersion: StateVersion{QuerySet: 2, Identity: 1, TS: 1},
				Modifications: []StateModification{
					{Type: TypeQueryFailed, QueryID: 2, ErrorMessage: "boom", ErrorData: json.RawMessage(`{"code":"NOT_FOUND"}`), LogLines: []string{}, Journal: strp("j")},
					{Type: TypeQueryRemoved, QueryID: 0}}}},
		{"failed with null data", `{"type":"Transition","startVersion":{"querySet":0,"identity":0,"ts":"AAAAAAAAAAA="},"endVersion":{"querySet":0,"identity":0,"ts":"AAAAAAAAAAA="},
			"modifications":[{"type":"QueryFailed","queryId":1,"errorMessage":"x","logLines":[],"journal":null,"errorData":null}]}`,
			&Transition{Modifications: []StateModification{{Type: TypeQueryFailed, QueryID: 1, ErrorMessage: "x", ErrorData: json.RawMessage(`null`), LogLines: []string{}}}}},
		{"chunk", `{"type":"TransitionChunk","chunk":"{\"type\":","partNumber":0,"totalParts":3,"transitionId":"12000345"}`,
			&TransitionChunk{Chunk: `{"type":`, TotalParts: 3, TransitionID: "12000345"}},
		{"mutation ok", `{"type":"MutationResponse","requestId":0,"success":true,"result":{"$integer":"AQAAAAAAAAA="},"ts":"Fa6ozX5oFhg=","logLines":["[LOG] 'sent'"]}`,
			&MutationResponse{Success: true, Result: json.RawMessage(`{"$integer":"AQAAAAAAAAA="}`), TS: mustU64(t, "Fa6ozX5oFhg="), LogLines: []string{"[LOG] 'sent'"}}},
		{"mutation failed", `{"type":"MutationResponse","requestId":4,"success":false,"result":"Uncaught ConvexError: {\"reason\":\"too long\"}","ts":null,"logLines":[],"errorData":{"reason":"too long"}}`,
			&MutationResponse{RequestID: 4, ErrorMessage: `Uncaught ConvexError: {"reason":"too long"}`, ErrorData: json.RawMessage(`{"reason":"too long"}`), LogLines: []string{}}},
		{"action ok", `{"type":"ActionResponse","requestId":1,"success":true,"result":"summary","logLines":[]}`,
			&ActionResponse{RequestID: 1, Success: true, Result: json.RawMessage(`"summary"`), LogLines: []string{}}},
		{"action failed", `{"type":"ActionResponse","requestId":1,"success":false,"result":"rate limited","logLines":[]}`,
			&ActionResponse{RequestID: 1, ErrorMessage: "rate limited", LogLines: []string{}}},
		{"auth error", `{"type":"AuthError","error":"Could not verify","baseVersion":0,"authUpdateAttempted":true}`,
			&AuthError{Error: "Could not verify", AuthUpdateAttempted: true}},
		{"auth error null base", `{"type":"AuthError","error":"Token expired","baseVersion":null}`,
			&AuthError{Error: "Token expired"}},
		{"fatal", `{"type":"FatalError","error":"Received Invalid JSON"}`, &FatalError{Error: "Received Invalid JSON"}},
		{"ping", `{"type":"Ping"}`, &Ping{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeServerMessage([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			enc, err := EncodeServerMessage(got)
			if err != nil {
				t.Fatal(err)
			}
			back, err := DecodeServerMessage(enc)
			if err != nil {
				t.Fatalf("decoding own encoding %s: %v", enc, err)
			}
			if diff := cmp.Diff(normalizeLogLines(tt.want), normalizeLogLines(back)); diff != "" {
				t.Errorf("encode/decode round trip (-want +got):\n%s", diff)
			}
		})
	}
}

// normalizeLogLines makes nil and empty log lines compare equal: the
// encoder always writes [] where the wire requires the field.
func normalizeLogLines(m ServerMessage) ServerMessage {
	switch m := m.(type) {
	case *Transition:
		c := *m
		c.Modifications = append([]StateModification(nil), m.Modifications...)
		for i := range c.Modifications {
			if c.Modifications[i].LogLines == nil && c.Modifications[i].Type != TypeQueryRemoved {
				c.Modifications[i].LogLines = []string{}
			}
		}
		return &c
	case *MutationResponse:
		c := *m
		if c.LogLines == nil {
			c.LogLines = []string{}
		}
		return &c
	}
	return m
}

func mustU64(t *testing.T, s string) Timestamp {
	n, err := DecodeU64(s)
	if err != nil {
		t.Fatal(err)
	}
	return Timestamp(n)
}

func TestServerMessageEncodeShapes(t *testing.T) {
	// Failed responses carry the message in "result" and a null ts; empty
	// transitions carry an empty array; ActionResponse has no ts.
	for _, tt := range []struct {
		msg  ServerMessage
		want string
	}{
		{&MutationResponse{RequestID: 2, ErrorMessage: "nope"},
			`{"type":"MutationResponse","requestId":2,"success":false,"result":"nope","ts":null,"logLines":[]}`},
		{&MutationResponse{RequestID: 2, Success: true, Result: json.RawMessage(`null`), TS: 1},
			`{"type":"MutationResponse","requestId":2,"success":true,"result":null,"ts":"AQAAAAAAAAA=","logLines":[]}`},
		{&ActionResponse{RequestID: 3, Success: true, Result: json.RawMessage(`1`)},
			`{"type":"ActionResponse","requestId":3,"success":true,"result":1,"logLines":[]}`},
		{&Transition{},
			`{"type":"Transition","startVersion":{"querySet":0,"identity":0,"ts":"AAAAAAAAAAA="},"endVersion":{"querySet":0,"identity":0,"ts":"AAAAAAAAAAA="},"modifications":[],"clientClockSkew":null,"serverTs":null}`},
		{&Transition{Modifications: []StateModification{{Type: TypeQueryUpdated, QueryID: 1, Value: json.RawMessage(`[]`)}}},
			`{"type":"Transition","startVersion":{"querySet":0,"identity":0,"ts":"AAAAAAAAAAA="},"endVersion":{"querySet":0,"identity":0,"ts":"AAAAAAAAAAA="},"modifications":[{"type":"QueryUpdated","queryId":1,"value":[],"logLines":[],"journal":null}],"clientClockSkew":null,"serverTs":null}`},
		// QueryRemoved is only its type and queryId, as the backend writes it.
		{&Transition{Modifications: []StateModification{{Type: TypeQueryRemoved, QueryID: 4}}},
			`{"type":"Transition","startVersion":{"querySet":0,"identity":0,"ts":"AAAAAAAAAAA="},"endVersion":{"querySet":0,"identity":0,"ts":"AAAAAAAAAAA="},"modifications":[{"type":"QueryRemoved","queryId":4}],"clientClockSkew":null,"serverTs":null}`},
	} {
		got, err := EncodeServerMessage(tt.msg)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tt.want {
			t.Errorf("got  %s\nwant %s", got, tt.want)
		}
	}
	if _, err := EncodeServerMessage(nil); err == nil {
		t.Error("encoding nil succeeded")
	}
}

func TestDecodeServerMessageRejects(t *testing.T) {
	for _, tt := range []struct{ name, in string }{
		{"not json", `nope`},
		{"array", `[]`},
		{"no type", `{"error":"x"}`},
		{"type not string", `{"type":5}`},
		{"unknown type", `{"type":"Transmogrify"}`},
		{"transition without end", `{"type":"Transition","startVersion":{"querySet":0,"identity":0,"ts":"AAAAAAAAAAA="},"modifications":[]}`},
		{"transition bad ts", `{"type":"Transition","startVersion":{"querySet":0,"identity":0,"ts":"AAAA"},"endVersion":{"querySet":0,"identity":0,"ts":"AAAAAAAAAAA="},"modifications":[]}`},
		{"transition bad mod type", `{"type":"Transition","startVersion":{"querySet":0,"identity":0,"ts":"AAAAAAAAAAA="},"endVersion":{"querySet":0,"identity":0,"ts":"AAAAAAAAAAA="},"modifications":[{"type":"QueryExploded","queryId":1}]}`},
		{"updated without value", `{"type":"Transition","startVersion":{"querySet":0,"identity":0,"ts":"AAAAAAAAAAA="},"endVersion":{"querySet":0,"identity":0,"ts":"AAAAAAAAAAA="},"modifications":[{"type":"QueryUpdated","queryId":1}]}`},
		{"mod without id", `{"type":"Transition","startVersion":{"querySet":0,"identity":0,"ts":"AAAAAAAAAAA="},"endVersion":{"querySet":0,"identity":0,"ts":"AAAAAAAAAAA="},"modifications":[{"type":"QueryRemoved"}]}`},
		{"negative query id", `{"type":"Transition","startVersion":{"querySet":0,"identity":0,"ts":"AAAAAAAAAAA="},"endVersion":{"querySet":0,"identity":0,"ts":"AAAAAAAAAAA="},"modifications":[{"type":"QueryRemoved","queryId":-1}]}`},
		{"success without ts", `{"type":"MutationResponse","requestId":0,"success":true,"result":1,"ts":null,"logLines":[]}`},
		{"failure result not string", `{"type":"MutationResponse","requestId":0,"success":false,"result":1,"ts":null,"logLines":[]}`},
		{"response without id", `{"type":"ActionResponse","success":true,"result":1}`},
		{"chunk without parts", `{"type":"TransitionChunk","chunk":"x"}`},
		{"auth error without error", `{"type":"AuthError","baseVersion":0}`},
		{"fatal without error", `{"type":"FatalError"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m, err := DecodeServerMessage([]byte(tt.in))
			if err == nil {
				t.Fatalf("decoded %#v", m)
			}
			var me *MessageError
			if !errors.As(err, &me) || !errors.Is(err, ErrMalformedMessage) {
				t.Errorf("error %v (%T) is not a *MessageError", err, err)
			}
		})
	}
}

func TestHTTPShapes(t *testing.T) {
	body, err := json.Marshal(HTTPRequest{Path: "m:f", Args: json.RawMessage(`{}`), Format: FormatConvexEncodedJSON})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"path":"m:f","args":[{}],"format":"convex_encoded_json"}`; string(body) != want {
		t.Errorf("request = %s, want %s", body, want)
	}
	for in, want := range map[string]string{
		`{"path":"m:f","args":[{"a":1}]}`: `{"a":1}`,
		`{"path":"m:f","args":{"a":1}}`:   `{"a":1}`,
		`{"path":"m:f"}`:                  `{}`,
		`{"path":"m:f","args":null}`:      `{}`,
	} {
		var r HTTPRequest
		if err := json.Unmarshal([]byte(in), &r); err != nil || string(r.Args) != want || r.Path != "m:f" {
			t.Errorf("%s -> %+v, %v", in, r, err)
		}
	}
	for _, bad := range []string{`{"path":"m:f","args":[1]}`, `{"path":"m:f","args":"x"}`, `{"path":"m:f","args":[{},{}]}`, `[`} {
		var r HTTPRequest
		if err := json.Unmarshal([]byte(bad), &r); err == nil {
			t.Errorf("%s decoded", bad)
		}
	}
	var resp UDFResponse
	if err := json.Unmarshal([]byte(`{"status":"error","errorMessage":"nope","errorData":{"reason":"nope"},"logLines":[]}`), &resp); err != nil {
		t.Fatal(err)
	}
	if resp.Status != StatusError || resp.ErrorMessage != "nope" || string(resp.ErrorData) != `{"reason":"nope"}` {
		t.Errorf("UDFResponse = %+v", resp)
	}
}
