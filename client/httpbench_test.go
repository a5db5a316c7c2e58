package client

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/convexgo/convex/internal/testserver"
	"github.com/convexgo/convex/internal/version"
	"github.com/convexgo/convex/protocol"
)

// cannedTransport answers every request with one fixed 200 body, after
// reading the request's body, so that a benchmark through it measures the
// client's own per-call work and nothing of a network or a deployment.
type cannedTransport struct{ body string }

func (t cannedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_, _ = io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
	return &http.Response{StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"application/json"}}, ContentLength: int64(len(t.body)),
		Body: io.NopCloser(strings.NewReader(t.body)), Request: req}, nil
}

// BenchmarkHTTPQuery runs Query[*string] of auth:whoami through an
// HTTPCaller with a user token: "canned" against a transport that answers
// at once (the client's own work per call), "loopback" against the
// in-process deployment, and "raw" is the same POST made with net/http
// directly and decoded into the same type, for comparison.
func BenchmarkHTTPQuery(b *testing.B) {
	keys, err := testserver.GenerateKeys()
	if err != nil {
		b.Fatal(err)
	}
	token, err := keys.MintToken("user-1", time.Hour, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	query := func(b *testing.B, h *HTTPClient) {
		b.ReportAllocs()
		for b.Loop() {
			who, err := Query[*string](ctx, h.As(UserToken(token)), "auth:whoami", nil)
			if err != nil || who == nil || *who != "user-1" {
				b.Fatalf("whoami = %v, %v", who, err)
			}
		}
	}
	b.Run("canned", func(b *testing.B) {
		h, err := NewHTTPClient("http://deployment.test", WithHTTPClient(&http.Client{
			Transport: cannedTransport{body: `{"status":"success","value":"user-1","logLines":[]}`}}))
		if err != nil {
			b.Fatal(err)
		}
		query(b, h)
	})
	srv := testserver.NewDemo(testserver.WithAuth(keys.AuthConfig()))
	defer srv.Close()
	b.Run("loopback", func(b *testing.B) {
		h, err := NewHTTPClient(srv.URL())
		if err != nil {
			b.Fatal(err)
		}
		query(b, h)
	})
	b.Run("raw", func(b *testing.B) {
		body, err := json.Marshal(protocol.HTTPRequest{Path: "auth:whoami", Args: json.RawMessage(`{}`), Format: protocol.FormatConvexEncodedJSON})
		if err != nil {
			b.Fatal(err)
		}
		hc := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
		defer hc.CloseIdleConnections()
		b.ReportAllocs()
		for b.Loop() {
			req, _ := http.NewRequest(http.MethodPost, srv.URL()+"/api/query", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := hc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			data, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			var r protocol.UDFResponse
			var who *string
			if err != nil || resp.StatusCode != http.StatusOK || json.Unmarshal(data, &r) != nil ||
				r.Status != protocol.StatusSuccess || json.Unmarshal(r.Value, &who) != nil || who == nil || *who != "user-1" {
				b.Fatalf("%d %s %v", resp.StatusCode, data, err)
			}
		}
	})
}

// TestReadBody checks readBody against io.ReadAll of a LimitReader, for
// bodies below, at and above the limit, with the right, a wrong and no
// Content-Length, through a reader that returns a few bytes at a time.
func TestReadBody(t *testing.T) {
	const limit = 1000
	for _, n := range []int{0, 1, 511, 512, 513, 999, 1000, 1001, 5000} {
		body := bytes.Repeat([]byte("x"), n)
		want, _ := io.ReadAll(io.LimitReader(bytes.NewReader(body), limit+1))
		for _, size := range []int64{int64(n), -1, 0, int64(n) / 2, int64(n) * 2} {
			got, err := readBody(&trickleReader{data: body}, size, limit)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("body %d, size %d: got %d bytes, %v; want %d", n, size, len(got), err, len(want))
			}
		}
	}
	// A large Content-Length is not allocated ahead of the body.
	if got, err := readBody(strings.NewReader("ab"), 50<<20, 64<<20); err != nil || string(got) != "ab" || cap(got) > maxPresize {
		t.Fatalf("readBody = %q (cap %d), %v", got, cap(got), err)
	}
	// A read error is returned, with what was read before it.
	got, err := readBody(io.MultiReader(strings.NewReader("ab"), errReader{}), 10, limit)
	if err != errBroken || string(got) != "ab" {
		t.Fatalf("readBody = %q, %v", got, err)
	}
}

type trickleReader struct {
	data []byte
	n    int
}

func (r *trickleReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	r.n++
	k := min(len(p), len(r.data), 1+r.n%7)
	copy(p, r.data[:k])
	r.data = r.data[k:]
	return k, nil
}

var errBroken = io.ErrClosedPipe

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errBroken }

// TestWithTimeout checks that a caller's earlier deadline is used as it
// is and a later one (or none) is bounded.
func TestWithTimeout(t *testing.T) {
	early, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	ctx, stop := withTimeout(early, time.Hour)
	stop()
	if ctx != early {
		t.Fatal("an earlier deadline got a context of its own")
	}
	if ctx.Err() != nil {
		t.Fatal("stop cancelled the caller's context")
	}
	for _, parent := range []context.Context{context.Background(), early} {
		ctx, stop := withTimeout(parent, time.Millisecond)
		dl, ok := ctx.Deadline()
		if !ok || time.Until(dl) > time.Millisecond {
			t.Fatalf("deadline %v, %v; want within 1ms", dl, ok)
		}
		<-ctx.Done()
		if ctx.Err() != context.DeadlineExceeded {
			t.Fatalf("err = %v", ctx.Err())
		}
		stop()
	}
}

// TestHTTPCallerRequest checks the request an HTTPCaller sends: its
// headers, and a body the deployment reads as the call's path, args and
// format.
func TestHTTPCallerRequest(t *testing.T) {
	var got *http.Request
	var body []byte
	h, err := NewHTTPClient("http://deployment.test", WithHTTPClient(&http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		got = r
		body, _ = io.ReadAll(r.Body)
		// A RoundTripper adding to one header must not change another.
		r.Header.Add("Content-Type", "x")
		return cannedTransport{body: `{"status":"success","value":1}`}.RoundTrip(r)
	})}))
	if err != nil {
		t.Fatal(err)
	}
	args := map[string]any{"s": "<&>\u2028é", "n": Int64(7)}
	if v, err := Query[int](context.Background(), h.As(UserToken("tok")), "dir/m:f", args); err != nil || v != 1 {
		t.Fatalf("Query = %v, %v", v, err)
	}
	if got.Method != http.MethodPost || got.URL.String() != "http://deployment.test/api/query" ||
		got.Header.Get("Authorization") != "Bearer tok" || got.Header.Get("Convex-Client") != version.ClientHeader ||
		strings.Join(got.Header.Values("Content-Type"), ",") != "application/json,x" || got.ContentLength != int64(len(body)) {
		t.Fatalf("request %s %s %v (%d bytes)", got.Method, got.URL, got.Header, got.ContentLength)
	}
	var r protocol.HTTPRequest
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatal(err)
	}
	want, _ := protocol.EncodeArgs(args)
	if r.Path != "dir/m:f" || r.Format != protocol.FormatConvexEncodedJSON || string(r.Args) != string(want) {
		t.Fatalf("body %s", body)
	}
	// Anonymous: no Authorization header.
	if _, err := Query[int](context.Background(), h.As(Anonymous()), "m:f", nil); err != nil {
		t.Fatal(err)
	}
	if _, ok := got.Header["Authorization"]; ok {
		t.Fatalf("anonymous request has Authorization %q", got.Header.Get("Authorization"))
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
