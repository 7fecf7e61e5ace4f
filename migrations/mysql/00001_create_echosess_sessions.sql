-- Session records of github.com/echosess/echosess, on MySQL 8 and MariaDB 10.11: the
-- table that migrations 1, 2 and 4 of the other dialects build, in one statement,
-- since MySQL commits each DDL statement on its own and a migration cut short
-- halfway could not be run again.
--
-- Times are DATETIME(6): microseconds, years up to 9999, and no conversion by the
-- connection's time_zone, where TIMESTAMP stops in 2038. The store writes and reads
-- them as UTC (mysqlstore.DSN). The key and the user ID are VARBINARY, compared
-- byte for byte: a text collation would match "Alice" to "alice", or "alice " to
-- "alice" (PAD SPACE, in every utf8mb4 collation that both servers have). MySQL
-- has no partial index, so the user_id index also holds the unbound rows' ''.

-- +goose Up
CREATE TABLE echosess_sessions (
    `key`            VARBINARY(255) NOT NULL,           -- hash of the session token, never the token
    data             LONGBLOB       NOT NULL,           -- JSON object of the session's keys and values
    expires_at       DATETIME(6)    NOT NULL,           -- the row is dead from this time on
    deadline         DATETIME(6)    NOT NULL,           -- absolute limit for a sliding expiry
    version          BIGINT         NOT NULL,           -- compare-and-swap counter, 1 after the first save
    created_at       DATETIME(6)    NOT NULL,
    updated_at       DATETIME(6)    NOT NULL,
    persistent       BOOLEAN        NOT NULL DEFAULT FALSE, -- RememberMe: the cookie outlives the browser
    user_id          VARBINARY(256) NOT NULL DEFAULT '', -- the user the session is bound to, '' for none
    first_user_agent VARCHAR(256)   NOT NULL DEFAULT '', -- the client at creation (Config.RecordDevice)
    first_ip         VARCHAR(256)   NOT NULL DEFAULT '',
    last_user_agent  VARCHAR(256)   NOT NULL DEFAULT '', -- the client at the last write
    last_ip          VARCHAR(256)   NOT NULL DEFAULT '',
    PRIMARY KEY (`key`),
    INDEX echosess_sessions_expires_at_idx (expires_at),
    INDEX echosess_sessions_user_id_idx (user_id)
) ENGINE = InnoDB DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;

-- +goose Down
DROP TABLE echosess_sessions;
