package client

import (
	"context"
	"errors"
	"fmt"

	"github.com/convexgo/convex/internal/testserver"
)

func ExampleQuery() {
	srv := testserver.NewDemo()
	defer srv.Close()
	ctx := context.Background()
	c, err := New(srv.URL())
	if err != nil {
		panic(err)
	}
	defer c.Close()

	// One-shot read over HTTP: no subscription is kept.
	n, err := Query[int64](ctx, c, "counter:get", map[string]any{"name": "clicks"})
	if err != nil {
		panic(err)
	}
	fmt.Println("clicks:", n)
	// Output: clicks: 0
}

func ExampleMutation() {
	srv := testserver.NewDemo()
	defer srv.Close()
	ctx := context.Background()
	c, err := New(srv.URL())
	if err != nil {
		panic(err)
	}
	defer c.Close()

	// Go numbers are Float64 (v.number()), as JavaScript numbers are;
	// write Int64(5) where a function wants a v.int64().
	n, err := Mutation[int64](ctx, c, "counter:increment", map[string]any{"name": "clicks", "by": 5})
	if err != nil {
		panic(err)
	}
	fmt.Println("clicks:", n)

	// A function that throws gives a *FunctionError; a ConvexError's data
	// is in Data.
	_, err = Query[any](ctx, c, "errors:throw", nil)
	var fe *FunctionError
	if errors.As(err, &fe) && fe.HasData {
		fmt.Println("error data:", fe.Data)
	}
	// Output:
	// clicks: 5
	// error data: map[code:boom]
}

func ExampleClient_SubscribeAll() {
	srv := testserver.NewDemo()
	defer srv.Close()
	ctx := context.Background()
	c, err := New(srv.URL())
	if err != nil {
		panic(err)
	}
	defer c.Close()

	snaps, err := c.SubscribeAll(ctx,
		QuerySpec{Path: "counter:get", Args: map[string]any{"name": "a"}},
		QuerySpec{Path: "counter:get", Args: map[string]any{"name": "b"}})
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
