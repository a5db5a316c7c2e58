package protocol

import (
	"reflect"
	"strings"
	"sync"
)

// fieldInfo describes one struct field as a Convex object field.
type fieldInfo struct {
	name      string
	index     []int
	omitEmpty bool
	asInt64   bool // `convex:"int64"`: integers are Int64, not Float64
}

var fieldCache sync.Map // reflect.Type -> []fieldInfo

// structFields lists the object fields of struct type t following the
// encoding/json conventions: exported fields, `json:"name,omitempty"` tags,
// "-" to skip, and untagged embedded structs flattened into their parent.
// When two fields claim one name, the shallower wins; at equal depth a
// tagged field beats an untagged one, and otherwise both are dropped.
func structFields(t reflect.Type) []fieldInfo {
	if f, ok := fieldCache.Load(t); ok {
		return f.([]fieldInfo)
	}
	type candidate struct {
		fieldInfo
		depth  int
		tagged bool
	}
	var cands []candidate
	type level struct {
		t     reflect.Type
		index []int
	}
	current := []level{{t, nil}}
	visited := map[reflect.Type]bool{}
	for depth := 0; len(current) > 0; depth++ {
		var next []level
		for _, lv := range current {
			if visited[lv.t] {
				continue
			}
			visited[lv.t] = true
			for i := 0; i < lv.t.NumField(); i++ {
				sf := lv.t.Field(i)
				tag := sf.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, opts, _ := strings.Cut(tag, ",")
				index := append(append([]int(nil), lv.index...), i)
				ft := sf.Type
				if sf.Anonymous {
					if ft.Kind() == reflect.Pointer {
						ft = ft.Elem()
					}
					if name == "" && ft.Kind() == reflect.Struct {
						next = append(next, level{ft, index})
						continue
					}
					if !sf.IsExported() && ft.Kind() != reflect.Struct {
						continue
					}
				} else if !sf.IsExported() {
					continue
				}
				tagged := name != ""
				if name == "" {
					name = sf.Name
				}
				cands = append(cands, candidate{
					fieldInfo: fieldInfo{name: name, index: index, omitEmpty: hasOption(opts, "omitempty"),
						asInt64: hasOption(sf.Tag.Get("convex"), "int64")},
					depth:  depth,
					tagged: tagged,
				})
			}
		}
		current = next
	}
	// Resolve name conflicts.
	byName := map[string][]candidate{}
	var order []string
	for _, c := range cands {
		if _, ok := byName[c.name]; !ok {
			order = append(order, c.name)
		}
		byName[c.name] = append(byName[c.name], c)
	}
	var out []fieldInfo
	for _, name := range order {
		cs := byName[name]
		best := cs[0]
		for _, c := range cs[1:] {
			if c.depth < best.depth {
				best = c
			}
		}
		var winners []candidate
		for _, c := range cs {
			if c.depth == best.depth {
				winners = append(winners, c)
			}
		}
		if len(winners) > 1 {
			var tagged []candidate
			for _, c := range winners {
				if c.tagged {
					tagged = append(tagged, c)
				}
			}
			if len(tagged) != 1 {
				continue // ambiguous: dropped, as encoding/json does
			}
			winners = tagged
		}
		out = append(out, winners[0].fieldInfo)
	}
	fieldCache.Store(t, out)
	return out
}

// hasOnlyUnexportedFields reports whether struct type t has fields but
// none that a Convex object could hold: no exported field and no embedded
// struct to flatten. Such a struct (time.Time, sync.Mutex) would encode as
// an empty object and lose its contents; a struct with no fields at all, or
// whose fields are all tagged "-", is a deliberate empty object.
func hasOnlyUnexportedFields(t reflect.Type) bool {
	if t.NumField() == 0 {
		return false
	}
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if sf.IsExported() || sf.Anonymous {
			return false
		}
	}
	return true
}

func hasOption(opts, want string) bool {
	for opts != "" {
		var o string
		o, opts, _ = strings.Cut(opts, ",")
		if o == want {
			return true
		}
	}
	return false
}

// fieldByIndex follows index through embedded pointers; ok is false when it
// meets a nil pointer.
func fieldByIndex(v reflect.Value, index []int) (reflect.Value, bool) {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return reflect.Value{}, false
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v, true
}

// fieldByIndexAlloc is fieldByIndex for decoding: it allocates nil embedded
// pointers on the way.
func fieldByIndexAlloc(v reflect.Value, index []int) (reflect.Value, bool) {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				if !v.CanSet() {
					return reflect.Value{}, false
				}
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v, true
}

func isEmptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool:
		return !v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint() == 0
	case reflect.Float32, reflect.Float64:
		return v.Float() == 0
	case reflect.Interface, reflect.Pointer:
		return v.IsNil()
	}
	return false
}
