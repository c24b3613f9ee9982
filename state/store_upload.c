/*
 * store_upload.c — delivery: what the loop thread's uploader reads and
 * writes as batches go to the cloud and come back.
 *
 * A batch is a run of consecutive outbound items of one job, cut by
 * ds_store_job_staged; its items are the job's outbound items within the
 * batch's row range, found through the primary key. Each transition below checks the
 * state it starts from, so a late or doubled call is refused (DS_EINVAL)
 * instead of bending the state machine; the diagram is in store.c.
 *
 * The cloud's answers are hostile input: a result for a row the batch does
 * not hold, or a second result for the same row, changes nothing (it is
 * counted in the batch_acked event); an unknown status is refused.
 */
#include "state/store_int.h"

#include "agent/core/crash.h"
#include "agent/core/jsonw.h"
#include "agent/core/log.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A batches row. */
struct batch {
    char state[16];
    long first_row;
    long last_row;
    long nrows;
    int attempts;
    char digest[DS_SHA256_HEX];
};

static int batch_get(struct ds_store *st, const char *job_id, long seq, struct batch *b)
{
    memset(b, 0, sizeof(*b));
    return ds__store_row(st, DS__Q_BATCH_GET,
                         "SELECT state, first_row, last_row, nrows, attempts, digest FROM batches "
                         "WHERE job_id = ?1 AND seq = ?2",
                         "batch get", "tl", "tlllnt", job_id, seq, b->state, sizeof(b->state),
                         &b->first_row, &b->last_row, &b->nrows, &b->attempts, b->digest,
                         sizeof(b->digest));
}

/* Opens the state change of batch (job_id, seq), DS_EINVAL unless args_ok
 * (the caller's check of its arguments) and job_id: begins, reads the batch
 * into *b and checks that it is in one of the states of `from` (a list
 * ending in NULL). From any other it is refused (DS_EINVAL), as a late or
 * doubled call must be. On failure nothing stays open. */
static int batch_begin(struct ds_store *st, int args_ok, const char *job_id, long seq,
                       struct batch *b, const char *const *from, const char *what)
{
    int rc = ds__store_change(st, args_ok && job_id != NULL);

    if (rc != 0) {
        return rc;
    }
    rc = batch_get(st, job_id, seq, b);
    for (size_t i = 0; rc == 0 && from[i] != NULL; i++) {
        if (strcmp(b->state, from[i]) == 0) {
            return 0;
        }
    }
    if (rc == 0) {
        ds_log_error("STORE_STATE", "store: job %s batch %ld is %s; cannot %s", job_id, seq,
                     b->state, what);
        rc = DS_EINVAL;
    }
    ds__store_rollback(st);
    return rc;
}

/* ---- jobs --------------------------------------------------------------- */

int ds_store_job_get(struct ds_store *st, const char *job_id, struct ds_job_info *out)
{
    struct ds_job_info j;
    int rc;

    if (st == NULL || job_id == NULL || out == NULL) {
        return DS_EINVAL;
    }
    memset(&j, 0, sizeof(j));
    /* ds_store_job_begin checked every length, so these copies fit. */
    rc = ds__store_row(st, DS__Q_JOB_GET,
                       "SELECT id, practice, import_type, template_id, filename, sha256, state, "
                       "total_rows, remote_open FROM jobs WHERE id = ?1",
                       "job get", "t", "tttttttln", job_id, j.id, sizeof(j.id), j.practice,
                       sizeof(j.practice), j.import_type, sizeof(j.import_type), j.template_id,
                       sizeof(j.template_id), j.filename, sizeof(j.filename), j.sha256,
                       sizeof(j.sha256), j.state, sizeof(j.state), &j.total_rows, &j.remote_open);
    if (rc == DS_ETOOBIG) {
        rc = DS_ECORRUPT;
    }
    if (rc != DS_ENOTFOUND && rc != DS_ECORRUPT && rc != 0) {
        return rc;
    }
    if (rc != DS_ENOTFOUND) {
        *out = j;
    }
    return rc;
}

