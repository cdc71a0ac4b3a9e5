package apstrata

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"strconv"
)

// responseNS is the namespace of the vendor's response schema.
const responseNS = "http://www.apstrata.com/services/schemas/apstrata_database_response.xsd"

// field is one element of a result, in document order.
type field struct{ Name, Value string }

// writeResponse renders the response/metadata/result envelope as XML (the
// default) or JSON (apsws.responseType=json). err nil means success.
func writeResponse(w http.ResponseWriter, asJSON bool, requestID string, result []field, err *apsError) {
	status := http.StatusOK
	if err != nil {
		status = err.Status
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if asJSON {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		_, _ = w.Write(renderJSON(requestID, result, err))
		return
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(renderXML(requestID, result, err))
}

func renderXML(requestID string, result []field, err *apsError) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<response xmlns="` + responseNS + `"><metadata><requestId>`)
	_ = xml.EscapeText(&b, []byte(requestID))
	if err != nil {
		b.WriteString(`</requestId><status>failure</status><errorCode>`)
		_ = xml.EscapeText(&b, []byte(err.Code))
		b.WriteString(`</errorCode><errorDetail>`)
		_ = xml.EscapeText(&b, []byte(err.Detail))
		b.WriteString(`</errorDetail></metadata></response>`)
		return b.Bytes()
	}
	b.WriteString(`</requestId><status>success</status></metadata><result>`)
	for _, f := range result {
		b.WriteString("<" + f.Name + ">")
		_ = xml.EscapeText(&b, []byte(f.Value))
		b.WriteString("</" + f.Name + ">")
	}
	b.WriteString(`</result></response>`)
	return b.Bytes()
}

func renderJSON(requestID string, result []field, err *apsError) []byte {
	str := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	var b bytes.Buffer
	b.WriteString(`{"response":{"metadata":{"requestId":` + str(requestID))
	if err != nil {
		b.WriteString(`,"status":"failure","errorCode":` + str(err.Code) + `,"errorDetail":` + str(err.Detail) + `}}}`)
		return b.Bytes()
	}
	b.WriteString(`,"status":"success"},"result":{`)
	for i, f := range result {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(str(f.Name) + ":" + str(f.Value))
	}
	b.WriteString(`}}}`)
	return b.Bytes()
}

func seconds(n int64) string { return strconv.FormatInt(n, 10) }
