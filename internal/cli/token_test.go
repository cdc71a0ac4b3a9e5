package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/oauth2"
	"github.com/authgate/authgate/internal/testutil/agtest"
)

func TestTokenCommandCachesToken(t *testing.T) {
	e := agtest.Start(t, agtest.Options{}, func(svc core.Services) []httpapi.Module {
		m, err := oauth2.New(svc, oauth2.DefaultConfig(), oauth2.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return []httpapi.Module{m}
	})
	cache := filepath.Join(t.TempDir(), "tokens.json")
	t.Setenv("AUTHGATE_SECRET", e.Admin.Secret)
	run := func(args ...string) string {
		var out, errb bytes.Buffer
		if code := Main(append([]string{"token", "--url", e.URL, "--key", e.Admin.Key, "--cache", cache}, args...), nil, &out, &errb); code != 0 {
			t.Fatalf("authgate token: exit %d: %s", code, errb.String())
		}
		return strings.TrimSpace(out.String())
	}
	first := run()
	if len(first) < 40 {
		t.Fatalf("token %q", first)
	}
	if second := run(); second != first {
		t.Fatal("second run did not reuse the cached token")
	}
	if st, err := os.Stat(cache); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("cache mode: %v %v", st, err)
	}
	if b, _ := os.ReadFile(cache); bytes.Contains(b, []byte(e.Admin.Secret)) {
		t.Fatal("the secret must never be written to the cache")
	}
	if js := run("--json"); !strings.Contains(js, `"access_token": "`+first+`"`) {
		t.Fatalf("--json output: %s", js)
	}
	var errb bytes.Buffer
	t.Setenv("AUTHGATE_SECRET", "wrong")
	if code := Main([]string{"token", "--url", e.URL, "--key", e.Admin.Key, "--no-cache"}, nil, &bytes.Buffer{}, &errb); code == 0 || !strings.Contains(errb.String(), "invalid_grant") {
		t.Fatalf("wrong secret: exit %d, %s", code, errb.String())
	}
}
