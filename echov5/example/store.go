package main

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // the SQLite driver

	"github.com/echosess/echosess/core"
)

// openStore opens the session store that kind names, "sqlite", "memory" or
// "postgres", and brings its table up to date. dsn is the SQLite file (echosess.db
// when empty) or the PostgreSQL connection string (when empty, pgx reads the PG*
// environment variables). The function it returns closes the store and its database.
func openStore(ctx context.Context, kind, dsn string) (core.Store, func(), error) {
	switch kind {
	case "sqlite":
		db, err := sql.Open("sqlite", core.SQLiteDSN(cmp.Or(dsn, "echosess.db")))
		if err != nil {
			return nil, nil, err
		}
		if err := core.Migrate(ctx, db, core.DialectSQLite); err != nil {
			db.Close()
			return nil, nil, err
		}
		store := core.NewSQLiteStore(db)
		return store, func() { store.Close(); db.Close() }, nil
	case "memory":
		return core.NewMemoryStore(), func() {}, nil
	case "postgres":
		pool, err := pgxpool.New(ctx, dsn)
		if err != nil {
			return nil, nil, err
		}
		// Migrate runs on database/sql; this *sql.DB borrows the pool's connections.
		db := stdlib.OpenDBFromPool(pool)
		err = core.Migrate(ctx, db, core.DialectPostgres)
		db.Close()
		if err != nil {
			pool.Close()
			return nil, nil, err
		}
		store := core.NewPostgresStore(pool)
		return store, func() { store.Close(); pool.Close() }, nil
	}
	return nil, nil, fmt.Errorf("unknown store %q: want sqlite, memory or postgres", kind)
}
