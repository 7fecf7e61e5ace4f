// Command mysql serves sessions kept in MySQL or MariaDB.
package main

import (
	"context"
	"database/sql"
	"log"

	_ "github.com/go-sql-driver/mysql"
	"github.com/labstack/echo/v4"

	"github.com/echosess/echosess"
	"github.com/echosess/echosess/mysqlstore"
)

func main() {
	db, err := sql.Open("mysql", mysqlstore.DSN("app@tcp(127.0.0.1:3306)/app"))
	if err != nil {
		log.Fatal(err)
	}
	if err := mysqlstore.Migrate(context.Background(), db); err != nil {
		log.Fatal(err)
	}
	e := echo.New()
	e.Use(echosess.Middleware(echosess.Config{Store: mysqlstore.New(db)}))
	e.Logger.Fatal(e.Start(":8080"))
}
