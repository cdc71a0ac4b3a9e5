package tpv

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/authgate/authgate/internal/core"
)

// SalesRecord is a validated TPV submission (POST /api/v1/tpv), stored as
// the data of a "tpv.records" document.
type SalesRecord struct {
	DigitalDelivery      string    `json:"digital_delivery"`
	Channel              string    `json:"channel"`
	Language             string    `json:"language"`
	ExternalID           *string   `json:"external_id"`
	Market               string    `json:"market"`
	CompanyName          *string   `json:"company_name"`
	AuthorizingFirstName string    `json:"authorizing_first_name"`
	AuthorizingLastName  string    `json:"authorizing_last_name"`
	BillingFirstName     string    `json:"billing_first_name"`
	BillingLastName      string    `json:"billing_last_name"`
	BTN                  string    `json:"btn"`
	EmailAddress         *string   `json:"email_address"`
	ServiceAddress       string    `json:"service_address"`
	ServiceCity          string    `json:"service_city"`
	ServiceState         string    `json:"service_state"`
	ServiceZip           string    `json:"service_zip"`
	BillingAddress       string    `json:"billing_address"`
	BillingCity          string    `json:"billing_city"`
	BillingState         string    `json:"billing_state"`
	BillingZip           string    `json:"billing_zip"`
	Vendor               string    `json:"vendor"`
	SalesAgentID         string    `json:"sales_agent_id"`
	Products             []Product `json:"products"`
}

// Product is one product of a sales record.
type Product struct {
	ProgramCode    string          `json:"program_code"`
	AccountNumbers []AccountNumber `json:"account_numbers"`
}

// AccountNumber identifies the customer's utility account for a product.
type AccountNumber struct {
	AccountNumber      string `json:"account_number"`
	AccountNumberLabel string `json:"account_number_label"`
}

// Limits of a sales record. Text fields are bounded so one record stays small.
const (
	maxText           = 100
	maxProducts       = 20
	maxAccountNumbers = 10
	maxAccountNumber  = 64
	maxProgramCode    = 32
)

// recordFields is the order fields are checked in (the order of the
// vendor's example), so the first error reported is deterministic.
var recordFields = []string{
	"digital_delivery", "channel", "language", "external_id", "market", "company_name",
	"authorizing_first_name", "authorizing_last_name", "billing_first_name", "billing_last_name",
	"btn", "email_address",
	"service_address", "service_city", "service_state", "service_zip",
	"billing_address", "billing_city", "billing_state", "billing_zip",
	"vendor", "sales_agent_id", "products",
}

// usStates are the USPS codes of the states, DC and the territories.
var usStates = map[string]bool{}

func init() {
	for _, s := range strings.Fields(`AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO
		MT NE NV NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY AS GU MP PR VI`) {
		usStates[s] = true
	}
}

// ParseSalesRecord decodes and validates a TPV submission. Every failure is
// a KindInvalidInput *core.Error whose reason reads "<field> must ...",
// naming the first offending field in document order; its Reasons list
// every offending field (at most maxReported), so a client fixes a record
// in one round instead of one field per attempt.
func ParseSalesRecord(body []byte) (SalesRecord, error) {
	obj, err := decodeObject(body)
	if err != nil {
		return SalesRecord{}, err
	}
	errs := &fieldErrors{}
	v := validator{obj: obj, errs: errs}
	v.unknownFields(recordFields)
	var r SalesRecord
	r.DigitalDelivery = v.oneOf("digital_delivery", "email or text", "email", "text")
	r.Channel = v.oneOf("channel", "dtd, tm, or retail", "dtd", "tm", "retail")
	r.Language = v.oneOf("language", "english or spanish", "english", "spanish")
	r.ExternalID = v.optionalText("external_id", maxText)
	r.Market = v.oneOf("market", "residential or commercial", "residential", "commercial")
	r.CompanyName = v.optionalText("company_name", maxText)
	if _, given := v.raw("company_name"); r.Market == "commercial" && !given {
		v.fail("company_name must be given for the commercial market.")
	}
	r.AuthorizingFirstName = v.text("authorizing_first_name", maxText)
	r.AuthorizingLastName = v.text("authorizing_last_name", maxText)
	r.BillingFirstName = v.text("billing_first_name", maxText)
	r.BillingLastName = v.text("billing_last_name", maxText)
	r.BTN = v.digits("btn", 10, 11)
	r.EmailAddress = v.email("email_address", r.DigitalDelivery == "email")
	r.ServiceAddress = v.text("service_address", maxText)
	r.ServiceCity = v.text("service_city", maxText)
	r.ServiceState = v.state("service_state")
	r.ServiceZip = v.zip("service_zip")
	r.BillingAddress = v.text("billing_address", maxText)
	r.BillingCity = v.text("billing_city", maxText)
	r.BillingState = v.state("billing_state")
	r.BillingZip = v.zip("billing_zip")
	r.Vendor = v.text("vendor", maxText)
	r.SalesAgentID = v.text("sales_agent_id", maxText)
	r.Products = v.products("products")
	if err := errs.err(); err != nil {
		return SalesRecord{}, err
	}
	return r, nil
}

