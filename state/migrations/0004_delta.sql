-- 0004_delta.sql — the delta: what was synced, so a nightly full snapshot
-- sends only what changed.
--
-- (Numbered 0004, not 0002 as first planned: 0003 shipped to every database
-- created since, as schema version 2, and ds_store_open applies the files in
-- name order, index + 1 being the version. A 0002 would take version 2 on a
-- database that already holds 0003's changes and apply 0003 again.)
--
--  - synced holds, per practice, import type and key, the fingerprint of
--    the record the cloud last acknowledged as created, updated or
--    unchanged, and the job that carried it. Staging compares each valid row
--    with it: the same key and fingerprint make the item `unchanged`
--    (decided locally, not uploaded). A full snapshot sends a deletion for
--    every key here that is absent from the file; the cloud's `deleted` (or
--    `unchanged`) removes the key. Keys and fingerprints are hashes or
--    external ids, never patient values.
--  - items.op is NULL for an upsert and 'delete' for a deletion row (no
--    record, fingerprint "delete", rows after the file's data rows).
--
-- New item states (plain text, as the others): `skipped` (a template rule
-- says the row is not data of this type; error holds the reason),
-- `unchanged` decided locally, and `deleted` from the cloud.

CREATE TABLE synced (
    practice    TEXT NOT NULL,        -- the [practice NAME] of the config
    import_type TEXT NOT NULL,
    key         TEXT NOT NULL,        -- ext:<id> or h:<sha256>
    fingerprint TEXT NOT NULL,        -- SHA-256 of the record acknowledged
    job_id      TEXT NOT NULL,        -- the job that carried it last
    synced_at   REAL NOT NULL,
    PRIMARY KEY (practice, import_type, key)
) WITHOUT ROWID;

ALTER TABLE items ADD COLUMN op TEXT;
