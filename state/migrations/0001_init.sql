-- 0001_init.sql — the queue's first schema.
--
-- Applied by ds_store_open inside one transaction, after which
-- PRAGMA user_version is 1. Never edit a migration that has shipped: add the
-- next number instead.
--
-- States are plain text checked by the code in state/ (the only writer), not
-- by CHECK constraints: SQLite cannot change a CHECK without rebuilding the
-- table, and later migrations add states (file `held`, item `skipped` and
-- `unchanged`). docs/states.md lists every state and transition.
--
-- Times are seconds since the Unix epoch (REAL, wall clock).

-- One row per settled export file the watcher took. (folder, path, size,
-- mtime_ns) says whether a file on disk was seen before without hashing it
-- again; sha256 says whether its content was ingested before.
CREATE TABLE files (
    id           INTEGER PRIMARY KEY,
    folder       TEXT NOT NULL,       -- the [folder NAME] of the config
    path         TEXT NOT NULL,
    size         INTEGER NOT NULL,
    mtime_ns     INTEGER NOT NULL,
    sha256       TEXT,                -- NULL only for a file that could not be read
    state        TEXT NOT NULL,       -- detected staging staged uploading done duplicate quarantined
    duplicate_of INTEGER REFERENCES files (id),
    reason_code  TEXT,                -- why quarantined: a code ...
    reason       TEXT,                -- ... and a message without patient data
    created_at   REAL NOT NULL,
    updated_at   REAL NOT NULL
);
CREATE INDEX files_identity ON files (folder, path, size, mtime_ns);
CREATE INDEX files_sha256 ON files (sha256);
CREATE INDEX files_state ON files (state);

-- One job per file and import type; its id is the UUID the cloud knows it by.
CREATE TABLE jobs (
    id           TEXT PRIMARY KEY,
    file_id      INTEGER NOT NULL REFERENCES files (id),
    practice     TEXT NOT NULL,
    import_type  TEXT NOT NULL,
    template_id  TEXT NOT NULL,
    filename     TEXT NOT NULL,       -- base name, as sent to the cloud
    sha256       TEXT NOT NULL,
    total_rows   INTEGER NOT NULL DEFAULT 0,
    state        TEXT NOT NULL,       -- staging uploading completed completed_with_errors
    remote_open  INTEGER NOT NULL DEFAULT 0, -- 1 once POST /v1/jobs succeeded
    created_at   REAL NOT NULL,
    staged_at    REAL,
    completed_at REAL
);
CREATE INDEX jobs_file ON jobs (file_id);
CREATE INDEX jobs_state ON jobs (state);

-- One row per data row of a job. The only table holding patient data
-- (record, raw). (job_id, key) finds an earlier valid item with the same key
-- while staging. A batch's items are the job's outbound items within the
-- batch's row range, found through the primary key: cutting batches writes
-- no item, and no index on the batch is kept.
CREATE TABLE items (
    job_id      TEXT NOT NULL REFERENCES jobs (id),
    row         INTEGER NOT NULL,     -- 1-based data row of the file
    key         TEXT,                 -- ext:<id> or h:<sha256>; never a value in clear
    fingerprint TEXT,                 -- SHA-256 of the normalized record
    status      TEXT NOT NULL,        -- valid invalid duplicate sent created updated
                                      -- unchanged conflict needs_review rejected
    record      TEXT,                 -- canonical record (JSON)
    raw         TEXT,                 -- original columns (JSON)
    error_code  TEXT,
    error       TEXT,                 -- without patient data
    outbound    INTEGER NOT NULL,     -- 1: valid when staged, so in a batch; 0: decided locally
    record_id   TEXT,                 -- the cloud's id for the record
    PRIMARY KEY (job_id, row)
) WITHOUT ROWID;
CREATE INDEX items_key ON items (job_id, key);

-- The delivery unit: a run of consecutive valid items of a job, cut when the
-- job is staged. digest is the Batch-Digest, fixed at that moment.
CREATE TABLE batches (
    job_id          TEXT NOT NULL REFERENCES jobs (id),
    seq             INTEGER NOT NULL, -- 1, 2, ...
    state           TEXT NOT NULL,    -- pending in_flight retry_wait acked rejected
    first_row       INTEGER NOT NULL,
    last_row        INTEGER NOT NULL,
    nrows           INTEGER NOT NULL,
    digest          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL,             -- when a retry_wait batch is due
    last_error_code TEXT,
    last_error      TEXT,
    created_at      REAL NOT NULL,
    updated_at      REAL NOT NULL,
    PRIMARY KEY (job_id, seq)
) WITHOUT ROWID;
CREATE INDEX batches_state ON batches (state);

-- The audit log: ids, row numbers, counts and codes only. No foreign keys,
-- so it outlives the rows it mentions (a restaged job is deleted).
CREATE TABLE events (
    id      INTEGER PRIMARY KEY,
    at      REAL NOT NULL,
    kind    TEXT NOT NULL,
    file_id INTEGER,
    job_id  TEXT,
    seq     INTEGER,
    code    TEXT,
    detail  TEXT
);
