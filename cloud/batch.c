/*
 * batch.c — batch ingest: validate, check the digest, then apply the rows
 * of one batch in one transaction, exactly once.
 *
 * Identity of a batch is (job, seq) plus its digest: the SHA-256 (lowercase
 * hex) of the lines "<row>\t<key>\t<fingerprint>\n" of its rows in
 * ascending row order. The agent computes it from its queue, so a replay
 * after a restart carries the same digest whatever the bytes or the
 * compression. The server recomputes it from the body and refuses a
 * mismatch (422 BAD_DIGEST).
 *
 *   the job's import type (no lock) .......... 404 when not visible
 *   per row: validate the record (C, by import type), and the rows
 *     staged as the JSON dsc_ingest_batch takes — before the lock
 *   lock the job row (FOR UPDATE)
 *   (job, seq) stored? same digest ........... 200, the stored body
 *                      other digest .......... 409 BATCH_CONFLICT
 *   job no longer open ....................... 409 JOB_CONFLICT
 *   a row already received in another batch .. 409 BATCH_CONFLICT
 *   dsc_ingest_batch(practice, ...): the whole batch in a handful of
 *     set-based statements — matching, duplicates, conflicts, writes,
 *     deletions, items, counters, the stored answer (migrations 0002,
 *     0003, 0006, 0008, 0010, 0012); the practice is the token's, passed
 *     as its first argument, and row-level security on app.practice_id
 *     stays around it
 *
 * The job row lock serializes all batches of a job, so two identical PUTs
 * racing apply once: the second waits, then finds the stored batch. The
 * primary key of import_batches (ON CONFLICT DO NOTHING) backs that up.
 * The answer is the stored jsonb re-encoded compactly by jansson, on the
 * first response and on every replay alike, so replays are byte-identical.
 */
#include "cloud/batch.h"
#include "cloud/db.h"
#include "cloud/error.h"
#include "cloud/hash.h"
#include "cloud/record.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct row {
    int number;              /* the data row's number in the file, >= 1 */
    const char *key;         /* borrow: the row's source key */
    const char *fingerprint; /* borrow: 64 lowercase hex */
    json_t *record;          /* borrow: the canonical record */
    json_t *raw;             /* borrow: the original columns, or NULL */
    int del;                 /* 1 for a deletion row ("op":"delete") */
};

struct dsc_batch {
    json_t *body;    /* owned: the parsed request */
    struct row *row; /* owned: the rows in ascending row order */
    size_t n;        /* rows */
    char digest[DSC_SHA256_HEX];
};

void dsc_batch_free(struct dsc_batch **b)
{
    if (b == NULL || *b == NULL) {
        return;
    }
    json_decref((*b)->body);
    free((*b)->row);
    free(*b);
    *b = NULL;
}

const char *dsc_batch_digest(const struct dsc_batch *b)
{
    return b->digest;
}

size_t dsc_batch_rows(const struct dsc_batch *b)
{
    return b->n;
}

static int by_number(const void *a, const void *b)
{
    const struct row *x = a;
    const struct row *y = b;

    return (x->number > y->number) - (x->number < y->number);
}

/* A 422 naming the member of the i-th row (0-based, request order). */
static int bad(struct dsc_response *resp, const char *what, size_t i)
{
    dsc_api_error(resp, 422, "INVALID_REQUEST", "rows[%zu]%s", i, what);
    return DSC_EINVAL;
}

/* Validates the body's structure into b, sorted by row number. On failure
 * fills resp (422) and returns DSC_EINVAL (or DSC_ENOMEM). */