/* ds_store_jobs_uploading's walk: the caller's callback and the row read. */
struct jobs_walk {
    ds_store_job_cb cb;
    void *ctx;
    int64_t last;
    char id[DS_UUID_LEN];
};

static int jobs_walk_row(struct ds_store *st, void *ctx)
{
    struct jobs_walk *w = ctx;
    struct ds_job_info job;
    int rc;

    rc = ds_store_job_get(st, w->id, &job);
    return rc != 0 ? rc : w->cb(w->ctx, &job);
}

int ds_store_jobs_uploading(struct ds_store *st, ds_store_job_cb cb, void *ctx)
{
    struct jobs_walk w = {cb, ctx, 0, ""};

    if (st == NULL || cb == NULL) {
        return DS_EINVAL;
    }
    /* Oldest first: jobs.rowid grows with each job created. One job per
     * query, the statement reset before the callback runs, so the callback
     * may call back into the store. */
    return ds__store_each(st, DS__Q_JOBS_UPLOADING,
                          "SELECT rowid, id FROM jobs WHERE state = 'uploading' AND rowid > ?1 "
                          "ORDER BY rowid LIMIT 1",
                          "jobs uploading", jobs_walk_row, &w, "p", "it", &w.last, &w.last, w.id,
                          sizeof(w.id));
}

int ds_store_job_opened(struct ds_store *st, const char *job_id)
{
    int rc;

    rc = ds__store_change(st, st != NULL && job_id != NULL);
    if (rc != 0) {
        return rc;
    }
    rc = ds__store_exec(st, DS__Q_JOB_OPENED, "UPDATE jobs SET remote_open = 1 WHERE id = ?1",
                        "job opened", "t", job_id);
    if (rc == 0 && sqlite3_changes(st->db) == 0) {
        rc = DS_ENOTFOUND;
    }
    rc = ds__store_then_event(st, rc, "job_opened", 0, job_id, 0, NULL, NULL);
    return ds__store_end(st, rc);
}

/* Counts of a job's rows by a column: sql selects (name, count) pairs;
 * each count goes to the slot of its name in names (a name not there is
 * left out) and adds to *total (may be NULL). */
static int count_by(struct ds_store *st, enum ds__store_q q, const char *sql, const char *what,
                    const char *job_id, const char *const *names, long *const *slot, size_t n,
                    long *total)
{
    sqlite3_stmt *s = NULL;
    const char *name;
    long count;
    int rc;

    rc = ds__store_job_state(st, job_id, NULL, NULL);
    if (rc != 0) {
        return rc;
    }
    rc = ds__store_prep(st, q, sql, what, &s, "t", job_id);
    while (rc == 0 && (rc = ds__store_step(st, s, what)) == 1) {
        rc = ds__store_cols(s, "sl", &name, &count);
        if (total != NULL) {
            *total += count;
        }
        for (size_t i = 0; i < n; i++) {
            if (strcmp(name, names[i]) == 0) {
                *slot[i] = count;
                break;
            }
        }
    }
    ds__store_done(q, &s);
    return rc;
}

int ds_store_job_batch_counts(struct ds_store *st, const char *job_id, struct ds_batch_counts *out)
{
    static const char *const names[] = {"pending", "in_flight", "retry_wait", "acked", "rejected"};
    long *slot[sizeof(names) / sizeof(names[0])];

    if (st == NULL || job_id == NULL || out == NULL) {
        return DS_EINVAL;
    }
    memset(out, 0, sizeof(*out));
    slot[0] = &out->pending;
    slot[1] = &out->in_flight;
    slot[2] = &out->retry_wait;
    slot[3] = &out->acked;
    slot[4] = &out->rejected;
    return count_by(st, DS__Q_BATCH_COUNTS,
                    "SELECT state, count(*) FROM batches WHERE job_id = ?1 GROUP BY state",
                    "batch counts", job_id, names, slot, sizeof(names) / sizeof(names[0]), NULL);
}

