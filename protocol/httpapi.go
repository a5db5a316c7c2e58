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

// HTTPErrorBody is the body of a non-200 response from the HTTP API.
type HTTPErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}
