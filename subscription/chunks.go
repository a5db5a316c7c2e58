package subscription

import (
	"fmt"
	"strings"

	"github.com/convexgo/convex/protocol"
)

// chunkBuffer reassembles a Transition sent as TransitionChunks: parts
// 0..n-1 of one transitionId, in order.
type chunkBuffer struct {
	id    string
	total uint32
	parts []string
	size  int
}

// maxChunkedTransition bounds the text buffered for one chunked
// Transition, so a misbehaving server cannot grow it without end.
const maxChunkedTransition = 256 << 20

func (b *chunkBuffer) reset() {
	b.id, b.total, b.parts, b.size = "", 0, nil, 0
}

// add takes one chunk. It returns the Transition once the last part is in,
// nil while parts are missing, and a *ReconnectError (after dropping the
// buffer) for an invalid sequence.
func (b *chunkBuffer) add(c *protocol.TransitionChunk) (*protocol.Transition, error) {
	fail := func(format string, args ...any) (*protocol.Transition, error) {
		b.reset()
		return nil, &ReconnectError{Reason: "InvalidTransitionChunk", Detail: fmt.Sprintf(format, args...)}
	}
	if c.TotalParts == 0 {
		return fail("totalParts is 0")
	}
	if c.PartNumber >= c.TotalParts {
		return fail("part %d of %d", c.PartNumber, c.TotalParts)
	}
	if len(b.parts) == 0 {
		if c.PartNumber != 0 {
			return fail("transition %q starts at part %d", c.TransitionID, c.PartNumber)
		}
		b.id, b.total = c.TransitionID, c.TotalParts
	} else if c.TransitionID != b.id || c.TotalParts != b.total || int(c.PartNumber) != len(b.parts) {
		return fail("got part %d/%d of %q while assembling part %d/%d of %q",
			c.PartNumber, c.TotalParts, c.TransitionID, len(b.parts), b.total, b.id)
	}
	b.size += len(c.Chunk)
	if b.size > maxChunkedTransition {
		return fail("transition %q exceeds %d bytes", b.id, maxChunkedTransition)
	}
	b.parts = append(b.parts, c.Chunk)
	if uint32(len(b.parts)) < b.total {
		return nil, nil
	}
	text := strings.Join(b.parts, "")
	b.reset()
	msg, err := protocol.DecodeServerMessage([]byte(text))
	if err != nil {
		return nil, &ReconnectError{Reason: "InvalidTransitionChunk", Detail: "reassembled text: " + err.Error()}
	}
	t, ok := msg.(*protocol.Transition)
	if !ok {
		return nil, &ReconnectError{Reason: "InvalidTransitionChunk", Detail: "reassembled a " + msg.MessageType() + ", not a Transition"}
	}
	return t, nil
}
