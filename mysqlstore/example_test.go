package mysqlstore_test

import (
	"context"
	"database/sql"
	"log"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/labstack/echo/v4"

	"github.com/echosess/echosess"
	"github.com/echosess/echosess/mysqlstore"
)

// Sessions in MySQL or MariaDB: the application opens the database with DSN and the
// driver it imports, Migrate creates the table, and New keeps sessions in it.
// (This example is compiled, not run: it needs a server.)
func ExampleNew() {
	db, err := sql.Open("mysql", mysqlstore.DSN("app:secret@tcp(127.0.0.1:3306)/app"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := mysqlstore.Migrate(ctx, db); err != nil {
		log.Fatal(err)
	}

	e := echo.New()
	e.Use(echosess.Middleware(echosess.Config{Store: mysqlstore.New(db)}))
}
