package testserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/convexgo/convex/protocol"
)

// maxHTTPBody is the public API's request body limit.
const maxHTTPBody = 16<<20 + 2000

// Output formats accepted besides protocol.FormatJSON and
// protocol.FormatConvexEncodedJSON.
const (
	formatLegacyEncoded = "convex_json"
	formatLegacyClean   = "convex_clean_json"
)

// httpBody is the JSON body of a function call. Args stays raw so that the
// encoded-JSON rules decode it.
type httpBody struct {
	Path          *string         `json:"path"`
	Args          json.RawMessage `json:"args"`
	Format        string          `json:"format"`
	ComponentPath string          `json:"componentPath"`
}

func readBody(w http.ResponseWriter, r *http.Request) (httpBody, *protocol.HTTPErrorBody, int) {
	var b httpBody
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxHTTPBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return b, &protocol.HTTPErrorBody{Code: "PayloadTooLarge", Message: err.Error()}, http.StatusRequestEntityTooLarge
		}
		return b, &protocol.HTTPErrorBody{Code: "BadJsonBody", Message: err.Error()}, http.StatusBadRequest
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return b, nil, 0
	}
	if err := json.Unmarshal(data, &b); err != nil {
		return b, &protocol.HTTPErrorBody{Code: "BadJsonBody", Message: "Failed to parse the JSON body: " + err.Error()}, http.StatusBadRequest
	}
	return b, nil, 0
}

// serveFunction handles /api/query (GET and POST), /api/mutation,
// /api/action and /api/function (kind 0: any kind).
func (s *Server) serveFunction(w http.ResponseWriter, r *http.Request, kind FunctionKind) {
	var path string
	var rawArgs json.RawMessage
	var format string
	if r.Method == http.MethodGet {
		q := r.URL.Query()
		path, format = q.Get("path"), q.Get("format")
		if a := q.Get("args"); a != "" {
			rawArgs = json.RawMessage(a)
			if !json.Valid(rawArgs) {
				writeHTTPError(w, http.StatusBadRequest, "BadJsonBody", "the args parameter is not JSON")
				return
			}
		}
	} else {
		b, e, status := readBody(w, r)
		if e != nil {
			writeHTTPError(w, status, e.Code, e.Message)
			return
		}
		if b.Path != nil {
			path = *b.Path
		}
		if b.ComponentPath != "" {
			writeHTTPError(w, http.StatusForbidden, "Forbidden", "only admins may run functions in components")
			return
		}
		rawArgs, format = b.Args, b.Format
	}
	s.respond(w, r, kind, path, rawArgs, format, "")
}

// serveRun handles POST /api/run/{module path...}/{function}.
func (s *Server) serveRun(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.EscapedPath(), protocol.PathRun)
	segs := strings.Split(rest, "/")
	if len(segs) < 2 {
		writeHTTPError(w, http.StatusBadRequest, "MissingIdentifier",
			"the path must name a module and a function: /api/run/<module path>/<function>")
		return
	}
	for i, seg := range segs {
		u, err := url.PathUnescape(seg)
		if err != nil {
			writeHTTPError(w, http.StatusBadRequest, "BadConvexFunctionIdentifier", fmt.Sprintf("bad path segment %q", seg))
			return
		}
		segs[i] = u
	}
	path := strings.Join(segs[:len(segs)-1], "/") + ":" + segs[len(segs)-1]
	b, e, status := readBody(w, r)
	if e != nil {
		writeHTTPError(w, status, e.Code, e.Message)
		return
	}
	s.respond(w, r, 0, path, b.Args, b.Format, protocol.FormatJSON)
}

// respond runs a function for the HTTP API. def is the output format when
// the request names none; "" means the client's default.
func (s *Server) respond(w http.ResponseWriter, r *http.Request, kind FunctionKind, path string, rawArgs json.RawMessage, format, def string) {
	s.respondAt(w, r, kind, path, rawArgs, format, def, nil)
}

