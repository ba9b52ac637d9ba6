//go:build !unix

package ingest

import (
	"testing"
	"time"
)

func reportCPU(*testing.B, time.Duration, int) {}

func cpuTime() time.Duration { return 0 }
