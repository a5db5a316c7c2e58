package testserver

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/convexgo/convex/protocol"
)

// ConvexError is an application error carrying data, like the ConvexError
// class of Convex functions. A function that returns one (as a value or a
// pointer, possibly wrapped) fails with the message
// "Uncaught ConvexError: <data>" and with Data as the errorData of the
// response. String data is written as is; other data as JSON with sorted
// keys and Int64 as decimal strings.
type ConvexError struct {
	// Data is any value protocol.EncodeValue accepts.
	Data any
}

// Error returns "Uncaught ConvexError: " followed by the data.
func (e ConvexError) Error() string {
	if s, ok := e.Data.(string); ok {
		return "Uncaught ConvexError: " + s
	}
	b, err := protocol.EncodeValue(e.Data)
	if err == nil {
		var v any
		if v, err = protocol.DecodeValue(b); err == nil {
			b, err = protocol.EncodeCleanJSON(v)
		}
	}
	if err != nil {
		return fmt.Sprintf("Uncaught ConvexError: %v", e.Data)
	}
	return "Uncaught ConvexError: " + string(b)
}

// systemError is an error whose message is reported as is, not as an
// uncaught exception: argument validation and unknown functions.
type systemError struct{ msg string }

func (e *systemError) Error() string { return e.msg }

func sysErrorf(format string, args ...any) error {
	return &systemError{msg: fmt.Sprintf(format, args...)}
}

func notFoundError(fp functionPath) error {
	return sysErrorf("Could not find public function for '%s'.", fp.stripped())
}

// invalidArgumentsError is the backend's BadRequest InvalidArguments,
// raised when a message's args are not a JSON array (an Add without args).
var invalidArgumentsError = &systemError{msg: "Invalid arguments provided"}

// redactedMessage is the message of a failed function as a development
// deployment reports it (crates/application/src/redaction.rs, Display for
// RedactedJsError, and Display for JsError): the request id, "Server
// Error", and the error on the next line, followed by the line break that
// ends the error (and its stack trace, which this server has none of). A
// production deployment would send only the first line.
func redactedMessage(requestID, msg string) string {
	return "[Request ID: " + requestID + "] Server Error\n" + msg + "\n"
}

// newRequestID is RequestId::new: 8 random bytes in hex.
func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// wsRequestID is RequestId::new_for_ws_session: the first 16 hex digits
// of sha256("<session id>|<request id>"), the session id written as a
// lower-case hyphenated UUID.
func wsRequestID(session string, request protocol.RequestID) string {
	sum := sha256.Sum256([]byte(strings.ToLower(session) + "|" + strconv.FormatUint(uint64(request), 10)))
	return hex.EncodeToString(sum[:])[:16]
}

// errorMessage turns a function's error into the message and errorData of
// a failed response. errorData is nil unless err is a ConvexError.
func errorMessage(err error) (string, []byte) {
	var ce ConvexError
	var pce *ConvexError
	switch {
	case errors.As(err, &pce) && pce != nil:
		ce = *pce
	case errors.As(err, &ce):
	default:
		var se *systemError
		if errors.As(err, &se) {
			return se.msg, nil
		}
		var pe *paginationError
		if errors.As(err, &pe) && pe.data != nil {
			data, encErr := protocol.EncodeValue(pe.data)
			if encErr == nil {
				return "Uncaught Error: " + pe.msg, data
			}
		}
		return "Uncaught Error: " + err.Error(), nil
	}
	data, encErr := protocol.EncodeValue(ce.Data)
	if encErr != nil {
		return "Uncaught Error: ConvexError data cannot be encoded: " + encErr.Error(), nil
	}
	return ce.Error(), data
}
