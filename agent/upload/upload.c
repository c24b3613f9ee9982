/*
 * upload.c — the protocol side of delivery: what to send next, how to build
 * it, and what each answer means for the queue.
 *
 * Per job, in order:
 *
 *   remote_open = 0 --POST /v1/jobs 200|201--> remote_open = 1   (ds_store_job_opened)
 *   batch pending|retry_wait --PUT--> in_flight                  (ds_store_batch_send)
 *         in_flight --200--> acked                               (ds_store_batch_acked)
 *         in_flight --RETRY--> retry_wait until next_at          (ds_store_batch_retry)
 *         in_flight --REJECT--> rejected                         (ds_store_batch_rejected)
 *   no batch pending, in flight or waiting --POST complete 200--> job completed
 *                                                                (ds_store_job_completed)
 *
 * A retryable failure of any request pauses the whole uploader, not only
 * that request: while the cloud is unreachable one request at a time probes
 * it, with the backoff growing with the failures in a row, instead of every
 * batch retrying on its own schedule. The first success lifts the pause.
 *
 * Batch retries live in the queue (retry_wait with its next attempt time);
 * retries of a job's open and complete calls live in memory only (`struct
 * op`): after a restart they are simply made again, and both calls are
 * idempotent in the cloud.
 *
 * Log lines carry job ids, batch numbers, HTTP statuses and codes: never a
 * record, never the token.
 */
#include "agent/upload/upload.h"

#include "agent/core/buf.h"
#include "agent/core/crash.h"
#include "agent/core/log.h"
#include "agent/core/version.h"
#include "agent/upload/http.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#define MAX_JOBS_PER_KICK 64
#define MAX_BATCH_BYTES (32 * 1024 * 1024) /* the cloud's limit, decompressed */
#define TOKEN_MAX 512

enum op_kind { OP_OPEN, OP_BATCH, OP_COMPLETE };

/* A request in flight, or a job-level call waiting for its next attempt. */
struct op {
    struct ds_uploader *up;  /* owner */
    enum op_kind kind;       /* what it is */
    char job_id[DS_UUID_LEN];
    long seq;                /* for OP_BATCH */
    int busy;                /* a request is in flight */
    int attempts;            /* made so far (job-level calls) */
    double next_at;          /* next attempt (job-level calls); INFINITY = given up */
    struct op *next;         /* in up->ops */
};

struct ds_uploader {
    uv_loop_t *loop;              /* borrow */
    const struct ds_config *cfg;  /* borrow */
    struct ds_store *store;       /* borrow: the loop thread's connection */
    struct ds_http *http;         /* owned */
    uv_timer_t timer;             /* wakes us for the next retry */
    int timer_open;               /* the timer handle is initialised */
    char **tokens;                /* owned, one per cfg->practices[i] */
    char base_url[512];           /* cloud url without a trailing slash */
    char agent_id[DS_UUID_LEN];   /* sent with every job */
    struct op *ops;               /* owned list */
    size_t in_flight;             /* requests running */
    unsigned long retries;        /* retries scheduled since start */
    int fail_streak;              /* retryable failures in a row, any request */
    double pause_until;           /* no new request before this time */
    unsigned int seed;            /* jitter */
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *token_for(const struct ds_uploader *up, const char *practice)
{
    for (size_t i = 0; i < up->cfg->npractices; i++) {
        if (strcmp(up->cfg->practices[i].name, practice) == 0) {
            return up->tokens[i];
        }
    }
    return NULL;
}

static struct op *op_find(struct ds_uploader *up, enum op_kind kind, const char *job_id, long seq)
{
    for (struct op *op = up->ops; op != NULL; op = op->next) {
        if (op->kind == kind && op->seq == seq && strcmp(op->job_id, job_id) == 0) {
            return op;
        }
    }
    return NULL;
}

static struct op *op_get(struct ds_uploader *up, enum op_kind kind, const char *job_id, long seq)
{
    struct op *op = op_find(up, kind, job_id, seq);

