package protocol

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// ServerMessage is a message from server to client: *Transition,
// *TransitionChunk, *MutationResponse, *ActionResponse, *AuthError,
// *FatalError or *Ping.
type ServerMessage interface {
	// MessageType returns the message's "type" field.
	MessageType() string
	serverMessage()
}

// Transition moves the client's synced state from StartVersion to
// EndVersion, carrying the query results that changed.
type Transition struct {
	StartVersion  StateVersion
	EndVersion    StateVersion
	Modifications []StateModification
	// ClientClockSkew is the client clock minus the server clock in ms.
	ClientClockSkew *int64
	// ServerTS is the server's wall time in nanoseconds when it sent this.
	ServerTS *int64
}

// StateModification is a QueryUpdated, QueryFailed or QueryRemoved entry
// of a Transition.
type StateModification struct {
	Type    string // TypeQueryUpdated, TypeQueryFailed or TypeQueryRemoved
	QueryID QueryID
	// Value is the query's new result as Convex JSON (QueryUpdated).
	Value json.RawMessage
	// ErrorMessage says why the query failed (QueryFailed).
	ErrorMessage string
	// ErrorData is the ConvexError data of a failed query as Convex JSON;
	// nil when the failure was not a ConvexError (QueryFailed).
	ErrorData json.RawMessage
	LogLines  []string
	Journal   *string
}

// TransitionChunk is one piece of a Transition too large for one frame.
type TransitionChunk struct {
	Chunk        string
	PartNumber   uint32
	TotalParts   uint32
	TransitionID string
}

// MutationResponse reports a mutation's outcome.
type MutationResponse struct {
	RequestID RequestID
	Success   bool
	// Result is the return value as Convex JSON, on success.
	Result json.RawMessage
	// ErrorMessage is the error, on failure.
	ErrorMessage string
	// ErrorData is the ConvexError data on failure, or nil.
	ErrorData json.RawMessage
	// TS is the commit timestamp, on success.
	TS       Timestamp
	LogLines []string
}

// ActionResponse reports an action's outcome.
type ActionResponse struct {
	RequestID    RequestID
	Success      bool
	Result       json.RawMessage // on success
	ErrorMessage string          // on failure
	ErrorData    json.RawMessage // ConvexError data on failure, or nil
	LogLines     []string
}

// AuthError reports that the socket's identity was rejected or expired.
// The server closes the socket after sending it.
type AuthError struct {
	Error string
	// BaseVersion is the identity version the server is at (0 when the
	// server sent null).
	BaseVersion IdentityVersion
	// AuthUpdateAttempted is true when this answers a failed Authenticate,
	// false when the current identity became invalid (for example expired).
	AuthUpdateAttempted bool
}

// FatalError reports a deterministic error; the server closes the socket
// after it, and the client must not reconnect.
type FatalError struct {
	Error string
}

// Ping keeps an idle socket alive; it carries nothing.
type Ping struct{}

func (*Transition) serverMessage()       {}
func (*TransitionChunk) serverMessage()  {}
func (*MutationResponse) serverMessage() {}
func (*ActionResponse) serverMessage()   {}
func (*AuthError) serverMessage()        {}
func (*FatalError) serverMessage()       {}
func (*Ping) serverMessage()             {}

// MessageType returns TypeTransition.
func (*Transition) MessageType() string { return TypeTransition }

// MessageType returns TypeTransitionChunk.
func (*TransitionChunk) MessageType() string { return TypeTransitionChunk }

// MessageType returns TypeMutationResponse.
func (*MutationResponse) MessageType() string { return TypeMutationResponse }

// MessageType returns TypeActionResponse.
func (*ActionResponse) MessageType() string { return TypeActionResponse }

// MessageType returns TypeAuthError.
func (*AuthError) MessageType() string { return TypeAuthError }

// MessageType returns TypeFatalError.
func (*FatalError) MessageType() string { return TypeFatalError }

// MessageType returns TypePing.
func (*Ping) MessageType() string { return TypePing }

// removedWire is a QueryRemoved modification: the backend writes only its
// type and queryId (sync_types json.rs), no journal.
type removedWire struct {
	Type    string   `json:"type"`
	QueryID *QueryID `json:"queryId"`
}

