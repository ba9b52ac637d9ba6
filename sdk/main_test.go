package sdk

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves goroutines behind (a guard
// watcher, a remote sampler poller, an exporter).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
