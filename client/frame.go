package client

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/convexgo/convex/protocol"
)

// MaxClientFrame is the largest WebSocket frame the client sends, 16 MiB.
// The Convex backend reads its sync socket with tungstenite's default
// limits (crates/common/src/http/websocket.rs keeps WebSocketConfig's
// defaults: 16 MiB a frame, 64 MiB a message) and ends the socket on a
// bigger frame; the client writes each message as one frame. Function
// arguments may be up to 16 MiB themselves (protocol.MaxArgsSize), so a
// call near that size does not fit once wrapped in its message.
const MaxClientFrame = 16 << 20

// FrameTooLargeError is a call whose message would exceed MaxClientFrame.
// Nothing was sent; the connection is unaffected.
type FrameTooLargeError struct {
	Kind  string // "mutation", "action" or "query"
	Path  string
	Size  int // the message's size in bytes
	Limit int // MaxClientFrame
}

// Error describes the failure.
func (e *FrameTooLargeError) Error() string {
	return fmt.Sprintf("convex: %s %s: its message of %d bytes exceeds the deployment's WebSocket frame limit of %d bytes (16 MiB); send less data per call",
		e.Kind, e.Path, e.Size, e.Limit)
}

// frameSlack is more than the bytes a message adds around its arguments
// and path (type, ids, versions, punctuation).
const frameSlack = 256

// checkFrame fails with a *FrameTooLargeError when the message that
// carries args for kind ("mutation", "action", or "query" for a
// subscription's Add) would exceed MaxClientFrame. Small calls cost one
// comparison; only calls near the limit are encoded to measure them.
func checkFrame(kind, path string, args json.RawMessage) error {
	if len(args)+6*len(path)+frameSlack <= MaxClientFrame {
		return nil
	}
	var m protocol.ClientMessage
	switch kind {
	case "mutation":
		m = &protocol.Mutation{RequestID: math.MaxUint32, UDFPath: path, Args: args}
	case "action":
		m = &protocol.Action{RequestID: math.MaxUint32, UDFPath: path, Args: args}
	default:
		m = &protocol.ModifyQuerySet{BaseVersion: math.MaxUint32 - 1, NewVersion: math.MaxUint32,
			Modifications: []protocol.QuerySetModification{{Type: protocol.TypeAdd, QueryID: math.MaxUint32, UDFPath: path, Args: args}}}
	}
	b, err := protocol.EncodeClientMessage(m)
	if err != nil {
		return wrapErr(kind+" "+path, err)
	}
	if len(b) > MaxClientFrame {
		return &FrameTooLargeError{Kind: kind, Path: path, Size: len(b), Limit: MaxClientFrame}
	}
	return nil
}

// checkBatch is checkFrame for the one ModifyQuerySet that adds several
// queries at once (SubscribeAll).
func checkBatch(paths []string, args []json.RawMessage) error {
	total := frameSlack
	for i := range paths {
		total += len(args[i]) + 6*len(paths[i]) + frameSlack
	}
	if total <= MaxClientFrame {
		return nil
	}
	m := &protocol.ModifyQuerySet{BaseVersion: math.MaxUint32 - 1, NewVersion: math.MaxUint32}
	for i := range paths {
		m.Modifications = append(m.Modifications, protocol.QuerySetModification{Type: protocol.TypeAdd,
			QueryID: math.MaxUint32, UDFPath: paths[i], Args: args[i]})
	}
	b, err := protocol.EncodeClientMessage(m)
	if err != nil {
		return wrapErr(fmt.Sprintf("subscribing to %d queries", len(paths)), err)
	}
	if len(b) > MaxClientFrame {
		return &FrameTooLargeError{Kind: "query", Path: fmt.Sprintf("(%d queries)", len(paths)), Size: len(b), Limit: MaxClientFrame}
	}
	return nil
}
