package tokenprovider

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Refresh schedule constants, as the official JavaScript client uses them.
const (
	// DefaultRefreshLeeway is how long before the end of a token's life
	// RefreshDelay schedules the refresh.
	DefaultRefreshLeeway = 10 * time.Second
	// MaxRefreshDelay is the longest delay RefreshDelay returns.
	MaxRefreshDelay = 20 * 24 * time.Hour
	// minRefreshLifetime: a token living this long or less is never
	// scheduled for refresh.
	minRefreshLifetime = 2 * time.Second
)

// Expiry reads the "iat" and "exp" claims of a JWT without verifying it.
// Use the values only to decide when to refresh or whether a cached token
// is stale, never to decide whether to trust the token.
//
// ok is false when the token is not a JWT whose payload can be read or has
// no valid "exp"; iat is the zero Time when the token has no "iat".
func Expiry(token string) (iat, exp time.Time, ok bool) {
	if token == "" {
		return time.Time{}, time.Time{}, false
	}
	// Only the payload's "exp" and "iat" are read: a session cache calls
	// this on every hit, and parsing the header and every claim of a large
	// token into maps was a quarter of a server-rendered request.
	_, rest, ok1 := strings.Cut(token, ".")
	payload, _, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 {
		return time.Time{}, time.Time{}, false
	}
	// A Better Auth token's payload fits the stack buffer; AppendDecode
	// moves to the heap only for a larger one.
	var buf [1024]byte
	data, err := base64.RawURLEncoding.AppendDecode(buf[:0], []byte(payload))
	if err != nil {
		return time.Time{}, time.Time{}, false
	}
	if e, i, ok := scanTimes(data); ok {
		return i, e, true
	}
	// A copy, so that buf (which readTimes's encoding/json would keep
	// from the stack) does not escape on the common path.
	e, i, err := readTimes(bytes.Clone(data))
	if err != nil || e == nil {
		return time.Time{}, time.Time{}, false
	}
	if i != nil {
		iat = *i
	}
	return iat, *e, true
}

// readTimes reads the top-level "exp" and "iat" of a JSON object, matched
// exactly (claim names are case-sensitive), as NumericDate seconds. The
// object is checked with json.Valid first; the scan then only has to find
// member boundaries. A payload whose names use escapes is read with
// encoding/json instead.
func readTimes(data []byte) (exp, iat *time.Time, err error) {
	if !json.Valid(data) {
		return nil, nil, errors.New("payload is not JSON")
	}
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return nil, nil, errors.New("payload is not a JSON object")
	}
	i++
	for {
		i = skipSpace(data, i)
		if data[i] == '}' {
			return exp, iat, nil
		}
		if data[i] == ',' {
			i = skipSpace(data, i+1)
		}
		end := stringEnd(data, i)
		name := data[i+1 : end-1]
		if bytes.IndexByte(name, '\\') >= 0 {
			return readTimesSlow(data)
		}
		i = skipSpace(data, end)
		i = skipSpace(data, i+1) // the ':'
		vend := valueEnd(data, i)
		// string(name) in the comparisons does not allocate; a name kept
		// in a variable would, for every member of the payload.
		if isExp := string(name) == "exp"; isExp || string(name) == "iat" {
			t, err := numericDate(data[i:vend])
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", name, err)
			}
			if isExp {
				exp = t
			} else {
				iat = t
			}
		}
		i = vend
	}
}

