package convextest_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/convexgo/convex/client"
	"github.com/convexgo/convex/convextest"
	"github.com/convexgo/convex/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

func TestDeployment(t *testing.T) {
	d := convextest.Start(t, convextest.WithDemoFunctions())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := client.New(d.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	// Seeded data is visible to functions and to Documents.
	if _, err := d.Insert("messages", map[string]any{"channel": "c", "author": "a", "body": "hi"}); err != nil {
		t.Fatal(err)
	}
	msgs, err := client.Query[[]map[string]any](ctx, c, "messages:list", map[string]any{"channel": "c"})
	if err != nil || len(msgs) != 1 || msgs[0]["body"] != "hi" {
		t.Fatalf("messages:list = %v, %v", msgs, err)
	}
	// A failed Write commits nothing.
	boom := errors.New("boom")
	err = d.Write(func(ctx *convextest.MutationCtx) error {
		if _, err := ctx.Insert("messages", map[string]any{"channel": "c", "author": "a", "body": "lost"}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Write = %v", err)
	}
	docs, err := d.Documents("messages")
	if err != nil || len(docs) != 1 {
		t.Fatalf("Documents = %v, %v", docs, err)
	}
	// A Write re-runs live queries that read the table.
	sub, err := client.Subscribe[[]map[string]any](ctx, c, "messages:list", map[string]any{"channel": "c"})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if v, err := sub.Next(ctx); err != nil || len(v) != 1 {
		t.Fatalf("first = %v, %v", v, err)
	}
	if _, err := d.Insert("messages", map[string]any{"channel": "c", "author": "a", "body": "two"}); err != nil {
		t.Fatal(err)
	}
	if v, err := sub.Next(ctx); err != nil || len(v) != 2 {
		t.Fatalf("after Insert = %v, %v", v, err)
	}
	// Tokens identify users.
	tok, err := d.Token("ada", time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := client.NewHTTPClient(d.URL())
	if err != nil {
		t.Fatal(err)
	}
	who, err := client.Query[*string](ctx, h.As(client.UserToken(tok)), "auth:whoami", nil)
	if err != nil || who == nil || *who != "ada" {
		t.Fatalf("whoami = %v, %v", who, err)
	}
	if _, err := d.Token("", time.Hour, nil); err == nil {
		t.Fatal("Token without a subject")
	}
	// Dropped connections come back and the subscription resumes.
	if n := d.DropConnections(); n != 1 {
		t.Fatalf("dropped %d sockets", n)
	}
	if _, err := client.Mutation[string](ctx, c, "messages:send", map[string]any{"channel": "c", "author": "a", "body": "three"}); err != nil {
		t.Fatal(err)
	}
	if v, _, _ := sub.Latest(); len(v) != 3 {
		t.Fatalf("after reconnect = %v", v)
	}
	// Validators fail calls as a real deployment does.
	_, err = client.Mutation[string](ctx, c, "messages:send", map[string]any{"channel": "c"})
	var fe *client.FunctionError
	if !errors.As(err, &fe) || !strings.Contains(fe.Message, "ArgumentValidationError") {
		t.Fatalf("bad args = %v", err)
	}
}

func TestInvalidDeclarationPanics(t *testing.T) {
	d := convextest.Start(t)
	defer func() {
		if recover() == nil {
			t.Fatal("a query with a string args validator was declared")
		}
	}()
	d.Query("a:b", convextest.V.String(), nil, nil)
}
