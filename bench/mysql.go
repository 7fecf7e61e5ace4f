package bench

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net"
	"strings"

	scsmysql "github.com/alexedwards/scs/mysqlstore"
	"github.com/go-sql-driver/mysql"
	"github.com/labstack/echo/v4"

	"github.com/echosess/echosess/mysqlstore"
)

// MySQLDSNVar names the environment variable holding the DSN of the MySQL or
// MariaDB server for the benchmarks, of a user who may create databases, such as
// root@tcp(127.0.0.1:3306)/.
const MySQLDSNVar = "ECHOSESS_MYSQL_DSN"

// MySQL is a pair of databases on one MySQL or MariaDB server, one for echosess's
// tables and one for scs's sessions table. OpenMySQL makes fresh ones, which its
// Close drops; OpenMySQLDatabases uses ones made elsewhere, such as by another
// process, and its Close leaves them. Apps open their own pools on them
// (NewMySQLApp), whose connections count what they send.
type MySQL struct {
	dsn       string // the server's DSN, without a database
	databases MySQLDatabases
	owned     bool
}

// LibSCSInterpolated is scs on MySQL on a pool whose DSN adds interpolateParams=true,
// a setting scs's documentation does not name: the driver then sends a call with
// arguments as one query, one round trip, instead of preparing, running and closing
// a statement. A diagnostic beside LibSCS, which is scs as documented.
const LibSCSInterpolated = "scs-interpolated"

// MySQLDatabases names the two databases of a MySQL.
type MySQLDatabases struct{ Echosess, SCS string }

// String is the databases as ParseMySQLDatabases reads them: "echosess,scs".
func (d MySQLDatabases) String() string { return d.Echosess + "," + d.SCS }

// ParseMySQLDatabases parses what MySQLDatabases.String returns.
func ParseMySQLDatabases(v string) (MySQLDatabases, error) {
	e, scs, ok := strings.Cut(v, ",")
	if !ok || e == "" || scs == "" || strings.Contains(scs, ",") {
		return MySQLDatabases{}, fmt.Errorf("bench: bad databases %q, want \"echosess,scs\"", v)
	}
	return MySQLDatabases{Echosess: e, SCS: scs}, nil
}

// scsMySQLTable is the table that scs's mysqlstore documents.
const scsMySQLTable = `
CREATE TABLE sessions (
	token CHAR(43) PRIMARY KEY,
	data BLOB NOT NULL,
	expiry TIMESTAMP(6) NOT NULL
)`

const scsMySQLIndex = `CREATE INDEX sessions_expiry_idx ON sessions (expiry)`

// OpenMySQL creates fresh databases on the server at dsn, migrates echosess's with
// mysqlstore.Migrate and creates scs's table in the other; Close drops them.
func OpenMySQL(ctx context.Context, dsn string) (_ *MySQL, err error) {
	var suffix [4]byte
	rand.Read(suffix[:])
	name := "bench_" + hex.EncodeToString(suffix[:])
	m := &MySQL{dsn: dsn, databases: MySQLDatabases{Echosess: name + "_echosess", SCS: name + "_scs"}, owned: true}
	admin, err := sql.Open("mysql", dsn)
	if err != nil {
		return nil, err
	}
	defer admin.Close()
	defer func() {
		if err != nil {
			m.Close()
		}
	}()
	for _, db := range []string{m.databases.Echosess, m.databases.SCS} {
		if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+db); err != nil {
			return nil, fmt.Errorf("bench: creating database: %w", err)
		}
	}
	db, err := m.open(m.databases.Echosess, nil, false)
	if err != nil {
		return nil, err
	}
	err = mysqlstore.Migrate(ctx, db)
	db.Close()
	if err != nil {
		return nil, fmt.Errorf("bench: migrating echosess: %w", err)
	}
	if db, err = m.open(m.databases.SCS, nil, false); err != nil {
		return nil, err
	}
	defer db.Close()
	for _, stmt := range []string{scsMySQLTable, scsMySQLIndex} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return nil, fmt.Errorf("bench: creating scs's table: %w", err)
		}
	}
	return m, nil
}

// OpenMySQLDatabases returns the databases that OpenMySQL made, on the server at dsn.
func OpenMySQLDatabases(dsn string, databases MySQLDatabases) *MySQL {
	return &MySQL{dsn: dsn, databases: databases}
}

// Databases returns the names of m's databases.
func (m *MySQL) Databases() MySQLDatabases { return m.databases }

// Close drops the databases when OpenMySQL made them.
func (m *MySQL) Close() error {
	if !m.owned {
		return nil
	}
	admin, err := sql.Open("mysql", m.dsn)
	if err != nil {
		return err
	}
	defer admin.Close()
	for _, db := range []string{m.databases.Echosess, m.databases.SCS} {
		if _, e := admin.Exec("DROP DATABASE IF EXISTS " + db); e != nil && err == nil {
			err = e
		}
	}
	return err
}

// maxIdleConns is the idle connections that each app's pool keeps, rather than
// database/sql's 2, so that neither library dials a connection per request under
// the load's concurrency.
const maxIdleConns = 32

// open opens a pool on database name, with the settings of mysqlstore.DSN for both
// libraries (scs needs parseTime, as its documentation says, and a UTC session
// for its TIMESTAMP column), and interpolateParams when interpolate is set, whose
// connections count in n what they send.
func (m *MySQL) open(name string, n *Counter, interpolate bool) (*sql.DB, error) {
	cfg, err := mysql.ParseDSN(mysqlstore.DSN(m.dsn))
	if err != nil {
		return nil, fmt.Errorf("bench: %s: %w", MySQLDSNVar, err)
	}
	cfg.DBName = name
	cfg.InterpolateParams = interpolate
	if n != nil {
		cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return countMySQL(n, conn), nil
		}
	}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(connector)
	db.SetMaxIdleConns(maxIdleConns)
	return db, nil
}

// OpenEchosessDB opens a pool on m's echosess database, without counting, for the
// store benchmarks and their floors.
func (m *MySQL) OpenEchosessDB() (*sql.DB, error) { return m.open(m.databases.Echosess, nil, false) }

// NewMySQLApp builds lib's app on m: echosess or echosess-cache on mysqlstore in
// the echosess database, or scs on its mysqlstore (cleanup off, as on Postgres) in
// the scs one, each on a pool of its own whose connections count every command
// they send in App.Count. The baseline, without sessions, is there too, so that a
// load on MySQL can show what HTTP costs alone.
func NewMySQLApp(lib string, m *MySQL) (*App, error) {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	a := &App{Lib: lib, Handler: e, Count: &Counter{batched: true}}
	switch lib {
	case LibBaseline:
		a.Count = nil // no store
		routeBaseline(e)
	case LibEchosess, LibEchosessCache:
		db, err := m.open(m.databases.Echosess, a.Count, false)
		if err != nil {
			return nil, err
		}
		store := mysqlstore.New(db)
		a.close = func() {
			store.Close() // stops the cache's listening
			db.Close()
		}
		useEchosess(e, lib, store)
	case LibSCS, LibSCSInterpolated:
		db, err := m.open(m.databases.SCS, a.Count, lib == LibSCSInterpolated)
		if err != nil {
			return nil, err
		}
		a.close = func() { db.Close() }
		sm := newSCS()
		sm.Store = scsmysql.NewWithCleanupInterval(db, 0)
		e.Use(SCSMiddleware(sm, &a.Failures))
		routeSCS(e, sm)
	default:
		return nil, fmt.Errorf("bench: %s has no MySQL store here", lib)
	}
	return a, nil
}
