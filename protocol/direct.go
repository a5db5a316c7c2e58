package protocol

import (
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
)

// The direct path of Unmarshal scans Convex JSON once and stores what it
// reads straight into the destination, instead of building the generic
// value (DecodeValue) and then copying it with reflection (assign).
//
// It is an optimisation only, and it must never change a result. It works
// in terms of the reference: for every input, the direct path either
// succeeds with exactly what DecodeValue followed by assign would store,
// or it gives up (ok=false). Giving up restores the destination to what it
// was, and Unmarshal then runs the reference path, which gives the result
// or the error (with its message and its partial writes) as before. So the
// direct path never produces an error of its own: every error, and every
// case it is not sure of, is the reference's to handle.
//
// Each rule below is the reference's, read off fastValue (what a JSON text
// decodes to) and assign (where each decoded value may go):
//
//   - The direct path accepts no text that fastValue refuses: the same
//     scanner, the same depth limits, the same field-name check, and a
//     value it skips is checked as fastValue would check it.
//   - A value it stores is stored as assign would store the value fastValue
//     gives for the same bytes. Where that takes more than a token (Convex
//     special objects such as {"$integer": ...} in a number's place,
//     interfaces, json.RawMessage, json.Number, []byte, maps with keys that
//     are not strings, ...), the subtree is decoded with fastValue's own
//     code and handed to assign itself.
//   - Types whose decoding may run user code (json.Unmarshaler), types with
//     fields assign cannot set, and pointer types that point to themselves
//     are decoded the reference way as a whole, so that user code runs as
//     often and in the order it did and every panic stays as it was.
//   - It writes into fresh memory only. A struct, array or pointer
//     destination that is not the zero value (assign merges into those) is
//     left to the reference. Other destinations are replaced as a whole by
//     assign, so their old value does not matter; it is kept aside and put
//     back if the direct path gives up.
//   - assign fills a struct field by field, looking each field's name up in
//     the decoded object, exactly first and then ignoring case. The direct
//     path reads the object's keys in their order and keeps, per field,
//     which key filled it, so that the field ends up with the value of the
//     key assign would have chosen (a later exact key replaces an earlier
//     case-insensitive one; a repeated key replaces itself, as in the
//     decoded map). When two different keys match a field only ignoring
//     case, assign's choice depends on map iteration order, and the direct
//     path gives up.

// planKind says how the direct path decodes into a type.
type planKind uint8

const (
	planGeneric  planKind = iota // fastValue's decoder for the subtree, then assign
	planPointer                  // null, or allocate and decode the element
	planBool                     // true or false
	planInt                      // a number, or a special object through assign
	planUint                     // likewise
	planFloat                    // likewise
	planString                   // a string
	planSlice                    // an array, element by element
	planArray                    // an array of exactly the Go array's length
	planMap                      // an object into a map with string keys
	planStruct                   // an object into a struct's fields
	planAnyMap                   // an object into map[string]any as fastValue builds it
	planAnySlice                 // an array into []any as fastValue builds it
)

// typePlan is the direct path's decoding plan for one Go type, made once
// and shared by every decode (planFor).
type typePlan struct {
	kind planKind
	typ  reflect.Type
	elem *typePlan   // pointers, slices, arrays and maps
	st   *structPlan // structs

	// whole marks a type that must go the reference way as a whole: it or
	// a type inside it may call user code (json.Unmarshaler), has a field
	// assign cannot set, or is a pointer cycle.
	whole bool

	keyType reflect.Type // maps: the key type (a string kind)

	// lenHint is the length of the array last decoded into this slice
	// type, the first guess at the next one's (subscriptions decode the
	// same query's results again and again).
	lenHint atomic.Int32
}

// structPlan is a struct's field table as assign uses it (structFields).
type structPlan struct {
	fields []planField
	exact  map[string]int   // name -> field
	sorted []int            // fields by name, the order Convex sends keys in
	rank   []int            // field -> its position in sorted
	fold   map[string][]int // name folded to lower-case ASCII -> fields
}

