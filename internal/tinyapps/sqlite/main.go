// Command sqlite serves sessions kept in SQLite.
package main

import (
	"context"
	"database/sql"
	"log"

	"github.com/labstack/echo/v4"
	_ "modernc.org/sqlite"

	"github.com/echosess/echosess"
	"github.com/echosess/echosess/sqlitestore"
)

func main() {
	db, err := sql.Open("sqlite", sqlitestore.DSN("sessions.db"))
	if err != nil {
		log.Fatal(err)
	}
	if err := sqlitestore.Migrate(context.Background(), db); err != nil {
		log.Fatal(err)
	}
	e := echo.New()
	e.Use(echosess.Middleware(echosess.Config{Store: sqlitestore.New(db)}))
	e.Logger.Fatal(e.Start(":8080"))
}
