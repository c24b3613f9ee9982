/*
 * test_store_admin.c — the queue's admin side (state/store_admin.c): held
 * files and their retry, the retry of rejected batches, the retry
 * generation, the disk budget, retention (purge) and the incremental
 * vacuum.
 *
 * Each test gets a fresh database in its own temporary directory. SQLite is
 * read directly only to see what the interface does not show (record and
 * raw after a purge, the auto_vacuum mode, events).
 */
#include "state/store_admin.h"
#include "state/store_ingest.h"
#include "state/store_upload.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "tests/unit/store_fixture.h"

#include <dirent.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define JOB_A "0b7c6a3e-3f0e-4c1e-9a55-1b2c3d4e5f60"
#define JOB_B "1c8d7b4f-4a1f-4d2f-8b66-2c3d4e5f6071"
#define SHA_X "aaaa000000000000000000000000000000000000000000000000000000000001"
#define SHA_Y "bbbb000000000000000000000000000000000000000000000000000000000002"
#define SHA_Z "cccc000000000000000000000000000000000000000000000000000000000003"
#define DAY 86400.0

static int setup(void **state)
{
    return store_setup(state, "test_store_admin");
}

static int teardown(void **state)
{
    return store_teardown(state);
}

/* ---- helpers ------------------------------------------------------------ */

static void db_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;

    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static void file_state_is(struct ds_store *st, int64_t id, const char *want)
{
    char state[16];

    assert_int_equal(ds_store_file_state(st, id, state, sizeof(state)), 0);
    assert_string_equal(state, want);
}

static int64_t add_file(struct ds_store *st, const char *path, const char *sha)
{
    int64_t id = 0;
    int dup = -1;

    assert_int_equal(ds_store_file_add(st, "inbox", path, 100, 42, sha, &id, &dup), 0);
    assert_int_equal(dup, 0);
    return id;
}

/* A staged job on a new file: rows 1..n, valid but every fifth row
 * invalid, each with a record and raw of `pad` bytes. */
static int64_t staged_job(struct ds_store *st, const char *job_id, const char *sha, int n,
                          int batch_rows, size_t pad)
{
    int64_t file_id = add_file(st, job_id, sha);
    char *record = malloc(pad + 16);
    char key[16];
    char fp[16];

    assert_non_null(record);
    snprintf(record, pad + 16, "{\"x\":\"%0*d\"}", (int)pad, 0);
    assert_int_equal(ds_store_job_begin(st, file_id, job_id, "smile", "patients", "generic",
                                        "patients.csv", sha),
                     0);
    assert_int_equal(ds_store_tx_begin(st), 0);
    for (int i = 1; i <= n; i++) {
        snprintf(key, sizeof(key), "ext:%d", i);
        snprintf(fp, sizeof(fp), "fp%d", i);
        assert_int_equal(ds_store_item_add(st, job_id, i, key, fp,
                                           i % 5 == 0 ? DS_ITEM_INVALID : DS_ITEM_VALID, record,
                                           record, i % 5 == 0 ? "bad" : NULL, NULL),
                         0);
    }
    assert_int_equal(ds_store_tx_commit(st), 0);
    assert_int_equal(ds_store_job_staged(st, job_id, n, batch_rows), 0);
    free(record);
    return file_id;
}

/* Sends and acknowledges every batch of a job, all rows created, then
 * completes it. */
static void deliver_all(struct ds_store *st, const char *job_id)
{
    struct ds_item_result res[64];
    char digest[DS_SHA256_HEX];
    long seq = 0;

    for (;;) {
        int r = ds_store_batch_next(st, job_id, 1e12, NULL, NULL, &seq, NULL);

        assert_true(r >= 0);
        if (r == 0) {
            break;
        }
        assert_int_equal(ds_store_batch_send(st, job_id, seq, NULL, NULL, digest, NULL), 0);
        assert_int_equal(ds_store_batch_acked(st, job_id, seq, res, 0), 0);
    }
    assert_int_equal(ds_store_job_opened(st, job_id), 0);
    assert_int_equal(ds_store_job_completed(st, job_id), 0);
}