type planField struct {
	name  string
	index []int
	plan  *typePlan
	// quoted is the name as a JSON string token, when the name is a valid
	// field name that needs no escapes: that token is then exactly what
	// the scanner would take as this key.
	quoted string
	// peers are the other fields whose names equal this one's ignoring
	// case: a key that is this field's name exactly is theirs by case.
	peers []int
}

var (
	planCache sync.Map   // reflect.Type -> *typePlan, complete plans only
	planMu    sync.Mutex // serialises building

	anyType    = reflect.TypeFor[any]()
	stringType = reflect.TypeFor[string]()
)

// planFor returns the plan for t, building it (and the plans of the types
// inside it) on first use.
func planFor(t reflect.Type) *typePlan {
	if p, ok := planCache.Load(t); ok {
		return p.(*typePlan)
	}
	planMu.Lock()
	defer planMu.Unlock()
	if p, ok := planCache.Load(t); ok {
		return p.(*typePlan)
	}
	b := planBuilder{plans: map[reflect.Type]*typePlan{}}
	p := b.build(t)
	// A plan is whole when anything it leads to is; iterate to the fixed
	// point (recursive types make the graph cyclic). Plans from the cache
	// are complete already.
	for changed := true; changed; {
		changed = false
		for _, q := range b.plans {
			if !q.whole && q.leadsToWhole() {
				q.whole, changed = true, true
			}
		}
	}
	for t, q := range b.plans {
		planCache.Store(t, q)
	}
	return p
}

func (p *typePlan) leadsToWhole() bool {
	if p.elem != nil && p.elem.whole {
		return true
	}
	if p.st != nil {
		for _, f := range p.st.fields {
			if f.plan.whole {
				return true
			}
		}
	}
	return false
}

type planBuilder struct {
	plans map[reflect.Type]*typePlan // being built, not yet published
}

func (b *planBuilder) build(t reflect.Type) *typePlan {
	if p, ok := planCache.Load(t); ok {
		return p.(*typePlan)
	}
	if p, ok := b.plans[t]; ok {
		return p
	}
	p := &typePlan{typ: t}
	b.plans[t] = p
	// The order of assign's own tests.
	switch t {
	case rawMessageType, numberType, timeType:
		return p // generic
	}
	if methodsOf(t)&ptrIsUnmarshaler != 0 {
		p.whole = true
		return p
	}
	switch t.Kind() {
	case reflect.Pointer:
		if pointerCycle(t) {
			p.whole = true
			return p
		}
		p.kind = planPointer
		p.elem = b.build(t.Elem())
	case reflect.Bool:
		p.kind = planBool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		p.kind = planInt
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		p.kind = planUint
	case reflect.Float32, reflect.Float64:
		p.kind = planFloat
	case reflect.String:
		p.kind = planString
	case reflect.Slice:
		switch {
		case t.Elem().Kind() == reflect.Uint8: // only Bytes fit: generic
		case t.Elem() == anyType:
			p.kind = planAnySlice
		default:
			p.kind = planSlice
			p.elem = b.build(t.Elem())
		}
	case reflect.Array:
		if t.Elem().Kind() != reflect.Uint8 {
			p.kind = planArray
			p.elem = b.build(t.Elem())
		}
	case reflect.Map:
		switch {
		case t.Key().Kind() != reflect.String: // always a mismatch: generic
		case t.Key() == stringType && t.Elem() == anyType:
			p.kind = planAnyMap
		default:
			p.kind = planMap
			p.keyType = t.Key()
			p.elem = b.build(t.Elem())
		}
	case reflect.Struct:
		st, ok := b.buildStruct(t)
		if !ok {
			p.whole = true
			return p
		}
		p.kind = planStruct
		p.st = st
	}
	// Anything else (interfaces, channels, functions, complex numbers) is
	// generic.
	return p
}

