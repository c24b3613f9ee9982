/*
 * store_stats.c — figures about the queue for the heartbeat and status:
 * how much waits to be delivered and since when. Counts only, no data.
 */
#include "state/store_int.h"

int ds_store_queue_stats(struct ds_store *st, struct ds_queue_stats *out)
{
    out->pending_rows = 0;
    out->oldest_pending_at = 0;
    out->jobs_uploading = 0;
    return ds__store_row(st, DS__Q_ONCE,
                         "SELECT (SELECT count(*) FROM jobs j JOIN items i ON i.job_id = j.id "
                         "        WHERE j.state = 'uploading' AND i.status IN ('valid', 'sent')),"
                         "       (SELECT min(created_at) FROM jobs WHERE state IN "
                         "        ('staging', 'uploading')),"
                         "       (SELECT count(*) FROM jobs WHERE state = 'uploading')",
                         "queue stats", "", "ldl", &out->pending_rows, &out->oldest_pending_at,
                         &out->jobs_uploading);
}

/* A file row for the after-delivery and quarantine sweeps. */
static int file_rows(struct ds_store *st, const char *sql, const char *arg, ds_store_file_row_cb cb,
                     void *ctx)
{
    sqlite3_stmt *s = NULL;
    struct ds_file_row f;
    int rc;

    rc = ds__store_prep(st, DS__Q_ONCE, sql, "file rows", &s, "t", arg);
    while (rc == 0 &&
           (rc = ds__store_next(st, s, "file rows", "issiisss", &f.id, &f.folder, &f.path, &f.size,
                                &f.mtime_ns, &f.state, &f.reason_code, &f.reason)) == 1) {
        rc = cb(ctx, &f);
    }
    ds__store_done(DS__Q_ONCE, &s);
    return rc;
}

#define FILE_COLUMNS "id, folder, path, size, mtime_ns, state, reason_code, reason"

int ds_store_files_in_state(struct ds_store *st, const char *state, ds_store_file_row_cb cb,
                            void *ctx)
{
    return file_rows(st, "SELECT " FILE_COLUMNS " FROM files WHERE state = ?1 ORDER BY id", state,
                     cb, ctx);
}

int ds_store_file_of_job(struct ds_store *st, const char *job_id, ds_store_file_row_cb cb,
                         void *ctx)
{
    return file_rows(st,
                     "SELECT " FILE_COLUMNS " FROM files WHERE id = "
                     "(SELECT file_id FROM jobs WHERE id = ?1)",
                     job_id, cb, ctx);
}

int ds_store_batches_wake(struct ds_store *st, int *woken)
{
    int rc = ds__store_exec(st, DS__Q_ONCE,
                            "UPDATE batches SET next_attempt_at = 0 WHERE state = 'retry_wait'",
                            "wake batches", "");

    if (rc == 0 && woken != NULL) {
        *woken = sqlite3_changes(st->db);
    }
    return rc;
}
