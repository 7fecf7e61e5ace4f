-- The trigger of migration 00006 records a change only while echosess_listeners
-- holds the row of a listener, and it reads that table through the writer's
-- snapshot. A REPEATABLE READ or SERIALIZABLE transaction whose snapshot was taken
-- before any listener registered found none for as long as it ran, and so recorded
-- nothing of the sessions it changed after one had: that listener's instance kept
-- serving them from its cache.
--
-- A sequence is read outside every snapshot (setval is seen at once by every
-- transaction, and is never rolled back). So the listeners now also keep, in the
-- sequence echosess_listened_until, a unix time in seconds until which some listener
-- counts as listening, and the trigger records while the clock is before it,
-- whatever its transaction's snapshot. A transaction that wrote before a listener
-- set it already holds a transaction ID, which the listener waits for before it
-- trusts its cache (core/pglisten.go). The check of migration 00006 stays, for the
-- instances of earlier releases, which register without setting the sequence.

-- +goose Up
CREATE SEQUENCE echosess_listened_until MINVALUE 0 START 0;

-- +goose StatementBegin
DO $do$
BEGIN
    EXECUTE format($f$
CREATE OR REPLACE FUNCTION echosess_sessions_record_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT last_value FROM %1$I.echosess_listened_until) <= extract(epoch FROM clock_timestamp())
        AND NOT EXISTS (SELECT 1 FROM %1$I.echosess_listeners WHERE seen_at >= now() - interval '30 seconds') THEN
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

-- +goose Down
-- +goose StatementBegin
DO $do$
BEGIN
    EXECUTE format($f$
CREATE OR REPLACE FUNCTION echosess_sessions_record_change() RETURNS trigger LANGUAGE plpgsql AS $$
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

DROP SEQUENCE echosess_listened_until;
