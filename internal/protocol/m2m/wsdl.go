package m2m

import (
	"bytes"
	"html"
	"net/http"
	"strings"
	"text/template"

	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/sdk/m2m"
)

// schema is the XML Schema of every M2M message (elementFormDefault
// qualified: children are in the target namespace, as the Go types and
// generated clients write them).
const schema = `<xsd:schema targetNamespace="` + m2m.Namespace + `" xmlns:tns="` + m2m.Namespace + `" elementFormDefault="qualified">
      <xsd:simpleType name="ICCID"><xsd:restriction base="xsd:string"><xsd:pattern value="89[0-9]{17,18}"/></xsd:restriction></xsd:simpleType>
      <xsd:complexType name="AdmRequest"><xsd:sequence>
        <xsd:element name="M2MApiKey" type="xsd:string"/>
        <xsd:element name="SenderId" type="xsd:string" minOccurs="0"/>
        <xsd:element name="PartnerId" type="xsd:string" minOccurs="0"/>
        <xsd:element name="ICCID" type="tns:ICCID"/>
        <xsd:element name="Tariff" type="xsd:string" minOccurs="0"/>
      </xsd:sequence></xsd:complexType>
      <xsd:complexType name="SIMRequest"><xsd:sequence>
        <xsd:element name="M2MApiKey" type="xsd:string"/>
        <xsd:element name="SenderId" type="xsd:string" minOccurs="0"/>
        <xsd:element name="PartnerId" type="xsd:string" minOccurs="0"/>
        <xsd:element name="ICCID" type="tns:ICCID"/>
      </xsd:sequence></xsd:complexType>
      <xsd:complexType name="Acknowledgment"><xsd:sequence>
        <xsd:element name="StateCode" type="xsd:int"/>
        <xsd:element name="NotificationText" type="xsd:string"/>
      </xsd:sequence></xsd:complexType>
      <xsd:element name="SIMActivation" type="tns:AdmRequest"/>
      <xsd:element name="SIMDeactivation" type="tns:AdmRequest"/>
      <xsd:element name="SIMSuspend" type="tns:AdmRequest"/>
      <xsd:element name="SIMResume" type="tns:AdmRequest"/>
      <xsd:element name="SIMTariffChange" type="tns:AdmRequest"/>
      <xsd:element name="MessageResponse"><xsd:complexType><xsd:sequence>
        <xsd:element name="RequestId" type="xsd:string"/>
        <xsd:element name="Operation" type="xsd:string"/>
        <xsd:element name="ICCID" type="tns:ICCID"/>
        <xsd:element name="Status" type="xsd:string"/>
      </xsd:sequence></xsd:complexType></xsd:element>
      <xsd:element name="SIMUsageGet" type="tns:SIMRequest"/>
      <xsd:element name="SIMUsageResponse"><xsd:complexType><xsd:sequence>
        <xsd:element name="ICCID" type="tns:ICCID"/>
        <xsd:element name="State" type="xsd:string"/>
        <xsd:element name="PeriodStart" type="xsd:dateTime"/>
        <xsd:element name="DataVolume" type="xsd:long"/>
        <xsd:element name="SMSCount" type="xsd:long"/>
        <xsd:element name="VoiceSeconds" type="xsd:long"/>
      </xsd:sequence></xsd:complexType></xsd:element>
      <xsd:element name="SIMStateGet" type="tns:SIMRequest"/>
      <xsd:element name="SIMStateResponse"><xsd:complexType><xsd:sequence>
        <xsd:element name="ICCID" type="tns:ICCID"/>
        <xsd:element name="State" type="xsd:string"/>
        <xsd:element name="NetworkState" type="xsd:string"/>
        <xsd:element name="Tariff" type="xsd:string"/>
        <xsd:element name="LastChange" type="xsd:dateTime"/>
      </xsd:sequence></xsd:complexType></xsd:element>
      <xsd:element name="M2MAdmResponse"><xsd:complexType><xsd:sequence>
        <xsd:element name="RequestId" type="xsd:string"/>
        <xsd:element name="Operation" type="xsd:string"/>
        <xsd:element name="ICCID" type="tns:ICCID"/>
        <xsd:element name="Result" type="xsd:string"/>
        <xsd:element name="ResultCode" type="xsd:string" minOccurs="0"/>
        <xsd:element name="ResultText" type="xsd:string" minOccurs="0"/>
        <xsd:element name="State" type="xsd:string"/>
        <xsd:element name="Tariff" type="xsd:string" minOccurs="0"/>
        <xsd:element name="CompletedAt" type="xsd:dateTime"/>
      </xsd:sequence></xsd:complexType></xsd:element>
      <xsd:element name="M2MAdmResponseMessage" type="tns:Acknowledgment"/>
      <xsd:element name="SIMNetworkStateChange"><xsd:complexType><xsd:sequence>
        <xsd:element name="EventId" type="xsd:string"/>
        <xsd:element name="ICCID" type="tns:ICCID"/>
        <xsd:element name="NetworkState" type="xsd:string"/>
        <xsd:element name="PreviousNetworkState" type="xsd:string"/>
        <xsd:element name="ChangedAt" type="xsd:dateTime"/>
      </xsd:sequence></xsd:complexType></xsd:element>
      <xsd:element name="M2MMonResponseMessage" type="tns:Acknowledgment"/>
      <xsd:element name="M2MFault"><xsd:complexType><xsd:sequence>
        <xsd:element name="ErrorCode" type="xsd:string"/>
      </xsd:sequence></xsd:complexType></xsd:element>
    </xsd:schema>`

