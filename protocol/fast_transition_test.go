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
