package tpv

import (
	"encoding/json"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/core"
)

func exampleMap(t testing.TB) map[string]any {
	t.Helper()
	b, err := os.ReadFile("testdata/example_record.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// del marks a field for removal in a mutation.
type del struct{}

func TestParseSalesRecordExample(t *testing.T) {
	b, _ := os.ReadFile("testdata/example_record.json")
	r, err := ParseSalesRecord(b)
	if err != nil {
		t.Fatal(err)
	}
	if r.Channel != "dtd" || r.BTN != "19181112222" || *r.EmailAddress != "bill@jones.com" || r.ExternalID != nil ||
		len(r.Products) != 1 || r.Products[0].ProgramCode != "555" || r.Products[0].AccountNumbers[0].AccountNumber != "123123123123123" {
		t.Fatalf("parsed %+v", r)
	}
}

func TestParseSalesRecordErrors(t *testing.T) {
	product := func(mut func(p map[string]any)) []any {
		p := map[string]any{"program_code": "555", "account_numbers": []any{map[string]any{"account_number": "123", "account_number_label": "Account Number"}}}
		mut(p)
		return []any{p}
	}
	for _, tc := range []struct {
		field string
		value any
		want  string
	}{
		{"channel", "door", "channel must be defined as one of dtd, tm, or retail."},
		{"channel", del{}, "channel must be defined as one of dtd, tm, or retail."},
		{"channel", 1, "channel must be defined as one of dtd, tm, or retail."},
		{"digital_delivery", "fax", "digital_delivery must be defined as one of email or text."},
		{"language", "french", "language must be defined as one of english or spanish."},
		{"market", "industrial", "market must be defined as one of residential or commercial."},
		{"market", "commercial", "company_name must be given for the commercial market."},
		{"external_id", 42, "external_id must be a string or null."},
		{"company_name", []any{}, "company_name must be a string or null."},
		{"authorizing_first_name", del{}, "authorizing_first_name must be given."},
		{"authorizing_first_name", nil, "authorizing_first_name must be given."},
		{"authorizing_last_name", "  ", "authorizing_last_name must not be empty."},
		{"billing_first_name", true, "billing_first_name must be a string."},
		{"billing_last_name", strings.Repeat("x", 101), "billing_last_name must be at most 100 characters."},
		{"billing_last_name", "a\x00b", "billing_last_name must not contain control characters."},
		{"btn", 19181112222, "btn must be a string."},
		{"btn", "918111222", "btn must be 10 to 11 digits."},
		{"btn", "918-111-2222", "btn must be 10 to 11 digits."},
		{"btn", "191811122223", "btn must be 10 to 11 digits."},
		{"email_address", del{}, "email_address must be given when digital_delivery is email."},
		{"email_address", "bill", "email_address must be a valid email address."},
		{"email_address", "Bill <bill@jones.com>", "email_address must be a valid email address."},
		{"email_address", 5, "email_address must be a string."},
		{"service_address", del{}, "service_address must be given."},
		{"service_city", 3.5, "service_city must be a string."},
		{"service_state", "New York", "service_state must be a two-letter US state code."},
		{"service_state", "ny", "service_state must be a two-letter US state code."},
		{"service_zip", "1000", "service_zip must be a 5-digit ZIP code or ZIP+4."},
		{"service_zip", "10001-12", "service_zip must be a 5-digit ZIP code or ZIP+4."},
		{"service_zip", 10001, "service_zip must be a string."},
		{"billing_address", "", "billing_address must not be empty."},
		{"billing_city", del{}, "billing_city must be given."},
		{"billing_state", "ZZ", "billing_state must be a two-letter US state code."},
		{"billing_zip", "ABCDE", "billing_zip must be a 5-digit ZIP code or ZIP+4."},
		{"vendor", del{}, "vendor must be given."},
		{"sales_agent_id", map[string]any{}, "sales_agent_id must be a string."},
		{"products", del{}, "products must be given."},
		{"products", "555", "products must be an array."},
		{"products", []any{}, "products must contain at least 1 item."},
		{"products", make([]any, 21), "products must contain at most 20 items."},
		{"products", []any{"555"}, "products[0] must be an object."},
		{"products", product(func(p map[string]any) { delete(p, "program_code") }), "products[0].program_code must be given."},
		{"products", product(func(p map[string]any) { p["program_code"] = 555 }), "products[0].program_code must be a string."},
		{"products", product(func(p map[string]any) { p["program_code"] = "5 5" }), "products[0].program_code must be 1 to 32 letters, digits, '-' or '_'."},
		{"products", product(func(p map[string]any) { p["extra"] = 1 }), "products[0].extra must not be present: it is not a field of this object."},
		{"products", product(func(p map[string]any) { delete(p, "account_numbers") }), "products[0].account_numbers must be given."},
		{"products", product(func(p map[string]any) { p["account_numbers"] = map[string]any{} }), "products[0].account_numbers must be an array."},
		{"products", product(func(p map[string]any) { p["account_numbers"] = []any{} }), "products[0].account_numbers must contain at least 1 item."},
		{"products", product(func(p map[string]any) { p["account_numbers"] = []any{1} }), "products[0].account_numbers[0] must be an object."},
		{"products", product(func(p map[string]any) {
			p["account_numbers"] = []any{map[string]any{"account_number_label": "x"}}
		}), "products[0].account_numbers[0].account_number must be given."},
		{"products", product(func(p map[string]any) {
			p["account_numbers"] = []any{map[string]any{"account_number": 123, "account_number_label": "x"}}
		}), "products[0].account_numbers[0].account_number must be a string."},
		{"products", product(func(p map[string]any) {
			p["account_numbers"] = []any{map[string]any{"account_number": "12/3", "account_number_label": "x"}}
		}), "products[0].account_numbers[0].account_number must be 1 to 64 letters, digits, spaces or '-'."},
		{"products", product(func(p map[string]any) {
			p["account_numbers"] = []any{map[string]any{"account_number": "123"}}
		}), "products[0].account_numbers[0].account_number_label must be given."},
		{"unexpected", "x", "unexpected must not be present: it is not a field of this object."},
	} {
		m := exampleMap(t)
		if _, ok := tc.value.(del); ok {
			delete(m, tc.field)
		} else {
			m[tc.field] = tc.value
		}
		b, _ := json.Marshal(m)
		_, err := ParseSalesRecord(b)
		if core.KindOf(err) != core.KindInvalidInput || core.ReasonOf(err) != tc.want {
			t.Errorf("%s=%v: got %v, want %q", tc.field, tc.value, err, tc.want)
		}
	}
}

func TestParseSalesRecordAccepts(t *testing.T) {
	for _, mut := range []map[string]any{
		{"channel": "tm"}, {"channel": "retail"}, {"digital_delivery": "text", "email_address": nil},
		{"language": "spanish"}, {"market": "commercial", "company_name": "Jones LLC"},
		{"external_id": "crm-77"}, {"btn": "9181112222"}, {"service_zip": "10001-1234"}, {"billing_state": "PR"},
	} {
		m := exampleMap(t)
		for k, v := range mut {
			m[k] = v
		}
		b, _ := json.Marshal(m)
		if _, err := ParseSalesRecord(b); err != nil {
			t.Errorf("%v: %v", mut, err)
		}
	}
}

func TestParseSalesRecordBody(t *testing.T) {
	for body, want := range map[string]string{
		"":             "body must be a JSON object.",
		"   ":          "body must be a JSON object.",
		"{":            "body must be valid JSON.",
		"[]":           "body must be a JSON object.",
		"null":         "body must be a JSON object.",
		`{"a":1} {}`:   "body must hold exactly one JSON value.",
		`{"channel":}`: "body must be valid JSON.",
	} {
		_, err := ParseSalesRecord([]byte(body))
		if core.ReasonOf(err) != want {
			t.Errorf("%q: got %v, want %q", body, err, want)
		}
	}
}

// TestParseSalesRecordListsEveryField checks that one refusal names every
// offending field: an empty object lists each required field in document
// order, a record with faults at every level lists exactly those.
func TestParseSalesRecordListsEveryField(t *testing.T) {
	reasons := func(body []byte) []string {
		t.Helper()
		_, err := ParseSalesRecord(body)
		if core.KindOf(err) != core.KindInvalidInput || core.ReasonOf(err) != core.ReasonsOf(err)[0] {
			t.Fatalf("got %v", err)
		}
		return core.ReasonsOf(err)
	}
	got := reasons([]byte(`{}`))
	want := []string{
		"digital_delivery must be defined as one of email or text.",
		"channel must be defined as one of dtd, tm, or retail.",
		"language must be defined as one of english or spanish.",
		"market must be defined as one of residential or commercial.",
		"authorizing_first_name must be given.", "authorizing_last_name must be given.",
		"billing_first_name must be given.", "billing_last_name must be given.",
		"btn must be given.",
		"service_address must be given.", "service_city must be given.", "service_state must be given.", "service_zip must be given.",
		"billing_address must be given.", "billing_city must be given.", "billing_state must be given.", "billing_zip must be given.",
		"vendor must be given.", "sales_agent_id must be given.", "products must be given.",
	}
	if !slices.Equal(got, want) {
		t.Errorf("{}:\n got %q\nwant %q", got, want)
	}

	m := exampleMap(t)
	m["zz_extra"] = 1
	m["market"] = "commercial" // and no company_name
	m["billing_state"] = "ny"
	m["products"] = []any{
		"555",
		map[string]any{"program_code": "5 5", "note": "x", "account_numbers": []any{
			map[string]any{"account_number": "1"},
			map[string]any{"account_number": "12/3", "account_number_label": ""},
		}},
	}
	b, _ := json.Marshal(m)
	got = reasons(b)
	want = []string{
		"zz_extra must not be present: it is not a field of this object.",
		"company_name must be given for the commercial market.",
		"billing_state must be a two-letter US state code.",
		"products[0] must be an object.",
		"products[1].note must not be present: it is not a field of this object.",
		"products[1].program_code must be 1 to 32 letters, digits, '-' or '_'.",
		"products[1].account_numbers[0].account_number_label must be given.",
		"products[1].account_numbers[1].account_number must be 1 to 64 letters, digits, spaces or '-'.",
		"products[1].account_numbers[1].account_number_label must not be empty.",
	}
	if !slices.Equal(got, want) {
		t.Errorf("nested:\n got %q\nwant %q", got, want)
	}
}

// TestParseSalesRecordReportBounded checks that a body full of unknown
// fields yields a bounded list that says how much it left out.
func TestParseSalesRecordReportBounded(t *testing.T) {
	m := exampleMap(t)
	for i := range 100 {
		m["x"+strconv.Itoa(1000+i)] = 1
	}
	b, _ := json.Marshal(m)
	_, err := ParseSalesRecord(b)
	got := core.ReasonsOf(err)
	if len(got) != maxReported+1 || got[0] != "x1000 must not be present: it is not a field of this object." ||
		got[maxReported] != "68 more errors are not listed." {
		t.Fatalf("%d reasons: first %q, last %q", len(got), got[0], got[len(got)-1])
	}
}