static int parse_rows(struct dsc_batch *b, struct dsc_response *resp)
{
    json_t *rows = json_object_get(b->body, "rows");
    json_t *item;
    json_t *v;
    json_int_t number;
    size_t i;

    if (!json_is_array(rows) || json_array_size(rows) == 0 ||
        json_array_size(rows) > DSC_BATCH_MAX_ROWS) {
        dsc_api_error(resp, 422, "INVALID_REQUEST", "rows: required, an array of 1 to %d rows",
                      DSC_BATCH_MAX_ROWS);
        return DSC_EINVAL;
    }
    b->n = json_array_size(rows);
    b->row = calloc(b->n, sizeof(*b->row));
    if (b->row == NULL) {
        return DSC_ENOMEM;
    }
    json_array_foreach(rows, i, item)
    {
        struct row *r = &b->row[i];

        if (!json_is_object(item)) {
            return bad(resp, ": must be an object", i);
        }
        v = json_object_get(item, "row");
        number = json_is_integer(v) ? json_integer_value(v) : 0;
        if (number < 1 || number > INT_MAX) {
            return bad(resp, ".row: required, an integer >= 1", i);
        }
        r->number = (int)number;
        v = json_object_get(item, "key");
        if (!json_is_string(v) ||
            !ds_proto_key_valid(json_string_value(v), json_string_length(v))) {
            return bad(resp, ".key: required, 1 to 512 bytes without tab or line breaks", i);
        }
        r->key = json_string_value(v);
        v = json_object_get(item, "op");
        if (v != NULL && !json_is_null(v)) {
            if (!json_is_string(v) || (strcmp(json_string_value(v), "upsert") != 0 &&
                                       strcmp(json_string_value(v), "delete") != 0)) {
                return bad(resp, ".op: must be \"upsert\" or \"delete\"", i);
            }
            r->del = strcmp(json_string_value(v), "delete") == 0;
        }
        v = json_object_get(item, "fingerprint");
        if (r->del) {
            if (!json_is_string(v) || strcmp(json_string_value(v), "delete") != 0) {
                return bad(resp, ".fingerprint: must be \"delete\" in a deletion row", i);
            }
        }
        else if (!json_is_string(v) || !dsc_hash_is_sha256_hex(json_string_value(v))) {
            return bad(resp, ".fingerprint: required, 64 lowercase hex digits", i);
        }
        r->fingerprint = json_string_value(v);
        r->record = json_object_get(item, "record");
        if (json_is_null(r->record)) {
            r->record = NULL;
        }
        if (r->del ? r->record != NULL : !json_is_object(r->record)) {
            return bad(resp,
                       r->del ? ".record: must be absent in a deletion row"
                              : ".record: required, an object",
                       i);
        }
        r->raw = json_object_get(item, "raw");
        if (json_is_null(r->raw)) {
            r->raw = NULL;
        }
        if (r->raw != NULL && !json_is_object(r->raw)) {
            return bad(resp, ".raw: must be an object", i);
        }
    }
    qsort(b->row, b->n, sizeof(*b->row), by_number);
    for (i = 1; i < b->n; i++) {
        if (b->row[i].number == b->row[i - 1].number) {
            dsc_api_error(resp, 422, "INVALID_REQUEST", "rows: row %d appears twice",
                          b->row[i].number);
            return DSC_EINVAL;
        }
    }
    return 0;
}

static void digest_update(void *h, const void *p, size_t n)
{
    dsc_sha256_update(h, p, n);
}

static int compute_digest(struct dsc_batch *b)
{
    struct dsc_sha256 *h = dsc_sha256_new();

    if (h == NULL) {
        return DSC_ENOMEM;
    }
    for (size_t i = 0; i < b->n; i++) {
        ds_proto_digest_row(digest_update, h, b->row[i].number, b->row[i].key,
                            b->row[i].fingerprint);
    }
    dsc_sha256_final(h, b->digest);
    dsc_sha256_free(&h);
    return 0;
}

/* The Batch-Digest header in lowercase, or 0 when it is not 64 hex. */
static int header_digest(const char *header, char out[DSC_SHA256_HEX])
{
    if (header == NULL || strlen(header) != 64) {
        return 0;
    }
    for (size_t i = 0; i < 64; i++) {
        out[i] = (char)tolower((unsigned char)header[i]);
    }
    out[64] = '\0';
    return dsc_hash_is_sha256_hex(out);
}

/* Sends the stored answer text (jsonb text) re-encoded compactly. */
static int answer_stored(struct dsc_response *resp, const char *text)
{
    json_t *body = json_loads(text, 0, NULL);

    return dsc_api_json(resp, 200, &body);
}

/* 409 when a row of the batch already arrived in another batch of the
 * job: applying it again would count it twice. */
static int check_rows_new(const struct dsc_ctx *ctx, const struct dsc_batch *b,
                          struct dsc_response *resp)
{
    const char *params[2];
    struct dsc_rows *rows = NULL;
    char *list;
    size_t off = 0;
    size_t cap = b->n * 12 + 3;
    int rc;

    list = malloc(cap);
    if (list == NULL) {
        return DSC_ENOMEM;
    }
    list[off++] = '{';
    for (size_t i = 0; i < b->n; i++) {
        off += (size_t)snprintf(list + off, cap - off, i == 0 ? "%d" : ",%d", b->row[i].number);
    }
    snprintf(list + off, cap - off, "}");
    params[0] = ctx->job_id;
    params[1] = list;
    rc = dsc_db_exec(ctx->db, "item lookup",
                     "SELECT min(row_number) FROM import_job_items"
                     " WHERE job_id = $1 AND row_number = ANY($2::integer[])",
                     2, params, &rows);
    if (rc == 0 && dsc_rows_get(rows, 0, 0) != NULL) {
        rc = dsc_api_error(resp, 409, "BATCH_CONFLICT", "row %s was received in another batch",
                           dsc_rows_get(rows, 0, 0));
    }
    dsc_rows_free(&rows);
    free(list);
    return rc;
}

