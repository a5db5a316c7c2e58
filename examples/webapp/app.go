package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log"
	"net/http"
	"strings"
	"time"

	"github.com/convexgo/convex/betterauth"
	"github.com/convexgo/convex/client"
	"github.com/convexgo/convex/examples/demoapi"
	"github.com/convexgo/convex/serverauth"
	"github.com/convexgo/convex/tokenprovider"
)

// Config is what an App needs: the deployment's client and Better Auth's
// origin.
type Config struct {
	// Convex calls the deployment; the deployment must trust the tokens
	// Better Auth signs (its auth config: Better Auth's issuer and JWKS).
	Convex *client.HTTPClient
	// BetterAuthURL is Better Auth's origin, such as
	// "https://happy-otter-123.convex.site", mounted at /api/auth.
	BetterAuthURL string
	// Log receives errors worth a look. Default: the log package's.
	Log *log.Logger
}

// App is the web application: sign-in and sign-up forms at /sign-in, a
// per-user page at /, a form posting to /messages, and /sign-out.
type App struct {
	auth   *serverauth.Middleware
	baURL  string
	ba     *http.Client // to Better Auth, server-side
	log    *log.Logger
	router http.Handler
}

// New returns the App for cfg.
func New(cfg Config) (*App, error) {
	baURL := strings.TrimRight(cfg.BetterAuthURL, "/")
	m, err := serverauth.New(serverauth.Options{
		Client:     cfg.Convex,
		BetterAuth: &betterauth.Options{SiteURL: baURL},
		Cache:      tokenprovider.SessionOptions{}, // in memory: one instance
		// When the browser's convex_jwt cookie has expired, the page that
		// got a new token hands it back in a fresh cookie, as Better
		// Auth's token endpoint would set it.
		RefreshTokenCookie: true,
	})
	if err != nil {
		return nil, err
	}
	a := &App{auth: m, baURL: baURL, log: cfg.Log,
		ba: &http.Client{Timeout: 10 * time.Second,
			// Better Auth answers sign-in with JSON; never follow it elsewhere.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	if a.log == nil {
		a.log = log.Default()
	}
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", m.Handler(http.HandlerFunc(a.home)))
	mux.HandleFunc("GET /sign-in", a.signInPage)
	mux.HandleFunc("POST /sign-in", a.signIn)
	mux.Handle("POST /messages", m.Handler(http.HandlerFunc(a.post)))
	mux.Handle("/sign-out", m.SignOutHandler(http.RedirectHandler("/sign-in", http.StatusSeeOther)))
	// Every form posts to this origin only.
	a.router = http.NewCrossOriginProtection().Handler(mux)
	return a, nil
}

// ServeHTTP serves the application.
func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.router.ServeHTTP(w, r) }

// Close releases the App's idle connections to Better Auth.
func (a *App) Close() { a.ba.CloseIdleConnections() }

var pages = template.Must(template.New("").Parse(`
{{define "head"}}<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.}} · convex-go webapp</title>
<style>body{font:16px system-ui,sans-serif;max-width:36em;margin:2em auto}li{margin:.2em 0}</style>
</head><body>{{end}}

{{define "sign-in"}}{{template "head" "Sign in"}}
<h1>Sign in</h1>
{{if .}}<p id="error" role="alert">{{.}}</p>{{end}}
<form method="post" action="/sign-in">
<p><label>Email <input id="email" name="email" type="email" required autocomplete="username"></label></p>
<p><label>Password <input id="password" name="password" type="password" required minlength="8" autocomplete="current-password"></label></p>
<p><label>Name (to create an account) <input id="name" name="name" autocomplete="name"></label></p>
<p><button id="sign-in" name="action" value="sign-in">Sign in</button>
<button id="sign-up" name="action" value="sign-up">Create account</button></p>
</form></body></html>{{end}}

{{define "home"}}{{template "head" "Your messages"}}
<p id="who">Signed in as {{.Subject}}</p>
<form method="post" action="/sign-out"><button id="sign-out">Sign out</button></form>
<h1>Your messages</h1>
<ul id="messages">{{range .Messages}}<li class="message">{{.Body}}</li>{{else}}<li id="none">(none yet)</li>{{end}}</ul>
<form method="post" action="/messages">
<p><label>Message <input id="body" name="body" required maxlength="500"></label>
<button id="send">Send</button></p>
</form></body></html>{{end}}
`))

