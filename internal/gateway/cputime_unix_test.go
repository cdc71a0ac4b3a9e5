//go:build unix

package gateway_test

import (
	"syscall"
	"time"
)

// processCPU is the CPU time the process has used (user and system): a
// benchmark's per-request cost that, unlike its wall time, does not grow
// while other processes hold the cores.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
