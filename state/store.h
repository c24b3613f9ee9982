/*
 * store.h — the local queue: the agent's single source of truth.
 *
 * The only code in dentsync that opens SQLite. One struct ds_store is one
 * connection: the loop thread has its own, and each ingest (run off the loop
 * with uv_queue_work) opens its own; WAL mode lets them work side by side.
 * Every state change below is one transaction, so a crash at any instant
 * resumes exactly where it stopped (docs/states.md has the state machines).
 *
 * Patient data lives only in items.record and items.raw. Nothing this module
 * logs or records in the events table carries it: events hold ids, row
 * numbers, counts and codes.
 *
 * Times are seconds since the Unix epoch as doubles (wall clock).
 */
#ifndef DS_STATE_STORE_H
#define DS_STATE_STORE_H

#include "agent/core/error.h"
#include "agent/core/hash.h"

#include <stddef.h>
#include <stdint.h>

struct ds_store; /* opaque: one SQLite connection */

/* The mode of queue.db and its -wal and -shm: the service user writes, the
 * dentsync group reads (the read-only commands); others never reach it. */
#define DS_STORE_MODE 0640

/* ---- opening ------------------------------------------------------------ */

/* Opens (creating it DS_STORE_MODE if needed) the database at path, sets WAL and a
 * busy timeout, and applies the numbered migrations in state/migrations
 * (PRAGMA user_version). new: close with ds_store_close.
 * DS_ESTORE / DS_ECORRUPT with err->msg saying what SQLite said. */
int ds_store_open(const char *path, struct ds_store **out, struct ds_error *err);

/* NULL-safe; sets *st to NULL. */
void ds_store_close(struct ds_store **st);

/* The schema version in force (the number of migrations applied). */
int ds_store_schema_version(struct ds_store *st);

/* SQLite's quick_check over the whole file (it reads every page once):
 * 0 when the queue is sound, DS_ECORRUPT with the first problem in err
 * when it is damaged, or the error that stopped the check. Changes
 * nothing. `dentsync run` calls it at start, before recovery writes. */
int ds_store_check(struct ds_store *st, struct ds_error *err);

/* Start-up recovery, run once by the loop before anything else:
 *  - a job still `staging` was cut short by a crash: its items and batches
 *    are deleted, the job row too, and its file goes back to `detected`
 *    so it is ingested again from the start;
 *  - a batch `in_flight` goes back to `pending` (the cloud's replay rule makes
 *    sending it again safe).
 * *restaged and *requeued (may be NULL) receive the counts. */
int ds_store_recover(struct ds_store *st, int *restaged, int *requeued);

/* ---- files -------------------------------------------------------------- */

/* Whether a file with this folder, path, size and mtime was already taken
 * (any state). 1 yes, 0 no, negative on error. The watcher uses it to skip
 * files it has settled before without hashing them again. */
int ds_store_file_known(struct ds_store *st, const char *folder, const char *path, int64_t size,
                        int64_t mtime_ns);

/* Records a settled file. If another file with the same sha256 was taken
 * before (in any state but `quarantined`), the new row is `duplicate` (final)
 * and *duplicate is set to 1; otherwise it is `detected` (or `held` with
 * DS_HOLD_DISK_BUDGET when the connection has a budget, ds_store_set_budget,
 * and the queue is over it: ds_store_file_held says), *duplicate is 0.
 * *file_id receives the new row's id. Writes a `file_seen` or
 * `file_duplicate` event. */
int ds_store_file_add(struct ds_store *st, const char *folder, const char *path, int64_t size,
                      int64_t mtime_ns, const char *sha256, int64_t *file_id, int *duplicate);

/* A file that cannot be ingested (unreadable, no header, no template, ...).
 * `quarantined` (final) with the reason: a code and a message without patient
 * data. Any job of the file in `staging` is deleted with its items. */
int ds_store_file_quarantine(struct ds_store *st, int64_t file_id, const char *code,
                             const char *reason);

