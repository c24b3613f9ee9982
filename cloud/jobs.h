/*
 * jobs.h — import jobs: create (idempotent on the agent-chosen id), read
 * and complete. A job is one file of one import type.
 */
#ifndef DSC_JOBS_H
#define DSC_JOBS_H

#include <jansson.h>

#include "cloud/api.h"

/* POST /v1/jobs: 201 new, 200 same id and content, 409 JOB_CONFLICT. */
int dsc_jobs_create(const struct dsc_ctx *ctx, struct dsc_response *resp);

/* GET /v1/jobs/{id}: 200 with counts and the batches received, or 404. */
int dsc_jobs_get(const struct dsc_ctx *ctx, struct dsc_response *resp);

/* POST /v1/jobs/{id}/complete: 200 with the job, now completed or
 * completed_with_errors; calling it again returns the same. Or 404. */
int dsc_jobs_complete(const struct dsc_ctx *ctx, struct dsc_response *resp);

/* GET /v1/jobs?limit=&before=: the practice's jobs, newest first, from
 * before the job ?before (a cursor); 404 when that job is not visible. */
int dsc_jobs_list(const struct dsc_ctx *ctx, struct dsc_response *resp);

/* GET /v1/jobs/{id}/items?status=&after=&limit=: the job's row results in
 * row order, after row ?after, of status ?status; or 404. */
int dsc_jobs_items(const struct dsc_ctx *ctx, struct dsc_response *resp);

/* The job's JSON representation (see docs/protocol.md). new: *out
 * (json_decref). DSC_ENOTFOUND when the job is not visible, or a database
 * error. */
int dsc_jobs_load(struct dsc_db *db, const char *job_id, json_t **out);

#endif
