/*
 * api.h — the v1 API between the HTTP layer and the handlers: a request as
 * the HTTP layer hands it over (body already inflated), the response the
 * handlers fill in, and the per-request context (database connection inside
 * the request's transaction, the authenticated practice, path parameters).
 *
 * dsc_api_handle() is the one entry point: it routes, authenticates, opens
 * the transaction with app.practice_id set, calls the handler and commits
 * or rolls back. docs/protocol.md is the contract it implements.
 */
#ifndef DSC_API_H
#define DSC_API_H

#include <stddef.h>

#include <jansson.h>

#include "cloud/hash.h"
#include "proto/proto.h"

struct dsc_db;
struct dsc_db_pool;

/* The largest request body, after decompression (and before it). */
#define DSC_MAX_BODY DS_PROTO_MAX_BODY

/* The JSON a request body may hold, checked on its text before it is
 * parsed (parsing builds every value in memory): nesting depth, values
 * (array elements and object members) and arrays and objects in all. */
#define DSC_JSON_MAX_DEPTH 32
#define DSC_JSON_MAX_VALUES 1000000
#define DSC_JSON_MAX_CONTAINERS 100000

struct dsc_request {
    const char *method;        /* borrow: "GET", "PUT", ... */
    const char *path;          /* borrow: the URL path, without the query */
    const char *authorization; /* borrow: the Authorization header, or NULL */
    const char *batch_digest;  /* borrow: the Batch-Digest header, or NULL */
    const char *body;          /* borrow: the (inflated) body; NULL when empty */
    size_t body_len;           /* bytes in body */
    /* The value of the query argument name (?name=value), or NULL. */
    const char *(*query)(void *query_cls, const char *name);
    void *query_cls; /* borrow: passed to query */
};

struct dsc_response {
    unsigned status;                /* HTTP status */
    char *body;                     /* owned: the JSON body, NUL-terminated */
    size_t body_len;                /* bytes in body */
    int retry_after;                /* seconds for Retry-After, 0 for none */
    const char *allow;              /* static: the Allow header of a 405, or NULL */
    const char *error;              /* static: the error code sent, for the log, or NULL */
    char route[256];                /* the path when it matched a route (safe to log), else "-" */
    const char *endpoint;           /* static: the matched route's template, or NULL */
    const char *import_type;        /* static: batch: the job's import type, or NULL */
    char practice_id[DSC_UUID_LEN]; /* the authenticated practice, "" if none */
    int rows;                       /* batch: rows in the request */
    int created;                    /* batch: per-status counts, for the log */
    int updated;
    int unchanged;
    int rejected;
    int deleted;
    int conflict;
    int needs_review;
    int replay; /* batch: 1 when the stored response was returned */
};

/* What a handler gets. The connection is inside the request's transaction,
 * with app.practice_id set to practice_id. */
struct dsc_ctx {
    const struct dsc_request *req; /* borrow */
    struct dsc_db *db;             /* borrow */
    const char *practice_id;       /* borrow: the token's practice */
    const char *job_id;            /* borrow: the {id} of the path (lowercase), or NULL */
    const char *template_id;       /* borrow: the {id} of /v1/templates/{id}, or NULL */
    int seq;                       /* the {seq} of the path; 0 if none or out of range */
};

/* A handler fills resp and returns 0 (the transaction commits when the
 * status is below 400, else rolls back), or returns a negative DSC_E*
 * code, which dsc_api_handle turns into 503 or 500 after rolling back. */
typedef int (*dsc_api_handler_fn)(const struct dsc_ctx *ctx, struct dsc_response *resp);

/* Answers req into resp, which the caller initialised with
 * dsc_response_init and later closes with dsc_response_close. */
void dsc_api_handle(struct dsc_db_pool *pool, const struct dsc_request *req,
                    struct dsc_response *resp);

/* The checks that need no body, run once the request header is in: route
 * (404, 405) and token (401; looked up in the database, 503 when it cannot
 * be). Returns 1 when resp holds the answer and the body must not be read,
 * 0 when the request goes on (dsc_api_handle checks all again). resp as
 * for dsc_api_handle. */
int dsc_api_precheck(struct dsc_db_pool *pool, const struct dsc_request *req,
                     struct dsc_response *resp);

void dsc_response_init(struct dsc_response *resp);
/* Frees the body; NULL-safe. */
void dsc_response_close(struct dsc_response *resp);

/* Sets an error response {"error":{"code":code,"message":...}}. code must
 * be a static string. The message must not carry patient values. Returns
 * 0 (or DSC_ENOMEM), so handlers can `return dsc_api_error(...)`. */
int dsc_api_error(struct dsc_response *resp, unsigned status, const char *code, const char *fmt,
                  ...) __attribute__((format(printf, 4, 5)));

/* Sets a JSON response. steals: *body (set to NULL). 0 or DSC_ENOMEM. */
int dsc_api_json(struct dsc_response *resp, unsigned status, json_t **body);

/* Sets a response whose body is the JSON text text (copied). 0 or
 * DSC_ENOMEM. */
int dsc_api_text(struct dsc_response *resp, unsigned status, const char *text);

/* The query argument name of the request, or NULL when absent. */
const char *dsc_api_query(const struct dsc_ctx *ctx, const char *name);

/* Parses the query argument name as an integer in [min, max]; absent is
 * def. On a bad value fills resp with 422 INVALID_REQUEST naming the
 * argument and returns DSC_EINVAL. */
int dsc_api_query_int(const struct dsc_ctx *ctx, struct dsc_response *resp, const char *name,
                      long min, long max, long def, long *out);

/* Parses the request body as one JSON object (duplicate keys rejected).
 * new: *out (json_decref). On failure, fills resp with 422
 * INVALID_REQUEST and returns DSC_EINVAL. */
int dsc_api_parse_object(const struct dsc_ctx *ctx, struct dsc_response *resp, json_t **out);

/* The same for a body given as bytes (len of them; body may be NULL when
 * len is 0): no database, no request needed. */
int dsc_api_parse_body(const char *body, size_t len, struct dsc_response *resp, json_t **out);

/* The same, refusing before parsing a body deeper than DSC_JSON_MAX_DEPTH
 * or holding more than DSC_JSON_MAX_VALUES values or
 * DSC_JSON_MAX_CONTAINERS arrays and objects (422, DSC_EINVAL), and
 * returning DSC_ETOOBIG, resp untouched, when an array or object has
 * more than max_width elements. */
int dsc_api_parse_bounded(const char *body, size_t len, size_t max_width, struct dsc_response *resp,
                          json_t **out);

#endif
