package wssec

// Namespaces and algorithm identifiers of SOAP 1.1, WS-Security 1.0 and XML-DSig.
const (
	NSSOAP11    = "http://schemas.xmlsoap.org/soap/envelope/"
	NSWSSE      = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
	NSWSU       = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
	NSDSig      = "http://www.w3.org/2000/09/xmldsig#"
	NSExcC14N   = "http://www.w3.org/2001/10/xml-exc-c14n#"
	NSXML       = "http://www.w3.org/XML/1998/namespace"
	ValueX509v3 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
	EncBase64   = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"

	AlgExcC14N      = "http://www.w3.org/2001/10/xml-exc-c14n#"
	AlgEnvelopedSig = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
	AlgRSASHA256    = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
	AlgRSASHA1      = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
	AlgDigestSHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
	AlgDigestSHA1   = "http://www.w3.org/2000/09/xmldsig#sha1"
)
