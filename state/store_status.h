/*
 * store_status.h — read-only views: what the command line (`status`,
 * `jobs`, `job`, `events`, `errors`, `import`), the web page and the
 * after-delivery handling read (store_status.c, store_stats.c,
 * store_errors.c). None of these writes the queue.
 */
#ifndef DS_STATE_STORE_STATUS_H
#define DS_STATE_STORE_STATUS_H

#include "state/store.h"

/* Opens an existing queue read-only (no migration, no WAL switch, no file
 * created) for `status`, `jobs`, `job` and `events`, which may run beside a
 * running agent. DS_ENOTFOUND when there is no queue at path, DS_ECORRUPT
 * when it is not a dentsync queue or its schema is newer than this build's.
 * new: close with ds_store_close. */
int ds_store_open_readonly(const char *path, struct ds_store **out, struct ds_error *err);

/* The reads that follow see one snapshot of the queue, taken at the first
 * of them, until ds_store_snapshot_end: one read lock for them all instead
 * of one taken and released per statement (`preview --all` looks up the
 * synced fingerprint of every row). While it is held the running agent's
 * checkpoints cannot pass it: hold it for a stretch of reads, never across
 * a write to the terminal or a pipe, which may wait for as long as a pager
 * likes.
 * DS_EINVAL when a transaction is open already. */
int ds_store_snapshot_begin(struct ds_store *st);

/* Ends the snapshot; nothing when none is open. */
void ds_store_snapshot_end(struct ds_store *st);

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
    const char *location_column; /* the header column its binding took the location from, or
                                    NULL */
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

/* ---- figures and files (store_stats.c) ------------------------------------ */

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

/* A row of a job that did not go through (invalid, rejected, conflict,
 * needs_review), with its original columns as read ({"header":"value"}, or
 * NULL once retention purged it). Borrowed during the callback. */
struct ds_failed_row {
    long row;
    const char *status;
    const char *error_code;  /* may be NULL */
    const char *error;       /* may be NULL */
    const char *raw_json;    /* may be NULL */
    const char *errors_json; /* every problem of an invalid row: a JSON array of
                                {"field","code","message"}; NULL: error_code and
                                error are the row's one problem */
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
