// Package examples holds runnable programs built on the convex-go client,
// in a module of their own so that their dependencies (bubbletea) stay out
// of the library's go.mod:
//
//	go -C examples run ./bot         a realtime bot that answers mentions
//	go -C examples run ./dashboard   a terminal dashboard of live queries
//
// Both start an embedded test deployment unless CONVEX_URL is set.
package examples
