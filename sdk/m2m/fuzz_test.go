package m2m

import "testing"

// FuzzParsers feeds untrusted envelopes to the fault extractor and the
// payload decoders the client and partner server use: no panics, and a
// decoded payload always has a name.
func FuzzParsers(f *testing.F) {
	f.Add([]byte(`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault><faultcode>soap:Client</faultcode><faultstring>x</faultstring><detail><m2m:M2MFault xmlns:m2m="urn:authgate:m2m:v30"><m2m:ErrorCode>UnknownICCID</m2m:ErrorCode></m2m:M2MFault></detail></soap:Fault></soap:Body></soap:Envelope>`))
	f.Add([]byte(`<soap:Body xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><M2MAdmResponse xmlns="urn:authgate:m2m:v30"><RequestId>r</RequestId><CompletedAt>2024-01-01T00:00:00Z</CompletedAt></M2MAdmResponse></soap:Body>`))
	f.Add([]byte(`<a><b><c>&lt;</c></b></a>`))
	f.Add([]byte(`<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = ParseFault(b)
		if name, err := PayloadName(b); err == nil && name.Local == "" {
			t.Fatal("payload without a name")
		}
		var m M2MAdmResponse
		_ = DecodePayload(b, &m)
		var n SIMNetworkStateChange
		_ = DecodePayload(b, &n)
	})
}
