#!/usr/bin/env bash
# Measures what reporting a change costs a single-row UPDATE of echosess's sessions
# table on PostgreSQL, with pgbench, in a schema of its own that it drops at the end:
# no trigger; a trigger that sends NOTIFY (migrations 00003 and 00005, with a listener
# registered); and the trigger of migrations 00006 and 00007, which inserts into an
# unlogged table (with a listener registered, and without one). Each case runs 8
# clients for ROUND seconds, in ROUNDS interleaved rounds, and prints pgbench's
# transactions per second and the machine's busy CPU time per transaction (the
# client's included).
# Needs pgbench and psql, and ECHOSESS_POSTGRES_DSN as a URL.
#
#	bash trigger-cost.sh [ROUNDS] [ROUND]
set -euo pipefail
cd "$(dirname "$0")/.."
: "${ECHOSESS_POSTGRES_DSN:?set ECHOSESS_POSTGRES_DSN}"
rounds=${1:-3}
round=${2:-8}
schema=echosess_trigger_cost_$$
dsn=$ECHOSESS_POSTGRES_DSN
sql() { psql "$dsn" -q -v ON_ERROR_STOP=1 "$@"; }
script=$(mktemp)
trap 'rm -f "$script"; sql -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1' EXIT

# The schema migrated by the pinned goose command (tools/go.mod), with 10,000 live
# rows, then the NOTIFY trigger of migration 00005 beside it as a function of its own.
sql -c "CREATE SCHEMA $schema"
case $dsn in
*\?*) schema_dsn="$dsn&search_path=$schema" ;;
*) schema_dsn="$dsn?search_path=$schema" ;;
esac
go run -modfile=tools/go.mod -tags=no_clickhouse,no_libsql,no_mssql,no_mysql,no_vertica,no_ydb \
	github.com/pressly/goose/v3/cmd/goose -dir migrations/postgres -table echosess_db_version \
	postgres "$schema_dsn" up > /dev/null
PGOPTIONS="-c search_path=$schema" sql <<'EOF'
INSERT INTO echosess_sessions (key, data, expires_at, deadline, persistent, version, created_at, updated_at,
                               user_id, first_user_agent, first_ip, last_user_agent, last_ip)
SELECT md5(i::text), '{"n":1}', now() + interval '1 day', now() + interval '1 day', false, 1, now(), now(), '', '', '', '', ''
FROM generate_series(1, 10000) AS i;
VACUUM ANALYZE;
EOF
PGOPTIONS="-c search_path=$schema" sql <<EOF
CREATE FUNCTION notify_change() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM $schema.echosess_listeners) THEN
        RETURN NULL;
    END IF;
    PERFORM pg_notify('echosess_sessions', TG_TABLE_SCHEMA || ' ' || NEW.key || ' ' || NEW.version);
    RETURN NULL;
END
\$\$;
CREATE TRIGGER notify_change AFTER UPDATE ON echosess_sessions FOR EACH ROW EXECUTE FUNCTION notify_change();
ALTER TABLE echosess_sessions DISABLE TRIGGER notify_change;
EOF

cat > "$script" <<EOF
\set k random(1, 10000)
UPDATE $schema.echosess_sessions SET data = '{"n":2}', expires_at = now() + interval '1 day',
  version = version + 1, updated_at = now() WHERE key = md5(:k::text) AND expires_at > now();
EOF

# setup CASE enables the trigger that CASE measures, and registers a listener, as
# the store does (a row, and echosess_listened_until an hour ahead), unless CASE is
# none or record-unheard. Nothing reads the changes meanwhile.
setup() {
	local changes=DISABLE notify=DISABLE listener=yes
	case $1 in
	none) listener=no ;;
	notify) notify=ENABLE ;;
	record) changes=ENABLE ;;
	record-unheard) changes=ENABLE listener=no ;;
	esac
	sql -c "ALTER TABLE $schema.echosess_sessions $changes TRIGGER echosess_sessions_changes" \
		-c "ALTER TABLE $schema.echosess_sessions $notify TRIGGER notify_change" \
		-c "DELETE FROM $schema.echosess_listeners" -c "TRUNCATE $schema.echosess_changes" \
		-c "SELECT setval('$schema.echosess_listened_until', 0)"
	if [ $listener = yes ]; then
		sql -c "INSERT INTO $schema.echosess_listeners (id, horizon) VALUES ('pgbench', pg_snapshot_xmin(pg_current_snapshot()))" \
			-c "SELECT setval('$schema.echosess_listened_until', extract(epoch FROM now())::bigint + 3600)"
	fi
}

busy() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8}' /proc/stat; } # user nice system irq softirq, in ticks
echo "pgbench, 8 clients, ${round}s per case, $rounds rounds, $(nproc) cores, $(psql --version)"
printf '%-16s %10s %14s\n' case tps "cpu µs/tx"
for r in $(seq "$rounds"); do
	for c in none notify record record-unheard; do
		setup "$c" >/dev/null
		before=$(busy)
		tps=$(pgbench "$dsn" -n -c 8 -j 2 -T "$round" -M prepared -f "$script" 2>&1 | awk '/^tps/ {print $3}')
		after=$(busy)
		awk -v c="$c" -v tps="$tps" -v ticks=$((after - before)) -v s="$round" \
			'BEGIN { printf "%-16s %10.0f %14.0f\n", c, tps, ticks * 10000 / (tps * s) }'
	done
done
