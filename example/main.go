// Command example is the echosess demo app.
//
//	GET /        shows the value under "test_key", or how to set one
//	GET /set     stores "something" under "test_key" and redirects to /
//	GET /logout  destroys the session and redirects to /
//
// Sessions live in a SQLite file (-db) behind an in-memory cache, or in PostgreSQL
// when -postgres gives a connection string. Either way the schema is migrated on start.
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"html"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/labstack/echo/v4"
	_ "modernc.org/sqlite"

	"github.com/echosess/echosess"
)

func main() {
	addr := flag.String("addr", ":8000", "address to listen on")
	dbPath := flag.String("db", "echosess.db", "SQLite database file for the sessions")
	postgresDSN := flag.String("postgres", "", "PostgreSQL connection string; overrides -db")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	store, closeStore, err := openStore(ctx, *dbPath, *postgresDSN)
	if err != nil {
		log.Fatal(err)
	}
	defer closeStore()
	cleaner := echosess.StartCleaner(ctx, store, 10*time.Minute, nil)
	defer cleaner.Stop()

	e := newApp(store, echosess.NewMemoryStore())
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = e.Shutdown(shutdown)
	}()
	if err := e.Start(*addr); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

// openStore opens and migrates the session store: PostgreSQL when postgresDSN is set,
// else the SQLite file at dbPath.
func openStore(ctx context.Context, dbPath, postgresDSN string) (echosess.Store, func(), error) {
	if postgresDSN != "" {
		pool, err := pgxpool.New(ctx, postgresDSN)
		if err != nil {
			return nil, nil, err
		}
		db := stdlib.OpenDBFromPool(pool)
		err = echosess.Migrate(ctx, db, echosess.DialectPostgres)
		db.Close()
		if err != nil {
			pool.Close()
			return nil, nil, err
		}
		return echosess.NewPostgresStore(pool), pool.Close, nil
	}
	db, err := sql.Open("sqlite", echosess.SQLiteDSN(dbPath))
	if err != nil {
		return nil, nil, err
	}
	if err := echosess.Migrate(ctx, db, echosess.DialectSQLite); err != nil {
		db.Close()
		return nil, nil, err
	}
	return echosess.NewSQLiteStore(db), func() { db.Close() }, nil
}

// newApp builds the demo's routes over store, with cache in front of it when not nil.
func newApp(store echosess.Store, cache echosess.Cache) *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.Use(echosess.Middleware(echosess.Config{
		Store:         store,
		Cache:         cache,
		CookieName:    "SESSION_COOKIE",
		DefaultExpiry: echosess.ExpireIn(time.Hour),
	}))
	e.GET("/", showValue)
	e.GET("/set", setValue)
	e.GET("/logout", logout)
	return e
}

func showValue(c echo.Context) error {
	v, ok, err := echosess.Get[string](c, "test_key")
	if err != nil {
		return err
	}
	if !ok {
		return c.HTML(http.StatusOK, "No value set. Go to /set to set a value")
	}
	return c.HTML(http.StatusOK, html.EscapeString(v))
}

func setValue(c echo.Context) error {
	if err := echosess.Set(c, "test_key", "something"); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/")
}

func logout(c echo.Context) error {
	if err := echosess.Destroy(c); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/")
}
