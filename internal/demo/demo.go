// Package demo is what the two example commands share: example/ on Echo v4 and
// echov5/example/ on Echo v5. It holds the pages' texts, the session configuration,
// the flags, the store they open and the server's life, and imports neither Echo
// version, so that each example adds only its routes and handlers, in the signatures
// of its Echo.
package demo

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
	_ "modernc.org/sqlite" // the SQLite driver of the default store

	"github.com/echosess/echosess/core"
)

// The demo's session cookie, key and pages.
const (
	CookieName = "SESSION_COOKIE"
	Key        = "test_key"                                // what /set stores and / shows
	Value      = "something"                               // what /set stores under Key
	NoValue    = "No value set. Go to /set to set a value" // what / shows without a value
	Expiry     = time.Hour                                 // each session's lifetime
)

// Config returns the middleware configuration of the demo on store, with cache in
// front of it when not nil. C is the Echo version's context type.
func Config[C any](store core.Store, cache core.Cache) core.Config[C] {
	return core.Config[C]{
		Store:         store,
		Cache:         cache,
		CookieName:    CookieName,
		DefaultExpiry: core.ExpireIn(Expiry),
		RecordDevice:  true, // for the "your sessions" page
	}
}

// Page returns the HTML of /: the value under Key, escaped, or NoValue when ok is
// false.
func Page(value string, ok bool) string {
	if !ok {
		return NoValue
	}
	return html.EscapeString(value)
}

// Main is an example command's main: it parses the flags (-addr, -db, -postgres),
// opens and migrates the store, deletes expired sessions every ten minutes, and
// serves the app that newApp builds over the store, with a MemoryStore as its cache,
// until SIGINT or SIGTERM. On PostgreSQL the cache is coherent across instances, so
// several of them can serve one database behind a load balancer.
func Main(newApp func(store core.Store, cache core.Cache) http.Handler) {
	addr := flag.String("addr", ":8000", "address to listen on")
	dbPath := flag.String("db", "echosess.db", "SQLite database file for the sessions")
	postgresDSN := flag.String("postgres", "", "PostgreSQL connection string; overrides -db")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	store, closeStore, err := OpenStore(ctx, *dbPath, *postgresDSN)
	if err != nil {
		log.Fatal(err)
	}
	defer closeStore()
	cleaner := core.StartCleaner(ctx, store, 10*time.Minute, nil)
	defer cleaner.Stop()

	srv := &http.Server{Addr: *addr, Handler: newApp(store, core.NewMemoryStore()), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	log.Printf("listening on %s", *addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

// OpenStore opens and migrates the session store: PostgreSQL when postgresDSN is
// set, else the SQLite file at dbPath. The function it returns closes the store.
func OpenStore(ctx context.Context, dbPath, postgresDSN string) (core.Store, func(), error) {
	if postgresDSN != "" {
		pool, err := pgxpool.New(ctx, postgresDSN)
		if err != nil {
			return nil, nil, err
		}
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
	db, err := sql.Open("sqlite", core.SQLiteDSN(dbPath))
	if err != nil {
		return nil, nil, err
	}
	if err := core.Migrate(ctx, db, core.DialectSQLite); err != nil {
		db.Close()
		return nil, nil, err
	}
	store := core.NewSQLiteStore(db)
	return store, func() { store.Close(); db.Close() }, nil
}