/* The import types by enum dsc_record_type, for the metrics. */
static const char *const type_names[] = {"patients", "appointments", "treatments", "financial"};

/* Counts the statuses of the answer's results for the log line. */
static void count_results(json_t *answer, struct dsc_response *resp)
{
    json_t *results = json_object_get(answer, "results");
    json_t *r;
    const char *st;
    size_t i;

    json_array_foreach(results, i, r)
    {
        st = json_string_value(json_object_get(r, "status"));
        if (st == NULL) {
            continue;
        }
        if (strcmp(st, "created") == 0) {
            resp->created++;
        }
        else if (strcmp(st, "updated") == 0) {
            resp->updated++;
        }
        else if (strcmp(st, "unchanged") == 0) {
            resp->unchanged++;
        }
        else if (strcmp(st, "deleted") == 0) {
            resp->deleted++;
        }
        else if (strcmp(st, "conflict") == 0) {
            resp->conflict++;
        }
        else if (strcmp(st, "needs_review") == 0) {
            resp->needs_review++;
        }
        else {
            resp->rejected++;
        }
    }
}

int dsc_batch_stage(const struct dsc_batch *b, enum dsc_record_type type, char **text)
{
    json_t *rows = json_array();
    json_t *o;
    char msg[160];
    int rc = 0;

    *text = NULL;
    if (rows == NULL) {
        return DSC_ENOMEM;
    }
    for (size_t i = 0; i < b->n; i++) {
        const struct row *r = &b->row[i];

        /* raw is not staged: only the rows that did not go through keep it
         * (keep_failed), which dsc_ingest_batch cannot know beforehand. */
        o = json_pack("{s:i,s:s,s:s,s:s,s:O?}", "row", r->number, "key", r->key, "fingerprint",
                      r->fingerprint, "op", r->del ? "delete" : "upsert", "record", r->record);
        if (o == NULL || json_array_append_new(rows, o) != 0) {
            rc = DSC_ENOMEM;
            goto out;
        }
        if (!r->del && dsc_record_validate(type, r->record, msg, sizeof(msg)) != 0) {
            if (json_object_set_new(o, "error_code", json_string("INVALID_RECORD")) != 0 ||
                json_object_set_new(o, "error_message", json_string(msg)) != 0) {
                rc = DSC_ENOMEM;
                goto out;
            }
        }
    }
    *text = json_dumps(rows, JSON_COMPACT);
    if (*text == NULL) {
        rc = DSC_ENOMEM;
    }
out:
    json_decref(rows);
    return rc;
}

/* For the items the answer calls rejected, conflict or needs_review:
 * stores the row's original columns (raw_data, as the agent sent them) and
 * every error of the item (errors: all of a record the rule book refuses,
 * else the one the ingest found). The other items keep neither: what went
 * through needs no one's look, and its raw text would only double what the
 * cloud stores. Rare rows, one statement; in the request's transaction. */
static int keep_failed(const struct dsc_ctx *ctx, const struct dsc_batch *b,
                       enum dsc_record_type type, json_t *answer)
{
    json_t *results = json_object_get(answer, "results");
    json_t *keep = json_array();
    json_t *res;
    const char *params[2];
    struct dsc_rows *rows = NULL;
    char *text = NULL;
    size_t i;
    size_t k = 0;
    int rc = 0;