    if (op != NULL) {
        return op;
    }
    op = calloc(1, sizeof(*op));
    if (op == NULL) {
        return NULL;
    }
    op->up = up;
    op->kind = kind;
    op->seq = seq;
    snprintf(op->job_id, sizeof(op->job_id), "%s", job_id);
    op->next = up->ops;
    up->ops = op;
    return op;
}

static void op_drop(struct ds_uploader *up, struct op *op)
{
    for (struct op **p = &up->ops; *p != NULL; p = &(*p)->next) {
        if (*p == op) {
            *p = op->next;
            free(op);
            return;
        }
    }
}

/* The delay before attempt number `attempts` + 1: exponential from
 * retry_min_seconds, capped, with jitter in [50%, 100%], and never shorter
 * than what the server asked for. */
static double backoff(struct ds_uploader *up, int attempts, double retry_after)
{
    double d = up->cfg->retry_min_seconds * pow(2.0, attempts > 1 ? attempts - 1 : 0);

    if (d > up->cfg->retry_max_seconds) {
        d = up->cfg->retry_max_seconds;
    }
    d *= 0.5 + 0.5 * ((double)rand_r(&up->seed) / (double)RAND_MAX);
    if (retry_after > d) {
        d = retry_after < up->cfg->retry_max_seconds ? retry_after : up->cfg->retry_max_seconds;
    }
    return d;
}

/* Every answer feeds the outage state; returns the delay for a retry. */
static double note_outcome(struct ds_uploader *up, int retryable, double retry_after)
{
    double delay;

    if (!retryable) {
        up->fail_streak = 0;
        up->pause_until = 0;
        return 0;
    }
    up->fail_streak++;
    up->retries++;
    delay = backoff(up, up->fail_streak, retry_after);
    up->pause_until = now_s() + delay;
    return delay;
}

enum outcome { OUT_OK, OUT_RETRY, OUT_REJECT };

/* Classifies an answer once, and names it with a code for the queue. */
static enum outcome classify(const struct ds_http_response *res, char *code, size_t size,
                             char *message, size_t msize)
{
    json_t *doc = NULL;
    json_t *err = NULL;
    const char *c = NULL;
    const char *m = NULL;

    message[0] = '\0';
    if (res->curl_code != 0) {
        snprintf(code, size, "NET_%d", res->curl_code);
        return OUT_RETRY;
    }
    if (res->status >= 200 && res->status < 300) {
        snprintf(code, size, "OK");
        return OUT_OK;
    }
    snprintf(code, size, "HTTP_%ld", res->status);
    if (res->status == 408 || res->status == 429 || res->status >= 500 || res->status < 200) {
        return OUT_RETRY;
    }
    doc = json_loadb(res->body, res->body_len, 0, NULL);
    err = json_object_get(doc, "error");
    if (json_unpack(err, "{s:s, s?s}", "code", &c, "message", &m) == 0) {
        snprintf(code, size, "%s", c);
        if (m != NULL) {
            snprintf(message, msize, "%s", m);
        }
    }
    json_decref(doc);
    return OUT_REJECT;
}

static void arm_timer(struct ds_uploader *up, double at);
static void on_timer(uv_timer_t *t);

/* ---- opening a job -------------------------------------------------------- */

static void on_open_done(void *ctx, const struct ds_http_response *res)
{
    struct op *op = ctx;
    struct ds_uploader *up = op->up;
    char code[64];
    char message[256];
    enum outcome o = classify(res, code, sizeof(code), message, sizeof(message));
    double delay;

    op->busy = 0;
    up->in_flight--;
    delay = note_outcome(up, o == OUT_RETRY, res->retry_after);
    if (o == OUT_OK) {
        ds_crash_point("after_open_before_record");
        if (ds_store_job_opened(up->store, op->job_id) == 0) {
            ds_log_info("job %s: opened in the cloud (HTTP %ld)", op->job_id, res->status);
            op_drop(up, op);
        }
    }
    else if (o == OUT_RETRY) {
        op->next_at = now_s() + delay;
        ds_log_warn("job %s: open failed (%s), retry in %.2fs", op->job_id, code, delay);
        ds_store_event(up->store, "job_open_retry", 0, op->job_id, 0, code, NULL);
    }
    else {
        op->next_at = INFINITY;
        ds_log_error("job %s: the cloud refused to open it (%s); it waits for an admin",
                     op->job_id, code);
        ds_store_event(up->store, "job_open_rejected", 0, op->job_id, 0, code, NULL);
    }
    ds_upload_kick(up);
}

static void start_open(struct ds_uploader *up, const struct ds_job_info *job)
{
    struct op *op = op_get(up, OP_OPEN, job->id, 0);
    json_t *body = NULL;
    char *text = NULL;
    char url[700];
    int rc;

    if (op == NULL) {
        return;
    }
    body = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:{s:s, s:s}}", "id", job->id,
                     "import_type", job->import_type, "filename", job->filename, "sha256",
                     job->sha256, "total_rows", (json_int_t)job->total_rows, "template",
                     job->template_id, "agent", "id", up->agent_id, "version", DS_VERSION);
    text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    if (text == NULL) {
        ds_log_error("job %s: out of memory building the open request", job->id);
        goto out;
    }
    snprintf(url, sizeof(url), "%s/v1/jobs", up->base_url);
    rc = ds_http_request(up->http, "POST", url, token_for(up, job->practice), text, strlen(text),
                         NULL, NULL, on_open_done, op);
    if (rc != 0) {
        ds_log_error("job %s: cannot start the open request: %s", job->id, ds_strerror(rc));
        op->next_at = now_s() + backoff(up, ++op->attempts, -1);
        goto out;
    }
    op->busy = 1;
    op->attempts++;
    up->in_flight++;
