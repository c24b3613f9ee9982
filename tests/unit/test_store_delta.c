/*
 * test_store_delta.c — the delta (state/store_delta.c): synced records
 * written by acknowledgements, `unchanged` and `skipped` items decided at
 * staging, deletion rows of full snapshots and the shrink check, and
 * migration 0004 on a database created before it.
 *
 * Each test gets a fresh database in its own temporary directory. SQLite is
 * read directly only to see what the interface does not show.
 */
#include "agent/core/hash.h"
#include "state/store_delta.h"
#include "state/store_ingest.h"
#include "state/store_status.h"
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
#define JOB_C "2d9e8c5a-5b2a-4e3a-9c77-3d4e5f607182"
#define FP1 "1111000000000000000000000000000000000000000000000000000000000001"
#define FP2 "2222000000000000000000000000000000000000000000000000000000000002"

static int setup(void **state)
{
    return store_setup(state, "test_store_delta");
}

static int teardown(void **state)
{
    return store_teardown(state);
}

/* ---- helpers ------------------------------------------------------------ */

/* A file with its own content and a job staging on it. */
static int64_t begin(struct ds_store *st, const char *job, const char *name)
{
    char sha[DS_SHA256_HEX];
    int64_t id = 0;
    int dup = -1;

    assert_int_equal(ds_sha256_hex(name, strlen(name), sha), 0);
    assert_int_equal(ds_store_file_add(st, "inbox", name, 100, 42, sha, &id, &dup), 0);
    assert_int_equal(dup, 0);
    assert_int_equal(
        ds_store_job_begin(st, id, job, "main", "patients", "generic-patients", name, sha), 0);
    return id;
}

static void add(struct ds_store *st, const char *job, long row, const char *key, const char *fp)
{
    assert_int_equal(
        ds_store_item_add(st, job, row, key, fp, DS_ITEM_VALID, "{}", NULL, NULL, NULL), 0);
}

/* What the rows callback sees of a batch. */
struct seen {
    long rows[16];
    int del[16];
    long n;
    long deletes;
    long last_delete_row;
    int record_on_delete;
};

static int on_row(void *ctx, const struct ds_batch_row *r)
{
    struct seen *s = ctx;

    assert_true(s->n < 16);
    s->rows[s->n] = r->row;
    s->del[s->n] = r->op_delete;
    s->n++;
    if (r->op_delete) {
        s->deletes++;
        s->last_delete_row = r->row;
        s->record_on_delete |= r->record_json != NULL;
        assert_string_equal(r->fingerprint, "delete");
    }
    return 0;
}

/* Sends batch 1 of job and acknowledges every row with status. */
static void send_ack_all(struct ds_store *st, const char *job, long rows, const char *status,
                         const char *delete_status, struct seen *seen)
{
    struct ds_item_result res[16];
    char digest[DS_SHA256_HEX];
    int attempts = 0;

    assert_true(rows <= 16);
    memset(seen, 0, sizeof(*seen));
    assert_int_equal(ds_store_batch_send(st, job, 1, on_row, seen, digest, &attempts), 0);
    assert_int_equal(seen->n, rows);
    for (long i = 0; i < rows; i++) {
        res[i].row = seen->rows[i];
        res[i].status = seen->del[i] ? delete_status : status;
        res[i].record_id = NULL;
        res[i].error_code = NULL;
        res[i].error_msg = NULL;
    }
    assert_int_equal(ds_store_batch_acked(st, job, 1, res, (size_t)rows), 0);
}

/* ---- tests -------------------------------------------------------------- */