// scanTimes is readTimes in one pass, checking the JSON as it goes instead
// of with json.Valid first, and without allocating. It returns ok only when
// data is valid JSON (by the grammar json.Valid checks), every member name
// is free of escapes, and "exp" is present and readable; then exp and iat
// are what readTimes gives. Everything else (including every error) is
// left to readTimes, so that its results, fuzzed against golang-jwt's, stay
// the definition.
func scanTimes(data []byte) (exp, iat time.Time, ok bool) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return time.Time{}, time.Time{}, false
	}
	i = skipSpace(data, i+1)
	hasExp := false
	if i < len(data) && data[i] == '}' {
		i++
	} else {
		for {
			if i >= len(data) || data[i] != '"' {
				return time.Time{}, time.Time{}, false
			}
			end, escaped := strictStringEnd(data, i)
			if end < 0 || escaped {
				return time.Time{}, time.Time{}, false
			}
			name := data[i+1 : end-1]
			i = skipSpace(data, end)
			if i >= len(data) || data[i] != ':' {
				return time.Time{}, time.Time{}, false
			}
			i = skipSpace(data, i+1)
			vend := strictValueEnd(data, i, 1)
			if vend < 0 {
				return time.Time{}, time.Time{}, false
			}
			if isExp := string(name) == "exp"; isExp || string(name) == "iat" {
				t, present, err := numericTime(data[i:vend])
				if err != nil {
					return time.Time{}, time.Time{}, false
				}
				if isExp {
					exp, hasExp = t, present
				} else {
					iat = t
				}
			}
			i = skipSpace(data, vend)
			if i < len(data) && data[i] == ',' {
				i = skipSpace(data, i+1)
				continue
			}
			if i < len(data) && data[i] == '}' {
				i++
				break
			}
			return time.Time{}, time.Time{}, false
		}
	}
	if skipSpace(data, i) != len(data) || !hasExp {
		return time.Time{}, time.Time{}, false
	}
	return exp, iat, true
}

// maxScanDepth bounds the nesting scanTimes follows; deeper payloads go to
// readTimes (json.Valid's own limit is 10000).
const maxScanDepth = 100

// strictStringEnd returns the index after the JSON string at b[i] (a '"'),
// and whether it holds an escape, or -1 if it is not a valid JSON string:
// unterminated, with a control character or with a bad escape. Bytes from
// 0x80 up are accepted as they are, as json.Valid accepts them.
func strictStringEnd(b []byte, i int) (end int, escaped bool) {
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return j + 1, escaped
		case c < 0x20:
			return -1, false
		case c == '\\':
			escaped = true
			if j+1 >= len(b) {
				return -1, false
			}
			switch b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j++
			case 'u':
				if j+5 >= len(b) || !isHex(b[j+2]) || !isHex(b[j+3]) || !isHex(b[j+4]) || !isHex(b[j+5]) {
					return -1, false
				}
				j += 5
			default:
				return -1, false
			}
		}
	}
	return -1, false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// strictValueEnd returns the index after the JSON value at b[i], or -1 if
// there is no valid one there (or it nests deeper than maxScanDepth).
func strictValueEnd(b []byte, i, depth int) int {
	if i >= len(b) {
		return -1
	}
	switch c := b[i]; {
	case c == '"':
		end, _ := strictStringEnd(b, i)
		return end
	case c == '{' || c == '[':
		if depth >= maxScanDepth {
			return -1
		}
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == closing {
			return i + 1
		}
		for {
			if c == '{' {
				if i >= len(b) || b[i] != '"' {
					return -1
				}
				end, _ := strictStringEnd(b, i)
				if end < 0 {
					return -1
				}
				i = skipSpace(b, end)
				if i >= len(b) || b[i] != ':' {
					return -1
				}
				i = skipSpace(b, i+1)
			}
			if i = strictValueEnd(b, i, depth+1); i < 0 {
				return -1
			}
			i = skipSpace(b, i)
			if i < len(b) && b[i] == ',' {
				i = skipSpace(b, i+1)
				continue
			}
			if i < len(b) && b[i] == closing {
				return i + 1
			}
			return -1
		}
	case c == 't':
		return literalEnd(b, i, "true")
	case c == 'f':
		return literalEnd(b, i, "false")
	case c == 'n':
		return literalEnd(b, i, "null")
	}
	return numberEnd(b, i)
}

func literalEnd(b []byte, i int, lit string) int {
	if len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit {
		return i + len(lit)
	}
	return -1
}

