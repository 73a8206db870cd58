// Package store is kidshield's persistent storage: one Store type over
// database/sql that runs on an embedded SQLite file (the default: a family, a
// school, a trial) or on a shared PostgreSQL (many filter nodes and web nodes).
//
// Every part of kidshield keeps its records here; each part adds its tables as
// a new migration and its methods in a file of its own (stats.go and
// querylog.go for the filter). The package imports no HTTP, DNS or template
// package, so any part may depend on it without pulling in another part.
//
// # Migrations
//
// Migrations live in migrations/ and are embedded in the binary. Each version
// has one file per dialect, named NNNN_name.sqlite.sql and
// NNNN_name.postgres.sql: the two dialects differ in types (INTEGER PRIMARY
// KEY vs identity columns, WITHOUT ROWID) often enough that a substitution
// scheme would hide more than it saves, and two plain files can be read and
// tried in psql or sqlite3 as they are. A test fails when a version lacks one
// of its two files or when versions are not numbered 1, 2, 3, ... Each
// migration runs in its own transaction and is recorded in schema_migrations;
// Open applies the pending ones and refuses a database whose schema is newer
// than the binary (ErrSchemaTooNew) rather than write to tables it does not
// know. Released migrations are never edited; a change is a new version.
//
// # SQL shared by both dialects
//
// Queries use $1, $2, ... placeholders, which PostgreSQL and modernc.org/sqlite
// both accept, store times as integer unix seconds (or microseconds, named
// _us), and use only INSERT ... ON CONFLICT DO UPDATE, CAST and COALESCE forms
// that both engines implement alike. Text is stored as valid UTF-8 without NUL
// bytes (PostgreSQL rejects anything else; the store replaces such bytes so
// both backends keep the same data).
package store