    if (keep == NULL) {
        return DSC_ENOMEM;
    }
    json_array_foreach(results, i, res)
    {
        const char *st = json_string_value(json_object_get(res, "status"));
        json_int_t row = json_integer_value(json_object_get(res, "row"));
        json_t *errors = NULL;
        json_t *o;

        if (st == NULL || (strcmp(st, "rejected") != 0 && strcmp(st, "conflict") != 0 &&
                           strcmp(st, "needs_review") != 0)) {
            continue;
        }
        while (k < b->n && b->row[k].number < row) {
            k++; /* results and rows are both in ascending row order */
        }
        if (k == b->n || b->row[k].number != row) {
            continue;
        }
        if (strcmp(st, "rejected") == 0 && !b->row[k].del && b->row[k].record != NULL) {
            const char *code =
                json_string_value(json_object_get(json_object_get(res, "error"), "code"));

            if (code != NULL && strcmp(code, "INVALID_RECORD") == 0) {
                rc = dsc_record_errors(type, b->row[k].record, &errors);
                if (rc != 0) {
                    goto out;
                }
            }
        }
        o = json_pack("{s:I,s:O?,s:o?}", "row", row, "raw", b->row[k].raw, "errors", errors);
        if (o == NULL || json_array_append_new(keep, o) != 0) {
            rc = DSC_ENOMEM;
            goto out;
        }
    }
    if (json_array_size(keep) == 0) {
        goto out;
    }
    text = json_dumps(keep, JSON_COMPACT);
    if (text == NULL) {
        rc = DSC_ENOMEM;
        goto out;
    }
    params[0] = ctx->job_id;
    params[1] = text;
    rc = dsc_db_exec(ctx->db, "item details",
                     "UPDATE import_job_items i"
                     "   SET raw_data = x.raw,"
                     "       errors = CASE WHEN jsonb_array_length(coalesce(x.errors, '[]')) > 0"
                     "                     THEN x.errors"
                     "                     WHEN i.error_code IS NOT NULL"
                     "                     THEN jsonb_build_array(jsonb_build_object("
                     "                              'code', i.error_code,"
                     "                              'message', i.error_message)) END"
                     "  FROM jsonb_to_recordset($2::jsonb) AS x(\"row\" integer, raw jsonb,"
                     "                                          errors jsonb)"
                     " WHERE i.job_id = $1::uuid AND i.row_number = x.\"row\"",
                     2, params, &rows);
out:
    dsc_rows_free(&rows);
    free(text);
    json_decref(keep);
    return rc;
}

/* Applies the batch, staged as text (dsc_batch_stage), with
 * dsc_ingest_batch() and answers its stored answer. */
static int apply(const struct dsc_ctx *ctx, const struct dsc_batch *b, enum dsc_record_type type,
                 const char *text, struct dsc_response *resp)
{
    char seq[16];
    const char *params[5];
    struct dsc_rows *rows = NULL;
    json_t *answer = NULL;
    int rc;

    snprintf(seq, sizeof(seq), "%d", ctx->seq);
    params[0] = ctx->practice_id;
    params[1] = ctx->job_id;
    params[2] = seq;
    params[3] = b->digest;
    params[4] = text;
    rc = dsc_db_exec(ctx->db, "batch ingest",
                     "SELECT dsc_ingest_batch($1::uuid, $2::uuid, $3, $4, $5::jsonb)", 5, params,
                     &rows);
    if (rc != 0) {
        goto out;
    }
    if (dsc_rows_get(rows, 0, 0) == NULL) {
        rc = DSC_EDB;
        goto out;
    }
    answer = json_loads(dsc_rows_get(rows, 0, 0), 0, NULL);
    if (answer == NULL) {
        rc = DSC_ENOMEM;
        goto out;
    }
    rc = keep_failed(ctx, b, type, answer);
    if (rc != 0) {
        goto out;
    }
    count_results(answer, resp);
    rc = dsc_api_json(resp, 200, &answer);
out:
    dsc_rows_free(&rows);
    json_decref(answer);
    return rc;
}

int dsc_batch_parse(const char *body, size_t len, struct dsc_batch **out, struct dsc_response *resp)
{
    struct dsc_batch *b;
    int rc;

    *out = NULL;
    b = calloc(1, sizeof(*b));
    if (b == NULL) {
        return DSC_ENOMEM;
    }
    /* No member of a batch may be longer than its rows: that bounds the
     * rows before jansson builds any of them. */
    rc = dsc_api_parse_bounded(body, len, DSC_BATCH_MAX_ROWS, resp, &b->body);
    if (rc == DSC_ETOOBIG) {
        rc = dsc_api_error(resp, 422, "INVALID_REQUEST",
                           "rows: required, an array of 1 to %d rows (no array or object of a "
                           "batch may hold more)",
                           DSC_BATCH_MAX_ROWS);
        rc = rc == 0 ? DSC_EINVAL : rc;
    }
    if (rc == 0) {
        rc = parse_rows(b, resp);
    }
    if (rc == 0) {
        rc = compute_digest(b);
    }
    if (rc != 0) {
        dsc_batch_free(&b);
        return rc;
    }
    *out = b;
    return 0;
}

/* Reads the job's status and import type with sql (the job's id is $1):
 * 0 with *open and *type; 0 with a 404 answer in resp when the job is not
 * visible; or an error. */
