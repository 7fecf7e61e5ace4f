-- The changes to the sessions table are written to echosess_changes, which every
-- listening app instance polls, instead of being sent with NOTIFY: PostgreSQL
-- serializes the commits of all transactions that NOTIFY, through the commit's WAL
-- flush, and with the trigger of migration 00005 that cut single-row UPDATEs at 8
-- clients from 15,000 to 4,600 a second on this project's machine, where an insert
-- into an unlogged table cuts them to 12,300 (bench/trigger-cost.sh). The tables
-- are unlogged: what they hold matters only to the instances connected now, and a
-- crash, which empties them, also drops those connections, after which each
-- instance starts afresh.
--
-- A change row holds the ID of the transaction that made the change, so that a
-- listener reads exactly the changes of the transactions that its previous snapshot
-- saw as running (core/pglisten.go). As before (migration 00005), a change is
-- recorded only while some listener is registered, and a listener's row now holds
-- the horizon below which it has read every change, so that the listeners can
-- delete what all of them have read. A row not renewed for 30 seconds counts for
-- nothing, so that an instance gone without removing its row does not keep the
-- writers recording changes that nobody deletes.

-- +goose Up
DROP TRIGGER echosess_sessions_notify_truncate ON echosess_sessions;
DROP TRIGGER echosess_sessions_notify ON echosess_sessions;
DROP FUNCTION echosess_sessions_notify();
DROP TABLE echosess_listeners;

CREATE UNLOGGED TABLE echosess_listeners (
    id      text        NOT NULL PRIMARY KEY, -- random, per listening connection
    horizon xid8        NOT NULL,             -- every change of a lower transaction ID is read
    seen_at timestamptz NOT NULL DEFAULT now() -- last heartbeat; a silent listener is dropped
);

CREATE UNLOGGED TABLE echosess_changes (
    xid     xid8   NOT NULL DEFAULT pg_current_xact_id(),
    key     text   NOT NULL, -- '*' after a TRUNCATE
    version bigint NOT NULL  -- 0: removed, or changed without raising the version
);
CREATE INDEX echosess_changes_xid_idx ON echosess_changes (xid);

-- The function names the tables with their schema, written in when it is created,
-- so that it finds them whatever the search_path of the session that writes.
-- +goose StatementBegin
DO $do$
BEGIN
    EXECUTE format($f$
CREATE FUNCTION echosess_sessions_record_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM %1$I.echosess_listeners WHERE seen_at >= now() - interval '30 seconds') THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'TRUNCATE' THEN
        INSERT INTO %1$I.echosess_changes (key, version) VALUES ('*', 0);
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO %1$I.echosess_changes (key, version) VALUES (OLD.key, 0);
    ELSIF TG_OP = 'UPDATE' AND NEW.key <> OLD.key THEN
        INSERT INTO %1$I.echosess_changes (key, version) VALUES (OLD.key, 0), (NEW.key, 0);
    ELSIF TG_OP = 'UPDATE' AND NEW.version <= OLD.version THEN
        INSERT INTO %1$I.echosess_changes (key, version) VALUES (NEW.key, 0);
    ELSE
        INSERT INTO %1$I.echosess_changes (key, version) VALUES (NEW.key, NEW.version);
    END IF;
    RETURN NULL;
END
$$
$f$, current_schema());
END
$do$;
-- +goose StatementEnd

CREATE TRIGGER echosess_sessions_changes
AFTER INSERT OR UPDATE OR DELETE ON echosess_sessions
FOR EACH ROW EXECUTE FUNCTION echosess_sessions_record_change();

CREATE TRIGGER echosess_sessions_changes_truncate
AFTER TRUNCATE ON echosess_sessions
FOR EACH STATEMENT EXECUTE FUNCTION echosess_sessions_record_change();

-- +goose Down
DROP TRIGGER echosess_sessions_changes_truncate ON echosess_sessions;
DROP TRIGGER echosess_sessions_changes ON echosess_sessions;
DROP FUNCTION echosess_sessions_record_change();
DROP TABLE echosess_changes;
DROP TABLE echosess_listeners;

CREATE TABLE echosess_listeners (
    pid        integer     NOT NULL PRIMARY KEY,
    started_at timestamptz NOT NULL DEFAULT now()
);

-- +goose StatementBegin
DO $do$
BEGIN
    EXECUTE format($f$
CREATE FUNCTION echosess_sessions_notify() RETURNS trigger LANGUAGE plpgsql AS $$
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

CREATE TRIGGER echosess_sessions_notify
AFTER INSERT OR UPDATE OR DELETE ON echosess_sessions
FOR EACH ROW EXECUTE FUNCTION echosess_sessions_notify();

CREATE TRIGGER echosess_sessions_notify_truncate
AFTER TRUNCATE ON echosess_sessions
FOR EACH STATEMENT EXECUTE FUNCTION echosess_sessions_notify();
