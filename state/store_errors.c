/*
 * store_errors.c — the rows of a job that did not go through, with their
 * original columns, for `dentsync errors` (an authorised local view: this
 * is the one place the raw row leaves the queue, into a 0600 file). A raw
 * row kept as its values is handed out as the object, with the job's names.
 */
#include "state/store_int.h"

#include <stdint.h>

int ds_store_job_failed_rows(struct ds_store *st, const char *job_id, ds_store_failed_row_cb cb,
                             void *ctx)
{
    sqlite3_stmt *s = NULL;
    struct ds_failed_row r;
    const char *names = NULL;
    struct ds_buf raw;
    int rc;

    /* The job's names in the same statement as its items, so that both come
     * from one snapshot of the queue while another connection stages. */
    ds_buf_init(&raw, SIZE_MAX);
    rc = ds__store_prep(st, DS__Q_ONCE,
                        "SELECT row, status, error_code, error, raw, errors, "
                        "(SELECT raw_columns FROM jobs WHERE id = ?1) FROM items "
                        "WHERE job_id = ?1 AND status IN ('invalid', 'rejected', 'conflict', "
                        "'needs_review') ORDER BY row",
                        "failed rows", &s, "t", job_id);
    while (rc == 0 &&
           (rc = ds__store_next(st, s, "failed rows", "lssssss", &r.row, &r.status, &r.error_code,
                                &r.error, &r.raw_json, &r.errors_json, &names)) == 1) {
        rc = ds__store_zip(job_id, r.row, "raw", names, r.raw_json, 0, &raw, &r.raw_json);
        if (rc == 0) {
            rc = cb(ctx, &r);
        }
    }
    ds__store_done(DS__Q_ONCE, &s);
    ds_buf_close(&raw);
    return rc;
}
