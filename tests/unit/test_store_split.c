/*
 * test_store_split.c — a batch the cloud found too large becomes two
 * batches with fresh sequence numbers and their own digests; the job still
 * completes once both halves are acknowledged.
 */
#include "state/store_ingest.h"
#include "state/store_status.h"
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

#define JOB "11111111-2222-4333-8444-555555555555"

struct fixture {
    char dir[64];
    struct ds_store *st;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char path[128];
    int64_t file_id = 0;
    int dup = 0;
    char key[32];
    char fp[DS_SHA256_HEX];

    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/ds-test-split-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(path, sizeof(path), "%s/queue.db", f->dir);
    assert_int_equal(ds_store_open(path, &f->st, NULL), 0);
    assert_int_equal(ds_store_file_add(f->st, "in", "/in/a.csv", 10, 1, "abc", &file_id, &dup), 0);
    assert_int_equal(ds_store_job_begin(f->st, file_id, JOB, "main", "patients", "generic-patients",
                                        "a.csv", "abc"),
                     0);
    assert_int_equal(ds_store_tx_begin(f->st), 0);
    for (long row = 1; row <= 7; row++) {
        snprintf(key, sizeof(key), "ext:%ld", row);
        assert_int_equal(ds_sha256_hex(key, strlen(key), fp), 0);
        assert_int_equal(
            ds_store_item_add(f->st, JOB, row, key, fp, DS_ITEM_VALID, "{}", NULL, NULL, NULL), 0);
    }
    assert_int_equal(ds_store_tx_commit(f->st), 0);
    assert_int_equal(ds_store_job_staged(f->st, JOB, 7, 100), 0);
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

struct rows {
    long row[16];
    size_t n;
};

static int collect(void *ctx, const struct ds_batch_row *r)
{
    struct rows *rs = ctx;

    rs->row[rs->n++] = r->row;
    return 0;
}

/* The digest the cloud computes for these rows, independently. */
static void expected_digest(const long *rows, size_t n, char out[DS_SHA256_HEX])
{
    char text[1024];
    size_t len = 0;
    char key[32];
    char fp[DS_SHA256_HEX];

    for (size_t i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "ext:%ld", rows[i]);
        assert_int_equal(ds_sha256_hex(key, strlen(key), fp), 0);
        len += (size_t)snprintf(text + len, sizeof(text) - len, "%ld\t%s\t%s\n", rows[i], key, fp);
    }
    assert_int_equal(ds_sha256_hex(text, len, out), 0);
}

static void test_split_in_flight_batch(void **state)
{
    struct fixture *f = *state;
    struct ds_batch_counts counts;
    struct rows rs = {{0}, 0};
    char digest[DS_SHA256_HEX];
    char expect[DS_SHA256_HEX];
    long seq = 0;
    long a = 0;
    long b = 0;
    int attempts = 0;

    assert_int_equal(ds_store_batch_next(f->st, JOB, 1e12, NULL, NULL, &seq, NULL), 1);
    assert_int_equal(seq, 1);
    assert_int_equal(ds_store_batch_send(f->st, JOB, 1, NULL, NULL, digest, &attempts), 0);
    assert_int_equal(ds_store_batch_split(f->st, JOB, 1, "TOO_LARGE", &a, &b), 0);
    assert_int_equal(a, 2);
    assert_int_equal(b, 3);
    assert_int_equal(ds_store_job_batch_counts(f->st, JOB, &counts), 0);
    assert_int_equal(counts.pending, 2);
    assert_int_equal(counts.in_flight, 0);

    /* The first half: rows 1-3; the second: rows 4-7, each with its digest. */
    assert_int_equal(ds_store_batch_send(f->st, JOB, 2, collect, &rs, digest, &attempts), 0);
    assert_int_equal(rs.n, 3);
    expected_digest(rs.row, rs.n, expect);
    assert_string_equal(digest, expect);
    assert_int_equal(rs.row[0], 1);
    assert_int_equal(rs.row[2], 3);
    rs.n = 0;
    assert_int_equal(ds_store_batch_send(f->st, JOB, 3, collect, &rs, digest, &attempts), 0);
    assert_int_equal(rs.n, 4);
    assert_int_equal(rs.row[0], 4);
    assert_int_equal(rs.row[3], 7);
    expected_digest(rs.row, rs.n, expect);
    assert_string_equal(digest, expect);

    /* The split batch is never offered again, and the job completes. */
    assert_int_equal(ds_store_batch_next(f->st, JOB, 1e12, NULL, NULL, &seq, NULL), 0);
    assert_int_equal(ds_store_job_completed(f->st, JOB), DS_EBUSY);
    {
        struct ds_item_result r[7];

        for (int i = 0; i < 7; i++) {
            memset(&r[i], 0, sizeof(r[i]));
            r[i].row = i + 1;
            r[i].status = "created";
        }
        assert_int_equal(ds_store_batch_acked(f->st, JOB, 2, r, 3), 0);
        assert_int_equal(ds_store_batch_acked(f->st, JOB, 3, r + 3, 4), 0);
    }
    assert_int_equal(ds_store_job_completed(f->st, JOB), 0);
}

static void test_split_refusals(void **state)
{
    struct fixture *f = *state;
    long a = 0;
    long b = 0;

    assert_int_equal(ds_store_batch_split(f->st, JOB, 9, "TOO_LARGE", &a, &b), DS_ENOTFOUND);
    assert_int_equal(ds_store_batch_split(f->st, JOB, 1, "TOO_LARGE", &a, &b), 0);
    /* A split batch cannot be split again. */
    assert_int_equal(ds_store_batch_split(f->st, JOB, 1, "TOO_LARGE", &a, &b), DS_EINVAL);
    /* Halving down to one row, then no further. */
    assert_int_equal(ds_store_batch_split(f->st, JOB, 2, "TOO_LARGE", &a, &b), 0); /* 1-3 */
    assert_int_equal(ds_store_batch_split(f->st, JOB, a, "TOO_LARGE", NULL, NULL), DS_ETOOBIG);
}

static void test_queue_stats(void **state)
{
    struct fixture *f = *state;
    struct ds_queue_stats qs;

    assert_int_equal(ds_store_queue_stats(f->st, &qs), 0);
    assert_int_equal(qs.pending_rows, 7);
    assert_int_equal(qs.jobs_uploading, 1);
    assert_true(qs.oldest_pending_at > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_split_in_flight_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_split_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_stats, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
