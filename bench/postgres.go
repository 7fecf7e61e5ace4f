package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
)

// DSNVar names the environment variable holding the Postgres DSN for the benchmarks.
const DSNVar = "ECHOSESS_POSTGRES_DSN"

// Postgres is a pair of fresh schemas in one database, one for echosess's tables and
// one for scs's sessions table, each reached through its own pool whose statements
// its own Counter counts. Close drops both schemas.
type Postgres struct {
	// Echosess and SCS are the pools whose search_path is each library's schema.
	Echosess, SCS *pgxpool.Pool
	// EchosessCount and SCSCount count the statements sent through each pool.
	EchosessCount, SCSCount *Counter

	admin                     *pgxpool.Pool
	echosessSchema, scsSchema string
}

// scsTable is the table that scs's pgxstore documents.
const scsTable = `
CREATE TABLE sessions (
	token TEXT PRIMARY KEY,
	data BYTEA NOT NULL,
	expiry TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_expiry_idx ON sessions (expiry);`

// OpenPostgres creates the schemas in the database at dsn, migrates echosess's and
// creates scs's table.
func OpenPostgres(ctx context.Context, dsn string) (_ *Postgres, err error) {
	var suffix [4]byte
	rand.Read(suffix[:])
	name := "bench_" + hex.EncodeToString(suffix[:])
	p := &Postgres{
		EchosessCount:  new(Counter),
		SCSCount:       new(Counter),
		echosessSchema: name + "_echosess",
		scsSchema:      name + "_scs",
	}
	if p.admin, err = pgxpool.New(ctx, dsn); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			p.Close()
		}
	}()
	for _, schema := range []string{p.echosessSchema, p.scsSchema} {
		if _, err := p.admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
			return nil, fmt.Errorf("bench: creating schema: %w", err)
		}
	}
	if p.Echosess, err = openPool(ctx, dsn, p.echosessSchema, p.EchosessCount); err != nil {
		return nil, err
	}
	if p.SCS, err = openPool(ctx, dsn, p.scsSchema, p.SCSCount); err != nil {
		return nil, err
	}
	db := stdlib.OpenDBFromPool(p.Echosess)
	defer db.Close()
	if err := migrateEchosess(ctx, db); err != nil {
		return nil, fmt.Errorf("bench: migrating echosess: %w", err)
	}
	if _, err := p.SCS.Exec(ctx, scsTable); err != nil {
		return nil, fmt.Errorf("bench: creating scs's table: %w", err)
	}
	return p, nil
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

// Close closes the pools and drops the schemas.
func (p *Postgres) Close() {
	for _, pool := range []*pgxpool.Pool{p.Echosess, p.SCS} {
		if pool != nil {
			pool.Close()
		}
	}
	if p.admin == nil {
		return
	}
	for _, schema := range []string{p.echosessSchema, p.scsSchema} {
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
	p.admin.Exec(ctx, "CHECKPOINT")
	return nil
}
