-- Every change to a session row, whoever makes it (the library, a cleanup, a hand
-- edit in SQL), notifies channel echosess_sessions with "<schema> <key> <version>",
-- so that each app instance evicts what it caches of that session. The version is 0
-- for a deleted row and for an update that did not raise the version (a hand edit):
-- those evict whatever version is cached. A TRUNCATE sends "<schema> * 0".

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION echosess_sessions_notify() RETURNS trigger LANGUAGE plpgsql AS $$
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

CREATE TRIGGER echosess_sessions_notify
AFTER INSERT OR UPDATE OR DELETE ON echosess_sessions
FOR EACH ROW EXECUTE FUNCTION echosess_sessions_notify();

CREATE TRIGGER echosess_sessions_notify_truncate
AFTER TRUNCATE ON echosess_sessions
FOR EACH STATEMENT EXECUTE FUNCTION echosess_sessions_notify();

-- +goose Down
DROP TRIGGER echosess_sessions_notify_truncate ON echosess_sessions;
DROP TRIGGER echosess_sessions_notify ON echosess_sessions;
DROP FUNCTION echosess_sessions_notify();