out:
    free(text);
    json_decref(body);
}

/* ---- sending a batch ------------------------------------------------------ */

/* Appends s as a JSON string. Keys and fingerprints are ASCII, but a key
 * carries an external id from the export, so it is escaped properly. */
static int append_json_string(struct ds_buf *b, const char *s)
{
    int rc = ds_buf_append(b, "\"", 1);

    for (const unsigned char *p = (const unsigned char *)s; rc == 0 && *p != '\0'; p++) {
        if (*p == '"' || *p == '\\') {
            char esc[2] = {'\\', (char)*p};
            rc = ds_buf_append(b, esc, 2);
        }
        else if (*p < 0x20) {
            rc = ds_buf_printf(b, "\\u%04x", *p);
        }
        else {
            rc = ds_buf_append(b, p, 1);
        }
    }
    return rc != 0 ? rc : ds_buf_append(b, "\"", 1);
}

struct body_ctx {
    struct ds_buf buf; /* the JSON being built */
    long nrows;        /* rows appended */
};

static int append_row(void *ctx, const struct ds_batch_row *r)
{
    struct body_ctx *bc = ctx;
    struct ds_buf *b = &bc->buf;
    int rc;

    rc = ds_buf_printf(b, "%s{\"row\":%ld,\"key\":", bc->nrows > 0 ? "," : "", r->row);
    if (rc == 0) {
        rc = append_json_string(b, r->key);
    }
    if (rc == 0) {
        rc = ds_buf_printf(b, ",\"fingerprint\":\"%s\",\"record\":", r->fingerprint);
    }
    if (rc == 0) {
        rc = ds_buf_append_str(b, r->record_json != NULL ? r->record_json : "{}");
    }
    if (rc == 0) {
        rc = ds_buf_append(b, "}", 1);
    }
    bc->nrows++;
    return rc;
}

/* gzip (RFC 1952) of in, into a new buffer. */
static int gzip(const char *in, size_t len, unsigned char **out, size_t *out_len)
{
    z_stream zs;
    unsigned char *p = NULL;
    uLong cap;
    int rc;

    memset(&zs, 0, sizeof(zs));
    if (deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        return DS_ENOMEM;
    }
    cap = deflateBound(&zs, (uLong)len) + 32;
    p = malloc(cap);
    if (p == NULL) {
        deflateEnd(&zs);
        return DS_ENOMEM;
    }
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)len;
    zs.next_out = p;
    zs.avail_out = (uInt)cap;
    rc = deflate(&zs, Z_FINISH);
    *out_len = zs.total_out;
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        free(p);
        return DS_EIO;
    }
    *out = p;
    return 0;
}

/* Reads the per-row results of a 200 answer into the queue. */
static int record_results(struct ds_uploader *up, struct op *op,
                          const struct ds_http_response *res)
{
    json_t *doc = NULL;
    json_t *results;
    struct ds_item_result *items = NULL;
    size_t n = 0;
    int rc = DS_EPARSE;

    doc = json_loadb(res->body, res->body_len, 0, NULL);
    results = json_object_get(doc, "results");
    if (!json_is_array(results)) {
        goto out;
    }
    n = json_array_size(results);
    items = calloc(n > 0 ? n : 1, sizeof(*items));
    if (items == NULL) {
        rc = DS_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *r = json_array_get(results, i);
        json_int_t row = 0;
        const char *status = NULL;
        json_t *error = NULL;

        if (json_unpack(r, "{s:I, s:s, s?s, s?o}", "row", &row, "status", &status, "record_id",
                        &items[i].record_id, "error", &error) != 0) {
            goto out;
        }
        items[i].row = (long)row;
        items[i].status = status;
        if (error != NULL) {
            json_unpack(error, "{s?s, s?s}", "code", &items[i].error_code, "message",
                        &items[i].error_msg);
        }
    }
    rc = ds_store_batch_acked(up->store, op->job_id, op->seq, items, n);
out:
    free(items);
    json_decref(doc);
    return rc;
}