/* The state of a file by id: writes its name into state (size >= 16). */
int ds_store_file_state(struct ds_store *st, int64_t file_id, char *state, size_t size);

/* Files in state `detected`, oldest first: calls cb for each; a non-zero
 * return from cb stops the walk and is returned. */
struct ds_file_info {
    int64_t id;
    const char *folder; /* borrow, valid during the callback */
    const char *path;
    const char *sha256;
    const char *state;
};
typedef int (*ds_store_file_cb)(void *ctx, const struct ds_file_info *f);
int ds_store_files_detected(struct ds_store *st, ds_store_file_cb cb, void *ctx);

/* ---- staging (ingest thread) -------------------------------------------- */

/* Creates job job_id (a UUID chosen by the agent) for file_id in state
 * `staging`; the file goes `detected` -> `staging`. Writes `job_created`. */
int ds_store_job_begin(struct ds_store *st, int64_t file_id, const char *job_id,
                       const char *practice, const char *import_type, const char *template_id,
                       const char *filename, const char *sha256);

/* One more job on the file of first_job_id (still `staging`) for the rows
 * its template routes to another import type (store_route.c): same file,
 * practice, file name and sha256, state `staging`. DS_EEXIST when the file
 * has a job of that import type already. Stage the file's jobs with
 * ds_store_job_staged inside one ds_store_tx_begin ... ds_store_tx_commit,
 * so they go `uploading` together. Writes `job_created`. */
int ds_store_job_begin_routed(struct ds_store *st, const char *first_job_id, const char *job_id,
                              const char *import_type, const char *template_id);

/* Items are added inside explicit transactions of any size the caller picks
 * (ingest commits every few thousand rows). */
int ds_store_tx_begin(struct ds_store *st);
int ds_store_tx_commit(struct ds_store *st);
int ds_store_tx_rollback(struct ds_store *st);

/* Item status names (docs/states.md). */
#define DS_ITEM_VALID "valid"
#define DS_ITEM_INVALID "invalid"
#define DS_ITEM_DUPLICATE "duplicate"
#define DS_ITEM_SKIPPED "skipped"     /* a template rule: not data of this type (store_delta.c) */
#define DS_ITEM_UNCHANGED "unchanged" /* synced before with the same fingerprint */

/* Adds data row `row` of a staging job. status is DS_ITEM_VALID,
 * DS_ITEM_INVALID (with error) or DS_ITEM_SKIPPED (error is the rule's
 * reason, no patient data; never uploaded). A valid item whose key is already held by
 * another valid item of the same job is stored as DS_ITEM_DUPLICATE
 * instead (the first one wins) and *stored_status says so (may be NULL).
 * record, fingerprint and error may be NULL. raw may be NULL. While one
 * connection adds a job's items, no other connection may add items to that
 * job (the connection remembers the keys it added; one that takes over a
 * job with items already in it looks every key up). */
int ds_store_item_add(struct ds_store *st, const char *job_id, long row, const char *key,
                      const char *fingerprint, const char *status, const char *record_json,
                      const char *raw_json, const char *error, const char **stored_status);

/* Gives invalid item `row` of a job the error code of a row the reader cut
 * at a cap ("FIELD_TOO_LONG", ...; store_rowerr.c). Rare: the statement is
 * not cached. DS_ENOTFOUND when there is no such invalid item. */
int ds_store_item_set_code(struct ds_store *st, const char *job_id, long row, const char *code);

/* Ends staging: records total_rows, cuts the job's valid items into batches
 * of at most batch_rows rows in row order (seq 1, 2, ...; each with its
 * Batch-Digest, see below), sets the job `uploading` and the file `staged`.
 * A job with no valid item still gets no batch and is ready to complete.
 * One transaction. The file stays `staging` while another job of it (rows
 * routed to another import type) is still staging. */
int ds_store_job_staged(struct ds_store *st, const char *job_id, long total_rows, int batch_rows);

/* ---- upload (loop thread) ----------------------------------------------- */

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

