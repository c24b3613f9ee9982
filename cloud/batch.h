/*
 * batch.h — PUT /v1/jobs/{id}/batches/{seq}: a batch of rows of one job,
 * applied once whatever is retried or replayed.
 *
 * The checks of the request body need no database (dsc_batch_parse,
 * dsc_batch_stage): the handler runs them first, and the fuzz target
 * tests/fuzz/fuzz_cloud_request.c runs them on arbitrary bytes.
 */
#ifndef DSC_BATCH_H
#define DSC_BATCH_H

#include <stddef.h>

#include "cloud/api.h"
#include "cloud/record.h"
#include "proto/proto.h"

/* The most rows one batch may carry. */
#define DSC_BATCH_MAX_ROWS DS_PROTO_MAX_BATCH_ROWS

/* A parsed batch: its rows in ascending row order and its digest. */
struct dsc_batch;

/* 200 with one result per row (or the stored answer of a replay), 404,
 * 409 BATCH_CONFLICT / JOB_CONFLICT, 422 INVALID_REQUEST / BAD_DIGEST. */
int dsc_batch_put(const struct dsc_ctx *ctx, struct dsc_response *resp);

/* Parses body (len bytes, already inflated) as a batch: a JSON object whose
 * rows each have a row number (distinct), a key, a fingerprint, a record or
 * a deletion; sorts them by row number and computes the Batch-Digest. On a
 * problem fills resp with a 422 INVALID_REQUEST naming the JSON member
 * (e.g. "rows[3].key: ...") and returns DSC_EINVAL; DSC_ENOMEM. new: *out
 * (dsc_batch_free). */
int dsc_batch_parse(const char *body, size_t len, struct dsc_batch **out,
                    struct dsc_response *resp);

/* The digest of the rows: 64 lowercase hex digits. borrow. */
const char *dsc_batch_digest(const struct dsc_batch *b);

/* How many rows the batch holds (1 to DSC_BATCH_MAX_ROWS). */
size_t dsc_batch_rows(const struct dsc_batch *b);

/* The rows as dsc_ingest_batch() takes them (a JSON array), each record
 * validated as a record of type; a record that fails carries error_code
 * INVALID_RECORD and its message. new: *text (free()). 0 or DSC_ENOMEM. */
int dsc_batch_stage(const struct dsc_batch *b, enum dsc_record_type type, char **text);

/* NULL-safe. */
void dsc_batch_free(struct dsc_batch **b);

#endif