/* ---- held files ----------------------------------------------------------- */

static void test_hold_and_retry(void **state)
{
    struct fixture *f = *state;
    int64_t gen0 = -1;
    int64_t gen = -1;
    int64_t id;
    int64_t found = 0;
    char fstate[16];
    int retries = -1;

    assert_int_equal(ds_store_retry_generation(f->st, &gen0), 0);
    id = add_file(f->st, "/in/a.csv", SHA_X);
    assert_int_equal(ds_store_file_held(f->st, id), 0);
    assert_int_equal(ds_store_file_hold(f->st, id, DS_HOLD_NO_TEMPLATE, "no template matched"), 0);
    file_state_is(f->st, id, "held");
    assert_int_equal(ds_store_file_held(f->st, id), 1);
    /* Held is not final, and not a reason to ingest the same bytes twice. */
    {
        int64_t other = 0;
        int dup = 0;

        assert_int_equal(
            ds_store_file_add(f->st, "inbox", "/in/a2.csv", 100, 43, SHA_X, &other, &dup), 0);
        assert_int_equal(dup, 1);
    }
    /* The held file itself settling again, only its mtime changed, is that
     * file: no new row, no event, the row known at the new mtime. */
    {
        int64_t again = 0;
        int dup = -1;
        long events = db_long(f->path, "SELECT count(*) FROM events");

        assert_int_equal(ds_store_file_known(f->st, "inbox", "/in/a.csv", 100, 77), 0);
        assert_int_equal(
            ds_store_file_add(f->st, "inbox", "/in/a.csv", 100, 77, SHA_X, &again, &dup), 0);
        assert_true(again == id);
        assert_int_equal(dup, 0);
        assert_int_equal(ds_store_file_known(f->st, "inbox", "/in/a.csv", 100, 77), 1);
        assert_int_equal(db_long(f->path, "SELECT count(*) FROM files WHERE path = '/in/a.csv'"),
                         1);
        assert_int_equal(db_long(f->path, "SELECT count(*) FROM events"), events);
        file_state_is(f->st, id, "held");
    }
    /* Holding twice, or a job on a held file, is refused. */
    assert_int_equal(ds_store_file_hold(f->st, id, DS_HOLD_NO_TEMPLATE, NULL), DS_EINVAL);
    assert_int_equal(
        ds_store_job_begin(f->st, id, JOB_A, "smile", "patients", "generic", "a.csv", SHA_X),
        DS_EINVAL);
    assert_int_equal(ds_store_file_find(f->st, "/in/a.csv", &found, fstate, sizeof(fstate)), 0);
    assert_true(found == id);
    assert_string_equal(fstate, "held");
    assert_int_equal(ds_store_file_find(f->st, "/in/none.csv", &found, NULL, 0), DS_ENOTFOUND);

    assert_int_equal(ds_store_file_retry(f->st, id), 0);
    file_state_is(f->st, id, "detected");
    assert_int_equal(ds_store_file_admin_retries(f->st, id, &retries), 0);
    assert_int_equal(retries, 1);
    assert_int_equal(ds_store_retry_generation(f->st, &gen), 0);
    assert_true(gen == gen0 + 1);
    assert_int_equal(db_long(f->path, "SELECT count(*) FROM files WHERE reason_code IS NOT NULL "
                                      "AND id = 1"),
                     0);
    /* Not held any more: nothing to retry. */
    assert_int_equal(ds_store_file_retry(f->st, id), DS_EINVAL);
    assert_int_equal(ds_store_file_retry(f->st, 999), DS_ENOTFOUND);
    assert_int_equal(
        db_long(f->path, "SELECT count(*) FROM events WHERE kind IN ('file_held', 'file_retried')"),
        2);
}

