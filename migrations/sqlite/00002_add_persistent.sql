-- A session whose cookie outlives the browser (RememberMe) even when the middleware
-- sends browser-session cookies. Existing rows are not remembered.

-- +goose Up
ALTER TABLE echosess_sessions ADD COLUMN persistent INTEGER NOT NULL DEFAULT 0; -- 1: remembered

-- +goose Down
ALTER TABLE echosess_sessions DROP COLUMN persistent;
