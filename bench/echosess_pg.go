package bench

import (
	"context"
	"database/sql"
	"github.com/echosess/echosess/pgstore"
	"github.com/echosess/echosess/sqlstore"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// echosessStore returns echosess's Postgres store on its schema.
func (p *Postgres) echosessStore() *sqlstore.Store { return pgstore.New(p.Echosess) }

// migrateEchosess creates echosess's table with its own migrations.
func migrateEchosess(ctx context.Context, db *sql.DB) error {
	return pgstore.Migrate(ctx, db)
}

// seedEchosessTable inserts n live sessions straight into echosess's table, keyed
// like real ones by the base64url SHA-256 of a token, then vacuums and analyzes the
// table. The rows go in in key order, which fills the primary key's index far faster.
func seedEchosessTable(ctx context.Context, pool *pgxpool.Pool, n int) error {
	exp := time.Now().Add(lifetime)
	if _, err := pool.Exec(ctx, `
INSERT INTO echosess_sessions (key, data, expires_at, deadline, version, created_at, updated_at)
SELECT rtrim(translate(encode(sha256(('echosess seed ' || i)::bytea), 'base64'), '+/', '-_'), '='),
       '{"n":0,"user":"seed"}'::bytea, $1, $1, 1, now(), now()
FROM generate_series(1, $2::int) AS i
ORDER BY 1`, exp, n); err != nil {
		return err
	}
	_, err := pool.Exec(ctx, "VACUUM ANALYZE echosess_sessions")
	return err
}