static void test_hold_while_staging_drops_the_job(void **state)
{
    struct fixture *f = *state;
    int64_t id = add_file(f->st, "/in/b.csv", SHA_Y);

    assert_int_equal(
        ds_store_job_begin(f->st, id, JOB_A, "smile", "patients", "generic", "b.csv", SHA_Y), 0);
    assert_int_equal(
        ds_store_item_add(f->st, JOB_A, 1, "ext:1", "fp", DS_ITEM_VALID, "{}", NULL, NULL, NULL),
        0);
    assert_int_equal(ds_store_file_hold(f->st, id, DS_HOLD_SNAPSHOT, "92% of keys missing"), 0);
    file_state_is(f->st, id, "held");
    assert_int_equal(db_long(f->path, "SELECT count(*) FROM jobs"), 0);
    assert_int_equal(db_long(f->path, "SELECT count(*) FROM items"), 0);
    /* A staged file is past holding. */
    assert_int_equal(ds_store_file_retry(f->st, id), 0);
    staged_job(f->st, JOB_B, SHA_Z, 3, 2, 1);
    assert_int_equal(ds_store_file_hold(f->st, 2, DS_HOLD_SNAPSHOT, NULL), DS_EINVAL);
}

/* An ingest cut short by a full disk: its staging jobs go, the file is
 * detected again and can be staged anew; other files are left alone. */
static void test_unstage(void **state)
{
    struct fixture *f = *state;
    int64_t id = add_file(f->st, "/in/c.csv", SHA_Y);

    assert_int_equal(
        ds_store_job_begin(f->st, id, JOB_A, "smile", "patients", "generic", "c.csv", SHA_Y), 0);
    assert_int_equal(
        ds_store_item_add(f->st, JOB_A, 1, "ext:1", "fp", DS_ITEM_VALID, "{}", NULL, NULL, NULL),
        0);
    /* A routed file has a staging job per import type: all of them go. */
    assert_int_equal(ds_store_job_begin_routed(f->st, JOB_A, JOB_B, "financial", "ledger"), 0);
    assert_int_equal(
        ds_store_item_add(f->st, JOB_B, 2, "ext:2", "fp", DS_ITEM_VALID, "{}", NULL, NULL, NULL),
        0);
    file_state_is(f->st, id, "staging");
    assert_int_equal(ds_store_file_unstage(f->st, id), 0);
    file_state_is(f->st, id, "detected");
    assert_int_equal(db_long(f->path, "SELECT count(*) FROM jobs"), 0);
    assert_int_equal(db_long(f->path, "SELECT count(*) FROM items"), 0);
    /* Twice is harmless; then it stages again from the start. */
    assert_int_equal(ds_store_file_unstage(f->st, id), 0);
    file_state_is(f->st, id, "detected");
    assert_int_equal(
        ds_store_job_begin(f->st, id, JOB_B, "smile", "patients", "generic", "c.csv", SHA_Y), 0);
    file_state_is(f->st, id, "staging");
    /* A staged file keeps its job and its state. */
    id = staged_job(f->st, JOB_A, SHA_Z, 3, 2, 1);
    assert_int_equal(ds_store_file_unstage(f->st, id), 0);
    assert_int_equal(db_long(f->path, "SELECT count(*) FROM jobs WHERE id = '" JOB_A "'"), 1);
    assert_int_equal(db_long(f->path, "SELECT count(*) FROM items WHERE job_id = '" JOB_A "'"), 3);
    assert_int_equal(ds_store_file_held(f->st, id), 0);
}

/* ---- rejected batches --------------------------------------------------------- */

