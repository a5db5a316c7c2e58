package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/convexgo/convex/internal/version"
	"github.com/convexgo/convex/protocol"
)

// maxHTTPResponse bounds the body read from the HTTP function API: the
// largest value the deployment returns is 32 MiB of its own size measure,
// which Convex JSON can inflate.
const maxHTTPResponse = 64 << 20

// maxPresize bounds the buffer readBody allocates ahead of a body on the
// word of its Content-Length.
const maxPresize = 1 << 20

// httpQuery runs a query once over HTTP (POST /api/query). Identical
// concurrent calls with the same auth token share one request, but only
// among calls made since the client's last completed write (a mutation or
// action that returned), so a query made after a mutation returned always
// sees it.
func (c *Client) httpQuery(ctx context.Context, path string, args json.RawMessage) (json.RawMessage, error) {
	auth := c.currentAuthorization()
	gen := c.writeGen.Load()
	key := strconv.FormatUint(gen, 10) + "\x00" + auth + "\x00" + string(protocol.NewQueryToken(path, args))
	return c.flights.do(ctx, key, c.cfg.httpTimeout, func(fctx context.Context) (json.RawMessage, error) {
		return c.api().post(fctx, protocol.PathQuery, "query", path, args, auth)
	})
}

// flightGroup shares one HTTP request among identical concurrent calls.
// Unlike golang.org/x/sync/singleflight, the request runs under the
// context of the call that started it (its values, not its cancellation),
// bounded by a timeout, and it is cancelled once every caller waiting for
// it has given up, or when the client closes.
type flightGroup struct {
	mu     sync.Mutex
	m      map[string]*flight
	closed bool
	wg     sync.WaitGroup // the requests' goroutines
	onJoin func()         // tests: called after each caller joins a flight
}

type flight struct {
	done    chan struct{} // closed once val and err are set
	val     json.RawMessage
	err     error
	waiters int
	cancel  context.CancelFunc
}

// do returns the result of run for key, starting it unless a flight for
// key is under way. run gets a context with ctx's values, ending after
// timeout, when all callers gave up, or at close.
func (g *flightGroup) do(ctx context.Context, key string, timeout time.Duration, run func(context.Context) (json.RawMessage, error)) (json.RawMessage, error) {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return nil, ErrClosed
	}
	f := g.m[key]
	if f == nil {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		f = &flight{done: make(chan struct{}), cancel: cancel}
		if g.m == nil {
			g.m = make(map[string]*flight)
		}
		g.m[key] = f
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			val, err := run(fctx)
			cancel()
			g.mu.Lock()
			if g.m[key] == f {
				delete(g.m, key)
			}
			closed := g.closed
			g.mu.Unlock()
			if err != nil && closed {
				err = ErrClosed
			}
			f.val, f.err = val, err
			close(f.done)
		}()
	}
	f.waiters++
	hook := g.onJoin
	g.mu.Unlock()
	if hook != nil {
		hook()
	}
	select {
	case <-f.done:
		return f.val, f.err
	case <-ctx.Done():
		g.mu.Lock()
		if f.waiters--; f.waiters == 0 {
			// Nobody waits any more: stop the request, and let the next
			// caller start afresh rather than join a cancelled one.
			f.cancel()
			if g.m[key] == f {
				delete(g.m, key)
			}
		}
		g.mu.Unlock()
		return nil, ctx.Err()
	}
}

// close cancels every request in flight, waits for their goroutines, and
// makes later calls fail with ErrClosed.
func (g *flightGroup) close() {
	g.mu.Lock()
	g.closed = true
	for _, f := range g.m {
		f.cancel()
	}
	g.mu.Unlock()
	g.wg.Wait()
}

// httpAPI is a deployment's HTTP function API.
type httpAPI struct {
	base string // the deployment URL, without trailing '/'
	hc   *http.Client
	log  *slog.Logger // for the functions' log lines
}

func (c *Client) api() httpAPI { return httpAPI{base: c.httpBase, hc: c.httpClient, log: c.log} }

// bearer is the Authorization header for a user token ("" for none).
func bearer(token string) string {
	if token == "" {
		return ""
	}
	return "Bearer " + token
}

// post calls the HTTP function API with the given Authorization header
// ("" for none) and returns the function's value as Convex JSON.
func (a httpAPI) post(ctx context.Context, endpoint, kind, path string, args json.RawMessage, authorization string) (json.RawMessage, error) {
	body, err := requestBody(path, args)
	if err != nil {
		return nil, err
	}
	return a.send(ctx, endpoint, kind, path, body, authorization)
}

// requestBody is the body of a call of the function at path with the
// encoded args, in a slice of its own of the exact size (the request may
// still be reading it after the call returns, so it is never pooled).
func requestBody(path string, args json.RawMessage) ([]byte, error) {
	r := protocol.HTTPRequest{Path: path, Args: args, Format: protocol.FormatConvexEncodedJSON}
	size := len(`{"path":"","args":[],"format":""}`) + len(path) + len(args) + len(protocol.FormatConvexEncodedJSON)
	return protocol.AppendHTTPRequest(make([]byte, 0, size), r)
}

// send posts a request body to a function endpoint and reads its
// UDFResponse.
func (a httpAPI) send(ctx context.Context, endpoint, kind, path string, body []byte, authorization string) (json.RawMessage, error) {
	data, err := a.roundTrip(ctx, endpoint, kind, path, body, authorization)
	if err != nil {
		return nil, err
	}
	// One pass over the body; the value aliases data, which nothing else
	// holds.
	r, err := protocol.DecodeUDFResponse(data)
	if err != nil {
		return nil, fmt.Errorf("convex: %s %s: malformed response: %w", kind, path, err)
	}
	logFunctionLines(a.log, kind, path, r.LogLines)
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

// roundTrip posts body to endpoint and returns the body of a 200 (or 560)
// response; another status is an *HTTPError.
func (a httpAPI) roundTrip(ctx context.Context, endpoint, kind, path string, body []byte, authorization string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, wrapErr(kind+" "+path, err)
	}
	// The keys are in canonical form, as Header.Set would write them;
	// the values share one backing array, each slice capped so that an
	// Add by a RoundTripper cannot write into its neighbour.
	vals := [...]string{"application/json", version.ClientHeader, authorization}
	req.Header["Content-Type"] = vals[0:1:1]
	req.Header["Convex-Client"] = vals[1:2:2]
	if authorization != "" {
		req.Header["Authorization"] = vals[2:3:3]
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return nil, wrapErr(kind+" "+path, err)
	}
	defer resp.Body.Close()
	data, err := readBody(resp.Body, resp.ContentLength, maxHTTPResponse)
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
	return data, nil
}

// readBody reads r to its end, or to limit+1 bytes, whichever comes first
// (so that a longer body shows as longer than limit), as
// io.ReadAll(io.LimitReader(r, limit+1)) does; a known size (the
// response's Content-Length) sizes the buffer at once instead of growing
// it from 512 bytes, up to maxPresize (a size the body has not yet proved
// is not allocated ahead of it).
func readBody(r io.Reader, size int64, limit int) ([]byte, error) {
	n := 512
	if size >= 0 && size < int64(min(limit, maxPresize)) {
		n = int(size) + 1 // +1: room to see the end without growing
	}
	buf := make([]byte, 0, n)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		room := buf[len(buf):cap(buf)]
		if over := len(buf) + len(room) - (limit + 1); over > 0 {
			room = room[:len(room)-over]
		}
		m, err := r.Read(room)
		buf = buf[:len(buf)+m]
		if err == io.EOF || len(buf) > limit {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}
