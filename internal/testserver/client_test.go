package testserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/convexgo/convex/internal/leakcheck"
	"github.com/convexgo/convex/protocol"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// waitTimeout bounds every wait in these tests.
const waitTimeout = 10 * time.Second

const testSession = "3f2b8c1e-9a4d-4c6e-8b1f-2d7e5a9c0b13"

// frame is one message the test client received.
type frame struct {
	raw []byte
	msg protocol.ServerMessage
	err error
}

// wsClient is a minimal sync-protocol client for these tests, written
// directly on coder/websocket and protocol. It checks that every
// Transition starts where the previous one ended.
type wsClient struct {
	t        *testing.T
	ws       *websocket.Conn
	frames   chan frame
	readErr  error // valid once frames is closed
	version  protocol.StateVersion
	keepPing bool // deliver Ping messages instead of skipping them
	httpc    *http.Client
}

type dialConfig struct {
	path        string
	header      http.Header
	compression websocket.CompressionMode
	dialContext func(ctx context.Context, network, addr string) (net.Conn, error)
}

type dialOption func(*dialConfig)

func withPath(p string) dialOption { return func(c *dialConfig) { c.path = p } }

// withCompression makes the client offer permessage-deflate in mode m.
func withCompression(m websocket.CompressionMode) dialOption {
	return func(c *dialConfig) { c.compression = m }
}

// withDialContext dials the TCP connection with f.
func withDialContext(f func(ctx context.Context, network, addr string) (net.Conn, error)) dialOption {
	return func(c *dialConfig) { c.dialContext = f }
}

func withClientHeader(v string) dialOption {
	return func(c *dialConfig) {
		if v == "" {
			c.header.Del("Convex-Client")
		} else {
			c.header.Set("Convex-Client", v)
		}
	}
}

func wsURL(s *Server, path string) string {
	return "ws" + strings.TrimPrefix(s.URL(), "http") + path
}

// tryDial opens a socket; it returns the HTTP response on failure.
func tryDial(t *testing.T, s *Server, opts ...dialOption) (*wsClient, *http.Response, error) {
	t.Helper()
	cfg := dialConfig{path: "/api/sync", header: http.Header{"Convex-Client": {"go-0.1.0"}}}
	for _, o := range opts {
		o(&cfg)
	}
	tr := &http.Transport{DialContext: cfg.dialContext}
	hc := &http.Client{Transport: tr}
	t.Cleanup(tr.CloseIdleConnections)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, wsURL(s, cfg.path),
		&websocket.DialOptions{HTTPHeader: cfg.header, HTTPClient: hc, CompressionMode: cfg.compression})
	if err != nil {
		if resp != nil && resp.Body != nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			resp.Body = io.NopCloser(bytes.NewReader(body))
		}
		return nil, resp, err
	}
	ws.SetReadLimit(256 << 20)
	c := &wsClient{t: t, ws: ws, frames: make(chan frame, 4096), httpc: hc}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(c.frames)
		for {
			_, data, err := ws.Read(context.Background())
			if err != nil {
				c.readErr = err
				return
			}
			m, derr := protocol.DecodeServerMessage(data)
			c.frames <- frame{raw: data, msg: m, err: derr}
		}
	}()
	t.Cleanup(func() {
		_ = ws.CloseNow()
		<-done
	})
	return c, resp, nil
}

func dial(t *testing.T, s *Server, opts ...dialOption) *wsClient {
	t.Helper()
	c, resp, err := tryDial(t, s, opts...)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial: %v (HTTP %d)", err, status)
	}
	return c
}

func (c *wsClient) send(m protocol.ClientMessage) {
	c.t.Helper()
	data, err := protocol.EncodeClientMessage(m)
	if err != nil {
		c.t.Fatalf("encode %T: %v", m, err)
	}
	c.sendRaw(data)
}

func (c *wsClient) sendRaw(data []byte) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, data); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// nextFrame returns the next frame (Pings skipped unless keepPing). It
// fails the test if the socket closes or nothing arrives in time.
func (c *wsClient) nextFrame() frame {
	c.t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		select {
		case f, ok := <-c.frames:
			if !ok {
				c.t.Fatalf("socket closed while waiting for a message: %v", c.readErr)
			}
			if _, ping := f.msg.(*protocol.Ping); ping && !c.keepPing {
				continue
			}
			return f
		case <-timer.C:
			c.t.Fatalf("no message within %v", waitTimeout)
		}
	}
}

// next returns the next decoded message, reassembling TransitionChunks.
func (c *wsClient) next() protocol.ServerMessage {
	c.t.Helper()
	f := c.nextFrame()
	if f.err != nil {
		c.t.Fatalf("undecodable frame %q: %v", f.raw, f.err)
	}
	chunk, ok := f.msg.(*protocol.TransitionChunk)
	if !ok {
		return f.msg
	}
	text := chunk.Chunk
	for i := uint32(1); i < chunk.TotalParts; i++ {
		g := c.nextFrame()
		part, ok := g.msg.(*protocol.TransitionChunk)
		if !ok || part.PartNumber != i || part.TransitionID != chunk.TransitionID || part.TotalParts != chunk.TotalParts {
			c.t.Fatalf("chunk %d: got %s", i, g.raw)
		}
		text += part.Chunk
	}
	m, err := protocol.DecodeServerMessage([]byte(text))
	if err != nil {
		c.t.Fatalf("reassembled transition: %v", err)
	}
	return m
}

