-- A change is notified only while some app instance listens for this table's
-- changes: PostgreSQL serializes the commits of all transactions that NOTIFY, which
-- cost 40% of the writes per second in a test on this project's machine, so an app
-- without a coherent cache should not pay for notifications that nobody hears.
-- Each listening connection keeps a row in echosess_listeners while it listens
-- (core/pglisten.go), and waits, before it trusts its cache, for the transactions
-- that may have found the table empty.

-- +goose Up
CREATE TABLE echosess_listeners (
    pid        integer     NOT NULL PRIMARY KEY, -- backend of a listening connection
    started_at timestamptz NOT NULL DEFAULT now()
);

-- The function names the table with its schema, written in when it is created, so
-- that it finds it whatever the search_path of the session that writes.
-- +goose StatementBegin
DO $do$
BEGIN
    EXECUTE format($f$
CREATE OR REPLACE FUNCTION echosess_sessions_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM %I.echosess_listeners) THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM pg_notify('echosess_sessions', TG_TABLE_SCHEMA || ' * 0');
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('echosess_sessions', TG_TABLE_SCHEMA || ' ' || OLD.key || ' 0');
    ELSE
        IF TG_OP = 'UPDATE' AND NEW.key <> OLD.key THEN
            PERFORM pg_notify('echosess_sessions', TG_TABLE_SCHEMA || ' ' || OLD.key || ' 0');
        END IF;
        IF TG_OP = 'UPDATE' AND NEW.version <= OLD.version THEN
            PERFORM pg_notify('echosess_sessions', TG_TABLE_SCHEMA || ' ' || NEW.key || ' 0');
        ELSE
            PERFORM pg_notify('echosess_sessions', TG_TABLE_SCHEMA || ' ' || NEW.key || ' ' || NEW.version);
        END IF;
    END IF;
    RETURN NULL;
END
$$
$f$, current_schema());
END
$do$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION echosess_sessions_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM pg_notify('echosess_sessions', TG_TABLE_SCHEMA || ' * 0');
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('echosess_sessions', TG_TABLE_SCHEMA || ' ' || OLD.key || ' 0');
    ELSE
        IF TG_OP = 'UPDATE' AND NEW.key <> OLD.key THEN
            PERFORM pg_notify('echosess_sessions', TG_TABLE_SCHEMA || ' ' || OLD.key || ' 0');
        END IF;
        IF TG_OP = 'UPDATE' AND NEW.version <= OLD.version THEN
            PERFORM pg_notify('echosess_sessions', TG_TABLE_SCHEMA || ' ' || NEW.key || ' 0');
        ELSE
            PERFORM pg_notify('echosess_sessions', TG_TABLE_SCHEMA || ' ' || NEW.key || ' ' || NEW.version);
        END IF;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
DROP TABLE echosess_listeners;
