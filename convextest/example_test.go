package convextest_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/convexgo/convex/client"
	"github.com/convexgo/convex/convextest"
)

func Example() {
	// In a test: d := convextest.Start(t).
	d, err := convextest.New()
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()

	v := convextest.V
	d.Query("tasks:list", v.Object(nil), nil, func(ctx *convextest.QueryCtx, _ map[string]any) (any, error) {
		return ctx.List("tasks"), nil
	})
	d.Mutation("tasks:add", v.Object(map[string]*convextest.Validator{"text": v.String()}), v.ID("tasks"),
		func(ctx *convextest.MutationCtx, args map[string]any) (any, error) {
			return ctx.Insert("tasks", map[string]any{"text": args["text"], "owner": ctx.Identity().Subject})
		})
	if _, err := d.Insert("tasks", map[string]any{"text": "seeded", "owner": "nobody"}); err != nil {
		log.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.New(d.URL())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	token, err := d.Token("ada", time.Hour, nil)
	if err != nil {
		log.Fatal(err)
	}
	if err := c.SetAuthToken(ctx, token); err != nil {
		log.Fatal(err)
	}

	type task struct {
		Text  string `json:"text"`
		Owner string `json:"owner"`
	}
	sub, err := client.Subscribe[[]task](ctx, c, "tasks:list", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()
	first, _ := sub.Next(ctx)
	fmt.Println(first)

	if _, err := client.Mutation[string](ctx, c, "tasks:add", map[string]any{"text": "write tests"}); err != nil {
		log.Fatal(err)
	}
	// A mutation returns once its effects are in the client's subscriptions.
	latest, _, _ := sub.Latest()
	fmt.Println(latest)

	// Bad arguments fail as on a real deployment.
	_, err = client.Mutation[string](ctx, c, "tasks:add", map[string]any{"text": 1})
	fmt.Println(err != nil)
	// Output:
	// [{seeded nobody}]
	// [{seeded nobody} {write tests ada}]
	// true
}
