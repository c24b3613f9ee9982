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