// pointerCycle reports whether following t's element types meets a
// pointer type twice without leaving pointers (type P *P), which assign
// would follow forever.
func pointerCycle(t reflect.Type) bool {
	seen := map[reflect.Type]bool{}
	for ; t.Kind() == reflect.Pointer; t = t.Elem() {
		if seen[t] {
			return true
		}
		seen[t] = true
	}
	return false
}

// buildStruct makes the field table of struct type t from structFields.
// ok is false when a field is one assign cannot set (an unexported
// embedded struct given a name by its tag).
func (b *planBuilder) buildStruct(t reflect.Type) (*structPlan, bool) {
	infos := structFields(t)
	st := &structPlan{
		fields: make([]planField, len(infos)),
		exact:  make(map[string]int, len(infos)),
		fold:   map[string][]int{},
	}
	for i, fi := range infos {
		ft := t
		var sf reflect.StructField
		for k, x := range fi.index {
			if k > 0 && ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			sf = ft.Field(x)
			ft = sf.Type
		}
		if !sf.IsExported() {
			return nil, false
		}
		st.fields[i] = planField{name: fi.name, index: fi.index}
		if plainKey(fi.name) {
			st.fields[i].quoted = `"` + fi.name + `"`
		}
		st.exact[fi.name] = i
		if f, ok := foldASCII(fi.name); ok {
			st.fold[f] = append(st.fold[f], i)
		}
	}
	for i := range st.fields {
		for j := range st.fields {
			if i != j && strings.EqualFold(st.fields[i].name, st.fields[j].name) {
				st.fields[i].peers = append(st.fields[i].peers, j)
			}
		}
	}
	st.sorted = make([]int, len(infos))
	for i := range st.sorted {
		st.sorted[i] = i
	}
	slices.SortFunc(st.sorted, func(a, b int) int { return strings.Compare(st.fields[a].name, st.fields[b].name) })
	st.rank = make([]int, len(infos))
	for r, i := range st.sorted {
		st.rank[i] = r
	}
	// The field types last: they may lead back to t.
	for i, fi := range infos {
		ft := t
		for k, x := range fi.index {
			if k > 0 && ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			ft = ft.Field(x).Type
		}
		st.fields[i].plan = b.build(ft)
	}
	return st, true
}

// foldASCII returns the lower-case ASCII string that every ASCII string
// equal to name under strings.EqualFold lowers to; ok is false when no
// ASCII string is (name holds a rune whose case-folding orbit has no ASCII
// member). Object keys are printable ASCII, so this indexes the fields a
// key can match ignoring case; matches are still checked with EqualFold.
func foldASCII(name string) (string, bool) {
	out := make([]byte, 0, len(name))
	for _, r := range name {
		a := rune(-1)
		if r < 0x80 {
			a = r
		} else {
			for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
				if f < 0x80 {
					a = f
					break
				}
			}
		}
		if a < 0 {
			return "", false
		}
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		out = append(out, byte(a))
	}
	return string(out), true
}

// unmarshalDirect decodes data into dst (settable) by the direct path.
// ok=false means it gave up, with dst as it was before the call. With
// recoverPanics a panic of the direct path's own also gives up (so that a
// mistake here can cost speed but not a result); the fuzz test runs it
// without, to see any.
func unmarshalDirect(data []byte, dst reflect.Value, recoverPanics bool) (ok bool) {
	restore := func() {} // dst has not been touched
	defer func() {
		if recoverPanics {
			if r := recover(); r != nil {
				ok = false
			}
		}
		if !ok {
			restore()
		}
	}()
	p := planFor(dst.Type())
	if p.whole || p.kind == planGeneric {
		return false // the reference is the same work, or must do it
	}
	if dst.IsZero() {
		restore = func() { dst.SetZero() }
	} else {
		switch p.kind {
		case planStruct, planArray, planPointer:
			return false // assign merges into the old value
		}
		saved := reflect.New(p.typ).Elem()
		saved.Set(dst)
		restore = func() { dst.Set(saved) }
	}
	s := scanner{data: data}
	s.ws()
	return s.decodeInto(p, dst, 0) && s.end()
}