static void test_retry_rejected_batches(void **state)
{
    struct fixture *f = *state;
    struct ds_batch_counts c;
    char digest[DS_SHA256_HEX];
    int64_t gen0 = 0;
    int64_t gen = 0;
    long n = -1;
    long done = -1;

    staged_job(f->st, JOB_A, SHA_X, 8, 2, 1); /* rows 5 invalid: batches 1-2 3-4 6-7 8 */
    assert_int_equal(ds_store_job_opened(f->st, JOB_A), 0);
    assert_int_equal(ds_store_batch_send(f->st, JOB_A, 2, NULL, NULL, digest, NULL), 0);
    assert_int_equal(ds_store_batch_rejected(f->st, JOB_A, 2, "VALIDATION", "bad batch"), 0);
    assert_int_equal(ds_store_batch_rejected(f->st, JOB_A, 3, "VALIDATION", "bad batch"), 0);
    assert_int_equal(
        db_long(f->path, "SELECT count(*) FROM items WHERE status = 'rejected' AND outbound = 1"),
        4);
    assert_int_equal(ds_store_retry_generation(f->st, &gen0), 0);

    assert_int_equal(ds_store_batches_retry_rejected(f->st, JOB_A, &n, &done), 0);
    assert_int_equal(n, 2);
    assert_int_equal(done, 0);
    assert_int_equal(ds_store_job_batch_counts(f->st, JOB_A, &c), 0);
    assert_int_equal(c.pending, 4);
    assert_int_equal(c.rejected, 0);
    assert_int_equal(db_long(f->path, "SELECT count(*) FROM items WHERE status = 'rejected'"), 0);
    assert_int_equal(db_long(f->path, "SELECT count(*) FROM items WHERE status = 'valid' AND "
                                      "error_code IS NULL AND outbound = 1"),
                     7);
    assert_int_equal(ds_store_retry_generation(f->st, &gen), 0);
    assert_true(gen == gen0 + 1);
    /* The same digest on the replay: the batch is unchanged. */
    assert_int_equal(ds_store_batch_send(f->st, JOB_A, 2, NULL, NULL, digest, NULL), 0);

    /* Nothing rejected: nothing to do, and no generation. */
    assert_int_equal(ds_store_batches_retry_rejected(f->st, NULL, &n, &done), 0);
    assert_int_equal(n, 0);
    assert_int_equal(ds_store_retry_generation(f->st, &gen0), 0);
    assert_true(gen0 == gen);
    assert_int_equal(ds_store_batches_retry_rejected(f->st, JOB_B, &n, NULL), DS_ENOTFOUND);

    /* A completed job's rejected batch stays: the cloud takes no batch on it. */
    assert_int_equal(ds_store_batch_rejected(f->st, JOB_A, 2, "VALIDATION", "bad again"), 0);
    for (long seq = 1; seq <= 4; seq++) {
        if (seq != 2) {
            assert_int_equal(ds_store_batch_send(f->st, JOB_A, seq, NULL, NULL, digest, NULL), 0);
            assert_int_equal(ds_store_batch_acked(f->st, JOB_A, seq, NULL, 0), 0);
        }
    }
    assert_int_equal(ds_store_job_completed(f->st, JOB_A), 0);
    assert_int_equal(ds_store_batches_retry_rejected(f->st, NULL, &n, &done), 0);
    assert_int_equal(n, 0);
    assert_int_equal(done, 1);
}

/* ---- disk budget ------------------------------------------------------------ */

