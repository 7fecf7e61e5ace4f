-- Session records of github.com/echosess/echosess. Times are unix milliseconds, so
-- nothing depends on how a driver formats time values as text.

-- +goose Up
CREATE TABLE echosess_sessions (
    key        TEXT    NOT NULL PRIMARY KEY, -- hash of the session token, never the token
    data       BLOB    NOT NULL,             -- JSON object of the session's keys and values
    expires_at INTEGER NOT NULL,             -- the row is dead from this time on
    deadline   INTEGER NOT NULL,             -- absolute limit for a sliding expiry
    version    INTEGER NOT NULL,             -- compare-and-swap counter, 1 after the first save
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE INDEX echosess_sessions_expires_at_idx ON echosess_sessions (expires_at);

-- +goose Down
DROP TABLE echosess_sessions;
