package client

import (
	"context"
	"fmt"
	"testing"

	"github.com/convexgo/convex/internal/testserver"
)

// BenchmarkPaginate100k walks 100,000 documents of messages:paginated over
// HTTP (an HTTPCaller against the in-process test deployment), for two
// page sizes. Reported: ns/op and B/op per whole walk, docs/s and pages.
//
//	go test -run '^$' -bench Paginate100k -benchmem -benchtime 3x ./client/
func BenchmarkPaginate100k(b *testing.B) {
	const docs = 100_000
	srv := testserver.NewDemo()
	defer srv.Close()
	if err := srv.Write(func(ctx *testserver.MutationCtx) error {
		for i := range docs {
			if _, err := ctx.Insert("messages", map[string]any{"channel": "a", "author": "bench", "body": fmt.Sprint("message ", i)}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	h, err := NewHTTPClient(srv.URL())
	if err != nil {
		b.Fatal(err)
	}
	caller := h.As(Anonymous())
	ctx := context.Background()
	for _, size := range []int{1000, 8000} {
		b.Run(fmt.Sprintf("page=%d", size), func(b *testing.B) {
			b.ReportAllocs()
			pages := 0
			for b.Loop() {
				n := 0
				pages = 0
				for p, err := range Pages[pageMsg](ctx, caller, "messages:paginated", map[string]any{"channel": "a"}, PageOptions{PageSize: size}) {
					if err != nil {
						b.Fatal(err)
					}
					n += len(p.Items)
					pages++
				}
				if n != docs {
					b.Fatalf("walked %d documents", n)
				}
			}
			b.ReportMetric(float64(docs)*float64(b.N)/b.Elapsed().Seconds(), "docs/s")
			b.ReportMetric(float64(pages), "pages")
		})
	}
}
