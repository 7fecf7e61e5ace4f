#!/usr/bin/env bash
# CI steps of the SQL stores. Meant to be sourced by .ci/run before `go test`:
#
#	source .ci/sql.sh
#
# It starts the local PostgreSQL when it is not running, creates a fresh database for
# this run and exports its DSN as ECHOSESS_POSTGRES_DSN (dropped again when the
# shell exits), builds the pinned goose command and exports its path as
# ECHOSESS_GOOSE (TestGooseCLI then needs no build of its own), proves that the
# sqlc-generated code in internal/db is current, and runs the goose command on the
# shipped migration folders the way docs/stores.md tells users to.
#
# Run directly (`bash .ci/sql.sh`), it does the same and then runs the SQL tests.
#
# Environment: ECHOSESS_POSTGRES_ADMIN_DSN, a database to connect to for CREATE and
# DROP DATABASE (default: user postgres on 127.0.0.1:5432, trust auth).
set -euo pipefail

echosess_sql_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
echosess_sql_goose_tags=no_clickhouse,no_libsql,no_mssql,no_mysql,no_vertica,no_ydb
echosess_sql_admin_dsn=${ECHOSESS_POSTGRES_ADMIN_DSN:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
echosess_sql_db=echosess_ci_$$_${RANDOM}
echosess_sql_tmp=$(mktemp -d)

echosess_sql_log() { echo "sql: $*"; }

# echosess_sql_dsn DB prints the DSN of database DB on the admin DSN's server.
echosess_sql_dsn() {
	local base=${echosess_sql_admin_dsn%%\?*} query=
	[[ $echosess_sql_admin_dsn == *\?* ]] && query="?${echosess_sql_admin_dsn#*\?}"
	echo "${base%/*}/$1$query"
}

echosess_sql_psql() { psql "$echosess_sql_admin_dsn" -v ON_ERROR_STOP=1 -qAtX "$@"; }

# echosess_sql_cleanup drops this run's databases and scratch files. It runs on exit;
# a caller with an EXIT trap of its own calls it from there.
echosess_sql_cleanup() {
	echosess_sql_psql -c "DROP DATABASE IF EXISTS $echosess_sql_db WITH (FORCE)" >/dev/null 2>&1 || true
	echosess_sql_psql -c "DROP DATABASE IF EXISTS ${echosess_sql_db}_goose WITH (FORCE)" >/dev/null 2>&1 || true
	rm -rf "$echosess_sql_tmp"
}

echosess_sql_start_postgres() {
	if ! pg_isready -q -h 127.0.0.1; then
		echosess_sql_log "starting PostgreSQL"
		pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n1)" main start || true
	fi
	local i
	for i in $(seq 60); do
		pg_isready -q -h 127.0.0.1 && return 0
		sleep 1
	done
	echo "sql: PostgreSQL is not ready on 127.0.0.1 after 60s" >&2
	return 1
}

# echosess_sql_drop_stale drops the databases of earlier runs whose shell is gone.
echosess_sql_drop_stale() {
	local name pid
	for name in $(echosess_sql_psql -c "SELECT datname FROM pg_database WHERE datname LIKE 'echosess\_ci\_%'"); do
		pid=${name#echosess_ci_}
		pid=${pid%%_*}
		if ! kill -0 "$pid" 2>/dev/null; then
			echosess_sql_psql -c "DROP DATABASE IF EXISTS $name WITH (FORCE)" >/dev/null
		fi
	done
}

echosess_sql_check_generated() {
	echosess_sql_log "sqlc: checking that internal/db matches queries/ and migrations/"
	(
		cd "$echosess_sql_root"
		go tool -modfile=tools/go.mod sqlc diff
		go tool -modfile=tools/go.mod sqlc generate
		git diff --exit-code -- internal/db
		if [ -n "$(git status --porcelain -- internal/db)" ]; then
			git status --porcelain -- internal/db >&2
			echo "sql: internal/db has files that sqlc generate made and git does not track" >&2
			exit 1
		fi
	)
}

# echosess_sql_goose_up DIALECT DRIVER DB runs the goose command's up and then status on
# migrations/DIALECT against DB, failing if a migration is left pending.
echosess_sql_goose_up() {
	local status
	echosess_sql_log "goose: up and status on migrations/$1"
	"$ECHOSESS_GOOSE" -dir "migrations/$1" -table echosess_db_version "$2" "$3" up
	status=$("$ECHOSESS_GOOSE" -dir "migrations/$1" -table echosess_db_version "$2" "$3" status 2>&1)
	echo "$status"
	if grep -q Pending <<<"$status"; then
		echo "sql: goose left a migration in migrations/$1 pending" >&2
		return 1
	fi
}

echosess_sql_check_goose_cli() {
	local pg_dsn
	pg_dsn=$(echosess_sql_dsn "${echosess_sql_db}_goose")
	echosess_sql_psql -c "CREATE DATABASE ${echosess_sql_db}_goose"
	(
		cd "$echosess_sql_root"
		echosess_sql_goose_up sqlite sqlite3 "$echosess_sql_tmp/goose-cli.db"
		echosess_sql_goose_up postgres postgres "$pg_dsn"
	)
	echosess_sql_psql -c "DROP DATABASE ${echosess_sql_db}_goose WITH (FORCE)"
}

if [ -z "$(trap -p EXIT)" ]; then
	trap echosess_sql_cleanup EXIT
else
	echosess_sql_log "an EXIT trap is already set; call echosess_sql_cleanup from it"
fi

echosess_sql_start_postgres
echosess_sql_drop_stale
echosess_sql_psql -c "CREATE DATABASE $echosess_sql_db"
ECHOSESS_POSTGRES_DSN=$(echosess_sql_dsn "$echosess_sql_db")
export ECHOSESS_POSTGRES_DSN
echosess_sql_log "ECHOSESS_POSTGRES_DSN=$ECHOSESS_POSTGRES_DSN"

echosess_sql_log "building goose (pinned in tools/go.mod)"
(cd "$echosess_sql_root" && go build -modfile=tools/go.mod -tags="$echosess_sql_goose_tags" \
	-o "$echosess_sql_tmp/goose" github.com/pressly/goose/v3/cmd/goose)
ECHOSESS_GOOSE=$echosess_sql_tmp/goose
export ECHOSESS_GOOSE

echosess_sql_check_generated
echosess_sql_check_goose_cli

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	cd "$echosess_sql_root"
	go test -race -count=1 -run 'SQL|SQLite|Postgres|Migrate|Goose' .
fi