// decodeObject parses body as one JSON object, numbers kept as written.
func decodeObject(body []byte) (map[string]any, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, core.E(core.KindInvalidInput, "body must be a JSON object.")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var top any
	if err := dec.Decode(&top); err != nil {
		return nil, core.E(core.KindInvalidInput, "body must be valid JSON.")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, core.E(core.KindInvalidInput, "body must hold exactly one JSON value.")
	}
	obj, ok := top.(map[string]any)
	if !ok {
		return nil, core.E(core.KindInvalidInput, "body must be a JSON object.")
	}
	return obj, nil
}

// maxReported bounds the reasons one refusal lists (a 4 KiB body can
// hold hundreds of unknown fields); the last entry then says how many more
// there were.
const maxReported = 32

// fieldErrors collects the reasons of one record's refusal, in the order
// found.
type fieldErrors struct {
	msgs    []string
	dropped int
}

func (e *fieldErrors) add(msg string) {
	if len(e.msgs) < maxReported {
		e.msgs = append(e.msgs, msg)
	} else {
		e.dropped++
	}
}

// err is nil when nothing failed.
func (e *fieldErrors) err() error {
	if len(e.msgs) == 0 {
		return nil
	}
	msgs := e.msgs
	if e.dropped > 0 {
		msgs = append(slices.Clip(msgs), strconv.Itoa(e.dropped)+" more errors are not listed.")
	}
	return core.Invalid(msgs)
}

// printable bounds and sanitises a client-chosen name before it is echoed.
func printable(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return '?'
		}
		return r
	}, s)
}

// validator checks the fields of one JSON object; every failure goes to
// errs, shared with the validators of nested objects.
type validator struct {
	obj    map[string]any
	prefix string // "products[0]." inside nested objects
	errs   *fieldErrors
}

func (v *validator) fail(msg string) { v.errs.add(msg) }

// unknownFields refuses fields outside known (sorted, so the report is
// deterministic), so a misspelt field is an error rather than silently
// missing data.
func (v *validator) unknownFields(known []string) {
	var extra []string
	for k := range v.obj {
		if !slices.Contains(known, k) {
			extra = append(extra, k)
		}
	}
	slices.Sort(extra)
	for _, k := range extra {
		v.fail(v.prefix + printable(k) + " must not be present: it is not a field of this object.")
	}
}

// raw returns the value of field and whether it is present and not null.
func (v *validator) raw(field string) (any, bool) {
	x, ok := v.obj[field]
	return x, ok && x != nil
}

// str returns field as a string, reporting a missing or non-string value.
func (v *validator) str(field string) (string, bool) {
	name := v.prefix + field
	x, ok := v.raw(field)
	if !ok {
		v.fail(name + " must be given.")
		return "", false
	}
	s, isStr := x.(string)
	if !isStr {
		v.fail(name + " must be a string.")
		return "", false
	}
	return s, true
}

func (v *validator) text(field string, max int) string {
	s, ok := v.str(field)
	if !ok {
		return ""
	}
	v.checkText(v.prefix+field, s, max)
	return strings.TrimSpace(s)
}

func (v *validator) checkText(name, s string, max int) {
	switch {
	case strings.TrimSpace(s) == "":
		v.fail(name + " must not be empty.")
	case !utf8.ValidString(s):
		v.fail(name + " must be valid UTF-8.")
	case utf8.RuneCountInString(s) > max:
		v.fail(name + " must be at most " + strconv.Itoa(max) + " characters.")
	case strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		v.fail(name + " must not contain control characters.")
	}
}

// optionalText accepts a missing field or null as "not given".
func (v *validator) optionalText(field string, max int) *string {
	x, ok := v.raw(field)
	if !ok {
		return nil
	}
	s, isStr := x.(string)
	if !isStr {
		v.fail(v.prefix + field + " must be a string or null.")
		return nil
	}
	v.checkText(v.prefix+field, s, max)
	s = strings.TrimSpace(s)
	return &s
}

// oneOf checks an enumerated field; the message follows the vendor's
// "channel must be defined as one of dtd, tm, or retail." exactly.
func (v *validator) oneOf(field, list string, allowed ...string) string {
	x, _ := v.raw(field)
	s, _ := x.(string)
	if !slices.Contains(allowed, s) {
		v.fail(v.prefix + field + " must be defined as one of " + list + ".")
		return ""
	}
	return s
}