/* Counts of a job's batches by state, to decide what to do next. */
struct ds_batch_counts {
    long pending, in_flight, retry_wait, acked, rejected;
};
int ds_store_job_batch_counts(struct ds_store *st, const char *job_id, struct ds_batch_counts *out);

/* The next batch of job_id that may be sent at time now: `pending`, or
 * `retry_wait` whose next attempt is due, lowest seq first, skipping seqs
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

/* ---- counts and the audit trail ----------------------------------------- */

/* Item counts of a job by status. */
struct ds_item_counts {
    long total, valid, invalid, duplicate, sent, created, updated, unchanged, conflict,
        needs_review, rejected;
    long skipped, deleted; /* skipped by a template rule; deleted by a deletion row */
};
int ds_store_job_item_counts(struct ds_store *st, const char *job_id, struct ds_item_counts *out);

/* Appends an event (ids and codes only). Any argument but kind may be
 * NULL / 0. */
int ds_store_event(struct ds_store *st, const char *kind, int64_t file_id, const char *job_id,
                   long seq, const char *code, const char *detail);

/* ---- splitting and figures (store_split.c, store_stats.c) ---------------- */

/* Replaces a batch the cloud found too large (413, or over the byte cap)
 * by two `pending` batches holding its halves, numbered after the job's
 * highest seq (*seq_a, *seq_b; may be NULL); the batch becomes `split`
 * (final, never sent again) with code kept; event `batch_split`.
 * DS_ETOOBIG for a batch of one row, DS_EINVAL unless it is pending,
 * in_flight or retry_wait. */
int ds_store_batch_split(struct ds_store *st, const char *job_id, long seq, const char *code,
                         long *seq_a, long *seq_b);

/* What waits to be delivered. */
struct ds_queue_stats {
    long pending_rows;        /* rows of uploading jobs not yet answered */
    double oldest_pending_at; /* creation time of the oldest unfinished job, 0 if none */
    long jobs_uploading;      /* jobs in state uploading */
};
int ds_store_queue_stats(struct ds_store *st, struct ds_queue_stats *out);

/* A file as the after-delivery and quarantine handling need it; strings
 * borrowed during the callback (reason_code and reason may be NULL). */
struct ds_file_row {
    int64_t id;
    const char *folder;
    const char *path;
    int64_t size;
    int64_t mtime_ns;
    const char *state;
    const char *reason_code;
    const char *reason;
};
typedef int (*ds_store_file_row_cb)(void *ctx, const struct ds_file_row *f);

/* Files in a state, oldest first; the callback may write to the store. */
int ds_store_files_in_state(struct ds_store *st, const char *state, ds_store_file_row_cb cb,
                            void *ctx);

/* The file of a job (the callback runs once, or not at all). */
int ds_store_file_of_job(struct ds_store *st, const char *job_id, ds_store_file_row_cb cb,
                         void *ctx);

/* ---- held files, an admin's retry, disk budget, retention (store_admin.c) */

/* Why a file is `held`: it waits for an admin (`dentsync retry`), in place. */
#define DS_HOLD_NO_TEMPLATE "NO_TEMPLATE"  /* no template matched the header */
#define DS_HOLD_SNAPSHOT "SNAPSHOT_SANITY" /* a full snapshot lost too many keys */
#define DS_HOLD_DISK_BUDGET "DISK_BUDGET"  /* the queue is over max_queue_mb */

/* Holds a file for an admin: `detected` or `staging` -> `held`, with a code
 * (DS_HOLD_* or another) and a message without patient data. A job of the
 * file in `staging` is deleted with its items, so a retry ingests the file
 * again from the start. Event `file_held`. DS_EINVAL from any other state. */
int ds_store_file_hold(struct ds_store *st, int64_t file_id, const char *code, const char *reason);

/* An ingest cut short while the agent runs (no space left): the file's jobs
 * still `staging` (one per import type it routes to) are deleted with their
 * items and the file goes back to `detected`, in one transaction. A file in another state is left
 * alone. 0 or a DS_E code (DS_EFULL while there is still no space). */
