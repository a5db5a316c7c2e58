package testserver

import (
	"encoding/json"
	"slices"

	"github.com/convexgo/convex/protocol"
)

// apiSpecPath is the system query `npx convex function-spec` (and
// `convexgo gen --url`) reads a deployment's functions from; only admins
// may call it (npm-packages/system-udfs/convex/_system/cli/modules.ts).
const apiSpecPath = "_system/cli/modules:apiSpec"

// registerSystemFunctions adds the system functions a deployment serves.
// They live under _system/, which user functions may not use.
func (s *Server) registerSystemFunctions() {
	fp, _ := parseFunctionPath(apiSpecPath)
	args := V.Object(map[string]*Validator{"componentId": V.Optional(V.Union(V.String(), V.Null()))})
	s.functions[fp.key()] = &function{path: fp.key(), fp: fp, kind: KindQuery, internal: true, args: args,
		query: func(*QueryCtx, map[string]any) (any, error) { return s.functionSpec() }}
}

// functionSpec lists the declared functions as the apiSpec system query
// does: identifier ("messages.js:list"), functionType, visibility, and
// args and returns as ValidatorJSON ({"type": "any"} when undeclared).
func (s *Server) functionSpec() (any, error) {
	s.fnMu.RLock()
	fns := make([]*function, 0, len(s.functions))
	for _, f := range s.functions {
		if f.fp.module == "_system/cli/modules" || hasReservedModule(f.fp.module) {
			continue
		}
		fns = append(fns, f)
	}
	s.fnMu.RUnlock()
	slices.SortFunc(fns, func(a, b *function) int {
		if a.fp.canonical() < b.fp.canonical() {
			return -1
		}
		if a.fp.canonical() > b.fp.canonical() {
			return 1
		}
		return 0
	})
	out := make([]any, 0, len(fns))
	for _, f := range fns {
		args, err := validatorValue(f.args)
		if err != nil {
			return nil, err
		}
		returns, err := validatorValue(f.returns)
		if err != nil {
			return nil, err
		}
		visibility := "public"
		if f.internal {
			visibility = "internal"
		}
		out = append(out, map[string]any{
			"identifier":   f.fp.canonical(),
			"functionType": f.kind.String(),
			"visibility":   map[string]any{"kind": visibility},
			"args":         args,
			"returns":      returns,
		})
	}
	return out, nil
}

// validatorValue is a validator's ValidatorJSON as a Convex value (its
// literals are Convex JSON), {"type": "any"} for none.
func validatorValue(v *Validator) (any, error) {
	if v == nil {
		return map[string]any{"type": "any"}, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return protocol.DecodeValue(b)
}

func hasReservedModule(module string) bool {
	return len(module) >= 8 && module[:8] == "_system/" || len(module) >= 6 && module[:6] == "_deps/"
}
