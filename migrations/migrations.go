// Package migrations holds the goose migrations of the echosess session table, one
// folder per dialect: sqlite, postgres and mysql (MySQL and MariaDB).
// sqlitestore.Migrate, pgstore.Migrate and mysqlstore.Migrate apply them from FS;
// the goose command runs the same folders:
//
//	goose -dir migrations/postgres -table echosess_db_version postgres "$DSN" up
package migrations

import "embed"

// FS holds the migrations as sqlite/*.sql, postgres/*.sql and mysql/*.sql.
//
//go:embed sqlite/*.sql postgres/*.sql mysql/*.sql
var FS embed.FS

// Table is goose's version table of these migrations. It is not goose's default,
// so that the echosess schema and an application's own goose migrations never
// mix: pass it to the goose command with -table.
const Table = "echosess_db_version"
