package testserver

import (
	"encoding/json"
	"fmt"

	"github.com/convexgo/convex/protocol"
)

// invalidMessage gives a frame that protocol.DecodeClientMessage refused
// the reason the backend's decoder (sync_types types/json.rs) would give,
// where a client can tell them apart: a Mutation or Action without args
// ("Mutation lacks args"), checked after its udfPath, which is parsed
// first. Other frames keep the decoder's reason.
func invalidMessage(data []byte, derr error) error {
	var w struct {
		Type      string          `json:"type"`
		RequestID json.RawMessage `json:"requestId"`
		UDFPath   *string         `json:"udfPath"`
		Args      json.RawMessage `json:"args"`
	}
	if json.Unmarshal(data, &w) != nil || (w.Type != protocol.TypeMutation && w.Type != protocol.TypeAction) ||
		w.RequestID == nil || w.UDFPath == nil {
		return derr
	}
	if _, err := parseFunctionPath(*w.UDFPath); err != nil {
		return err
	}
	if w.Args == nil || string(w.Args) == "null" {
		return fmt.Errorf("%s lacks args", w.Type)
	}
	return derr
}

// checkMessagePaths parses the function paths of a decoded message as the
// backend's decoder does, so a bad one fails the whole message (before,
// say, a ModifyQuerySet's base version is looked at).
func checkMessagePaths(msg protocol.ClientMessage) error {
	switch m := msg.(type) {
	case *protocol.ModifyQuerySet:
		for _, mod := range m.Modifications {
			if mod.Type == protocol.TypeAdd {
				if _, err := parseFunctionPath(mod.UDFPath); err != nil {
					return err
				}
			}
		}
	case *protocol.Mutation:
		_, err := parseFunctionPath(m.UDFPath)
		return err
	case *protocol.Action:
		_, err := parseFunctionPath(m.UDFPath)
		return err
	}
	return nil
}
