package m2m

import (
	"encoding/xml"
	"time"
)

// Namespace is the target namespace of the M2M services' messages
// (M2MAdmv30, M2MMonv30, M2MAdmClv30 and M2MMonClv30 share it).
const Namespace = "urn:authgate:m2m:v30"

// Operation names, as the elements of the SOAP Body are called.
const (
	OpSIMActivation   = "SIMActivation"
	OpSIMDeactivation = "SIMDeactivation"
	OpSIMSuspend      = "SIMSuspend"
	OpSIMResume       = "SIMResume"
	OpSIMTariffChange = "SIMTariffChange"
	OpSIMUsageGet     = "SIMUsageGet"
	OpSIMStateGet     = "SIMStateGet"
	OpM2MAdmResponse  = "M2MAdmResponse"
	OpSIMNetworkState = "SIMNetworkStateChange"
)

// AdmOperations are the asynchronous M2MAdm operations.
var AdmOperations = []string{OpSIMActivation, OpSIMDeactivation, OpSIMSuspend, OpSIMResume, OpSIMTariffChange}

// SIM states.
const (
	StateShipped     = "SHIPPED"
	StateActive      = "ACTIVE"
	StateSuspended   = "SUSPENDED"
	StateDeactivated = "DEACTIVATED"
)

// Network states reported to M2MMonCl.
const (
	NetworkRegistered   = "REGISTERED"
	NetworkBarred       = "BARRED"
	NetworkDeregistered = "DEREGISTERED"
	NetworkNone         = "NOT_REGISTERED"
)

// Identifiers are the partner's identifiers from the setup data exchange,
// optional in every request's signed Body: SenderID is the API sender
// identifier (the SOA-BP sender ID, item K), PartnerID the M2M partner
// identifier. When a request carries one, the platform refuses it unless
// it is the partner's (Fault detail IdentifierMismatch).
type Identifiers struct {
	SenderID  string `xml:"SenderId,omitempty"`
	PartnerID string `xml:"PartnerId,omitempty"`
}

// AdmRequest is the body of every M2MAdm request: SIMActivation,
// SIMDeactivation, SIMSuspend, SIMResume and SIMTariffChange. The element
// name (XMLName.Local) is the operation. Tariff is required by
// SIMTariffChange and optional for SIMActivation.
type AdmRequest struct {
	XMLName   xml.Name
	M2MApiKey string `xml:"M2MApiKey"`
	Identifiers
	ICCID  string `xml:"ICCID"`
	Tariff string `xml:"Tariff,omitempty"`
}

// NewAdmRequest builds an M2MAdm request for operation op.
func NewAdmRequest(op, apiKey, iccid, tariff string) AdmRequest {
	return AdmRequest{XMLName: xml.Name{Space: Namespace, Local: op}, M2MApiKey: apiKey, ICCID: iccid, Tariff: tariff}
}

// MessageResponse is M2MAdm's immediate answer: the request was accepted
// and will complete asynchronously with an M2MAdmResponse to M2MAdmCl.
type MessageResponse struct {
	XMLName   xml.Name `xml:"urn:authgate:m2m:v30 MessageResponse"`
	RequestID string   `xml:"RequestId"`
	Operation string   `xml:"Operation"`
	ICCID     string   `xml:"ICCID"`
	Status    string   `xml:"Status"` // ACCEPTED
}

// SIMUsageGet asks M2MMon for the current usage volume of a SIM.
type SIMUsageGet struct {
	XMLName   xml.Name `xml:"urn:authgate:m2m:v30 SIMUsageGet"`
	M2MApiKey string   `xml:"M2MApiKey"`
	Identifiers
	ICCID string `xml:"ICCID"`
}

// SIMUsageResponse is the synchronous answer to SIMUsageGet.
type SIMUsageResponse struct {
	XMLName      xml.Name  `xml:"urn:authgate:m2m:v30 SIMUsageResponse"`
	ICCID        string    `xml:"ICCID"`
	State        string    `xml:"State"`
	PeriodStart  time.Time `xml:"PeriodStart"`
	DataVolume   int64     `xml:"DataVolume"` // bytes
	SMSCount     int64     `xml:"SMSCount"`
	VoiceSeconds int64     `xml:"VoiceSeconds"`
}

// SIMStateGet asks M2MMon for the state of a SIM.
type SIMStateGet struct {
	XMLName   xml.Name `xml:"urn:authgate:m2m:v30 SIMStateGet"`
	M2MApiKey string   `xml:"M2MApiKey"`
	Identifiers
	ICCID string `xml:"ICCID"`
}

// SIMStateResponse is the synchronous answer to SIMStateGet.
type SIMStateResponse struct {
	XMLName      xml.Name  `xml:"urn:authgate:m2m:v30 SIMStateResponse"`
	ICCID        string    `xml:"ICCID"`
	State        string    `xml:"State"`
	NetworkState string    `xml:"NetworkState"`
	Tariff       string    `xml:"Tariff"`
	LastChange   time.Time `xml:"LastChange"`
}

// M2MAdmResponse is what the platform sends to the partner's M2MAdmCl
// when an M2MAdm request has completed.
type M2MAdmResponse struct {
	XMLName     xml.Name  `xml:"urn:authgate:m2m:v30 M2MAdmResponse"`
	RequestID   string    `xml:"RequestId"`
	Operation   string    `xml:"Operation"`
	ICCID       string    `xml:"ICCID"`
	Result      string    `xml:"Result"` // OK or ERROR
	ResultCode  string    `xml:"ResultCode,omitempty"`
	ResultText  string    `xml:"ResultText,omitempty"`
	State       string    `xml:"State"`
	Tariff      string    `xml:"Tariff,omitempty"`
	CompletedAt time.Time `xml:"CompletedAt"`
}

// M2MAdmResponseMessage is the partner's signed acknowledgment of an
// M2MAdmResponse: a state code (0 = received) and a notification text.
type M2MAdmResponseMessage struct {
	XMLName          xml.Name `xml:"urn:authgate:m2m:v30 M2MAdmResponseMessage"`
	StateCode        int      `xml:"StateCode"`
	NotificationText string   `xml:"NotificationText"`
}

// SIMNetworkStateChange is the event the platform sends to M2MMonCl when a
// SIM's network state changes.
type SIMNetworkStateChange struct {
	XMLName              xml.Name  `xml:"urn:authgate:m2m:v30 SIMNetworkStateChange"`
	EventID              string    `xml:"EventId"`
	ICCID                string    `xml:"ICCID"`
	NetworkState         string    `xml:"NetworkState"`
	PreviousNetworkState string    `xml:"PreviousNetworkState"`
	ChangedAt            time.Time `xml:"ChangedAt"`
}

// M2MMonResponseMessage is the partner's signed acknowledgment of a
// notification.
type M2MMonResponseMessage struct {
	XMLName          xml.Name `xml:"urn:authgate:m2m:v30 M2MMonResponseMessage"`
	StateCode        int      `xml:"StateCode"`
	NotificationText string   `xml:"NotificationText"`
}

// Fault is a SOAP 1.1 Fault as the services send it. Code is the fault
// code's local part (a wsse: code for security failures, Client or Server
// otherwise); Detail carries the M2M error code of application failures.
type Fault struct {
	Code   string
	String string
	Detail string
}

func (f *Fault) Error() string {
	if f.Detail != "" {
		return "soap fault " + f.Code + " (" + f.Detail + "): " + f.String
	}
	return "soap fault " + f.Code + ": " + f.String
}
