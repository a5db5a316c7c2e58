package protocol

// fastTransition decodes a Transition frame with the scanner, without
// encoding/json. ok is false when data is not a Transition, is invalid, or
// uses anything whose meaning under encoding/json is subtle (a duplicate
// key, a key that differs from a field name only in case, an escaped or
// non-ASCII key, a null where a field has no pointer to clear); the caller
// then uses the reference decoder. So when ok is true the result is the
// one the reference gives, and invalid frames always get the reference's
// error.
func fastTransition(data []byte) (t *Transition, ok bool) {
	s := scanner{data: data}
	t = &Transition{}
	seen, ok := s.fields(transitionFields, func(i int) bool {
		var ok bool
		switch i {
		case 0:
			// Only the exact token: anything else is another message
			// type (or an escaped spelling) for the reference decoder.
			if s.peek() != '"' {
				return false
			}
			var tok []byte
			tok, _, ok = s.str()
			ok = ok && string(tok) == `"Transition"`
		case 1:
			ok = s.stateVersion(&t.StartVersion)
		case 2:
			ok = s.stateVersion(&t.EndVersion)
		case 3:
			t.Modifications, ok = s.modifications()
		case 4:
			t.ClientClockSkew, ok = s.optInt64()
		case 5:
			t.ServerTS, ok = s.optInt64()
		}
		return ok
	})
	const needed = 1<<0 | 1<<1 | 1<<2 | 1<<3 // type, both versions, modifications
	if !ok || !s.end() || seen&needed != needed {
		return nil, false
	}
	return t, true
}

// transitionFields are a Transition's keys, in fastTransition's order.
var transitionFields = []string{"type", "startVersion", "endVersion", "modifications", "clientClockSkew", "serverTs"}

// optInt64 reads null (nil) or an integer into a *int64 field.
func (s *scanner) optInt64() (*int64, bool) {
	if s.peek() == 'n' {
		return nil, s.literal("null")
	}
	n, ok := s.int64Value()
	if !ok {
		return nil, false
	}
	return &n, true
}

// stateVersion reads a StateVersion object.
func (s *scanner) stateVersion(v *StateVersion) bool {
	if !s.eat('{') {
		return false
	}
	if s.eat('}') {
		return true
	}
	seen := 0
	for {
		k, ok := s.key()
		if !ok {
			return false
		}
		switch string(k) {
		case "querySet", "identity":
			bit := 1
			if string(k) == "identity" {
				bit = 2
			}
			if seen&bit != 0 {
				return false
			}
			seen |= bit
			n, ok := s.uintValue(32)
			if !ok {
				return false
			}
			if bit == 1 {
				v.QuerySet = QuerySetVersion(n)
			} else {
				v.Identity = IdentityVersion(n)
			}
		case "ts":
			if seen&4 != 0 || s.peek() != '"' {
				return false
			}
			seen |= 4
			tok, _, ok := s.str()
			if !ok || v.TS.UnmarshalJSON(tok) != nil {
				return false
			}
		default:
			if !unknownKey(string(k), "querySet", "identity", "ts") {
				return false
			}
			s.ws()
			if !s.skip(2) {
				return false
			}
		}
		if s.eat(',') {
			continue
		}
		return s.eat('}')
	}
}

// modifications reads the array of state modifications.
func (s *scanner) modifications() ([]StateModification, bool) {
	if !s.eat('[') {
		return nil, false
	}
	mods := []StateModification{}
	if s.eat(']') {
		return mods, true
	}
	for {
		var m StateModification
		if !s.modification(&m) {
			return nil, false
		}
		mods = append(mods, m)
		if s.eat(',') {
			continue
		}
		return mods, s.eat(']')
	}
}

// modification reads one state modification and checks it as
// decodeTransition does.
func (s *scanner) modification(m *StateModification) bool {
	if !s.eat('{') {
		return false
	}
	const (
		seenType = 1 << iota
		seenID
		seenValue
		seenErrMsg
		seenLog
		seenJournal
		seenErrData
	)
	seen := 0
	var value, errData []byte
	if !s.eat('}') {
		for {
			k, ok := s.key()
			if !ok {
				return false
			}
			bit := 0
			switch string(k) {
			case "type":
				bit = seenType
			case "queryId":
				bit = seenID
			case "value":
				bit = seenValue
			case "errorMessage":
				bit = seenErrMsg
			case "logLines":
				bit = seenLog
			case "journal":
				bit = seenJournal
			case "errorData":
				bit = seenErrData
			default:
				if !unknownKey(string(k), "type", "queryId", "value", "errorMessage", "logLines", "journal", "errorData") {
					return false
				}
			}
			if seen&bit != 0 {
				return false
			}
			seen |= bit
			switch bit {
			case seenType:
				if m.Type, ok = s.stringValue(); !ok {
					return false
				}
			case seenID:
				n, ok := s.uintValue(32)
				if !ok {
					return false
				}
				m.QueryID = QueryID(n)
			case seenValue:
				if value, ok = s.value(2); !ok {
					return false
				}
			case seenErrMsg:
				if m.ErrorMessage, ok = s.stringValue(); !ok {
					return false
				}
			case seenLog:
				if m.LogLines, ok = s.stringArray(); !ok {
					return false
				}
			case seenJournal:
				if s.peek() == 'n' {
					if !s.literal("null") {
						return false
					}
				} else {
					j, ok := s.stringValue()
					if !ok {
						return false
					}
					m.Journal = &j
				}
			case seenErrData:
				if errData, ok = s.value(2); !ok {
					return false
				}
			default:
				s.ws()
				if !s.skip(2) {
					return false
				}
			}
			if s.eat(',') {
				continue
			}
			if !s.eat('}') {
				return false
			}
			break
		}
	}
	if seen&seenID == 0 {
		return false
	}
	switch m.Type {
	case TypeQueryUpdated:
		if value == nil {
			return false
		}
		m.Value = append([]byte(nil), value...)
		m.ErrorMessage = ""
	case TypeQueryFailed:
		if seen&seenErrMsg == 0 {
			return false
		}
		if errData != nil {
			m.ErrorData = append([]byte(nil), errData...)
		}
	case TypeQueryRemoved:
		m.ErrorMessage = ""
	default:
		return false
	}
	return true
}

// stringArray reads null (nil) or an array of strings (never nil).
func (s *scanner) stringArray() ([]string, bool) {
	switch s.peek() {
	case 'n':
		return nil, s.literal("null")
	case '[':
		s.i++
	default:
		return nil, false
	}
	out := []string{}
	if s.eat(']') {
		return out, true
	}
	for {
		e, ok := s.stringValue()
		if !ok {
			return nil, false
		}
		out = append(out, e)
		if s.eat(',') {
			continue
		}
		return out, s.eat(']')
	}
}
