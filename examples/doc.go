// Package examples holds runnable programs built on the convex-go client,
// in a module of their own so that their dependencies (bubbletea,
// chromedp) stay out of the library's go.mod:
//
//	go -C examples run ./bot         a realtime bot that answers mentions
//	go -C examples run ./dashboard   a terminal dashboard of live queries
//	go -C examples run ./webapp      a web app with Better Auth sign-in
//
// The bot and the dashboard start an embedded test deployment unless
// CONVEX_URL is set; the webapp starts one and a Better Auth server
// (under Node) unless CONVEX_URL and BETTER_AUTH_URL are set.
package examples
