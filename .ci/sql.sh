#!/usr/bin/env bash
# CI steps of the SQL stores. Meant to be sourced by .ci/run before `go test`:
#
#	source .ci/sql.sh
#
# It starts the local PostgreSQL when it is not running, creates a fresh database for
# this run and exports its DSN as ECHOSESS_POSTGRES_DSN (dropped again when the
# shell exits); starts the local MariaDB when it does not answer and exports
# ECHOSESS_MYSQL_DSN, on which each test creates and drops a database of its own;
# proves that the sqlc-generated code in internal/db is current; and installs the
# goose command with the line of docs/migrations.md into an empty module cache and
# runs that page's goose commands with it on a fresh SQLite file, a fresh PostgreSQL
# database and a fresh MariaDB database.
# It exports that command's path as ECHOSESS_GOOSE, so TestGooseCLI needs no build of
# its own.
#
# Run directly (`bash .ci/sql.sh`), it does the same and then runs the SQL tests.
#
# Environment: ECHOSESS_POSTGRES_ADMIN_DSN, a database to connect to for CREATE and
# DROP DATABASE (default: user postgres on 127.0.0.1:5432, trust auth). MariaDB is
# the local one, user root without a password on 127.0.0.1:3306.
set -euo pipefail

echosess_sql_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
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

echosess_sql_mysql() { mysql -h 127.0.0.1 -P 3306 -u root --batch --skip-column-names "$@"; }

# echosess_sql_cleanup drops this run's databases and scratch files. It runs on exit;
# a caller with an EXIT trap of its own calls it from there.
echosess_sql_cleanup() {
	echosess_sql_psql -c "DROP DATABASE IF EXISTS $echosess_sql_db WITH (FORCE)" >/dev/null 2>&1 || true
	echosess_sql_psql -c "DROP DATABASE IF EXISTS ${echosess_sql_db}_goose WITH (FORCE)" >/dev/null 2>&1 || true
	echosess_sql_mysql -e "DROP DATABASE IF EXISTS ${echosess_sql_db}_goose" >/dev/null 2>&1 || true
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

# echosess_sql_start_mysql starts the local MariaDB when it does not answer on
# 127.0.0.1:3306, and waits for it. It leaves running a server it did not start.
echosess_sql_start_mysql() {
	if ! mysqladmin -h 127.0.0.1 -P 3306 -u root ping >/dev/null 2>&1; then
		echosess_sql_log "starting MariaDB"
		install -d -o mysql -g mysql /run/mysqld
		start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
	fi
	local i
	for i in $(seq 60); do
		[ -S /run/mysqld/mysqld.sock ] && mysqladmin -h 127.0.0.1 -P 3306 -u root ping >/dev/null 2>&1 && return 0
		sleep 1
	done
	echo "sql: MariaDB is not ready on 127.0.0.1:3306 after 60s" >&2
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

# echosess_sql_doc_block NAME prints the lines of the code block in docs/migrations.md
# that follows the comment line <!-- NAME: ... -->, failing when there is none.
echosess_sql_doc_block() {
	local block
	block=$(awk -v m="<!-- $1:" '
		index($0, m) == 1 { found = 1; next }
		found && /^```/ { if (inside) exit; inside = 1; next }
		inside' "$echosess_sql_root/docs/migrations.md")
	if [ -z "$block" ]; then
		echo "sql: docs/migrations.md has no code block after <!-- $1: -->" >&2
		return 1
	fi
	echo "$block"
}

# echosess_sql_goose_status DIR DRIVER DB runs goose status for migrations/DIR on DB,
# failing unless every migration in the folder shows as applied.
echosess_sql_goose_status() {
	local status f
	status=$(goose -dir "migrations/$1" -table echosess_db_version "$2" "$3" status 2>&1)
	echo "$status"
	for f in migrations/"$1"/*.sql; do
		if ! grep -q -- "-- ${f##*/}\$" <<<"$status" || grep -q "Pending .*-- ${f##*/}\$" <<<"$status"; then
			echo "sql: goose status does not show $f as applied" >&2
			return 1
		fi
	done
}

# echosess_sql_check_goose_doc installs the goose command with the line of
# docs/migrations.md, into a GOBIN and a module cache that start empty, then runs the
# page's goose commands in a folder that holds a copy of migrations/, as a clone's
# root does: on a new SQLite file there, as $DATABASE_URL on a new PostgreSQL
# database and as $MYSQL_DSN on a new MariaDB database. Then goose status must show
# every migration applied on each. The command stays for the tests, as
# ECHOSESS_GOOSE.
echosess_sql_check_goose_doc() {
	local install commands work=$echosess_sql_tmp/goose-doc
	install=$(echosess_sql_doc_block goose-install)
	commands=$(echosess_sql_doc_block goose-commands)
	mkdir -p "$work/bin" "$work/modcache" "$work/clone"
	cp -R "$echosess_sql_root/migrations" "$work/clone/"
	echosess_sql_psql -c "CREATE DATABASE ${echosess_sql_db}_goose"
	echosess_sql_mysql -e "CREATE DATABASE ${echosess_sql_db}_goose"
	(
		cd "$work/clone"
		export GOBIN=$work/bin GOMODCACHE=$work/modcache GOFLAGS=-modcacherw PATH=$work/bin:$PATH
		DATABASE_URL=$(echosess_sql_dsn "${echosess_sql_db}_goose")
		MYSQL_DSN="root@tcp(127.0.0.1:3306)/${echosess_sql_db}_goose"
		export DATABASE_URL MYSQL_DSN
		echosess_sql_log "goose: installing with the line of docs/migrations.md: $install"
		bash -euo pipefail -c "$install"
		if [ "$(command -v goose)" != "$work/bin/goose" ]; then
			echo "sql: the install line of docs/migrations.md did not put goose in GOBIN" >&2
			exit 1
		fi
		echosess_sql_log "goose: running the commands of docs/migrations.md"
		bash -euxo pipefail -c "$commands"
		echosess_sql_goose_status sqlite sqlite3 ./sessions.db
		echosess_sql_goose_status postgres postgres "$DATABASE_URL"
		echosess_sql_goose_status mysql mysql "$MYSQL_DSN"
	)
	echosess_sql_psql -c "DROP DATABASE ${echosess_sql_db}_goose WITH (FORCE)"
	echosess_sql_mysql -e "DROP DATABASE ${echosess_sql_db}_goose"
	ECHOSESS_GOOSE=$work/bin/goose
	export ECHOSESS_GOOSE
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

echosess_sql_start_mysql
ECHOSESS_MYSQL_DSN=${ECHOSESS_MYSQL_DSN:-root@tcp(127.0.0.1:3306)/}
export ECHOSESS_MYSQL_DSN
echosess_sql_log "ECHOSESS_MYSQL_DSN=$ECHOSESS_MYSQL_DSN"

echosess_sql_check_generated
echosess_sql_check_goose_doc

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	cd "$echosess_sql_root"
	go test -race -count=1 -run 'SQL|SQLite|Postgres|MySQL|Migrate|Goose' .
	go test -race -count=1 ./sqlitestore ./pgstore ./mysqlstore ./internal/migrate
fi