// numberEnd returns the index after the JSON number at b[i], or -1:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func numberEnd(b []byte, i int) int {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return -1
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return -1
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	return i
}

func readTimesSlow(data []byte) (exp, iat *time.Time, err error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, nil, err
	}
	for name, dst := range map[string]**time.Time{"exp": &exp, "iat": &iat} {
		if raw, ok := m[name]; ok {
			if *dst, err = numericDate(raw); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", name, err)
			}
		}
	}
	return exp, iat, nil
}

// numericDate reads a JSON number of seconds; null and 0 are absent, as
// golang-jwt reads them.
func numericDate(raw []byte) (*time.Time, error) {
	t, present, err := numericTime(raw)
	if err != nil || !present {
		return nil, err
	}
	return &t, nil
}

// numericTime is numericDate without the allocation: present is false for
// null and 0.
func numericTime(raw []byte) (t time.Time, present bool, err error) {
	if string(raw) == "null" {
		return time.Time{}, false, nil
	}
	// raw is a whole JSON value (the payload passed json.Valid), so it is
	// a number exactly when it starts like one, and then ParseFloat reads
	// it as encoding/json does (out of range is an error for both).
	if len(raw) == 0 || raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
		return time.Time{}, false, errors.New("not a number")
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return time.Time{}, false, errors.New("not a number")
	}
	if f == 0 {
		return time.Time{}, false, nil
	}
	sec, frac := math.Modf(f)
	return jwt.NewNumericDate(time.Unix(int64(sec), int64(frac*1e9))).Time, true, nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index after the JSON string starting at b[i].
func stringEnd(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(b)
}

// valueEnd returns the index after the JSON value starting at b[i] (b is
// valid JSON, so only strings and nesting need care).
func valueEnd(b []byte, i int) int {
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = stringEnd(b, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return len(b)
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
		j++
	}
	return j
}

// RefreshDelay is how long after the deployment confirms token a refresh
// should be asked for, by the official client's rule:
// min(MaxRefreshDelay, (exp - iat) - leeway), where leeway is normally
// DefaultRefreshLeeway. The token's life is measured as exp - iat rather
// than against the local clock, so clock skew does not matter.
//
// ok is false, and no refresh should be scheduled, when the token lacks
// "iat" or "exp" or lives 2 seconds or less. A delay of 0 means "refresh
// now".
func RefreshDelay(token string, leeway time.Duration) (delay time.Duration, ok bool) {
	iat, exp, ok := Expiry(token)
	if !ok || iat.IsZero() {
		return 0, false
	}
	life := exp.Sub(iat)
	if life <= minRefreshLifetime {
		return 0, false
	}
	delay = min(life-leeway, MaxRefreshDelay)
	return max(delay, 0), true
}

// expiryMemo remembers Expiry's answer for recently read tokens, so that a
// token read again and again (a SessionCache re-checks its token's "exp" on
// every hit) is parsed once. It holds at most memoSlots entries, one per
// slot chosen by a hash of the token, each replaced by the next token that
// falls in its slot; an entry is only ever returned
// for a token equal to the one it was made for, so the answer is always
// Expiry's. It is safe for concurrent use; the zero value is ready.
type expiryMemo struct {
	slots [memoSlots]atomic.Pointer[memoEntry]
}

const memoSlots = 256

type memoEntry struct {
	token    string
	iat, exp time.Time
	ok       bool
}

var memoSeed = maphash.MakeSeed()

// expiry is Expiry(token), from the memo when it has token.
func (m *expiryMemo) expiry(token string) (iat, exp time.Time, ok bool) {
	slot := &m.slots[maphash.String(memoSeed, token)%memoSlots]
	if e := slot.Load(); e != nil && e.token == token {
		return e.iat, e.exp, e.ok
	}
	iat, exp, ok = Expiry(token)
	slot.Store(&memoEntry{token: token, iat: iat, exp: exp, ok: ok})
	return iat, exp, ok
}
