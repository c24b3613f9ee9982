/*
 * store.c — the local queue: opening, migrations, transactions, recovery.
 *
 * The SQLite database in the state directory is the agent's single source of
 * truth. This file opens it (creating it 0640), applies the numbered
 * migrations, wraps every state change in one transaction, recovers from a
 * crash at start-up and keeps the audit log. store_ingest.c (files, staging)
 * and store_upload.c (delivery) make the other transitions.
 *
 * The state machines, with the function that makes each transition (final
 * states marked *). docs/states.md has the same with the events written.
 *
 *   file
 *                  ds_store_file_add            ds_store_file_quarantine
 *   settled file --------------------> detected -------------------------> quarantined*
 *     |                                 | ^  ^ |                                ^
 *     | ds_store_file_add               | |  | | ds_store_file_hold,            |
 *     | (sha256 taken before)           | |  | | ds_store_file_add (over        |
 *     v                                 | |  | v the disk budget)               |
 *   duplicate*      ds_store_job_begin  | |  held <---------------------+       |
 *                                       | |    ds_store_file_retry,     |       |
 *                                       | |    ds_store_purge (budget)  |       |
 *                                       | |    -> detected              |       |
 *                                       v | ds_store_recover            |       |
 *                                     staging --------------------------+-------+
 *                                       |      ds_store_file_hold, ds_store_file_quarantine
 *                                       | ds_store_job_staged (the file's last
 *                                       | job staging: one job per import type)
 *                                       v
 *                                     staged --------------------------+
 *                                       |                              | ds_store_job_completed
 *                                       | ds_store_batch_send          | (no batch)
 *                                       | (the job's first batch)      |
 *                                       v                              v
 *                                   uploading --ds_store_job_completed--> done*
 *                                        (done with the file's last job completed)
 *
 *   job
 *      ds_store_job_begin      ds_store_job_staged       ds_store_job_completed
 *      ------------> staging --------------------> uploading -------------> completed*
 *                       |                                   \
 *                       | ds_store_recover,                  `-----------> completed_with_errors*
 *                       | ds_store_file_quarantine, ds_store_file_hold
 *                       v
 *                    (deleted with its items; the file is ingested again, held or quarantined)
 *
 *   batch
 *      ds_store_job_staged       ds_store_batch_send          ds_store_batch_acked
 *      ---------------> pending -------------------> in_flight -----------------> acked*
 *                        ^  ^  |                      |   |  ^
 *                        |  |  |   ds_store_recover   |   |  | ds_store_batch_send
 *                        |  |  |  <-------------------+   |  |
 *                        |  |  |                          |  retry_wait
 *                        |  |  | ds_store_batch_rejected  |     ^   |
 *                        |  |  v                          |     |   | ds_store_batch_rejected
 *                        |  | rejected <------------------+     |   v
 *                        |  |   |    ds_store_batch_rejected    |  rejected
 *                        |  +---+                               |
 *                        |  ds_store_batches_retry_rejected     |
 *                        |  (an admin; job still uploading)     |
 *                        |          ds_store_batch_retry (in_flight -> retry_wait)
 *                        |
 *      (store_split.c: pending, in_flight, retry_wait --ds_store_batch_split--> split*,
 *       replaced by two new pending batches)
 *
 *   item
 *      ds_store_item_add --> valid | invalid* | duplicate* (same key as an earlier valid row)
 *      valid --ds_store_batch_send--> sent --ds_store_batch_acked--> created* | updated* |
 *            unchanged* | conflict* | needs_review* | rejected* (also MISSING_RESULT)
 *      valid, sent --ds_store_batch_rejected--> rejected*
 *
 * Invariants:
 *  - Every state change is one transaction (BEGIN IMMEDIATE), so another
 *    connection (the ingest thread's, the loop's) sees all of it or none.
 *    Inside a transaction the caller opened with ds_store_tx_begin, a state
 *    change becomes a savepoint of that transaction instead.
 *  - A job in `staging` is worthless after a crash: ds_store_recover deletes
 *    it and its file is ingested again from the start. That is what lets
 *    staging commit without waiting for the disk (see ds_store_tx_begin).
 *  - Every other commit waits for the disk (synchronous=FULL). With
 *    synchronous=NORMAL a power cut may undo the last commits of a WAL
 *    database; harmless for most of them (a batch would be sent again and the
 *    cloud replays it), but not once the agent acted on a commit outside the
 *    database: after a file is `done` the agent may move or delete the
 *    export, and losing the commits before that would lose the rows. The
 *    price is one fsync per state change on the loop thread, a few per batch.
 *  - A batch's digest is fixed when the batch is cut and checked again each
 *    time the batch is sent, so a replay carries the same digest.
 *  - Nothing here writes patient data to the log or the events table:
 *    events hold ids, row numbers, counts and codes.
 */
