package protocol

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// randomValue builds a random decoded Convex value of bounded size.
func randomValue(r *rand.Rand, depth int) any {
	n := 9
	if depth >= 4 {
		n = 7 // scalars only
	}
	switch r.IntN(n) {
	case 0:
		return nil
	case 1:
		return r.IntN(2) == 0
	case 2:
		switch r.IntN(6) {
		case 0:
			return math.NaN()
		case 1:
			return math.Inf(1 - 2*r.IntN(2))
		case 2:
			return math.Copysign(0, -1)
		case 3:
			return math.Float64frombits(r.Uint64()) // any bit pattern, NaNs included
		}
		return r.NormFloat64() * math.Pow(10, float64(r.IntN(40)-20))
	case 3:
		return Int64(r.Uint64())
	case 4:
		return randomString(r)
	case 5:
		b := make([]byte, r.IntN(12))
		for i := range b {
			b[i] = byte(r.UintN(256))
		}
		return b
	case 6:
		return float64(r.IntN(1000))
	case 7:
		a := make([]any, r.IntN(5))
		for i := range a {
			a[i] = randomValue(r, depth+1)
		}
		return a
	default:
		m := map[string]any{}
		for i := r.IntN(5); i > 0; i-- {
			m[randomKey(r)] = randomValue(r, depth+1)
		}
		return m
	}
}

func randomString(r *rand.Rand) string {
	const alphabet = "ab\"\\\n\t\x00é€😀 $_"
	runes := []rune(alphabet)
	var sb strings.Builder
	for i := r.IntN(8); i > 0; i-- {
		sb.WriteRune(runes[r.IntN(len(runes))])
	}
	return sb.String()
}

func randomKey(r *rand.Rand) string {
	b := make([]byte, r.IntN(6))
	for i := range b {
		b[i] = byte(32 + r.IntN(95))
	}
	if len(b) > 0 && b[0] == '$' {
		b[0] = '_'
	}
	return string(b)
}

// canonicalNaNs replaces every NaN by the canonical one, which is what the
// encoder writes.
var nanComparer = cmp.Comparer(func(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Float64bits(a) == math.Float64bits(b)
})

// Go -> wire -> Go leaves every value unchanged, and encoding is canonical:
// decoding and re-encoding gives the same bytes.
func TestValueRoundTripProperty(t *testing.T) {
	for seed := uint64(0); seed < 2000; seed++ {
		r := rand.New(rand.NewPCG(seed, 42))
		v := randomValue(r, 0)
		enc, err := EncodeValue(v)
		if err != nil {
			t.Fatalf("seed %d: EncodeValue(%#v): %v", seed, v, err)
		}
		if !json.Valid(enc) {
			t.Fatalf("seed %d: invalid JSON %s", seed, enc)
		}
		dec, err := DecodeValue(enc)
		if err != nil {
			t.Fatalf("seed %d: DecodeValue(%s): %v", seed, enc, err)
		}
		if diff := cmp.Diff(v, dec, nanComparer); diff != "" {
			t.Fatalf("seed %d: round trip of %s (-in +out):\n%s", seed, enc, diff)
		}
		again, err := EncodeValue(dec)
		if err != nil || !bytes.Equal(enc, again) {
			t.Fatalf("seed %d: re-encoding gave %s, %v; first %s", seed, again, err, enc)
		}
		// Unmarshal into any gives the same as DecodeValue.
		var viaUnmarshal any
		if err := Unmarshal(enc, &viaUnmarshal); err != nil {
			t.Fatalf("seed %d: Unmarshal: %v", seed, err)
		}
		if diff := cmp.Diff(dec, viaUnmarshal, nanComparer); diff != "" {
			t.Fatalf("seed %d: Unmarshal differs:\n%s", seed, diff)
		}
	}
}

// Typed Go values survive the wire too.
func TestTypedRoundTripProperty(t *testing.T) {
	type doc struct {
		ID      string             `json:"_id"`
		Created float64            `json:"_creationTime"`
		N       int64              `json:"n" convex:"int64"`
		Exact   Int64              `json:"exact"`
		Small   int32              `json:"small"`
		F       float64            `json:"f"`
		B       []byte             `json:"b"`
		Tags    []string           `json:"tags"`
		M       map[string]float64 `json:"m"`
		Opt     *int64             `json:"opt" convex:"int64"`
	}
	for seed := uint64(0); seed < 500; seed++ {
		r := rand.New(rand.NewPCG(seed, 7))
		n := int64(r.Uint64())
		in := doc{ID: randomString(r), Created: r.Float64() * 1e12, N: int64(r.Uint64()), Exact: Int64(r.Uint64()), Small: int32(r.Uint32()),
			F: math.Float64frombits(r.Uint64()), B: []byte(randomString(r)), Tags: []string{randomString(r)},
			M: map[string]float64{randomKey(r): r.NormFloat64()}}
		if r.IntN(2) == 0 {
			in.Opt = &n
		}
		enc, err := EncodeValue(in)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		var out doc
		if err := Unmarshal(enc, &out); err != nil {
			t.Fatalf("seed %d: %v (%s)", seed, err, enc)
		}
		if diff := cmp.Diff(in, out, nanComparer); diff != "" {
			t.Fatalf("seed %d (-in +out):\n%s", seed, diff)
		}
	}
}
