// Package m2m is the partner side of authgate's M2M Connectivity API: the
// message types of M2MAdm, M2MMon, M2MAdmCl and M2MMonCl, a Client that
// signs requests (with the partner's WS-Security certificate and
// M2MApiKey) and verifies the platform's signed answers, and a
// PartnerHandler that serves M2MAdmCl and M2MMonCl: it verifies the
// platform's signed notifications and answers them signed.
package m2m
