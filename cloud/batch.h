/*
 * batch.h — PUT /v1/jobs/{id}/batches/{seq}: a batch of rows of one job,
 * applied once whatever is retried or replayed.
 */
#ifndef DSC_BATCH_H
#define DSC_BATCH_H

#include "cloud/api.h"

/* The most rows one batch may carry. */
#define DSC_BATCH_MAX_ROWS 10000

/* 200 with one result per row (or the stored answer of a replay), 404,
 * 409 BATCH_CONFLICT / JOB_CONFLICT, 422 INVALID_REQUEST / BAD_DIGEST. */
int dsc_batch_put(const struct dsc_ctx *ctx, struct dsc_response *resp);

#endif
