package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/convexgo/convex/internal/version"
	"github.com/convexgo/convex/protocol"
)

// maxHTTPResponse bounds the body read from the HTTP function API: the
// largest value the deployment returns is 32 MiB of its own size measure,
// which Convex JSON can inflate.
const maxHTTPResponse = 64 << 20

// httpQuery runs a query once over HTTP (POST /api/query). Identical
// concurrent calls with the same auth token share one request.
func (c *Client) httpQuery(ctx context.Context, path string, args json.RawMessage) (json.RawMessage, error) {
	token, err := c.currentToken(ctx)
	if err != nil {
		return nil, err
	}
	key := string(protocol.NewQueryToken(path, args)) + "\x00" + token
	ch := c.oneShots.DoChan(key, func() (any, error) {
		// The shared request belongs to no single caller: it runs under
		// the client's lifetime, so one caller giving up does not fail the
		// others. Each caller still stops waiting when its own ctx ends.
		return c.postFunction(c.lifetime, protocol.PathQuery, "query", path, args, token)
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(json.RawMessage), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// postFunction calls the HTTP function API and returns the function's
// value as Convex JSON.
func (c *Client) postFunction(ctx context.Context, endpoint, kind, path string, args json.RawMessage, token string) (json.RawMessage, error) {
	body, err := json.Marshal(protocol.HTTPRequest{Path: path, Args: args, Format: protocol.FormatConvexEncodedJSON})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.httpBase+endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("convex: %s %s: %w", kind, path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Convex-Client", version.ClientHeader)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.httpClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("convex: %s %s: %w", kind, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxHTTPResponse+1))
	if err != nil {
		return nil, fmt.Errorf("convex: %s %s: reading response: %w", kind, path, err)
	}
	if len(data) > maxHTTPResponse {
		return nil, fmt.Errorf("convex: %s %s: response larger than %d bytes", kind, path, maxHTTPResponse)
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != 560 {
		herr := &HTTPError{StatusCode: resp.StatusCode}
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
		return nil, fmt.Errorf("convex: %s %s: malformed response: %w", kind, path, err)
	}
	c.logFunctionLines(kind, path, r.LogLines)
	switch r.Status {
	case protocol.StatusSuccess:
		if r.Value == nil {
			return json.RawMessage("null"), nil
		}
		return r.Value, nil
	case protocol.StatusError:
		return nil, newFunctionError(kind, path, r.ErrorMessage, r.ErrorData, r.LogLines)
	}
	return nil, fmt.Errorf("convex: %s %s: response has unknown status %q", kind, path, r.Status)
}