int ds_store_file_unstage(struct ds_store *st, int64_t file_id);

/* An admin's retry of a held file: `held` -> `detected`, the reason
 * cleared, files.admin_retries + 1, the retry generation + 1. Event
 * `file_retried`. DS_EINVAL unless the file is held, DS_ENOTFOUND if no
 * such file. */
int ds_store_file_retry(struct ds_store *st, int64_t file_id);

/* How many times an admin retried the file (a check that held it may let
 * it through on a retry). */
int ds_store_file_admin_retries(struct ds_store *st, int64_t file_id, int *retries);

/* The newest file row with this path: *file_id, and its state into
 * state[size] (may be NULL). DS_ENOTFOUND if none. */
int ds_store_file_find(struct ds_store *st, const char *path, int64_t *file_id, char *state,
                       size_t size);

/* An admin's retry of rejected batches: each `rejected` batch of job_id (of
 * every job when job_id is NULL) whose job is still `uploading` goes back to
 * `pending`, its rejected items back to `valid` (error cleared); the retry
 * generation + 1; event `batch_retried` per batch. *batches (may be NULL)
 * receives the count; *completed (may be NULL) the number of rejected
 * batches left alone because their job is completed already (the cloud
 * takes no new batch on a completed job). */
int ds_store_batches_retry_rejected(struct ds_store *st, const char *job_id, long *batches,
                                    long *completed);

/* A counter that grows with every admin retry (files and batches) and with
 * every file the disk budget releases. A running agent reads it on each
 * rescan: when it grew, it walks ds_store_files_detected again and kicks the
 * uploader. One indexed read. */
int ds_store_retry_generation(struct ds_store *st, int64_t *generation);

/* The disk budget of this connection, in bytes (0: none). With a budget,
 * ds_store_file_add records a new file `held` (DISK_BUDGET) instead of
 * `detected` while the queue uses more than it, and ds_store_purge releases
 * such files once it uses less. Not stored: each connection sets it. */
int ds_store_set_budget(struct ds_store *st, int64_t max_bytes);

/* The bytes the queue database uses: its pages but the free ones (the WAL
 * not counted). */
int ds_store_size(struct ds_store *st, int64_t *bytes);

/* 1 if the file is `held`, 0 if not, negative on error. */
int ds_store_file_held(struct ds_store *st, int64_t file_id);

/* Retention: strips the patient data (record, raw) of the items of batches
 * acknowledged more than retention_days before now, and of the items decided
 * locally (invalid, duplicate) of jobs completed that long ago; key and
 * fingerprint stay for the delta and the digest. In transactions of a few
 * batches each. Then gives up to a bounded number of free pages back to the
 * file system (PRAGMA incremental_vacuum), and releases files held for the
 * disk budget if the queue is under it again. *purged (may be NULL) receives
 * the number of items stripped. retention_days 0 purges everything
 * acknowledged. */
int ds_store_purge(struct ds_store *st, double now, int retention_days, long *purged);

/* Gives at most max_pages free pages back to the file system (PRAGMA
 * incremental_vacuum); *freed (may be NULL) receives how many. */
int ds_store_vacuum(struct ds_store *st, long max_pages, long *freed);

/* Makes every batch waiting for a retry due now (an admin's sync-now).
 * *woken (may be NULL) receives how many. */
int ds_store_batches_wake(struct ds_store *st, int *woken);

/* ---- read-only views for the command line (store_status.c) -------------- */

/* Opens an existing queue read-only (no migration, no WAL switch, no file
 * created) for `status`, `jobs`, `job` and `events`, which may run beside a
 * running agent. DS_ENOTFOUND when there is no queue at path, DS_ECORRUPT
 * when it is not a dentsync queue or its schema is newer than this build's.
 * new: close with ds_store_close. */
int ds_store_open_readonly(const char *path, struct ds_store **out, struct ds_error *err);

