package sqlitestore_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"os"
	"path/filepath"

	_ "modernc.org/sqlite"

	"github.com/echosess/echosess/sessionstore"
	"github.com/echosess/echosess/sqlitestore"
)

// A SQLite store: the application opens the database with DSN and the driver it
// imports, Migrate creates the table, and New keeps sessions in it.
func ExampleNew() {
	dir, err := os.MkdirTemp("", "echosess")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := sql.Open("sqlite", sqlitestore.DSN(filepath.Join(dir, "sessions.db")))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if err := sqlitestore.Migrate(ctx, db); err != nil {
		log.Fatal(err)
	}
	store := sqlitestore.New(db)
	defer store.Close()

	_, err = store.Load(ctx, "no such key")
	fmt.Println(err == sessionstore.ErrNotFound)
	// Output: true
}
