// Package packaging tests the deploy files at the repository root: the
// Dockerfile (its go build flags are read from it and the binary they make
// must be static and start) and the systemd unit under deploy/ (checked
// with systemd-analyze). It has no code of its own.
package packaging