int ds_store_job_item_counts(struct ds_store *st, const char *job_id, struct ds_item_counts *out)
{
    static const char *const names[] = {"valid",        "invalid",  "duplicate", "sent",
                                        "created",      "updated",  "unchanged", "conflict",
                                        "needs_review", "rejected", "skipped",   "deleted"};
    long *slot[sizeof(names) / sizeof(names[0])];

    if (st == NULL || job_id == NULL || out == NULL) {
        return DS_EINVAL;
    }
    memset(out, 0, sizeof(*out));
    slot[0] = &out->valid;
    slot[1] = &out->invalid;
    slot[2] = &out->duplicate;
    slot[3] = &out->sent;
    slot[4] = &out->created;
    slot[5] = &out->updated;
    slot[6] = &out->unchanged;
    slot[7] = &out->conflict;
    slot[8] = &out->needs_review;
    slot[9] = &out->rejected;
    slot[10] = &out->skipped;
    slot[11] = &out->deleted;
    return count_by(st, DS__Q_ITEM_COUNTS,
                    "SELECT status, count(*) FROM items WHERE job_id = ?1 GROUP BY status",
                    "item counts", job_id, names, slot, sizeof(names) / sizeof(names[0]),
                    &out->total);
}

int ds_store_job_completed(struct ds_store *st, const char *job_id)
{
    struct ds_batch_counts b;
    struct ds_item_counts c;
    const char *final;
    char state[24];
    char detail[160];
    int64_t file_id = 0;
    long open_jobs = 0;
    int changed = 0;
    int rc;

    rc = ds__store_change(st, st != NULL && job_id != NULL);
    if (rc != 0) {
        return rc;
    }
    rc = ds__store_job_state(st, job_id, state, &file_id);
    if (rc != 0) {
        goto out;
    }
    if (strcmp(state, "completed") == 0 || strcmp(state, "completed_with_errors") == 0) {
        goto out; /* told twice: nothing to do */
    }
    if (strcmp(state, "uploading") != 0) {
        ds_log_error("STORE_STATE", "store: job %s is %s; cannot complete it", job_id, state);
        rc = DS_EINVAL;
        goto out;
    }
    rc = ds_store_job_batch_counts(st, job_id, &b);
    if (rc != 0) {
        goto out;
    }
    if (b.pending + b.in_flight + b.retry_wait > 0) {
        ds_log_error("STORE_STATE", "store: job %s still has %ld batch(es) to deliver", job_id,
                     b.pending + b.in_flight + b.retry_wait);
        rc = DS_EBUSY;
        goto out;
    }
    rc = ds_store_job_item_counts(st, job_id, &c);
    if (rc != 0) {
        goto out;
    }
    /* Duplicates are fine: the first row with the key went. Anything not
     * settled by the cloud (valid, sent) cannot remain with every batch
     * final, but would count as an error. */
    final = c.invalid + c.rejected + c.conflict + c.needs_review + c.valid + c.sent > 0
                ? "completed_with_errors"
                : "completed";
    rc = ds__store_exec(st, DS__Q_JOB_COMPLETED,
                        "UPDATE jobs SET state = ?2, completed_at = ?3 WHERE id = ?1",
                        "job completed", "ttd", job_id, final, ds__store_now());
    if (rc == 0) {
        /* A file of several jobs (rows routed to other types) is done with
         * the last of them (store_route.c). */
        rc = ds__store_file_jobs_open(st, file_id, &open_jobs);
    }
    if (rc == 0 && open_jobs == 0) {
        rc = ds__store_file_set_state(st, file_id, "uploading", "done", &changed);
        if (rc == 0 && !changed) {
            /* A job without a batch never went uploading. */
            rc = ds__store_file_set_state(st, file_id, "staged", "done", &changed);
        }
    }
    if (rc != 0) {
        goto out;
    }
    snprintf(detail, sizeof(detail),
             "%ld rows: %ld created, %ld updated, %ld unchanged, %ld duplicate, %ld invalid, "
             "%ld rejected, %ld conflict, %ld needs_review",
             c.total, c.created, c.updated, c.unchanged, c.duplicate, c.invalid, c.rejected,
             c.conflict, c.needs_review);
    rc = ds__store_event(st, "job_completed", file_id, job_id, 0, final, detail);
    if (rc == 0) {
        ds_crash_point("job_completed_before_commit");
    }
out:
    rc = ds__store_end(st, rc);
    if (rc == 0) {
        ds_crash_point("job_completed_after_commit");
    }
    return rc;
}

