// Package migrations holds the goose migrations of the echosess session table, one
// folder per dialect: sqlite and postgres. echosess.Migrate applies them from FS; the
// goose command runs the same folders (goose -dir migrations/postgres ...).
package migrations

import "embed"

// FS holds the migrations as sqlite/*.sql and postgres/*.sql.
//
//go:embed sqlite/*.sql postgres/*.sql
var FS embed.FS
