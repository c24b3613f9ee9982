/*
 * test_store_route.c — one file, one job per import type (state/store_route.c):
 * a routed job joins the file's first job while it stages, a second job of
 * the same type is refused, the file goes `staged` only with its last job
 * and `done` only when every job is completed; a hold, a quarantine and
 * start-up recovery drop every staging job of the file; each job's delta
 * and snapshot check see only its own import type.
 */
#include "state/store_admin.h"
#include "state/store_delta.h"
#include "state/store_ingest.h"
#include "state/store_upload.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define JOB_T "11111111-2222-4333-8444-000000000001" /* treatments */
#define JOB_F "11111111-2222-4333-8444-000000000002" /* financial */
#define JOB_X "11111111-2222-4333-8444-000000000003"

struct fixture {
    char dir[64];
    char path[128];
    struct ds_store *st;
    int64_t file_id;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    int dup = 0;

    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/ds-test-route-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/queue.db", f->dir);
    assert_int_equal(ds_store_open(f->path, &f->st, NULL), 0);
    assert_int_equal(
        ds_store_file_add(f->st, "in", "/in/ledger.txt", 10, 1, "abc", &f->file_id, &dup), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];

    ds_store_close(&f->st);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void file_state_is(struct fixture *f, const char *want)
{
    char state[24];

    assert_int_equal(ds_store_file_state(f->st, f->file_id, state, sizeof(state)), 0);
    assert_string_equal(state, want);
}

/* Begins both jobs and stages rows 1..4 of the file: odd rows are
 * treatments, even rows financial, each `skipped` in the other job. */
static void begin_and_fill(struct fixture *f)
{
    char key[32];
    char fp[DS_SHA256_HEX];

    assert_int_equal(ds_store_job_begin(f->st, f->file_id, JOB_T, "main", "treatments",
                                        "dentrix-ledger-treatments", "ledger.txt", "abc"),
                     0);
    assert_int_equal(
        ds_store_job_begin_routed(f->st, JOB_T, JOB_F, "financial", "dentrix-ledger-financial"), 0);
    /* One job per import type, and only on a job still staging. */
    assert_int_equal(ds_store_job_begin_routed(f->st, JOB_T, JOB_X, "financial", "x"), DS_EEXIST);
    assert_int_equal(ds_store_job_begin_routed(f->st, JOB_X, JOB_X, "patients", "x"), DS_ENOTFOUND);
    file_state_is(f, "staging");
    assert_int_equal(ds_store_tx_begin(f->st), 0);
    for (long row = 1; row <= 4; row++) {
        const char *own = row % 2 ? JOB_T : JOB_F;
        const char *other = row % 2 ? JOB_F : JOB_T;

        snprintf(key, sizeof(key), "h:%ld", row);
        assert_int_equal(ds_sha256_hex(key, strlen(key), fp), 0);
        assert_int_equal(
            ds_store_item_add(f->st, own, row, key, fp, DS_ITEM_VALID, "{}", "{}", NULL, NULL), 0);
        assert_int_equal(ds_store_item_add(f->st, other, row, NULL, NULL, DS_ITEM_SKIPPED, NULL,
                                           NULL, "routed", NULL),
                         0);
    }
    assert_int_equal(ds_store_tx_commit(f->st), 0);
}

static void stage_both(struct fixture *f)
{
    assert_int_equal(ds_store_tx_begin(f->st), 0);
    assert_int_equal(ds_store_job_staged(f->st, JOB_T, 4, 10), 0);
    /* The first job staged does not make the file staged: its sibling is
     * still staging. */
    file_state_is(f, "staging");
    assert_int_equal(ds_store_job_staged(f->st, JOB_F, 4, 10), 0);
    file_state_is(f, "staged");
    assert_int_equal(ds_store_tx_commit(f->st), 0);
}

static void deliver(struct fixture *f, const char *job, long row_a, long row_b)
{
    struct ds_item_result r[2] = {{row_a, "created", NULL, NULL, NULL},
                                  {row_b, "created", NULL, NULL, NULL}};
    char digest[DS_SHA256_HEX];

    assert_int_equal(ds_store_batch_send(f->st, job, 1, NULL, NULL, digest, NULL), 0);
    file_state_is(f, "uploading");
    assert_int_equal(ds_store_batch_acked(f->st, job, 1, r, 2), 0);
    assert_int_equal(ds_store_job_completed(f->st, job), 0);
}

static void test_file_done_with_its_last_job(void **state)
{
    struct fixture *f = *state;
    struct ds_item_counts c;
    long synced = 0;

    begin_and_fill(f);
    stage_both(f);
    deliver(f, JOB_T, 1, 3);
    /* One job completed, its sibling not yet: the file is not done. */
    file_state_is(f, "uploading");
    deliver(f, JOB_F, 2, 4);
    file_state_is(f, "done");
    assert_int_equal(ds_store_job_item_counts(f->st, JOB_T, &c), 0);
    assert_int_equal(c.total, 4);
    assert_int_equal(c.created, 2);
    assert_int_equal(c.skipped, 2);
    /* Each type's synced keys are its own. */
    assert_int_equal(ds_store_synced_count(f->st, "main", "treatments", &synced), 0);
    assert_int_equal(synced, 2);
    assert_int_equal(ds_store_synced_count(f->st, "main", "financial", &synced), 0);
    assert_int_equal(synced, 2);
}

/* A file's jobs are sent in the order they were begun: the second one's
 * batch is not due while the first one has a batch not acked (a
 * workbook's appointments wait for its patients). */
static void test_jobs_of_a_file_go_in_order(void **state)
{
    struct fixture *f = *state;
    long seq = 0;

    begin_and_fill(f);
    stage_both(f);
    assert_int_equal(ds_store_batch_next(f->st, JOB_F, 1e12, NULL, NULL, &seq, NULL), 0);
    assert_int_equal(ds_store_batch_next(f->st, JOB_T, 1e12, NULL, NULL, &seq, NULL), 1);
    assert_int_equal(seq, 1);
    deliver(f, JOB_T, 1, 3);
    assert_int_equal(ds_store_batch_next(f->st, JOB_F, 1e12, NULL, NULL, &seq, NULL), 1);
    assert_int_equal(seq, 1);
}

/* Staging one job alone leaves the file staging; a crash then (the caller
 * never committed the sibling) restages both, and none of them stays. */
static void test_recover_drops_every_staging_job(void **state)
{
    struct fixture *f = *state;
    struct ds_job_info j;
    int restaged = 0;

    begin_and_fill(f);
    ds_store_close(&f->st); /* the process dies before staging */
    assert_int_equal(ds_store_open(f->path, &f->st, NULL), 0);
    assert_int_equal(ds_store_recover(f->st, &restaged, NULL), 0);
    assert_int_equal(restaged, 2);
    file_state_is(f, "detected");
    assert_int_equal(ds_store_job_get(f->st, JOB_T, &j), DS_ENOTFOUND);
    assert_int_equal(ds_store_job_get(f->st, JOB_F, &j), DS_ENOTFOUND);
    /* Ingested again from the start, with fresh jobs. */
    begin_and_fill(f);
    stage_both(f);
}

/* A rollback of the caller's transaction undoes both jobs' staging. */
static void test_staging_is_all_or_nothing(void **state)
{
    struct fixture *f = *state;
    struct ds_job_info j;

    begin_and_fill(f);
    assert_int_equal(ds_store_tx_begin(f->st), 0);
    assert_int_equal(ds_store_job_staged(f->st, JOB_T, 4, 10), 0);
    assert_int_equal(ds_store_tx_rollback(f->st), 0);
    assert_int_equal(ds_store_job_get(f->st, JOB_T, &j), 0);
    assert_string_equal(j.state, "staging");
    file_state_is(f, "staging");
    stage_both(f);
}

static void test_hold_and_quarantine_drop_both(void **state)
{
    struct fixture *f = *state;
    struct ds_job_info j;

    begin_and_fill(f);
    assert_int_equal(ds_store_file_hold(f->st, f->file_id, DS_HOLD_SNAPSHOT, "test"), 0);
    file_state_is(f, "held");
    assert_int_equal(ds_store_job_get(f->st, JOB_T, &j), DS_ENOTFOUND);
    assert_int_equal(ds_store_job_get(f->st, JOB_F, &j), DS_ENOTFOUND);
    assert_int_equal(ds_store_file_retry(f->st, f->file_id), 0);
    begin_and_fill(f);
    assert_int_equal(ds_store_file_quarantine(f->st, f->file_id, "FILE_CHANGED", "test"), 0);
    file_state_is(f, "quarantined");
    assert_int_equal(ds_store_job_get(f->st, JOB_T, &j), DS_ENOTFOUND);
    assert_int_equal(ds_store_job_get(f->st, JOB_F, &j), DS_ENOTFOUND);
}

/* The snapshot check of each job looks at its own type only: a financial
 * key synced before and absent now gets a deletion in the financial job,
 * none in the treatments job. */
static void test_snapshot_per_type(void **state)
{
    struct fixture *f = *state;
    struct ds_snapshot_check c;
    char key[32];
    char fp[DS_SHA256_HEX];
    int64_t file2 = 0;
    int dup = 0;

    begin_and_fill(f);
    stage_both(f);
    deliver(f, JOB_T, 1, 3);
    deliver(f, JOB_F, 2, 4);
    /* The next ledger: rows 1-3 only (financial row 4 vanished). */
    assert_int_equal(ds_store_file_add(f->st, "in", "/in/ledger2.txt", 10, 2, "def", &file2, &dup),
                     0);
    assert_int_equal(
        ds_store_job_begin(f->st, file2, JOB_X, "main", "treatments", "t", "ledger2.txt", "def"),
        0);
    assert_int_equal(ds_store_job_begin_routed(f->st, JOB_X, "11111111-2222-4333-8444-000000000004",
                                               "financial", "f"),
                     0);
    assert_int_equal(ds_store_tx_begin(f->st), 0);
    for (long row = 1; row <= 3; row++) {
        const char *own = row % 2 ? JOB_X : "11111111-2222-4333-8444-000000000004";
        const char *other = row % 2 ? "11111111-2222-4333-8444-000000000004" : JOB_X;

        snprintf(key, sizeof(key), "h:%ld", row);
        assert_int_equal(ds_sha256_hex(key, strlen(key), fp), 0);
        assert_int_equal(
            ds_store_item_add(f->st, own, row, key, fp, DS_ITEM_VALID, "{}", "{}", NULL, NULL), 0);
        assert_int_equal(ds_store_item_add(f->st, other, row, NULL, NULL, DS_ITEM_SKIPPED, NULL,
                                           NULL, "routed", NULL),
                         0);
    }
    assert_int_equal(ds_store_tx_commit(f->st), 0);
    assert_int_equal(ds_store_job_snapshot(f->st, JOB_X, 3, 100, 0, NULL, &c), 0);
    assert_int_equal(c.synced, 2);
    assert_int_equal(c.missing, 0);
    assert_int_equal(c.deletions, 0);
    assert_int_equal(
        ds_store_job_snapshot(f->st, "11111111-2222-4333-8444-000000000004", 3, 100, 0, NULL, &c),
        0);
    assert_int_equal(c.synced, 2);
    assert_int_equal(c.missing, 1);
    assert_int_equal(c.deletions, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_file_done_with_its_last_job, setup, teardown),
        cmocka_unit_test_setup_teardown(test_jobs_of_a_file_go_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recover_drops_every_staging_job, setup, teardown),
        cmocka_unit_test_setup_teardown(test_staging_is_all_or_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hold_and_quarantine_drop_both, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_per_type, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
