package web_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/taap"
	"github.com/authgate/authgate/internal/testutil/agtest"
	"github.com/authgate/authgate/internal/testutil/browsertest"
	"github.com/authgate/authgate/internal/web"
	"github.com/authgate/authgate/sdk/pop"
)

// browser starts a headless Chromium with a fresh profile (browsertest).
func browser(t *testing.T) context.Context {
	t.Helper()
	return browsertest.Start(t)
}

type env struct {
	*agtest.Env
	key    *rsa.PrivateKey
	client taap.ClientInfo
	iccid  string
}

func start(t *testing.T) *env {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	e := agtest.Start(t, agtest.Options{ManualClock: time.Now()}, func(svc core.Services) []httpapi.Module {
		return []httpapi.Module{taap.New(taap.DefaultConfig(), taap.DepsFrom(svc, httpapi.ClientAddr{})), web.New()}
	})
	ctx := context.Background()
	info, err := taap.CreateClient(ctx, e.Svc, taap.ClientSpec{Name: "browser client", PublicKeys: [][]byte{pop.PublicKeyPEM(key)}})
	if err != nil {
		t.Fatal(err)
	}
	iccid := "8901260111111111111"
	iccid += string(taap.LuhnDigit(iccid))
	if _, err := taap.AddSIM(ctx, e.Svc, info.OrgID, taap.SIM{ICCID: iccid}); err != nil {
		t.Fatal(err)
	}
	return &env{Env: e, key: key, client: info, iccid: iccid}
}

// fill sets the page's fields by id, as typing into them would, and
// fails if a field is missing.
func fill(fields map[string]string) chromedp.Action[chromedp.Void] {
	b, _ := json.Marshal(fields)
	return chromedp.Evaluate[chromedp.Void](`(() => {
		const v = ` + string(b) + `;
		for (const id in v) {
			const el = document.getElementById(id);
			if (!el) throw new Error('no field ' + id);
			el.value = v[id];
			el.dispatchEvent(new Event('input', { bubbles: true }));
		}
	})()`)
}

