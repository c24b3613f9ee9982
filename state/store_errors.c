/*
 * store_errors.c — the rows of a job that did not go through, with their
 * original columns, for `dentsync errors` (an authorised local view: this
 * is the one place the raw row leaves the queue, into a 0600 file).
 */
#include "state/store.h"

#include "state/store_int.h"

#include <sqlite3.h>

int ds_store_job_failed_rows(struct ds_store *st, const char *job_id, ds_store_failed_row_cb cb,
                             void *ctx)
{
    sqlite3_stmt *s = NULL;
    struct ds_failed_row r;
    int src;
    int rc = 0;

    src = sqlite3_prepare_v2(st->db,
                             "SELECT row, status, error_code, error, raw FROM items "
                             "WHERE job_id = ?1 AND status IN ('invalid', 'rejected', 'conflict', "
                             "'needs_review') ORDER BY row",
                             -1, &s, NULL);
    if (src != SQLITE_OK) {
        return ds__store_fail(st, src, "failed rows");
    }
    sqlite3_bind_text(s, 1, job_id, -1, SQLITE_STATIC);
    for (;;) {
        src = sqlite3_step(s);
        if (src != SQLITE_ROW) {
            break;
        }
        r.row = (long)sqlite3_column_int64(s, 0);
        r.status = (const char *)sqlite3_column_text(s, 1);
        r.error_code = (const char *)sqlite3_column_text(s, 2);
        r.error = (const char *)sqlite3_column_text(s, 3);
        r.raw_json = (const char *)sqlite3_column_text(s, 4);
        rc = cb(ctx, &r);
        if (rc != 0) {
            break;
        }
    }
    if (rc == 0 && src != SQLITE_DONE) {
        rc = ds__store_fail(st, src, "failed rows");
    }
    sqlite3_finalize(s);
    return rc;
}
