package serverauth_test

import (
	"testing"

	"github.com/convexgo/convex/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }
