-- Session records of github.com/echosess/echosess.

-- +goose Up
CREATE TABLE echosess_sessions (
    key        text        NOT NULL PRIMARY KEY, -- hash of the session token, never the token
    data       bytea       NOT NULL,             -- JSON object of the session's keys and values
    expires_at timestamptz NOT NULL,             -- the row is dead from this time on
    deadline   timestamptz NOT NULL,             -- absolute limit for a sliding expiry
    version    bigint      NOT NULL,             -- compare-and-swap counter, 1 after the first save
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE INDEX echosess_sessions_expires_at_idx ON echosess_sessions (expires_at);

-- +goose Down
DROP TABLE echosess_sessions;
