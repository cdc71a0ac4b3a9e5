package core

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestLogSafe(t *testing.T) {
	long := "user\n\x1b[31m" + strings.Repeat("é", 5<<10) // 10 kB
	tests := []struct {
		in, want string
	}{
		{"alice@example.com", "alice@example.com"},
		{"Jürgen Müller", "Jürgen Müller"},
		{"a\nb\r\x00\x1b[0m", `a\x0ab\x0d\x00\x1b[0m`},
		{"back\\slash", `back\\slash`},
		{"rlo\u202egnp.exe", `rlo\u202egnp.exe`},
		{"bad\xffutf8", `bad\xffutf8`},
		{"", ""},
	}
	for _, tt := range tests {
		if got := LogSafe(tt.in, 64); got != tt.want {
			t.Errorf("LogSafe(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	got := LogSafe(long, 64)
	if !strings.HasPrefix(got, `user\x0a\x1b[31méé`) || !strings.Contains(got, "...(10250 bytes, sha256:") || len(got) > 64+40 || !utf8.ValidString(got) {
		t.Errorf("LogSafe(10 kB) = %q (%d bytes)", got, len(got))
	}
	if LogSafe(long+"x", 64) == got {
		t.Error("different long values give the same form")
	}
	// An escape is never cut in half at the bound.
	if got := LogSafe(strings.Repeat("\x01", 40), 64); !strings.HasPrefix(got, strings.Repeat(`\x01`, 16)+"...(") {
		t.Errorf("cut inside an escape: %q", got)
	}
}
