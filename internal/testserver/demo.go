package testserver

// RegisterDemo registers the demo functions used by the examples, the dev
// command and client tests, with the validators a Convex app would declare
// (V is this package's v):
//
//	query    messages:list      args {channel: v.string()}
//	                            returns v.array(v.object({_id: v.id("messages"),
//	                            _creationTime: v.number(), channel, author,
//	                            body: v.string()})): the channel's messages in
//	                            insertion order
//	query    messages:paginated args {channel: v.string(),
//	                            paginationOpts: paginationOptsValidator}
//	                            returns paginationResultValidator(message):
//	                            a page of the channel's messages, newest
//	                            first (as a chat app loads history:
//	                            .order("desc").paginate(opts)); see
//	                            QueryCtx.Paginate
//	mutation messages:send      args {channel, author, body: v.string()}
//	                            returns v.id("messages"): the new _id
//	query    counter:get        args {name: v.string()} returns v.number()
//	                            (0 when unset)
//	mutation counter:increment  args {name: v.string(), by: v.optional(v.number())}
//	                            returns v.number(): the new value (by
//	                            defaults to 1)
//	action   echo:run           args v.any() (no validation): the args
//	                            object unchanged; no returns validator
//	query    auth:whoami        args {} returns v.union(v.null(), v.string()):
//	                            null, or the caller's token subject
//	query    errors:throw       args {}: throws ConvexError{code: "boom"}
//
// Arguments that do not match fail as the backend fails them, with
// "ArgumentValidationError: ..." (for example a plain number, not
// protocol.Int64, is what v.number() wants). Messages live in table
// "messages" and counters in table "counters".
func RegisterDemo(s *Server) {
	str := V.String()
	message := V.Object(map[string]*Validator{"_id": V.ID("messages"), "_creationTime": V.Number(),
		"channel": str, "author": str, "body": str})
	s.RegisterQueryV("messages:list", V.Object(map[string]*Validator{"channel": str}), V.Array(message),
		func(ctx *QueryCtx, args map[string]any) (any, error) {
			channel := args["channel"].(string)
			return ctx.Filter("messages", func(d map[string]any) bool { return d["channel"] == channel }), nil
		})
	s.RegisterQueryV("messages:paginated", V.Object(map[string]*Validator{"channel": str, "paginationOpts": V.PaginationOpts()}),
		V.PaginationResultOf(message), func(ctx *QueryCtx, args map[string]any) (any, error) {
			channel := args["channel"].(string)
			res, err := ctx.PaginateOrder("messages", Desc, func(d map[string]any) bool { return d["channel"] == channel },
				args["paginationOpts"].(map[string]any))
			if err != nil {
				return nil, err
			}
			return res.Value(), nil
		})
	s.RegisterMutationV("messages:send", V.Object(map[string]*Validator{"channel": str, "author": str, "body": str}),
		V.ID("messages"), func(ctx *MutationCtx, args map[string]any) (any, error) {
			return ctx.Insert("messages", map[string]any{"channel": args["channel"], "author": args["author"], "body": args["body"]})
		})
	s.RegisterQueryV("counter:get", V.Object(map[string]*Validator{"name": str}), V.Number(),
		func(ctx *QueryCtx, args map[string]any) (any, error) {
			if d := findCounter(ctx, args["name"].(string)); d != nil {
				return d["value"], nil
			}
			return 0.0, nil
		})
	s.RegisterMutationV("counter:increment", V.Object(map[string]*Validator{"name": str, "by": V.Optional(V.Number())}),
		V.Number(), func(ctx *MutationCtx, args map[string]any) (any, error) {
			by := 1.0
			if v, ok := args["by"]; ok {
				by = v.(float64)
			}
			name := args["name"].(string)
			if d := findCounter(&ctx.QueryCtx, name); d != nil {
				n := d["value"].(float64) + by
				return n, ctx.Patch(d["_id"].(string), map[string]any{"value": n})
			}
			_, err := ctx.Insert("counters", map[string]any{"name": name, "value": by})
			return by, err
		})
	s.RegisterActionV("echo:run", V.Any(), nil, func(_ *ActionCtx, args map[string]any) (any, error) {
		return args, nil
	})
	s.RegisterQueryV("auth:whoami", V.Object(nil), V.Union(V.Null(), V.String()),
		func(ctx *QueryCtx, _ map[string]any) (any, error) {
			if id := ctx.Identity(); id != nil {
				return id.Subject, nil
			}
			return nil, nil
		})
	s.RegisterQueryV("errors:throw", V.Object(nil), nil, func(_ *QueryCtx, _ map[string]any) (any, error) {
		return nil, ConvexError{Data: map[string]any{"code": "boom"}}
	})
}

func findCounter(ctx *QueryCtx, name string) map[string]any {
	docs := ctx.Filter("counters", func(d map[string]any) bool { return d["name"] == name })
	if len(docs) == 0 {
		return nil
	}
	return docs[0]
}
