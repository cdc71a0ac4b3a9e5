package cli

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/authgate/authgate/internal/config"
	"github.com/authgate/authgate/internal/console"
	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/protocol/m2m"
	"github.com/authgate/authgate/internal/testutil/browsertest"
	"github.com/authgate/authgate/internal/wssec/wssectest"
	"github.com/authgate/authgate/sdk/pop"
)

// TestConsoleCSRFOnAdminAPI: through the composed server, a state change
// of the admin API with the session cookie needs the session's
// X-CSRF-Token (none or a wrong one: 403, nothing changed); an
// Authorization header wins over the cookie.
func TestConsoleCSRFOnAdminAPI(t *testing.T) {
	e := startConsole(t, nil)
	c, info := e.signIn(t, e.Admin.Key, e.Admin.Secret)
	_, other := e.signIn(t, e.Admin.Key, e.Admin.Secret)
	body := `{"name":"csrf-test"}`
	for _, tc := range []struct {
		name   string
		hdr    map[string]string
		status int
	}{
		{"no token", nil, 403},
		{"wrong token", map[string]string{console.CSRFHeader: "bm90LXRoZS10b2tlbg"}, 403},
		{"another session's token", map[string]string{console.CSRFHeader: other.CSRFToken}, 403},
		{"cross-site", map[string]string{console.CSRFHeader: info.CSRFToken, "Sec-Fetch-Site": "cross-site"}, 403},
		{"a bad Authorization header wins over the cookie", map[string]string{console.CSRFHeader: info.CSRFToken, "Authorization": "Bearer nope"}, 401},
	} {
		if st, b := e.do(t, "POST", "/admin/organisations", body, c, tc.hdr); st != tc.status {
			t.Errorf("%s: %d %s", tc.name, st, b)
		}
	}
	if st, b := e.do(t, "GET", "/admin/organisations", "", c, nil); st != 200 || strings.Contains(b, "csrf-test") {
		t.Fatalf("a refused request changed something: %d %s", st, b)
	}
	if st, b := e.do(t, "POST", "/admin/organisations", body, c, map[string]string{console.CSRFHeader: info.CSRFToken}); st != 201 {
		t.Fatalf("with the CSRF token: %d %s", st, b)
	}
	// The session's token works as a bearer token too, and the cookie is
	// not needed for reads.
	if st, _ := e.do(t, "GET", "/admin/organisations", "", nil, map[string]string{"Authorization": "Bearer " + c.Value}); st != 200 {
		t.Fatalf("bearer read: %d", st)
	}
}

// TestAttack_ConsoleNonAdminCannotChange: an owner's and a user's
// sessions, with their valid CSRF tokens, are refused every state change
// of the admin API (403, audited) and read only their organisation.
func TestAttack_ConsoleNonAdminCannotChange(t *testing.T) {
	e := startConsole(t, nil)
	ctx := context.Background()
	for _, kind := range []core.PrincipalKind{core.PrincipalUser, core.PrincipalOwner} {
		org, p, key, secret := e.userKey(t, kind)
		c, info := e.signIn(t, key, secret)
		if !info.ReadOnly || info.Kind != string(kind) {
			t.Fatalf("%s: session info %+v", kind, info)
		}
		csrf := map[string]string{console.CSRFHeader: info.CSRFToken}
		cred, _, _ := e.Svc.Credentials.Create(ctx, core.CredentialSpec{OrgID: org.ID, PrincipalID: p.ID, Kind: core.CredAccessKey})
		for _, w := range []struct{ method, path, body string }{
			{"POST", "/admin/organisations", `{"name":"mine"}`},
			{"POST", "/admin/principals", `{"org_id":"` + org.ID + `","kind":"admin","name":"root"}`},
			{"POST", "/admin/principals/" + p.ID + "/disable", ""},
			{"POST", "/admin/credentials", `{"principal_id":"` + p.ID + `","kind":"access_key"}`},
			{"POST", "/admin/credentials/" + cred.ID + "/revoke", ""},
		} {
			if st, b := e.do(t, w.method, w.path, w.body, c, csrf); st != 403 {
				t.Errorf("%s %s %s: %d %s", kind, w.method, w.path, st, b)
			}
		}
		if got, err := e.Svc.Credentials.Find(ctx, core.CredAccessKey, cred.Lookup); err != nil || got.RevokedAt != nil {
			t.Errorf("%s: the credential changed: %v", kind, err)
		}
		if st, b := e.do(t, "GET", "/admin/audit?org="+e.Admin.OrgID, "", c, nil); st != 403 {
			t.Errorf("%s read another organisation's audit log: %d %s", kind, st, b)
		}
		// The privilege table lets an owner read its organisation's audit log, a user not.
		if st, _ := e.do(t, "GET", "/admin/audit", "", c, nil); st != map[core.PrincipalKind]int{core.PrincipalOwner: 200, core.PrincipalUser: 403}[kind] {
			t.Errorf("%s reading its own audit log: %d", kind, st)
		}
		if st, b := e.do(t, "GET", "/admin/principals?org="+org.ID, "", c, nil); st != 200 || !strings.Contains(b, p.ID) {
			t.Errorf("%s cannot read its own organisation's principals: %d %s", kind, st, b)
		}
	}
	events, _ := e.Svc.Audit.List(ctx, core.AuditFilter{Action: core.AuditForbidden, Limit: 100})
	if len(events) < 10 {
		t.Fatalf("refusals audited: %d", len(events))
	}
}

