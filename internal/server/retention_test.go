package server

import (
	"testing"
	"time"

	"github.com/ariadne-tracing/ariadne/internal/config"
)

// storage.retention: 0 is documented as "keep everything"; the store's own
// zero means its 7-day default, so the server must pass a negative value.
func TestStoreRetention(t *testing.T) {
	if got := storeRetention(0); got >= 0 {
		t.Fatalf("retention 0: store gets %v, want a negative value (disabled)", got)
	}
	if got := storeRetention(config.Duration(36 * time.Hour)); got != 36*time.Hour {
		t.Fatalf("retention 36h: store gets %v", got)
	}
}