// TestBuilderPageInChromium loads the builder page in headless Chromium,
// fills the fields like a developer would (PKCS#8 and PKCS#1 keys), clicks
// Generate, and sends the request with the token the page produced: the
// server accepts it. The verifier page then explains a failing request.
func TestBuilderPageInChromium(t *testing.T) {
	e := start(t)
	ctx := browser(t)
	e.Clock.Set(time.Now()) // the page signs with the browser's clock

	sdk := &pop.Client{BaseURL: e.URL, ClientID: e.client.ClientID, ClientSecret: e.client.ClientSecret, Builder: &pop.Builder{Key: e.key, Now: e.Clock.Now}}
	tr, err := sdk.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	uri := "/iot-connectivity/v1/devices/" + e.iccid
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(e.key)
	keys := map[string]string{
		"PKCS#8": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})),
		"PKCS#1": string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(e.key)})),
	}
	// Every request the tab makes, to show the private key never leaves the page.
	var mu sync.Mutex
	var sent []*network.Request
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			mu.Lock()
			sent = append(sent, e.Request)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	var lastToken string
	for name, keyPEM := range keys {
		t.Run(name, func(t *testing.T) {
			if err := chromedp.Do(ctx,
				chromedp.Navigate(e.URL+web.RouteBuilder),
				chromedp.WaitVisible(chromedp.ID("generate")),
				fill(map[string]string{"content-type": "application/json", "authorization": "Bearer " + tr.AccessToken,
					"uri": uri, "http-method": "GET", "body": "", "private-key": keyPEM}),
			); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			mark := len(sent)
			mu.Unlock()
			if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("generate"))); err != nil {
				t.Fatal(err)
			}
			wait, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			out, err := chromedp.Run(wait, chromedp.Poll[string](`document.getElementById('token').value || (document.getElementById('error').textContent && 'ERROR: ' + document.getElementById('error').textContent)`))
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(out, "ERROR: ") {
				t.Fatalf("page: %s", out)
			}
			// Generating made no request (a favicon fetch aside), and no
			// request of the session carried key material.
			keyB64 := strings.Split(keyPEM, "\n")[3]
			mu.Lock()
			loaded := false
			for _, r := range sent[:mark] {
				loaded = loaded || strings.HasSuffix(r.URL, web.RouteStatic+"pop.js")
			}
			if !loaded {
				t.Error("the request listener did not see the page load its script")
			}
			for i, r := range sent {
				if i >= mark && !strings.HasSuffix(r.URL, "/favicon.ico") {
					t.Errorf("Generate made a request: %s %s", r.Method, r.URL)
				}
				carried := r.URL
				for _, d := range r.PostDataEntries {
					carried += string(d.Bytes)
				}
				if r.HasPostData || strings.Contains(carried, keyB64) {
					t.Errorf("request with a body or key material: %s %s", r.Method, r.URL)
				}
			}
			mu.Unlock()
			claims, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("decoded-claims")))
			if err != nil || !strings.Contains(claims, `"ehts": "Content-Type;Authorization;uri;http-method;body"`) {
				t.Fatalf("decoded claims shown: %q %v", claims, err)
			}
			req, _ := http.NewRequest("GET", e.URL+uri, nil)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+tr.AccessToken)
			req.Header.Set("X-Authorization", out)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(b), e.iccid) {
				t.Fatalf("request with the page's token: %d %s", resp.StatusCode, b)
			}
			lastToken = out
		})
	}

	t.Run("verify page explains an edts mismatch", func(t *testing.T) {
		if lastToken == "" {
			t.Skip("no token from the builder")
		}
		if err := chromedp.Do(ctx,
			chromedp.Navigate(e.URL+web.RouteVerify),
			chromedp.WaitVisible(chromedp.ID("verify")),
			fill(map[string]string{"token": lastToken, "http-method": "GET", "uri": uri + "?extra=1", "content-type": "application/json",
				"authorization": "Bearer " + tr.AccessToken, "body": "", "public-key": string(pop.PublicKeyPEM(e.key))}),
			chromedp.Click(chromedp.ID("verify")),
		); err != nil {
			t.Fatal(err)
		}
		wait, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		verdict, err := chromedp.Run(wait, chromedp.Poll[string](`document.getElementById('verdict').textContent || document.getElementById('error').textContent`))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(verdict, `Invalid: check "edts" fails`) {
			t.Fatalf("verdict %q", verdict)
		}
		canon, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("server-canonical")))
		if !strings.Contains(canon, uri+"?extra=1GET") || strings.Contains(canon, tr.AccessToken) {
			t.Fatalf("server canonical string shown: %q", canon)
		}
	})
}

// TestSecurityHeaders: every page and asset has the strict CSP and friends.
func TestSecurityHeaders(t *testing.T) {
	e := agtest.Start(t, agtest.Options{}, func(svc core.Services) []httpapi.Module { return []httpapi.Module{web.New()} })
	for _, p := range []string{web.RouteBuilder, web.RouteVerify, web.RouteStatic + "pop.js", web.RouteStatic + "builder.js", web.RouteStatic + "verify.js", web.RouteStatic + "style.css"} {
		resp, err := http.Get(e.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		h := resp.Header
		if resp.StatusCode != 200 || h.Get("Content-Security-Policy") != web.CSP || h.Get("X-Frame-Options") != "DENY" ||
			h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" {
			t.Fatalf("%s: %d %v", p, resp.StatusCode, h)
		}
		if strings.HasSuffix(p, "html") || p == web.RouteBuilder || p == web.RouteVerify {
			// No inline script or style may exist: the CSP would block it.
			if s := string(b); strings.Contains(s, "<script>") || strings.Contains(s, " style=") || strings.Contains(s, "onclick") {
				t.Fatalf("%s has inline code", p)
			}
		}
	}
	if resp, _ := http.Get(e.URL + web.RouteStatic + "web.go"); resp.StatusCode != 404 {
		t.Fatalf("unlisted file served: %d", resp.StatusCode)
	}
}
