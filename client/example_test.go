package client_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/convexgo/convex/client"
	"github.com/convexgo/convex/convextest"
)

func ExampleQuery() {
	srv, _ := convextest.New(convextest.WithDemoFunctions()) // a local deployment; use your deployment's URL
	defer srv.Close()
	ctx := context.Background()
	c, err := client.New(srv.URL())
	if err != nil {
		panic(err)
	}
	defer c.Close()

	// One-shot read over HTTP: no subscription is kept.
	n, err := client.Query[int64](ctx, c, "counter:get", map[string]any{"name": "clicks"})
	if err != nil {
		panic(err)
	}
	fmt.Println("clicks:", n)
	// Output: clicks: 0
}

func ExampleMutation() {
	srv, _ := convextest.New(convextest.WithDemoFunctions()) // a local deployment; use your deployment's URL
	defer srv.Close()
	ctx := context.Background()
	c, err := client.New(srv.URL())
	if err != nil {
		panic(err)
	}
	defer c.Close()

	// Go numbers are Float64 (v.number()), as JavaScript numbers are;
	// write client.Int64(5) where a function wants a v.int64().
	n, err := client.Mutation[int64](ctx, c, "counter:increment", map[string]any{"name": "clicks", "by": 5})
	if err != nil {
		panic(err)
	}
	fmt.Println("clicks:", n)

	// A function that throws gives a *client.FunctionError; a ConvexError's data
	// is in Data.
	_, err = client.Query[any](ctx, c, "errors:throw", nil)
	var fe *client.FunctionError
	if errors.As(err, &fe) && fe.HasData {
		fmt.Println("error data:", fe.Data)
	}
	// Output:
	// clicks: 5
	// error data: map[code:boom]
}

func ExampleClient_SubscribeAll() {
	srv, _ := convextest.New(convextest.WithDemoFunctions()) // a local deployment; use your deployment's URL
	defer srv.Close()
	ctx := context.Background()
	c, err := client.New(srv.URL())
	if err != nil {
		panic(err)
	}
	defer c.Close()

	snaps, err := c.SubscribeAll(ctx,
		client.QuerySpec{Path: "counter:get", Args: map[string]any{"name": "a"}},
		client.QuerySpec{Path: "counter:get", Args: map[string]any{"name": "b"}})
	if err != nil {
		panic(err)
	}
	defer snaps.Close()
	snap, err := snaps.Next(ctx) // both results valid at snap.TS
	if err != nil {
		panic(err)
	}
	fmt.Println(string(snap.Values[0]), string(snap.Values[1]))
	// Output: 0 0
}

func ExampleSubscribe() {
	srv, _ := convextest.New(convextest.WithDemoFunctions()) // a local deployment; use your deployment's URL
	defer srv.Close()
	ctx := context.Background()

	c, err := client.New(srv.URL())
	if err != nil {
		panic(err)
	}
	defer c.Close()

	sub, err := client.Subscribe[int64](ctx, c, "counter:get", map[string]any{"name": "clicks"})
	if err != nil {
		panic(err)
	}
	defer sub.Close()
	n, _ := sub.Next(ctx)
	fmt.Println("clicks:", n)

	if _, err := client.Mutation[int64](ctx, c, "counter:increment", map[string]any{"name": "clicks"}); err != nil {
		panic(err)
	}
	n, _ = sub.Next(ctx)
	fmt.Println("clicks:", n)
	// Output:
	// clicks: 0
	// clicks: 1
}

func ExampleHTTPClient() {
	// A local deployment; use your deployment's URL.
	srv, _ := convextest.New(convextest.WithDemoFunctions())
	defer srv.Close()
	ctx := context.Background()

	// One HTTPClient for the whole server process...
	h, err := client.NewHTTPClient(srv.URL())
	if err != nil {
		panic(err)
	}
	// ...and, per request, a caller with that request's user token (for
	// example the Convex JWT of the user's Better Auth session).
	for _, user := range []string{"alice", "bob"} {
		token, _ := srv.Token(user, time.Hour, nil)
		caller := h.As(client.UserToken(token))
		who, err := client.Query[*string](ctx, caller, "auth:whoami", nil)
		if err != nil {
			panic(err)
		}
		fmt.Println("rendering for", *who)
	}
	// Without credentials the call is anonymous.
	who, _ := client.Query[*string](ctx, h.As(client.Anonymous()), "auth:whoami", nil)
	fmt.Println("anonymous:", who == nil)
	// Output:
	// rendering for alice
	// rendering for bob
	// anonymous: true
}
