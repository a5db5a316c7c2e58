package serverauth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/convexgo/convex/betterauth"
	"github.com/convexgo/convex/client"
	"github.com/convexgo/convex/internal/betterauthserver"
	"github.com/convexgo/convex/internal/testserver"
	"github.com/convexgo/convex/protocol"
	"github.com/convexgo/convex/serverauth"
	"github.com/convexgo/convex/tokenprovider"
)

// The benchmarks share one Better Auth server and one deployment, started
// at the first benchmark that needs them and stopped by TestMain: a
// benchmark function runs several times (once per b.N tried).
var bench struct {
	once sync.Once
	err  error
	ba   *betterauthserver.Server
	dep  *testserver.Server
	h    *client.HTTPClient
	n    atomic.Int64 // users signed up
}

func benchStack(b *testing.B) {
	b.Helper()
	bench.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
		defer cancel()
		bench.ba, bench.err = betterauthserver.Start(ctx, nil)
		if bench.err != nil {
			return
		}
		var jwks []byte
		if _, jwks, bench.err = betterauth.FetchJWKS(ctx, betterauth.Options{SiteURL: bench.ba.URL}); bench.err != nil {
			return
		}
		bench.dep = testserver.NewDemo(testserver.WithAuth(testserver.AuthConfig{
			Issuer: bench.ba.URL, ApplicationID: betterauth.Audience, JWKS: string(jwks)}))
		bench.h, bench.err = client.NewHTTPClient(bench.dep.URL())
	})
	if errors.Is(bench.err, betterauthserver.ErrNoNode) {
		b.Skip(bench.err)
	}
	if bench.err != nil {
		b.Fatal(bench.err)
	}
}

func stopBenchStack() {
	if bench.dep != nil {
		bench.dep.Close()
	}
	if bench.ba != nil {
		_ = bench.ba.Stop()
	}
}

// benchUser signs a new user up and returns its session cookie (only:
// without the convex_jwt cookie, the token comes from the SessionCache)
// and its token.
func benchUser(b *testing.B) (session *http.Cookie, token string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	u, err := bench.ba.SignUp(ctx, fmt.Sprintf("bench%d@example.com", bench.n.Add(1)), password, "Bench")
	if err != nil {
		b.Fatal(err)
	}
	return u.Cookie(betterauth.SessionCookieName), u.Cookie(betterauth.JWTCookieName).Value
}

func benchExchanges(b *testing.B) int {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rc, err := bench.ba.Requests(ctx, betterauthserver.TokenPath)
	if err != nil {
		b.Fatal(err)
	}
	return rc.Count
}

// whoamiHandler is a page that runs one query as the request's user.
var whoamiHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	who, err := client.Query[*string](r.Context(), serverauth.Caller(r.Context()), "auth:whoami", nil)
	if err != nil || who == nil {
		http.Error(w, fmt.Sprint("no user: ", err), http.StatusBadGateway)
		return
	}
	_, _ = io.WriteString(w, *who)
})

// BenchmarkUserQuery compares one per-user query through the middleware
// (a request with a Better Auth session cookie served by the middleware
// and a handler that runs auth:whoami, the token from the in-memory
// SessionCache) with a raw net/http POST of the same request to the
// deployment's /api/query, its response decoded with encoding/json into the
// same *string. Both include the deployment's work (verifying
// the token, running the query) over loopback. "interleaved" runs one of
// each per iteration and reports both times and their ratio, which
// drifting load on the machine cannot skew.
func BenchmarkUserQuery(b *testing.B) {
	benchStack(b)
	session, token := benchUser(b)
	m, err := serverauth.New(serverauth.Options{Client: bench.h, BetterAuth: &betterauth.Options{SiteURL: bench.ba.URL}})
	if err != nil {
		b.Fatal(err)
	}
	h := m.Handler(whoamiHandler)
	req := httptest.NewRequest(http.MethodGet, "http://app.test/", nil)
	req.AddCookie(session)
	viaMiddleware := func() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}

	args, err := protocol.EncodeArgs(nil)
	if err != nil {
		b.Fatal(err)
	}
	body, err := json.Marshal(protocol.HTTPRequest{Path: "auth:whoami", Args: args, Format: protocol.FormatConvexEncodedJSON})
	if err != nil {
		b.Fatal(err)
	}
	hc := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	defer hc.CloseIdleConnections()
	url := bench.dep.URL() + "/api/query"
	raw := func() {
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		// Decoded as far as the middleware side decodes it: the response,
		// then its value into the *string the handler asks for.
		var r protocol.UDFResponse
		var who *string
		if err != nil || resp.StatusCode != http.StatusOK || json.Unmarshal(data, &r) != nil || r.Status != protocol.StatusSuccess ||
			json.Unmarshal(r.Value, &who) != nil || who == nil {
			b.Fatalf("%d %s %v", resp.StatusCode, data, err)
		}
	}
	viaMiddleware() // the session's one exchange
	raw()

	run := func(f func()) func(b *testing.B) {
		return func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				f()
			}
		}
	}
	b.Run("middleware", run(viaMiddleware))
	b.Run("raw", run(raw))
	b.Run("interleaved", func(b *testing.B) {
		var mid, rawT time.Duration
		for b.Loop() {
			t0 := time.Now()
			viaMiddleware()
			t1 := time.Now()
			raw()
			mid, rawT = mid+t1.Sub(t0), rawT+time.Since(t1)
		}
		b.ReportMetric(float64(mid.Nanoseconds())/float64(b.N), "middleware-ns/op")
		b.ReportMetric(float64(rawT.Nanoseconds())/float64(b.N), "raw-ns/op")
		b.ReportMetric(float64(mid)/float64(rawT), "ratio")
	})
}