static void test_disk_budget(void **state)
{
    struct fixture *f = *state;
    int64_t used = 0;
    int64_t id;
    int64_t gen0 = 0;
    int64_t gen = 0;
    long purged = -1;

    assert_int_equal(ds_store_size(f->st, &used), 0);
    assert_true(used > 0);
    staged_job(f->st, JOB_A, SHA_X, 40, 8, 4000);
    assert_int_equal(ds_store_size(f->st, &used), 0);
    assert_true(used > 40 * 4000);

    /* Over the budget: a new file is held. */
    assert_int_equal(ds_store_set_budget(f->st, used / 2), 0);
    assert_int_equal(ds_store_set_budget(f->st, -1), DS_EINVAL);
    id = add_file(f->st, "/in/c.csv", SHA_Y);
    file_state_is(f->st, id, "held");
    assert_int_equal(
        db_long(f->path, "SELECT count(*) FROM files WHERE reason_code = 'DISK_BUDGET'"), 1);

    /* Still over after a purge that strips nothing: it stays held. */
    assert_int_equal(ds_store_purge(f->st, 1.0e9, 30, &purged), 0);
    file_state_is(f->st, id, "held");

    /* Delivered and purged: the queue shrinks under the budget, the file
     * goes back to `detected` and the generation says so. */
    deliver_all(f->st, JOB_A);
    assert_int_equal(ds_store_retry_generation(f->st, &gen0), 0);
    assert_int_equal(ds_store_purge(f->st, 1e12, 0, &purged), 0);
    assert_int_equal(purged, 40);
    file_state_is(f->st, id, "detected");
    assert_int_equal(ds_store_retry_generation(f->st, &gen), 0);
    assert_true(gen == gen0 + 1);

    /* Without a budget nothing is held. */
    assert_int_equal(ds_store_set_budget(f->st, 0), 0);
    id = add_file(f->st, "/in/d.csv", SHA_Z);
    file_state_is(f->st, id, "detected");
}

/* ---- retention ---------------------------------------------------------------- */

/* Every item's columns (but record and raw unless with_data), quoted, in
 * (job, row) order: what a purge must leave as it was. new: free. */
