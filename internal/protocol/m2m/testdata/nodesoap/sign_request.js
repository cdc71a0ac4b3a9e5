// Calls authgate's M2MMon SIMUsageGet with node-soap (npm "soap"), signing
// the request with node-soap's own WSSecurityCert (xml-crypto underneath,
// idMode "wssecurity": wsu:Id on Body and Timestamp). Prints the result or
// the SOAP fault as one JSON line, with the raw request and response
// (node-soap's lastRequest and lastResponse).
//
// Environment: WSDL_URL, KEY_PEM, CERT_PEM (files), API_KEY, ICCID,
// NODE_EXTRA_CA_CERTS (the CA of authgate's TLS certificate).
'use strict';
const fs = require('fs');
const soap = require('soap');

async function main() {
  const key = fs.readFileSync(process.env.KEY_PEM, 'utf8');
  const cert = fs.readFileSync(process.env.CERT_PEM, 'utf8');
  const client = await soap.createClientAsync(process.env.WSDL_URL);
  const wsSecurity = new soap.WSSecurityCert(key, cert, '', {
    signerOptions: { idMode: 'wssecurity' },
    signatureAlgorithm: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  });
  client.setSecurity(wsSecurity);
  try {
    const [result] = await client.SIMUsageGetAsync({ M2MApiKey: process.env.API_KEY, ICCID: process.env.ICCID });
    console.log(JSON.stringify({ ok: true, result, request: client.lastRequest, response: client.lastResponse }));
  } catch (err) {
    const fault = err && err.root && err.root.Envelope && err.root.Envelope.Body && err.root.Envelope.Body.Fault;
    if (!fault) throw err;
    console.log(JSON.stringify({ ok: false, fault, request: client.lastRequest, response: client.lastResponse }));
  }
}

main().catch((err) => { console.error(err && err.stack || err); process.exit(1); });
