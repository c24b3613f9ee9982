/*
 * jobs.c — the import job endpoints.
 *
 * The agent chooses the job id, so creating a job is idempotent: the same
 * id with the same content (import_type, sha256, total_rows) answers 200
 * with the stored job, other content 409 JOB_CONFLICT. Job ids are unique
 * per practice (the key is practice_id, id): another practice's job with
 * the same id is another row, and creating one answers as for a fresh id.
 * Row-level security hides other practices' jobs, so "not visible" and
 * "does not exist" are the same 404. Completing is idempotent too: the first call fixes the
 * final status and completed_at, later calls return them unchanged.
 */
#include "cloud/jobs.h"
#include "cloud/db.h"
#include "cloud/error.h"
#include "cloud/hash.h"
#include "cloud/record.h"

#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#define MAX_FILENAME 1024
#define MAX_TEMPLATE 200
#define MAX_VERSION 64
#define MAX_BINDING 65536 /* the binding member, serialized */

/* The job as JSON, built by PostgreSQL in a fixed key order; jansson then
 * re-encodes it compactly. JOB_FIELDS is shared by one job and the list. */
#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
#define JOB_FIELDS                                                                                 \
    " 'id', j.id, 'import_type', j.import_type, 'filename', j.filename,"                           \
    " 'sha256', j.sha256, 'total_rows', j.total_rows, 'template', j.template_id,"                  \
    " 'agent', json_build_object('id', j.agent_id, 'version', j.agent_version),"                   \
    " 'status', j.status, 'processed_rows', j.processed_rows,"                                     \
    " 'successful_rows', j.successful_rows, 'failed_rows', j.failed_rows,"                         \
    " 'created_at', " TS("j.created_at") ", 'started_at', " TS(                                    \
        "j.started_at") ","                                                                        \
                        " 'completed_at', " TS("j.completed_at")

static const char job_sql[] =
    "SELECT json_build_object(" JOB_FIELDS ","
    " 'batches', coalesce((SELECT json_agg(b.seq ORDER BY b.seq) FROM import_batches b"
    "                       WHERE b.job_id = j.id), '[]'::json))::text"
    " FROM import_jobs j WHERE j.id = $1";

/* $1 the cursor job (or NULL), $2 the limit. The first column is whether
 * the cursor job is visible. */
static const char list_sql[] =
    "SELECT $1::uuid IS NULL OR EXISTS (SELECT 1 FROM import_jobs c WHERE c.id = $1::uuid),"
    " (SELECT coalesce(json_agg(x.o ORDER BY x.created_at DESC, x.id DESC), '[]'::json)::text"
    "  FROM (SELECT j.id, j.created_at, json_build_object(" JOB_FIELDS ") AS o"
    "          FROM import_jobs j"
    "         WHERE $1::uuid IS NULL OR (j.created_at, j.id) <"
    "               (SELECT c.created_at, c.id FROM import_jobs c WHERE c.id = $1::uuid)"
    "         ORDER BY j.created_at DESC, j.id DESC LIMIT $2::integer) x)";

/* $1 job, $2 status (or NULL), $3 after row, $4 limit. The first column
 * is whether the job is visible. */
static const char items_sql[] =
    "SELECT EXISTS (SELECT 1 FROM import_jobs j WHERE j.id = $1::uuid),"
    " (SELECT coalesce(json_agg(json_strip_nulls(json_build_object("
    "     'row', i.row_number, 'key', i.key, 'status', i.status,"
    "     'record_id', i.created_record_id,"
    "     'error', CASE WHEN i.error_code IS NOT NULL THEN"
    "              json_build_object('code', i.error_code, 'message', i.error_message) END,"
    "     'errors', i.errors,"
    "     'candidates', to_json(i.candidates), 'conflict_with', i.conflict_with,"
    "     'patient_match', i.patient_match))"
    "     ORDER BY i.row_number), '[]'::json)::text"
    "  FROM (SELECT * FROM import_job_items i WHERE i.job_id = $1::uuid"
    "          AND ($2::text IS NULL OR i.status = $2::text) AND i.row_number > $3::integer"
    "         ORDER BY i.row_number LIMIT $4::integer) i)";

