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
#include "state/store_int.h"

#include <string.h>

/* The outbound rows of a batch's range, in order: the row at index `at`
 * (0-based) is written into *row. */
static int nth_row(struct ds_store *st, const char *job_id, long first, long last, long at,
                   long *row)
{
    int rc = ds__store_row(st, DS__Q_ONCE,
                           "SELECT row FROM items WHERE job_id = ?1 AND row BETWEEN ?2 AND ?3 "
                           "AND outbound = 1 ORDER BY row LIMIT 1 OFFSET ?4",
                           "split: rows", "tlll", "l", job_id, first, last, at, row);

    return rc == DS_ENOTFOUND ? DS_ECORRUPT : rc;
}

/* Inserts a pending batch over [first, last] with its digest and count. */
static int insert_half(struct ds_store *st, const char *job_id, long seq, long first, long last)
{
    sqlite3_stmt *s = NULL;
    char digest[DS_SHA256_HEX];
    long n = 0;
    double now = ds__store_now();
    int rc;

    rc = ds__store_prep(st, DS__Q_ONCE,
                        "SELECT row, key, fingerprint FROM items WHERE job_id = ?1 AND row "
                        "BETWEEN ?2 AND ?3 AND outbound = 1 ORDER BY row",
                        "split: digest", &s, "tll", job_id, first, last);
    ds_sha256_final(st->sha, digest); /* a fresh digest */
    while (rc == 0 && (rc = ds__store_step(st, s, "split: digest")) == 1) {
        ds__store_digest_row(st->sha, (long)sqlite3_column_int64(s, 0),
                             (const char *)sqlite3_column_text(s, 1),
                             (const char *)sqlite3_column_text(s, 2));
        n++;
        rc = 0;
    }
    ds__store_done(DS__Q_ONCE, &s);
    if (rc != 0) {
        return rc;
    }
    ds_sha256_final(st->sha, digest);
    return ds__store_exec(st, DS__Q_ONCE,
                          "INSERT INTO batches (job_id, seq, state, first_row, last_row, nrows, "
                          "digest, created_at, updated_at) "
                          "VALUES (?1, ?2, 'pending', ?3, ?4, ?5, ?6, ?7, ?7)",
                          "split: insert", "tlllltd", job_id, seq, first, last, n, digest, now);
}

int ds_store_batch_split(struct ds_store *st, const char *job_id, long seq, const char *code,
                         long *seq_a, long *seq_b)
{
    long first = 0;
    long last = 0;
    long nrows = 0;
    long max_seq = 0;
    long mid = 0;
    char state[24] = "";
    int rc;

    rc = ds__store_begin(st);
    if (rc != 0) {
        return rc;
    }
    rc = ds__store_row(st, DS__Q_ONCE,
                       "SELECT state, first_row, last_row, nrows, "
                       "(SELECT max(seq) FROM batches WHERE job_id = ?1) "
                       "FROM batches WHERE job_id = ?1 AND seq = ?2",
                       "split: batch", "tl", "tllll", job_id, seq, state, sizeof(state), &first,
                       &last, &nrows, &max_seq);
    if (rc != 0) {
        goto out;
    }
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
    rc = ds__store_exec(st, DS__Q_ONCE,
                        "UPDATE batches SET state = 'split', last_error_code = ?3, "
                        "updated_at = ?4 WHERE job_id = ?1 AND seq = ?2",
                        "split: mark", "tltd", job_id, seq, code, ds__store_now());
    rc = ds__store_then_event(st, rc, "batch_split", 0, job_id, seq, code, NULL);
out:
    rc = ds__store_end(st, rc);
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
