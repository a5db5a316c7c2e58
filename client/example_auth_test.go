package client_test

import (
	"context"
	"fmt"
	"time"

	"github.com/convexgo/convex/client"
	"github.com/convexgo/convex/convextest"
	"github.com/convexgo/convex/tokenprovider"
)

func ExampleClient_SetAuth() {
	// A local deployment that accepts tokens signed by keys; against a
	// real deployment, fetch tokens from your auth provider instead.
	srv, _ := convextest.New(convextest.WithDemoFunctions())
	defer srv.Close()
	ctx := context.Background()

	c, err := client.New(srv.URL())
	if err != nil {
		panic(err)
	}
	defer c.Close()

	fetch := tokenprovider.Func(func(ctx context.Context, forceRefresh bool) (string, error) {
		return srv.Token("alice", time.Hour, nil) // your auth provider's token
	})
	// The cache answers the client's refresh requests with the token the
	// deployment just confirmed, and collapses concurrent fetches.
	tokens := tokenprovider.NewCache(fetch, nil)
	err = c.SetAuth(ctx, tokens, func(authenticated bool) {
		if !authenticated {
			fmt.Println("signed out: ask the user to sign in again")
		}
	})
	if err != nil {
		panic(err)
	}

	sub, err := client.Subscribe[*string](ctx, c, "auth:whoami", nil)
	if err != nil {
		panic(err)
	}
	defer sub.Close()
	for who, err := range sub.Updates(ctx) {
		if err != nil {
			panic(err)
		}
		if who != nil {
			fmt.Println("whoami:", *who)
			break
		}
	}
	// Output:
	// whoami: alice
}
