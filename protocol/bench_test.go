package protocol

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// transitionFrame builds a Transition with n QueryUpdated entries whose
// values are about size bytes of Convex JSON each.
func transitionFrame(tb testing.TB, n, size int) []byte {
	tb.Helper()
	mods := make([]StateModification, n)
	for i := range mods {
		var docs []any
		for len(mustEncode(tb, docs)) < size-120 {
			docs = append(docs, map[string]any{"_id": fmt.Sprintf("k%06d", len(docs)), "_creationTime": 1735689599000.5,
				"author": "ada", "body": strings.Repeat("x", 40), "n": int64(len(docs))})
		}
		mods[i] = StateModification{Type: TypeQueryUpdated, QueryID: QueryID(i), Value: mustEncode(tb, docs)}
	}
	b, err := EncodeServerMessage(&Transition{StartVersion: StateVersion{QuerySet: 1, TS: 1},
		EndVersion: StateVersion{QuerySet: 2, TS: 2}, Modifications: mods})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func mustEncode(tb testing.TB, v any) json.RawMessage {
	b, err := EncodeValue(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// BenchmarkDecodeTransition decodes a Transition carrying 100 QueryUpdated
// entries of about 1 KiB each (values stay raw until a subscriber reads them).
func BenchmarkDecodeTransition(b *testing.B) {
	frame := transitionFrame(b, 100, 1024)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		m, err := DecodeServerMessage(frame)
		if err != nil {
			b.Fatal(err)
		}
		if len(m.(*Transition).Modifications) != 100 {
			b.Fatal("wrong modification count")
		}
	}
}

// BenchmarkDecodeTransitionValues also decodes every value, which is what a
// first subscriber of each of the 100 queries pays once.
func BenchmarkDecodeTransitionValues(b *testing.B) {
	frame := transitionFrame(b, 100, 1024)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		m, err := DecodeServerMessage(frame)
		if err != nil {
			b.Fatal(err)
		}
		for _, mod := range m.(*Transition).Modifications {
			if _, err := DecodeValue(mod.Value); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func nestedArgs() map[string]any {
	return map[string]any{
		"channel": "general", "limit": int64(100), "cursor": nil, "desc": true, "minScore": 0.5,
		"tags":   []any{"a", "b", "c"},
		"filter": map[string]any{"author": "ada", "since": 1735689599000.5, "kinds": []any{int64(1), int64(2)}},
		"page":   map[string]any{"size": int64(20), "after": "k000042"},
		"bytes":  []byte("hello"),
		"zeta":   map[string]any{"deep": map[string]any{"deeper": map[string]any{"x": 1.0}}},
	}
}

// BenchmarkQueryToken computes the dedup key of a query whose args are a
// nested object of 10 fields.
func BenchmarkQueryToken(b *testing.B) {
	args := nestedArgs()
	b.ReportAllocs()
	for b.Loop() {
		enc, err := EncodeArgs(args)
		if err != nil {
			b.Fatal(err)
		}
		_ = NewQueryToken("messages:list", enc)
	}
}

type pageArgs struct {
	Channel string   `json:"channel"`
	Limit   int64    `json:"limit"`
	Cursor  *string  `json:"cursor"`
	Desc    bool     `json:"desc"`
	Score   float64  `json:"minScore"`
	Tags    []string `json:"tags"`
	Filter  struct {
		Author string  `json:"author"`
		Since  float64 `json:"since"`
		Kinds  []int64 `json:"kinds"`
	} `json:"filter"`
	Page struct {
		Size  int64  `json:"size"`
		After string `json:"after"`
	} `json:"page"`
	Bytes []byte         `json:"bytes"`
	Zeta  map[string]any `json:"zeta"`
}

// BenchmarkQueryTokenStruct is BenchmarkQueryToken with the args given as a
// Go struct instead of a map.
func BenchmarkQueryTokenStruct(b *testing.B) {
	var args pageArgs
	args.Channel, args.Limit, args.Desc, args.Score, args.Tags = "general", 100, true, 0.5, []string{"a", "b", "c"}
	args.Filter.Author, args.Filter.Since, args.Filter.Kinds = "ada", 1735689599000.5, []int64{1, 2}
	args.Page.Size, args.Page.After, args.Bytes = 20, "k000042", []byte("hello")
	args.Zeta = map[string]any{"deep": map[string]any{"deeper": map[string]any{"x": 1.0}}}
	b.ReportAllocs()
	for b.Loop() {
		enc, err := EncodeArgs(args)
		if err != nil {
			b.Fatal(err)
		}
		_ = NewQueryToken("messages:list", enc)
	}
}

// BenchmarkValidateUDFPath checks a path as every call does before sending.
func BenchmarkValidateUDFPath(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if err := ValidateUDFPath("dir/messages:list"); err != nil {
			b.Fatal(err)
		}
	}
}
