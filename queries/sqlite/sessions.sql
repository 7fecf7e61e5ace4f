-- LoadSession returns the row under the key unless it has expired. Every "now" in
-- these queries comes from the store's clock, never from the database.
-- name: LoadSession :one
SELECT data, expires_at, deadline, version, persistent, user_id, created_at, updated_at,
       first_user_agent, first_ip, last_user_agent, last_ip
FROM echosess_sessions
WHERE key = sqlc.arg(key) AND expires_at > sqlc.arg(now);

-- InsertSession saves version 1 of a session. It replaces an expired row but never a
-- live one: it affects no row when a live session holds the key.
-- name: InsertSession :execrows
INSERT INTO echosess_sessions (key, data, expires_at, deadline, persistent, version, created_at, updated_at,
                               user_id, first_user_agent, first_ip, last_user_agent, last_ip)
VALUES (sqlc.arg(key), sqlc.arg(data), sqlc.arg(expires_at), sqlc.arg(deadline), sqlc.arg(persistent), 1, sqlc.arg(now), sqlc.arg(now),
        sqlc.arg(user_id), sqlc.arg(first_user_agent), sqlc.arg(first_ip), sqlc.arg(last_user_agent), sqlc.arg(last_ip))
ON CONFLICT (key) DO UPDATE SET
    data             = excluded.data,
    expires_at       = excluded.expires_at,
    deadline         = excluded.deadline,
    persistent       = excluded.persistent,
    version          = 1,
    created_at       = excluded.created_at,
    updated_at       = excluded.updated_at,
    user_id          = excluded.user_id,
    first_user_agent = excluded.first_user_agent,
    first_ip         = excluded.first_ip,
    last_user_agent  = excluded.last_user_agent,
    last_ip          = excluded.last_ip
WHERE echosess_sessions.expires_at <= excluded.updated_at;

-- UpdateSession saves the version after the given one, provided the live row is still
-- at the given version: it affects no row otherwise.
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
WHERE key = sqlc.arg(key) AND version = sqlc.arg(version) AND expires_at > sqlc.arg(now);

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

-- ListUserSessions returns the live rows bound to a user, through the user_id index.
-- name: ListUserSessions :many
SELECT key, data, expires_at, deadline, version, persistent, created_at, updated_at,
       first_user_agent, first_ip, last_user_agent, last_ip
FROM echosess_sessions
WHERE user_id = sqlc.arg(user_id) AND user_id <> '' AND expires_at > sqlc.arg(now);

-- EndSessions ends the live rows whose key and version a revocation listed, as
-- UpdateSession ends one at its version: it saves them expired at ended_at, without
-- data or user. keyed_versions lists each as key:version, between and around commas
-- (",k1:3,k2:1,"; keys hold neither character); rows changed since the listing stay
-- as they are. It returns the keys it ended. The slice of keys, which finds the rows
-- through the primary key, comes last: sqlc numbers the arguments before it.
-- name: EndSessions :many
UPDATE echosess_sessions
SET data             = '{}',
    expires_at       = sqlc.arg(ended_at),
    deadline         = sqlc.arg(ended_at),
    persistent       = 0,
    version          = version + 1,
    updated_at       = sqlc.arg(now),
    user_id          = '',
    first_user_agent = '',
    first_ip         = '',
    last_user_agent  = '',
    last_ip          = ''
WHERE instr(sqlc.arg(keyed_versions), ',' || key || ':' || version || ',') > 0
  AND expires_at > sqlc.arg(now)
  AND key IN (sqlc.slice(keys))
RETURNING key;
