package main

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // the SQLite driver

	"github.com/echosess/echosess"
	"github.com/echosess/echosess/pgstore"
	"github.com/echosess/echosess/sqlitestore"
)

// openStore opens the session store that kind names, "sqlite", "memory" or
// "postgres", and brings its table up to date. dsn is the SQLite file (echosess.db
// when empty) or the PostgreSQL connection string (when empty, pgx reads the PG*
// environment variables). The function it returns closes the store and its database.
func openStore(ctx context.Context, kind, dsn string) (echosess.Store, func(), error) {
	switch kind {
	case "sqlite":
		db, err := sql.Open("sqlite", sqlitestore.DSN(cmp.Or(dsn, "echosess.db")))
		if err != nil {
			return nil, nil, err
		}
		if err := sqlitestore.Migrate(ctx, db); err != nil {
			db.Close()
			return nil, nil, err
		}
		store := sqlitestore.New(db)
		return store, func() { store.Close(); db.Close() }, nil
	case "memory":
		return echosess.NewMemoryStore(), func() {}, nil
	case "postgres":
		pool, err := pgxpool.New(ctx, dsn)
		if err != nil {
			return nil, nil, err
		}
		// Migrate runs on database/sql; this *sql.DB borrows the pool's connections.
		db := stdlib.OpenDBFromPool(pool)
		err = pgstore.Migrate(ctx, db)
		db.Close()
		if err != nil {
			pool.Close()
			return nil, nil, err
		}
		store := pgstore.New(pool)
		return store, func() { store.Close(); pool.Close() }, nil
	}
	return nil, nil, fmt.Errorf("unknown store %q: want sqlite, memory or postgres", kind)
}
