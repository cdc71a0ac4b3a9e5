package tpv_test

import (
	"context"
	"net/url"
	"sync"
	"testing"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/tpv"
	"github.com/authgate/authgate/internal/testutil/agtest"
	sdk "github.com/authgate/authgate/sdk/tpv"
)

// outcomes is a core.Observer that keeps the authentication outcomes.
type outcomes struct {
	core.NopObserver
	mu  sync.Mutex
	got []string
}

func (o *outcomes) AuthOutcome(family, scheme string, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	result := "ok"
	if err != nil {
		result = core.KindOf(err).String()
	}
	o.got = append(o.got, family+"/"+scheme+"/"+result)
}

// TestBuiltInRoutesObserveTheScheme: a request to a built-in TPV route is
// one observed tpv-signature authentication, success or failure, as a
// gateway request is (the registry observes the scheme it hands over).
func TestBuiltInRoutesObserveTheScheme(t *testing.T) {
	obs := &outcomes{}
	cfg := tpv.DefaultConfig()
	env := agtest.Start(t, agtest.Options{}, func(svc core.Services) []httpapi.Module {
		d := tpv.DepsFrom(svc, httpapi.ClientAddr{})
		d.Observer = obs
		return []httpapi.Module{tpv.New(cfg, d)}
	})
	b, err := tpv.CreateBrand(context.Background(), env.Svc, "", "Acme Energy")
	if err != nil {
		t.Fatal(err)
	}
	c := &sdk.Client{BaseURL: env.URL, AppToken: b.ApplicationToken, AppSecret: b.AppSecret, HTTP: env.Srv.Client()}
	if _, err := c.Login(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.TestAPI(context.Background(), url.Values{"a": {"1"}}); err != nil {
		t.Fatal(err)
	}
	wrong := &sdk.Client{BaseURL: env.URL, AppToken: b.ApplicationToken, AppSecret: b.AppSecret, HTTP: env.Srv.Client()}
	if _, err := wrong.Login(context.Background()); err != nil {
		t.Fatal(err)
	}
	wrong.AppSecret = "not the secret"
	if _, err := wrong.TestAPI(context.Background(), url.Values{"a": {"1"}}); err == nil {
		t.Fatal("a wrong signature passed")
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	want := []string{"tpv/tpv-signature/ok", "tpv/tpv-signature/unauthenticated"}
	if len(obs.got) != 2 || obs.got[0] != want[0] || obs.got[1] != want[1] {
		t.Fatalf("outcomes %v, want %v (one per request)", obs.got, want)
	}
}