type stateModWire struct {
	Type         string          `json:"type"`
	QueryID      *QueryID        `json:"queryId"`
	Value        json.RawMessage `json:"value,omitempty"`
	ErrorMessage *string         `json:"errorMessage,omitempty"`
	LogLines     []string        `json:"logLines,omitzero"`
	Journal      *string         `json:"journal"`
	ErrorData    json.RawMessage `json:"errorData,omitempty"`
}

type transitionWire struct {
	Type            string          `json:"type"`
	StartVersion    *StateVersion   `json:"startVersion"`
	EndVersion      *StateVersion   `json:"endVersion"`
	Modifications   *[]stateModWire `json:"modifications"`
	ClientClockSkew *int64          `json:"clientClockSkew"`
	ServerTS        *int64          `json:"serverTs"`
}

// transitionOutWire is what EncodeServerMessage writes: modifications of
// more than one shape.
type transitionOutWire struct {
	Type            string        `json:"type"`
	StartVersion    *StateVersion `json:"startVersion"`
	EndVersion      *StateVersion `json:"endVersion"`
	Modifications   []any         `json:"modifications"`
	ClientClockSkew *int64        `json:"clientClockSkew"`
	ServerTS        *int64        `json:"serverTs"`
}

type chunkWire struct {
	Type         string  `json:"type"`
	Chunk        *string `json:"chunk"`
	PartNumber   *uint32 `json:"partNumber"`
	TotalParts   *uint32 `json:"totalParts"`
	TransitionID *string `json:"transitionId"`
}

type responseWire struct {
	Type      string          `json:"type"`
	RequestID *RequestID      `json:"requestId"`
	Success   *bool           `json:"success"`
	Result    json.RawMessage `json:"result"`
	TS        json.RawMessage `json:"ts,omitempty"`
	LogLines  []string        `json:"logLines"`
	ErrorData json.RawMessage `json:"errorData,omitempty"`
}

type authErrorWire struct {
	Type                string           `json:"type"`
	Error               *string          `json:"error"`
	BaseVersion         *IdentityVersion `json:"baseVersion"`
	AuthUpdateAttempted *bool            `json:"authUpdateAttempted"`
}

type fatalErrorWire struct {
	Type  string  `json:"type"`
	Error *string `json:"error"`
}

func emptyIfNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// EncodeServerMessage encodes m as the JSON text of one WebSocket frame.
// A server uses it.
func EncodeServerMessage(m ServerMessage) ([]byte, error) {
	if t, ok := m.(*Transition); ok {
		if b, ok := appendTransition(nil, t); ok {
			return b, nil
		}
		return encodeTransitionRef(t)
	}
	return encodeServerMessageRef(m)
}