#include "state/store_int.h"

#include "agent/core/alloc.h"
#include "agent/core/clock.h"
#include "agent/core/log.h"
#include "agent/os/os_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Generated from the files in state/migrations by the Makefile (installer/embed.sh):
 * contents in order, NULL-terminated; index + 1 is the schema version. */
extern const char *const ds_store_migrations[];
extern const char *const ds_store_migrations_names[];

/* "DSyn": marks the file as dentsync's queue, so a foreign SQLite database
 * is refused rather than migrated. */
#define STORE_APPLICATION_ID 0x4453796e

#define STORE_BUSY_MS 5000
/* The page cache of one connection, in KiB (negative: KiB for SQLite). A
 * staging job's key index is written at random places; a larger cache keeps
 * more of it in memory. Memory stays bounded whatever the file size. */
#define STORE_CACHE_KIB 16384
/* The page size of a new queue. An item is about 700 bytes to 1 KB (record
 * and raw row): with SQLite's default 4 KiB pages a WITHOUT ROWID table
 * splits a page every few inserts and writes each page through the WAL and
 * the checkpoint with one system call per page; 16 KiB pages take four times
 * fewer of both (measured: a third less CPU to insert 200,000 items). A
 * queue made before keeps its 4 KiB pages: they work, only slower, and
 * changing them takes a VACUUM outside WAL mode. The cache is set in KiB, so
 * memory does not grow with the page. */
#define STORE_PAGE_SIZE 16384

/* ---- helpers shared by the store's files -------------------------------- */

double ds__store_now(void)
{
    return ds_clock_now();
}

static int store_map_rc(int sqlite_rc)
{
    switch (sqlite_rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return 0;
    case SQLITE_NOMEM:
        return DS_ENOMEM;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return DS_EBUSY;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return DS_ECORRUPT;
    case SQLITE_FULL:
        return DS_EFULL;
    case SQLITE_CONSTRAINT:
        if (sqlite_rc == SQLITE_CONSTRAINT_PRIMARYKEY || sqlite_rc == SQLITE_CONSTRAINT_UNIQUE) {
            return DS_EEXIST;
        }
        return DS_EINVAL;
    default:
        return DS_ESTORE;
    }
}

int ds__store_fail(struct ds_store *st, int sqlite_rc, const char *what)
{
    int ext = st != NULL && st->db != NULL ? sqlite3_extended_errcode(st->db) : sqlite_rc;
    int rc;

    if ((ext & 0xff) == (sqlite_rc & 0xff)) {
        sqlite_rc = ext;
    }
    rc = store_map_rc(sqlite_rc);
    ds_log_error("STORE_ERROR", "store: %s: %s (sqlite %d)", what,
                 st != NULL && st->db != NULL ? sqlite3_errmsg(st->db) : sqlite3_errstr(sqlite_rc),
                 sqlite_rc);
    return rc;
}

int ds__store_stmt(struct ds_store *st, enum ds__store_q q, const char *sql, sqlite3_stmt **out)
{
    int src;

    if (st->stmt[q] == NULL) {
        src = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st->stmt[q], NULL);
        if (src != SQLITE_OK) {
            return ds__store_fail(st, src, "prepare");
        }
    }
    *out = st->stmt[q];
    return 0;
}

void ds__store_reset(sqlite3_stmt *s)
{
    if (s != NULL) {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    }
}

