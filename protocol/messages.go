package protocol

import (
	"encoding/json"
	"errors"
	"fmt"
)

// QueryID names one query in a client's query set. The client chooses it;
// ids are never reused within one client.
type QueryID uint32

// RequestID names one mutation or action. Mutations and actions share one
// counter that never resets.
type RequestID uint32

// QuerySetVersion counts ModifyQuerySet messages on one socket.
type QuerySetVersion uint32

// IdentityVersion counts accepted Authenticate messages on one socket.
type IdentityVersion uint32

// StateVersion is the version of a socket's synced state.
type StateVersion struct {
	QuerySet QuerySetVersion `json:"querySet"`
	Identity IdentityVersion `json:"identity"`
	TS       Timestamp       `json:"ts"`
}

// Message type names, as carried in each message's "type" field.
const (
	TypeConnect          = "Connect"
	TypeModifyQuerySet   = "ModifyQuerySet"
	TypeMutation         = "Mutation"
	TypeAction           = "Action"
	TypeAuthenticate     = "Authenticate"
	TypeEvent            = "Event"
	TypeTransition       = "Transition"
	TypeTransitionChunk  = "TransitionChunk"
	TypeMutationResponse = "MutationResponse"
	TypeActionResponse   = "ActionResponse"
	TypeAuthError        = "AuthError"
	TypeFatalError       = "FatalError"
	TypePing             = "Ping"

	TypeAdd    = "Add"
	TypeRemove = "Remove"

	TypeQueryUpdated = "QueryUpdated"
	TypeQueryFailed  = "QueryFailed"
	TypeQueryRemoved = "QueryRemoved"
)

// Token types of an Authenticate message.
const (
	TokenTypeUser  = "User"
	TokenTypeAdmin = "Admin"
	TokenTypeNone  = "None"
)

// Errors matched with errors.Is on a *MessageError.
var (
	// ErrMalformedMessage is matched by every *MessageError.
	ErrMalformedMessage = errors.New("malformed message")
	// ErrUnknownMessageType is matched when the "type" field names no
	// message this package knows.
	ErrUnknownMessageType = errors.New("unknown message type")
)

// MessageError reports a frame that is not a valid protocol message.
type MessageError struct {
	Type   string // the message's "type" field, if it could be read
	Reason string
	Err    error // ErrUnknownMessageType, or an underlying decoding error
}

// Error describes the failure.
func (e *MessageError) Error() string {
	what := "message"
	if e.Type != "" {
		what = fmt.Sprintf("%q message", e.Type)
	}
	s := "convex: malformed " + what + ": " + e.Reason
	if e.Err != nil && !errors.Is(e.Err, ErrUnknownMessageType) {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error.
func (e *MessageError) Unwrap() error { return e.Err }

// Is reports whether target is ErrMalformedMessage.
func (e *MessageError) Is(target error) bool { return target == ErrMalformedMessage }

func malformed(typ, format string, args ...any) error {
	return &MessageError{Type: typ, Reason: fmt.Sprintf(format, args...)}
}

// peekType reads only the "type" field of a frame.
func peekType(data []byte) (string, error) {
	var head struct {
		Type *string `json:"type"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return "", &MessageError{Reason: "not a JSON object", Err: err}
	}
	if head.Type == nil {
		return "", malformed("", `missing "type" field`)
	}
	return *head.Type, nil
}

// strict decodes data into v, wrapping errors for message type typ.
func strict(typ string, data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return &MessageError{Type: typ, Reason: "bad field", Err: err}
	}
	return nil
}

// encodeArgsArray writes args (an encoded object) as the one-element array
// the wire carries.
func encodeArgsArray(args json.RawMessage) json.RawMessage {
	if len(args) == 0 {
		return json.RawMessage("[{}]")
	}
	out := make([]byte, 0, len(args)+2)
	out = append(out, '[')
	out = append(out, args...)
	return append(out, ']')
}

// decodeArgsArray takes the wire's [obj] apart.
func decodeArgsArray(typ string, raw json.RawMessage) (json.RawMessage, error) {
	if raw == nil {
		return nil, malformed(typ, `missing "args"`)
	}
	var arr []json.RawMessage
	if err := json.Unmarshal(raw, &arr); err != nil {
		return nil, &MessageError{Type: typ, Reason: `"args" is not an array`, Err: err}
	}
	if len(arr) != 1 {
		return nil, malformed(typ, `"args" must hold exactly one object, not %d values`, len(arr))
	}
	if len(arr[0]) == 0 || arr[0][0] != '{' {
		return nil, malformed(typ, `"args" must hold an object`)
	}
	return arr[0], nil
}
