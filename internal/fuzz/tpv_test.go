package fuzz

import (
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/protocol/tpv"
	sdk "github.com/authgate/authgate/sdk/tpv"
)

func FuzzTPVLoginQuery(f *testing.F) {
	f.Add("token=T&timestamp=1700000000&_signature=" + strings.Repeat("ab", 32))
	f.Add("token=%zz")
	f.Add("&&&=&")
	f.Add("token=a+b&token=c")
	f.Fuzz(func(t *testing.T, raw string) {
		lp, err := tpv.ParseLoginQuery(raw)
		if err != nil {
			if core.KindOf(err) != core.KindInvalidInput || core.ReasonOf(err) == "" {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if lp.Token == "" || len(lp.Signature) != 32 {
			t.Fatalf("accepted incomplete parameters %+v", lp)
		}
	})
}

// FuzzTPVCanonicalQuery checks the server's canonicaliser against the SDK's
// independent one: same result, or both refuse.
func FuzzTPVCanonicalQuery(f *testing.F) {
	for _, s := range []string{"z=last&a=2&a=10&sp=a+b%20c&tilde=%7e&star=*&euro=%E2%82%AC&empty=&flag&A=upper", "", "a=%zz", "a+b=c", "x=%E2%82%AC&x", "=&=", "a=1;b=2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := tpv.CanonicalQuery(raw)
		want, sdkErr := sdk.CanonicalQuery(raw)
		if err != nil {
			if sdkErr == nil && len(strings.Split(raw, "&")) <= tpv.MaxQueryParams {
				t.Fatalf("server refuses %q (%v), SDK gives %q", raw, err, want)
			}
			return
		}
		if sdkErr != nil || got != want {
			t.Fatalf("server %q, SDK %q (%v)", got, want, sdkErr)
		}
		// The canonical form is its own canonical form.
		again, err := tpv.CanonicalQuery(got)
		if err != nil || again != got {
			t.Fatalf("not idempotent: %q -> %q (%v)", got, again, err)
		}
	})
}

func FuzzTPVSignature(f *testing.F) {
	f.Add(strings.Repeat("ab", 32))
	f.Add(strings.Repeat("AB", 32))
	f.Add(" " + strings.Repeat("0", 64) + " ")
	f.Add("xyz")
	f.Fuzz(func(t *testing.T, s string) {
		b, err := tpv.ParseSignature("Signature header", s)
		if err != nil {
			return
		}
		if len(b) != 32 || !strings.EqualFold(hex.EncodeToString(b), strings.TrimSpace(s)) {
			t.Fatalf("tpv.ParseSignature(%q) = %x", s, b)
		}
	})
}

func FuzzTPVTimestamp(f *testing.F) {
	f.Add("1700000000")
	f.Add("-1")
	f.Add("999999999999")
	f.Fuzz(func(t *testing.T, s string) {
		ts, err := tpv.ParseTimestamp("timestamp", s)
		if err == nil && (ts.Unix() < 0 || s == "" || strings.TrimLeft(s, "0123456789") != "") {
			t.Fatalf("accepted %q as %v", s, ts)
		}
	})
}

// checkSalesRecord is the property both sales-record targets check: a
// refusal names the field ("<field> must ..."), and an accepted record
// re-encodes to a body that is accepted again, identically.
func checkSalesRecord(t *testing.T, body []byte) {
	r, err := tpv.ParseSalesRecord(body)
	if err != nil {
		if core.KindOf(err) != core.KindInvalidInput || !strings.Contains(core.ReasonOf(err), " must ") {
			t.Fatalf("error %v does not read '<field> must ...'", err)
		}
		return
	}
	again, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := tpv.ParseSalesRecord(again)
	if err != nil {
		t.Fatalf("re-encoded record refused: %v\n%s", err, again)
	}
	b1, _ := json.Marshal(r2)
	if string(b1) != string(again) {
		t.Fatalf("not stable:\n%s\n%s", again, b1)
	}
}

// FuzzTPVSalesRecord feeds small arbitrary bodies to the sales-record
// parser (JSON shape, types, duplicates, nesting). Seeds stay short: the
// fuzzer's minimisation is quadratic in an input's length.
func FuzzTPVSalesRecord(f *testing.F) {
	for _, s := range []string{`{"channel":"dtd"}`, `{"products":[{"account_numbers":[{}]}]}`, `[1,2]`,
		`{"a":1,"a":2}`, `{"btn":1e400}`, `{"market":"\ud800"}`, `{"products":[[[[]]]]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(checkSalesRecord)
}

// FuzzTPVSalesRecordFields fuzzes the values of a record that is otherwise
// valid, so the checks of each field (channel, language, market, delivery,
// phone number, e-mail, state, ZIP, product and account number) run on
// every input, which random bodies rarely reach.
func FuzzTPVSalesRecordFields(f *testing.F) {
	f.Add("dtd", "english", "residential", "email", "19181112222", "bill@jones.com", "NY", "10001", "555", "123123123123123")
	f.Add("retail", "spanish", "commercial", "text", "+1 918 111 2222", "a@b", "ny", "10001-1234", "", "0")
	f.Add("tm", "", "", "", "", "", "", "", "", "")
	f.Fuzz(func(t *testing.T, channel, language, market, delivery, btn, email, state, zip, program, account string) {
		rec := map[string]any{
			"digital_delivery": delivery, "channel": channel, "language": language, "market": market,
			"external_id": nil, "company_name": nil,
			"authorizing_first_name": "Bill", "authorizing_last_name": "Jones",
			"billing_first_name": "Bill", "billing_last_name": "Jones",
			"btn": btn, "email_address": email,
			"service_address": "1 Main St.", "service_city": "New York", "service_state": state, "service_zip": zip,
			"billing_address": "1 Main St.", "billing_city": "New York", "billing_state": state, "billing_zip": zip,
			"vendor": "TPV Test", "sales_agent_id": "agent",
			"products": []any{map[string]any{"program_code": program,
				"account_numbers": []any{map[string]any{"account_number": account, "account_number_label": "Account Number"}}}},
		}
		body, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		checkSalesRecord(t, body)
	})
}