int ds__store_run(struct ds_store *st, sqlite3_stmt *s, const char *what)
{
    int src = sqlite3_step(s);

    if (src != SQLITE_DONE && src != SQLITE_ROW) {
        return ds__store_fail(st, src, what);
    }
    return 0;
}

int ds__store_bind_text(sqlite3_stmt *s, int i, const char *text)
{
    if (text == NULL) {
        return sqlite3_bind_null(s, i);
    }
    return sqlite3_bind_text(s, i, text, -1, SQLITE_STATIC);
}

int ds__store_copy(char *dst, size_t size, const char *src)
{
    size_t n = src != NULL ? strlen(src) : 0;

    if (n >= size) {
        return DS_ETOOBIG;
    }
    if (n > 0) {
        memcpy(dst, src, n);
    }
    dst[n] = '\0';
    return 0;
}

/* Runs constant SQL (transaction control, pragmas without a value). */
static int store_exec(struct ds_store *st, const char *sql, const char *what)
{
    int src = sqlite3_exec(st->db, sql, NULL, NULL, NULL);

    if (src != SQLITE_OK) {
        return ds__store_fail(st, src, what);
    }
    return 0;
}

/* ---- transactions ------------------------------------------------------- */

int ds__store_begin(struct ds_store *st)
{
    if (st->user_tx) {
        return store_exec(st, "SAVEPOINT ds_change", "savepoint");
    }
    return store_exec(st, "BEGIN IMMEDIATE", "begin");
}

int ds__store_commit(struct ds_store *st)
{
    int rc;

    if (st->user_tx) {
        return store_exec(st, "RELEASE ds_change", "release");
    }
    rc = store_exec(st, "COMMIT", "commit");
    if (rc != 0) {
        ds__store_rollback(st);
    }
    return rc;
}

void ds__store_rollback(struct ds_store *st)
{
    if (st->user_tx) {
        sqlite3_exec(st->db, "ROLLBACK TO ds_change; RELEASE ds_change", NULL, NULL, NULL);
    }
    else if (!sqlite3_get_autocommit(st->db)) {
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    }
    /* A job this connection saw staging may be gone with the rollback. */
    st->staging_job[0] = '\0';
}

/*
 * The caller's transactions hold the items of a staging job, which need not
 * reach the disk before the commit returns: a crash or a power cut that
 * undoes them leaves the job in `staging`, and ds_store_recover deletes it
 * and ingests the file again. So they commit under synchronous=NORMAL
 * (SQLite refuses to change it inside a transaction, hence here): in WAL
 * mode such a commit is atomic, only not yet durable. The WAL is one
 * sequential log, so the next durable commit on any connection
 * (ds_store_job_staged's, say) makes everything before it durable too.
 * A state change made inside the caller's transaction shares that fate;
 * nothing irreversible follows one before the next durable commit.
 */
int ds_store_tx_begin(struct ds_store *st)
{
    int rc;

    if (st == NULL) {
        return DS_EINVAL;
    }
    if (st->user_tx || !sqlite3_get_autocommit(st->db)) {
        ds_log_error("STORE_STATE", "store: a transaction is already open");
        return DS_EINVAL;
    }
    rc = store_exec(st, "PRAGMA synchronous = NORMAL", "synchronous");
    if (rc == 0) {
        rc = store_exec(st, "BEGIN IMMEDIATE", "begin");
    }
    if (rc != 0) {
        store_exec(st, "PRAGMA synchronous = FULL", "synchronous");
        return rc;
    }
    st->user_tx = 1;
    return 0;
}

/* Ends the caller's transaction and restores durable commits. */
static int store_tx_end(struct ds_store *st, const char *sql)
{
    int rc = 0;

    if (!sqlite3_get_autocommit(st->db)) {
        rc = store_exec(st, sql, sql);
    }
    if (rc != 0 && !sqlite3_get_autocommit(st->db)) {
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    }
    if (rc != 0 || strcmp(sql, "ROLLBACK") == 0) {
        st->staging_job[0] = '\0';
    }
    st->user_tx = 0;
    store_exec(st, "PRAGMA synchronous = FULL", "synchronous");
    return rc;
}