static void on_batch_done(void *ctx, const struct ds_http_response *res)
{
    struct op *op = ctx;
    struct ds_uploader *up = op->up;
    char code[64];
    char message[256];
    enum outcome o = classify(res, code, sizeof(code), message, sizeof(message));
    double delay;
    int rc;

    up->in_flight--;
    if (o == OUT_OK) {
        ds_crash_point("after_send_before_ack");
        rc = record_results(up, op, res);
        if (rc == 0) {
            ds_log_info("job %s batch %ld: acknowledged", op->job_id, op->seq);
        }
        else {
            /* A 200 we cannot read is the server's fault: try again. */
            o = OUT_RETRY;
            snprintf(code, sizeof(code), "BAD_RESPONSE");
            ds_log_error("job %s batch %ld: unreadable answer (%s)", op->job_id, op->seq,
                         ds_strerror(rc));
        }
    }
    delay = note_outcome(up, o == OUT_RETRY, res->retry_after);
    if (o == OUT_RETRY) {
        ds_log_warn("job %s batch %ld: attempt %d failed (%s), retry in %.2fs", op->job_id,
                    op->seq, op->attempts, code, delay);
        ds_store_batch_retry(up->store, op->job_id, op->seq, now_s() + delay, code);
    }
    else if (o == OUT_REJECT) {
        ds_log_error("job %s batch %ld: rejected by the cloud (%s)", op->job_id, op->seq, code);
        ds_store_batch_rejected(up->store, op->job_id, op->seq, code,
                                message[0] != '\0' ? message : code);
    }
    op_drop(up, op);
    ds_upload_kick(up);
}

static void start_batch(struct ds_uploader *up, const struct ds_job_info *job, long seq)
{
    struct op *op = op_get(up, OP_BATCH, job->id, seq);
    struct body_ctx bc;
    char digest[DS_SHA256_HEX];
    unsigned char *gz = NULL;
    size_t gz_len = 0;
    char url[700];
    int attempts = 0;
    int rc;

    ds_buf_init(&bc.buf, MAX_BATCH_BYTES);
    bc.nrows = 0;
    if (op == NULL) {
        goto out;
    }
    rc = ds_buf_append_str(&bc.buf, "{\"rows\":[");
    if (rc == 0) {
        rc = ds_store_batch_send(up->store, job->id, seq, append_row, &bc, digest, &attempts);
    }
    if (rc == 0) {
        rc = ds_buf_append_str(&bc.buf, "]}");
    }
    if (rc == 0) {
        rc = gzip(bc.buf.data, bc.buf.len, &gz, &gz_len);
    }
    if (rc == 0) {
        snprintf(url, sizeof(url), "%s/v1/jobs/%s/batches/%ld", up->base_url, job->id, seq);
        rc = ds_http_request(up->http, "PUT", url, token_for(up, job->practice), gz, gz_len,
                             "gzip", digest, on_batch_done, op);
    }
    if (rc != 0) {
        ds_log_error("job %s batch %ld: cannot send: %s", job->id, seq, ds_strerror(rc));
        ds_store_batch_retry(up->store, job->id, seq, now_s() + backoff(up, attempts, -1),
                             "LOCAL_ERROR");
        op_drop(up, op);
        goto out;
    }
    op->busy = 1;
    op->attempts = attempts;
    up->in_flight++;
    ds_log_debug("job %s batch %ld: sending %ld rows, attempt %d", job->id, seq, bc.nrows,
                 attempts);
out:
    free(gz);
    ds_buf_close(&bc.buf);
}

/* ---- completing a job ----------------------------------------------------- */

