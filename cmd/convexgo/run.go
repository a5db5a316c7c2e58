package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/convexgo/convex/client"
	"github.com/convexgo/convex/internal/version"
	"github.com/convexgo/convex/protocol"
)

const runHelp = `Runs the function PATH, whatever its kind (query, mutation or action), as
"npx convex run" does, and prints its value as JSON: indented on a terminal,
one line when piped. The function's log lines go to stderr.

With --watch, PATH must be a query: it is subscribed to over the WebSocket
and each new value is printed as the data changes, as "convexgo watch" does.`

func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("run", stdout, help{
		usage: "run [flags] PATH [ARGS]",
		text:  runHelp + "\n\n" + pathArgsHelp + "\n\n" + deploymentHelp + "\n\n" + exitHelp,
	})
	cf := addConnFlags(fs, "How long to wait for the result (with --watch: for the first value), as a `duration` such as 10s.")
	watchFlag := fs.Bool("watch", false, "Follow the query: print each new value until interrupted.")
	count := fs.Int("count", 0, "With --watch: exit after printing this many values; 0 runs until interrupted.")
	path, fargs, err := parseCall(fs, cf, args)
	if err != nil {
		return err
	}
	if *count != 0 && !*watchFlag {
		return &usageError{msg: "--count goes with --watch", hint: true}
	}
	if *watchFlag {
		return watch(ctx, cf, path, fargs, *count, stdout, stderr)
	}
	ctx, cancel := context.WithTimeout(ctx, *cf.timeout)
	defer cancel()
	dep, release, err := cf.target(stderr)
	if err != nil {
		return err
	}
	defer release()
	token, err := cf.authToken(ctx)
	if err != nil {
		return err
	}
	raw, err := runFunction(ctx, dep.url, token, path, fargs, stderr)
	if err != nil {
		return classify(err, dep)
	}
	return printValue(stdout, raw, isTerminal(stdout))
}

// maxRunResponse bounds the response read from the deployment, as the
// client package bounds its HTTP queries.
const maxRunResponse = 64 << 20

// runFunction calls POST /api/function, which runs a function of any kind,
// and returns its value as Convex JSON. The client package has no call
// for it, so this sends what the client sends for /api/query: a
// convex_encoded_json request with the Convex-Client header and the token
// as a Bearer Authorization. Log lines are written to logs. A function
// that threw is a *client.FunctionError, a refused request a
// *client.HTTPError.
func runFunction(ctx context.Context, baseURL, token, path string, args any, logs io.Writer) (json.RawMessage, error) {
	encoded, err := protocol.EncodeArgs(args)
	if err != nil {
		return nil, &usageError{msg: fmt.Sprintf("ARGS: %v", err)}
	}
	body, err := json.Marshal(struct {
		Path   string          `json:"path"`
		Args   json.RawMessage `json:"args"`
		Format string          `json:"format"`
	}{path, encoded, protocol.FormatConvexEncodedJSON})
	if err != nil {
		return nil, err
	}
	url := strings.TrimRight(baseURL, "/") + protocol.PathFunction
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, &usageError{msg: fmt.Sprintf("deployment URL %q: %v", baseURL, err)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Convex-Client", version.ClientHeader)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	hc := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	defer hc.CloseIdleConnections()
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxRunResponse+1))
	if err != nil {
		return nil, fmt.Errorf("reading the response of %s: %w", path, err)
	}
	if len(data) > maxRunResponse {
		return nil, fmt.Errorf("the response of %s is larger than %d bytes", path, maxRunResponse)
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != 560 {
		herr := &client.HTTPError{StatusCode: resp.StatusCode}
		var eb protocol.HTTPErrorBody
		if json.Unmarshal(data, &eb) == nil && eb.Code != "" {
			herr.Code, herr.Message = eb.Code, eb.Message
		} else {
			herr.Message = strings.TrimSpace(string(data))
		}
		return nil, herr
	}
	var r protocol.UDFResponse
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("malformed response to %s: %w", path, err)
	}
	for _, line := range r.LogLines {
		fmt.Fprintln(logs, line)
	}
	switch r.Status {
	case protocol.StatusSuccess:
		if r.Value == nil {
			return json.RawMessage("null"), nil
		}
		return r.Value, nil
	case protocol.StatusError:
		fe := &client.FunctionError{Kind: "function", Path: path, Message: r.ErrorMessage, LogLines: r.LogLines}
		if r.ErrorData != nil {
			fe.HasData, fe.RawData = true, r.ErrorData
			if v, err := protocol.DecodeValue(r.ErrorData); err == nil {
				fe.Data = v // the message shows it already
			} else {
				fe.Message += fmt.Sprintf(" (and its error data could not be decoded: %v)", err)
			}
		}
		return nil, fe
	}
	return nil, fmt.Errorf("the response to %s has an unknown status %q", path, r.Status)
}