int ds_store_tx_commit(struct ds_store *st)
{
    if (st == NULL || !st->user_tx) {
        return DS_EINVAL;
    }
    return store_tx_end(st, "COMMIT");
}

int ds_store_tx_rollback(struct ds_store *st)
{
    if (st == NULL || !st->user_tx) {
        return DS_EINVAL;
    }
    return store_tx_end(st, "ROLLBACK");
}

/* ---- opening ------------------------------------------------------------ */

/* Creates the file 0640 before SQLite touches it, so patient data is never
 * readable by others, whatever the umask: the owner (the service user)
 * writes, its group (dentsync) may read — `status`, `jobs`, `job` and
 * `events` without root. The state directory (0750) is the gate: nobody
 * outside the group reaches the file. SQLite gives the -wal and -shm files
 * the same mode and owner. An existing file with any other mode (open to
 * others, or writable by the group) is set to 0640.
 *
 * An existing file is never opened here: closing any descriptor of a file
 * drops every POSIX lock this process holds on it, so an open() + close()
 * while another connection of the agent (the loop's, while ingest opens its
 * own) has the queue open would silently release that connection's SQLite
 * locks — and another process could then checkpoint and delete the WAL
 * under it. Only a file this call creates (O_EXCL) is opened and closed. */
/* A -wal or -shm left by an older dentsync (0600) gets the queue's mode:
 * SQLite sets it only on files it creates. chmod(2) opens nothing. */
static void store_side_files_mode(const char *path)
{
    static const char *const suffix[] = {"-wal", "-shm"};
    char side[4200];

    for (int i = 0; i < 2; i++) {
        snprintf(side, sizeof(side), "%s%s", path, suffix[i]);
        ds_os_share_file(side);
    }
}

static int store_create_file(const char *path, struct ds_error *err)
{
    int why = DS_FSAFE_OK;

    if (ds_os_create_shared(path, &why) != 0) {
        if (why == DS_FSAFE_LINK) {
            return ds_error_set(err, DS_EIO, "%s: cannot open: a symbolic link", path);
        }
        if (why == DS_FSAFE_NOT_FILE) {
            return ds_error_set(err, DS_EINVAL, "%s: not a regular file", path);
        }
        return ds_error_set(err, DS_EIO, "%s: cannot create it 0640: %s", path, strerror(errno));
    }
    store_side_files_mode(path);
    return 0;
}

int ds__store_pragma(struct ds_store *st, const char *sql, sqlite3_stmt **out)
{
    int src = sqlite3_prepare_v2(st->db, sql, -1, out, NULL);

    if (src == SQLITE_OK) {
        src = sqlite3_step(*out);
    }
    return src;
}

int ds__store_pragma_int(struct ds_store *st, const char *sql, int *value)
{
    sqlite3_stmt *s = NULL;
    int src = ds__store_pragma(st, sql, &s);

    if (src == SQLITE_ROW) {
        *value = sqlite3_column_int(s, 0);
    }
    sqlite3_finalize(s);
    return src;
}

static int store_pragma_int(struct ds_store *st, const char *sql, int *value)
{
    int src = ds__store_pragma_int(st, sql, value);

    return src == SQLITE_ROW ? 0 : store_map_rc(src);
}

static int store_migrations_known(void)
{
    int n = 0;

    while (ds_store_migrations[n] != NULL) {
        n++;
    }
    return n;
}

/* Applies the migrations the database lacks, each in its own transaction
 * that re-reads the version under the write lock, so two connections opening
 * at once apply each migration once. */
