-- Every change to a session row, whoever makes it (the library, a cleanup, a hand
-- edit in SQL), is recorded in echosess_changes while some app instance listens,
-- so that each instance evicts what it caches of that session (mysqlstore's
-- listener). A change row holds the key and the version written, 0 for a removed
-- row and for an update that did not raise the version (a hand edit): those evict
-- whatever version is cached. A TRUNCATE fires no trigger, and is not recorded.
--
-- The listeners keep a row each in echosess_listeners, renewed every second; a row
-- not renewed for 30 seconds counts for nothing, so that an instance gone without
-- removing its row does not keep the writers recording changes that nobody reads.
-- That table is a MEMORY table, which no transaction sees a snapshot of: a writer
-- in a REPEATABLE READ transaction that began before a listener registered still
-- finds its row, and records. (Its rows vanish when the server restarts, which
-- also drops the listeners' connections: they register again.) UTC_TIMESTAMP, not
-- NOW, so that a writer's time_zone does not move the 30 seconds.
--
-- Each statement can run again, so that a migration cut short (MySQL commits each
-- DDL statement on its own) completes when run again. The triggers insert with
-- VALUES, whose row count InnoDB knows, so that it gives them consecutive ids; an
-- INSERT ... SELECT may reserve more ids than it uses, leaving gaps that the
-- listeners wait out.

-- +goose Up
CREATE TABLE IF NOT EXISTS echosess_listeners (
    id      VARBINARY(32)   NOT NULL PRIMARY KEY, -- random, per listening connection
    horizon BIGINT UNSIGNED NOT NULL,             -- every change of a lower id is read
    seen_at DATETIME(6)     NOT NULL              -- UTC time of the last heartbeat
) ENGINE = MEMORY;

CREATE TABLE IF NOT EXISTS echosess_changes (
    id      BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    `key`   VARBINARY(255)  NOT NULL,
    version BIGINT          NOT NULL -- 0: removed, or changed without raising the version
) ENGINE = InnoDB;

DROP TRIGGER IF EXISTS echosess_sessions_changes_insert;

-- +goose StatementBegin
CREATE TRIGGER echosess_sessions_changes_insert AFTER INSERT ON echosess_sessions FOR EACH ROW
BEGIN
    IF EXISTS (SELECT 1 FROM echosess_listeners WHERE seen_at >= UTC_TIMESTAMP(6) - INTERVAL 30 SECOND) THEN
        INSERT INTO echosess_changes (`key`, version) VALUES (NEW.`key`, NEW.version);
    END IF;
END
-- +goose StatementEnd

DROP TRIGGER IF EXISTS echosess_sessions_changes_update;

-- +goose StatementBegin
CREATE TRIGGER echosess_sessions_changes_update AFTER UPDATE ON echosess_sessions FOR EACH ROW
BEGIN
    IF EXISTS (SELECT 1 FROM echosess_listeners WHERE seen_at >= UTC_TIMESTAMP(6) - INTERVAL 30 SECOND) THEN
        IF NEW.`key` <> OLD.`key` THEN
            INSERT INTO echosess_changes (`key`, version) VALUES (OLD.`key`, 0), (NEW.`key`, 0);
        ELSEIF NEW.version <= OLD.version THEN
            INSERT INTO echosess_changes (`key`, version) VALUES (NEW.`key`, 0);
        ELSE
            INSERT INTO echosess_changes (`key`, version) VALUES (NEW.`key`, NEW.version);
        END IF;
    END IF;
END
-- +goose StatementEnd

DROP TRIGGER IF EXISTS echosess_sessions_changes_delete;

-- +goose StatementBegin
CREATE TRIGGER echosess_sessions_changes_delete AFTER DELETE ON echosess_sessions FOR EACH ROW
BEGIN
    IF EXISTS (SELECT 1 FROM echosess_listeners WHERE seen_at >= UTC_TIMESTAMP(6) - INTERVAL 30 SECOND) THEN
        INSERT INTO echosess_changes (`key`, version) VALUES (OLD.`key`, 0);
    END IF;
END
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER IF EXISTS echosess_sessions_changes_delete;
DROP TRIGGER IF EXISTS echosess_sessions_changes_update;
DROP TRIGGER IF EXISTS echosess_sessions_changes_insert;
DROP TABLE IF EXISTS echosess_changes;
DROP TABLE IF EXISTS echosess_listeners;