static void test_migration_after_0003(void **state)
{
    struct fixture *f = *state;
    struct ds_error err;

    /* A database made before 0004 (version 2: 0001 and 0003) gets the delta
     * as version 3, then 0005 (items.errors) as 4, 0006 (jobs.binding) as
     * 5, 0007 (jobs.raw_columns) as 6 and 0008 (jobs.record_fields) as 7;
     * nothing is applied twice. */
    ds_store_close(&f->st);
    assert_int_equal(db_long(f->path, "SELECT count(*) FROM sqlite_schema WHERE name = 'synced'"),
                     1);
    {
        sqlite3 *db = NULL;

        assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db,
                                      "DROP TABLE synced; ALTER TABLE items DROP COLUMN op; "
                                      "ALTER TABLE items DROP COLUMN errors; "
                                      "ALTER TABLE jobs DROP COLUMN binding; "
                                      "ALTER TABLE jobs DROP COLUMN raw_columns; "
                                      "ALTER TABLE jobs DROP COLUMN record_fields; "
                                      "PRAGMA user_version = 2",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
        sqlite3_close(db);
    }
    assert_int_equal(ds_store_open(f->path, &f->st, &err), 0);
    assert_int_equal(ds_store_schema_version(f->st), 7); /* 0004 to 0008 */
    assert_int_equal(db_long(f->path, "SELECT count(*) FROM sqlite_schema WHERE name = 'synced'"),
                     1);
}

static void test_unchanged_and_deletions(void **state)
{
    struct fixture *f = *state;
    struct ds_snapshot_check c;
    struct ds_item_counts n;
    struct seen seen;
    char fp[DS_SHA256_HEX];
    const char *stored = NULL;
    long unchanged = -1;
    long count = -1;

    /* Snapshot 1: three records, all created. */
    begin(f->st, JOB_A, "snap1.csv");
    add(f->st, JOB_A, 1, "ext:1", FP1);
    add(f->st, JOB_A, 2, "ext:2", FP1);
    add(f->st, JOB_A, 3, "ext:3", FP1);
    assert_int_equal(ds_store_job_mark_unchanged(f->st, JOB_A, &unchanged), 0);
    assert_int_equal(unchanged, 0);
    assert_int_equal(ds_store_job_snapshot(f->st, JOB_A, 3, 5, 0, NULL, &c), 0);
    assert_int_equal(c.synced, 0);
    assert_int_equal(c.deletions, 0);
    assert_int_equal(ds_store_job_staged(f->st, JOB_A, 3, 10), 0);
    send_ack_all(f->st, JOB_A, 3, "created", "deleted", &seen);
    assert_int_equal(ds_store_synced_count(f->st, "main", "patients", &count), 0);
    assert_int_equal(count, 3);
    assert_int_equal(ds_store_synced_get(f->st, "main", "patients", "ext:2", fp), 1);
    assert_string_equal(fp, FP1);
    assert_int_equal(ds_store_synced_get(f->st, "main", "treatments", "ext:2", NULL), 0);

    /* Snapshot 2: 1 unchanged, 2 changed, 3 gone, 4 new, a skipped row. */
    begin(f->st, JOB_B, "snap2.csv");
    add(f->st, JOB_B, 1, "ext:1", FP1);
    add(f->st, JOB_B, 2, "ext:2", FP2);
    add(f->st, JOB_B, 3, "ext:4", FP1);
    assert_int_equal(ds_store_item_add(f->st, JOB_B, 4, NULL, NULL, DS_ITEM_SKIPPED, NULL, "{}",
                                       "patient note", &stored),
                     0);
    assert_string_equal(stored, DS_ITEM_SKIPPED);
    assert_int_equal(ds_store_job_mark_unchanged(f->st, JOB_B, &unchanged), 0);
    assert_int_equal(unchanged, 1);
    /* One of three missing is 33%: over 5%, held unless allowed. */
    assert_int_equal(ds_store_job_snapshot(f->st, JOB_B, 4, 5, 0, NULL, &c), 0);
    assert_int_equal(c.synced, 3);
    assert_int_equal(c.missing, 1);
    assert_int_equal(c.shrank, 1);
    assert_int_equal(c.deletions, 0);
    assert_int_equal(ds_store_job_snapshot(f->st, JOB_B, 4, 50, 0, NULL, &c), 0);
    assert_int_equal(c.shrank, 0);
    assert_int_equal(c.deletions, 1);
    assert_int_equal(ds_store_job_staged(f->st, JOB_B, 5, 10), 0);
    assert_int_equal(ds_store_job_item_counts(f->st, JOB_B, &n), 0);
    assert_int_equal(n.unchanged, 1);
    assert_int_equal(n.skipped, 1);
    assert_int_equal(n.valid, 3); /* ext:2, ext:4 and the deletion */
    send_ack_all(f->st, JOB_B, 3, "updated", "deleted", &seen);
    assert_int_equal(seen.n, 3);
    assert_int_equal(seen.deletes, 1);
    assert_int_equal(seen.last_delete_row, 5);
    assert_int_equal(seen.record_on_delete, 0);
    assert_int_equal(ds_store_job_item_counts(f->st, JOB_B, &n), 0);
    assert_int_equal(n.deleted, 1);
    assert_int_equal(ds_store_job_completed(f->st, JOB_B), 0);
    assert_int_equal(db_long(f->path, "SELECT count(*) FROM jobs WHERE id = '" JOB_B
                                      "' AND state = 'completed'"),
                     1);
    /* ext:3 is forgotten, ext:2 has its new fingerprint, ext:4 is new. */
    assert_int_equal(ds_store_synced_get(f->st, "main", "patients", "ext:3", NULL), 0);
    assert_int_equal(ds_store_synced_get(f->st, "main", "patients", "ext:2", fp), 1);
    assert_string_equal(fp, FP2);
    assert_int_equal(ds_store_synced_count(f->st, "main", "patients", &count), 0);
    assert_int_equal(count, 3);

    /* Snapshot 3 lost two of three: held (nothing added), unless an admin
     * let it through. */
    begin(f->st, JOB_C, "snap3.csv");
    add(f->st, JOB_C, 1, "ext:1", FP1);
    assert_int_equal(ds_store_job_snapshot(f->st, JOB_C, 1, 30, 0, NULL, &c), 0);
    assert_int_equal(c.shrank, 1);
    assert_int_equal(db_long(f->path, "SELECT count(*) FROM items WHERE job_id = '" JOB_C "'"), 1);
    assert_int_equal(ds_store_job_snapshot(f->st, JOB_C, 1, 30, 1, NULL, &c), 0);
    assert_int_equal(c.deletions, 2);
}

