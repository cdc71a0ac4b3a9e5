// Package browsertest starts the headless Debian Chromium that the browser
// tests drive with chromedp, with the flags this machine's closed network
// needs, and one rule for every such test: outside a full run a missing
// Chromium skips the test, in a full run (AUTHGATE_REQUIRE_POSTGRES set, as
// in CI, where scripts/deps.sh installs it) it fails.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/chromedp/chromedp"
)

// ChromiumPath is Debian's chromium.
const ChromiumPath = "/usr/bin/chromium"

// Start starts Chromium with a fresh profile and the extra options (window
// size, certificate handling) and returns a chromedp context stopped when
// the test ends.
func Start(t testing.TB, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	if _, err := exec.LookPath(ChromiumPath); err != nil {
		if os.Getenv("AUTHGATE_REQUIRE_POSTGRES") != "" {
			t.Fatal("chromium is not installed but this is a full run (scripts/deps.sh installs it)")
		}
		t.Skip("chromium not installed")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(ChromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		// Without these Chromium keeps trying Google's hosts, which the
		// closed network refuses.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.UserDataDir(t.TempDir()),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(opts, extra...)...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[int](`1`)); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}