static char *items_dump(const char *path, int with_data)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    char *out = NULL;

    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(
        sqlite3_prepare_v2(db,
                           "SELECT group_concat(x, char(10)) FROM (SELECT quote(job_id) || ',' || "
                           "quote(row) || ',' || quote(key) || ',' || quote(fingerprint) || ',' || "
                           "quote(status) || ',' || quote(error_code) || ',' || quote(error) || "
                           "',' || quote(outbound) || ',' || quote(record_id) || ',' || quote(op) "
                           "|| ',' || quote(errors) || CASE WHEN ?1 THEN ',' || quote(record) || "
                           "',' || quote(raw) ELSE '' END AS x FROM items ORDER BY job_id, row)",
                           -1, &s, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_bind_int(s, 1, with_data), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    out = strdup((const char *)sqlite3_column_text(s, 0));
    assert_non_null(out);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return out;
}

static char *items_kept(const char *path)
{
    return items_dump(path, 0);
}

static void test_purge(void **state)
{
    struct fixture *f = *state;
    char digest[DS_SHA256_HEX];
    double now;
    long purged = -1;
    long freed = -1;
    int64_t before = 0;
    int64_t after = 0;
    char *kept = NULL;
    char *kept_after = NULL;

    /* 2,000 rows of about 1 KB (record and raw of 450 bytes each), as a real
     * item, in batches of 7: many purge chunks. Rows that big stay in their
     * B-tree's pages, where shrinking them in place frees no page (a 4 KB
     * row spills to overflow pages, which an UPDATE does free). Rows 5, 10,
     * ... are invalid (local items). */
    staged_job(f->st, JOB_A, SHA_X, 2000, 7, 450);
    staged_job(f->st, JOB_B, SHA_Y, 10, 4, 10);
    deliver_all(f->st, JOB_A);
    assert_int_equal(ds_store_job_opened(f->st, JOB_B), 0);
    assert_int_equal(ds_store_batch_send(f->st, JOB_B, 1, NULL, NULL, digest, NULL), 0);
    assert_int_equal(ds_store_batch_acked(f->st, JOB_B, 1, NULL, 0), 0);
    assert_int_equal(ds_store_batch_rejected(f->st, JOB_B, 2, "VALIDATION", "bad"), 0);
    now = (double)db_long(f->path, "SELECT max(updated_at) FROM batches") + 1;

    /* Nothing is old enough yet. */
    assert_int_equal(ds_store_purge(f->st, now, 30, &purged), 0);
    assert_int_equal(purged, 0);
    /* Thirty-one days later. */
    assert_int_equal(ds_store_size(f->st, &before), 0);
    kept = items_kept(f->path);
    assert_int_equal(ds_store_purge(f->st, now + 31 * DAY, 30, &purged), 0);
    /* Job A: every item (1,600 sent, 400 invalid); job B, idle as long while
     * stuck on its rejected batch: batch 1 (rows 1-4) and its invalid rows
     * 5 and 10. */
    assert_int_equal(purged, 2000 + 4 + 2);
    assert_int_equal(
        db_long(f->path, "SELECT count(*) FROM items WHERE record IS NOT NULL OR raw IS NOT NULL"),
        4);
    /* The stripped rows were moved, not changed: every other column of
     * every item is as it was, and no row was lost or doubled. */
    kept_after = items_kept(f->path);
    assert_string_equal(kept_after, kept);
    free(kept);
    free(kept_after);
    /* Rejected rows keep their data for a retry; keys and fingerprints stay. */
    assert_int_equal(db_long(f->path, "SELECT count(*) FROM items WHERE job_id = '" JOB_B
                                      "' AND status = 'rejected' AND record IS NOT NULL"),
                     4);
    assert_int_equal(db_long(f->path, "SELECT count(*) FROM items WHERE key IS NULL OR "
                                      "(fingerprint IS NULL AND status <> 'invalid')"),
                     0);
    assert_int_equal(db_long(f->path, "SELECT count(*) FROM events WHERE kind = 'queue_purged'"),
                     1);
    /* The freed pages went back to the file system. */
    assert_int_equal(db_long(f->path, "PRAGMA auto_vacuum"), 2);
    assert_int_equal(ds_store_size(f->st, &after), 0);
    assert_true(after < before / 2);
    assert_int_equal(ds_store_vacuum(f->st, 1000, &freed), 0);
    assert_int_equal(freed, 0);
    /* Purging again finds nothing new. */
    assert_int_equal(ds_store_purge(f->st, now + 32 * DAY, 30, &purged), 0);
    assert_int_equal(purged, 0);
    assert_int_equal(ds_store_purge(NULL, now, 30, &purged), DS_EINVAL);
    assert_int_equal(ds_store_purge(f->st, now, -1, &purged), DS_EINVAL);
}

/* A purge whose move fails half-way (here: inserting the stripped rows
 * back, after their delete) changes nothing: the chunk is one transaction,
 * so no row is lost, stripped or marked. The next purge does it all. */
static void test_purge_all_or_nothing(void **state)
{
    struct fixture *f = *state;
    char *before = NULL;
    char *after = NULL;
    double now;
    long purged = -1;

    staged_job(f->st, JOB_A, SHA_X, 40, 7, 450);
    deliver_all(f->st, JOB_A);
    now = (double)db_long(f->path, "SELECT max(updated_at) FROM batches") + 1;
    before = items_dump(f->path, 1);
    db_exec(f->path, "CREATE TRIGGER no_move BEFORE INSERT ON items "
                     "WHEN NEW.record IS NULL AND NEW.raw IS NULL AND NEW.row = 3 "
                     "BEGIN SELECT RAISE(ABORT, 'the move fails'); END");
    assert_true(ds_store_purge(f->st, now + 31 * DAY, 30, &purged) < 0);
    after = items_dump(f->path, 1);
    assert_string_equal(after, before);
    assert_int_equal(db_long(f->path, "SELECT count(*) FROM batches WHERE purged_at IS NOT NULL"),
                     0);
    free(after);

    db_exec(f->path, "DROP TRIGGER no_move");
    assert_int_equal(ds_store_purge(f->st, now + 31 * DAY, 30, &purged), 0);
    assert_int_equal(purged, 40);
    assert_int_equal(db_long(f->path, "SELECT count(*) FROM items"), 40);
    assert_int_equal(
        db_long(f->path, "SELECT count(*) FROM items WHERE record IS NOT NULL OR raw IS NOT NULL"),
        0);
    free(before);
}

/* Items of job B with data (record and raw) in the given status. */
static long with_data(const char *path, const char *status)
{
    char sql[200];

    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM items WHERE job_id = '" JOB_B "' AND status = '%s' "
             "AND record IS NOT NULL AND raw IS NOT NULL",
             status);
    return db_long(path, sql);
}