/* ---- batches ------------------------------------------------------------ */

/* The earliest future next attempt among the job's retry_wait batches, or
 * 0. */
static int batch_next_due(struct ds_store *st, const char *job_id, double now, double *next_due)
{
    /* min() of no row is NULL, which reads as 0. */
    return ds__store_row(st, DS__Q_BATCH_NEXT_DUE,
                         "SELECT min(next_attempt_at) FROM batches WHERE job_id = ?1 "
                         "AND state = 'retry_wait' AND next_attempt_at > ?2",
                         "batch next due", "td", "d", job_id, now, next_due);
}

int ds_store_batch_next(struct ds_store *st, const char *job_id, double now,
                        ds_store_seq_skip_cb skip, void *ctx, long *seq, double *next_due)
{
    sqlite3_stmt *s = NULL;
    long candidate;
    int found = 0;
    int rc;

    if (st == NULL || job_id == NULL || seq == NULL) {
        return DS_EINVAL;
    }
    rc = ds__store_prep(
        st, DS__Q_BATCH_DUE,
        "SELECT seq FROM batches WHERE job_id = ?1 "
        "AND (state = 'pending' OR (state = 'retry_wait' AND next_attempt_at <= ?2)) "
        /* A file's jobs go one after the other, in the order ingest began
         * them: the sheets of a workbook (patients before the appointments
         * that refer to them) and the jobs a route makes. */
        "AND NOT EXISTS (SELECT 1 FROM jobs me JOIN jobs o ON o.file_id = me.file_id "
        "AND o.rowid < me.rowid JOIN batches ob ON ob.job_id = o.id "
        "WHERE me.id = ?1 AND ob.state NOT IN ('acked', 'rejected')) "
        "ORDER BY seq",
        "batch next", &s, "td", job_id, now);
    /* skip looks only at the uploader's own bookkeeping; it must not call
     * into the store while this statement runs. */
    while (rc == 0 && !found && (rc = ds__store_step(st, s, "batch next")) == 1) {
        rc = ds__store_cols(s, "l", &candidate);
        if (skip == NULL || skip(ctx, candidate) == 0) {
            *seq = candidate;
            found = 1;
        }
    }
    if (rc == 0 && next_due != NULL) {
        rc = batch_next_due(st, job_id, now, next_due);
    }
    ds__store_done(DS__Q_BATCH_DUE, &s);
    return rc != 0 ? rc : found;
}

/* Sets the batch in flight, its items sent, and the file uploading with the
 * job's first batch. */
