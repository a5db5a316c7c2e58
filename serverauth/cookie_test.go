package serverauth_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/convexgo/convex/serverauth"
)

// withTokenCookie is s's session function with a Session.Cookie that
// hands a token out in cookie "tok".
func withTokenCookie(s *sessions) func(r *http.Request) serverauth.Session {
	return func(r *http.Request) serverauth.Session {
		ss := s.session(r)
		if ss.ID != "" {
			ss.Cookie = func(tok string) *http.Cookie {
				return &http.Cookie{Name: "tok", Value: tok, Path: "/", HttpOnly: true, MaxAge: 60}
			}
		}
		return ss
	}
}

// serve runs h through m for a request with cookie sid and returns the
// recorder.
func serve(t *testing.T, m *serverauth.Middleware, sid string, h http.HandlerFunc) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequestWithContext(testCtx(t), http.MethodGet, "http://app.test/", nil)
	req.AddCookie(&http.Cookie{Name: "sid", Value: sid})
	rec := httptest.NewRecorder()
	m.Handler(h).ServeHTTP(rec, req)
	return rec
}

// tokCookie returns the "tok" cookie rec set, or nil.
func tokCookie(rec *httptest.ResponseRecorder) *http.Cookie {
	for _, c := range rec.Result().Cookies() {
		if c.Name == "tok" {
			return c
		}
	}
	return nil
}

// whoamiThen is a handler that runs auth:whoami and then calls write.
func whoamiThen(write func(w http.ResponseWriter, who string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := call(r, "query", "auth:whoami")
		switch {
		case err != nil:
			write(w, "error: "+err.Error())
		case v == nil:
			write(w, "anonymous")
		default:
			write(w, *v)
		}
	}
}

func TestRefreshTokenCookie(t *testing.T) {
	f := newFixture(t)
	s := newSessions()
	good := f.mint(t, f.keys, "alice", false)
	s.add("s1", good)
	on := newMiddleware(t, f, s, func(o *serverauth.Options) {
		o.Session = withTokenCookie(s)
		o.RefreshTokenCookie = true
	})
	plain := whoamiThen(func(w http.ResponseWriter, who string) { fmt.Fprint(w, who) })

	t.Run("fetched", func(t *testing.T) {
		// The handler asks for a public cache: a response carrying the
		// user's token is private, whatever the handler says.
		rec := serve(t, on, "s1", whoamiThen(func(w http.ResponseWriter, who string) {
			w.Header().Set("Cache-Control", "public, max-age=60")
			fmt.Fprint(w, who)
		}))
		ck := tokCookie(rec)
		if rec.Body.String() != "alice" || ck == nil || ck.Value != good || ck.MaxAge != 60 || !ck.HttpOnly {
			t.Fatalf("page %q, cookie %+v; want alice and the fetched token", rec.Body.String(), ck)
		}
		if cc := rec.Header().Get("Cache-Control"); cc != "private, no-store" {
			t.Fatalf("Cache-Control %q with the token cookie", cc)
		}
	})
	t.Run("cached", func(t *testing.T) {
		rec := serve(t, on, "s1", plain)
		if ck := tokCookie(rec); ck == nil || ck.Value != good || s.fetched("s1") != 1 {
			t.Fatalf("cookie %+v after %d fetches; want the cached token, 1 fetch", ck, s.fetched("s1"))
		}
	})
	t.Run("WriteHeader", func(t *testing.T) {
		rec := serve(t, on, "s1", whoamiThen(func(w http.ResponseWriter, who string) {
			w.WriteHeader(http.StatusAccepted)
		}))
		if rec.Code != http.StatusAccepted || tokCookie(rec) == nil {
			t.Fatalf("status %d, cookie %+v", rec.Code, tokCookie(rec))
		}
	})
	t.Run("Flush", func(t *testing.T) {
		rec := serve(t, on, "s1", whoamiThen(func(w http.ResponseWriter, who string) {
			if err := http.NewResponseController(w).Flush(); err != nil {
				t.Errorf("Flush through the middleware: %v", err)
			}
			if _, _, err := http.NewResponseController(w).Hijack(); !errors.Is(err, http.ErrNotSupported) {
				t.Errorf("Hijack of a recorder through the middleware: %v, want ErrNotSupported", err)
			}
		}))
		if !rec.Flushed || tokCookie(rec) == nil {
			t.Fatalf("flushed %v, cookie %+v", rec.Flushed, tokCookie(rec))
		}
	})
	t.Run("header written before the call", func(t *testing.T) {
		rec := serve(t, on, "s1", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, "streamed: ")
			whoamiThen(func(w http.ResponseWriter, who string) { fmt.Fprint(w, who) })(w, r)
		})
		if rec.Body.String() != "streamed: alice" || tokCookie(rec) != nil {
			t.Fatalf("page %q, cookie %+v; want no cookie after the header", rec.Body.String(), tokCookie(rec))
		}
	})
	t.Run("request's own token", func(t *testing.T) {
		s.request["s2"] = f.mint(t, f.keys, "bob", false)
		rec := serve(t, on, "s2", plain)
		if rec.Body.String() != "bob" || tokCookie(rec) != nil {
			t.Fatalf("page %q, cookie %+v; want bob and no cookie", rec.Body.String(), tokCookie(rec))
		}
	})
	t.Run("request's token refused", func(t *testing.T) {
		fresh := f.mint(t, f.keys, "carol", false)
		s.request["s3"] = f.mint(t, f.foreign, "carol", false)
		s.add("s3", fresh)
		rec := serve(t, on, "s3", plain)
		if ck := tokCookie(rec); rec.Body.String() != "carol" || ck == nil || ck.Value != fresh {
			t.Fatalf("page %q, cookie %+v; want carol and the refetched token", rec.Body.String(), ck)
		}
	})
	t.Run("fetched token refused", func(t *testing.T) {
		s.add("s4", f.mint(t, f.foreign, "dan", false))
		rec := serve(t, on, "s4", plain)
		if tokCookie(rec) != nil {
			t.Fatalf("page %q, cookie %+v; want no cookie for a refused token", rec.Body.String(), tokCookie(rec))
		}
	})
	t.Run("off", func(t *testing.T) {
		// By default no cookie is set, and the handler can get it.
		off := newMiddleware(t, f, s, func(o *serverauth.Options) { o.Session = withTokenCookie(s) })
		var offered *http.Cookie
		rec := serve(t, off, "s1", func(w http.ResponseWriter, r *http.Request) {
			v, err := call(r, "query", "auth:whoami")
			if err != nil || v == nil {
				t.Errorf("whoami: %v, %v", v, err)
				return
			}
			c, _ := serverauth.FromContext(r.Context())
			offered = c.TokenCookie()
			fmt.Fprint(w, *v)
		})
		if rec.Body.String() != "alice" || tokCookie(rec) != nil {
			t.Fatalf("page %q, cookie %+v; want no cookie by default", rec.Body.String(), tokCookie(rec))
		}
		if offered == nil || offered.Value != good {
			t.Fatalf("UserCaller.TokenCookie = %+v, want the cached token's", offered)
		}
	})
}