// decodeInto decodes the value at s.i (no leading whitespace), at nesting
// depth, into dst, which is zero or freshly allocated.
func (s *scanner) decodeInto(p *typePlan, dst reflect.Value, depth int) bool {
	if s.i >= len(s.data) {
		return false
	}
	c := s.data[s.i]
	if p.kind == planGeneric {
		v, ok := s.anyValue(depth)
		return ok && assign(dst, v) == nil
	}
	if c == 'n' { // assign stores null as the zero value in all these
		if !s.literal("null") {
			return false
		}
		dst.SetZero()
		return true
	}
	switch p.kind {
	case planPointer:
		if dst.IsNil() {
			dst.Set(reflect.New(p.typ.Elem()))
		}
		return s.decodeInto(p.elem, dst.Elem(), depth)
	case planBool:
		switch c {
		case 't':
			if !s.literal("true") {
				return false
			}
			dst.SetBool(true)
			return true
		case 'f':
			if !s.literal("false") {
				return false
			}
			dst.SetBool(false)
			return true
		}
		return false
	case planInt, planUint, planFloat:
		if c == '{' { // a special object, such as {"$integer": ...}
			v, ok := s.object(depth)
			return ok && assign(dst, v) == nil
		}
		tok, ok := s.number()
		if !ok {
			return false
		}
		f, ok := parseFloat64(tok)
		if !ok {
			return false
		}
		switch p.kind {
		case planFloat:
			dst.SetFloat(f)
			return true
		case planInt:
			// toInt64 and assign's range check.
			if f != math.Trunc(f) || f < -(1<<63) || f >= 1<<63 {
				return false
			}
			n := int64(f)
			if dst.OverflowInt(n) {
				return false
			}
			dst.SetInt(n)
			return true
		default:
			if f != math.Trunc(f) || f < -(1<<63) || f >= 1<<63 {
				return false
			}
			n := int64(f)
			if n < 0 || dst.OverflowUint(uint64(n)) {
				return false
			}
			dst.SetUint(uint64(n))
			return true
		}
	case planString:
		if c != '"' {
			return false
		}
		start := s.i
		tok, special, ok := s.str()
		if !ok {
			return false
		}
		if !special { // what stringValue gives, without its other cases
			dst.SetString(string(tok[1 : len(tok)-1]))
			return true
		}
		s.i = start
		str, ok := s.stringValue()
		if !ok {
			return false
		}
		dst.SetString(str)
		return true
	case planSlice:
		return c == '[' && s.decodeSlice(p, dst, depth)
	case planArray:
		return c == '[' && s.decodeArray(p, dst, depth)
	case planMap:
		return c == '{' && s.decodeMap(p, dst, depth)
	case planStruct:
		return c == '{' && s.decodeStruct(p.st, dst, depth)
	case planAnyMap:
		if c != '{' {
			return false
		}
		v, ok := s.object(depth)
		m, isMap := v.(map[string]any)
		if !ok || !isMap {
			return false
		}
		// assign would copy the map into a new one of the same contents;
		// the decoded map is used by nobody else.
		dst.Set(reflect.ValueOf(m))
		return true
	case planAnySlice:
		if c != '[' {
			return false
		}
		v, ok := s.anyValue(depth)
		arr, isArr := v.([]any)
		if !ok || !isArr {
			return false
		}
		// assign's copy would have no spare capacity.
		dst.Set(reflect.ValueOf(arr[:len(arr):len(arr)]))
		return true
	}
	return false
}

