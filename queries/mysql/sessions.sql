-- LoadSession returns the row under the key unless it has expired. Every "now" in
-- these queries comes from the store's clock, never from the database, and every
-- time is UTC, to the microsecond (mysqlstore.DSN). `key` is a reserved word, so
-- it is quoted, and its argument is session_key.
-- name: LoadSession :one
SELECT data, expires_at, deadline, version, persistent, user_id, created_at, updated_at,
       first_user_agent, first_ip, last_user_agent, last_ip
FROM echosess_sessions
WHERE `key` = sqlc.arg(session_key) AND expires_at > sqlc.arg(now);

-- InsertSession saves version 1 of a session. It replaces an expired row but never a
-- live one: it affects no row when a live session holds the key. The row it finds
-- under the key is locked before the IFs read it, so two inserts of one key take
-- turns, whatever the isolation level. MySQL assigns left to right, and each IF
-- reads the row as the assignments before it left it, so expires_at, which they
-- test, comes last. Rows affected: 1 for a new row, 2 for an expired row replaced,
-- 0 for a live row left alone, which is why the connection must not count found
-- rows (clientFoundRows, mysqlstore.DSN): it would report that row as 1. VALUES(col),
-- the row the insert proposed, is what both servers take: MariaDB has no row alias
-- (INSERT ... AS new), which MySQL 8.0.20 prefers.
-- name: InsertSession :execrows
INSERT INTO echosess_sessions (`key`, data, expires_at, deadline, persistent, version, created_at, updated_at,
                               user_id, first_user_agent, first_ip, last_user_agent, last_ip)
VALUES (sqlc.arg(session_key), sqlc.arg(data), sqlc.arg(expires_at), sqlc.arg(deadline), sqlc.arg(persistent), 1, sqlc.arg(now), sqlc.arg(now),
        sqlc.arg(user_id), sqlc.arg(first_user_agent), sqlc.arg(first_ip), sqlc.arg(last_user_agent), sqlc.arg(last_ip))
ON DUPLICATE KEY UPDATE
    data             = IF(expires_at <= VALUES(updated_at), VALUES(data), data),
    deadline         = IF(expires_at <= VALUES(updated_at), VALUES(deadline), deadline),
    persistent       = IF(expires_at <= VALUES(updated_at), VALUES(persistent), persistent),
    version          = IF(expires_at <= VALUES(updated_at), 1, version),
    created_at       = IF(expires_at <= VALUES(updated_at), VALUES(created_at), created_at),
    updated_at       = IF(expires_at <= VALUES(updated_at), VALUES(updated_at), updated_at),
    user_id          = IF(expires_at <= VALUES(updated_at), VALUES(user_id), user_id),
    first_user_agent = IF(expires_at <= VALUES(updated_at), VALUES(first_user_agent), first_user_agent),
    first_ip         = IF(expires_at <= VALUES(updated_at), VALUES(first_ip), first_ip),
    last_user_agent  = IF(expires_at <= VALUES(updated_at), VALUES(last_user_agent), last_user_agent),
    last_ip          = IF(expires_at <= VALUES(updated_at), VALUES(last_ip), last_ip),
    expires_at       = IF(expires_at <= VALUES(updated_at), VALUES(expires_at), expires_at);

-- UpdateSession saves the version after the given one, provided the live row is still
-- at the given version: it affects no row otherwise. It always raises the version,
-- so the rows it changes are the rows it matches, whether or not the connection
-- counts found rows.
-- name: UpdateSession :execrows
UPDATE echosess_sessions
SET data             = sqlc.arg(data),
    expires_at       = sqlc.arg(expires_at),
    deadline         = sqlc.arg(deadline),
    persistent       = sqlc.arg(persistent),
    version          = version + 1,
    updated_at       = sqlc.arg(now),
    user_id          = sqlc.arg(user_id),
    first_user_agent = sqlc.arg(first_user_agent),
    first_ip         = sqlc.arg(first_ip),
    last_user_agent  = sqlc.arg(last_user_agent),
    last_ip          = sqlc.arg(last_ip)
WHERE `key` = sqlc.arg(session_key) AND version = sqlc.arg(version) AND expires_at > sqlc.arg(now);

-- TouchSession moves the expiry and deadline of the live row at the given version and
-- bumps its version, like UpdateSession, but never writes the data or the user: an
-- idle-timeout slide sends no session data to the database. It records the device of
-- the request, as the last activity.
-- name: TouchSession :execrows
UPDATE echosess_sessions
SET expires_at       = sqlc.arg(expires_at),
    deadline         = sqlc.arg(deadline),
    version          = version + 1,
    updated_at       = sqlc.arg(now),
    first_user_agent = sqlc.arg(first_user_agent),
    first_ip         = sqlc.arg(first_ip),
    last_user_agent  = sqlc.arg(last_user_agent),
    last_ip          = sqlc.arg(last_ip)
WHERE `key` = sqlc.arg(session_key) AND version = sqlc.arg(version) AND expires_at > sqlc.arg(now);

-- name: DeleteSession :exec
DELETE FROM echosess_sessions
WHERE `key` = sqlc.arg(session_key);

-- DeleteExpiredSessions deletes at most limit expired rows, in the order of the
-- expires_at index, which it walks from its start, so that one call never holds
-- locks for long. (Neither server takes LIMIT in an IN subquery, as the other
-- dialects do; both take it on a DELETE of one table.)
-- name: DeleteExpiredSessions :execrows
DELETE FROM echosess_sessions
WHERE expires_at <= sqlc.arg(now)
ORDER BY expires_at
LIMIT ?;

-- ListUserSessions returns the live rows bound to a user, through the user_id index.
-- name: ListUserSessions :many
SELECT `key`, data, expires_at, deadline, version, persistent, created_at, updated_at,
       first_user_agent, first_ip, last_user_agent, last_ip
FROM echosess_sessions
WHERE user_id = sqlc.arg(user_id) AND user_id <> '' AND expires_at > sqlc.arg(now);

-- LockListedSessions locks, for EndSessions in the same transaction, the live rows
-- whose key and version a revocation listed, and returns their keys.
-- keyed_versions lists each as key:version, separated by commas (keys hold none);
-- rows changed since the listing are left out. (Neither server returns the rows of an UPDATE: MariaDB's RETURNING is
-- for INSERT and DELETE.)
-- name: LockListedSessions :many
SELECT `key` FROM echosess_sessions
WHERE `key` IN (sqlc.slice(session_keys))
  AND FIND_IN_SET(CONCAT(`key`, ':', version), sqlc.arg(keyed_versions)) > 0
  AND expires_at > sqlc.arg(now)
FOR UPDATE;

-- EndSessions ends the rows that LockListedSessions locked, as UpdateSession ends
-- one at its version: it saves them expired at ended_at, without data or user.
-- name: EndSessions :execrows
UPDATE echosess_sessions
SET data             = '{}',
    expires_at       = sqlc.arg(ended_at),
    deadline         = sqlc.arg(ended_at),
    persistent       = FALSE,
    version          = version + 1,
    updated_at       = sqlc.arg(now),
    user_id          = '',
    first_user_agent = '',
    first_ip         = '',
    last_user_agent  = '',
    last_ip          = ''
WHERE `key` IN (sqlc.slice(session_keys));