/* A calendar snapshot: occurrences of a recurring event dated before the
 * reader's window are neither synced nor missing; the same keys without
 * the window, or dated inside it, are deletions as any other key. */
static void test_aged_occurrences(void **state)
{
    static const char *const keys[] = {
        "ext:weekly@x/20240102T090000Z", /* aged: UTC time */
        "ext:weekly@x/20240109T090000",  /* aged: local time */
        "ext:allday@x/20240110",         /* aged: a date */
        "ext:weekly@x/20251230T090000Z", /* inside the window */
        "ext:one-off@x",                 /* no occurrence: never aged */
        "ext:20240102T090000Z",          /* no "/": not an occurrence */
    };
    struct fixture *f = *state;
    struct ds_snapshot_check c;
    struct seen seen;

    begin(f->st, JOB_A, "cal1.ics");
    for (long i = 0; i < 6; i++) {
        add(f->st, JOB_A, i + 1, keys[i], FP1);
    }
    assert_int_equal(ds_store_job_snapshot(f->st, JOB_A, 6, 5, 0, "20250101", &c), 0);
    assert_int_equal(ds_store_job_staged(f->st, JOB_A, 6, 10), 0);
    send_ack_all(f->st, JOB_A, 6, "created", "deleted", &seen);

    /* The next read returns none of them. */
    begin(f->st, JOB_B, "cal2.ics");
    add(f->st, JOB_B, 1, "ext:new@x", FP1);
    assert_int_equal(ds_store_job_snapshot(f->st, JOB_B, 1, 100, 0, "20250101", &c), 0);
    assert_int_equal(c.synced, 3);
    assert_int_equal(c.missing, 3);
    assert_int_equal(c.deletions, 3);
    assert_int_equal(db_long(f->path, "SELECT count(*) FROM items WHERE job_id = '" JOB_B
                                      "' AND op = 'delete' AND key IN ('ext:weekly@x/"
                                      "20251230T090000Z', 'ext:one-off@x', "
                                      "'ext:20240102T090000Z')"),
                     3);

    /* Without a window every vanished key is a deletion. */
    begin(f->st, JOB_C, "cal3.csv");
    add(f->st, JOB_C, 1, "ext:new@x", FP1);
    assert_int_equal(ds_store_job_snapshot(f->st, JOB_C, 1, 100, 0, "", &c), 0);
    assert_int_equal(c.synced, 6);
    assert_int_equal(c.deletions, 6);
}