// decodeSlice decodes an array at s.i into a new slice, which it stores
// in dst when the whole array has decoded.
func (s *scanner) decodeSlice(p *typePlan, dst reflect.Value, depth int) bool {
	if depth >= MaxDepth {
		return false
	}
	s.i++
	if s.eat(']') {
		dst.Set(reflect.MakeSlice(p.typ, 0, 0))
		return true
	}
	n := 0
	size := max(int(p.lenHint.Load()), 4)
	buf := reflect.MakeSlice(p.typ, size, size)
	for {
		if n == size {
			size *= 2
			grown := reflect.MakeSlice(p.typ, size, size)
			reflect.Copy(grown, buf)
			buf = grown
		}
		s.ws()
		if !s.decodeInto(p.elem, buf.Index(n), depth+1) {
			return false
		}
		n++
		if s.eat(',') {
			continue
		}
		if !s.eat(']') {
			return false
		}
		break
	}
	if size > 2*n+8 {
		// A hint far too long (a shorter result than last time): do not
		// keep the unused part alive.
		exact := reflect.MakeSlice(p.typ, n, n)
		reflect.Copy(exact, buf)
		buf = exact
	}
	if int(p.lenHint.Load()) != n && n <= MaxArrayLength {
		p.lenHint.Store(int32(n))
	}
	// assign makes the slice with len == cap; so does this (the elements
	// past n are unreachable).
	dst.Set(buf.Slice3(0, n, n))
	return true
}

// decodeArray decodes an array at s.i into a Go array in place; the
// lengths must be equal.
func (s *scanner) decodeArray(p *typePlan, dst reflect.Value, depth int) bool {
	if depth >= MaxDepth {
		return false
	}
	s.i++
	n := p.typ.Len()
	if s.eat(']') {
		return n == 0
	}
	for i := 0; ; i++ {
		if i >= n {
			return false
		}
		s.ws()
		if !s.decodeInto(p.elem, dst.Index(i), depth+1) {
			return false
		}
		if s.eat(',') {
			continue
		}
		return s.eat(']') && i+1 == n
	}
}

// objectKey scans an object key and its colon, as object does, and checks
// it as a field name (a key that is not one makes the object a special
// value or an invalid one, never a map assign would accept).
func (s *scanner) objectKey() ([]byte, bool) {
	if s.peek() != '"' {
		return nil, false
	}
	tok, special, ok := s.str()
	if !ok || !s.eat(':') {
		return nil, false
	}
	k := tok[1 : len(tok)-1]
	if special {
		sub := scanner{data: tok}
		str, ok := sub.stringValue()
		if !ok {
			return nil, false
		}
		k = []byte(str)
	}
	if !validFieldName(k) {
		return nil, false
	}
	s.ws()
	return k, true
}

// plainKey reports whether name is a valid field name that a JSON string
// token holds as it is: no '"' or backslash (the scanner takes every
// other printable ASCII byte as itself).
func plainKey(name string) bool {
	return validFieldName([]byte(name)) && !strings.ContainsAny(name, "\"\\")
}

// validFieldName is ValidateFieldName(string(k)) == nil, without the
// error.
func validFieldName(k []byte) bool {
	if len(k) > MaxFieldNameLength || len(k) > 0 && k[0] == '$' {
		return false
	}
	for _, c := range k {
		if c < 32 || c > 126 {
			return false
		}
	}
	return true
}

// decodeMap decodes an object at s.i into a new map with string keys,
// stored in dst when the whole object has decoded. A repeated key's last
// value wins, as in the decoded map.
func (s *scanner) decodeMap(p *typePlan, dst reflect.Value, depth int) bool {
	if depth >= MaxDepth {
		return false
	}
	s.i++
	m := reflect.MakeMap(p.typ)
	if s.eat('}') {
		dst.Set(m)
		return true
	}
	key := reflect.New(p.keyType).Elem()
	elem := reflect.New(p.typ.Elem()).Elem()
	for first := true; ; first = false {
		k, ok := s.objectKey()
		if !ok {
			return false
		}
		if !first {
			elem.SetZero()
		}
		if !s.decodeInto(p.elem, elem, depth+1) {
			return false
		}
		key.SetString(string(k))
		m.SetMapIndex(key, elem)
		if s.eat(',') {
			continue
		}
		if !s.eat('}') {
			return false
		}
		dst.Set(m)
		return true
	}
}

// Per-field state while decoding a struct.
const (
	fieldUnset  uint8 = iota
	fieldExact        // filled from the key equal to its name
	fieldFolded       // filled from a key equal to its name ignoring case
)

