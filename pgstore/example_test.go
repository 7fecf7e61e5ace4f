package pgstore_test

import (
	"context"
	"log"
	"os"

	"github.com/echosess/echosess"
	"github.com/echosess/echosess/pgstore"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/labstack/echo/v4"
)

// Sessions in PostgreSQL: Migrate creates the table on database/sql, and the store
// runs on the pgx pool. (This example is compiled, not run: it needs a server.)
func ExampleNew() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	db := stdlib.OpenDBFromPool(pool) // Migrate runs on database/sql
	err = pgstore.Migrate(ctx, db)
	db.Close() // does not close the pool
	if err != nil {
		log.Fatal(err)
	}

	e := echo.New()
	e.Use(echosess.Middleware(echosess.Config{
		Store: pgstore.New(pool),
		Cache: echosess.NewMemoryStore(),
	}))
}