static int job_row(const struct dsc_ctx *ctx, const char *what, const char *sql, int *open,
                   enum dsc_record_type *type, struct dsc_response *resp)
{
    const char *params[1] = {ctx->job_id};
    struct dsc_rows *rows = NULL;
    const char *v;
    int rc;

    rc = dsc_db_exec(ctx->db, what, sql, 1, params, &rows);
    if (rc != 0) {
        goto out;
    }
    v = dsc_rows_get(rows, 0, 0);
    if (v == NULL) {
        rc = dsc_api_error(resp, 404, "NOT_FOUND", "no such job");
        goto out;
    }
    *open = strcmp(v, "open") == 0;
    if (dsc_record_type_parse(dsc_rows_get(rows, 0, 1), type) != 0) {
        rc = DSC_EDB; /* the table's values are ours: cannot happen */
    }
out:
    dsc_rows_free(&rows);
    return rc;
}

int dsc_batch_put(const struct dsc_ctx *ctx, struct dsc_response *resp)
{
    struct dsc_batch *b = NULL;
    char header[DSC_SHA256_HEX];
    char seq[16];
    const char *params[2];
    struct dsc_rows *rows = NULL;
    enum dsc_record_type type;
    enum dsc_record_type locked;
    char *staged = NULL;
    int job_open;
    int rc;

    if (ctx->seq < 1) {
        rc = dsc_api_error(resp, 422, "INVALID_REQUEST", "seq: must be an integer from 1 to %d",
                           INT_MAX);
        goto out;
    }
    if (!header_digest(ctx->req->batch_digest, header)) {
        rc = dsc_api_error(resp, 422, "INVALID_REQUEST",
                           "Batch-Digest: required header, 64 hex digits");
        goto out;
    }
    rc = dsc_batch_parse(ctx->req->body, ctx->req->body_len, &b, resp);
    if (rc != 0) {
        rc = rc == DSC_EINVAL ? 0 : rc;
        goto out;
    }
    resp->rows = (int)b->n;
    if (strcmp(b->digest, header) != 0) {
        rc = dsc_api_error(resp, 422, "BAD_DIGEST",
                           "Batch-Digest does not match the rows (SHA-256 of "
                           "\"<row>\\t<key>\\t<fingerprint>\\n\" in row order)");
        goto out;
    }

    /* The rows are checked and staged for dsc_ingest_batch before the
     * job's lock: the lock serializes the batches of a job, and this is a
     * quarter of the server's own work on a batch. A job's import type
     * never changes, so it is read without the lock. */
    rc = job_row(ctx, "job type", "SELECT status, import_type FROM import_jobs WHERE id = $1",
                 &job_open, &type, resp);
    if (rc != 0 || resp->status != 0) {
        goto out;
    }
    resp->import_type = type_names[type];
    rc = dsc_batch_stage(b, type, &staged);
    if (rc != 0) {
        goto out;
    }
    rc = job_row(ctx, "job lock",
                 "SELECT status, import_type FROM import_jobs WHERE id = $1 FOR UPDATE", &job_open,
                 &locked, resp);
    if (rc != 0 || resp->status != 0) {
        goto out;
    }
    if (locked != type) {
        rc = DSC_EDB; /* a job's type never changes: cannot happen */
        goto out;
    }

    snprintf(seq, sizeof(seq), "%d", ctx->seq);
    params[0] = ctx->job_id;
    params[1] = seq;
    rc = dsc_db_exec(ctx->db, "batch lookup",
                     "SELECT request_digest, response::text FROM import_batches"
                     " WHERE job_id = $1 AND seq = $2",
                     2, params, &rows);
    if (rc != 0) {
        goto out;
    }
    if (dsc_rows_count(rows) == 1) {
        if (strcmp(dsc_rows_get(rows, 0, 0), b->digest) != 0) {
            rc = dsc_api_error(resp, 409, "BATCH_CONFLICT",
                               "batch %d of this job was received with another digest", ctx->seq);
            goto out;
        }
        resp->replay = 1;
        rc = answer_stored(resp, dsc_rows_get(rows, 0, 1));
        goto out;
    }
    if (!job_open) {
        rc = dsc_api_error(resp, 409, "JOB_CONFLICT", "job is completed; it takes no new batch");
        goto out;
    }
    rc = check_rows_new(ctx, b, resp);
    if (rc != 0 || resp->status != 0) {
        goto out;
    }
    rc = apply(ctx, b, type, staged, resp);
out:
    dsc_rows_free(&rows);
    dsc_batch_free(&b);
    free(staged);
    return rc;
}
