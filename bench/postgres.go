package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
)

// DSNVar names the environment variable holding the Postgres DSN for the benchmarks.
const DSNVar = "ECHOSESS_POSTGRES_DSN"

// Postgres is a pair of schemas in one database, one for echosess's tables and one
// for scs's sessions table, each reached through its own pool whose statements its
// own Counter counts. OpenPostgres makes fresh schemas, which its Close drops;
// OpenPostgresSchemas opens pools on schemas that exist already, such as another
// process's, and its Close leaves them.
type Postgres struct {
	// Echosess and SCS are the pools whose search_path is each library's schema.
	Echosess, SCS *pgxpool.Pool
	// EchosessCount and SCSCount count the statements sent through each pool.
	EchosessCount, SCSCount *Counter

	schemas PostgresSchemas
	admin   *pgxpool.Pool // set when Close drops the schemas
}

// PostgresSchemas names the two schemas of a Postgres.
type PostgresSchemas struct{ Echosess, SCS string }

// String is the schemas as ParsePostgresSchemas reads them: "echosess,scs".
func (s PostgresSchemas) String() string { return s.Echosess + "," + s.SCS }

// ParsePostgresSchemas parses what PostgresSchemas.String returns.
func ParsePostgresSchemas(v string) (PostgresSchemas, error) {
	e, scs, ok := strings.Cut(v, ",")
	if !ok || e == "" || scs == "" || strings.Contains(scs, ",") {
		return PostgresSchemas{}, fmt.Errorf("bench: bad schemas %q, want \"echosess,scs\"", v)
	}
	return PostgresSchemas{Echosess: e, SCS: scs}, nil
}

// scsTable is the table that scs's pgxstore documents.
const scsTable = `
CREATE TABLE sessions (
	token TEXT PRIMARY KEY,
	data BYTEA NOT NULL,
	expiry TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_expiry_idx ON sessions (expiry);`

// OpenPostgres creates fresh schemas in the database at dsn (createSchemas), and
// opens pools on them; Close drops them.
func OpenPostgres(ctx context.Context, dsn string) (_ *Postgres, err error) {
	admin, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return nil, err
	}
	var suffix [4]byte
	rand.Read(suffix[:])
	name := "bench_" + hex.EncodeToString(suffix[:])
	schemas := PostgresSchemas{Echosess: name + "_echosess", SCS: name + "_scs"}
	p := &Postgres{schemas: schemas, admin: admin}
	defer func() {
		if err != nil {
			p.Close()
		}
	}()
	if err := createSchemas(ctx, admin, dsn, schemas); err != nil {
		return nil, err
	}
	if err := p.openPools(ctx, dsn); err != nil {
		return nil, err
	}
	return p, nil
}

// OpenPostgresSchemas opens pools on schemas that OpenPostgres made, in the
// database at dsn. Close closes the pools and leaves the schemas.
func OpenPostgresSchemas(ctx context.Context, dsn string, schemas PostgresSchemas) (*Postgres, error) {
	p := &Postgres{schemas: schemas}
	if err := p.openPools(ctx, dsn); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// Schemas returns the names of p's schemas.
func (p *Postgres) Schemas() PostgresSchemas { return p.schemas }

// createSchemas creates the schemas, migrates echosess's and creates scs's table.
func createSchemas(ctx context.Context, admin *pgxpool.Pool, dsn string, schemas PostgresSchemas) error {
	for _, schema := range []string{schemas.Echosess, schemas.SCS} {
		if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
			return fmt.Errorf("bench: creating schema: %w", err)
		}
	}
	pool, err := openPool(ctx, dsn, schemas.Echosess, nil)
	if err != nil {
		return err
	}
	db := stdlib.OpenDBFromPool(pool)
	err = migrateEchosess(ctx, db)
	db.Close()
	pool.Close()
	if err != nil {
		return fmt.Errorf("bench: migrating echosess: %w", err)
	}
	if pool, err = openPool(ctx, dsn, schemas.SCS, nil); err != nil {
		return err
	}
	_, err = pool.Exec(ctx, scsTable)
	pool.Close()
	if err != nil {
		return fmt.Errorf("bench: creating scs's table: %w", err)
	}
	return nil
}

// openPools opens p's pools on its schemas, each counting its statements.
func (p *Postgres) openPools(ctx context.Context, dsn string) (err error) {
	p.EchosessCount, p.SCSCount = new(Counter), new(Counter)
	if p.Echosess, err = openPool(ctx, dsn, p.schemas.Echosess, p.EchosessCount); err != nil {
		return err
	}
	p.SCS, err = openPool(ctx, dsn, p.schemas.SCS, p.SCSCount)
	return err
}

// DropNotify drops the change triggers of echosess's migration 00006 from p's
// echosess schema, so that its writes record no change: for measuring what
// recording costs the write path. A cache in front of a store on that schema is never used.
func (p *Postgres) DropNotify(ctx context.Context) error {
	_, err := p.Echosess.Exec(ctx, `
DROP TRIGGER echosess_sessions_changes ON echosess_sessions;
DROP TRIGGER echosess_sessions_changes_truncate ON echosess_sessions;`)
	if err != nil {
		return fmt.Errorf("bench: dropping echosess's change triggers: %w", err)
	}
	return nil
}

// openPool opens a pool on dsn whose connections use schema and count statements.
func openPool(ctx context.Context, dsn, schema string, n *Counter) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	cfg.ConnConfig.Tracer = queryCounter{n: n}
	return pgxpool.NewWithConfig(ctx, cfg)
}

// Close closes the pools and, when OpenPostgres made the schemas, drops them.
func (p *Postgres) Close() {
	for _, pool := range []*pgxpool.Pool{p.Echosess, p.SCS} {
		if pool != nil {
			pool.Close()
		}
	}
	if p.admin == nil {
		return
	}
	for _, schema := range []string{p.schemas.Echosess, p.schemas.SCS} {
		p.admin.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
	}
	p.admin.Close()
}

// Seed adds n unused, live sessions to each library's table, vacuums and analyzes the
// tables, so that no autovacuum of the new rows runs during a measurement, and asks
// for a checkpoint.
func (p *Postgres) Seed(ctx context.Context, n int) error {
	if n <= 0 {
		return nil
	}
	if err := seedEchosessTable(ctx, p.Echosess, n); err != nil {
		return fmt.Errorf("bench: seeding echosess's table: %w", err)
	}
	// The payload is what scs's gob codec makes of a session like the clients' own.
	exp := time.Now().Add(lifetime)
	data, err := scs.GobCodec{}.Encode(exp, map[string]any{"user": "seed", "n": 0})
	if err != nil {
		return err
	}
	if _, err := p.SCS.Exec(ctx, `
INSERT INTO sessions (token, data, expiry)
SELECT rtrim(translate(encode(sha256(('scs seed ' || i)::bytea), 'base64'), '+/', '-_'), '='), $1, $2
FROM generate_series(1, $3::int) AS i
ORDER BY 1`, data, exp, n); err != nil {
		return fmt.Errorf("bench: seeding scs's table: %w", err)
	}
	if _, err := p.SCS.Exec(ctx, "VACUUM ANALYZE sessions"); err != nil {
		return err
	}
	// Flush the bulk load now rather than in a checkpoint during the measurement.
	// CHECKPOINT needs more privileges than the benchmark may have; it only helps.
	p.Echosess.Exec(ctx, "CHECKPOINT")
	return nil
}