// consoleBrowser starts headless Chromium (browsertest: fails instead of
// skipping in a full run without it) at 1280x900, trusting the test
// server's certificate.
func consoleBrowser(t *testing.T) context.Context {
	t.Helper()
	return browsertest.Start(t,
		chromedp.Flag("ignore-certificate-errors", true), // httptest's certificate
		chromedp.Flag("hide-scrollbars", false),
		chromedp.WindowSize(1280, 900))
}

// js evaluates expr in the page (awaiting a promise) and returns its value.
func js[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// wait polls expr until it is truthy and returns its value.
func wait[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	v, err := chromedp.Run(wctx, chromedp.Poll[T](expr))
	if err != nil {
		status, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.getElementById('status')||{}).textContent + ' | ' + (document.getElementById('dialog-error')||{}).textContent + ' | ' + (document.getElementById('signin-error')||{}).textContent`))
		t.Fatalf("waiting for %s: %v (page: %s)", expr, err, status)
	}
	return v
}

func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// setValue sets a control's value by id, as typing would.
func setValue(id, v string) chromedp.Action[chromedp.Void] {
	b, _ := json.Marshal(v)
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const el = document.getElementById(%q); if (!el) throw new Error('no field %s'); el.value = %s; el.dispatchEvent(new Event('input', {bubbles: true})); })()`, id, id, b))
}

// clsObserver sums layout shifts not caused by input, from the first paint on.
const clsObserver = `window.__cls = 0; window.__shifts = [];
new PerformanceObserver((list) => { for (const e of list.getEntries()) { if (!e.hadRecentInput) { window.__cls += e.value; window.__shifts.push(e.value + ' ' + location.hash + ' ' + (e.sources || []).map(s => (s.node && (s.node.id || s.node.className || s.node.nodeName)) + JSON.stringify([s.previousRect.y, s.previousRect.x, s.currentRect.y, s.currentRect.x])).join(',')); } } }).observe({ type: 'layout-shift', buffered: true });`

// screenshotDir is where the screenshots go (docs/console.md embeds them).
var screenshotDir = filepath.Join("..", "..", "docs", "console")

