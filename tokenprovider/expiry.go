package tokenprovider

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
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
	data, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return time.Time{}, time.Time{}, false
	}
	e, i, err := readTimes(data)
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
	if string(raw) == "null" {
		return nil, nil
	}
	// raw is a whole JSON value (the payload passed json.Valid), so it is
	// a number exactly when it starts like one, and then ParseFloat reads
	// it as encoding/json does (out of range is an error for both).
	if len(raw) == 0 || raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
		return nil, errors.New("not a number")
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return nil, errors.New("not a number")
	}
	if f == 0 {
		return nil, nil
	}
	sec, frac := math.Modf(f)
	t := jwt.NewNumericDate(time.Unix(int64(sec), int64(frac*1e9))).Time
	return &t, nil
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
