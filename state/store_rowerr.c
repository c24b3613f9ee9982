/*
 * store_rowerr.c — the error code of an invalid item whose row the reader
 * cut at a cap (a field too long, too many columns, a row too large), so
 * that `dentsync job`, the errors CSV and the checks on the queue see the
 * cap by its code, as they see a duplicate's or a skipped row's.
 */
#include "state/store.h"

#include "state/store_int.h"

#include <sqlite3.h>

int ds_store_item_set_code(struct ds_store *st, const char *job_id, long row, const char *code)
{
    sqlite3_stmt *s = NULL;
    int src;
    int rc;

    if (st == NULL || job_id == NULL || code == NULL) {
        return DS_EINVAL;
    }
    src = sqlite3_prepare_v2(st->db,
                             "UPDATE items SET error_code = ?3 "
                             "WHERE job_id = ?1 AND row = ?2 AND status = 'invalid'",
                             -1, &s, NULL);
    if (src != SQLITE_OK) {
        return ds__store_fail(st, src, "item code");
    }
    sqlite3_bind_text(s, 1, job_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, row);
    sqlite3_bind_text(s, 3, code, -1, SQLITE_STATIC);
    rc = ds__store_run(st, s, "item code");
    if (rc == 0 && sqlite3_changes(st->db) == 0) {
        rc = DS_ENOTFOUND;
    }
    sqlite3_finalize(s);
    return rc;
}
