package main

import (
	"context"
	"errors"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/convexgo/convex/client"
	"github.com/convexgo/convex/internal/betterauthserver"
	"github.com/convexgo/convex/internal/leakcheck"
	"github.com/convexgo/convex/internal/testserver"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

const password = "correct-horse-battery-staple"

// requireTool finds a program; under CI a missing one fails the test
// (.ci/run installs it), elsewhere it skips the test.
func requireTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is required under CI (install %s): %v", name, pkg, err)
	}
	t.Skipf("%s not found; install %s to run the browser test", name, pkg)
	return ""
}

// newBrowser starts a headless Chromium of its own (a fresh profile, so
// its own cookies) and returns a chromedp context for its first tab.
func newBrowser(t *testing.T, chromium string) context.Context {
	t.Helper()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	ctx, cancel := chromedp.NewContext(allocCtx)
	// The first Run starts the browser, with a context that lives as long
	// as the browser: no timeout on it.
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("starting chromium: %v", err)
	}
	t.Cleanup(func() {
		cancel()      // closes the tab and the browser
		cancelAlloc() // waits for the process to exit
	})
	return ctx
}

// in runs steps in the browser of ctx, bounded in time.
func in(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(sel))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// Two users in two browsers sign in through the app's form (one creating
// an account there, one with an account made beforehand), each posts a
// message through the form as themselves, and each sees only their own
// identity and messages.
func TestTwoUsersInBrowsers(t *testing.T) {
	chromium := requireTool(t, "chromium", "Debian's chromium package")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	st, err := startEmbedded(ctx)
	if errors.Is(err, betterauthserver.ErrNoNode) {
		if os.Getenv("CI") != "" {
			t.Fatalf("%v (required under CI)", err)
		}
		t.Skipf("%v; skipping the browser test", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	h, err := client.NewHTTPClient(st.Deployment.URL())
	if err != nil {
		t.Fatal(err)
	}
	app, err := New(Config{Convex: h, BetterAuthURL: st.BetterAuth.URL, Log: log.New(testWriter{t}, "", 0)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(app.Close)
	srv := httptest.NewServer(app)
	t.Cleanup(srv.Close)

	// Bob has an account already; Ada creates hers through the form.
	bob, err := st.BetterAuth.SignUp(ctx, "bob@example.com", password, "Bob")
	if err != nil {
		t.Fatal(err)
	}
	ada, bobB := newBrowser(t, chromium), newBrowser(t, chromium)

	in(t, ada, "ada signs up",
		chromedp.Navigate(srv.URL+"/"), // redirected to the sign-in page
		chromedp.WaitVisible("#email"),
		chromedp.SendKeys("#email", "ada@example.com"),
		chromedp.SendKeys("#password", password),
		chromedp.SendKeys("#name", "Ada"),
		chromedp.Click("#sign-up"),
		chromedp.WaitVisible("#who"))
	in(t, bobB, "bob signs in",
		chromedp.Navigate(srv.URL+"/sign-in"),
		chromedp.WaitVisible("#email"),
		chromedp.SendKeys("#email", "bob@example.com"),
		chromedp.SendKeys("#password", password),
		chromedp.Click("#sign-in"),
		chromedp.WaitVisible("#who"))

	adaUser, err := st.BetterAuth.SignIn(ctx, "ada@example.com", password) // to learn her id
	if err != nil {
		t.Fatal(err)
	}
	if got, want := text(t, ada, "#who"), "Signed in as "+adaUser.ID; got != want {
		t.Fatalf("ada's page: %q, want %q", got, want)
	}
	if got, want := text(t, bobB, "#who"), "Signed in as "+bob.ID; got != want {
		t.Fatalf("bob's page: %q, want %q", got, want)
	}
	if got := text(t, ada, "#messages"); got != "(none yet)" {
		t.Fatalf("ada's messages before posting: %q", got)
	}

	in(t, ada, "ada posts",
		chromedp.SendKeys("#body", "hello from ada"),
		chromedp.Click("#send"),
		chromedp.WaitVisible("#messages li.message"))
	in(t, bobB, "bob posts",
		chromedp.SendKeys("#body", "bob was here"),
		chromedp.Click("#send"),
		chromedp.WaitVisible("#messages li.message"))

	// Each reloaded page shows its user's message and not the other's.
	for _, b := range []struct {
		name string
		ctx  context.Context
		id   string
		want string
	}{{"ada", ada, adaUser.ID, "hello from ada"}, {"bob", bobB, bob.ID, "bob was here"}} {
		in(t, b.ctx, b.name+" reloads", chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible("#messages li.message"))
		if got := text(t, b.ctx, "#messages"); got != b.want {
			t.Errorf("%s's messages: %q, want only %q", b.name, got, b.want)
		}
		if got := text(t, b.ctx, "#who"); got != "Signed in as "+b.id {
			t.Errorf("%s's page: %q", b.name, got)
		}
	}
	// The mutation ran as the user: the message is in the user's channel.
	var msgs []map[string]any
	if err := st.Deployment.Read(func(ctx *testserver.QueryCtx) error {
		msgs = ctx.List("messages")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	byChannel := map[string]string{}
	for _, m := range msgs {
		byChannel[m["channel"].(string)] = m["body"].(string)
	}
	if len(msgs) != 2 || byChannel[adaUser.ID] != "hello from ada" || byChannel[bob.ID] != "bob was here" {
		t.Errorf("messages in the deployment: %v", msgs)
	}

	// Ada signs out; her browser is back at the sign-in form and her page
	// is no longer hers to see, while Bob's session is untouched.
	in(t, ada, "ada signs out", chromedp.Click("#sign-out"), chromedp.WaitVisible("#email"))
	in(t, ada, "ada's page after sign-out", chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible("#email"))
	in(t, bobB, "bob still signed in", chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible("#who"))

	// A wrong password is refused with Better Auth's message.
	in(t, ada, "wrong password",
		chromedp.SendKeys("#email", "ada@example.com"),
		chromedp.SendKeys("#password", "not-the-password"),
		chromedp.Click("#sign-in"),
		chromedp.WaitVisible("#error"))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