// appendTransition appends t as encodeTransitionRef encodes it, byte for
// byte, without running the values through encoding/json (which checks
// and compacts every json.RawMessage: most of the cost of a large query
// result). It declines (ok=false) when a value is not valid JSON or
// a modification type is unknown; the caller then uses the reference,
// which gives the error.
func appendTransition(b []byte, t *Transition) ([]byte, bool) {
	size := 512 // the versions and the rest of the frame
	for i := range t.Modifications {
		m := &t.Modifications[i]
		size += 160 + len(m.Value) + len(m.ErrorData) + len(m.ErrorMessage)
		for _, l := range m.LogLines {
			size += len(l) + 8
		}
		if m.Journal != nil {
			size += len(*m.Journal) + 8
		}
	}
	if b == nil {
		b = make([]byte, 0, size)
	}
	b = append(b, `{"type":"Transition","startVersion":`...)
	b, ok := appendMarshal(b, &t.StartVersion)
	if !ok {
		return nil, false
	}
	b = append(b, `,"endVersion":`...)
	if b, ok = appendMarshal(b, &t.EndVersion); !ok {
		return nil, false
	}
	b = append(b, `,"modifications":[`...)
	for i := range t.Modifications {
		if i > 0 {
			b = append(b, ',')
		}
		mod := &t.Modifications[i]
		b = append(b, `{"type":`...)
		b = strconv.AppendQuote(b, mod.Type) // the known types are plain ASCII, quoted alike by both
		b = append(b, `,"queryId":`...)
		b = strconv.AppendUint(b, uint64(mod.QueryID), 10)
		switch mod.Type {
		case TypeQueryUpdated:
			b = append(b, `,"value":`...)
			v := mod.Value
			if len(v) == 0 {
				v = json.RawMessage("null")
			}
			if b, ok = appendRaw(b, v); !ok {
				return nil, false
			}
		case TypeQueryFailed:
			b = append(b, `,"errorMessage":`...)
			if b, ok = appendMarshal(b, mod.ErrorMessage); !ok {
				return nil, false
			}
		case TypeQueryRemoved:
			b = append(b, '}')
			continue
		default:
			return nil, false
		}
		b = append(b, `,"logLines":`...)
		if b, ok = appendMarshal(b, emptyIfNil(mod.LogLines)); !ok {
			return nil, false
		}
		b = append(b, `,"journal":`...)
		if b, ok = appendMarshal(b, mod.Journal); !ok {
			return nil, false
		}
		if mod.Type == TypeQueryFailed && len(mod.ErrorData) > 0 {
			b = append(b, `,"errorData":`...)
			if b, ok = appendRaw(b, mod.ErrorData); !ok {
				return nil, false
			}
		}
		b = append(b, '}')
	}
	b = append(b, `],"clientClockSkew":`...)
	if b, ok = appendMarshal(b, t.ClientClockSkew); !ok {
		return nil, false
	}
	b = append(b, `,"serverTs":`...)
	if b, ok = appendMarshal(b, t.ServerTS); !ok {
		return nil, false
	}
	return append(b, '}'), true
}

// appendMarshal appends encoding/json's encoding of v (small parts: the
// versions, strings, log lines), so that they match the reference.
func appendMarshal(b []byte, v any) ([]byte, bool) {
	enc, err := json.Marshal(v)
	if err != nil {
		return nil, false
	}
	return append(b, enc...), true
}

// appendRaw appends the JSON value raw as encoding/json writes a
// json.RawMessage: compacted (no whitespace outside strings), with '<',
// '>', '&', U+2028 and U+2029 escaped. It declines (ok=false) if raw is not
// exactly one valid JSON value.
func appendRaw(b, raw []byte) ([]byte, bool) {
	s := scanner{data: raw}
	if !s.skip(0) || s.i != len(raw) {
		return nil, false
	}
	const hex = "0123456789abcdef"
	in := false
	start := 0 // raw[start:i] is still to be copied
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if in {
			switch {
			case c == '\\':
				i++
			case c == '"':
				in = false
			case c == '<' || c == '>' || c == '&':
				b = append(b, raw[start:i]...)
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
				start = i + 1
			case c == 0xE2 && i+2 < len(raw) && raw[i+1] == 0x80 && raw[i+2]&^1 == 0xA8:
				b = append(b, raw[start:i]...)
				b = append(b, '\\', 'u', '2', '0', '2', hex[raw[i+2]&0xF])
				i += 2
				start = i + 1
			}
			continue
		}
		switch c {
		case '"':
			in = true
		case ' ', '\t', '\n', '\r':
			b = append(b, raw[start:i]...)
			start = i + 1
		}
	}
	return append(b, raw[start:]...), true
}

// encodeTransitionRef is the reference encoding of a Transition:
// encoding/json over the wire structs.
func encodeTransitionRef(m *Transition) ([]byte, error) {
	mods := make([]any, len(m.Modifications))
	for i := range m.Modifications {
		s := &m.Modifications[i]
		w := &stateModWire{Type: s.Type, QueryID: &s.QueryID}
		switch s.Type {
		case TypeQueryUpdated:
			w.Value = s.Value
			if len(w.Value) == 0 {
				w.Value = json.RawMessage("null")
			}
			w.LogLines, w.Journal = emptyIfNil(s.LogLines), s.Journal
		case TypeQueryFailed:
			w.ErrorMessage, w.ErrorData = &s.ErrorMessage, s.ErrorData
			w.LogLines, w.Journal = emptyIfNil(s.LogLines), s.Journal
		case TypeQueryRemoved:
			mods[i] = removedWire{Type: s.Type, QueryID: &s.QueryID}
			continue
		default:
			return nil, fmt.Errorf("convex: state modification type %q is unknown", s.Type)
		}
		mods[i] = w
	}
	return json.Marshal(transitionOutWire{Type: TypeTransition, StartVersion: &m.StartVersion,
		EndVersion: &m.EndVersion, Modifications: mods, ClientClockSkew: m.ClientClockSkew, ServerTS: m.ServerTS})
}

