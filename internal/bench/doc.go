// Package bench measures authgate's request schemes over HTTP on loopback:
// for each scheme it drives a closed-loop load (fixed concurrency, fixed
// duration) and reports requests per second with p50/p99 latency, next to a
// bare net/http handler and the scheme's raw crypto operation measured in
// the same run, so the figures are ratios that survive a noisy machine.
//
// The load generator runs in the same process as the server when benching
// in-process; both share the machine's cores, which the report states.
package bench
