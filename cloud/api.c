/*
 * api.c — routing, authentication and the transaction around each request.
 *
 * Every request but GET /v1/health runs the same way:
 *
 *   route (404/405) -> bearer token (401) -> pool connection -> BEGIN
 *     -> dsc_token_practice(sha256(token)) (401 when NULL)
 *     -> set_config('app.practice_id', practice, true)
 *     -> handler -> COMMIT when status < 400, else ROLLBACK
 *
 * so row-level security scopes every statement of a handler to the token's
 * practice, and a job of another practice is simply not there (404).
 * Database failures are mapped here and nowhere else: unreachable, deadlock,
 * lock or statement timeout -> 503 UNAVAILABLE with Retry-After: 1;
 * anything else -> 500 INTERNAL. A pooled connection found broken at BEGIN
 * (PostgreSQL restarted while it sat idle) makes the pool drop its idle
 * connections and the request retry once on a fresh one, before any
 * statement of the request has run.
 */
#include "cloud/api.h"
#include "cloud/agents.h"
#include "cloud/batch.h"
#include "cloud/db.h"
#include "cloud/error.h"
#include "cloud/jobs.h"
#include "cloud/log.h"
#include "cloud/templates.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_TOKEN_LEN 256

enum route {
    ROUTE_NONE,
    ROUTE_HEALTH,    /* GET  /v1/health */
    ROUTE_JOBS,      /* POST /v1/jobs, GET /v1/jobs?limit=&before= */
    ROUTE_JOB,       /* GET  /v1/jobs/{id} */
    ROUTE_COMPLETE,  /* POST /v1/jobs/{id}/complete */
    ROUTE_ITEMS,     /* GET  /v1/jobs/{id}/items?status=&after=&limit= */
    ROUTE_BATCH,     /* PUT  /v1/jobs/{id}/batches/{seq} */
    ROUTE_TEMPLATES, /* GET  /v1/templates */
    ROUTE_TEMPLATE,  /* GET, PUT /v1/templates/{id} */
    ROUTE_HEARTBEAT, /* POST /v1/agents/heartbeat */
    ROUTE_AGENTS,    /* GET  /v1/agents */
};

/* Each route accepts one or two methods; health has no handler (it runs
 * without a token or a transaction). */
static const struct {
    const char *method[2];     /* the methods the route accepts */
    dsc_api_handler_fn run[2]; /* their handlers */
    const char *allow;         /* the Allow header of a 405 */
} routes[] = {
    [ROUTE_NONE] = {{NULL, NULL}, {NULL, NULL}, NULL},
    [ROUTE_HEALTH] = {{"GET", NULL}, {NULL, NULL}, "GET"},
    [ROUTE_JOBS] = {{"POST", "GET"}, {dsc_jobs_create, dsc_jobs_list}, "GET, POST"},
    [ROUTE_JOB] = {{"GET", NULL}, {dsc_jobs_get, NULL}, "GET"},
    [ROUTE_COMPLETE] = {{"POST", NULL}, {dsc_jobs_complete, NULL}, "POST"},
    [ROUTE_ITEMS] = {{"GET", NULL}, {dsc_jobs_items, NULL}, "GET"},
    [ROUTE_BATCH] = {{"PUT", NULL}, {dsc_batch_put, NULL}, "PUT"},
    [ROUTE_TEMPLATES] = {{"GET", NULL}, {dsc_templates_list, NULL}, "GET"},
    [ROUTE_TEMPLATE] = {{"GET", "PUT"}, {dsc_templates_get, dsc_templates_put}, "GET, PUT"},
    [ROUTE_HEARTBEAT] = {{"POST", NULL}, {dsc_agents_heartbeat, NULL}, "POST"},
    [ROUTE_AGENTS] = {{"GET", NULL}, {dsc_agents_list, NULL}, "GET"},
};

/* Each route's path template: the endpoint label of the metrics. */
static const char *const route_names[] = {
    [ROUTE_NONE] = NULL,
    [ROUTE_HEALTH] = "/v1/health",
    [ROUTE_JOBS] = "/v1/jobs",
    [ROUTE_JOB] = "/v1/jobs/{id}",
    [ROUTE_COMPLETE] = "/v1/jobs/{id}/complete",
    [ROUTE_ITEMS] = "/v1/jobs/{id}/items",
    [ROUTE_BATCH] = "/v1/jobs/{id}/batches/{seq}",
    [ROUTE_TEMPLATES] = "/v1/templates",
    [ROUTE_TEMPLATE] = "/v1/templates/{id}",
    [ROUTE_HEARTBEAT] = "/v1/agents/heartbeat",
    [ROUTE_AGENTS] = "/v1/agents",
};

