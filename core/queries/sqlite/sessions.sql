-- LoadSession returns the row under the key unless it has expired. Every "now" in
-- these queries comes from the store's clock, never from the database.
-- name: LoadSession :one
SELECT data, expires_at, deadline, version, persistent
FROM echosess_sessions
WHERE key = sqlc.arg(key) AND expires_at > sqlc.arg(now);

-- InsertSession saves version 1 of a session. It replaces an expired row but never a
-- live one: it affects no row when a live session holds the key.
-- name: InsertSession :execrows
INSERT INTO echosess_sessions (key, data, expires_at, deadline, persistent, version, created_at, updated_at)
VALUES (sqlc.arg(key), sqlc.arg(data), sqlc.arg(expires_at), sqlc.arg(deadline), sqlc.arg(persistent), 1, sqlc.arg(now), sqlc.arg(now))
ON CONFLICT (key) DO UPDATE SET
    data       = excluded.data,
    expires_at = excluded.expires_at,
    deadline   = excluded.deadline,
    persistent = excluded.persistent,
    version    = 1,
    created_at = excluded.created_at,
    updated_at = excluded.updated_at
WHERE echosess_sessions.expires_at <= excluded.updated_at;

-- UpdateSession saves the version after the given one, provided the live row is still
-- at the given version: it affects no row otherwise.
-- name: UpdateSession :execrows
UPDATE echosess_sessions
SET data       = sqlc.arg(data),
    expires_at = sqlc.arg(expires_at),
    deadline   = sqlc.arg(deadline),
    persistent = sqlc.arg(persistent),
    version    = version + 1,
    updated_at = sqlc.arg(now)
WHERE key = sqlc.arg(key) AND version = sqlc.arg(version) AND expires_at > sqlc.arg(now);

-- TouchSession moves the expiry and deadline of the live row at the given version and
-- bumps its version, like UpdateSession, but never writes the data: an idle-timeout
-- slide sends no session data to the database.
-- name: TouchSession :execrows
UPDATE echosess_sessions
SET expires_at = sqlc.arg(expires_at),
    deadline   = sqlc.arg(deadline),
    version    = version + 1,
    updated_at = sqlc.arg(now)
WHERE key = sqlc.arg(key) AND version = sqlc.arg(version) AND expires_at > sqlc.arg(now);

-- name: DeleteSession :exec
DELETE FROM echosess_sessions
WHERE key = sqlc.arg(key);

-- DeleteExpiredSessions deletes at most batch_size expired rows, found
-- through the expires_at index, so that one call never holds the write lock for long.
-- name: DeleteExpiredSessions :execrows
DELETE FROM echosess_sessions
WHERE key IN (
    SELECT expired.key FROM echosess_sessions AS expired
    WHERE expired.expires_at <= sqlc.arg(now)
    LIMIT sqlc.arg(batch_size)
);