int dsc_jobs_load(struct dsc_db *db, const char *job_id, json_t **out)
{
    const char *params[1] = {job_id};
    struct dsc_rows *rows = NULL;
    const char *text;
    int rc;

    *out = NULL;
    rc = dsc_db_exec(db, "job load", job_sql, 1, params, &rows);
    if (rc != 0) {
        goto out;
    }
    text = dsc_rows_get(rows, 0, 0);
    if (text == NULL) {
        rc = DSC_ENOTFOUND;
        goto out;
    }
    *out = json_loads(text, 0, NULL);
    if (*out == NULL) {
        rc = DSC_ENOMEM;
    }
out:
    dsc_rows_free(&rows);
    return rc;
}

/* Answers with the job (status), or 404 when it is not visible. */
static int answer_job(const struct dsc_ctx *ctx, struct dsc_response *resp, unsigned status)
{
    json_t *job = NULL;
    int rc;

    rc = dsc_jobs_load(ctx->db, ctx->job_id, &job);
    if (rc == DSC_ENOTFOUND) {
        return dsc_api_error(resp, 404, "NOT_FOUND", "no such job");
    }
    if (rc != 0) {
        return rc;
    }
    return dsc_api_json(resp, status, &job);
}

/* An optional string member: 0 with *out NULL when absent or null,
 * DSC_EINVAL when present but not a string of 1..max bytes. */
static int opt_string(json_t *obj, const char *name, size_t max, const char **out)
{
    json_t *v = json_object_get(obj, name);

    *out = NULL;
    if (v == NULL || json_is_null(v)) {
        return 0;
    }
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > max) {
        return DSC_EINVAL;
    }
    *out = json_string_value(v);
    return 0;
}

struct job_fields {
    char id[DSC_UUID_LEN];       /* lowercase */
    const char *import_type;     /* borrow from the body */
    const char *filename;        /* borrow */
    char sha256[DSC_SHA256_HEX]; /* lowercase */
    char total_rows[16];         /* decimal */
    const char *template_id;     /* borrow, or NULL */
    char agent_id[DSC_UUID_LEN]; /* "" when absent */
    const char *agent_version;   /* borrow, or NULL */
    char *binding;               /* owned (free): the binding member as JSON text, or NULL */
};

/* Validates the POST /v1/jobs body into f; on failure fills resp (422) and
 * returns DSC_EINVAL. */