// transition expects a Transition that continues from the last one.
func (c *wsClient) transition() *protocol.Transition {
	c.t.Helper()
	m := c.next()
	tr, ok := m.(*protocol.Transition)
	if !ok {
		c.t.Fatalf("got %T %+v, want a Transition", m, m)
	}
	if tr.StartVersion != c.version {
		c.t.Fatalf("Transition starts at %+v, previous ended at %+v", tr.StartVersion, c.version)
	}
	if tr.EndVersion.TS < tr.StartVersion.TS || tr.EndVersion.QuerySet < tr.StartVersion.QuerySet ||
		tr.EndVersion.Identity < tr.StartVersion.Identity {
		c.t.Fatalf("Transition goes backwards: %+v -> %+v", tr.StartVersion, tr.EndVersion)
	}
	for i := 1; i < len(tr.Modifications); i++ {
		if tr.Modifications[i-1].QueryID >= tr.Modifications[i].QueryID {
			c.t.Fatalf("modifications not sorted by queryId: %+v", tr.Modifications)
		}
	}
	c.version = tr.EndVersion
	return tr
}

func expectMsg[T protocol.ServerMessage](c *wsClient) T {
	c.t.Helper()
	m := c.next()
	v, ok := m.(T)
	if !ok {
		var want T
		c.t.Fatalf("got %T %+v, want %T", m, m, want)
	}
	return v
}

// closed waits for the socket to end and returns its close status (-1 when
// it ended without a close frame) and reason.
func (c *wsClient) closed() (websocket.StatusCode, string) {
	c.t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		select {
		case f, ok := <-c.frames:
			if !ok {
				var ce websocket.CloseError
				if errors.As(c.readErr, &ce) {
					return ce.Code, ce.Reason
				}
				return -1, ""
			}
			if _, ping := f.msg.(*protocol.Ping); !ping {
				c.t.Fatalf("got %s while waiting for the socket to close", f.raw)
			}
		case <-timer.C:
			c.t.Fatalf("socket still open after %v", waitTimeout)
		}
	}
}

func (c *wsClient) connect() {
	c.t.Helper()
	reason := "InitialConnect"
	c.send(&protocol.Connect{SessionID: testSession, LastCloseReason: &reason, ClientTS: time.Now().UnixMilli()})
}

// add builds an Add modification.
func add(t *testing.T, id protocol.QueryID, path string, args any) protocol.QuerySetModification {
	t.Helper()
	b, err := protocol.EncodeArgs(args)
	if err != nil {
		t.Fatal(err)
	}
	return protocol.QuerySetModification{Type: protocol.TypeAdd, QueryID: id, UDFPath: path, Args: b}
}

func remove(id protocol.QueryID) protocol.QuerySetModification {
	return protocol.QuerySetModification{Type: protocol.TypeRemove, QueryID: id}
}

func (c *wsClient) modify(base protocol.QuerySetVersion, mods ...protocol.QuerySetModification) {
	c.t.Helper()
	c.send(&protocol.ModifyQuerySet{BaseVersion: base, NewVersion: base + 1, Modifications: mods})
}

func encArgs(t *testing.T, args any) json.RawMessage {
	t.Helper()
	b, err := protocol.EncodeArgs(args)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (c *wsClient) mutation(id protocol.RequestID, path string, args any) {
	c.t.Helper()
	c.send(&protocol.Mutation{RequestID: id, UDFPath: path, Args: encArgs(c.t, args)})
}

func (c *wsClient) action(id protocol.RequestID, path string, args any) {
	c.t.Helper()
	c.send(&protocol.Action{RequestID: id, UDFPath: path, Args: encArgs(c.t, args)})
}

// decode decodes Convex JSON into a Go value.
func decode(t *testing.T, raw []byte) any {
	t.Helper()
	v, err := protocol.DecodeValue(raw)
	if err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return v
}

func waitStats(t *testing.T, s *Server, cond func(Stats) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := s.WaitFor(ctx, cond); err != nil {
		t.Fatal(err)
	}
}

func newDemo(t *testing.T, opts ...Option) *Server {
	t.Helper()
	s := NewDemo(opts...)
	t.Cleanup(s.Close)
	return s
}

// modByID finds the modification for a query id.
func modByID(tr *protocol.Transition, id protocol.QueryID) (protocol.StateModification, bool) {
	for _, m := range tr.Modifications {
		if m.QueryID == id {
			return m, true
		}
	}
	return protocol.StateModification{}, false
}

var serverErrorRE = regexp.MustCompile(`(?s)^\[Request ID: ([0-9a-f]{16})\] Server Error\n(.*)\n$`)

// serverError checks that msg is a function error as a development
// deployment sends it and returns the error inside it and the request id.
func serverError(t *testing.T, msg string) (core, requestID string) {
	t.Helper()
	m := serverErrorRE.FindStringSubmatch(msg)
	if m == nil {
		t.Fatalf("%q is not \"[Request ID: <16 hex>] Server Error\\n<error>\\n\"", msg)
	}
	return m[2], m[1]
}
