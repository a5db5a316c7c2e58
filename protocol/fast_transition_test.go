package protocol

import (
	"reflect"
	"testing"
)

// TestFastTransitionTakesServerFrames checks that the frames servers send
// are read by the fast path (not handed to the reference), with the
// reference's result.
func TestFastTransitionTakesServerFrames(t *testing.T) {
	frames := [][]byte{transitionFrame(t, 100, 1024), transitionFrame(t, 0, 0)}
	for _, i := range []int{0, 1, 2, 7, 8, 12, 15} {
		frames = append(frames, []byte(transitionSeeds[i]))
	}
	for _, data := range frames {
		fast, ok := fastTransition(data)
		if !ok {
			t.Errorf("fast path declined %.200q", data)
			continue
		}
		ref, err := decodeServerMessageRef(data)
		if err != nil {
			t.Fatalf("reference refuses %.200q: %v", data, err)
		}
		if !reflect.DeepEqual(ServerMessage(fast), ref) {
			t.Errorf("fast path and reference differ on %.200q", data)
		}
	}
}

// TestFastTransitionDeclines checks that odd or invalid frames go to the
// reference decoder.
func TestFastTransitionDeclines(t *testing.T) {
	for _, i := range []int{3, 4, 5, 6, 9, 10, 11, 13, 14, 16} {
		if _, ok := fastTransition([]byte(transitionSeeds[i])); ok {
			t.Errorf("fast path took %q", transitionSeeds[i])
		}
	}
}

// TestFastValueTakesValues checks that ordinary values are read by the
// fast value decoder, with the reference's result.
func TestFastValueTakesValues(t *testing.T) {
	m, err := DecodeServerMessage(transitionFrame(t, 3, 1024))
	if err != nil {
		t.Fatal(err)
	}
	values := []string{`{"b":[1,{"$integer":"AQAAAAAAAAA="}],"a":{"c":null,"d":{"$bytes":"AQ=="},"e":{"$float":"AAAAAAAA+H8="}}}`, `-0`, `"\u00e9"`}
	for _, mod := range m.(*Transition).Modifications {
		values = append(values, string(mod.Value))
	}
	for _, s := range values {
		fast, ok := fastValue([]byte(s), 0)
		if !ok {
			t.Errorf("fast path declined %.200q", s)
			continue
		}
		ref, err := decodeValueRef([]byte(s), 0)
		if err != nil || !equalValues(fast, ref) {
			t.Errorf("fast path and reference differ on %.200q (%v)", s, err)
		}
	}
}
