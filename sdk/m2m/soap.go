package m2m

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"

	"github.com/authgate/authgate/internal/wssec"
)

// Fault codes. Security failures use the WS-Security codes (wsse:...);
// the others are SOAP 1.1 Client/Server faults whose detail carries one of
// the Err* codes below.
const (
	FaultClient = "soap:Client"
	FaultServer = "soap:Server"

	ErrMissingAPIKey       = "MissingApiKey"
	ErrInvalidAPIKey       = "InvalidApiKey"
	ErrCertificateMismatch = "CertificateMismatch"
	ErrReplayed            = "MessageReplayed"
	ErrUnknownOperation    = "UnknownOperation"
	ErrInvalidRequest      = "InvalidRequest"
	ErrUnknownICCID        = "UnknownICCID"
	ErrInvalidSIMState     = "InvalidSIMState"
	ErrNotAuthorized       = "NotAuthorized"
	ErrMessageTooLarge     = "MessageTooLarge"
	ErrIdentifierMismatch  = "IdentifierMismatch"
	ErrUnavailable         = "ServiceUnavailable"
	ErrInternal            = "InternalError"
)

// faultXML is the wire form of a SOAP 1.1 Fault.
type faultXML struct {
	XMLName xml.Name `xml:"http://schemas.xmlsoap.org/soap/envelope/ Fault"`
	Code    string   `xml:"faultcode"`
	String  string   `xml:"faultstring"`
	Detail  *struct {
		M2MFault struct {
			ErrorCode string `xml:"ErrorCode"`
		} `xml:"urn:authgate:m2m:v30 M2MFault"`
	} `xml:"detail"`
}

// FaultPayload renders a soap:Fault element (the content of a Body). code
// is a QName whose prefix is soap or wsse; detail, if set, is an Err* code.
func FaultPayload(code, reason, detail string) []byte {
	var b bytes.Buffer
	b.WriteString(`<soap:Fault xmlns:soap="` + wssec.NSSOAP11 + `"`)
	if strings.HasPrefix(code, "wsse:") {
		b.WriteString(` xmlns:wsse="` + wssec.NSWSSE + `"`)
	}
	b.WriteString(`><faultcode>`)
	xml.EscapeText(&b, []byte(code))
	b.WriteString(`</faultcode><faultstring>`)
	xml.EscapeText(&b, []byte(reason))
	b.WriteString(`</faultstring>`)
	if detail != "" {
		b.WriteString(`<detail><m2m:M2MFault xmlns:m2m="` + Namespace + `"><m2m:ErrorCode>`)
		xml.EscapeText(&b, []byte(detail))
		b.WriteString(`</m2m:ErrorCode></m2m:M2MFault></detail>`)
	}
	b.WriteString(`</soap:Fault>`)
	return b.Bytes()
}

// UnsignedEnvelope wraps payload in a SOAP 1.1 envelope without security
// header; authgate uses it only for faults about the security header itself.
func UnsignedEnvelope(payload []byte) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<soap:Envelope xmlns:soap="` + wssec.NSSOAP11 + `"><soap:Body>`)
	b.Write(payload)
	b.WriteString(`</soap:Body></soap:Envelope>`)
	return b.Bytes()
}

// PayloadName returns the name of the first element inside soap:Body of
// canonical Body bytes (as wssec.Verified.BodyC14N holds them).
func PayloadName(bodyC14N []byte) (xml.Name, error) {
	_, start, err := payloadStart(bodyC14N)
	if err != nil {
		return xml.Name{}, err
	}
	return start.Name, nil
}

func payloadStart(bodyC14N []byte) (*xml.Decoder, xml.StartElement, error) {
	dec := xml.NewDecoder(bytes.NewReader(bodyC14N))
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, xml.StartElement{}, errors.New("empty SOAP Body")
			}
			return nil, xml.StartElement{}, err
		}
		if se, ok := tok.(xml.StartElement); ok {
			depth++
			if depth == 2 {
				return dec, se, nil
			}
		}
	}
}

// DecodePayload decodes the first element inside soap:Body into v.
func DecodePayload(bodyC14N []byte, v any) error {
	dec, start, err := payloadStart(bodyC14N)
	if err != nil {
		return err
	}
	return dec.DecodeElement(v, &start)
}

// ParseFault extracts a SOAP Fault from a (possibly unsigned) envelope;
// nil if the message holds none.
func ParseFault(envelope []byte) *Fault {
	dec := xml.NewDecoder(bytes.NewReader(envelope))
	dec.Strict = true
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Space != wssec.NSSOAP11 || se.Name.Local != "Fault" {
			continue
		}
		var f faultXML
		if err := dec.DecodeElement(&f, &se); err != nil {
			return nil
		}
		out := &Fault{Code: f.Code, String: f.String}
		if f.Detail != nil {
			out.Detail = f.Detail.M2MFault.ErrorCode
		}
		return out
	}
}
