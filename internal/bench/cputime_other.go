//go:build !unix

package bench

import "time"

// ProcessCPU is unknown here: 0, and benchmarks report no CPU time.
func ProcessCPU() time.Duration { return 0 }
