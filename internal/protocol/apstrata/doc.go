// Package apstrata serves an Apstrata-compatible token service at
// /apsdb/rest/{authKey}/{Action}: GenerateToken, RenewToken, DeleteToken and
// VerifyCredentials, authenticated by the default (HMAC-SHA1) signature, the
// simple (MD5) signature, a token, or a bearer header, with the limits and
// error codes of the vendor's GenerateToken document and XML or JSON
// responses in its response/metadata/result envelope.
//
// The same check, for any action (SaveDocument, Query, ...), is the
// scheme "apstrata" (Module.Schemes) the gateway and forward-auth use.
//
// The vendor's SDKs disagree on details of the signatures (see DESIGN.md);
// the verifier accepts every SDK's form by trying the few variants.
package apstrata
