package protocol

// fastUDFResponse decodes a UDFResponse with the scanner, without
// encoding/json. ok is false when data is invalid or uses anything whose
// meaning under encoding/json is subtle (a duplicate key, a key that
// differs from a field name only in case, an escaped or non-ASCII key, a
// null for a string field); the caller then uses encoding/json. So when ok
// is true the result is the one json.Unmarshal gives, except that Value
// and ErrorData alias data.
func fastUDFResponse(data []byte) (r UDFResponse, ok bool) {
	s := scanner{data: data}
	if !s.eat('{') {
		return UDFResponse{}, false
	}
	const (
		seenStatus = 1 << iota
		seenValue
		seenMessage
		seenData
		seenLines
	)
	seen := 0
	once := func(bit int) bool {
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	}
	if !s.eat('}') {
		for {
			k, ok := s.key()
			if !ok {
				return UDFResponse{}, false
			}
			switch string(k) {
			case "status":
				if !once(seenStatus) {
					return UDFResponse{}, false
				}
				if r.Status, ok = s.stringValue(); !ok {
					return UDFResponse{}, false
				}
			case "value":
				if !once(seenValue) {
					return UDFResponse{}, false
				}
				if r.Value, ok = s.value(1); !ok {
					return UDFResponse{}, false
				}
			case "errorMessage":
				if !once(seenMessage) {
					return UDFResponse{}, false
				}
				if r.ErrorMessage, ok = s.stringValue(); !ok {
					return UDFResponse{}, false
				}
			case "errorData":
				if !once(seenData) {
					return UDFResponse{}, false
				}
				if r.ErrorData, ok = s.value(1); !ok {
					return UDFResponse{}, false
				}
			case "logLines":
				if !once(seenLines) {
					return UDFResponse{}, false
				}
				if r.LogLines, ok = s.stringArray(); !ok {
					return UDFResponse{}, false
				}
			default:
				if !unknownKey(string(k), "status", "value", "errorMessage", "errorData", "logLines") {
					return UDFResponse{}, false
				}
				s.ws()
				if !s.skip(1) {
					return UDFResponse{}, false
				}
			}
			if s.eat(',') {
				continue
			}
			if !s.eat('}') {
				return UDFResponse{}, false
			}
			break
		}
	}
	if !s.end() {
		return UDFResponse{}, false
	}
	return r, true
}