static int store_migrate(struct ds_store *st, struct ds_error *err)
{
    int known = store_migrations_known();
    char sql[96];
    int version = 0;
    int appid = 0;
    int tables = 0;
    int in_tx = 0;
    int rc = 0;

    for (;;) {
        rc = store_exec(st, "BEGIN IMMEDIATE", "begin");
        if (rc != 0) {
            ds_error_set(err, rc, "%s: cannot lock the database: %s", st->path,
                         sqlite3_errmsg(st->db));
            goto out;
        }
        in_tx = 1;
        rc = store_pragma_int(st, "PRAGMA user_version", &version);
        if (rc == 0) {
            rc = store_pragma_int(st, "PRAGMA application_id", &appid);
        }
        if (rc == 0) {
            rc = store_pragma_int(st, "SELECT count(*) FROM sqlite_schema", &tables);
        }
        if (rc != 0) {
            ds_error_set(err, rc, "%s: cannot read the schema version: %s", st->path,
                         sqlite3_errmsg(st->db));
            goto out;
        }
        if (appid != STORE_APPLICATION_ID && (appid != 0 || version != 0 || tables != 0)) {
            rc = ds_error_set(err, DS_ECORRUPT,
                              "%s: an SQLite database that is not dentsync's queue; "
                              "refusing to touch it",
                              st->path);
            goto out;
        }
        if (version > known) {
            rc = ds_error_set(err, DS_ECORRUPT,
                              "%s: schema version %d is newer than this dentsync knows (%d); "
                              "run the dentsync that wrote it, or a newer one",
                              st->path, version, known);
            goto out;
        }
        if (version == known) {
            break;
        }
        ds_log_info("STORE_MIGRATION", "store: applying migration %s",
                    ds_store_migrations_names[version]);
        rc = store_exec(st, ds_store_migrations[version], "migrate");
        if (rc != 0) {
            ds_error_set(err, rc, "%s: migration %s failed: %s", st->path,
                         ds_store_migrations_names[version], sqlite3_errmsg(st->db));
            goto out;
        }
        /* PRAGMA takes no bound parameter: the integers are our own. */
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %d; PRAGMA application_id = %d",
                 version + 1, STORE_APPLICATION_ID);
        rc = store_exec(st, sql, "user_version");
        if (rc == 0) {
            rc = store_exec(st, "COMMIT", "commit");
        }
        if (rc != 0) {
            ds_error_set(err, rc, "%s: cannot record migration %s: %s", st->path,
                         ds_store_migrations_names[version], sqlite3_errmsg(st->db));
            goto out;
        }
        in_tx = 0;
    }
    rc = store_exec(st, "COMMIT", "commit");
    if (rc == 0) {
        in_tx = 0;
        st->version = version;
    }
out:
    if (in_tx) {
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    }
    return rc;
}

/* The connection's settings. journal_mode is the first statement that reads
 * the file, so a file that is not a database shows here. */
