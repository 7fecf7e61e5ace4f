// Command memory serves sessions kept in memory.
package main

import (
	"github.com/labstack/echo/v4"

	"github.com/echosess/echosess"
)

func main() {
	e := echo.New()
	e.Use(echosess.Middleware(echosess.Config{Store: echosess.NewMemoryStore()}))
	e.Logger.Fatal(e.Start(":8080"))
}