type wsdlOp struct{ Name, In, Out string }

type wsdlDef struct {
	Service string
	Ops     []wsdlOp
}

// wsdls are the four WSDL files the setup document names.
var wsdls = map[string]wsdlDef{
	"M2MAdmv30.wsdl": {"M2MAdm", []wsdlOp{
		{m2m.OpSIMActivation, m2m.OpSIMActivation, "MessageResponse"},
		{m2m.OpSIMDeactivation, m2m.OpSIMDeactivation, "MessageResponse"},
		{m2m.OpSIMSuspend, m2m.OpSIMSuspend, "MessageResponse"},
		{m2m.OpSIMResume, m2m.OpSIMResume, "MessageResponse"},
		{m2m.OpSIMTariffChange, m2m.OpSIMTariffChange, "MessageResponse"},
	}},
	"M2MMonv30.wsdl": {"M2MMon", []wsdlOp{
		{m2m.OpSIMUsageGet, m2m.OpSIMUsageGet, "SIMUsageResponse"},
		{m2m.OpSIMStateGet, m2m.OpSIMStateGet, "SIMStateResponse"},
	}},
	"M2MAdmClv30.wsdl": {"M2MAdmCl", []wsdlOp{{m2m.OpM2MAdmResponse, m2m.OpM2MAdmResponse, "M2MAdmResponseMessage"}}},
	"M2MMonClv30.wsdl": {"M2MMonCl", []wsdlOp{{m2m.OpSIMNetworkState, m2m.OpSIMNetworkState, "M2MMonResponseMessage"}}},
}

var wsdlTmpl = template.Must(template.New("wsdl").Parse(`<?xml version="1.0" encoding="UTF-8"?>
<wsdl:definitions name="{{.Def.Service}}" targetNamespace="{{.NS}}"
  xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
  xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:tns="{{.NS}}">
  <wsdl:documentation>{{.Def.Service}} of the authgate M2M Connectivity API. Every message carries a
    WS-Security header: wsu:Timestamp (TTL 300 s), X.509 BinarySecurityToken and an rsa-sha256
    ds:Signature (exclusive c14n) over soap:Body and the Timestamp. Requests carry M2MApiKey.</wsdl:documentation>
  <wsdl:types>
    {{.Schema}}
  </wsdl:types>
  <wsdl:message name="Fault"><wsdl:part name="fault" element="tns:M2MFault"/></wsdl:message>
{{- range .Def.Ops}}
  <wsdl:message name="{{.Name}}Request"><wsdl:part name="parameters" element="tns:{{.In}}"/></wsdl:message>
  <wsdl:message name="{{.Name}}Response"><wsdl:part name="parameters" element="tns:{{.Out}}"/></wsdl:message>
{{- end}}
  <wsdl:portType name="{{.Def.Service}}PortType">
{{- range .Def.Ops}}
    <wsdl:operation name="{{.Name}}">
      <wsdl:input message="tns:{{.Name}}Request"/>
      <wsdl:output message="tns:{{.Name}}Response"/>
      <wsdl:fault name="M2MFault" message="tns:Fault"/>
    </wsdl:operation>
{{- end}}
  </wsdl:portType>
  <wsdl:binding name="{{.Def.Service}}Binding" type="tns:{{.Def.Service}}PortType">
    <soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
{{- range .Def.Ops}}
    <wsdl:operation name="{{.Name}}">
      <soap:operation soapAction="{{$.NS}}/{{.Name}}"/>
      <wsdl:input><soap:body use="literal"/></wsdl:input>
      <wsdl:output><soap:body use="literal"/></wsdl:output>
      <wsdl:fault name="M2MFault"><soap:fault name="M2MFault" use="literal"/></wsdl:fault>
    </wsdl:operation>
{{- end}}
  </wsdl:binding>
  <wsdl:service name="{{.Def.Service}}">
    <wsdl:port name="{{.Def.Service}}Port" binding="tns:{{.Def.Service}}Binding">
      <soap:address location="{{.Location}}"/>
    </wsdl:port>
  </wsdl:service>
</wsdl:definitions>
`))

// WSDL renders one of the four WSDL files with its service at location.
func WSDL(file, location string) ([]byte, bool) {
	def, ok := wsdls[file]
	if !ok {
		return nil, false
	}
	var b bytes.Buffer
	err := wsdlTmpl.Execute(&b, struct {
		Def                  wsdlDef
		NS, Schema, Location string
	}{def, m2m.Namespace, schema, html.EscapeString(location)})
	return b.Bytes(), err == nil
}

// serveWSDL answers GET <service>?wsdl and GET /wsdl/<file>. The address
// of the platform services is this listener's; the partner-side WSDLs
// carry a placeholder the partner replaces with its own endpoint.
func (e *Env) serveWSDL(file string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/M2M") && !r.URL.Query().Has("wsdl") {
			httpapi.WriteJSON(w, http.StatusNotFound, map[string]string{"error": "use POST for SOAP calls or ?wsdl for the WSDL"})
			return
		}
		def, ok := wsdls[file]
		if !ok {
			http.NotFound(w, r)
			return
		}
		// The Host header only when it names this listener (httpapi.Origin).
		loc := "https://" + httpapi.LocalOrigin(httpapi.ClientAddr{}).Host(r) + "/" + def.Service
		if strings.HasSuffix(def.Service, "Cl") {
			loc = "https://partner.example/" + def.Service
		}
		b, _ := WSDL(file, loc)
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		_, _ = w.Write(b)
	}
}
