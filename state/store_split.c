/*
 * store_split.c — splitting a batch the cloud found too large.
 *
 * A batch that answers 413, or whose body would pass the configured byte
 * cap, is replaced by two batches holding its first and second half (by
 * outbound rows), with fresh sequence numbers after the job's highest. The
 * old batch becomes `split`, a final state that is never sent again and
 * that the cloud never stored (it refused it, or never saw it), so the
 * replay rule holds: every (job, seq) ever sent keeps its digest.
 *
 *   pending | in_flight | retry_wait --ds_store_batch_split--> split*
 *                                    (+ two new `pending` batches)
 *
 * Not a hot path: statements are prepared per call.
 */
#include "state/store.h"

#include "state/store_int.h"

#include <sqlite3.h>
#include <string.h>

/* The outbound rows of a batch's range, in order: the row at index `at`
 * (0-based) is written into *row. */
static int nth_row(struct ds_store *st, const char *job_id, long first, long last, long at,
                   long *row)
{
    sqlite3_stmt *s = NULL;
    int rc;
    int src;

    src = sqlite3_prepare_v2(st->db,
                             "SELECT row FROM items WHERE job_id = ?1 AND row BETWEEN ?2 AND ?3 "
                             "AND outbound = 1 ORDER BY row LIMIT 1 OFFSET ?4",
                             -1, &s, NULL);
    if (src != SQLITE_OK) {
        return ds__store_fail(st, src, "split: rows");
    }
    sqlite3_bind_text(s, 1, job_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, first);
    sqlite3_bind_int64(s, 3, last);
    sqlite3_bind_int64(s, 4, at);
    src = sqlite3_step(s);
    if (src == SQLITE_ROW) {
        *row = (long)sqlite3_column_int64(s, 0);
        rc = 0;
    }
    else {
        rc = src == SQLITE_DONE ? DS_ECORRUPT : ds__store_fail(st, src, "split: rows");
    }
    sqlite3_finalize(s);
    return rc;
}

/* Inserts a pending batch over [first, last] with its digest and count. */
static int insert_half(struct ds_store *st, const char *job_id, long seq, long first, long last)
{
    sqlite3_stmt *s = NULL;
    char digest[DS_SHA256_HEX];
    long n = 0;
    double now = ds__store_now();
    int src;
    int rc = 0;

    src = sqlite3_prepare_v2(st->db,
                             "SELECT row, key, fingerprint FROM items WHERE job_id = ?1 AND row "
                             "BETWEEN ?2 AND ?3 AND outbound = 1 ORDER BY row",
                             -1, &s, NULL);
    if (src != SQLITE_OK) {
        return ds__store_fail(st, src, "split: digest");
    }
    sqlite3_bind_text(s, 1, job_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, first);
    sqlite3_bind_int64(s, 3, last);
    ds_sha256_final(st->sha, digest); /* a fresh digest */
    for (;;) {
        src = sqlite3_step(s);
        if (src != SQLITE_ROW) {
            break;
        }
        ds__store_digest_row(st->sha, (long)sqlite3_column_int64(s, 0),
                             (const char *)sqlite3_column_text(s, 1),
                             (const char *)sqlite3_column_text(s, 2));
        n++;
    }
    sqlite3_finalize(s);
    s = NULL;
    if (src != SQLITE_DONE) {
        return ds__store_fail(st, src, "split: digest");
    }
    ds_sha256_final(st->sha, digest);
    src = sqlite3_prepare_v2(st->db,
                             "INSERT INTO batches (job_id, seq, state, first_row, last_row, nrows, "
                             "digest, created_at, updated_at) "
                             "VALUES (?1, ?2, 'pending', ?3, ?4, ?5, ?6, ?7, ?7)",
                             -1, &s, NULL);
    if (src != SQLITE_OK) {
        return ds__store_fail(st, src, "split: insert");
    }
    sqlite3_bind_text(s, 1, job_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, seq);
    sqlite3_bind_int64(s, 3, first);
    sqlite3_bind_int64(s, 4, last);
    sqlite3_bind_int64(s, 5, n);
    sqlite3_bind_text(s, 6, digest, -1, SQLITE_STATIC);
    sqlite3_bind_double(s, 7, now);
    rc = ds__store_run(st, s, "split: insert");
    sqlite3_finalize(s);
    return rc;
}

int ds_store_batch_split(struct ds_store *st, const char *job_id, long seq, const char *code,
                         long *seq_a, long *seq_b)
{
    sqlite3_stmt *s = NULL;
    long first = 0;
    long last = 0;
    long nrows = 0;
    long max_seq = 0;
    long mid = 0;
    char state[24] = "";
    int src;
    int rc;

    rc = ds__store_begin(st);
    if (rc != 0) {
        return rc;
    }
    src = sqlite3_prepare_v2(st->db,
                             "SELECT state, first_row, last_row, nrows, "
                             "(SELECT max(seq) FROM batches WHERE job_id = ?1) "
                             "FROM batches WHERE job_id = ?1 AND seq = ?2",
                             -1, &s, NULL);
    if (src != SQLITE_OK) {
        rc = ds__store_fail(st, src, "split: batch");
        goto out;
    }
    sqlite3_bind_text(s, 1, job_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, seq);
    src = sqlite3_step(s);
    if (src != SQLITE_ROW) {
        rc = src == SQLITE_DONE ? DS_ENOTFOUND : ds__store_fail(st, src, "split: batch");
        goto out;
    }
    ds__store_copy(state, sizeof(state), (const char *)sqlite3_column_text(s, 0));
    first = (long)sqlite3_column_int64(s, 1);
    last = (long)sqlite3_column_int64(s, 2);
    nrows = (long)sqlite3_column_int64(s, 3);
    max_seq = (long)sqlite3_column_int64(s, 4);
    sqlite3_finalize(s);
    s = NULL;
    if (strcmp(state, "pending") != 0 && strcmp(state, "in_flight") != 0 &&
        strcmp(state, "retry_wait") != 0) {
        rc = DS_EINVAL;
        goto out;
    }
    if (nrows < 2) {
        rc = DS_ETOOBIG; /* one row cannot be made smaller */
        goto out;
    }
    rc = nth_row(st, job_id, first, last, nrows / 2, &mid);
    if (rc == 0) {
        rc = insert_half(st, job_id, max_seq + 1, first, mid - 1);
    }
    if (rc == 0) {
        rc = insert_half(st, job_id, max_seq + 2, mid, last);
    }
    if (rc != 0) {
        goto out;
    }
    src = sqlite3_prepare_v2(st->db,
                             "UPDATE batches SET state = 'split', last_error_code = ?3, "
                             "updated_at = ?4 WHERE job_id = ?1 AND seq = ?2",
                             -1, &s, NULL);
    if (src != SQLITE_OK) {
        rc = ds__store_fail(st, src, "split: mark");
        goto out;
    }
    sqlite3_bind_text(s, 1, job_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, seq);
    ds__store_bind_text(s, 3, code);
    sqlite3_bind_double(s, 4, ds__store_now());
    rc = ds__store_run(st, s, "split: mark");
    if (rc == 0) {
        rc = ds__store_event(st, "batch_split", 0, job_id, seq, code, NULL);
    }
out:
    sqlite3_finalize(s);
    if (rc != 0) {
        ds__store_rollback(st);
        return rc;
    }
    rc = ds__store_commit(st);
    if (rc == 0) {
        if (seq_a != NULL) {
            *seq_a = max_seq + 1;
        }
        if (seq_b != NULL) {
            *seq_b = max_seq + 2;
        }
    }
    return rc;
}
