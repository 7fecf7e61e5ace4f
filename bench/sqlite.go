package bench

import (
	"context"
	"database/sql"
	"fmt"
	"github.com/echosess/echosess/sqlitestore"

	_ "modernc.org/sqlite" // the driver that echosess.SQLiteDSN is written for
)

// OpenSQLite opens the SQLite file at path the way echosess.SQLiteDSN documents and
// migrates echosess's table in it.
func OpenSQLite(ctx context.Context, path string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", sqlitestore.DSN(path))
	if err != nil {
		return nil, err
	}
	if err := sqlitestore.Migrate(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("bench: migrating echosess's SQLite table: %w", err)
	}
	return db, nil
}
