package protocol

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strconv"
)

// Timestamp is a database timestamp: nanoseconds since the Unix epoch as an
// unsigned 64-bit number. On the wire it is the standard padded base64 of
// its 8 little-endian bytes ("EncodedU64").
type Timestamp uint64

// EncodeU64 encodes n as base64 of its 8 little-endian bytes.
func EncodeU64(n uint64) string {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], n)
	return base64.StdEncoding.EncodeToString(b[:])
}

// DecodeU64 decodes an EncodedU64. It rejects anything that does not decode
// to exactly 8 bytes. Like the official client it also accepts the URL-safe
// alphabet.
func DecodeU64(s string) (uint64, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		var err2 error
		b, err2 = base64.URLEncoding.DecodeString(s)
		if err2 != nil {
			return 0, fmt.Errorf("convex: encoded u64 %q is not base64: %w", s, err)
		}
	}
	if len(b) != 8 {
		return 0, fmt.Errorf("convex: encoded u64 %q holds %d bytes, not 8", s, len(b))
	}
	return binary.LittleEndian.Uint64(b), nil
}

// String returns the timestamp in decimal.
func (t Timestamp) String() string { return strconv.FormatUint(uint64(t), 10) }

// MarshalJSON encodes t as a JSON string holding its EncodedU64.
func (t Timestamp) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 14)
	b = append(b, '"')
	b = append(b, EncodeU64(uint64(t))...)
	return append(b, '"'), nil
}

// UnmarshalJSON decodes a JSON string holding an EncodedU64.
func (t *Timestamp) UnmarshalJSON(data []byte) error {
	if len(data) < 2 || data[0] != '"' || data[len(data)-1] != '"' {
		return fmt.Errorf("convex: timestamp must be a base64 string, got %.40s", data)
	}
	n, err := DecodeU64(string(data[1 : len(data)-1]))
	if err != nil {
		return err
	}
	*t = Timestamp(n)
	return nil
}
