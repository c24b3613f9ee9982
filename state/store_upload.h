/*
 * store_upload.h — delivery: what the uploader on the loop thread reads and
 * writes as batches go to the cloud and come back (store_upload.c,
 * store_split.c).
 */
#ifndef DS_STATE_STORE_UPLOAD_H
#define DS_STATE_STORE_UPLOAD_H

#include "state/store.h"

/* A job as the uploader needs it. Strings are copies inside the struct. */
struct ds_job_info {
    char id[DS_UUID_LEN];
    char practice[128];
    char import_type[32];
    char template_id[128];
    char filename[512]; /* the base name of the file */
    char sha256[DS_SHA256_HEX];
    char state[24];
    long total_rows;
    int remote_open; /* 1 once the cloud acknowledged POST /v1/jobs */
};

/* Jobs in state `uploading`, oldest first; cb as for files. */
typedef int (*ds_store_job_cb)(void *ctx, const struct ds_job_info *job);
int ds_store_jobs_uploading(struct ds_store *st, ds_store_job_cb cb, void *ctx);

int ds_store_job_get(struct ds_store *st, const char *job_id, struct ds_job_info *out);

/* The cloud acknowledged POST /v1/jobs for this job. */
int ds_store_job_opened(struct ds_store *st, const char *job_id);

/* The next batch of job_id that may be sent at time now: `pending`, or
 * `retry_wait` whose next attempt is due, lowest seq first — none while a
 * job of the same file begun before it has a batch not yet acked or
 * rejected (a file's jobs go in order: a workbook's patients before its
 * appointments) — skipping seqs
 * for which skip(ctx, seq) returns non-zero (the ones the uploader has in
 * hand). 1 and *seq set, 0 if none is due, negative on error. *next_due
 * (may be NULL) receives the earliest future next-attempt time among the
 * job's retry_wait batches, or 0. */
typedef int (*ds_store_seq_skip_cb)(void *ctx, long seq);
int ds_store_batch_next(struct ds_store *st, const char *job_id, double now,
                        ds_store_seq_skip_cb skip, void *ctx, long *seq, double *next_due);

/* One row of a batch, as sent on the wire. Borrowed during the callback. */
struct ds_batch_row {
    long row;
    const char *key;
    const char *fingerprint; /* "delete" for a deletion row */
    const char *record_json; /* NULL for a deletion row */
    const char *raw_json;    /* the row's original mapped columns, or NULL */
    int op_delete;           /* 1: a deletion row ("op":"delete", no record) */
};
typedef int (*ds_store_row_cb)(void *ctx, const struct ds_batch_row *r);

/* Marks the batch `in_flight` (attempts + 1), then calls cb for each of its
 * rows in row order, and writes the batch's digest into digest.
 * The digest is computed from the queue, not from the bytes sent: the
 * SHA-256 (hex) of the lines "<row>\t<key>\t<fingerprint>\n" of its rows in
 * row order; the same batch always has the same digest. */
int ds_store_batch_send(struct ds_store *st, const char *job_id, long seq, ds_store_row_cb cb,
                        void *ctx, char digest[DS_SHA256_HEX], int *attempts);

/* The cloud's answer for one row of an acknowledged batch. */
struct ds_item_result {
    long row;
    const char *status;     /* created, updated, unchanged, deleted, conflict,
                               needs_review, rejected */
    const char *record_id;  /* may be NULL */
    const char *error_code; /* may be NULL */
    const char *error_msg;  /* may be NULL; no patient data */
};

/* The batch was acknowledged: items take their results (an item of the
 * batch the answer does not mention becomes `rejected` with code
 * MISSING_RESULT), the batch becomes `acked`, event `batch_acked`. In the
 * same transaction the synced table follows (store_delta.c): a row
 * created, updated or unchanged records its key and fingerprint, a
 * deletion row deleted or unchanged removes its key. */
int ds_store_batch_acked(struct ds_store *st, const char *job_id, long seq,
                         const struct ds_item_result *results, size_t n);

/* A retryable failure: the batch becomes `retry_wait` until next_at, with
 * the code kept as its last error; event `batch_retry`. */
int ds_store_batch_retry(struct ds_store *st, const char *job_id, long seq, double next_at,
                         const char *code);

/* A permanent failure: the batch becomes `rejected` with its code and
 * message, its items `rejected` with the same; event `batch_rejected`. */
int ds_store_batch_rejected(struct ds_store *st, const char *job_id, long seq, const char *code,
                            const char *message);

/* The cloud acknowledged POST /v1/jobs/{id}/complete: the job becomes
 * `completed` (every item created/updated/unchanged/duplicate) or
 * `completed_with_errors`, the file `done` once every job of it is
 * completed; event `job_completed`. */
int ds_store_job_completed(struct ds_store *st, const char *job_id);

/* ---- splitting (store_split.c) -------------------------------------------- */

/* Replaces a batch the cloud found too large (413, or over the byte cap)
 * by two `pending` batches holding its halves, numbered after the job's
 * highest seq (*seq_a, *seq_b; may be NULL); the batch becomes `split`
 * (final, never sent again) with code kept; event `batch_split`.
 * DS_ETOOBIG for a batch of one row, DS_EINVAL unless it is pending,
 * in_flight or retry_wait. */
int ds_store_batch_split(struct ds_store *st, const char *job_id, long seq, const char *code,
                         long *seq_a, long *seq_b);

#endif
