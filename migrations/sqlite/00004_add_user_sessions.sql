-- The sessions of a user: the user a session is bound to (indexed, for listing and
-- revoking a user's sessions with one query), and what Config.RecordDevice records
-- of its client at creation and at the last write. Existing rows stay unbound, with
-- no device recorded, and keep working. (Version 3 is PostgreSQL's change trigger.)

-- +goose Up
ALTER TABLE echosess_sessions ADD COLUMN user_id          TEXT NOT NULL DEFAULT '';
ALTER TABLE echosess_sessions ADD COLUMN first_user_agent TEXT NOT NULL DEFAULT '';
ALTER TABLE echosess_sessions ADD COLUMN first_ip         TEXT NOT NULL DEFAULT '';
ALTER TABLE echosess_sessions ADD COLUMN last_user_agent  TEXT NOT NULL DEFAULT '';
ALTER TABLE echosess_sessions ADD COLUMN last_ip          TEXT NOT NULL DEFAULT '';

CREATE INDEX echosess_sessions_user_id_idx ON echosess_sessions (user_id) WHERE user_id <> '';

-- +goose Down
DROP INDEX echosess_sessions_user_id_idx;
ALTER TABLE echosess_sessions DROP COLUMN user_id;
ALTER TABLE echosess_sessions DROP COLUMN first_user_agent;
ALTER TABLE echosess_sessions DROP COLUMN first_ip;
ALTER TABLE echosess_sessions DROP COLUMN last_user_agent;
ALTER TABLE echosess_sessions DROP COLUMN last_ip;