static void on_complete_done(void *ctx, const struct ds_http_response *res)
{
    struct op *op = ctx;
    struct ds_uploader *up = op->up;
    char code[64];
    char message[256];
    enum outcome o = classify(res, code, sizeof(code), message, sizeof(message));
    double delay;

    op->busy = 0;
    up->in_flight--;
    delay = note_outcome(up, o == OUT_RETRY, res->retry_after);
    if (o == OUT_OK) {
        ds_crash_point("after_complete_before_record");
        if (ds_store_job_completed(up->store, op->job_id) == 0) {
            ds_log_info("job %s: completed", op->job_id);
            op_drop(up, op);
        }
    }
    else if (o == OUT_RETRY) {
        op->next_at = now_s() + delay;
        ds_log_warn("job %s: complete failed (%s), retry in %.2fs", op->job_id, code, delay);
    }
    else {
        op->next_at = INFINITY;
        ds_log_error("job %s: the cloud refused to complete it (%s)", op->job_id, code);
        ds_store_event(up->store, "job_complete_rejected", 0, op->job_id, 0, code, NULL);
    }
    ds_upload_kick(up);
}

static void start_complete(struct ds_uploader *up, const struct ds_job_info *job)
{
    struct op *op = op_get(up, OP_COMPLETE, job->id, 0);
    char url[700];
    int rc;

    if (op == NULL) {
        return;
    }
    snprintf(url, sizeof(url), "%s/v1/jobs/%s/complete", up->base_url, job->id);
    rc = ds_http_request(up->http, "POST", url, token_for(up, job->practice), NULL, 0, NULL,
                         NULL, on_complete_done, op);
    if (rc != 0) {
        op->next_at = now_s() + backoff(up, ++op->attempts, -1);
        return;
    }
    op->busy = 1;
    op->attempts++;
    up->in_flight++;
}

/* ---- scheduling ----------------------------------------------------------- */

struct job_list {
    struct ds_job_info jobs[MAX_JOBS_PER_KICK];
    size_t n;
};

static int collect_job(void *ctx, const struct ds_job_info *job)
{
    struct job_list *l = ctx;

    if (l->n >= MAX_JOBS_PER_KICK) {
        return 1;
    }
    l->jobs[l->n++] = *job;
    return 0;
}

static int skip_busy(void *ctx, long seq)
{
    (void)ctx;
    (void)seq;
    return 0; /* a batch in our hands is `in_flight` in the queue already */
}

/* Requests allowed at once: one probe while the cloud is failing. */
static size_t slots(const struct ds_uploader *up)
{
    return up->fail_streak > 0 ? 1 : (size_t)up->cfg->max_in_flight;
}

/* What a job-level call (open or complete) waiting for its retry says:
 * 1 when it must not be attempted now, *wake lowered to its next attempt. */
static int job_call_waiting(struct ds_uploader *up, enum op_kind kind, const char *job_id,
                            double now, double *wake)
{
    struct op *op = op_find(up, kind, job_id, 0);

    if (op == NULL) {
        return 0;
    }
    if (op->busy) {
        return 1;
    }
    if (op->next_at > now) {
        if (isfinite(op->next_at) && (*wake == 0 || op->next_at < *wake)) {
            *wake = op->next_at;
        }
        return 1;
    }
    return 0;
}

static void kick_job(struct ds_uploader *up, const struct ds_job_info *job, double now,
                     double *wake)
{
    struct ds_batch_counts counts;
    double due = 0;
    long seq = 0;

    if (token_for(up, job->practice) == NULL) {
        return; /* a job of a practice no longer configured waits */
    }
    if (!job->remote_open) {
        if (!job_call_waiting(up, OP_OPEN, job->id, now, wake)) {
            start_open(up, job);
        }
        return;
    }
    while (up->in_flight < slots(up)) {
        int r = ds_store_batch_next(up->store, job->id, now, skip_busy, up, &seq, &due);

        if (due > 0 && (*wake == 0 || due < *wake)) {
            *wake = due;
        }
        if (r != 1) {
            break;
        }
        start_batch(up, job, seq);
    }
    if (up->in_flight >= slots(up) ||
        ds_store_job_batch_counts(up->store, job->id, &counts) != 0) {
        return;
    }
    if (counts.pending == 0 && counts.in_flight == 0 && counts.retry_wait == 0 &&
        !job_call_waiting(up, OP_COMPLETE, job->id, now, wake)) {
        start_complete(up, job);
    }
}