/* A job that never completes (stuck on a rejected batch, another still
 * pending): once idle for retention_days — counted from its last activity,
 * a batch's change — its settled items (invalid, acknowledged) lose their
 * patient data but keep their status and codes; the items still to
 * deliver keep theirs, and the job stays as it was. */
static void test_purge_stuck_job(void **state)
{
    struct fixture *f = *state;
    char digest[DS_SHA256_HEX];
    double now;
    long purged = -1;

    staged_job(f->st, JOB_B, SHA_Y, 10, 3, 10);
    assert_int_equal(ds_store_job_opened(f->st, JOB_B), 0);
    assert_int_equal(ds_store_batch_send(f->st, JOB_B, 1, NULL, NULL, digest, NULL), 0);
    assert_int_equal(ds_store_batch_acked(f->st, JOB_B, 1, NULL, 0), 0);
    assert_int_equal(ds_store_batch_rejected(f->st, JOB_B, 2, "VALIDATION", "bad"), 0);
    now = (double)db_long(f->path, "SELECT max(updated_at) FROM batches") + 1;
    assert_int_equal(with_data(f->path, "invalid"), 2);
    assert_true(with_data(f->path, "rejected") > 0);
    assert_true(with_data(f->path, "valid") > 0);

    /* Its last batch changed twenty days later: thirty-one days after the
     * start only the acknowledged batch goes. */
    {
        char sql[160];

        snprintf(sql, sizeof(sql),
                 "UPDATE batches SET updated_at = %.0f WHERE job_id = '" JOB_B "' AND seq = 3",
                 now + 20 * DAY);
        db_exec(f->path, sql);
    }
    assert_int_equal(ds_store_purge(f->st, now + 31 * DAY, 30, &purged), 0);
    assert_int_equal(purged, 3);
    assert_int_equal(with_data(f->path, "invalid"), 2);

    /* Idle for thirty days since: its invalid rows are stripped, nothing
     * else. */
    assert_int_equal(ds_store_purge(f->st, now + 51 * DAY, 30, &purged), 0);
    assert_int_equal(purged, 2);
    assert_int_equal(with_data(f->path, "invalid"), 0);
    assert_int_equal(db_long(f->path, "SELECT count(*) FROM items WHERE job_id = '" JOB_B
                                      "' AND status = 'invalid' AND error IS NOT NULL "
                                      "AND key IS NOT NULL"),
                     2);
    assert_int_equal(with_data(f->path, "rejected") + with_data(f->path, "valid"), 5);
    assert_int_equal(db_long(f->path, "SELECT count(*) FROM jobs WHERE id = '" JOB_B
                                      "' AND state = 'uploading'"),
                     1);
}

/* A queue made before migration 0003 (auto_vacuum NONE) is switched to
 * incremental auto-vacuum at the next open, keeping its rows. */
static void test_auto_vacuum_switch(void **state)
{
    struct fixture *f = *state;
    struct ds_error err;

    staged_job(f->st, JOB_A, SHA_X, 20, 5, 100);
    ds_store_close(&f->st);
    db_exec(f->path, "PRAGMA auto_vacuum = NONE; VACUUM");
    assert_int_equal(db_long(f->path, "PRAGMA auto_vacuum"), 0);
    assert_int_equal(ds_store_open(f->path, &f->st, &err), 0);
    assert_int_equal(db_long(f->path, "PRAGMA auto_vacuum"), 2);
    assert_int_equal(db_long(f->path, "SELECT count(*) FROM items"), 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hold_and_retry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hold_while_staging_drops_the_job, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unstage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_rejected_batches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disk_budget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_purge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_purge_stuck_job, setup, teardown),
        cmocka_unit_test_setup_teardown(test_purge_all_or_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auto_vacuum_switch, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