// encodeServerMessageRef encodes every other server message.
func encodeServerMessageRef(m ServerMessage) ([]byte, error) {
	switch m := m.(type) {
	case *TransitionChunk:
		return json.Marshal(chunkWire{Type: TypeTransitionChunk, Chunk: &m.Chunk, PartNumber: &m.PartNumber,
			TotalParts: &m.TotalParts, TransitionID: &m.TransitionID})
	case *MutationResponse:
		w := responseWire{Type: TypeMutationResponse, RequestID: &m.RequestID, Success: &m.Success,
			LogLines: emptyIfNil(m.LogLines)}
		if m.Success {
			w.Result = nullIfEmpty(m.Result)
			ts, _ := m.TS.MarshalJSON()
			w.TS = ts
		} else {
			w.Result, _ = json.Marshal(m.ErrorMessage)
			w.TS = json.RawMessage("null")
			w.ErrorData = m.ErrorData
		}
		return json.Marshal(w)
	case *ActionResponse:
		w := responseWire{Type: TypeActionResponse, RequestID: &m.RequestID, Success: &m.Success,
			LogLines: emptyIfNil(m.LogLines)}
		if m.Success {
			w.Result = nullIfEmpty(m.Result)
		} else {
			w.Result, _ = json.Marshal(m.ErrorMessage)
			w.ErrorData = m.ErrorData
		}
		return json.Marshal(w)
	case *AuthError:
		return json.Marshal(authErrorWire{Type: TypeAuthError, Error: &m.Error, BaseVersion: &m.BaseVersion,
			AuthUpdateAttempted: &m.AuthUpdateAttempted})
	case *FatalError:
		return json.Marshal(fatalErrorWire{Type: TypeFatalError, Error: &m.Error})
	case *Ping:
		return []byte(`{"type":"Ping"}`), nil
	case nil:
		return nil, fmt.Errorf("convex: cannot encode a nil server message")
	}
	return nil, fmt.Errorf("convex: unknown server message type %T", m)
}

func nullIfEmpty(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage("null")
	}
	return raw
}

// DecodeServerMessage decodes one frame sent by a server. Frames that are
// not valid server messages give a *MessageError; it never panics.
//
// Values (query results, mutation results, error data) are returned as raw
// Convex JSON, checked only for being JSON: decode them with DecodeValue or
// Unmarshal when they are used. Each is its own copy: nothing returned
// aliases data.
//
// A Transition in the shape servers send is read by a hand-written scanner
// (fastTransition); every other frame, and any Transition the scanner is
// not sure of (an error, a duplicate or case-folded key, an escaped key, a
// null where the reference gives it meaning), goes to the reference decoder
// built on encoding/json, so the two accept and refuse the same frames
// with the same results (FuzzFastTransition checks it).
func DecodeServerMessage(data []byte) (ServerMessage, error) {
	if t, ok := fastTransition(data); ok {
		return t, nil
	}
	return decodeServerMessageRef(data)
}

