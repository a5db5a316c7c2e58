package main

import (
	"context"
	"encoding/json"
	"io"

	"github.com/convexgo/convex/client"
)

// printAllPages walks the paginated query path page by page (the query
// takes paginationOpts, as Convex paginated queries do) and prints every
// item as one line of JSON, as it arrives: memory stays bounded by a page.
func printAllPages(ctx context.Context, c client.Caller, path string, args any, pageSize int, w io.Writer) error {
	m, _ := args.(map[string]any) // nil args: {}
	for p, err := range client.Pages[json.RawMessage](ctx, c, path, m, client.PageOptions{PageSize: pageSize}) {
		if err != nil {
			return err
		}
		for _, item := range p.Items {
			if err := printValue(w, item, false); err != nil {
				return err
			}
		}
	}
	return nil
}