void ds_upload_kick(struct ds_uploader *up)
{
    struct job_list *l = NULL;
    double now = now_s();
    double wake = 0;

    if (up->in_flight >= slots(up)) {
        return;
    }
    if (now < up->pause_until) {
        arm_timer(up, up->pause_until);
        return;
    }
    l = malloc(sizeof(*l));
    if (l == NULL) {
        arm_timer(up, now + 1.0);
        return;
    }
    l->n = 0;
    if (ds_store_jobs_uploading(up->store, collect_job, l) < 0) {
        ds_log_error("upload: cannot read the queue; trying again shortly");
        wake = now + 1.0;
    }
    for (size_t i = 0; i < l->n && up->in_flight < slots(up); i++) {
        kick_job(up, &l->jobs[i], now, &wake);
    }
    free(l);
    if (wake > 0) {
        arm_timer(up, wake);
    }
}

static void on_timer(uv_timer_t *t)
{
    ds_upload_kick(t->data);
}

static void arm_timer(struct ds_uploader *up, double at)
{
    double delay = at - now_s();

    if (delay < 0) {
        delay = 0;
    }
    uv_timer_start(&up->timer, on_timer, (uint64_t)(delay * 1000.0) + 1, 0);
}

/* ---- life ----------------------------------------------------------------- */

int ds_upload_new(uv_loop_t *loop, const struct ds_config *cfg, struct ds_store *store,
                  const char *agent_id, struct ds_uploader **out, struct ds_error *err)
{
    struct ds_uploader *up = NULL;
    size_t len;
    int rc;

    *out = NULL;
    up = calloc(1, sizeof(*up));
    if (up == NULL) {
        return ds_error_set(err, DS_ENOMEM, "out of memory");
    }
    up->loop = loop;
    up->cfg = cfg;
    up->store = store;
    up->seed = (unsigned int)time(NULL) ^ (unsigned int)(uintptr_t)up;
    snprintf(up->agent_id, sizeof(up->agent_id), "%s", agent_id);
    snprintf(up->base_url, sizeof(up->base_url), "%s", cfg->cloud_url);
    len = strlen(up->base_url);
    while (len > 0 && up->base_url[len - 1] == '/') {
        up->base_url[--len] = '\0';
    }
    up->tokens = calloc(cfg->npractices > 0 ? cfg->npractices : 1, sizeof(*up->tokens));
    if (up->tokens == NULL) {
        rc = ds_error_set(err, DS_ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < cfg->npractices; i++) {
        up->tokens[i] = malloc(TOKEN_MAX);
        if (up->tokens[i] == NULL) {
            rc = ds_error_set(err, DS_ENOMEM, "out of memory");
            goto fail;
        }
        rc = ds_config_read_token(&cfg->practices[i], up->tokens[i], TOKEN_MAX, err);
        if (rc != 0) {
            goto fail;
        }
    }
    rc = ds_http_new(loop, cfg->ca_file, cfg->timeout_seconds, &up->http);
    if (rc != 0) {
        ds_error_set(err, rc, "cannot start the HTTP client");
        goto fail;
    }
    uv_timer_init(loop, &up->timer);
    up->timer.data = up;
    up->timer_open = 1;
    *out = up;
    return 0;
fail:
    ds_upload_free(&up);
    return rc;
}

size_t ds_upload_in_flight(const struct ds_uploader *up)
{
    return up->in_flight;
}

unsigned long ds_upload_retries(const struct ds_uploader *up)
{
    return up->retries;
}

static void on_timer_closed(uv_handle_t *h)
{
    free(h->data);
}

void ds_upload_free(struct ds_uploader **upp)
{
    struct ds_uploader *up;

    if (upp == NULL || *upp == NULL) {
        return;
    }
    up = *upp;
    *upp = NULL;
    ds_http_free(&up->http);
    while (up->ops != NULL) {
        op_drop(up, up->ops);
    }
    if (up->tokens != NULL) {
        for (size_t i = 0; i < up->cfg->npractices; i++) {
            if (up->tokens[i] != NULL) {
                memset(up->tokens[i], 0, TOKEN_MAX);
                free(up->tokens[i]);
            }
        }
        free(up->tokens);
    }
    if (up->timer_open) {
        uv_timer_stop(&up->timer);
        uv_close((uv_handle_t *)&up->timer, on_timer_closed);
    }
    else {
        free(up);
    }
}
