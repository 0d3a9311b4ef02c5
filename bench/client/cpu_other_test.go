//go:build !unix

package client

import "time"

// processCPU reports that the CPU time is not measured here.
func processCPU() (time.Duration, bool) { return 0, false }
