package protocol

import (
	"encoding/json"
	"fmt"
)

// ClientMessage is a message from client to server: *Connect,
// *ModifyQuerySet, *Mutation, *Action, *Authenticate or *Event.
type ClientMessage interface {
	// MessageType returns the message's "type" field.
	MessageType() string
	clientMessage()
}

// Connect opens a session on a new socket.
type Connect struct {
	// SessionID is a hyphenated UUID, the same for every socket of one
	// client, so that the server can deduplicate re-sent mutations.
	SessionID string
	// ConnectionCount is how many sockets this client opened before.
	ConnectionCount uint32
	// LastCloseReason says why the previous socket closed; nil is null.
	LastCloseReason *string
	// MaxObservedTimestamp is the largest ts the client has seen; nil when
	// it has seen none, and then the field is left out.
	MaxObservedTimestamp *Timestamp
	// ClientTS is the client's wall clock in milliseconds since the epoch.
	ClientTS int64
}

// ModifyQuerySet adds queries to and removes queries from the socket's
// query set, moving it from BaseVersion to NewVersion.
type ModifyQuerySet struct {
	BaseVersion   QuerySetVersion
	NewVersion    QuerySetVersion
	Modifications []QuerySetModification
}

// QuerySetModification is an Add or a Remove inside a ModifyQuerySet.
type QuerySetModification struct {
	Type    string // TypeAdd or TypeRemove
	QueryID QueryID
	// The fields below are for TypeAdd only.
	UDFPath string
	// Args is the encoded arguments object; on the wire it is wrapped in a
	// one-element array. Empty means {}. DecodeClientMessage sets it to
	// "null" for an Add that has no args (or args null): the backend
	// accepts that message and fails the query instead.
	Args          json.RawMessage
	Journal       *string
	ComponentPath string
}

// Mutation asks the server to run a mutation.
type Mutation struct {
	RequestID     RequestID
	UDFPath       string
	Args          json.RawMessage // the arguments object; empty means {}
	ComponentPath string
}

// Action asks the server to run an action.
type Action struct {
	RequestID     RequestID
	UDFPath       string
	Args          json.RawMessage // the arguments object; empty means {}
	ComponentPath string
}

// Authenticate sets or clears the socket's identity.
type Authenticate struct {
	TokenType     string // TokenTypeUser, TokenTypeAdmin or TokenTypeNone
	Value         string // the token; left out when empty
	BaseVersion   IdentityVersion
	Impersonating json.RawMessage // Admin only; left out when empty
}

// Event carries client telemetry, which the server logs and ignores.
type Event struct {
	EventType string
	Event     json.RawMessage
}

func (*Connect) clientMessage()        {}
func (*ModifyQuerySet) clientMessage() {}
func (*Mutation) clientMessage()       {}
func (*Action) clientMessage()         {}
func (*Authenticate) clientMessage()   {}
func (*Event) clientMessage()          {}

// MessageType returns TypeConnect.
func (*Connect) MessageType() string { return TypeConnect }

// MessageType returns TypeModifyQuerySet.
func (*ModifyQuerySet) MessageType() string { return TypeModifyQuerySet }

// MessageType returns TypeMutation.
func (*Mutation) MessageType() string { return TypeMutation }

// MessageType returns TypeAction.
func (*Action) MessageType() string { return TypeAction }

// MessageType returns TypeAuthenticate.
func (*Authenticate) MessageType() string { return TypeAuthenticate }

// MessageType returns TypeEvent.
func (*Event) MessageType() string { return TypeEvent }

type connectWire struct {
	Type                 string     `json:"type"`
	SessionID            *string    `json:"sessionId"`
	ConnectionCount      *uint32    `json:"connectionCount"`
	LastCloseReason      *string    `json:"lastCloseReason"`
	MaxObservedTimestamp *Timestamp `json:"maxObservedTimestamp,omitempty"`
	ClientTS             *int64     `json:"clientTs,omitempty"`
}