/* What a folder has seen and delivered. Copies inside the struct. */
struct ds_folder_status {
    char last_file[512];   /* path of the newest file seen, "" if none */
    double last_seen_at;   /* when it was recorded, 0 if none */
    double last_synced_at; /* newest batch acknowledged or job completed, 0 if none */
    long files_waiting;    /* files detected, staging, staged or uploading */
    long rows_pending;     /* rows of its uploading jobs not yet answered */
    long held;             /* files held for an admin */
    long quarantined;      /* files quarantined */
};
int ds_store_folder_status(struct ds_store *st, const char *folder, struct ds_folder_status *out);

/* A batch that is not delivered yet (pending, in_flight, retry_wait or
 * rejected), of a job still uploading. Strings borrowed during the call. */
struct ds_batch_status {
    const char *job_id;
    long seq;
    const char *state;
    const char *folder;   /* the file's [folder] */
    const char *practice; /* the job's [practice] */
    long nrows;
    int attempts;
    double next_attempt_at;      /* retry_wait: when it is due; else 0 */
    const char *last_error_code; /* may be NULL */
};
typedef int (*ds_store_batch_status_cb)(void *ctx, const struct ds_batch_status *b);

/* Every batch not delivered yet, oldest job first, then by seq. */
int ds_store_batches_waiting(struct ds_store *st, ds_store_batch_status_cb cb, void *ctx);

/* One job of the history. Strings borrowed during the call. */
struct ds_job_row {
    const char *id;
    const char *folder; /* the file's [folder], may be NULL */
    const char *practice;
    const char *import_type;
    const char *template_id;
    const char *filename; /* base name */
    const char *state;
    long total_rows;
    double created_at, staged_at, completed_at; /* 0 when not yet */
    struct ds_item_counts counts;               /* its items by status */
};
typedef int (*ds_store_job_row_cb)(void *ctx, const struct ds_job_row *j);

/* The newest `limit` jobs (all when limit <= 0), newest first. */
int ds_store_jobs_list(struct ds_store *st, long limit, ds_store_job_row_cb cb, void *ctx);

/* One job by id or unique id prefix (at least 8 characters): cb runs once.
 * DS_ENOTFOUND if none matches, DS_EINVAL if the prefix is ambiguous. */
int ds_store_job_show(struct ds_store *st, const char *id, ds_store_job_row_cb cb, void *ctx);

/* The rows of a job that did not end well, grouped: status (invalid,
 * duplicate, conflict, needs_review, rejected), error code (may be NULL),
 * message (field names and codes, never values; may be NULL), how many rows
 * and the first one. Largest group first; at most `limit` groups. */
struct ds_error_group {
    const char *status;
    const char *code;
    const char *message;
    long count;
    long first_row;
};
typedef int (*ds_store_error_group_cb)(void *ctx, const struct ds_error_group *g);
int ds_store_job_errors(struct ds_store *st, const char *job_id, long limit,
                        ds_store_error_group_cb cb, void *ctx);

/* The audit trail: events at or after `since` (seconds since the epoch),
 * the newest `limit` of them (all when limit <= 0), oldest first. */
struct ds_event_row {
    int64_t id;
    double at;
    const char *kind;
    int64_t file_id; /* 0 if none */
    const char *job_id;
    long seq; /* 0 if none */
    const char *code;
    const char *detail;
};
typedef int (*ds_store_event_cb)(void *ctx, const struct ds_event_row *e);
int ds_store_events_list(struct ds_store *st, double since, long limit, ds_store_event_cb cb,
                         void *ctx);

/* ---- delta: what was synced before (store_delta.c) ----------------------- */

/* Valid items of a staging job whose key was synced before (same practice
 * and import type) with the same fingerprint become `unchanged`: decided
 * locally, never uploaded. One statement; *unchanged (may be NULL)
 * receives the count. Call after the last item is added, before
 * ds_store_job_staged. DS_EINVAL unless the job is staging. */
