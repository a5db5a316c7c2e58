package client

import (
	"testing"
	"time"
)

func TestWatchAuth(t *testing.T) {
	_, keys, c, ctx := authSetup(t)
	changes := make(chan bool, 10)
	b, err := c.WatchAuth(ctx, "auth:whoami", nil, func(ok bool, err error) {
		if err != nil {
			t.Errorf("unexpected error %v", err)
		}
		changes <- ok
	})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	expect := func(want bool) {
		t.Helper()
		select {
		case got := <-changes:
			if got != want {
				t.Fatalf("onChange(%v), want %v", got, want)
			}
		case <-ctx.Done():
			t.Fatalf("no onChange(%v)", want)
		}
	}
	expect(false) // unauthenticated from the start
	tok, _ := keys.MintToken("fay", time.Hour, nil)
	if err := c.SetAuthToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	expect(true)
	if err := c.ClearAuth(ctx); err != nil {
		t.Fatal(err)
	}
	expect(false)
	b.Close()
	if len(changes) != 0 {
		t.Fatalf("%d extra reports", len(changes))
	}
}