// respondAt is respond for a query run at snap (nil: the latest).
func (s *Server) respondAt(w http.ResponseWriter, r *http.Request, kind FunctionKind, path string, rawArgs json.RawMessage, format, def string, snap *snapshot) {
	if def == "" {
		ci, _ := identifyClient(r, "") // checked by serveHTTP
		def = ci.defaultFormat()
	}
	if format == "" {
		format = def
	}
	var clean bool
	switch format {
	case protocol.FormatConvexEncodedJSON, formatLegacyEncoded:
	case protocol.FormatJSON, formatLegacyClean:
		clean = true
	default:
		writeHTTPError(w, http.StatusBadRequest, "BadFormat", fmt.Sprintf("unsupported format %q", format))
		return
	}
	if path == "" {
		writeHTTPError(w, http.StatusBadRequest, "BadConvexFunctionIdentifier", "missing function path")
		return
	}
	if _, err := parseFunctionPath(path); err != nil {
		writeHTTPError(w, http.StatusBadRequest, "BadConvexFunctionIdentifier",
			fmt.Sprintf("%s is not a valid path to a Convex function. %v", path, err))
		return
	}
	argsObj, err := protocol.HTTPArgs(rawArgs)
	if err != nil {
		writeHTTPError(w, http.StatusBadRequest, "BadJsonBody", err.Error())
		return
	}
	v, err := protocol.DecodeValue(argsObj)
	args, ok := v.(map[string]any)
	if err != nil || !ok {
		if err == nil {
			err = errors.New("args must be an object")
		}
		writeHTTPError(w, http.StatusBadRequest, "BadJsonBody", "Invalid arguments: "+err.Error())
		return
	}
	ident, authErr := s.httpIdentity(r)
	if authErr != nil {
		writeHTTPError(w, http.StatusUnauthorized, authErr.Code, authErr.Message)
		return
	}
	ctx, cancel := s.requestCtx(r.Context())
	defer cancel()
	out := s.call(ctx, kind, path, args, ident, callOpts{requestID: httpRequestID(r), snap: snap})
	resp := protocol.UDFResponse{LogLines: out.logLines}
	if out.err == nil {
		resp.Status = protocol.StatusSuccess
		resp.Value, err = outputValue(out.value, clean)
	} else {
		resp.Status = protocol.StatusError
		resp.ErrorMessage = out.errMsg
		if out.errData != nil {
			resp.ErrorData, err = outputValue(out.errData, clean)
		}
	}
	if err != nil {
		writeHTTPError(w, http.StatusInternalServerError, "InternalServerError", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// outputValue converts encoded Convex JSON to the requested format.
func outputValue(encoded []byte, clean bool) (json.RawMessage, error) {
	if !clean {
		return encoded, nil
	}
	v, err := protocol.DecodeValue(encoded)
	if err != nil {
		return nil, err
	}
	return protocol.EncodeCleanJSON(v)
}

// httpIdentity reads the Authorization header: none means unauthenticated,
// "Convex <key>" is an admin key (not accepted here), and anything else
// must be "Bearer <jwt>" (the scheme in any case), validated like a
// socket's token (crates/authentication/src/lib.rs extract_bearer_token).
func (s *Server) httpIdentity(r *http.Request) (*Identity, *protocol.HTTPErrorBody) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, nil
	}
	if len(h) > 7 && strings.EqualFold(h[:7], "convex ") {
		ident, err := s.adminIdentity(strings.TrimSpace(h[7:]), nil)
		if err != nil {
			te := err.(*TokenError)
			return nil, &protocol.HTTPErrorBody{Code: te.Code, Message: te.Message}
		}
		return ident, nil
	}
	if len(h) <= 7 || !strings.EqualFold(h[:7], "bearer ") {
		return nil, &protocol.HTTPErrorBody{Code: "InvalidAuthHeader", Message: "Header must begin with `bearer `"}
	}
	ident, err := s.ValidateToken(strings.TrimSpace(h[7:]))
	if err != nil {
		var te *TokenError
		if errors.As(err, &te) {
			return nil, &protocol.HTTPErrorBody{Code: te.Code, Message: te.Message}
		}
		return nil, &protocol.HTTPErrorBody{Code: "Unauthenticated", Message: err.Error()}
	}
	return ident, nil
}

// httpRequestID is the request's Convex-Request-Id header, which the
// backend uses as the request id when it is there, or a new id.
func httpRequestID(r *http.Request) string {
	if vals := r.Header.Values("Convex-Request-Id"); len(vals) > 0 && visibleASCII(vals[0]) {
		return vals[0]
	}
	return newRequestID()
}