// cannedDeployment answers every request with whoami's answer for one
// user, after reading the request's body: the deployment and the network
// taken out of BenchmarkUserQuery, to see the client side's own work.
type cannedDeployment struct{}

func (cannedDeployment) RoundTrip(req *http.Request) (*http.Response, error) {
	_, _ = io.Copy(io.Discard, req.Body)
	req.Body.Close()
	const body = `{"status":"success","value":"user-1","logLines":[]}`
	return &http.Response{StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"application/json"}}, ContentLength: int64(len(body)),
		Body: io.NopCloser(strings.NewReader(body)), Request: req}, nil
}

// BenchmarkUserQueryClientSide is BenchmarkUserQuery with the deployment
// replaced by a transport that answers at once (cannedDeployment), so that
// what is left is each side's own CPU work: for the middleware, reading the
// session cookie, the SessionCache hit, the client's call and decoding;
// for raw, building the POST and decoding its answer. Their difference is
// what BenchmarkUserQuery's ratio is made of.
func BenchmarkUserQueryClientSide(b *testing.B) {
	benchStack(b)
	session, token := benchUser(b)
	hc := &http.Client{Transport: cannedDeployment{}}
	h, err := client.NewHTTPClient(bench.dep.URL(), client.WithHTTPClient(hc))
	if err != nil {
		b.Fatal(err)
	}
	m, err := serverauth.New(serverauth.Options{Client: h, BetterAuth: &betterauth.Options{SiteURL: bench.ba.URL}})
	if err != nil {
		b.Fatal(err)
	}
	mh := m.Handler(whoamiHandler)
	req := httptest.NewRequest(http.MethodGet, "http://app.test/", nil)
	req.AddCookie(session)
	body, err := json.Marshal(protocol.HTTPRequest{Path: "auth:whoami", Args: json.RawMessage(`{}`), Format: protocol.FormatConvexEncodedJSON})
	if err != nil {
		b.Fatal(err)
	}
	url := bench.dep.URL() + "/api/query"
	b.Run("middleware", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rec := httptest.NewRecorder()
			mh.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("%d %s", rec.Code, rec.Body)
			}
		}
	})
	b.Run("raw", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
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
			if err != nil || resp.StatusCode != http.StatusOK || json.Unmarshal(data, &r) != nil || r.Status != protocol.StatusSuccess ||
				json.Unmarshal(r.Value, &who) != nil || who == nil {
				b.Fatalf("%d %s %v", resp.StatusCode, data, err)
			}
		}
	})
}

// BenchmarkExchangesPer1000Renders renders 1,000 pages of one new Better
// Auth session (session cookie only) through the middleware per
// iteration and reports the token exchanges Better Auth received per
// 1,000 renders.
func BenchmarkExchangesPer1000Renders(b *testing.B) {
	benchStack(b)
	m, err := serverauth.New(serverauth.Options{Client: bench.h, BetterAuth: &betterauth.Options{SiteURL: bench.ba.URL},
		Cache: tokenprovider.SessionOptions{Store: tokenprovider.NewMemoryStore(nil)}})
	if err != nil {
		b.Fatal(err)
	}
	h := m.Handler(whoamiHandler)
	exchanges := 0
	for b.Loop() {
		b.StopTimer()
		session, _ := benchUser(b)
		before := benchExchanges(b)
		req := httptest.NewRequest(http.MethodGet, "http://app.test/", nil)
		req.AddCookie(session)
		b.StartTimer()
		for range 1000 {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("%d %s", rec.Code, rec.Body)
			}
		}
		b.StopTimer()
		exchanges += benchExchanges(b) - before
		b.StartTimer()
	}
	b.ReportMetric(float64(exchanges)/float64(b.N), "exchanges/1000renders")
}