// decodeServerMessageRef is the reference decoder: encoding/json and the
// wire structs. DecodeServerMessage falls back to it, and the fuzz tests
// compare the fast path against it.
func decodeServerMessageRef(data []byte) (ServerMessage, error) {
	typ, err := peekType(data)
	if err != nil {
		return nil, err
	}
	switch typ {
	case TypeTransition:
		t, err := decodeTransition(data)
		if err != nil {
			return nil, err // not t: a nil *Transition is a non-nil ServerMessage
		}
		return t, nil
	case TypeTransitionChunk:
		var w chunkWire
		if err := strict(typ, data, &w); err != nil {
			return nil, err
		}
		if w.Chunk == nil || w.PartNumber == nil || w.TotalParts == nil || w.TransitionID == nil {
			return nil, malformed(typ, `needs "chunk", "partNumber", "totalParts" and "transitionId"`)
		}
		return &TransitionChunk{Chunk: *w.Chunk, PartNumber: *w.PartNumber, TotalParts: *w.TotalParts,
			TransitionID: *w.TransitionID}, nil
	case TypeMutationResponse, TypeActionResponse:
		return decodeResponse(typ, data)
	case TypeAuthError:
		var w authErrorWire
		if err := strict(typ, data, &w); err != nil {
			return nil, err
		}
		if w.Error == nil {
			return nil, malformed(typ, `missing "error"`)
		}
		m := &AuthError{Error: *w.Error}
		if w.BaseVersion != nil {
			m.BaseVersion = *w.BaseVersion
		}
		if w.AuthUpdateAttempted != nil {
			m.AuthUpdateAttempted = *w.AuthUpdateAttempted
		}
		return m, nil
	case TypeFatalError:
		var w fatalErrorWire
		if err := strict(typ, data, &w); err != nil {
			return nil, err
		}
		if w.Error == nil {
			return nil, malformed(typ, `missing "error"`)
		}
		return &FatalError{Error: *w.Error}, nil
	case TypePing:
		return &Ping{}, nil
	}
	return nil, &MessageError{Type: typ, Reason: "unknown server message type", Err: ErrUnknownMessageType}
}

func decodeTransition(data []byte) (*Transition, error) {
	const typ = TypeTransition
	var w transitionWire
	if err := strict(typ, data, &w); err != nil {
		return nil, err
	}
	if w.StartVersion == nil || w.EndVersion == nil || w.Modifications == nil {
		return nil, malformed(typ, `needs "startVersion", "endVersion" and "modifications"`)
	}
	t := &Transition{StartVersion: *w.StartVersion, EndVersion: *w.EndVersion,
		ClientClockSkew: w.ClientClockSkew, ServerTS: w.ServerTS,
		Modifications: make([]StateModification, len(*w.Modifications))}
	for i, s := range *w.Modifications {
		if s.QueryID == nil {
			return nil, malformed(typ, `modification %d has no "queryId"`, i)
		}
		m := StateModification{Type: s.Type, QueryID: *s.QueryID, LogLines: s.LogLines, Journal: s.Journal}
		switch s.Type {
		case TypeQueryUpdated:
			if s.Value == nil {
				return nil, malformed(typ, `QueryUpdated %d has no "value"`, i)
			}
			m.Value = s.Value
		case TypeQueryFailed:
			if s.ErrorMessage == nil {
				return nil, malformed(typ, `QueryFailed %d has no "errorMessage"`, i)
			}
			m.ErrorMessage, m.ErrorData = *s.ErrorMessage, s.ErrorData
		case TypeQueryRemoved:
		default:
			return nil, malformed(typ, "modification %d has type %q", i, s.Type)
		}
		t.Modifications[i] = m
	}
	return t, nil
}

func decodeResponse(typ string, data []byte) (ServerMessage, error) {
	var w responseWire
	if err := strict(typ, data, &w); err != nil {
		return nil, err
	}
	if w.RequestID == nil || w.Success == nil || w.Result == nil {
		return nil, malformed(typ, `needs "requestId", "success" and "result"`)
	}
	var errMsg string
	var result json.RawMessage
	if *w.Success {
		result = w.Result
	} else if err := json.Unmarshal(w.Result, &errMsg); err != nil {
		return nil, malformed(typ, `a failure's "result" must be the error message string`)
	}
	if typ == TypeActionResponse {
		return &ActionResponse{RequestID: *w.RequestID, Success: *w.Success, Result: result,
			ErrorMessage: errMsg, ErrorData: w.ErrorData, LogLines: w.LogLines}, nil
	}
	m := &MutationResponse{RequestID: *w.RequestID, Success: *w.Success, Result: result,
		ErrorMessage: errMsg, ErrorData: w.ErrorData, LogLines: w.LogLines}
	if *w.Success {
		if isJSONNull(w.TS) {
			return nil, malformed(typ, `a successful mutation needs "ts"`)
		}
		if err := m.TS.UnmarshalJSON(w.TS); err != nil {
			return nil, &MessageError{Type: typ, Reason: `bad "ts"`, Err: err}
		}
	}
	return m, nil
}
