/*
 * store_rowerr.c — the error code of an invalid item whose row the reader
 * cut at a cap (a field too long, too many columns, a row too large), so
 * that `dentsync job`, the errors CSV and the checks on the queue see the
 * cap by its code, as they see a duplicate's or a skipped row's; and every
 * problem of an invalid row (items.errors), not only the first.
 */
#include "state/store_int.h"

int ds_store_item_set_code(struct ds_store *st, const char *job_id, long row, const char *code)
{
    int rc;

    if (st == NULL || job_id == NULL || code == NULL) {
        return DS_EINVAL;
    }
    rc = ds__store_exec(st, DS__Q_ONCE,
                        "UPDATE items SET error_code = ?3 "
                        "WHERE job_id = ?1 AND row = ?2 AND status = 'invalid'",
                        "item code", "tlt", job_id, row, code);
    if (rc == 0 && sqlite3_changes(st->db) == 0) {
        rc = DS_ENOTFOUND;
    }
    return rc;
}

int ds_store_item_set_errors(struct ds_store *st, const char *job_id, long row, const char *code,
                             const char *errors_json)
{
    int rc;

    if (st == NULL || job_id == NULL || errors_json == NULL) {
        return DS_EINVAL;
    }
    rc = ds__store_exec(st, DS__Q_ITEM_ERRORS,
                        "UPDATE items SET errors = ?4, error_code = coalesce(error_code, ?3) "
                        "WHERE job_id = ?1 AND row = ?2 AND status = 'invalid'",
                        "item errors", "tltt", job_id, row, code, errors_json);
    if (rc == 0 && sqlite3_changes(st->db) == 0) {
        rc = DS_ENOTFOUND;
    }
    return rc;
}