static int store_configure(struct ds_store *st, struct ds_error *err)
{
    sqlite3_stmt *s = NULL;
    const char *mode;
    char sql[64];
    int src;
    int rc = 0;

    sqlite3_busy_timeout(st->db, STORE_BUSY_MS);
    /* Only a database without a page yet takes it: before WAL mode is set,
     * which writes the first page. It reads nothing. */
    snprintf(sql, sizeof(sql), "PRAGMA page_size = %d", STORE_PAGE_SIZE);
    rc = store_exec(st, sql, "pragma");
    if (rc != 0) {
        ds_error_set(err, rc, "%s: cannot configure the connection: %s", st->path,
                     sqlite3_errmsg(st->db));
        goto out;
    }
    src = ds__store_pragma(st, "PRAGMA journal_mode = WAL", &s);
    if (src != SQLITE_ROW) {
        rc = store_map_rc(src);
        if (rc == DS_ECORRUPT) {
            ds_error_set(err, rc, "%s: not a dentsync queue (%s); refusing to touch it", st->path,
                         sqlite3_errmsg(st->db));
        }
        else {
            ds_error_set(err, rc, "%s: cannot set WAL mode: %s", st->path, sqlite3_errmsg(st->db));
        }
        goto out;
    }
    mode = (const char *)sqlite3_column_text(s, 0);
    if (mode == NULL || strcmp(mode, "wal") != 0) {
        /* Still correct, only slower: readers and the writer take turns. */
        ds_log_warn("STORE_NO_WAL", "store: %s: the file system refused WAL mode (%s)", st->path,
                    mode != NULL ? mode : "?");
    }
    snprintf(sql, sizeof(sql), "PRAGMA cache_size = -%d", STORE_CACHE_KIB);
    rc = store_exec(st, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON", "pragma");
    if (rc == 0) {
        rc = store_exec(st, sql, "pragma");
    }
    if (rc != 0) {
        ds_error_set(err, rc, "%s: cannot configure the connection: %s", st->path,
                     sqlite3_errmsg(st->db));
    }
out:
    sqlite3_finalize(s);
    return rc;
}

/*
 * Freed pages go back to the file system only with auto_vacuum =
 * INCREMENTAL (ds_store_vacuum runs PRAGMA incremental_vacuum). The mode of
 * a database that has tables changes only through a VACUUM, which cannot run
 * inside a transaction, so not inside a migration: it runs here, once, on a
 * database created before migration 0003 (or just created). A VACUUM that
 * fails (the disk full: it needs room for a copy) is not fatal: the queue
 * works without, and the next start tries again.
 */
static void store_auto_vacuum(struct ds_store *st)
{
    int mode = 0;

    if (store_pragma_int(st, "PRAGMA auto_vacuum", &mode) != 0 || mode == 2) {
        return;
    }
    ds_log_info("STORE_VACUUM", "store: %s: switching to incremental auto-vacuum (one VACUUM)",
                st->path);
    if (sqlite3_exec(st->db, "PRAGMA auto_vacuum = INCREMENTAL; VACUUM", NULL, NULL, NULL) !=
        SQLITE_OK) {
        ds_log_warn("STORE_VACUUM",
                    "store: %s: VACUUM failed (%s); freed space stays in the file for now",
                    st->path, sqlite3_errmsg(st->db));
    }
}

int ds_store_open(const char *path, struct ds_store **out, struct ds_error *err)
{
    struct ds_store *st = NULL;
    int persist_wal = 1;
    int src;
    int rc = 0;

    if (path == NULL || out == NULL) {
        return ds_error_set(err, DS_EINVAL, "no database path");
    }
    *out = NULL;
    st = ds_calloc(1, sizeof(*st));
    if (st == NULL) {
        rc = ds_error_set(err, DS_ENOMEM, "out of memory");
        goto out;
    }
    snprintf(st->path, sizeof(st->path), "%s", path);
    st->sha = ds_sha256_new();
    if (st->sha == NULL) {
        rc = ds_error_set(err, DS_ENOMEM, "out of memory");
        goto out;
    }
    rc = store_create_file(path, err);
    if (rc != 0) {
        goto out;
    }
    /* Each connection is used by one thread at a time (NOMUTEX). No CREATE:
     * the file exists now, and a missing one must not be made silently. */
    src = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (src != SQLITE_OK) {
        rc = ds_error_set(err, store_map_rc(src), "%s: cannot open: %s", path,
                          st->db != NULL ? sqlite3_errmsg(st->db) : sqlite3_errstr(src));
        goto out;
    }
    sqlite3_extended_result_codes(st->db, 1);
    if (sqlite3_db_readonly(st->db, "main") == 1) {
        /* SQLite falls back to reading a file this user may not write (a
         * member of the dentsync group): say so instead of failing later. */
        rc = ds_error_set(err, DS_EIO,
                          "%s: not writable by this user (run as root or the service user)", path);
        goto out;
    }
    /* Keep queue.db-wal and -shm when the last connection closes: a
     * reader of the group cannot create them (the directory is not its to
     * write), and SQLite reads a WAL database only where they exist. */
    sqlite3_file_control(st->db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist_wal);
    rc = store_configure(st, err);
    if (rc != 0) {
        goto out;
    }
    rc = store_migrate(st, err);
    if (rc != 0) {
        goto out;
    }
    store_auto_vacuum(st);
    *out = st;
    st = NULL;
out:
    ds_store_close(&st);
    return rc;
}

void ds_store_close(struct ds_store **st)
{
    struct ds_store *s;

    if (st == NULL || *st == NULL) {
        return;
    }
    s = *st;
    for (int i = 0; i < DS__Q_COUNT; i++) {
        sqlite3_finalize(s->stmt[i]);
    }
    if (s->db != NULL && !sqlite3_get_autocommit(s->db)) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    }
    sqlite3_close(s->db);
    ds_sha256_free(&s->sha);
    ds__store_staged_keys_free(s);
    ds_free(s);
    *st = NULL;
}