// structDecode is the state of one object being decoded into a struct.
type structDecode struct {
	st    *structPlan
	dst   reflect.Value
	depth int
	// Which fields are filled, and how: bit masks for the first 64
	// fields (no allocation), a slice for more.
	exact, byCase uint64
	state         []uint8
	folded        []string // fieldFolded: the key that filled the field
	start         int      // where the current value begins
	end           int      // where it ends, once decoded (-1 before)
}

func (d *structDecode) get(j int) uint8 {
	if j < 64 {
		switch {
		case d.exact&(1<<j) != 0:
			return fieldExact
		case d.byCase&(1<<j) != 0:
			return fieldFolded
		}
		return fieldUnset
	}
	return d.state[j-64]
}

func (d *structDecode) set(j int, how uint8) {
	if j < 64 {
		d.exact &^= 1 << j
		d.byCase &^= 1 << j
		switch how {
		case fieldExact:
			d.exact |= 1 << j
		case fieldFolded:
			d.byCase |= 1 << j
		}
		return
	}
	d.state[j-64] = how
}

// decodeStruct decodes an object at s.i into the struct dst.
func (s *scanner) decodeStruct(st *structPlan, dst reflect.Value, depth int) bool {
	if depth >= MaxDepth {
		return false
	}
	s.i++
	if s.eat('}') {
		return true
	}
	// Until a key needs more, the state is which of the first 64 fields
	// are filled from their exact keys (the only way the common case
	// fills them); d takes over from there.
	var filled uint64
	var d *structDecode
	next := 0 // the position in st.sorted the next key most likely has
	for {
		var k []byte
		j := -1
		s.ws()
		if next < len(st.sorted) {
			// The key expected next, compared as a whole token.
			f := &st.fields[st.sorted[next]]
			if q := f.quoted; q != "" && len(s.data)-s.i >= len(q) && string(s.data[s.i:s.i+len(q)]) == q {
				j, k = st.sorted[next], s.data[s.i+1:s.i+len(q)-1]
				s.i += len(q)
				if !s.eat(':') {
					return false
				}
				s.ws()
			}
		}
		if j < 0 {
			var ok bool
			if k, ok = s.objectKey(); !ok {
				return false
			}
			if x, ok := st.exact[string(k)]; ok {
				j = x
			}
		}
		if j >= 0 {
			next = st.rank[j] + 1
		}
		if d == nil {
			switch {
			case j >= 0:
				f := &st.fields[j]
				if j >= 64 || len(f.peers) > 0 || len(f.index) > 1 || filled&(1<<j) != 0 {
					break
				}
				// The first key for a field that is no other's by case.
				if !s.decodeInto(f.plan, dst.Field(f.index[0]), depth+1) {
					return false
				}
				filled |= 1 << j
				if s.eat(',') {
					continue
				}
				return s.eat('}')
			case !st.matchesByCase(k):
				// No field's: checked and passed over.
				if !s.skipValue(depth + 1) {
					return false
				}
				if s.eat(',') {
					continue
				}
				return s.eat('}')
			}
			d = &structDecode{st: st, dst: dst, depth: depth, exact: filled}
			if len(st.fields) > 64 {
				d.state = make([]uint8, len(st.fields)-64)
			}
		}
		d.start, d.end = s.i, -1
		if j >= 0 {
			if !d.fill(s, j, fieldExact) {
				return false
			}
			for _, g := range st.fields[j].peers {
				if !d.fillFolded(s, g, k) {
					return false
				}
			}
		} else {
			for _, g := range st.byCase(k) {
				if !d.fillFolded(s, g, k) {
					return false
				}
			}
		}
		if d.end < 0 {
			if !s.skipValue(depth + 1) {
				return false
			}
		} else {
			s.i = d.end
		}
		if s.eat(',') {
			continue
		}
		return s.eat('}')
	}
}

