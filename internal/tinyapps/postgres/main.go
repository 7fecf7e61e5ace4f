// Command postgres serves sessions kept in PostgreSQL, cached in memory.
package main

import (
	"context"
	"log"
	"os"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/labstack/echo/v4"

	"github.com/echosess/echosess"
	"github.com/echosess/echosess/pgstore"
)

func main() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	if err := pgstore.Migrate(ctx, stdlib.OpenDBFromPool(pool)); err != nil {
		log.Fatal(err)
	}
	e := echo.New()
	e.Use(echosess.Middleware(echosess.Config{Store: pgstore.New(pool), Cache: echosess.NewMemoryStore()}))
	e.Logger.Fatal(e.Start(":8080"))
}
