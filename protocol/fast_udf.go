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
	_, ok = s.fields(udfResponseFields, func(i int) bool {
		var ok bool
		switch i {
		case 0:
			r.Status, ok = s.stringValue()
		case 1:
			r.Value, ok = s.value(1)
		case 2:
			r.ErrorMessage, ok = s.stringValue()
		case 3:
			r.ErrorData, ok = s.value(1)
		case 4:
			r.LogLines, ok = s.stringArray()
		}
		return ok
	})
	if !ok || !s.end() {
		return UDFResponse{}, false
	}
	return r, true
}

// udfResponseFields are UDFResponse's keys, in fastUDFResponse's order.
var udfResponseFields = []string{"status", "value", "errorMessage", "errorData", "logLines"}