// byCase returns the fields whose names key k (a valid field name, so
// ASCII) may equal ignoring case: to be checked with strings.EqualFold.
func (st *structPlan) byCase(k []byte) []int {
	if len(st.fold) == 0 {
		return nil
	}
	var buf [64]byte
	lower := buf[:0]
	if len(k) > len(buf) {
		lower = make([]byte, 0, len(k))
	}
	for _, c := range k {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower = append(lower, c)
	}
	return st.fold[string(lower)]
}

// matchesByCase reports whether key k equals some field's name ignoring
// case.
func (st *structPlan) matchesByCase(k []byte) bool {
	for _, g := range st.byCase(k) {
		if strings.EqualFold(string(k), st.fields[g].name) {
			return true
		}
	}
	return false
}

// fillFolded fills field g from key k, which equals its name ignoring case
// (to be checked) but not exactly, if assign would: unless an exact key
// filled it. A second, different such key makes assign's choice a matter
// of map order: give up.
func (d *structDecode) fillFolded(s *scanner, g int, k []byte) bool {
	name := d.st.fields[g].name
	if !strings.EqualFold(string(k), name) {
		return true
	}
	switch d.get(g) {
	case fieldExact:
		return true
	case fieldFolded:
		if d.folded[g] != string(k) {
			return false
		}
	}
	if d.folded == nil {
		d.folded = make([]string, len(d.st.fields))
	}
	d.folded[g] = string(k)
	return d.fill(s, g, fieldFolded)
}

// fill decodes the current value into field j, replacing what an earlier
// key put there.
func (d *structDecode) fill(s *scanner, j int, how uint8) bool {
	f := &d.st.fields[j]
	var fv reflect.Value
	if len(f.index) == 1 {
		fv = d.dst.Field(f.index[0])
	} else {
		var ok bool
		if fv, ok = fieldByIndexAlloc(d.dst, f.index); !ok {
			return false // assign's error: a nil unexported embedded pointer
		}
	}
	if d.get(j) != fieldUnset {
		fv.SetZero()
	}
	s.i = d.start
	if !s.decodeInto(f.plan, fv, d.depth+1) {
		return false
	}
	d.set(j, how)
	d.end = s.i
	return true
}

// skipValue scans the value at s.i (no leading whitespace) without
// storing it. It accepts exactly what anyValue accepts.
func (s *scanner) skipValue(depth int) bool {
	if s.i >= len(s.data) {
		return false
	}
	switch s.data[s.i] {
	case '"':
		start := s.i
		_, special, ok := s.str()
		if ok && special {
			s.i = start
			_, ok = s.stringValue()
		}
		return ok
	case '{':
		return s.skipObject(depth)
	case '[':
		if depth >= MaxDepth {
			return false
		}
		s.i++
		if s.eat(']') {
			return true
		}
		for {
			s.ws()
			if !s.skipValue(depth + 1) {
				return false
			}
			if s.eat(',') {
				continue
			}
			return s.eat(']')
		}
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	default:
		tok, ok := s.number()
		if !ok {
			return false
		}
		_, ok = parseFloat64(tok)
		return ok
	}
}

// skipObject skips an object. One whose keys are all plain valid field
// names is a plain object that object would accept when its values are
// valid; anything else (a special value, escapes in keys, the depth
// limit) is left to object itself.
func (s *scanner) skipObject(depth int) bool {
	start := s.i
	if depth < MaxDepth && s.skipPlainObject(depth) {
		return true
	}
	s.i = start
	_, ok := s.object(depth)
	return ok
}

func (s *scanner) skipPlainObject(depth int) bool {
	s.i++
	if s.eat('}') {
		return true
	}
	for {
		if s.peek() != '"' {
			return false
		}
		tok, special, ok := s.str()
		if !ok || special || !validFieldName(tok[1:len(tok)-1]) || !s.eat(':') {
			return false
		}
		s.ws()
		if !s.skipValue(depth + 1) {
			return false
		}
		if s.eat(',') {
			continue
		}
		return s.eat('}')
	}
}