static int parse_job(json_t *body, struct job_fields *f, struct dsc_response *resp)
{
    json_t *v;
    json_t *agent;
    const char *s;
    char lower[DSC_SHA256_HEX];
    enum dsc_record_type type;
    json_int_t total;

    memset(f, 0, sizeof(*f));
    v = json_object_get(body, "id");
    if (!json_is_string(v) || !dsc_hash_parse_uuid(json_string_value(v), f->id)) {
        dsc_api_error(resp, 422, "INVALID_REQUEST", "id: required, a UUID");
        return DSC_EINVAL;
    }
    v = json_object_get(body, "import_type");
    if (!json_is_string(v)) {
        dsc_api_error(resp, 422, "INVALID_REQUEST", "import_type: required, a string");
        return DSC_EINVAL;
    }
    if (dsc_record_type_parse(json_string_value(v), &type) != 0) {
        dsc_api_error(resp, 422, "INVALID_REQUEST",
                      "import_type: must be patients, appointments, treatments or financial");
        return DSC_EINVAL;
    }
    f->import_type = json_string_value(v);
    if (opt_string(body, "filename", MAX_FILENAME, &f->filename) != 0 || f->filename == NULL) {
        dsc_api_error(resp, 422, "INVALID_REQUEST", "filename: required, a string of 1 to %d bytes",
                      MAX_FILENAME);
        return DSC_EINVAL;
    }
    v = json_object_get(body, "sha256");
    s = json_is_string(v) ? json_string_value(v) : "";
    lower[0] = '\0';
    if (strlen(s) == 64) {
        for (size_t i = 0; i < 64; i++) {
            lower[i] = (char)tolower((unsigned char)s[i]);
        }
        lower[64] = '\0';
    }
    if (!dsc_hash_is_sha256_hex(lower)) {
        dsc_api_error(resp, 422, "INVALID_REQUEST", "sha256: required, 64 hex digits");
        return DSC_EINVAL;
    }
    memcpy(f->sha256, lower, sizeof(f->sha256));
    v = json_object_get(body, "total_rows");
    total = json_is_integer(v) ? json_integer_value(v) : -1;
    if (total < 0 || total > INT_MAX) {
        dsc_api_error(resp, 422, "INVALID_REQUEST", "total_rows: required, an integer >= 0");
        return DSC_EINVAL;
    }
    snprintf(f->total_rows, sizeof(f->total_rows), "%lld", (long long)total);
    if (opt_string(body, "template", MAX_TEMPLATE, &f->template_id) != 0) {
        dsc_api_error(resp, 422, "INVALID_REQUEST", "template: a string of 1 to %d bytes",
                      MAX_TEMPLATE);
        return DSC_EINVAL;
    }
    v = json_object_get(body, "binding");
    if (v != NULL && !json_is_null(v)) {
        f->binding = json_is_object(v) ? json_dumps(v, JSON_COMPACT) : NULL;
        if (f->binding == NULL || strlen(f->binding) > MAX_BINDING) {
            free(f->binding);
            f->binding = NULL;
            dsc_api_error(resp, 422, "INVALID_REQUEST", "binding: an object of at most %d bytes",
                          MAX_BINDING);
            return DSC_EINVAL;
        }
    }
    agent = json_object_get(body, "agent");
    if (agent != NULL && !json_is_null(agent)) {
        if (!json_is_object(agent)) {
            dsc_api_error(resp, 422, "INVALID_REQUEST", "agent: an object");
            return DSC_EINVAL;
        }
        v = json_object_get(agent, "id");
        if (v != NULL && !json_is_null(v) &&
            (!json_is_string(v) || !dsc_hash_parse_uuid(json_string_value(v), f->agent_id))) {
            dsc_api_error(resp, 422, "INVALID_REQUEST", "agent.id: a UUID");
            return DSC_EINVAL;
        }
        if (opt_string(agent, "version", MAX_VERSION, &f->agent_version) != 0) {
            dsc_api_error(resp, 422, "INVALID_REQUEST", "agent.version: a string of 1 to %d bytes",
                          MAX_VERSION);
            return DSC_EINVAL;
        }
    }
    return 0;
}