int ds_store_schema_version(struct ds_store *st)
{
    return st != NULL ? st->version : 0;
}

int ds_store_check(struct ds_store *st, struct ds_error *err)
{
    sqlite3_stmt *s = NULL;
    const char *what = NULL;
    int src;
    int rc = 0;

    if (st == NULL) {
        return DS_EINVAL;
    }
    /* The first problem found is enough to refuse. */
    src = ds__store_pragma(st, "PRAGMA quick_check(1)", &s);
    if (src == SQLITE_ROW) {
        what = (const char *)sqlite3_column_text(s, 0);
        if (what != NULL && strcmp(what, "ok") != 0) {
            rc = ds_error_set(err, DS_ECORRUPT,
                              "%s: the queue is damaged (%.200s); refusing to run on it "
                              "(docs/operations.md, \"A damaged queue\")",
                              st->path, what);
        }
    }
    else {
        rc = store_map_rc(src);
        ds_error_set(err, rc,
                     "%s: the queue cannot be checked (%s); refusing to run on it "
                     "(docs/operations.md, \"A damaged queue\")",
                     st->path, sqlite3_errmsg(st->db));
    }
    sqlite3_finalize(s);
    return rc;
}

/* ---- the audit log ------------------------------------------------------ */

int ds__store_event(struct ds_store *st, const char *kind, int64_t file_id, const char *job_id,
                    long seq, const char *code, const char *detail)
{
    return ds__store_exec(st, DS__Q_EVENT,
                          "INSERT INTO events (at, kind, file_id, job_id, seq, code, detail) "
                          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                          "event", "dtItLtt", ds__store_now(), kind, file_id, job_id, seq, code,
                          detail);
}

int ds_store_event(struct ds_store *st, const char *kind, int64_t file_id, const char *job_id,
                   long seq, const char *code, const char *detail)
{
    if (st == NULL || kind == NULL) {
        return DS_EINVAL;
    }
    return ds__store_event(st, kind, file_id, job_id, seq, code, detail);
}

/* ---- rows shared by several transitions ---------------------------------- */

int ds__store_file_set_state(struct ds_store *st, int64_t file_id, const char *from, const char *to,
                             int *changed)
{
    int rc =
        ds__store_exec(st, DS__Q_FILE_SET_STATE,
                       "UPDATE files SET state = ?2, updated_at = ?3 WHERE id = ?1 AND state = ?4",
                       "file state", "itdt", file_id, to, ds__store_now(), from);

    if (rc == 0 && changed != NULL) {
        *changed = sqlite3_changes(st->db);
    }
    return rc;
}

int ds__store_job_state(struct ds_store *st, const char *job_id, char state[24], int64_t *file_id)
{
    return ds__store_row(st, DS__Q_JOB_STATE, "SELECT state, file_id FROM jobs WHERE id = ?1",
                         "job state", "t", "ti", job_id, state, (size_t)24, file_id);
}

int ds__store_job_in(struct ds_store *st, const char *job_id, const char *want, int64_t *file_id,
                     const char *why)
{
    char state[24];
    int rc;

    rc = ds__store_job_state(st, job_id, state, file_id);
    if (rc == 0 && strcmp(state, want) != 0) {
        ds_log_error("STORE_STATE", "store: job %s is %s%s", job_id, state, why);
        rc = DS_EINVAL;
    }
    return rc;
}

int ds__store_batch_move(struct ds_store *st, const struct ds__store_sql move[2],
                         const char *job_id, long seq, long first_row, long last_row)
{
    int rc;

    rc = ds__store_exec(st, move[0].q, move[0].sql, move[0].what, "tld", job_id, seq,
                        ds__store_now());
    if (rc == 0) {
        rc = ds__store_exec(st, move[1].q, move[1].sql, move[1].what, "tll", job_id, first_row,
                            last_row);
    }
    return rc;
}

