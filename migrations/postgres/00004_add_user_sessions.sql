-- The sessions of a user: the user a session is bound to (indexed, for listing and
-- revoking a user's sessions with one query), and what Config.RecordDevice records
-- of its client at creation and at the last write. Existing rows stay unbound, with
-- no device recorded, and keep working.

-- +goose Up
ALTER TABLE echosess_sessions
    ADD COLUMN user_id          text NOT NULL DEFAULT '',
    ADD COLUMN first_user_agent text NOT NULL DEFAULT '',
    ADD COLUMN first_ip         text NOT NULL DEFAULT '',
    ADD COLUMN last_user_agent  text NOT NULL DEFAULT '',
    ADD COLUMN last_ip          text NOT NULL DEFAULT '';

CREATE INDEX echosess_sessions_user_id_idx ON echosess_sessions (user_id) WHERE user_id <> '';

-- +goose Down
DROP INDEX echosess_sessions_user_id_idx;
ALTER TABLE echosess_sessions
    DROP COLUMN user_id,
    DROP COLUMN first_user_agent,
    DROP COLUMN first_ip,
    DROP COLUMN last_user_agent,
    DROP COLUMN last_ip;
