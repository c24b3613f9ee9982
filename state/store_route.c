/*
 * store_route.c — a file of several jobs: rows routed to other import types.
 *
 * A job carries one import type (the cloud's protocol has one per job), but
 * one export may hold rows of several: a Dentrix ledger or a SoftDent
 * transactions file lists procedures (treatments) and payments (financial)
 * together. The template of the file routes such rows to a template of
 * another type (docs/templates.md, "Routing"), and ingest stages one job per
 * import type on the same file:
 *
 *   ds_store_job_begin          the file's first job (detected -> staging)
 *   ds_store_job_begin_routed   one more job of the same file, another type
 *   ds_store_job_staged × N     inside one caller's transaction
 *                               (ds_store_tx_begin ... ds_store_tx_commit):
 *                               the file goes `staged` with the last of them
 *
 * Every job of such a file holds an item for every data row of the file, so
 * its rows stay 1..total_rows and keep their numbers on the wire: a row that
 * belongs to a sibling job is a `skipped` item there ("routed to
 * financial"), without record or raw columns.
 *
 * The file's state follows all of its jobs (store_ingest.c, store_upload.c):
 *  - it becomes `staged` only when no job of it is `staging` any more, and
 *    ingest stages the jobs in one transaction, so a crash never leaves one
 *    job uploading beside a sibling that recovery would restage (which would
 *    send the first job's rows again under a new job);
 *  - it becomes `done` only when every job of it is completed;
 *  - a hold, a quarantine or start-up recovery drops every `staging` job of
 *    the file (ds__store_file_drop_staging), so a retry starts clean.
 *
 * None of this is a hot path: statements are prepared per call.
 */
#include "state/store_int.h"

#include "agent/core/log.h"

#include <string.h>

static int prepare(struct ds_store *st, const char *sql, sqlite3_stmt **s)
{
    int src = sqlite3_prepare_v2(st->db, sql, -1, s, NULL);

    if (src != SQLITE_OK) {
        *s = NULL;
        return ds__store_fail(st, src, "prepare");
    }
    return 0;
}

/* The number of jobs of file_id that sql (with ?1 the file id) counts. */
static int count_jobs(struct ds_store *st, int64_t file_id, const char *sql, long *n)
{
    sqlite3_stmt *s = NULL;
    int src;
    int rc;

    *n = 0;
    rc = prepare(st, sql, &s);
    if (rc != 0) {
        return rc;
    }
    sqlite3_bind_int64(s, 1, file_id);
    src = sqlite3_step(s);
    if (src == SQLITE_ROW) {
        *n = (long)sqlite3_column_int64(s, 0);
    }
    else {
        rc = ds__store_fail(st, src, "file jobs");
    }
    sqlite3_finalize(s);
    return rc;
}

int ds__store_file_jobs_staging(struct ds_store *st, int64_t file_id, long *n)
{
    return count_jobs(st, file_id,
                      "SELECT count(*) FROM jobs WHERE file_id = ?1 AND state = 'staging'", n);
}

int ds__store_file_jobs_open(struct ds_store *st, int64_t file_id, long *n)
{
    return count_jobs(st, file_id,
                      "SELECT count(*) FROM jobs WHERE file_id = ?1 "
                      "AND state NOT IN ('completed', 'completed_with_errors')",
                      n);
}

int ds_store_job_begin_routed(struct ds_store *st, const char *first_job_id, const char *job_id,
                              const char *import_type, const char *template_id)
{
    struct ds_job_info sz; /* only for the sizes of its members */
    sqlite3_stmt *s = NULL;
    char state[24];
    int64_t file_id = 0;
    long same = 0;
    int rc;

    if (st == NULL || first_job_id == NULL || job_id == NULL || import_type == NULL ||
        strlen(job_id) >= sizeof(sz.id) || strlen(import_type) >= sizeof(sz.import_type) ||
        (template_id != NULL && strlen(template_id) >= sizeof(sz.template_id))) {
        return DS_EINVAL;
    }
    rc = ds__store_begin(st);
    if (rc != 0) {
        return rc;
    }
    rc = ds__store_job_state(st, first_job_id, state, &file_id);
    if (rc != 0) {
        goto out;
    }
    if (strcmp(state, "staging") != 0) {
        ds_log_error("STORE_STATE", "store: job %s is %s; routed jobs join a job still staging",
                     first_job_id, state);
        rc = DS_EINVAL;
        goto out;
    }
    rc = prepare(st, "SELECT count(*) FROM jobs WHERE file_id = ?1 AND import_type = ?2", &s);
    if (rc != 0) {
        goto out;
    }
    sqlite3_bind_int64(s, 1, file_id);
    sqlite3_bind_text(s, 2, import_type, -1, SQLITE_STATIC);
    if (sqlite3_step(s) == SQLITE_ROW) {
        same = (long)sqlite3_column_int64(s, 0);
    }
    sqlite3_finalize(s);
    s = NULL;
    if (same > 0) {
        ds_log_error("STORE_STATE",
                     "store: file %lld has a %s job already; one job per import type",
                     (long long)file_id, import_type);
        rc = DS_EEXIST;
        goto out;
    }
    rc = prepare(st,
                 "INSERT INTO jobs (id, file_id, practice, import_type, template_id, filename, "
                 "sha256, state, created_at) "
                 "SELECT ?1, file_id, practice, ?2, ?3, filename, sha256, 'staging', ?4 "
                 "FROM jobs WHERE id = ?5",
                 &s);
    if (rc != 0) {
        goto out;
    }
    sqlite3_bind_text(s, 1, job_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, import_type, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, template_id != NULL ? template_id : "", -1, SQLITE_STATIC);
    sqlite3_bind_double(s, 4, ds__store_now());
    sqlite3_bind_text(s, 5, first_job_id, -1, SQLITE_STATIC);
    rc = ds__store_run(st, s, "routed job begin");
    if (rc == 0) {
        rc = ds__store_event(st, "job_created", file_id, job_id, 0, import_type,
                             "rows routed from the file's first job");
    }
out:
    sqlite3_finalize(s);
    if (rc == 0) {
        rc = ds__store_commit(st);
    }
    else {
        ds__store_rollback(st);
    }
    return rc;
}
