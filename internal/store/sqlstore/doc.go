// Package sqlstore implements every core storage interface once, in
// portable SQL over database/sql. The sqlite and postgres packages supply a
// Dialect (placeholders, error classification, job claiming) and their own
// migrations; the SQL here is shared.
//
// Times are stored as Unix microseconds (BIGINT) so both backends compare
// and index them the same way.
package sqlstore