int ds__store_job_delete(struct ds_store *st, const char *job_id)
{
    static const struct {
        enum ds__store_q q;
        const char *sql;
    } steps[] = {
        {DS__Q_JOB_DELETE_ITEMS, "DELETE FROM items WHERE job_id = ?1"},
        {DS__Q_JOB_DELETE_BATCHES, "DELETE FROM batches WHERE job_id = ?1"},
        {DS__Q_JOB_DELETE, "DELETE FROM jobs WHERE id = ?1"},
    };
    int rc;

    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        rc = ds__store_exec(st, steps[i].q, steps[i].sql, "delete job", "t", job_id);
        if (rc != 0) {
            return rc;
        }
    }
    if (strcmp(st->staging_job, job_id) == 0) {
        st->staging_job[0] = '\0';
    }
    return 0;
}

/* ---- start-up recovery -------------------------------------------------- */

/* What start-up recovery reads of a row, and how many rows it mended. */
struct recovery {
    char job_id[DS_UUID_LEN];
    int64_t file_id;
    long seq;
    int count;
};

/* A job left in `staging` by a crash goes, its file back to `detected`. */
static int recover_staging(struct ds_store *st, void *ctx)
{
    struct recovery *r = ctx;
    int rc;

    rc = ds__store_job_delete(st, r->job_id);
    if (rc == 0) {
        rc = ds__store_file_set_state(st, r->file_id, "staging", "detected", NULL);
    }
    rc = ds__store_then_event(st, rc, "job_restaged", r->file_id, r->job_id, 0, NULL,
                              "staging cut short; the file is ingested again");
    r->count += rc == 0;
    return rc;
}

/* A batch left `in_flight` goes back to `pending`: the cloud replays a batch
 * it has seen, so sending it again is safe. */
static int recover_in_flight(struct ds_store *st, void *ctx)
{
    struct recovery *r = ctx;
    int rc;

    rc = ds__store_exec(st, DS__Q_BATCH_REQUEUE,
                        "UPDATE batches SET state = 'pending', updated_at = ?3 "
                        "WHERE job_id = ?1 AND seq = ?2",
                        "requeue batch", "tld", r->job_id, r->seq, ds__store_now());
    rc = ds__store_then_event(st, rc, "batch_requeued", 0, r->job_id, r->seq, NULL,
                              "in flight at a restart; sent again");
    r->count += rc == 0;
    return rc;
}

int ds_store_recover(struct ds_store *st, int *restaged, int *requeued)
{
    struct recovery staging = {0};
    struct recovery in_flight = {0};
    int rc;

    rc = ds__store_change(st, st != NULL);
    if (rc != 0) {
        return rc;
    }
    /* One row a query, the select reset before the row is mended. */
    rc = ds__store_each(st, DS__Q_JOBS_STAGING,
                        "SELECT id, file_id FROM jobs WHERE state = 'staging' LIMIT 1", "recover",
                        recover_staging, &staging, "", "ti", staging.job_id, sizeof(staging.job_id),
                        &staging.file_id);
    if (rc == 0) {
        rc = ds__store_each(st, DS__Q_BATCHES_IN_FLIGHT,
                            "SELECT job_id, seq FROM batches WHERE state = 'in_flight' LIMIT 1",
                            "recover", recover_in_flight, &in_flight, "", "tl", in_flight.job_id,
                            sizeof(in_flight.job_id), &in_flight.seq);
    }
    rc = ds__store_end(st, rc);
    if (rc != 0) {
        return rc;
    }
    if (staging.count > 0 || in_flight.count > 0) {
        ds_log_info("RECOVERY",
                    "store: recovered %d job(s) cut short while staging, %d batch(es) in flight",
                    staging.count, in_flight.count);
    }
    if (restaged != NULL) {
        *restaged = staging.count;
    }
    if (requeued != NULL) {
        *requeued = in_flight.count;
    }
    return 0;
}