static int send_mark(struct ds_store *st, const char *job_id, long seq, const struct batch *b)
{
    static const struct ds__store_sql send[2] = {
        {DS__Q_BATCH_IN_FLIGHT,
         "UPDATE batches SET state = 'in_flight', attempts = attempts + 1, "
         "next_attempt_at = NULL, updated_at = ?3 WHERE job_id = ?1 AND seq = ?2",
         "batch in flight"},
        {DS__Q_BATCH_ITEMS_SENT,
         "UPDATE items SET status = 'sent' WHERE job_id = ?1 "
         "AND row BETWEEN ?2 AND ?3 AND outbound = 1 AND status = 'valid'",
         "items sent"},
    };
    int64_t file_id = 0;
    char detail[32];
    int changed = 0;
    int rc;

    rc = ds__store_job_in(st, job_id, "uploading", &file_id, "; its batches are not sent");
    if (rc == 0) {
        rc = ds__store_batch_move(st, send, job_id, seq, b->first_row, b->last_row);
    }
    if (rc == 0) {
        rc = ds__store_file_set_state(st, file_id, "staged", "uploading", &changed);
    }
    if (rc == 0 && changed) {
        rc = ds__store_event(st, "file_uploading", file_id, job_id, 0, NULL, NULL);
    }
    if (rc == 0) {
        snprintf(detail, sizeof(detail), "attempt %d", b->attempts + 1);
        rc = ds__store_event(st, "batch_sent", 0, job_id, seq, NULL, detail);
    }
    return rc;
}

/* Hands the batch's rows to cb in row order and checks them against the
 * batch: the same count and the digest fixed when it was cut. */
static int send_rows(struct ds_store *st, const char *job_id, long seq, const struct batch *b,
                     ds_store_row_cb cb, void *ctx)
{
    sqlite3_stmt *s = NULL;
    struct ds_batch_row r;
    char digest[DS_SHA256_HEX];
    const char *raw_names = NULL;
    const char *record_names = NULL;
    struct ds_buf raw;
    struct ds_buf record;
    long n = 0;
    int rc;

    /* The job's names come with its items, from the same statement, as in
     * ds_store_job_failed_rows. */
    ds_buf_init(&raw, SIZE_MAX);
    ds_buf_init(&record, SIZE_MAX);
    rc = ds__store_prep(st, DS__Q_BATCH_ROWS,
                        "SELECT row, key, fingerprint, record, op, raw, "
                        "(SELECT raw_columns FROM jobs WHERE id = ?1), "
                        "(SELECT record_fields FROM jobs WHERE id = ?1) FROM items "
                        "WHERE job_id = ?1 "
                        "AND row BETWEEN ?2 AND ?3 AND outbound = 1 ORDER BY row",
                        "batch rows", &s, "tll", job_id, b->first_row, b->last_row);
    ds_sha256_final(st->sha, digest); /* starts a fresh digest */
    while (rc == 0 && (rc = ds__store_step(st, s, "batch rows")) == 1) {
        rc = ds__store_cols(s, "lsss-sss", &r.row, &r.key, &r.fingerprint, &r.record_json,
                            &r.raw_json, &raw_names, &record_names);
        r.op_delete = sqlite3_column_type(s, 4) != SQLITE_NULL;
        ds__store_digest_row(st->sha, r.row, r.key, r.fingerprint);
        n++;
        if (rc == 0 && cb != NULL) {
            rc = ds__store_zip(job_id, r.row, "record", record_names, r.record_json,
                               DS_JSONW_ZIP_PRESENT, &record, &r.record_json);
            if (rc == 0) {
                rc = ds__store_zip(job_id, r.row, "raw", raw_names, r.raw_json, 0, &raw,
                                   &r.raw_json);
            }
            if (rc == 0) {
                rc = cb(ctx, &r);
            }
        }
    }
    ds__store_done(DS__Q_BATCH_ROWS, &s);
    ds_buf_close(&raw);
    ds_buf_close(&record);
    if (rc != 0) {
        return rc;
    }
    ds_sha256_final(st->sha, digest);
    if (n != b->nrows || strcmp(digest, b->digest) != 0) {
        ds_log_error("STORE_CORRUPT",
                     "store: job %s batch %ld no longer matches its digest (%ld of %ld rows)",
                     job_id, seq, n, b->nrows);
        rc = DS_ECORRUPT;
    }
    return rc;
}