func render(w http.ResponseWriter, name string, data any) {
	var b bytes.Buffer
	if err := pages.ExecuteTemplate(&b, name, data); err != nil {
		http.Error(w, "rendering failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = b.WriteTo(w)
}

// whoami returns the signed-in user's subject (Better Auth's user id),
// or "" for a request without a live session.
func whoami(r *http.Request) (string, error) {
	if u, ok := serverauth.FromContext(r.Context()); !ok || !u.SignedIn() {
		return "", nil
	}
	who, err := demoapi.AuthWhoami.Query(r.Context(), serverauth.Caller(r.Context()), demoapi.AuthWhoamiArgs{})
	if errors.Is(err, betterauth.ErrSignedOut) {
		return "", nil
	}
	if err != nil || who == nil {
		return "", err
	}
	return *who, nil
}

// home renders the signed-in user's page: who they are and their own
// messages (the channel named after their subject).
func (a *App) home(w http.ResponseWriter, r *http.Request) {
	sub, err := whoami(r)
	if err != nil {
		a.fail(w, "whoami", err)
		return
	}
	if sub == "" {
		http.Redirect(w, r, "/sign-in", http.StatusSeeOther)
		return
	}
	msgs, err := demoapi.MessagesList.Query(r.Context(), serverauth.Caller(r.Context()), demoapi.MessagesListArgs{Channel: sub})
	if err != nil {
		a.fail(w, "messages:list", err)
		return
	}
	render(w, "home", struct {
		Subject  string
		Messages []demoapi.MessagesListReturnsItem
	}{sub, msgs})
}

// post runs messages:send as the user, into the user's own channel, and
// sends the browser back to its page (post, redirect, get).
func (a *App) post(w http.ResponseWriter, r *http.Request) {
	sub, err := whoami(r)
	if err != nil {
		a.fail(w, "whoami", err)
		return
	}
	if sub == "" {
		http.Redirect(w, r, "/sign-in", http.StatusSeeOther)
		return
	}
	body := strings.TrimSpace(r.PostFormValue("body"))
	if body == "" || len(body) > 500 {
		http.Error(w, "a message is 1 to 500 characters", http.StatusBadRequest)
		return
	}
	if _, err := demoapi.MessagesSend.Mutation(r.Context(), serverauth.Caller(r.Context()),
		demoapi.MessagesSendArgs{Channel: sub, Author: sub, Body: body}); err != nil {
		a.fail(w, "messages:send", err)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (a *App) fail(w http.ResponseWriter, what string, err error) {
	a.log.Printf("webapp: %s: %v", what, err)
	http.Error(w, "the deployment could not answer; try again", http.StatusBadGateway)
}

func (a *App) signInPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	render(w, "sign-in", "")
}

// signIn posts the form's credentials to Better Auth's email sign-in (or
// sign-up) from the server, and hands the cookies Better Auth sets (its
// session cookie and the convex_jwt cookie) to the browser, for this
// origin. The browser never talks to Better Auth itself.
func (a *App) signIn(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	email, password := r.PostFormValue("email"), r.PostFormValue("password")
	route, body := "/api/auth/sign-in/email", map[string]string{"email": email, "password": password}
	if r.PostFormValue("action") == "sign-up" {
		name := strings.TrimSpace(r.PostFormValue("name"))
		if name == "" {
			name = email
		}
		route, body = "/api/auth/sign-up/email", map[string]string{"email": email, "password": password, "name": name}
	}
	cookies, err := a.betterAuthPost(r.Context(), route, body)
	var refused *refusedError
	switch {
	case errors.As(err, &refused):
		w.WriteHeader(http.StatusUnauthorized)
		render(w, "sign-in", refused.message)
		return
	case err != nil:
		a.fail(w, route, err)
		return
	}
	for _, c := range cookies {
		// Better Auth's cookies, re-issued by this origin: host-only,
		// for every path, never readable by scripts.
		http.SetCookie(w, &http.Cookie{Name: c.Name, Value: c.Value, Path: "/", MaxAge: c.MaxAge,
			Expires: c.Expires, Secure: c.Secure, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// refusedError is Better Auth refusing the credentials, with its message.
type refusedError struct{ message string }

func (e *refusedError) Error() string { return e.message }

// betterAuthPost posts body to Better Auth's route and returns the
// cookies it sets with a value.
func (a *App) betterAuthPost(ctx context.Context, route string, body any) ([]*http.Cookie, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.baURL+route, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	// Better Auth checks the Origin of POSTs against its trusted origins;
	// this request is the server's own, made for a form it checked.
	req.Header.Set("Origin", a.baURL)
	resp, err := a.ba.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 400 && resp.StatusCode < 500 {
		var e struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(data, &e) != nil || e.Message == "" {
			e.Message = fmt.Sprintf("Better Auth refused: %s", resp.Status)
		}
		return nil, &refusedError{message: e.Message}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("better auth %s: %s", route, resp.Status)
	}
	var cookies []*http.Cookie
	for _, c := range resp.Cookies() {
		if c.Value != "" {
			cookies = append(cookies, c)
		}
	}
	return cookies, nil
}
