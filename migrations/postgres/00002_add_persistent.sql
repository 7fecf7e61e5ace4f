-- A session whose cookie outlives the browser (RememberMe) even when the middleware
-- sends browser-session cookies. Existing rows are not remembered.

-- +goose Up
ALTER TABLE echosess_sessions ADD COLUMN persistent boolean NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE echosess_sessions DROP COLUMN persistent;
