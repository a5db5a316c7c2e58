package client

import (
	"errors"
	"strings"
	"testing"

	"github.com/convexgo/convex/internal/testserver"
	"github.com/convexgo/convex/protocol"
)

// A call whose frame would exceed the deployment's 16 MiB frame limit
// fails alone with a clear error: nothing is sent, the socket stays up,
// and later calls work. (Its arguments are within the 16 MiB arguments
// limit; the message around them is what does not fit.)
func TestOversizedClientFrameFailsTheCall(t *testing.T) {
	srv, c, _ := setup(t)
	ctx := bigPayloadContext(t)
	if _, err := Mutation[int64](ctx, c, "counter:increment", map[string]any{"name": "f"}); err != nil {
		t.Fatal(err)
	}
	opened := srv.Stats().SocketsOpened
	// Arguments of 16 MiB less a few bytes: within the arguments limit.
	fill := func(overhead int) string { return strings.Repeat("x", protocol.MaxArgsSize-overhead) }
	sendArgs := map[string]any{"channel": "c", "author": "a", "body": fill(40)} // 38 bytes around the body
	echoArgs := map[string]any{"body": fill(16)}                                // 11 bytes around it
	listArgs := map[string]any{"channel": fill(16)}                             // 14 bytes around it
	for _, a := range []map[string]any{sendArgs, echoArgs, listArgs} {
		if _, err := protocol.EncodeArgs(a); err != nil {
			t.Fatalf("the test's arguments are over the arguments limit: %v", err)
		}
	}
	for name, call := range map[string]func() error{
		"mutation":     func() error { _, err := c.MutationRaw(ctx, "messages:send", sendArgs); return err },
		"action":       func() error { _, err := c.ActionRaw(ctx, "echo:run", echoArgs); return err },
		"subscription": func() error { _, err := c.SubscribeRaw(ctx, "messages:list", listArgs); return err },
		"snapshot": func() error {
			_, err := c.SubscribeAll(ctx, QuerySpec{Path: "counter:get", Args: map[string]any{"name": "f"}},
				QuerySpec{Path: "messages:list", Args: listArgs})
			return err
		},
	} {
		err := call()
		var fe *FrameTooLargeError
		if !errors.As(err, &fe) || fe.Limit != MaxClientFrame || fe.Size <= MaxClientFrame {
			t.Errorf("%s with 16 MiB of arguments = %v, want a *FrameTooLargeError", name, err)
		} else if !strings.Contains(err.Error(), "16 MiB") {
			t.Errorf("%s: error %q does not name the limit", name, err)
		}
	}
	if _, err := Mutation[int64](ctx, c, "counter:increment", map[string]any{"name": "f"}); err != nil {
		t.Fatal(err)
	}
	if st := srv.Stats(); st.SocketsOpened != opened || st.MutationsCommitted != 2 {
		t.Fatalf("after the refused calls: %d sockets opened (want %d), %d mutations committed (want 2)",
			st.SocketsOpened, opened, st.MutationsCommitted)
	}
	if err := srv.WaitFor(ctx, func(s testserver.Stats) bool { return s.LiveQueries == 0 }); err != nil {
		t.Fatal(err)
	}
}

// Several queries that fit one by one but not in one ModifyQuerySet fail
// SubscribeAll the same way.
func TestOversizedSnapshotBatchFails(t *testing.T) {
	_, c, _ := setup(t)
	ctx := bigPayloadContext(t)
	half := map[string]any{"channel": strings.Repeat("y", protocol.MaxArgsSize/2)}
	other := map[string]any{"channel": strings.Repeat("z", protocol.MaxArgsSize/2)}
	_, err := c.SubscribeAll(ctx, QuerySpec{Path: "messages:list", Args: half}, QuerySpec{Path: "messages:list", Args: other})
	var fe *FrameTooLargeError
	if !errors.As(err, &fe) {
		t.Fatalf("SubscribeAll of 2 × 8 MiB = %v, want a *FrameTooLargeError", err)
	}
}
