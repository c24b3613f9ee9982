-- 0003_held_retention.sql — held files and an admin's retry, retention.
--
-- (0002 is the delta's.) Adds what the `held` file state, the `retry`
-- command and the purge of acknowledged rows need:
--
--  - files.admin_retries counts the times an admin released the file with
--    `dentsync retry` (a check that held it may let it through then);
--  - batches.purged_at and jobs.purged_at mark what ds_store_purge has
--    already stripped of patient data, so each purge only looks at what is
--    new since the last one;
--  - store_meta holds counters; `retry_generation` grows with every admin
--    retry, so a running agent notices one with a single cheap read.
--
-- auto_vacuum = INCREMENTAL cannot be switched inside a transaction: on a
-- database created before this migration ds_store_open runs the one VACUUM
-- it takes right after migrating, outside the migration's transaction.

ALTER TABLE files ADD COLUMN admin_retries INTEGER NOT NULL DEFAULT 0;
ALTER TABLE batches ADD COLUMN purged_at REAL;
ALTER TABLE jobs ADD COLUMN purged_at REAL;

-- Acknowledged batches not yet purged, oldest first.
CREATE INDEX batches_unpurged ON batches (updated_at) WHERE state = 'acked' AND purged_at IS NULL;
-- Held files, by reason (DISK_BUDGET files are released when space frees).
CREATE INDEX files_held ON files (reason_code) WHERE state = 'held';

CREATE TABLE store_meta (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO store_meta (name, value) VALUES ('retry_generation', 0);