func (v *validator) digits(field string, min, max int) string {
	s, ok := v.str(field)
	if !ok {
		return ""
	}
	if len(s) < min || len(s) > max || strings.ContainsFunc(s, func(r rune) bool { return r < '0' || r > '9' }) {
		v.fail(v.prefix + field + " must be " + strconv.Itoa(min) + " to " + strconv.Itoa(max) + " digits.")
		return ""
	}
	return s
}

func (v *validator) email(field string, required bool) *string {
	x, ok := v.raw(field)
	if !ok {
		if required {
			v.fail(field + " must be given when digital_delivery is email.")
		}
		return nil
	}
	s, isStr := x.(string)
	if !isStr {
		v.fail(field + " must be a string.")
		return nil
	}
	a, err := mail.ParseAddress(s)
	// Only a bare addr-spec: no display names, comments or angle brackets.
	if err != nil || a.Address != s || len(s) > 254 || a.Name != "" {
		v.fail(field + " must be a valid email address.")
		return nil
	}
	return &s
}

func (v *validator) state(field string) string {
	s, ok := v.str(field)
	if !ok {
		return ""
	}
	if !usStates[s] {
		v.fail(field + " must be a two-letter US state code.")
		return ""
	}
	return s
}

func (v *validator) zip(field string) string {
	s, ok := v.str(field)
	if !ok {
		return ""
	}
	digits := func(t string) bool {
		return !strings.ContainsFunc(t, func(r rune) bool { return r < '0' || r > '9' })
	}
	five, four, plus := strings.Cut(s, "-")
	if len(five) != 5 || !digits(five) || plus && (len(four) != 4 || !digits(four)) {
		v.fail(field + " must be a 5-digit ZIP code or ZIP+4.")
		return ""
	}
	return s
}

func (v *validator) array(field string, min, max int) []any {
	name := v.prefix + field
	x, ok := v.raw(field)
	if !ok {
		v.fail(name + " must be given.")
		return nil
	}
	arr, isArr := x.([]any)
	switch {
	case !isArr:
		v.fail(name + " must be an array.")
	case len(arr) < min:
		v.fail(name + " must contain at least " + strconv.Itoa(min) + " item.")
	case len(arr) > max:
		v.fail(name + " must contain at most " + strconv.Itoa(max) + " items.")
	default:
		return arr
	}
	return nil
}

// object returns element x of an array, named name, as a validator of its
// own sharing v's errors; false if x is not an object.
func (v *validator) object(name string, x any, known []string) (*validator, bool) {
	obj, ok := x.(map[string]any)
	if !ok {
		v.fail(name + " must be an object.")
		return nil, false
	}
	nv := &validator{obj: obj, prefix: name + ".", errs: v.errs}
	nv.unknownFields(known)
	return nv, true
}

func (v *validator) products(field string) []Product {
	arr := v.array(field, 1, maxProducts)
	out := make([]Product, 0, len(arr))
	for i, x := range arr {
		pv, ok := v.object(field+"["+strconv.Itoa(i)+"]", x, []string{"program_code", "account_numbers"})
		if !ok {
			continue
		}
		p := Product{ProgramCode: pv.programCode("program_code")}
		for j, y := range pv.array("account_numbers", 1, maxAccountNumbers) {
			av, ok := pv.object(pv.prefix+"account_numbers["+strconv.Itoa(j)+"]", y, []string{"account_number", "account_number_label"})
			if !ok {
				continue
			}
			p.AccountNumbers = append(p.AccountNumbers, AccountNumber{
				AccountNumber:      av.accountNumber("account_number"),
				AccountNumberLabel: av.text("account_number_label", maxText),
			})
		}
		out = append(out, p)
	}
	return out
}

// programCode checks the syntax of a program code (ValidProgramCode).
func (v *validator) programCode(field string) string {
	s, ok := v.str(field)
	if !ok {
		return ""
	}
	if !ValidProgramCode(s) {
		v.fail(v.prefix + field + " must be 1 to " + strconv.Itoa(maxProgramCode) + " letters, digits, '-' or '_'.")
		return ""
	}
	return s
}

func (v *validator) accountNumber(field string) string {
	s, ok := v.str(field)
	if !ok {
		return ""
	}
	bad := func(r rune) bool {
		return !('0' <= r && r <= '9' || 'A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || r == '-' || r == ' ')
	}
	if strings.TrimSpace(s) == "" || len(s) > maxAccountNumber || strings.ContainsFunc(s, bad) {
		v.fail(v.prefix + field + " must be 1 to " + strconv.Itoa(maxAccountNumber) + " letters, digits, spaces or '-'.")
		return ""
	}
	return s
}

// ValidProgramCode reports whether s is a well-formed program code:
// 1 to 32 ASCII letters, digits, '-' or '_'.
func ValidProgramCode(s string) bool {
	if s == "" || len(s) > maxProgramCode {
		return false
	}
	return !strings.ContainsFunc(s, func(r rune) bool {
		return !('0' <= r && r <= '9' || 'A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || r == '-' || r == '_')
	})
}