// TestConsoleInChromium drives the console in headless Chromium against
// the composed server: sign in (cookie flags from CDP), every page at
// 1280x900 (screenshot, no layout shift) and at 390 px (no horizontal
// scroll), create an access key and copy its secret (the clipboard holds
// the secret, which then gets a token), issue a certificate from a CSR and
// revoke it, filter the audit log and see the live tail, Escape closes a
// dialog, a cross-site form post carries no cookie, a user's read-only
// view offers no write action and its direct writes are refused, sign out
// (the token is revoked: 401).
func TestConsoleInChromium(t *testing.T) {
	e := startConsole(t, withM2M(t))
	// Every step waits at most as long as the whole test may take.
	ctx, cancel := context.WithTimeout(consoleBrowser(t), 3*time.Minute)
	defer cancel()
	userOrg, user, userKey, userSecret := e.userKey(t, core.PrincipalOwner)
	origin := e.URL
	// Clipboard access for the page, as a user granting it would.
	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		do(t, ctx, func(ctx context.Context, _ *chromedp.Target) (chromedp.Void, error) {
			_, err := cdp.Call(ctx, chromedp.FromContext(ctx).Browser, browser.SetPermission, browser.SetPermissionParams{
				Permission: &browser.PermissionDescriptor{Name: name, AllowWithoutSanitization: true}, Setting: browser.PermissionSettingGranted, Origin: origin})
			return chromedp.Void{}, err
		})
	}
	do(t, ctx, func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: clsObserver})
		return chromedp.Void{}, err
	})

	e.seed(t)
	e.countCalls(t, userOrg.ID, userKey, userSecret)

	// Sign in, in a viewport of exactly 1280x900.
	do(t, ctx, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(e.URL+console.RoutePage), chromedp.WaitVisible(chromedp.ID("signin-key")))
	if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
		t.Fatal(err)
	}
	shot(t, ctx, "signin")
	// Keyboard: Tab moves to the first field with a visible focus ring.
	do(t, ctx, chromedp.Evaluate[chromedp.Void](`document.activeElement.blur()`), chromedp.KeyEvent("\t"))
	if f := js[string](t, ctx, `document.activeElement.id + ' ' + getComputedStyle(document.activeElement).outlineStyle`); f == "" || strings.HasSuffix(f, " none") {
		t.Errorf("keyboard focus: %q", f)
	}
	do(t, ctx, setValue("signin-key", e.Admin.Key), setValue("signin-secret", "wrong"), chromedp.Click(chromedp.ID("signin-submit")))
	if msg := wait[string](t, ctx, `document.getElementById('signin-error').textContent`); !strings.Contains(msg, "invalid access key or secret") {
		t.Fatalf("wrong secret: %q", msg)
	}
	do(t, ctx, setValue("signin-secret", e.Admin.Secret), chromedp.Click(chromedp.ID("signin-submit")))
	wait[bool](t, ctx, `!document.getElementById('shell').hidden && document.querySelectorAll('#nav-list a').length > 0`)

	cookies, err := chromedp.Run(ctx, func(ctx context.Context, tg *chromedp.Target) ([]*network.Cookie, error) {
		res, err := cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{e.URL}})
		return res.Cookies, err
	})
	if err != nil {
		t.Fatal(err)
	}
	var session *network.Cookie
	for _, c := range cookies {
		if c.Name == console.CookieName {
			session = c
		}
	}
	if session == nil || !session.HTTPOnly || !session.Secure || session.SameSite != network.CookieSameSiteStrict || session.Path != "/" {
		t.Fatalf("session cookie as the browser keeps it: %+v", session)
	}
	if js[bool](t, ctx, `document.cookie.includes('authgate_console')`) {
		t.Fatal("page script can read the session cookie")
	}

	// Every page of the navigation: screenshot at 1280x900, no layout shift.
	navPages := js[[]string](t, ctx, `[...document.querySelectorAll('#nav-list a')].map(a => a.dataset.page)`)
	for _, want := range []string{"dashboard", "organisations", "principals", "credentials", "accesskeys", "certificates", "audit"} {
		if !slices.Contains(navPages, want) {
			t.Errorf("page %s is not in the navigation %v", want, navPages)
		}
	}
	visit := func(page string) {
		t.Helper()
		do(t, ctx, chromedp.Evaluate[chromedp.Void](`location.hash = '#/`+page+`'`))
		wait[bool](t, ctx, `document.title.startsWith(document.getElementById('title').textContent) && !/Loading/.test(document.getElementById('status').textContent)`)
		if s := js[string](t, ctx, `document.getElementById('status').textContent`); strings.HasPrefix(s, "Could not load") {
			t.Errorf("page %s: %s", page, s)
		}
	}
	for _, p := range navPages {
		visit(p)
		shot(t, ctx, p)
		// A page of a row's children (an account's members, a client's
		// keys, a brand's products), through the row's link.
		if child := js[string](t, ctx, `(() => { const a = document.querySelector('#content td.actions a[href*="-"]'); return a ? a.getAttribute('href') : ''; })()`); child != "" {
			name := strings.TrimPrefix(strings.SplitN(child, "?", 2)[0], "#/")
			do(t, ctx, chromedp.Evaluate[chromedp.Void](`location.hash = `+jsString(child)))
			wait[bool](t, ctx, `document.title.startsWith(document.getElementById('title').textContent) && !/Loading/.test(document.getElementById('status').textContent)`)
			if st := js[string](t, ctx, `document.getElementById('status').textContent`); strings.HasPrefix(st, "Could not load") {
				t.Errorf("page %s: %s", name, st)
			}
			shot(t, ctx, name)
		}
	}
	if cls := js[float64](t, ctx, `window.__cls`); cls != 0 {
		t.Errorf("cumulative layout shift %v: %v", cls, js[[]string](t, ctx, `window.__shifts`))
	}
	// The subscription the admin's own calls used (seed) shows them against
	// its quota, and when its rate and quota windows reset.
	visit("subscriptions")
	if u := js[[]string](t, ctx, `(() => { const tr = [...document.querySelectorAll('#content tbody tr')].find(r => r.querySelector('td[data-label="Resource"]').textContent === 'device-server');
		if (!tr) return [];
		const q = tr.querySelector('td[data-label="Quota used"]'), r = tr.querySelector('td[data-label="Rate used"]');
		return [q.firstChild.textContent, q.querySelector('time').getAttribute('datetime'), r.firstChild.textContent, r.querySelector('time').getAttribute('datetime')]; })()`); len(u) != 4 ||
		u[0] != "3 / 1000 per 24h0m0s" || !strings.HasSuffix(u[1], "T00:00:00Z") || u[2] != "3 / 10 per 1s" && u[2] != "0 / 10 per 1s" || !strings.HasSuffix(u[3], "Z") {
		t.Errorf("usage on the subscriptions page: %q", u)
	}

	// Phone width: no horizontal scroll on any page.
	do(t, ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	// The navigation folds behind the Menu button.
	if js[bool](t, ctx, `getComputedStyle(document.getElementById('nav')).display !== 'none'`) {
		t.Error("the navigation is open at phone width before Menu is pressed")
	}
	do(t, ctx, chromedp.Click(chromedp.ID("nav-toggle")))
	if !js[bool](t, ctx, `getComputedStyle(document.getElementById('nav')).display !== 'none' && document.getElementById('nav-toggle').getAttribute('aria-expanded') === 'true'`) {
		t.Error("Menu does not open the navigation")
	}
	for _, p := range navPages {
		visit(p)
		if w := js[[]int](t, ctx, `[document.documentElement.scrollWidth, document.documentElement.clientWidth]`); w[0] > w[1] {
			t.Errorf("page %s scrolls horizontally at 390 px: %d > %d", p, w[0], w[1])
		}
	}
	do(t, ctx, chromedp.EmulateViewport(1280, 900))

	// Issue a certificate from a pasted CSR, then revoke it.
	visit("certificates")
	if href := js[string](t, ctx, `document.getElementById('download-crl').getAttribute('href')`); href != "/admin/ca/crl" {
		t.Errorf("CRL link %q", href)
	}
	// Ten days of validity: the list highlights it as expiring within 30.
	do(t, ctx, chromedp.Click(chromedp.ID("create")), chromedp.WaitVisible(chromedp.ID("create-csr")), setValue("create-csr", testCSR(t, "acme-sensor")),
		setValue("create-validity_days", "10"))
	selectFirst(t, ctx)
	shot(t, ctx, "certificates-issue")
	do(t, ctx, chromedp.Click(chromedp.ID("dialog-ok")))
	serial := wait[string](t, ctx, `(() => { const dt = [...document.querySelectorAll('#dialog-body dt')].find(d => d.textContent === 'serial'); return dt ? dt.nextElementSibling.textContent : ''; })()`)
	do(t, ctx, chromedp.Click(chromedp.ID("dialog-cancel")))
	row := `document.querySelector('#content tr[data-key=` + jsString(serial) + `]')`
	wait[bool](t, ctx, `!!`+row)
	if exp := js[string](t, ctx, `(() => { const td = `+row+`.querySelector('td[data-label=Expires]'); return td.className + ' ' + td.textContent; })()`); !strings.HasPrefix(exp, "expiring ") || !strings.HasSuffix(exp, "(in 10 d)") {
		t.Errorf("a certificate expiring in 10 days is shown as %q", exp)
	}
	shot(t, ctx, "certificates")
	do(t, ctx, chromedp.Evaluate[chromedp.Void](row+`.querySelector('button[data-action=revoke]').click()`))
	wait[bool](t, ctx, `document.getElementById('dialog').open`)
	do(t, ctx, chromedp.Click(chromedp.ID("dialog-ok")))
	wait[bool](t, ctx, `(() => { const r = `+row+`; return r && !r.querySelector('button[data-action=revoke]') && r.querySelector('time') && [...r.querySelectorAll('td')].some(td => td.dataset.label === 'Revoked' && td.textContent !== ''); })()`)

	// Filter the audit log; the live tail shows a new event on top.
	visit("audit")
	do(t, ctx, setValue("filter-action", "revoke"), chromedp.Click(chromedp.ID("apply-filters")))
	wait[bool](t, ctx, `(() => { const rows = [...document.querySelectorAll('#content tbody tr')]; return rows.length > 0 && !/Loading/.test(document.getElementById('status').textContent) && rows.every(r => r.querySelector('td[data-label=Action]').textContent === 'revoke'); })()`)
	do(t, ctx, setValue("filter-action", "auth_failure"), chromedp.Click(chromedp.ID("apply-filters")))
	wait[bool](t, ctx, `!/Loading/.test(document.getElementById('status').textContent)`)
	before := js[int](t, ctx, `document.querySelectorAll('#content tbody tr').length`)
	do(t, ctx, chromedp.Click(chromedp.ID("tail")))
	if st, _ := e.do(t, "POST", console.RouteSession, `{"access_key":"tail-probe","secret":"x"}`, nil, nil); st != 401 {
		t.Fatalf("probe sign-in: %d", st)
	}
	// Tailing lists oldest first: the new event is the last row.
	wait[bool](t, ctx, fmt.Sprintf(`(() => { const rows = document.querySelectorAll('#content tbody tr'); return rows.length > %d && rows[rows.length - 1].querySelector('td[data-label=Subject]').textContent === 'tail-probe'; })()`, before))
	shot(t, ctx, "audit-filtered")
	do(t, ctx, chromedp.Click(chromedp.ID("tail")))

	// Re-queue the failed callback from its row.
	visit("m2m-outbox")
	job := `document.querySelector('#content tr[data-key="admcl-console-test"]')`
	do(t, ctx, chromedp.Evaluate[chromedp.Void](job+`.querySelector('button[data-action=requeue]').click()`))
	wait[bool](t, ctx, `document.getElementById('dialog').open`)
	do(t, ctx, chromedp.Click(chromedp.ID("dialog-ok")))
	wait[bool](t, ctx, `(() => { const r = `+job+`; return r && !r.querySelector('button[data-action=requeue]') && r.querySelector('td[data-label=State]').textContent === 'pending'; })()`)
	if j, err := e.Svc.Store.(core.JobStore).GetJob(context.Background(), "admcl-console-test"); err != nil || j.FailedAt != nil {
		t.Fatalf("the job after its requeue: %+v %v", j, err)
	}

	// Create an access key and copy its secret.
	visit("accesskeys")
	do(t, ctx, chromedp.Click(chromedp.ID("create")), chromedp.WaitVisible(chromedp.ID("create-principal_id")))
	// Escape closes the dialog (keyboard use), focus returns to the opener.
	do(t, ctx, chromedp.KeyEvent("\x1b"))
	wait[bool](t, ctx, `!document.getElementById('dialog').open && document.activeElement && document.activeElement.id === 'create'`)
	do(t, ctx, chromedp.Click(chromedp.ID("create")), chromedp.WaitVisible(chromedp.ID("create-principal_id")),
		setValue("create-principal_id", user.ID), setValue("create-name", "browser key"))
	shot(t, ctx, "accesskeys-create")
	do(t, ctx, chromedp.Click(chromedp.ID("dialog-ok")))
	secret := wait[string](t, ctx, `(document.getElementById('created-secret') || {}).textContent`)
	lookup := js[string](t, ctx, `[...document.querySelectorAll('#dialog-body dt')].find(d => d.textContent === 'lookup').nextElementSibling.textContent`)
	shot(t, ctx, "accesskeys-created")
	do(t, ctx, chromedp.Click(chromedp.CSS(`#dialog-body button[data-copy]`)))
	wait[bool](t, ctx, `document.querySelector('#dialog-body button[data-copy]').dataset.copied === 'true'`)
	if copied := js[string](t, ctx, `navigator.clipboard.readText()`); copied != secret {
		t.Fatalf("clipboard %q, shown secret %q", copied, secret)
	}
	form := url.Values{"grant_type": {"password"}, "username": {lookup}, "password": {secret}}
	resp, err := e.client.PostForm(e.URL+"/oauth/token", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("the copied secret does not get a token: %d", resp.StatusCode)
	}
	do(t, ctx, chromedp.Click(chromedp.ID("dialog-cancel")))
	wait[bool](t, ctx, `[...document.querySelectorAll('#content td')].some(td => td.textContent === `+jsString(lookup)+`)`)

	// A form on another site posting to authgate carries no session cookie.
	attacker := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target := r.URL.Query().Get("to")
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<form method="POST" action="%s"><input name="name" value="evil"></form><script>document.forms[0].submit()</script>`, target)
	}))
	defer attacker.Close()
	attackerURL := strings.Replace(attacker.URL, "127.0.0.1", "localhost", 1) // another site
	for _, path := range []string{"/test-probe", "/admin/organisations"} {
		do(t, ctx, chromedp.Navigate(attackerURL+"/?to="+url.QueryEscape(e.URL+path)))
		wait[bool](t, ctx, `location.href.startsWith(`+jsString(e.URL)+`)`)
	}
	if e.probes.Load() != 1 || e.probedWithCookie.Load() != 0 {
		t.Fatalf("cross-site form posts: %d, with the cookie: %d", e.probes.Load(), e.probedWithCookie.Load())
	}
	if st, b := e.do(t, "GET", "/admin/organisations", "", nil, map[string]string{"Authorization": "Bearer " + session.Value}); st != 200 || strings.Contains(b, "evil") {
		t.Fatalf("the cross-site form changed something: %d %s", st, b)
	}

	// Sign out: the sign-in form again, the token revoked.
	do(t, ctx, chromedp.Navigate(e.URL+console.RoutePage+"#/dashboard"), chromedp.WaitVisible(chromedp.ID("signout")), chromedp.Click(chromedp.ID("signout")))
	wait[bool](t, ctx, `!document.getElementById('signin').hidden`)
	if st, _ := e.do(t, "GET", "/admin/audit", "", nil, map[string]string{"Authorization": "Bearer " + session.Value}); st != 401 {
		t.Fatalf("the signed-out token still works: %d", st)
	}

	// A user: read-only view, no write action, direct writes refused.
	do(t, ctx, setValue("signin-key", userKey), setValue("signin-secret", userSecret), chromedp.Click(chromedp.ID("signin-submit")))
	wait[bool](t, ctx, `!document.getElementById('shell').hidden && document.querySelectorAll('#nav-list a').length > 0`)
	userPages := js[[]string](t, ctx, `[...document.querySelectorAll('#nav-list a')].map(a => a.dataset.page)`)
	for _, p := range userPages {
		visit(p)
		if n := js[int](t, ctx, `document.querySelectorAll('#create, #content button[data-action]').length`); n != 0 {
			t.Errorf("user's page %s offers %d write actions", p, n)
		}
	}
	visit("principals")
	shot(t, ctx, "readonly")
	for _, w := range [][2]string{{"POST", "/admin/organisations"}, {"POST", "/admin/credentials"}, {"POST", "/admin/principals/" + user.ID + "/disable"}} {
		st := js[int](t, ctx, `(async () => { const s = await (await fetch('/console/session')).json();
			const r = await fetch(`+jsString(w[1])+`, { method: `+jsString(w[0])+`, headers: { 'X-CSRF-Token': s.csrf_token, 'Content-Type': 'application/json' }, body: '{}' });
			return r.status; })()`)
		if st != 403 {
			t.Errorf("user's %s %s from the page: %d", w[0], w[1], st)
		}
	}
	checkScreenshotsDocumented(t)
}

// withM2M turns the M2M family on with a TA environment (its listener is
// not started: the console needs the family's admin routes only) and one
// configured partner, acme.
func withM2M(t *testing.T) func(*config.Config) {
	dir := t.TempDir()
	now := time.Now()
	ca := wssectest.NewCA(t, "Test CA", 0, now)
	tlsFiles := writeLeaf(t, dir, ca, now, "ta-tls", loopbackServer(30))
	sign := writeLeaf(t, dir, ca, now, "ta-sign", wssectest.Leaf{Slot: 31, OU: "M2M_TA"})
	partner := writeLeaf(t, dir, ca, now, "partner-sign", wssectest.Leaf{Slot: 32, OU: "M2M_TA", CN: "ta.sample.org"})
	caPath, _ := wssectest.WriteFiles(t, dir, "ca", ca.Cert, nil)
	return func(c *config.Config) {
		c.M2M.Enabled = true
		ta := &c.M2M.TA
		ta.Listen, ta.TLSCert, ta.TLSKey, ta.SigningCert, ta.SigningKey = freePort(t), tlsFiles[0], tlsFiles[1], sign[0], sign[1]
		ta.CallbackCAs = []string{caPath}
		ta.Partners = []m2m.PartnerConfig{{Name: "acme", SigningCerts: []string{partner[0]}, SenderID: "ACME-TA-0001", PartnerID: "4711",
			AdmClURL: "https://127.0.0.1:1/M2MAdmCl", MonClURL: "https://127.0.0.1:1/M2MMonCl"}}
	}
}

// seed creates a few objects through the admin API, so the pages have
// rows to show.
func (e *consoleEnv) seed(t *testing.T) {
	t.Helper()
	c, info := e.signIn(t, e.Admin.Key, e.Admin.Secret)
	csrf := map[string]string{console.CSRFHeader: info.CSRFToken}
	// A callback the partner refused until it was given up.
	jobs := e.Svc.Store.(core.JobStore)
	ctx, now := context.Background(), time.Now()
	if err := jobs.EnqueueJob(ctx, core.Job{ID: "admcl-console-test", Queue: "m2m.TA", Payload: []byte(`{"kind":"admcl","partner":"acme","request_id":"r-1"}`),
		RunAt: now, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := jobs.FailJob(ctx, "admcl-console-test", now, "state code 500"); err != nil {
		t.Fatal(err)
	}
	for _, w := range [][2]string{
		{"/admin/organisations", `{"name":"globex"}`},
		{"/admin/apstrata/accounts", `{"name":"Acme IoT"}`},
		{"/admin/subscriptions/resources", `{"name":"connectivity","path_prefixes":["/iot-connectivity/v1"],"methods":["GET"]}`},
		{"/admin/subscriptions/plans", `{"name":"basic","rate":10,"rate_period":"1s","quota":1000,"quota_period":"24h"}`},
		{"/admin/subscriptions", `{"org_id":"` + e.Admin.OrgID + `","resource":"connectivity","plan":"basic"}`},
		{"/admin/m2m/apikeys", `{"partner":"acme","env":"TA"}`},
		{"/admin/taap/clients", `{"name":"sensor fleet","public_keys":[` + jsString(string(pop.PublicKeyPEM(testKey(t)))) + `]}`},
		{"/admin/m2m/sims", `{"partner":"acme","env":"TA","iccid":"8949020000000000025"}`},
	} {
		if st, b := e.do(t, "POST", w[0], w[1], c, csrf); st != 201 {
			t.Fatalf("seed %s: %d %s", w[0], st, b)
		}
	}
	st, b := e.do(t, "POST", "/admin/tpv/brands", `{"name":"Acme Energy"}`, c, csrf)
	var brand struct {
		BrandID string `json:"brand_id"`
	}
	if st != 201 || json.Unmarshal([]byte(b), &brand) != nil {
		t.Fatalf("seed brand: %d %s", st, b)
	}
	if st, b := e.do(t, "POST", "/admin/tpv/brands/"+brand.BrandID+"/products", `{"program_code":"555","name":"Fixed 12 months"}`, c, csrf); st != 201 {
		t.Fatalf("seed product: %d %s", st, b)
	}
}

// countCalls subscribes org to a resource covering GET /accesskeys under
// the seeded plan and makes three calls with key, which the plan counts.
func (e *consoleEnv) countCalls(t *testing.T, org, key, secret string) {
	t.Helper()
	c, info := e.signIn(t, e.Admin.Key, e.Admin.Secret)
	csrf := map[string]string{console.CSRFHeader: info.CSRFToken}
	for _, w := range [][2]string{
		{"/admin/subscriptions/resources", `{"name":"device-server","path_prefixes":["/accesskeys"],"methods":["GET"]}`},
		{"/admin/subscriptions", `{"org_id":"` + org + `","resource":"device-server","plan":"basic"}`},
	} {
		if st, b := e.do(t, "POST", w[0], w[1], c, csrf); st != 201 {
			t.Fatalf("%s: %d %s", w[0], st, b)
		}
	}
	resp, err := e.client.PostForm(e.URL+"/oauth/token", url.Values{"grant_type": {"password"}, "username": {key}, "password": {secret}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token: %d %v", resp.StatusCode, err)
	}
	for i := 0; i < 3; i++ {
		if st, b := e.do(t, "GET", "/accesskeys", "", nil, map[string]string{"Authorization": "Bearer " + tok.AccessToken}); st != 200 {
			t.Fatalf("counted call %d: %d %s", i, st, b)
		}
	}
}

// selectFirst leaves the dialog's selects at their first option (the
// issue form's profile and environment have defaults).
func selectFirst(t *testing.T, ctx context.Context) {
	t.Helper()
	do(t, ctx, chromedp.Evaluate[chromedp.Void](`for (const s of document.querySelectorAll('#dialog-body select')) { if (!s.value) s.selectedIndex = 0; }`))
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// shot writes the viewport as docs/console/NAME.png.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(screenshotDir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

var testRSAKey *rsa.PrivateKey

// testKey is one RSA key for the test's CSR and TAAP client.
func testKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	if testRSAKey == nil {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		testRSAKey = k
	}
	return testRSAKey
}

// testCSR is a PKCS#10 request for a partner signing certificate (RSA, as the profile wants).
func testCSR(t *testing.T, cn string) string {
	t.Helper()
	key := testKey(t)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn, Organization: []string{"Acme"},
		OrganizationalUnit: []string{"M2M_TA"}, Country: []string{"DE"}, Province: []string{"Hessen"}, Locality: []string{"Darmstadt"}}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

var screenshotRef = regexp.MustCompile(`\(console/([a-z0-9-]+)\.png\)`)

// checkScreenshotsDocumented: every screenshot under docs/console/ is
// embedded in docs/console.md, and every one it embeds exists.
func checkScreenshotsDocumented(t *testing.T) {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "console.md"))
	if err != nil {
		t.Fatal(err)
	}
	refs := map[string]bool{}
	for _, m := range screenshotRef.FindAllStringSubmatch(string(doc), -1) {
		refs[m[1]] = true
	}
	files, _ := filepath.Glob(filepath.Join(screenshotDir, "*.png"))
	have := map[string]bool{}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".png")
		have[name] = true
		if !refs[name] {
			t.Errorf("docs/console/%s.png is not embedded in docs/console.md", name)
		}
	}
	for r := range refs {
		if !have[r] {
			t.Errorf("docs/console.md embeds console/%s.png, which the test did not write", r)
		}
	}
}

// TestConsoleScreenshotsDocumented runs the documentation check without a browser.
func TestConsoleScreenshotsDocumented(t *testing.T) { checkScreenshotsDocumented(t) }