int dsc_jobs_create(const struct dsc_ctx *ctx, struct dsc_response *resp)
{
    struct dsc_ctx job_ctx = *ctx;
    struct job_fields f;
    struct dsc_rows *rows = NULL;
    json_t *body = NULL;
    const char *params[10];
    const char *v;
    int rc;

    memset(&f, 0, sizeof(f));
    rc = dsc_api_parse_object(ctx, resp, &body);
    if (rc != 0) {
        rc = 0; /* resp holds the 422 */
        goto out;
    }
    if (parse_job(body, &f, resp) != 0) {
        goto out;
    }
    params[0] = f.id;
    params[1] = ctx->practice_id;
    params[2] = f.filename;
    params[3] = f.import_type;
    params[4] = f.sha256;
    params[5] = f.total_rows;
    params[6] = f.template_id;
    params[7] = f.agent_id[0] != '\0' ? f.agent_id : NULL;
    params[8] = f.agent_version;
    params[9] = f.binding;
    rc = dsc_db_exec(ctx->db, "job insert",
                     "INSERT INTO import_jobs (id, practice_id, filename, import_type, sha256,"
                     " total_rows, template_id, agent_id, agent_version, binding)"
                     " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb)"
                     " ON CONFLICT (practice_id, id) DO NOTHING RETURNING id",
                     10, params, &rows);
    if (rc != 0) {
        goto out;
    }
    job_ctx.job_id = f.id;
    if (dsc_rows_count(rows) == 1) {
        if (f.template_id != NULL) {
            /* A saved template of the practice counts one more use; a
             * template id that names no saved template changes nothing. */
            params[0] = ctx->practice_id;
            params[1] = f.template_id;
            rc = dsc_db_exec(ctx->db, "template usage",
                             "UPDATE import_templates SET usage_count = usage_count + 1"
                             " WHERE practice_id = $1 AND id = $2",
                             2, params, NULL);
            if (rc != 0) {
                goto out;
            }
            params[0] = f.id;
        }
        rc = answer_job(&job_ctx, resp, 201);
        goto out;
    }
    dsc_rows_free(&rows);
    rc = dsc_db_exec(ctx->db, "job lookup",
                     "SELECT import_type, sha256, total_rows FROM import_jobs WHERE id = $1", 1,
                     params, &rows);
    if (rc != 0) {
        goto out;
    }
    if (dsc_rows_count(rows) == 0) {
        /* The conflicting job is of this practice (the key is practice_id,
         * id), so it is visible: not finding it is a bug. */
        rc = DSC_EDB;
        goto out;
    }
    v = dsc_rows_get(rows, 0, 0);
    if (v == NULL || strcmp(v, f.import_type) != 0) {
        rc = dsc_api_error(resp, 409, "JOB_CONFLICT", "job exists with another import_type");
        goto out;
    }
    v = dsc_rows_get(rows, 0, 1);
    if (v == NULL || strcmp(v, f.sha256) != 0) {
        rc = dsc_api_error(resp, 409, "JOB_CONFLICT", "job exists with another sha256");
        goto out;
    }
    v = dsc_rows_get(rows, 0, 2);
    if (v == NULL || strcmp(v, f.total_rows) != 0) {
        rc = dsc_api_error(resp, 409, "JOB_CONFLICT", "job exists with another total_rows");
        goto out;
    }
    rc = answer_job(&job_ctx, resp, 200);
out:
    dsc_rows_free(&rows);
    json_decref(body);
    free(f.binding);
    return rc;
}

int dsc_jobs_get(const struct dsc_ctx *ctx, struct dsc_response *resp)
{
    return answer_job(ctx, resp, 200);
}

int dsc_jobs_complete(const struct dsc_ctx *ctx, struct dsc_response *resp)
{
    const char *params[1] = {ctx->job_id};
    struct dsc_rows *rows = NULL;
    const char *status;
    int rc;

    rc = dsc_db_exec(ctx->db, "job lock", "SELECT status FROM import_jobs WHERE id = $1 FOR UPDATE",
                     1, params, &rows);
    if (rc != 0) {
        goto out;
    }
    status = dsc_rows_get(rows, 0, 0);
    if (status == NULL) {
        rc = dsc_api_error(resp, 404, "NOT_FOUND", "no such job");
        goto out;
    }
    if (strcmp(status, "open") == 0) {
        rc = dsc_db_exec(ctx->db, "job progress", "SELECT update_import_job_progress($1)", 1,
                         params, NULL);
        if (rc != 0) {
            goto out;
        }
        rc = dsc_db_exec(ctx->db, "job complete",
                         "UPDATE import_jobs SET status = CASE WHEN failed_rows = 0"
                         " THEN 'completed' ELSE 'completed_with_errors' END,"
                         " completed_at = now() WHERE id = $1",
                         1, params, NULL);
        if (rc != 0) {
            goto out;
        }
    }
    rc = answer_job(ctx, resp, 200);
out:
    dsc_rows_free(&rows);
    return rc;
}