type querySetModWire struct {
	Type          string          `json:"type"`
	QueryID       *QueryID        `json:"queryId"`
	UDFPath       string          `json:"udfPath,omitempty"`
	Args          json.RawMessage `json:"args,omitempty"`
	Journal       *string         `json:"journal,omitempty"`
	ComponentPath string          `json:"componentPath,omitempty"`
}

type modifyQuerySetWire struct {
	Type          string             `json:"type"`
	BaseVersion   *QuerySetVersion   `json:"baseVersion"`
	NewVersion    *QuerySetVersion   `json:"newVersion"`
	Modifications *[]querySetModWire `json:"modifications"`
}

type requestWire struct {
	Type          string          `json:"type"`
	RequestID     *RequestID      `json:"requestId"`
	UDFPath       *string         `json:"udfPath"`
	Args          json.RawMessage `json:"args"`
	ComponentPath string          `json:"componentPath,omitempty"`
}

type authenticateWire struct {
	Type          string           `json:"type"`
	TokenType     string           `json:"tokenType"`
	Value         string           `json:"value,omitempty"`
	BaseVersion   *IdentityVersion `json:"baseVersion"`
	Impersonating json.RawMessage  `json:"impersonating,omitempty"`
	ActingAs      json.RawMessage  `json:"acting_as,omitempty"`
}

type eventWire struct {
	Type      string          `json:"type"`
	EventType string          `json:"eventType"`
	Event     json.RawMessage `json:"event"`
}

// EncodeClientMessage encodes m as the JSON text of one WebSocket frame.
func EncodeClientMessage(m ClientMessage) ([]byte, error) {
	switch m := m.(type) {
	case *Connect:
		w := connectWire{
			Type:                 TypeConnect,
			SessionID:            &m.SessionID,
			ConnectionCount:      &m.ConnectionCount,
			LastCloseReason:      m.LastCloseReason,
			MaxObservedTimestamp: m.MaxObservedTimestamp,
			ClientTS:             &m.ClientTS,
		}
		return json.Marshal(w)
	case *ModifyQuerySet:
		mods := make([]querySetModWire, len(m.Modifications))
		for i := range m.Modifications {
			q := &m.Modifications[i]
			switch q.Type {
			case TypeAdd:
				mods[i] = querySetModWire{Type: TypeAdd, QueryID: &q.QueryID, UDFPath: q.UDFPath,
					Args: encodeArgsArray(q.Args), Journal: q.Journal, ComponentPath: q.ComponentPath}
			case TypeRemove:
				mods[i] = querySetModWire{Type: TypeRemove, QueryID: &q.QueryID}
			default:
				return nil, fmt.Errorf("convex: query set modification type %q is neither Add nor Remove", q.Type)
			}
		}
		return json.Marshal(modifyQuerySetWire{Type: TypeModifyQuerySet, BaseVersion: &m.BaseVersion,
			NewVersion: &m.NewVersion, Modifications: &mods})
	case *Mutation:
		return json.Marshal(requestWire{Type: TypeMutation, RequestID: &m.RequestID, UDFPath: &m.UDFPath,
			Args: encodeArgsArray(m.Args), ComponentPath: m.ComponentPath})
	case *Action:
		return json.Marshal(requestWire{Type: TypeAction, RequestID: &m.RequestID, UDFPath: &m.UDFPath,
			Args: encodeArgsArray(m.Args), ComponentPath: m.ComponentPath})
	case *Authenticate:
		return json.Marshal(authenticateWire{Type: TypeAuthenticate, TokenType: m.TokenType, Value: m.Value,
			BaseVersion: &m.BaseVersion, Impersonating: m.Impersonating})
	case *Event:
		ev := m.Event
		if len(ev) == 0 {
			ev = json.RawMessage("null")
		}
		return json.Marshal(eventWire{Type: TypeEvent, EventType: m.EventType, Event: ev})
	case nil:
		return nil, fmt.Errorf("convex: cannot encode a nil client message")
	}
	return nil, fmt.Errorf("convex: unknown client message type %T", m)
}

