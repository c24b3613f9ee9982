/*
 * store_stats.c — figures about the queue for the heartbeat and status:
 * how much waits to be delivered and since when. Counts only, no data.
 */
#include "state/store.h"

#include "state/store_int.h"

#include <sqlite3.h>

int ds_store_queue_stats(struct ds_store *st, struct ds_queue_stats *out)
{
    sqlite3_stmt *s = NULL;
    int src;
    int rc = 0;

    out->pending_rows = 0;
    out->oldest_pending_at = 0;
    out->jobs_uploading = 0;
    src =
        sqlite3_prepare_v2(st->db,
                           "SELECT (SELECT count(*) FROM jobs j JOIN items i ON i.job_id = j.id "
                           "        WHERE j.state = 'uploading' AND i.status IN ('valid', 'sent')),"
                           "       (SELECT min(created_at) FROM jobs WHERE state IN "
                           "        ('staging', 'uploading')),"
                           "       (SELECT count(*) FROM jobs WHERE state = 'uploading')",
                           -1, &s, NULL);
    if (src != SQLITE_OK) {
        return ds__store_fail(st, src, "queue stats");
    }
    src = sqlite3_step(s);
    if (src == SQLITE_ROW) {
        out->pending_rows = (long)sqlite3_column_int64(s, 0);
        out->oldest_pending_at = sqlite3_column_double(s, 1);
        out->jobs_uploading = (long)sqlite3_column_int64(s, 2);
    }
    else {
        rc = ds__store_fail(st, src, "queue stats");
    }
    sqlite3_finalize(s);
    return rc;
}

/* A file row for the after-delivery and quarantine sweeps. */
static int file_rows(struct ds_store *st, const char *sql, const char *arg, ds_store_file_row_cb cb,
                     void *ctx)
{
    sqlite3_stmt *s = NULL;
    struct ds_file_row f;
    int src;
    int rc = 0;

    src = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
    if (src != SQLITE_OK) {
        return ds__store_fail(st, src, "file rows");
    }
    sqlite3_bind_text(s, 1, arg, -1, SQLITE_STATIC);
    for (;;) {
        src = sqlite3_step(s);
        if (src != SQLITE_ROW) {
            break;
        }
        f.id = sqlite3_column_int64(s, 0);
        f.folder = (const char *)sqlite3_column_text(s, 1);
        f.path = (const char *)sqlite3_column_text(s, 2);
        f.size = sqlite3_column_int64(s, 3);
        f.mtime_ns = sqlite3_column_int64(s, 4);
        f.state = (const char *)sqlite3_column_text(s, 5);
        f.reason_code = (const char *)sqlite3_column_text(s, 6);
        f.reason = (const char *)sqlite3_column_text(s, 7);
        rc = cb(ctx, &f);
        if (rc != 0) {
            break;
        }
    }
    if (rc == 0 && src != SQLITE_DONE) {
        rc = ds__store_fail(st, src, "file rows");
    }
    sqlite3_finalize(s);
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
    sqlite3_stmt *s = NULL;
    int src;
    int rc = 0;

    src = sqlite3_prepare_v2(
        st->db, "UPDATE batches SET next_attempt_at = 0 WHERE state = 'retry_wait'", -1, &s, NULL);
    if (src != SQLITE_OK) {
        return ds__store_fail(st, src, "wake batches");
    }
    rc = ds__store_run(st, s, "wake batches");
    if (rc == 0 && woken != NULL) {
        *woken = sqlite3_changes(st->db);
    }
    sqlite3_finalize(s);
    return rc;
}