void dsc_response_init(struct dsc_response *resp)
{
    memset(resp, 0, sizeof(*resp));
    snprintf(resp->route, sizeof(resp->route), "-");
}

void dsc_response_close(struct dsc_response *resp)
{
    if (resp == NULL) {
        return;
    }
    free(resp->body);
    resp->body = NULL;
    resp->body_len = 0;
}

static int set_body(struct dsc_response *resp, unsigned status, char *text)
{
    if (text == NULL) {
        return DSC_ENOMEM;
    }
    free(resp->body);
    resp->body = text;
    resp->body_len = strlen(text);
    resp->status = status;
    return 0;
}

int dsc_api_error(struct dsc_response *resp, unsigned status, const char *code, const char *fmt,
                  ...)
{
    char msg[256];
    json_t *body;
    va_list ap;
    int rc;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    body = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
    if (body == NULL) {
        /* msg was not valid UTF-8 (a truncated name); drop it. */
        body = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", code);
    }
    rc = dsc_api_json(resp, status, &body);
    resp->error = code;
    return rc;
}

int dsc_api_json(struct dsc_response *resp, unsigned status, json_t **body)
{
    int rc;

    if (*body == NULL) {
        return DSC_ENOMEM;
    }
    rc = set_body(resp, status, json_dumps(*body, JSON_COMPACT));
    json_decref(*body);
    *body = NULL;
    return rc;
}

int dsc_api_text(struct dsc_response *resp, unsigned status, const char *text)
{
    return set_body(resp, status, strdup(text));
}

/* Walks the JSON text without building anything: how deep arrays and
 * objects nest, how many values it holds and how many elements the widest
 * array or object has, stopping at the first limit passed. A value is
 * counted at its container's opening or at the comma before it, so the
 * counts are exact for well-formed JSON; malformed JSON is left to the
 * parser. Returns SHAPE_OK or the limit passed. */
enum shape { SHAPE_OK, SHAPE_DEEP, SHAPE_MANY, SHAPE_WIDE };

static enum shape json_shape(const char *s, size_t n, size_t max_width)
{
    size_t width[DSC_JSON_MAX_DEPTH]; /* commas seen in each open container */
    size_t values = 1;
    size_t containers = 0;
    int depth = 0;

    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '"':
            /* Skip the string: its bytes are no structure. */
            for (i++; i < n && s[i] != '"'; i++) {
                if (s[i] == '\\') {
                    i++;
                }
            }
            break;
        case '{':
        case '[':
            if (depth == DSC_JSON_MAX_DEPTH) {
                return SHAPE_DEEP;
            }
            if (++containers > DSC_JSON_MAX_CONTAINERS) {
                return SHAPE_MANY;
            }
            width[depth++] = 0;
            break;
        case '}':
        case ']':
            depth -= depth > 0;
            break;
        case ',':
            if (++values > DSC_JSON_MAX_VALUES) {
                return SHAPE_MANY;
            }
            if (depth > 0 && ++width[depth - 1] >= max_width) {
                return SHAPE_WIDE;
            }
            break;
        default:
            break;
        }
    }
    return SHAPE_OK;
}

int dsc_api_parse_body(const char *body, size_t len, struct dsc_response *resp, json_t **out)
{
    return dsc_api_parse_bounded(body, len, DSC_JSON_MAX_VALUES, resp, out);
}

int dsc_api_parse_bounded(const char *body, size_t len, size_t max_width, struct dsc_response *resp,
                          json_t **out)
{
    json_error_t err;
    json_t *root;

    *out = NULL;
    if (body == NULL || len == 0) {
        dsc_api_error(resp, 422, "INVALID_REQUEST", "body: empty, a JSON object is required");
        return DSC_EINVAL;
    }
    switch (json_shape(body, len, max_width)) {
    case SHAPE_DEEP:
        dsc_api_error(resp, 422, "INVALID_REQUEST", "body: arrays and objects nest deeper than %d",
                      DSC_JSON_MAX_DEPTH);
        return DSC_EINVAL;
    case SHAPE_MANY:
        dsc_api_error(resp, 422, "INVALID_REQUEST",
                      "body: more than %d values or %d arrays and objects", DSC_JSON_MAX_VALUES,
                      DSC_JSON_MAX_CONTAINERS);
        return DSC_EINVAL;
    case SHAPE_WIDE:
        return DSC_ETOOBIG; /* the caller names its limit */
    case SHAPE_OK:
        break;
    }
    root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &err);
    if (root == NULL) {
        /* jansson's text may quote the input; only the position is sent. */
        dsc_api_error(resp, 422, "INVALID_REQUEST", "body: not valid JSON (line %d, column %d)",
                      err.line, err.column);
        return DSC_EINVAL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        dsc_api_error(resp, 422, "INVALID_REQUEST", "body: not a JSON object");
        return DSC_EINVAL;
    }
    *out = root;
    return 0;
}