// DecodeClientMessage decodes one frame sent by a client. A server uses it.
// Frames that are not valid client messages give a *MessageError.
func DecodeClientMessage(data []byte) (ClientMessage, error) {
	typ, err := peekType(data)
	if err != nil {
		return nil, err
	}
	switch typ {
	case TypeConnect:
		var w connectWire
		if err := strict(typ, data, &w); err != nil {
			return nil, err
		}
		if w.SessionID == nil {
			return nil, malformed(typ, `missing "sessionId"`)
		}
		if w.ConnectionCount == nil {
			return nil, malformed(typ, `missing "connectionCount"`)
		}
		m := &Connect{SessionID: *w.SessionID, ConnectionCount: *w.ConnectionCount,
			LastCloseReason: w.LastCloseReason, MaxObservedTimestamp: w.MaxObservedTimestamp}
		if w.ClientTS != nil {
			m.ClientTS = *w.ClientTS
		}
		return m, nil
	case TypeModifyQuerySet:
		var w modifyQuerySetWire
		if err := strict(typ, data, &w); err != nil {
			return nil, err
		}
		if w.BaseVersion == nil || w.NewVersion == nil || w.Modifications == nil {
			return nil, malformed(typ, `needs "baseVersion", "newVersion" and "modifications"`)
		}
		m := &ModifyQuerySet{BaseVersion: *w.BaseVersion, NewVersion: *w.NewVersion,
			Modifications: make([]QuerySetModification, len(*w.Modifications))}
		for i, q := range *w.Modifications {
			if q.QueryID == nil {
				return nil, malformed(typ, `modification %d has no "queryId"`, i)
			}
			switch q.Type {
			case TypeAdd:
				if q.UDFPath == "" {
					return nil, malformed(typ, `Add %d has no "udfPath"`, i)
				}
				args := json.RawMessage("null")
				if q.Args != nil && string(q.Args) != "null" {
					var err error
					if args, err = decodeArgsArray(typ, q.Args); err != nil {
						return nil, err
					}
				}
				m.Modifications[i] = QuerySetModification{Type: TypeAdd, QueryID: *q.QueryID, UDFPath: q.UDFPath,
					Args: args, Journal: q.Journal, ComponentPath: q.ComponentPath}
			case TypeRemove:
				m.Modifications[i] = QuerySetModification{Type: TypeRemove, QueryID: *q.QueryID}
			default:
				return nil, malformed(typ, "modification %d has type %q", i, q.Type)
			}
		}
		return m, nil
	case TypeMutation, TypeAction:
		var w requestWire
		if err := strict(typ, data, &w); err != nil {
			return nil, err
		}
		if w.RequestID == nil || w.UDFPath == nil {
			return nil, malformed(typ, `needs "requestId" and "udfPath"`)
		}
		args, err := decodeArgsArray(typ, w.Args)
		if err != nil {
			return nil, err
		}
		if typ == TypeMutation {
			return &Mutation{RequestID: *w.RequestID, UDFPath: *w.UDFPath, Args: args, ComponentPath: w.ComponentPath}, nil
		}
		return &Action{RequestID: *w.RequestID, UDFPath: *w.UDFPath, Args: args, ComponentPath: w.ComponentPath}, nil
	case TypeAuthenticate:
		var w authenticateWire
		if err := strict(typ, data, &w); err != nil {
			return nil, err
		}
		if w.BaseVersion == nil {
			return nil, malformed(typ, `missing "baseVersion"`)
		}
		switch w.TokenType {
		case TokenTypeUser, TokenTypeAdmin:
			if w.Value == "" {
				return nil, malformed(typ, `token type %q needs a "value"`, w.TokenType)
			}
		case TokenTypeNone:
		default:
			return nil, malformed(typ, "unknown tokenType %q", w.TokenType)
		}
		imp := w.Impersonating
		if imp == nil {
			imp = w.ActingAs
		}
		return &Authenticate{TokenType: w.TokenType, Value: w.Value, BaseVersion: *w.BaseVersion, Impersonating: imp}, nil
	case TypeEvent:
		var w eventWire
		if err := strict(typ, data, &w); err != nil {
			return nil, err
		}
		return &Event{EventType: w.EventType, Event: w.Event}, nil
	}
	return nil, &MessageError{Type: typ, Reason: "unknown client message type", Err: ErrUnknownMessageType}
}