int ds_store_job_mark_unchanged(struct ds_store *st, const char *job_id, long *unchanged);

/* The full-snapshot check of a staging job whose rows 1..data_rows are all
 * added. synced: keys synced before for the job's practice and import type;
 * missing: those that no item of the job carries (an invalid row's key
 * counts as present). When missing is more than max_missing_percent of
 * synced and allow_shrink is 0, *shrank is 1 and nothing changes (the
 * caller holds the file, DS_HOLD_SNAPSHOT). Otherwise one deletion item per
 * missing key is added, rows data_rows + 1, + 2, ... in key order: status
 * valid, fingerprint "delete", no record, op delete. */
struct ds_snapshot_check {
    long synced;    /* keys synced before */
    long missing;   /* of them, absent from the file */
    long deletions; /* deletion rows added (0 when shrank) */
    int shrank;     /* 1: too many keys vanished; nothing was added */
};
int ds_store_job_snapshot(struct ds_store *st, const char *job_id, long data_rows,
                          int max_missing_percent, int allow_shrink, struct ds_snapshot_check *out);

/* Whether key was synced for (practice, import_type): 1 and its
 * fingerprint in fingerprint (may be NULL), 0 if not, negative on error.
 * Read-only (preview counts unchanged rows with it). */
int ds_store_synced_get(struct ds_store *st, const char *practice, const char *import_type,
                        const char *key, char fingerprint[DS_SHA256_HEX]);

/* The number of keys synced for (practice, import_type). */
int ds_store_synced_count(struct ds_store *st, const char *practice, const char *import_type,
                          long *count);

/* An admin's resync: forgets every key synced for the practice (and the
 * import type, or all types when NULL), so the next snapshot is sent in
 * full — to repair a cloud that diverged. *forgotten (may be NULL)
 * receives how many; event `resync` with the import type as its code. */
int ds_store_synced_forget(struct ds_store *st, const char *practice, const char *import_type,
                           long *forgotten);

/* A row of a job that did not go through (invalid, rejected, conflict,
 * needs_review), with its original columns as read ({"header":"value"}, or
 * NULL once retention purged it). Borrowed during the callback. */
struct ds_failed_row {
    long row;
    const char *status;
    const char *error_code; /* may be NULL */
    const char *error;      /* may be NULL */
    const char *raw_json;   /* may be NULL */
};
typedef int (*ds_store_failed_row_cb)(void *ctx, const struct ds_failed_row *r);

/* The job's failed rows in row order (the full job id). */
int ds_store_job_failed_rows(struct ds_store *st, const char *job_id, ds_store_failed_row_cb cb,
                             void *ctx);

/* ---- a one-shot import's progress (store_status.c) ------------------------ */

/* The highest file id recorded so far (0 for an empty queue): a file added
 * after this call has a higher one. */
int ds_store_files_last_id(struct ds_store *st, int64_t *id);

/* Where one file stands, as `dentsync import` shows it. Copies. */
struct ds_file_progress {
    int64_t file_id;                /* its row */
    char state[16];                 /* detected, staging, ..., done, duplicate, held, quarantined */
    char reason_code[64];           /* held or quarantined: why ("" otherwise) */
    char reason[512];               /* and the message (no patient data) */
    char job_id[DS_UUID_LEN];       /* its job, "" before staging begins */
    char job_state[32];             /* staging, uploading, completed, completed_with_errors */
    long total_rows;                /* rows read, known once staged (0 before) */
    struct ds_item_counts items;    /* its items by status so far */
    struct ds_batch_counts batches; /* its batches by state */
    char last_error_code[64];       /* the newest error of a batch not acked ("" if none) */
};

/* The newest file recorded with this folder and path and an id above
 * after_id, with its job's counts. DS_ENOTFOUND when there is none yet. */
int ds_store_file_progress(struct ds_store *st, const char *folder, const char *path,
                           int64_t after_id, struct ds_file_progress *out);

#endif
