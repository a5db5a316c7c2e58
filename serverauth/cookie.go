package serverauth

import (
	"bufio"
	"net"
	"net/http"
)

// gotToken notes token, which a call of the request got for the session
// and which the deployment did not refuse (err is not an auth error), as
// the token to hand the browser.
func (c *UserCaller) gotToken(token string, err error) {
	if token == "" || token == c.s.Token || (err != nil && c.m.isAuth(err)) {
		return
	}
	c.mu.Lock()
	c.got = token
	c.mu.Unlock()
}

// TokenCookie returns the cookie that hands the browser the token the
// request's calls got for its session, when the request carried no fresh
// token of its own (see Options.RefreshTokenCookie), or nil: no call has
// got one yet, a call was refused with it, the session has no
// Session.Cookie function, or that function returned nil. With
// RefreshTokenCookie the middleware sets it itself; without, a handler
// may (http.SetCookie, before it writes the header, marking the response
// "Cache-Control: private, no-store").
func (c *UserCaller) TokenCookie() *http.Cookie {
	c.mu.Lock()
	tok := c.got
	c.mu.Unlock()
	if tok == "" || c.s.Cookie == nil {
		return nil
	}
	return c.s.Cookie(tok)
}

// cookieWriter adds the caller's TokenCookie to the response when the
// handler writes the header (Options.RefreshTokenCookie). Like any
// ResponseWriter it is used by one goroutine at a time.
type cookieWriter struct {
	http.ResponseWriter
	c    *UserCaller
	done bool // the header was written (or hijacked)
}

// addCookie sets the cookie, if there is one, on the header about to be
// written, and keeps every cache from storing the response.
func (w *cookieWriter) addCookie() {
	if w.done {
		return
	}
	w.done = true
	ck := w.c.TokenCookie()
	if ck == nil {
		return
	}
	if v := ck.String(); v != "" { // "" for a cookie net/http finds invalid
		h := w.ResponseWriter.Header()
		h.Add("Set-Cookie", v)
		h.Set("Cache-Control", "private, no-store")
	}
}

// WriteHeader adds the cookie to a final (not 1xx) header and writes it.
func (w *cookieWriter) WriteHeader(code int) {
	if code >= 200 {
		w.addCookie()
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write adds the cookie to the header if it is not written yet, and
// writes b.
func (w *cookieWriter) Write(b []byte) (int, error) {
	w.addCookie()
	return w.ResponseWriter.Write(b)
}

// Flush adds the cookie to the header if it is not written yet and
// flushes, if the underlying ResponseWriter can.
func (w *cookieWriter) Flush() {
	w.addCookie()
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack hands the connection over, if the underlying ResponseWriter
// can; no cookie is added to what the handler then writes itself.
func (w *cookieWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.done = true
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// Unwrap returns the underlying ResponseWriter, for
// http.ResponseController.
func (w *cookieWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
