package shop_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if the shop leaves goroutines behind after
// Shutdown.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
