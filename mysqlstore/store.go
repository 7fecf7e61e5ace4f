// Package mysqlstore keeps echosess sessions in MySQL (8.0 and later) or MariaDB
// (10.11 and later), through database/sql and a driver the application imports:
// github.com/go-sql-driver/mysql.
//
//	import _ "github.com/go-sql-driver/mysql"
//
//	db, err := sql.Open("mysql", mysqlstore.DSN("app:secret@tcp(127.0.0.1:3306)/app"))
//	...
//	if err := mysqlstore.Migrate(ctx, db); err != nil { ... }
//	store := mysqlstore.New(db)
//
// The store is a *sqlstore.Store, whose methods and options (sqlstore.WithClock,
// sqlstore.WithDeleteBatch) are those of every SQL database. The table comes from
// Migrate, or from the goose command on the module's migrations/mysql folder. The
// store reports every change to its table, made by any instance of the app, so
// that a cache in front of it (Config.Cache) stays coherent across instances: see
// sqlstore.Store.WatchChanges; WithPollInterval is this package's option.
package mysqlstore

import (
	"context"
	"database/sql"
	"strings"

	"github.com/echosess/echosess/internal/engine"
	"github.com/echosess/echosess/internal/migrate"
)

// Migrate brings the session table of db up to date with the migrations that ship
// in the module's migrations/mysql folder, in the database that db's DSN selects.
// Running it again when nothing is pending changes nothing.
//
// Several instances of an app that start at once may all call it: goose takes no
// lock on MySQL, so Migrate holds a named lock (GET_LOCK) of the database, on a
// connection of its own, while goose runs on another (db must allow two). Exactly
// one instance migrates while the others wait for it, logging with slog.Default
// that they wait and which connection holds the lock, for up to 10 minutes or until
// ctx ends: pass a ctx with a deadline. MySQL commits each DDL statement on its
// own, so a migration cut short stays half done; each of these migrations is
// therefore one statement, or statements that can run again, which a second run
// completes.
func Migrate(ctx context.Context, db *sql.DB) error {
	return migrate.Run(ctx, db, engine.DialectMySQL)
}

// DSN returns dsn, a data source name of github.com/go-sql-driver/mysql, with the
// settings that the store needs, which override those dsn sets:
//
//   - parseTime=true: the driver returns DATETIME columns as time.Time, which the
//     store reads; without it every Load fails.
//   - loc=UTC: a DATETIME holds no time zone, and the driver writes and reads it in
//     loc. The driver's default is UTC; set here so that every instance agrees,
//     whatever loc dsn names.
//   - time_zone='+00:00': the server's NOW(), and a TIMESTAMP such as goose's
//     tstamp, in the same UTC as the times the store writes, for a person reading
//     or editing the table. (An offset, since a zone name needs the server's time
//     zone tables.) The store's own times do not depend on it.
//   - clientFoundRows=false: the save of a new session (version 0) finds a live
//     row under its key by changing no row; a connection that counts found rows
//     rather than changed ones reports 1 row there, and the save would succeed where
//     it must fail with sessionstore.ErrConflict.
//
// An application that configures the driver with a mysql.Config instead sets
// ParseTime, Loc = time.UTC, Params["time_zone"] = "'+00:00'" and leaves
// ClientFoundRows false.
func DSN(dsn string) string {
	sep := "?"
	if strings.Contains(dsn[strings.LastIndexByte(dsn, '/')+1:], "?") {
		sep = "&"
	}
	return dsn + sep + "parseTime=true&loc=UTC&time_zone=%27%2B00%3A00%27&clientFoundRows=false"
}
