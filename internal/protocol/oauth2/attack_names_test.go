package oauth2_test

import (
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/testutil/agtest"
)

// A key name is shown in listings, logs and audit records: NUL, newlines
// and bidi overrides (which make "txt.exe" display as "exe.txt") are
// refused with 400 in the route's error shape, on creation and rename.
func TestAttack_KeyNameControlAndBidiCharacters(t *testing.T) {
	e := start(t, agtest.Options{}, false, nil)
	adminTok, _ := e.passwordGrant(e.Admin.Key, e.Admin.Secret)
	key, secret := e.createKey(adminTok, "Names Org")
	userTok, _ := e.passwordGrant(key, secret)
	json := with(bearer(userTok), "Content-Type", "application/json")
	names := map[string]string{
		"NUL":              `a\u0000b`,
		"newline":          `a\nforged log line`,
		"escape":           `a\u001b[31mred`,
		"C1 control":       `a\u0085b`,
		"RLO override":     `invoice\u202Eexe.txt`,
		"LRE embedding":    `a\u202Ab`,
		"FSI isolate":      `a\u2068b`,
		"PDI isolate":      `a\u2069b`,
		"line separator":   `a\u2028b`,
		"too long":         strings.Repeat("n", 201),
		"only spaces":      `   `,
		"RLM mark":         `a\u200Fb`,
		"arabic letter mk": `a\u061Cb`,
	}
	for name, n := range names {
		t.Run(name, func(t *testing.T) {
			body := `{"Name":"` + n + `"}`
			// An ordinary caller creating a key in its organisation, the admin creating an organisation, a rename.
			checkError(t, e.do("POST", "/accesskeys", json, body), 400, "invalid_request", "Name must", "")
			checkError(t, e.do("POST", "/accesskeys", with(bearer(adminTok), "Content-Type", "application/json"), body), 400, "invalid_request", "Name must", "")
			checkError(t, e.do("PUT", "/accesskeys/"+key, json, body), 400, "invalid_request", "Name must", "")
		})
	}
	// Ordinary non-ASCII names stay accepted.
	e.createKey(userTok, "Schlüssel für Geräte 鍵")
}
