package protocol

import (
	"fmt"
	"strings"
	"testing"
)

// listDoc is one document of a chat list as a typed reader declares it.
type listDoc struct {
	ID      string  `json:"_id"`
	Created float64 `json:"_creationTime"`
	Channel string  `json:"channel"`
	Author  string  `json:"author"`
	Body    string  `json:"body"`
}

// listFrame is the Convex JSON of a typical query result: 170 documents
// of about 360 bytes each (a 240-byte body), 61.5 KB in all, keys in
// the canonical (sorted) order the deployment sends.
func listFrame(tb testing.TB) []byte {
	tb.Helper()
	return listFrameN(tb, 170)
}

// listFrameN is listFrame with n documents.
func listFrameN(tb testing.TB, n int) []byte {
	tb.Helper()
	docs := make([]any, n)
	for i := range docs {
		docs[i] = map[string]any{
			"_id":           fmt.Sprintf("j57%029d", i*7919),
			"_creationTime": 1735689599000.5 + float64(i)*1000.25,
			"channel":       "general",
			"author":        []string{"ada", "grace", "linus", "barbara"}[i%4],
			"body":          strings.Repeat(fmt.Sprintf("message %d says hello. ", i), 12)[:240],
		}
	}
	return mustEncode(tb, docs)
}

// BenchmarkUnmarshalList decodes the list into the struct slice a reader
// declares, and into []map[string]any for comparison.
func BenchmarkUnmarshalList(b *testing.B) {
	frame := listFrame(b)
	b.Run("struct", func(b *testing.B) {
		b.SetBytes(int64(len(frame)))
		b.ReportAllocs()
		for b.Loop() {
			var docs []listDoc
			if err := Unmarshal(frame, &docs); err != nil || len(docs) != 170 {
				b.Fatal(err, len(docs))
			}
		}
	})
	b.Run("map", func(b *testing.B) {
		b.SetBytes(int64(len(frame)))
		b.ReportAllocs()
		for b.Loop() {
			var docs []map[string]any
			if err := Unmarshal(frame, &docs); err != nil || len(docs) != 170 {
				b.Fatal(err, len(docs))
			}
		}
	})
}
