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

/* The number of jobs of file_id that sql (with ?1 the file id) counts. */
static int count_jobs(struct ds_store *st, int64_t file_id, const char *sql, long *n)
{
    *n = 0;
    return ds__store_row(st, DS__Q_ONCE, sql, "file jobs", "i", "l", file_id, n);
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
    int64_t file_id = 0;
    long same = 0;
    int rc;

    rc = ds__store_change(
        st, st != NULL && first_job_id != NULL && job_id != NULL && import_type != NULL &&
                strlen(job_id) < sizeof(sz.id) && strlen(import_type) < sizeof(sz.import_type) &&
                (template_id == NULL || strlen(template_id) < sizeof(sz.template_id)));
    if (rc != 0) {
        return rc;
    }
    rc = ds__store_job_in(st, first_job_id, "staging", &file_id,
                          "; routed jobs join a job still staging");
    if (rc != 0) {
        goto out;
    }
    rc = ds__store_row(st, DS__Q_ONCE,
                       "SELECT count(*) FROM jobs WHERE file_id = ?1 AND import_type = ?2",
                       "routed job begin", "it", "l", file_id, import_type, &same);
    if (rc != 0) {
        goto out;
    }
    if (same > 0) {
        ds_log_error("STORE_STATE",
                     "store: file %lld has a %s job already; one job per import type",
                     (long long)file_id, import_type);
        rc = DS_EEXIST;
        goto out;
    }
    rc = ds__store_exec(st, DS__Q_ONCE,
                        "INSERT INTO jobs (id, file_id, practice, import_type, template_id, "
                        "filename, sha256, state, created_at) "
                        "SELECT ?1, file_id, practice, ?2, ?3, filename, sha256, 'staging', ?4 "
                        "FROM jobs WHERE id = ?5",
                        "routed job begin", "tttdt", job_id, import_type,
                        template_id != NULL ? template_id : "", ds__store_now(), first_job_id);
    rc = ds__store_then_event(st, rc, "job_created", file_id, job_id, 0, import_type,
                              "rows routed from the file's first job");
out:
    return ds__store_end(st, rc);
}
