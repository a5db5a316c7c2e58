package protocol

import (
	"encoding/json"
	"fmt"
)

// HTTP function API paths, relative to the deployment URL.
const (
	PathQuery    = "/api/query"
	PathMutation = "/api/mutation"
	PathAction   = "/api/action"
	PathFunction = "/api/function"
	PathRun      = "/api/run/" // followed by module path segments and the function name
)

// Output formats of the HTTP function API.
const (
	// FormatConvexEncodedJSON asks for lossless Convex JSON, as on the socket.
	FormatConvexEncodedJSON = "convex_encoded_json"
	// FormatJSON asks for "clean" JSON: Int64 as a decimal string, bytes as
	// a base64 string, NaN and infinities as strings.
	FormatJSON = "json"
)

// HTTP response statuses of a function that ran.
const (
	StatusSuccess = "success"
	StatusError   = "error"
)

// HTTPRequest is the body of POST /api/query, /api/mutation and
// /api/action. Args is the encoded arguments object; it is sent as the
// one-element array the official client sends.
type HTTPRequest struct {
	Path   string
	Args   json.RawMessage
	Format string
}

type httpRequestWire struct {
	Path   string          `json:"path"`
	Args   json.RawMessage `json:"args"`
	Format string          `json:"format,omitempty"`
}

// MarshalJSON encodes the request body.
func (r HTTPRequest) MarshalJSON() ([]byte, error) {
	return json.Marshal(httpRequestWire{Path: r.Path, Args: encodeArgsArray(r.Args), Format: r.Format})
}

// AppendHTTPRequest appends the request body r.MarshalJSON gives to dst,
// without encoding/json's reflection and copies: the same JSON, except that
// r.Args is written as it is (not compacted, and '<', '>' and '&' in its
// strings not escaped), which any JSON reader reads the same. Args that are
// not valid JSON, and a Path or Format that needs escaping, go through
// MarshalJSON, whose result (or error) is then AppendHTTPRequest's.
func AppendHTTPRequest(dst []byte, r HTTPRequest) ([]byte, error) {
	if !plainASCII(r.Path) || !plainASCII(r.Format) || !validJSON(r.Args) {
		b, err := r.MarshalJSON()
		if err != nil {
			return dst, err
		}
		return append(dst, b...), nil
	}
	dst = append(dst, `{"path":"`...)
	dst = append(dst, r.Path...)
	dst = append(dst, `","args":[`...)
	if len(r.Args) == 0 {
		dst = append(dst, "{}"...)
	} else {
		dst = append(dst, r.Args...)
	}
	dst = append(dst, ']')
	if r.Format != "" {
		dst = append(dst, `,"format":"`...)
		dst = append(dst, r.Format...)
		dst = append(dst, '"')
	}
	return append(dst, '}'), nil
}

// plainASCII reports whether s is printable ASCII that encoding/json
// writes unescaped in a string.
func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !plainString[c] || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// validJSON reports whether raw is empty or one valid JSON value, by the
// strict scanner; what it declines (nesting deeper than it follows) is
// reported invalid, which sends it to the reference encoder.
func validJSON(raw []byte) bool {
	if len(raw) == 0 {
		return true
	}
	s := scanner{data: raw}
	s.ws()
	return s.skip(0) && s.end()
}

// UnmarshalJSON decodes a request body; args may be an object or a
// one-element array holding one.
func (r *HTTPRequest) UnmarshalJSON(data []byte) error {
	var w httpRequestWire
	if err := json.Unmarshal(data, &w); err != nil {
		return fmt.Errorf("convex: bad request body: %w", err)
	}
	args, err := HTTPArgs(w.Args)
	if err != nil {
		return err
	}
	*r = HTTPRequest{Path: w.Path, Args: args, Format: w.Format}
	return nil
}

// HTTPArgs normalizes the "args" of an HTTP request body: an object, a
// one-element array holding an object, or nothing (meaning {}).
func HTTPArgs(raw json.RawMessage) (json.RawMessage, error) {
	if isJSONNull(raw) {
		return json.RawMessage("{}"), nil
	}
	switch raw[0] {
	case '{':
		return raw, nil
	case '[':
		return decodeArgsArray("", raw)
	}
	return nil, fmt.Errorf(`convex: "args" must be an object or a one-element array holding one`)
}

// UDFResponse is the body of a 200 response from the HTTP function API.
type UDFResponse struct {
	Status       string          `json:"status"`
	Value        json.RawMessage `json:"value,omitempty"`
	ErrorMessage string          `json:"errorMessage,omitempty"`
	ErrorData    json.RawMessage `json:"errorData,omitempty"`
	LogLines     []string        `json:"logLines,omitempty"`
}

// DecodeUDFResponse decodes a 200 response body of the HTTP function API
// as json.Unmarshal into a UDFResponse does, with the same result or error.
// Ordinary bodies are read in one pass by the strict scanner, and then
// Value and ErrorData alias data instead of being copies; anything it
// declines is decoded by encoding/json.
func DecodeUDFResponse(data []byte) (UDFResponse, error) {
	if r, ok := fastUDFResponse(data); ok {
		return r, nil
	}
	var r UDFResponse
	err := json.Unmarshal(data, &r)
	return r, err
}

// HTTPErrorBody is the body of a non-200 response from the HTTP API.
type HTTPErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}
