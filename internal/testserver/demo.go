package testserver

import (
	"fmt"
	"slices"
	"strings"

	"github.com/convexgo/convex/protocol"
)

// RegisterDemo registers the demo functions used by the examples, the dev
// command and client tests:
//
//	query    messages:list      {channel: string} -> the channel's messages
//	                            [{_id, _creationTime, channel, author, body}]
//	                            in insertion order
//	mutation messages:send      {channel, author, body: string} -> new _id
//	query    counter:get        {name: string} -> number (0 when unset)
//	mutation counter:increment  {name: string, by?: number (default 1)}
//	                            -> the new number
//	action   echo:run           any args -> the args object unchanged
//	query    auth:whoami        {} -> null, or the caller's token subject
//	query    errors:throw       {} -> throws ConvexError{code: "boom"}
//
// Arguments are checked like Convex validators: a missing, extra or
// wrongly typed field fails with "ArgumentValidationError: ...". Messages
// live in table "messages" and counters in table "counters".
func RegisterDemo(s *Server) {
	s.RegisterQuery("messages:list", func(ctx *QueryCtx, args map[string]any) (any, error) {
		if err := validateArgs(args, argField{"channel", argString, false}); err != nil {
			return nil, err
		}
		channel := args["channel"].(string)
		return ctx.Filter("messages", func(d map[string]any) bool { return d["channel"] == channel }), nil
	})
	s.RegisterMutation("messages:send", func(ctx *MutationCtx, args map[string]any) (any, error) {
		if err := validateArgs(args, argField{"channel", argString, false}, argField{"author", argString, false},
			argField{"body", argString, false}); err != nil {
			return nil, err
		}
		return ctx.Insert("messages", map[string]any{"channel": args["channel"], "author": args["author"], "body": args["body"]})
	})
	s.RegisterQuery("counter:get", func(ctx *QueryCtx, args map[string]any) (any, error) {
		if err := validateArgs(args, argField{"name", argString, false}); err != nil {
			return nil, err
		}
		if d := findCounter(ctx, args["name"].(string)); d != nil {
			return d["value"], nil
		}
		return 0.0, nil
	})
	s.RegisterMutation("counter:increment", func(ctx *MutationCtx, args map[string]any) (any, error) {
		if err := validateArgs(args, argField{"name", argString, false}, argField{"by", argNumber, true}); err != nil {
			return nil, err
		}
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
	s.RegisterAction("echo:run", func(_ *ActionCtx, args map[string]any) (any, error) {
		return args, nil
	})
	s.RegisterQuery("auth:whoami", func(ctx *QueryCtx, args map[string]any) (any, error) {
		if err := validateArgs(args); err != nil {
			return nil, err
		}
		if id := ctx.Identity(); id != nil {
			return id.Subject, nil
		}
		return nil, nil
	})
	s.RegisterQuery("errors:throw", func(_ *QueryCtx, _ map[string]any) (any, error) {
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

type argType int

const (
	argString argType = iota
	argNumber
)

func (t argType) String() string {
	switch t {
	case argString:
		return "v.string()"
	}
	return "v.number()"
}

func (t argType) accepts(v any) bool {
	switch t {
	case argString:
		_, ok := v.(string)
		return ok
	}
	_, ok := v.(float64)
	return ok
}

type argField struct {
	name     string
	typ      argType
	optional bool
}

// validateArgs checks args against an object validator with the given
// fields, with the messages Convex's validators give.
func validateArgs(args map[string]any, fields ...argField) error {
	validator := describeValidator(fields)
	object := describeValue(args)
	for _, f := range fields {
		v, ok := args[f.name]
		if !ok {
			if f.optional {
				continue
			}
			return sysErrorf("ArgumentValidationError: Object is missing the required field `%s`. Consider wrapping the field validator in `v.optional(...)` if this is expected.\n\nObject: %s\nValidator: %s",
				f.name, object, validator)
		}
		if !f.typ.accepts(v) {
			return sysErrorf("ArgumentValidationError: Value does not match validator.\nPath: .%s\nValue: %s\nValidator: %s",
				f.name, describeValue(v), f.typ)
		}
	}
	names := make([]string, 0, len(args))
	for k := range args {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		if !slices.ContainsFunc(fields, func(f argField) bool { return f.name == k }) {
			return sysErrorf("ArgumentValidationError: Object contains extra field `%s` that is not in the validator.\n\nObject: %s\nValidator: %s",
				k, object, validator)
		}
	}
	return nil
}

func describeValidator(fields []argField) string {
	parts := make([]string, len(fields))
	for i, f := range fields {
		if f.optional {
			parts[i] = fmt.Sprintf("%s: v.optional(%s)", f.name, f.typ)
		} else {
			parts[i] = fmt.Sprintf("%s: %s", f.name, f.typ)
		}
	}
	return "v.object({" + strings.Join(parts, ", ") + "})"
}

// describeValue writes a value for an error message: JSON, with an Int64
// as 5n like JavaScript's BigInt.
func describeValue(v any) string {
	switch x := v.(type) {
	case protocol.Int64:
		return fmt.Sprintf("%dn", int64(x))
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%q: %s", k, describeValue(x[k]))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = describeValue(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	b, err := protocol.EncodeCleanJSON(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
