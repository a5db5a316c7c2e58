package protocol

import (
	"fmt"
	"strings"
	"testing"
)

func BenchmarkEncodeTransitionList(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("[")
	for i := range 170 {
		if i > 0 {
			sb.WriteString(",")
		}
		fmt.Fprintf(&sb, `{"_creationTime":1764590000000.123,"_id":"k57%020dmessages","author":"bench","body":"%s","channel":"go0-chat"}`, i, strings.Repeat("x", 240))
	}
	sb.WriteString("]")
	tr := fuzzTransition([]byte(sb.String()), "m", "l", "j")
	tr.Modifications = tr.Modifications[:1]
	b.Run("direct", func(b *testing.B) {
		b.SetBytes(int64(sb.Len()))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := EncodeServerMessage(tr); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("reference", func(b *testing.B) {
		b.SetBytes(int64(sb.Len()))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := encodeTransitionRef(tr); err != nil {
				b.Fatal(err)
			}
		}
	})
}
