package m2m_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/protocol/m2m"
	sdk "github.com/authgate/authgate/sdk/m2m"
)

// refusal is one answer of the listener, read as a SOAP client would.
type refusal struct {
	status int
	header http.Header
	fault  *sdk.Fault
	body   []byte
}

func readRefusal(t *testing.T, res *http.Response) refusal {
	t.Helper()
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return refusal{status: res.StatusCode, header: res.Header, fault: sdk.ParseFault(body), body: body}
}

// TestRefusalsAreSOAPFaults: every refusal on a SOAP listener, whichever
// layer makes it (the shared handler chain or the M2M handler's framing
// checks), is a SOAP 1.1 Fault with text/xml, soap:Client for the
// sender's fault and soap:Server for the server's, and keeps the HTTP
// status of the refusal (413, 404, 405, 408, 415, 503 with Retry-After).
// Before, the chain answered JSON (413, 503) or plain text (404, 405).
func TestRefusalsAreSOAPFaults(t *testing.T) {
	w := newWorld(t, worldOptions{cfg: func(c *m2m.Config) { c.MaxMessageBytes = 8192 }})
	// The listener as Background builds it, with the per-address in-flight
	// cap and the body deadline on.
	var h http.Handler = w.env.Handler(httpapi.Options{Log: w.svc.Log, Ready: w.svc.Store, MaxBodyBytes: 8192,
		Limits: httpapi.Limits{MaxInFlightPerAddr: 1, BodyReadTimeout: 2 * time.Second}})
	w.handler.Store(&h)
	signed := w.signedUsageGet(t, w.client.Signer, w.apiKey)
	big := bytes.Repeat([]byte("x"), 9000)

	do := func(t *testing.T, method, path, ctype string, body io.Reader, length int64) refusal {
		t.Helper()
		req, err := http.NewRequest(method, w.srv.URL+path, body)
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = length
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		res, err := w.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return readRefusal(t, res)
	}
	for _, tc := range []struct {
		name       string
		send       func(t *testing.T) refusal
		status     int
		code, kind string
	}{
		{"Content-Length over the limit", func(t *testing.T) refusal {
			return do(t, http.MethodPost, m2m.PathMon, "text/xml", bytes.NewReader(big), int64(len(big)))
		}, http.StatusRequestEntityTooLarge, sdk.FaultClient, sdk.ErrMessageTooLarge},
		{"chunked body over the limit", func(t *testing.T) refusal {
			return do(t, http.MethodPost, m2m.PathMon, "text/xml", io.MultiReader(bytes.NewReader(big)), -1)
		}, http.StatusRequestEntityTooLarge, sdk.FaultClient, sdk.ErrMessageTooLarge},
		{"method not allowed", func(t *testing.T) refusal {
			return do(t, http.MethodPut, m2m.PathMon, "text/xml", bytes.NewReader(signed), int64(len(signed)))
		}, http.StatusMethodNotAllowed, sdk.FaultClient, sdk.ErrUnknownOperation},
		{"unknown path", func(t *testing.T) refusal {
			return do(t, http.MethodPost, "/M2MBilling", "text/xml", bytes.NewReader(signed), int64(len(signed)))
		}, http.StatusNotFound, sdk.FaultClient, sdk.ErrUnknownOperation},
		{"JSON content type", func(t *testing.T) refusal {
			return do(t, http.MethodPost, m2m.PathMon, "application/json", strings.NewReader(`{"ICCID":"x"}`), 13)
		}, http.StatusUnsupportedMediaType, sdk.FaultClient, sdk.ErrInvalidRequest},
		{"no content type", func(t *testing.T) refusal {
			return do(t, http.MethodPost, m2m.PathMon, "", bytes.NewReader(signed), int64(len(signed)))
		}, http.StatusUnsupportedMediaType, sdk.FaultClient, sdk.ErrInvalidRequest},
		{"not XML", func(t *testing.T) refusal {
			return do(t, http.MethodPost, m2m.PathMon, "text/xml", strings.NewReader("<soap:Envelope"), 14)
		}, http.StatusInternalServerError, "wsse:InvalidSecurity", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.send(t)
			checkFault(t, r, tc.status, tc.code, tc.kind)
			if tc.status == http.StatusMethodNotAllowed && !strings.Contains(r.header.Get("Allow"), "POST") {
				t.Fatalf("405 without Allow: %v", r.header)
			}
		})
	}

	// A body that stops arriving: the deadline refuses it with a Fault,
	// and while it is held, a second request from the same address is
	// over the in-flight cap.
	t.Run("body timeout and in-flight cap", func(t *testing.T) {
		// hold sends a request whose body never completes.
		hold := func() (*tls.Conn, *bufio.Reader) {
			conn, err := tls.Dial("tcp", strings.TrimPrefix(w.srv.URL, "https://"), &tls.Config{RootCAs: w.ca.Pool()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { conn.Close() })
			fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: 1000\r\n\r\n<soap:Envelope", m2m.PathMon)
			return conn, bufio.NewReader(conn)
		}
		conn, br := hold()
		// The held request and a probe race to the handler: until a probe
		// is capped, a held request that lost (answered at once) is sent again.
		var capped refusal
		for range 100 {
			capped = do(t, http.MethodPost, m2m.PathMon, "text/xml", strings.NewReader("<x/>"), 4)
			if capped.status == http.StatusServiceUnavailable {
				break
			}
			_ = conn.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			if _, err := br.Peek(1); err == nil {
				conn.Close()
				conn, br = hold()
			}
			_ = conn.SetReadDeadline(time.Time{})
		}
		checkFault(t, capped, http.StatusServiceUnavailable, sdk.FaultServer, sdk.ErrUnavailable)
		if capped.header.Get("Retry-After") != "1" {
			t.Fatalf("503 without Retry-After: %v", capped.header)
		}
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		checkFault(t, readRefusal(t, res), http.StatusRequestTimeout, sdk.FaultClient, sdk.ErrInvalidRequest)
	})
}

// checkFault asserts a refusal is an unsigned SOAP Fault with the status,
// fault code and M2M error code given (kind "": no detail).
func checkFault(t *testing.T, r refusal, status int, code, kind string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("HTTP %d, want %d: %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/xml") {
		t.Fatalf("Content-Type %q: %s", ct, r.body)
	}
	if r.fault == nil || r.fault.Code != code || r.fault.Detail != kind || r.fault.String == "" {
		t.Fatalf("fault %+v, want %s/%s: %s", r.fault, code, kind, r.body)
	}
}