int ds_store_batch_send(struct ds_store *st, const char *job_id, long seq, ds_store_row_cb cb,
                        void *ctx, char digest[DS_SHA256_HEX], int *attempts)
{
    static const char *const from[] = {"pending", "retry_wait", NULL};
    struct batch b;
    int rc;

    rc = batch_begin(st, st != NULL && digest != NULL, job_id, seq, &b, from, "send it");
    if (rc != 0) {
        return rc;
    }
    rc = send_mark(st, job_id, seq, &b);
    if (rc == 0) {
        /* Inside the transaction: a callback that fails (a row too big for
         * the body, say) leaves the batch as it was. cb must not call into
         * the store. */
        rc = send_rows(st, job_id, seq, &b, cb, ctx);
    }
    rc = ds__store_end(st, rc);
    if (rc == 0) {
        ds_crash_point("batch_in_flight_after_commit");
        memcpy(digest, b.digest, DS_SHA256_HEX);
        if (attempts != NULL) {
            *attempts = b.attempts + 1;
        }
    }
    return rc;
}

static int result_status_ok(const char *status)
{
    static const char *const ok[] = {"created",  "updated",      "unchanged", "deleted",
                                     "conflict", "needs_review", "rejected"};

    for (size_t i = 0; status != NULL && i < sizeof(ok) / sizeof(ok[0]); i++) {
        if (strcmp(status, ok[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Writes each result on its item; *unknown counts the results that matched
 * no item of the batch still `sent`. */
static int acked_results(struct ds_store *st, const char *job_id, long seq, const struct batch *b,
                         const struct ds_item_result *results, size_t n, long *unknown)
{
    int rc;

    for (size_t i = 0; i < n; i++) {
        if (!result_status_ok(results[i].status)) {
            ds_log_error("BAD_RESPONSE", "store: job %s batch %ld row %ld: unknown result status",
                         job_id, seq, results[i].row);
            return DS_EINVAL;
        }
        rc = ds__store_exec(
            st, DS__Q_BATCH_RESULT,
            "UPDATE items SET status = ?4, record_id = ?5, error_code = ?6, error = ?7 "
            "WHERE job_id = ?1 AND row = ?2 AND row BETWEEN ?3 AND ?8 AND outbound = 1 "
            "AND status = 'sent'",
            "item result", "tllttttl", job_id, results[i].row, b->first_row, results[i].status,
            results[i].record_id, results[i].error_code, results[i].error_msg, b->last_row);
        if (rc != 0) {
            return rc;
        }
        if (sqlite3_changes(st->db) == 0) {
            (*unknown)++;
        }
    }
    return 0;
}

/* Items of the batch the answer did not mention: `rejected`. */
static int acked_missing(struct ds_store *st, const char *job_id, const struct batch *b,
                         long *missing)
{
    int rc = ds__store_exec(st, DS__Q_BATCH_MISSING,
                            "UPDATE items SET status = 'rejected', error_code = 'MISSING_RESULT', "
                            "error = 'the cloud returned no result for this row' "
                            "WHERE job_id = ?1 AND row BETWEEN ?2 AND ?3 AND outbound = 1 "
                            "AND status = 'sent'",
                            "items missing", "tll", job_id, b->first_row, b->last_row);

    if (rc == 0) {
        *missing = sqlite3_changes(st->db);
    }
    return rc;
}

/* Moves a batch to `retry_wait` or `rejected` with its error: ?1 job, ?2
 * seq, ?3 now, ?4 next attempt, ?5 code, ?6 message. */
static int batch_set(struct ds_store *st, enum ds__store_q q, const char *sql, const char *job_id,
                     long seq, double next_at, const char *code, const char *message)
{
    return ds__store_exec(st, q, sql, "batch state", "tlddtt", job_id, seq, ds__store_now(),
                          next_at, code, message);
}

int ds_store_batch_acked(struct ds_store *st, const char *job_id, long seq,
                         const struct ds_item_result *results, size_t n)
{
    static const char *const from[] = {"in_flight", NULL};
    struct batch b;
    char detail[96];
    long unknown = 0;
    long missing = 0;
    int rc;

    rc = batch_begin(st, st != NULL && (results != NULL || n == 0), job_id, seq, &b, from,
                     "acknowledge it");
    if (rc != 0) {
        return rc;
    }
    rc = acked_results(st, job_id, seq, &b, results, n, &unknown);
    if (rc == 0) {
        rc = acked_missing(st, job_id, &b, &missing);
    }
    if (rc == 0) {
        rc = ds__store_synced_acked(st, job_id, b.first_row, b.last_row);
    }
    if (rc == 0) {
        rc = ds__store_exec(st, DS__Q_BATCH_ACKED,
                            "UPDATE batches SET state = 'acked', updated_at = ?3 "
                            "WHERE job_id = ?1 AND seq = ?2",
                            "batch state", "tld", job_id, seq, ds__store_now());
    }
    if (rc != 0) {
        goto out;
    }
    if (unknown > 0 || missing > 0) {
        ds_log_warn("MISSING_RESULT",
                    "store: job %s batch %ld: %ld row(s) without a result, %ld result(s) for no "
                    "row of the batch",
                    job_id, seq, missing, unknown);
    }
    snprintf(detail, sizeof(detail), "%zu results, %ld missing, %ld unmatched", n, missing,
             unknown);
    rc = ds__store_event(st, "batch_acked", 0, job_id, seq, missing > 0 ? "MISSING_RESULT" : NULL,
                         detail);
    if (rc == 0) {
        ds_crash_point("batch_acked_before_commit");
    }
out:
    rc = ds__store_end(st, rc);
    if (rc == 0) {
        ds_crash_point("batch_acked_after_commit");
    }
    return rc;
}

int ds_store_batch_retry(struct ds_store *st, const char *job_id, long seq, double next_at,
                         const char *code)
{
    static const char *const from[] = {"in_flight", NULL};
    struct batch b;
    int rc;

    rc = batch_begin(st, st != NULL, job_id, seq, &b, from, "retry it");
    if (rc != 0) {
        return rc;
    }
    rc = batch_set(st, DS__Q_BATCH_RETRY,
                   "UPDATE batches SET state = 'retry_wait', updated_at = ?3, "
                   "next_attempt_at = ?4, last_error_code = ?5, last_error = ?6 "
                   "WHERE job_id = ?1 AND seq = ?2",
                   job_id, seq, next_at, code, NULL);
    rc = ds__store_then_event(st, rc, "batch_retry", 0, job_id, seq, code, NULL);
    return ds__store_end(st, rc);
}

int ds_store_batch_rejected(struct ds_store *st, const char *job_id, long seq, const char *code,
                            const char *message)
{
    static const char *const from[] = {"pending", "in_flight", "retry_wait", NULL};
    struct batch b;
    int rc;

    rc = batch_begin(st, st != NULL, job_id, seq, &b, from, "reject it");
    if (rc != 0) {
        return rc;
    }
    rc = batch_set(st, DS__Q_BATCH_REJECTED,
                   "UPDATE batches SET state = 'rejected', updated_at = ?3, "
                   "next_attempt_at = NULL, last_error_code = ?5, last_error = ?6 "
                   "WHERE job_id = ?1 AND seq = ?2",
                   job_id, seq, 0, code, message);
    if (rc != 0) {
        goto out;
    }
    rc = ds__store_exec(st, DS__Q_BATCH_ITEMS_REJECTED,
                        "UPDATE items SET status = 'rejected', error_code = ?4, error = ?5 "
                        "WHERE job_id = ?1 AND row BETWEEN ?2 AND ?3 AND outbound = 1 "
                        "AND status IN ('valid', 'sent')",
                        "items rejected", "tlltt", job_id, b.first_row, b.last_row, code, message);
    rc = ds__store_then_event(st, rc, "batch_rejected", 0, job_id, seq, code, message);
out:
    return ds__store_end(st, rc);
}