int dsc_jobs_list(const struct dsc_ctx *ctx, struct dsc_response *resp)
{
    char before[DSC_UUID_LEN];
    char limit_text[16];
    const char *params[2];
    struct dsc_rows *rows = NULL;
    json_t *jobs = NULL;
    json_t *body = NULL;
    const char *v;
    long limit;
    int rc = 0;

    if (dsc_api_query_int(ctx, resp, "limit", 1, 200, 50, &limit) != 0) {
        goto out;
    }
    v = dsc_api_query(ctx, "before");
    if (v != NULL && !dsc_hash_parse_uuid(v, before)) {
        rc = dsc_api_error(resp, 422, "INVALID_REQUEST", "?before: must be a job id (UUID)");
        goto out;
    }
    snprintf(limit_text, sizeof(limit_text), "%ld", limit);
    params[0] = v != NULL ? before : NULL;
    params[1] = limit_text;
    rc = dsc_db_exec(ctx->db, "job list", list_sql, 2, params, &rows);
    if (rc != 0) {
        goto out;
    }
    v = dsc_rows_get(rows, 0, 0);
    if (v == NULL || strcmp(v, "t") != 0) {
        rc = dsc_api_error(resp, 404, "NOT_FOUND", "no such job (?before)");
        goto out;
    }
    jobs = json_loads(dsc_rows_get(rows, 0, 1), 0, NULL);
    if (jobs == NULL) {
        rc = DSC_ENOMEM;
        goto out;
    }
    body = json_pack("{s:O,s:O?}", "jobs", jobs, "next_before",
                     json_array_size(jobs) == (size_t)limit
                         ? json_object_get(json_array_get(jobs, json_array_size(jobs) - 1), "id")
                         : NULL);
    rc = dsc_api_json(resp, 200, &body);
out:
    dsc_rows_free(&rows);
    json_decref(jobs);
    json_decref(body);
    return rc;
}

int dsc_jobs_items(const struct dsc_ctx *ctx, struct dsc_response *resp)
{
    static const char *const statuses[] = {"created",  "updated",      "unchanged", "deleted",
                                           "conflict", "needs_review", "rejected"};
    char after_text[16];
    char limit_text[16];
    const char *params[4];
    struct dsc_rows *rows = NULL;
    json_t *items = NULL;
    json_t *body = NULL;
    const char *status;
    const char *v;
    long after;
    long limit;
    int known = 0;
    int rc = 0;

    if (dsc_api_query_int(ctx, resp, "limit", 1, 10000, 1000, &limit) != 0 ||
        dsc_api_query_int(ctx, resp, "after", 0, INT_MAX, 0, &after) != 0) {
        goto out;
    }
    status = dsc_api_query(ctx, "status");
    for (size_t i = 0; status != NULL && i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        known |= strcmp(status, statuses[i]) == 0;
    }
    if (status != NULL && !known) {
        rc = dsc_api_error(resp, 422, "INVALID_REQUEST",
                           "?status: must be created, updated, unchanged, deleted, conflict, "
                           "needs_review or rejected");
        goto out;
    }
    snprintf(after_text, sizeof(after_text), "%ld", after);
    snprintf(limit_text, sizeof(limit_text), "%ld", limit);
    params[0] = ctx->job_id;
    params[1] = status;
    params[2] = after_text;
    params[3] = limit_text;
    rc = dsc_db_exec(ctx->db, "item list", items_sql, 4, params, &rows);
    if (rc != 0) {
        goto out;
    }
    v = dsc_rows_get(rows, 0, 0);
    if (v == NULL || strcmp(v, "t") != 0) {
        rc = dsc_api_error(resp, 404, "NOT_FOUND", "no such job");
        goto out;
    }
    items = json_loads(dsc_rows_get(rows, 0, 1), 0, NULL);
    if (items == NULL) {
        rc = DSC_ENOMEM;
        goto out;
    }
    body = json_pack("{s:O,s:O?}", "items", items, "next_after",
                     json_array_size(items) == (size_t)limit
                         ? json_object_get(json_array_get(items, json_array_size(items) - 1), "row")
                         : NULL);
    rc = dsc_api_json(resp, 200, &body);
out:
    dsc_rows_free(&rows);
    json_decref(items);
    json_decref(body);
    return rc;
}
