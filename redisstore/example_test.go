package redisstore_test

import (
	"log"

	"github.com/labstack/echo/v4"
	"github.com/redis/rueidis"

	"github.com/echosess/echosess"
	"github.com/echosess/echosess/redisstore"
)

// Sessions in Redis: the application opens the client (one address of a Cluster
// is enough) and closes it; the store needs no migration and no cleaner, and no
// Config.Cache, its loads coming from the client's own cache. (This example is
// compiled, not run: it needs a server.)
func ExampleNew() {
	client, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{"127.0.0.1:6379"}})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	e := echo.New()
	e.Use(echosess.Middleware(echosess.Config{Store: redisstore.New(client)}))
}
