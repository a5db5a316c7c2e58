package testserver

import (
	"net/http"
	"strings"

	"github.com/coder/websocket"
)

// The real backend negotiates permessage-deflate (RFC 7692) on its sync
// socket since get-convex/convex-backend commit f256d8529 (February
// 2026): crates/local_backend/src/subs/mod.rs takes its WebSocketUpgrade
// from crates/common/src/http/websocket.rs, a fork of axum's extractor
// whose only compression logic is this:
//
//   - from_request_parts (lines 361-385) splits every Sec-WebSocket-Extensions
//     value on ',' and trims each offer; the client "offers deflate" when one
//     offer is exactly "permessage-deflate" or exactly
//     "permessage-deflate; client_max_window_bits" (case and spacing as
//     written). Any other form, such as one with client_no_context_takeover,
//     server_no_context_takeover, server_max_window_bits or
//     client_max_window_bits=15, is not matched: the socket is then
//     uncompressed. The comment there says full RFC 7692 parameter
//     negotiation is deliberately not done.
//   - on_upgrade (lines 206-208 and 245-251) then enables tungstenite's
//     DeflateConfig::default() and answers with the bare extension
//     "permessage-deflate": no parameters, so both sides may keep their
//     LZ77 window between messages (context takeover) and windows are 15
//     bits.
//
// Cargo.toml pins tungstenite 0.28 with the "deflate" feature from a
// fork (danielsufrindisler/tungstenite-rs at eda0a0c); that fork is not
// among the sources read here. The upstream deflate branch it derives from
// compresses every data message it sends, with flate2's default level.
// This server compresses every message too (threshold 1 byte) but with
// coder/websocket's fixed flate.BestSpeed, so its compressed frames are
// somewhat larger than the backend's; the negotiation itself is the same.

// deflateOffers are the only Sec-WebSocket-Extensions offers the backend
// accepts (crates/common/src/http/websocket.rs, lines 380-383).
var deflateOffers = [...]string{"permessage-deflate", "permessage-deflate; client_max_window_bits"}

// backendAcceptsDeflate reports whether the backend would turn on
// permessage-deflate for a handshake with these headers.
func backendAcceptsDeflate(h http.Header) bool {
	for _, v := range h.Values("Sec-WebSocket-Extensions") {
		if !visibleASCII(v) { // the backend skips values HeaderValue::to_str refuses (visible ASCII and tabs only)
			continue
		}
		for offer := range strings.SplitSeq(v, ",") {
			offer = strings.TrimSpace(offer)
			for _, want := range deflateOffers {
				if offer == want {
					return true
				}
			}
		}
	}
	return false
}

// acceptSync upgrades a sync request, negotiating permessage-deflate as
// the backend does (unless WithPermessageDeflate(false)), and reports
// whether the socket is compressed.
func (s *Server) acceptSync(w http.ResponseWriter, r *http.Request) (*websocket.Conn, bool, error) {
	opts := &websocket.AcceptOptions{InsecureSkipVerify: true}
	deflate := !s.cfg.noDeflate && backendAcceptsDeflate(r.Header)
	if deflate {
		// coder/websocket negotiates parameters itself; hand it the bare
		// offer so that it answers "permessage-deflate" with context
		// takeover on both sides, whatever form of the two the client
		// sent, exactly as the backend answers.
		r = r.Clone(r.Context())
		r.Header.Set("Sec-WebSocket-Extensions", "permessage-deflate")
		opts.CompressionMode = websocket.CompressionContextTakeover
		opts.CompressionThreshold = 1
	}
	// Otherwise CompressionMode stays CompressionDisabled: coder/websocket
	// ignores the offer and sends no Sec-WebSocket-Extensions.
	ws, err := websocket.Accept(w, r, opts)
	return ws, deflate, err
}