static void test_refused_outside_staging(void **state)
{
    struct fixture *f = *state;
    struct ds_snapshot_check c;

    assert_int_equal(ds_store_job_mark_unchanged(f->st, JOB_A, NULL), DS_ENOTFOUND);
    begin(f->st, JOB_A, "x.csv");
    assert_int_equal(ds_store_job_staged(f->st, JOB_A, 0, 10), 0);
    assert_int_equal(ds_store_job_mark_unchanged(f->st, JOB_A, NULL), DS_EINVAL);
    assert_int_equal(ds_store_job_snapshot(f->st, JOB_A, 0, 5, 0, NULL, &c), DS_EINVAL);
    assert_int_equal(
        ds_store_item_add(f->st, JOB_A, 1, NULL, NULL, "bogus", NULL, NULL, NULL, NULL), DS_EINVAL);
}

/* A read-only store's snapshot: the reads inside it see the queue as it was
 * at the first of them, whatever the agent commits meanwhile; after it, the
 * queue as it is. */
static void test_readonly_snapshot(void **state)
{
    struct fixture *f = *state;
    struct ds_store *ro = NULL;
    struct ds_error err;
    struct seen seen;
    long count = -1;
    long forgotten = -1;

    begin(f->st, JOB_A, "snap1.csv");
    add(f->st, JOB_A, 1, "ext:1", FP1);
    add(f->st, JOB_A, 2, "ext:2", FP1);
    assert_int_equal(ds_store_job_staged(f->st, JOB_A, 2, 10), 0);
    send_ack_all(f->st, JOB_A, 2, "created", "deleted", &seen);

    assert_int_equal(ds_store_open_readonly(f->path, &ro, &err), 0);
    assert_int_equal(ds_store_snapshot_begin(ro), 0);
    assert_int_equal(ds_store_snapshot_begin(ro), DS_EINVAL);
    assert_int_equal(ds_store_synced_count(ro, "main", "patients", &count), 0);
    assert_int_equal(count, 2);
    /* The agent forgets what was synced; the snapshot still has it. */
    assert_int_equal(ds_store_synced_forget(f->st, "main", "patients", &forgotten), 0);
    assert_int_equal(forgotten, 2);
    assert_int_equal(ds_store_synced_count(ro, "main", "patients", &count), 0);
    assert_int_equal(count, 2);
    assert_int_equal(ds_store_synced_get(ro, "main", "patients", "ext:1", NULL), 1);
    ds_store_snapshot_end(ro);
    ds_store_snapshot_end(ro); /* none open: nothing */
    assert_int_equal(ds_store_synced_count(ro, "main", "patients", &count), 0);
    assert_int_equal(count, 0);
    assert_int_equal(ds_store_synced_get(ro, "main", "patients", "ext:1", NULL), 0);
    ds_store_close(&ro);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_migration_after_0003, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unchanged_and_deletions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_aged_occurrences, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_outside_staging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readonly_snapshot, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