int dsc_api_parse_object(const struct dsc_ctx *ctx, struct dsc_response *resp, json_t **out)
{
    return dsc_api_parse_body(ctx->req->body, ctx->req->body_len, resp, out);
}

const char *dsc_api_query(const struct dsc_ctx *ctx, const char *name)
{
    if (ctx->req->query == NULL) {
        return NULL;
    }
    return ctx->req->query(ctx->req->query_cls, name);
}

int dsc_api_query_int(const struct dsc_ctx *ctx, struct dsc_response *resp, const char *name,
                      long min, long max, long def, long *out)
{
    const char *v = dsc_api_query(ctx, name);
    char *end = NULL;
    long n;

    *out = def;
    if (v == NULL) {
        return 0;
    }
    n = strtol(v, &end, 10);
    if (v[0] == '\0' || strspn(v, "0123456789") != strlen(v) || *end != '\0' || n < min ||
        n > max) {
        dsc_api_error(resp, 422, "INVALID_REQUEST", "?%s: must be an integer from %ld to %ld", name,
                      min, max);
        return DSC_EINVAL;
    }
    *out = n;
    return 0;
}

/* A template id: 1 to 200 of [A-Za-z0-9._-]. */
static int template_id_ok(const char *s)
{
    size_t n = strlen(s);

    return n >= 1 && n <= 200 &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

/* Matches path to a route; fills job_id, *template_id and *seq (NULL
 * unless present) for routes that have them. */
static enum route match(const char *path, char job_id[DSC_UUID_LEN], const char **template_id,
                        const char **seq)
{
    static const char jobs[] = "/v1/jobs/";
    static const char templates[] = "/v1/templates/";
    char id[DSC_UUID_LEN];
    const char *rest;
    size_t n;

    *seq = NULL;
    *template_id = NULL;
    if (strcmp(path, "/v1/health") == 0) {
        return ROUTE_HEALTH;
    }
    if (strcmp(path, "/v1/jobs") == 0) {
        return ROUTE_JOBS;
    }
    if (strcmp(path, "/v1/templates") == 0) {
        return ROUTE_TEMPLATES;
    }
    if (strcmp(path, "/v1/agents") == 0) {
        return ROUTE_AGENTS;
    }
    if (strcmp(path, "/v1/agents/heartbeat") == 0) {
        return ROUTE_HEARTBEAT;
    }
    if (strncmp(path, templates, sizeof(templates) - 1) == 0) {
        rest = path + sizeof(templates) - 1;
        if (!template_id_ok(rest)) {
            return ROUTE_NONE;
        }
        *template_id = rest;
        return ROUTE_TEMPLATE;
    }
    if (strncmp(path, jobs, sizeof(jobs) - 1) != 0) {
        return ROUTE_NONE;
    }
    path += sizeof(jobs) - 1;
    if (strlen(path) < 36) {
        return ROUTE_NONE;
    }
    memcpy(id, path, 36);
    id[36] = '\0';
    if (!dsc_hash_parse_uuid(id, job_id)) {
        return ROUTE_NONE;
    }
    rest = path + 36;
    if (rest[0] == '\0') {
        return ROUTE_JOB;
    }
    if (strcmp(rest, "/complete") == 0) {
        return ROUTE_COMPLETE;
    }
    if (strcmp(rest, "/items") == 0) {
        return ROUTE_ITEMS;
    }
    if (strncmp(rest, "/batches/", 9) != 0) {
        return ROUTE_NONE;
    }
    rest += 9;
    n = strspn(rest, "0123456789");
    if (n == 0 || n > 12 || rest[n] != '\0') {
        return ROUTE_NONE;
    }
    *seq = rest;
    return ROUTE_BATCH;
}

/* The token of an "Authorization: Bearer <token>" header, or NULL. */
static const char *bearer_token(const char *header)
{
    size_t n;

    if (header == NULL || strncasecmp(header, "Bearer ", 7) != 0) {
        return NULL;
    }
    header += 7;
    while (*header == ' ') {
        header++;
    }
    n = strlen(header);
    while (n > 0 && header[n - 1] == ' ') {
        n--;
    }
    if (n == 0 || n > MAX_TOKEN_LEN || header[n] != '\0') {
        return NULL;
    }
    return header;
}

/* A connection with a transaction open. A reused connection that fails at
 * BEGIN with DSC_EUNAVAIL was broken while idle (PostgreSQL restarted), and
 * so are the other idle ones: drop them all and retry once. */
static int begin(struct dsc_db_pool *pool, struct dsc_db **db)
{
    int reused = 0;
    int rc = 0;

    for (int attempt = 0; attempt < 2; attempt++) {
        rc = dsc_db_pool_get(pool, db, &reused);
        if (rc != 0) {
            return rc;
        }
        rc = dsc_db_begin(*db);
        if (rc == 0) {
            return 0;
        }
        dsc_db_pool_put(pool, db);
        if (rc != DSC_EUNAVAIL || !reused) {
            break;
        }
        dsc_db_pool_flush(pool);
    }
    return rc;
}

static void unavailable(struct dsc_response *resp, int rc)
{
    dsc_response_close(resp);
    if (rc == DSC_EUNAVAIL || rc == DSC_EBUSY) {
        dsc_api_error(resp, 503, "UNAVAILABLE", "%s, retry later", dsc_strerror(rc));
        resp->retry_after = 1;
    }
    else {
        dsc_api_error(resp, 500, "INTERNAL", "internal error");
    }
}

static void health(struct dsc_db_pool *pool, struct dsc_response *resp)
{
    struct dsc_db *db = NULL;
    int rc;

    rc = begin(pool, &db);
    if (rc == 0) {
        rc = dsc_db_exec(db, "health", "SELECT 1", 0, NULL, NULL);
    }
    if (rc == 0) {
        rc = dsc_db_commit(db);
    }
    if (rc == 0) {
        rc = dsc_api_text(resp, 200, "{\"status\":\"ok\"}");
    }
    if (rc != 0) {
        unavailable(resp, rc == DSC_ENOMEM ? DSC_ENOMEM : DSC_EUNAVAIL);
    }
    if (db != NULL) {
        dsc_db_rollback(db);
    }
    dsc_db_pool_put(pool, &db);
}

static void run(struct dsc_db_pool *pool, struct dsc_ctx *ctx, dsc_api_handler_fn fn,
                const char *token_sha256, struct dsc_response *resp)
{
    const char *params[1] = {token_sha256};
    struct dsc_rows *rows = NULL;
    struct dsc_db *db = NULL;
    const char *practice;
    int rc;

    rc = begin(pool, &db);
    if (rc != 0) {
        goto out;
    }
    rc = dsc_db_exec(db, "token lookup", "SELECT dsc_token_practice($1)", 1, params, &rows);
    if (rc != 0) {
        goto out;
    }
    practice = dsc_rows_get(rows, 0, 0);
    if (practice == NULL) {
        rc = dsc_api_error(resp, 401, "UNAUTHORIZED", "unknown or revoked token");
        goto out;
    }
    snprintf(resp->practice_id, sizeof(resp->practice_id), "%s", practice);
    dsc_rows_free(&rows);
    params[0] = resp->practice_id;
    rc = dsc_db_exec(db, "set practice", "SELECT set_config('app.practice_id', $1, true)", 1,
                     params, NULL);
    if (rc != 0) {
        goto out;
    }
    ctx->db = db;
    ctx->practice_id = resp->practice_id;
    rc = fn(ctx, resp);
    ctx->db = NULL;
    if (rc == 0 && resp->status < 400) {
        rc = dsc_db_commit(db);
    }
out:
    if (rc != 0) {
        unavailable(resp, rc);
    }
    dsc_rows_free(&rows);
    if (db != NULL) {
        dsc_db_rollback(db);
    }
    dsc_db_pool_put(pool, &db);
}

/* What routing and the Authorization header decide, before any body. */
struct prepared {
    enum route route;                  /* ROUTE_NONE when resp holds the answer */
    dsc_api_handler_fn fn;             /* the route's handler for the method */
    char job_id[DSC_UUID_LEN];         /* the {id} of a job path */
    const char *template_id;           /* borrow: the {id} of a template path, or NULL */
    const char *seq;                   /* borrow: the {seq} of a batch path, or NULL */
    char token_sha256[DSC_SHA256_HEX]; /* the token's hash (not for health) */
};

/* Routes req and hashes its token. Returns 1 when resp holds the answer
 * (404, 405, 401 without a token, 503), else 0. */
static int prepare(const struct dsc_request *req, struct prepared *p, struct dsc_response *resp)
{
    const char *token;

    memset(p, 0, sizeof(*p));
    p->route = match(req->path, p->job_id, &p->template_id, &p->seq);
    if (p->route == ROUTE_NONE) {
        dsc_api_error(resp, 404, "NOT_FOUND", "no such resource");
        return 1;
    }
    /* The template id is at most 200 bytes of [A-Za-z0-9._-]: safe to log. */
    snprintf(resp->route, sizeof(resp->route), "%s", req->path);
    resp->endpoint = route_names[p->route];
    for (int i = 0; i < 2; i++) {
        if (routes[p->route].method[i] != NULL &&
            strcmp(req->method, routes[p->route].method[i]) == 0) {
            p->fn = routes[p->route].run[i];
        }
    }
    if (p->fn == NULL && p->route != ROUTE_HEALTH) {
        dsc_api_error(resp, 405, "METHOD_NOT_ALLOWED", "use %s on this resource",
                      routes[p->route].allow);
        resp->allow = routes[p->route].allow;
        return 1;
    }
    if (p->route == ROUTE_HEALTH && strcmp(req->method, "GET") != 0) {
        dsc_api_error(resp, 405, "METHOD_NOT_ALLOWED", "use GET on this resource");
        resp->allow = routes[p->route].allow;
        return 1;
    }
    if (p->route == ROUTE_HEALTH) {
        return 0;
    }
    token = bearer_token(req->authorization);
    if (token == NULL) {
        dsc_api_error(resp, 401, "UNAUTHORIZED", "an Authorization: Bearer token is required");
        return 1;
    }
    if (dsc_sha256_hex(token, strlen(token), p->token_sha256) != 0) {
        unavailable(resp, DSC_ENOMEM);
        return 1;
    }
    return 0;
}

int dsc_api_precheck(struct dsc_db_pool *pool, const struct dsc_request *req,
                     struct dsc_response *resp)
{
    struct prepared p;
    const char *params[1];
    struct dsc_rows *rows = NULL;
    struct dsc_db *db = NULL;
    int rc;

    if (prepare(req, &p, resp)) {
        return 1;
    }
    if (p.route == ROUTE_HEALTH) {
        return 0;
    }
    params[0] = p.token_sha256;
    rc = begin(pool, &db);
    if (rc == 0) {
        rc = dsc_db_exec(db, "token lookup", "SELECT dsc_token_practice($1)", 1, params, &rows);
    }
    if (rc != 0) {
        unavailable(resp, rc);
    }
    else if (dsc_rows_get(rows, 0, 0) == NULL) {
        dsc_api_error(resp, 401, "UNAUTHORIZED", "unknown or revoked token");
    }
    dsc_rows_free(&rows);
    if (db != NULL) {
        dsc_db_rollback(db);
    }
    dsc_db_pool_put(pool, &db);
    return resp->status != 0;
}

void dsc_api_handle(struct dsc_db_pool *pool, const struct dsc_request *req,
                    struct dsc_response *resp)
{
    struct prepared p;
    struct dsc_ctx ctx;
    enum route r;
    long long n;

    if (prepare(req, &p, resp)) {
        return;
    }
    r = p.route;
    if (r == ROUTE_HEALTH) {
        health(pool, resp);
        return;
    }
    memset(&ctx, 0, sizeof(ctx));
    ctx.req = req;
    if (r == ROUTE_JOB || r == ROUTE_COMPLETE || r == ROUTE_ITEMS || r == ROUTE_BATCH) {
        ctx.job_id = p.job_id;
    }
    ctx.template_id = p.template_id;
    if (p.seq != NULL) {
        /* Out of range stays 0, which the batch handler answers with 422
         * once the token has been checked. */
        n = strtoll(p.seq, NULL, 10);
        ctx.seq = n >= 1 && n <= INT_MAX ? (int)n : 0;
    }
    run(pool, &ctx, p.fn, p.token_sha256, resp);
}
