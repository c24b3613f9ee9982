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
 *         in_flight --AUTH--> retry_wait until the next probe    (ds_store_batch_retry)
 *         in_flight --SPLIT--> split, two new pending halves     (ds_store_batch_split)
 *         in_flight --REJECT--> rejected                         (ds_store_batch_rejected)
 *   no batch pending, in flight or waiting --POST complete 200--> job completed
 *                                                                (ds_store_job_completed)
 *
 * A retryable failure of any request pauses the whole uploader, not only
 * that request: while the cloud is unreachable one request at a time probes
 * it, with the backoff (full jitter, Retry-After as the floor) growing with
 * the failures in a row, instead of every batch retrying on its own
 * schedule. The first success lifts the pause.
 *
 * A refused token (401/403) pauses only its practice: the other practices'
 * uploads go on; the paused one re-reads its token file and tries again
 * every pause_probe_seconds, so fixing the token file is enough.
 *
 * Batch retries live in the queue (retry_wait with its next attempt time);
 * retries of a job's open and complete calls live in memory only (`struct
 * op`): after a restart they are simply made again, and both calls are
 * idempotent in the cloud.
 *
 * Each practice's saved templates (GET /v1/templates) are pulled at start
 * and hourly into state_dir/cloud-templates/<practice>/<id>.json, each one
 * checked as a template first; ingest looks there after the admin's own.
 *
 * A template saved on this PC (the status page's mapping screen) goes the
 * other way through an outbox: ds_upload_template_outbox writes the PUT's
 * body to state_dir/template-outbox/<practice>/<id>.json (0600, atomic)
 * before anything is sent, and the uploader PUTs /v1/templates/{id} from
 * there at start, hourly and at every sync-now. Only a 200/201 for the very
 * body still in the file removes it; a refusal (4xx but 408/429) renames
 * it to <id>.json.rejected and is logged; anything else leaves it for the
 * next try. The local template itself is in template_dir, whatever the
 * cloud answers.
 *
 * Log lines carry job ids, batch numbers, HTTP statuses and codes: never a
 * record, never the token.
 */
#include "agent/upload/upload.h"

#include "agent/core/alloc.h"
#include "agent/core/clock.h"
#include "agent/core/buf.h"
#include "agent/core/crash.h"
#include "agent/core/jsonw.h"
#include "agent/core/log.h"
#include "agent/core/version.h"
#include "agent/upload/answer.h"
#include "agent/upload/http.h"
#include "agent/os/os_fs.h"

#include "config/template.h"
#include "state/store_admin.h"
#include "state/store_ingest.h"
#include "state/store_status.h"
#include "state/store_upload.h"
#include "proto/proto.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#define MAX_JOBS_PER_KICK 64
#define TOKEN_MAX 512
#define MAX_RETRY_AFTER 86400.0     /* a Retry-After beyond a day is taken as a day */
#define DS_UPLOAD_BINDING_MAX 65536 /* a job binding read back from the queue */

enum op_kind { OP_OPEN, OP_BATCH, OP_COMPLETE };

/* A request in flight, or a job-level call waiting for its next attempt. */
struct op {
    struct ds_uploader *up;   /* owner */
    enum op_kind kind;        /* what it is */
    char job_id[DS_UUID_LEN]; /* whose */
    size_t practice;          /* index in cfg->practices */
    long seq;                 /* for OP_BATCH */
    int busy;                 /* a request is in flight */
    int attempts;             /* made so far */
    double next_at;           /* next attempt (job-level calls); INFINITY = given up */
    struct op *next;          /* in up->ops */
};

/* What the uploader knows of one practice. */
struct practice {
    char token[TOKEN_MAX]; /* its agent token, from its token file */
    int paused;            /* the cloud refused the token */
    double probe_at;       /* when a paused practice is tried again */
    char code[64];         /* the refusal's code */
};

struct ds_uploader {
    uv_loop_t *loop;             /* borrow */
    const struct ds_config *cfg; /* borrow */
    struct ds_store *store;      /* borrow: the loop thread's connection */
    struct ds_http *http;        /* owned */
    uv_timer_t timer;            /* wakes us for the next retry or probe */
    uv_timer_t heartbeat;        /* the heartbeat period */
    uv_timer_t templates;        /* the saved-template pull period */
    int handles_open;            /* timers not yet closed */
    struct practice *practices;  /* owned, one per cfg->practices[i] */
    char base_url[512];          /* cloud url without a trailing slash */
    char agent_id[DS_UUID_LEN];  /* sent with every job */
    ds_upload_done_cb done;      /* told of completed jobs */
    void *done_ctx;              /* for done */
    struct op *ops;              /* owned list */
    size_t in_flight;            /* requests running (heartbeats not counted) */
    unsigned long retries;       /* retries scheduled since start */
    int fail_streak;             /* retryable failures in a row, any request */
    double pause_until;          /* no new request before this time */
    char last_error[64];         /* the last failure's code, for the heartbeat */
    unsigned int seed;           /* jitter */
};

static size_t practice_index(const struct ds_uploader *up, const char *name)
{
    for (size_t i = 0; i < up->cfg->npractices; i++) {
        if (strcmp(up->cfg->practices[i].name, name) == 0) {
            return i;
        }
    }
    return (size_t)-1;
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

static struct op *op_get(struct ds_uploader *up, enum op_kind kind, const struct ds_job_info *job,
                         long seq)
{
    struct op *op = op_find(up, kind, job->id, seq);

    if (op != NULL) {
        return op;
    }
    op = ds_calloc(1, sizeof(*op));
    if (op == NULL) {
        return NULL;
    }
    op->up = up;
    op->kind = kind;
    op->seq = seq;
    op->practice = practice_index(up, job->practice);
    ds_str_copy(op->job_id, sizeof(op->job_id), job->id);
    op->next = up->ops;
    up->ops = op;
    return op;
}

static void op_drop(struct ds_uploader *up, struct op *op)
{
    for (struct op **p = &up->ops; *p != NULL; p = &(*p)->next) {
        if (*p == op) {
            *p = op->next;
            ds_free(op);
            return;
        }
    }
}

/* The delay before the next attempt after `streak` failures in a row: full
 * jitter over an exponential window from retry_min_seconds, capped at
 * retry_max_seconds, and never shorter than the server's Retry-After. */
static double backoff(struct ds_uploader *up, int streak, double retry_after)
{
    double window = up->cfg->retry_min_seconds * pow(2.0, streak > 1 ? streak - 1 : 0);
    double d;

    if (window > up->cfg->retry_max_seconds) {
        window = up->cfg->retry_max_seconds;
    }
    d = window * ((double)rand_r(&up->seed) / (double)RAND_MAX);
    if (retry_after > MAX_RETRY_AFTER) {
        retry_after = MAX_RETRY_AFTER;
    }
    return d > retry_after ? d : retry_after;
}

/* Every answer feeds the outage state; returns the delay for a retry. */
static double note_outcome(struct ds_uploader *up, int retryable, double retry_after,
                           const char *code)
{
    double delay;

    if (!retryable) {
        up->fail_streak = 0;
        up->pause_until = 0;
        return 0;
    }
    ds_str_copy(up->last_error, sizeof(up->last_error), code);
    up->fail_streak++;
    up->retries++;
    delay = backoff(up, up->fail_streak, retry_after);
    up->pause_until = ds_clock_now() + delay;
    return delay;
}

enum outcome { OUT_OK, OUT_RETRY, OUT_AUTH, OUT_SPLIT, OUT_REJECT };

/* Classifies an answer once (answer.c reads it), and names it with a code
 * for the queue. */
static enum outcome classify(const struct ds_http_response *res, char *code, size_t size,
                             char *message, size_t msize)
{
    switch (ds_answer_classify(res, code, size, message, msize)) {
    case DS_ANSWER_OK:
        return OUT_OK;
    case DS_ANSWER_AUTH:
        return OUT_AUTH;
    case DS_ANSWER_SPLIT:
        return OUT_SPLIT;
    case DS_ANSWER_REJECT:
        return OUT_REJECT;
    case DS_ANSWER_RETRY:
    default:
        return OUT_RETRY;
    }
}

/* A practice's token was refused: pause it until the next probe. */
static double pause_practice(struct ds_uploader *up, size_t pi, const char *code)
{
    struct practice *p = &up->practices[pi];

    if (!p->paused) {
        ds_log_error("PRACTICE_PAUSED",
                     "practice %s: the cloud refused its token (%s); its uploads are paused, "
                     "other practices go on; the token file is re-read every %gs",
                     up->cfg->practices[pi].name, code, up->cfg->pause_probe_seconds);
        ds_store_event(up->store, "practice_paused", 0, NULL, 0, code, NULL);
    }
    p->paused = 1;
    ds_str_copy(p->code, sizeof(p->code), code);
    ds_str_copy(up->last_error, sizeof(up->last_error), code);
    p->probe_at = ds_clock_now() + up->cfg->pause_probe_seconds;
    return p->probe_at;
}

/* Any answer but a refusal proves the token good again. */
static void practice_answered(struct ds_uploader *up, size_t pi)
{
    struct practice *p = &up->practices[pi];

    if (p->paused) {
        ds_log_info("PRACTICE_RESUMED", "practice %s: token accepted again; uploads resume",
                    up->cfg->practices[pi].name);
        ds_store_event(up->store, "practice_resumed", 0, NULL, 0, NULL, NULL);
        p->paused = 0;
        p->code[0] = '\0';
    }
}

static void arm_timer(struct ds_uploader *up, double at);

/* ---- opening and completing a job ---------------------------------------- */

/* The common answer handling of the two job-level calls. Returns 1 when
 * the call succeeded. */
static int job_call_answered(struct op *op, const struct ds_http_response *res, const char *what)
{
    struct ds_uploader *up = op->up;
    char code[64];
    char message[256];
    enum outcome o = classify(res, code, sizeof(code), message, sizeof(message));
    double delay = note_outcome(up, o == OUT_RETRY, res->retry_after, code);

    op->busy = 0;
    up->in_flight--;
    if (o != OUT_AUTH) {
        practice_answered(up, op->practice);
    }
    switch (o) {
    case OUT_OK:
        return 1;
    case OUT_RETRY:
        op->next_at = ds_clock_now() + delay;
        ds_log_warn("JOB_RETRY", "job %s: %s failed (%s), retry in %.2fs", op->job_id, what, code,
                    delay);
        break;
    case OUT_AUTH:
        op->next_at = pause_practice(up, op->practice, code);
        break;
    case OUT_SPLIT:
    case OUT_REJECT:
        op->next_at = INFINITY;
        ds_log_error("JOB_REJECTED",
                     "job %s: the cloud refused to %s it (%s); it waits for an admin", op->job_id,
                     what, code);
        ds_store_event(up->store,
                       op->kind == OP_OPEN ? "job_open_rejected" : "job_complete_rejected", 0,
                       op->job_id, 0, code, NULL);
        break;
    }
    return 0;
}

static void on_open_done(void *ctx, const struct ds_http_response *res)
{
    struct op *op = ctx;
    struct ds_uploader *up = op->up;

    if (job_call_answered(op, res, "open")) {
        ds_crash_point("after_open_before_record");
        if (ds_store_job_opened(up->store, op->job_id) == 0) {
            ds_log_info("JOB_OPENED", "job %s: opened in the cloud (HTTP %ld)", op->job_id,
                        res->status);
            op_drop(up, op);
        }
    }
    ds_upload_kick(up);
}

static void on_complete_done(void *ctx, const struct ds_http_response *res)
{
    struct op *op = ctx;
    struct ds_uploader *up = op->up;
    char job_id[DS_UUID_LEN];

    if (job_call_answered(op, res, "complete")) {
        ds_crash_point("after_complete_before_record");
        if (ds_store_job_completed(up->store, op->job_id) == 0) {
            ds_log_info("JOB_COMPLETED", "job %s: completed", op->job_id);
            ds_str_copy(job_id, sizeof(job_id), op->job_id);
            op_drop(up, op);
            if (up->done != NULL) {
                up->done(up->done_ctx, job_id);
            }
        }
    }
    ds_upload_kick(up);
}

/* The job's column binding, as the queue keeps it (header and field names
 * only), as the optional "binding" member of POST /v1/jobs; a job staged
 * before bindings were kept sends none. */
static void add_binding(struct ds_uploader *up, const char *job_id, json_t *body)
{
    char *buf = ds_malloc(DS_UPLOAD_BINDING_MAX);
    json_t *b = NULL;

    if (body != NULL && buf != NULL &&
        ds_store_job_binding(up->store, job_id, buf, DS_UPLOAD_BINDING_MAX) == 0) {
        b = json_loads(buf, 0, NULL);
    }
    if (json_is_object(b)) {
        json_object_set_new(body, "binding", b);
    }
    else {
        json_decref(b);
    }
    ds_free(buf);
}

static void start_job_call(struct ds_uploader *up, const struct ds_job_info *job, enum op_kind kind)
{
    struct op *op = op_get(up, kind, job, 0);
    json_t *body = NULL;
    char *text = NULL;
    char url[700];
    int rc;

    if (op == NULL) {
        return;
    }
    if (kind == OP_OPEN) {
        body = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:{s:s, s:s}}", "id", job->id,
                         "import_type", job->import_type, "filename", job->filename, "sha256",
                         job->sha256, "total_rows", (json_int_t)job->total_rows, "template",
                         job->template_id, "agent", "id", up->agent_id, "version", DS_VERSION);
        add_binding(up, job->id, body);
        text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
        if (text == NULL) {
            ds_log_error("LOCAL_ERROR", "job %s: out of memory building the open request", job->id);
            goto out;
        }
        snprintf(url, sizeof(url), "%s/v1/jobs", up->base_url);
    }
    else {
        snprintf(url, sizeof(url), "%s/v1/jobs/%s/complete", up->base_url, job->id);
    }
    rc = ds_http_request(up->http, "POST", url, up->practices[op->practice].token, text,
                         text != NULL ? strlen(text) : 0, NULL, NULL,
                         kind == OP_OPEN ? on_open_done : on_complete_done, op);
    op->attempts++;
    if (rc != 0) {
        ds_log_error("LOCAL_ERROR", "job %s: cannot start a request: %s", job->id, ds_strerror(rc));
        op->next_at = ds_clock_now() + backoff(up, op->attempts, -1);
        goto out;
    }
    op->busy = 1;
    up->in_flight++;
out:
    ds_alloc_json_free(text);
    json_decref(body);
}

/* ---- sending a batch ------------------------------------------------------ */

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
        rc = ds_jsonw_str(b, r->key);
    }
    if (rc == 0 && r->op_delete) {
        /* A deletion row (docs/protocol.md): its key, no record. */
        rc = ds_buf_append_str(b, ",\"op\":\"delete\",\"fingerprint\":\"delete\"");
    }
    else if (rc == 0) {
        rc = ds_buf_printf(b, ",\"fingerprint\":\"%s\",\"record\":", r->fingerprint);
        if (rc == 0) {
            rc = ds_buf_append_str(b, r->record_json != NULL ? r->record_json : "{}");
        }
        /* The original mapped columns: the cloud keeps them for the rows
         * it does not take (rejected, conflict, needs_review) and drops
         * them for the others (docs/protocol.md, "raw"). */
        if (rc == 0 && r->raw_json != NULL && r->raw_json[0] == '{') {
            rc = ds_buf_append_str(b, ",\"raw\":");
            if (rc == 0) {
                rc = ds_buf_append_str(b, r->raw_json);
            }
        }
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
    p = ds_malloc(cap);
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
        ds_free(p);
        return DS_EIO;
    }
    *out = p;
    return 0;
}

/* Reads the per-row results of a 200 answer into the queue. */
static int record_results(struct ds_uploader *up, struct op *op, const struct ds_http_response *res)
{
    struct ds_answer_results r;
    int rc = ds_answer_results_parse(res->body, res->body_len, &r);

    if (rc == 0) {
        rc = ds_store_batch_acked(up->store, op->job_id, op->seq, r.items, r.n);
    }
    ds_answer_results_close(&r);
    return rc;
}

/* Replaces a batch by its halves; a batch of one row that is still too
 * large is rejected: no retry can ever deliver it. */
static void split_batch(struct ds_uploader *up, const char *job_id, long seq, const char *code)
{
    long a = 0;
    long b = 0;
    int rc = ds_store_batch_split(up->store, job_id, seq, code, &a, &b);

    if (rc == 0) {
        ds_log_warn("BATCH_SPLIT",
                    "job %s batch %ld: too large (%s); split into batches %ld and %ld", job_id, seq,
                    code, a, b);
    }
    else if (rc == DS_ETOOBIG) {
        ds_log_error("BATCH_REJECTED",
                     "job %s batch %ld: a single row is too large for the cloud; rejected", job_id,
                     seq);
        ds_store_batch_rejected(up->store, job_id, seq, "TOO_LARGE",
                                "a single row is larger than the cloud accepts");
    }
    else {
        ds_log_error("LOCAL_ERROR", "job %s batch %ld: cannot split: %s", job_id, seq,
                     ds_strerror(rc));
    }
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
            ds_log_info("BATCH_ACKED", "job %s batch %ld: acknowledged", op->job_id, op->seq);
        }
        else {
            /* A 200 we cannot read is the server's fault, one we cannot
             * record (no space left) ours: either way ask again, the
             * replay rule answers the same. */
            o = OUT_RETRY;
            snprintf(code, sizeof(code), rc == DS_EFULL ? "DISK_FULL" : "BAD_RESPONSE");
            if (rc == DS_EFULL) {
                ds_log_error("DISK_FULL", "job %s batch %ld: cannot record the answer (%s)",
                             op->job_id, op->seq, ds_strerror(rc));
            }
            else {
                ds_log_error("BAD_RESPONSE", "job %s batch %ld: unreadable answer (%s)", op->job_id,
                             op->seq, ds_strerror(rc));
            }
        }
    }
    delay = note_outcome(up, o == OUT_RETRY, res->retry_after, code);
    if (o != OUT_AUTH) {
        practice_answered(up, op->practice);
    }
    switch (o) {
    case OUT_OK:
        break;
    case OUT_RETRY:
        ds_log_warn("BATCH_RETRY", "job %s batch %ld: attempt %d failed (%s), retry in %.2fs",
                    op->job_id, op->seq, op->attempts, code, delay);
        ds_store_batch_retry(up->store, op->job_id, op->seq, ds_clock_now() + delay, code);
        break;
    case OUT_AUTH:
        ds_store_batch_retry(up->store, op->job_id, op->seq, pause_practice(up, op->practice, code),
                             code);
        break;
    case OUT_SPLIT:
        split_batch(up, op->job_id, op->seq, code);
        break;
    case OUT_REJECT:
        ds_log_error("BATCH_REJECTED", "job %s batch %ld: rejected by the cloud (%s)", op->job_id,
                     op->seq, code);
        ds_store_batch_rejected(up->store, op->job_id, op->seq, code,
                                message[0] != '\0' ? message : code);
        break;
    }
    op_drop(up, op);
    ds_upload_kick(up);
}

static void start_batch(struct ds_uploader *up, const struct ds_job_info *job, long seq)
{
    struct op *op = op_get(up, OP_BATCH, job, seq);
    struct body_ctx bc;
    char digest[DS_SHA256_HEX];
    unsigned char *gz = NULL;
    size_t gz_len = 0;
    char url[700];
    int attempts = 0;
    int rc;

    /* The config keeps max_batch_bytes within the protocol's body limit. */
    ds_buf_init(&bc.buf, (size_t)up->cfg->max_batch_bytes < DS_PROTO_MAX_BODY
                             ? (size_t)up->cfg->max_batch_bytes
                             : DS_PROTO_MAX_BODY);
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
    if (rc == DS_ETOOBIG) {
        /* Over the byte cap before anything was sent: halve it. */
        split_batch(up, job->id, seq, "OVER_BYTE_CAP");
        op_drop(up, op);
        goto out;
    }
    if (rc == 0) {
        rc = gzip(bc.buf.data, bc.buf.len, &gz, &gz_len);
    }
    if (rc == 0) {
        snprintf(url, sizeof(url), "%s/v1/jobs/%s/batches/%ld", up->base_url, job->id, seq);
        rc = ds_http_request(up->http, "PUT", url, up->practices[op->practice].token, gz, gz_len,
                             "gzip", digest, on_batch_done, op);
    }
    if (rc != 0) {
        ds_log_error("LOCAL_ERROR", "job %s batch %ld: cannot send: %s", job->id, seq,
                     ds_strerror(rc));
        ds_store_batch_retry(up->store, job->id, seq, ds_clock_now() + backoff(up, attempts, -1),
                             "LOCAL_ERROR");
        op_drop(up, op);
        goto out;
    }
    op->busy = 1;
    op->attempts = attempts;
    up->in_flight++;
    ds_log_debug("BATCH_SENDING", "job %s batch %ld: sending %ld rows, attempt %d", job->id, seq,
                 bc.nrows, attempts);
out:
    ds_free(gz);
    ds_buf_close(&bc.buf);
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

static void lower(double *wake, double at)
{
    if (isfinite(at) && at > 0 && (*wake == 0 || at < *wake)) {
        *wake = at;
    }
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
        lower(wake, op->next_at);
        return 1;
    }
    return 0;
}

/* Whether a practice may send now. A paused one whose probe is due re-reads
 * its token file and lets one request through. */
static int practice_ready(struct ds_uploader *up, size_t pi, double now, double *wake)
{
    struct practice *p = &up->practices[pi];
    struct ds_error err;

    if (!p->paused) {
        return 1;
    }
    if (now < p->probe_at) {
        lower(wake, p->probe_at);
        return 0;
    }
    if (ds_config_read_token(&up->cfg->practices[pi], p->token, sizeof(p->token), &err) != 0) {
        ds_log_error("TOKEN_ERROR", "practice %s: %s", up->cfg->practices[pi].name, err.msg);
    }
    p->probe_at = now + up->cfg->pause_probe_seconds;
    lower(wake, p->probe_at);
    return 1;
}

static void kick_job(struct ds_uploader *up, const struct ds_job_info *job, double now,
                     double *wake)
{
    struct ds_batch_counts counts;
    size_t pi = practice_index(up, job->practice);
    double due = 0;
    long seq = 0;

    if (pi == (size_t)-1 || !practice_ready(up, pi, now, wake)) {
        return; /* paused, or a practice no longer configured: it waits */
    }
    if (!job->remote_open) {
        if (!job_call_waiting(up, OP_OPEN, job->id, now, wake)) {
            start_job_call(up, job, OP_OPEN);
        }
        return;
    }
    while (up->in_flight < slots(up)) {
        int r = ds_store_batch_next(up->store, job->id, now, NULL, NULL, &seq, &due);

        lower(wake, due);
        if (r != 1) {
            break;
        }
        start_batch(up, job, seq);
        if (up->practices[pi].paused) {
            return; /* a probe: one request only */
        }
    }
    if (up->in_flight >= slots(up) || ds_store_job_batch_counts(up->store, job->id, &counts) != 0) {
        return;
    }
    if (counts.pending == 0 && counts.in_flight == 0 && counts.retry_wait == 0 &&
        !job_call_waiting(up, OP_COMPLETE, job->id, now, wake)) {
        start_job_call(up, job, OP_COMPLETE);
    }
}

void ds_upload_kick(struct ds_uploader *up)
{
    struct job_list *l = NULL;
    double now = ds_clock_now();
    double wake = 0;

    if (up->in_flight >= slots(up)) {
        return;
    }
    if (now < up->pause_until) {
        arm_timer(up, up->pause_until);
        return;
    }
    l = ds_malloc(sizeof(*l));
    if (l == NULL) {
        arm_timer(up, now + 1.0);
        return;
    }
    l->n = 0;
    if (ds_store_jobs_uploading(up->store, collect_job, l) < 0) {
        ds_log_error("QUEUE_ERROR", "upload: cannot read the queue; trying again shortly");
        wake = now + 1.0;
    }
    for (size_t i = 0; i < l->n && up->in_flight < slots(up); i++) {
        kick_job(up, &l->jobs[i], now, &wake);
    }
    ds_free(l);
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
    double delay = at - ds_clock_now();

    if (delay < 0) {
        delay = 0;
    }
    uv_timer_start(&up->timer, on_timer, (uint64_t)(delay * 1000.0) + 1, 0);
}

/* ---- heartbeat ------------------------------------------------------------ */

static void on_heartbeat_done(void *ctx, const struct ds_http_response *res)
{
    (void)ctx;
    if (res->curl_code != 0 || res->status >= 300) {
        ds_log_debug("HEARTBEAT_FAILED", "heartbeat: no answer or refused (curl %d, HTTP %ld)",
                     res->curl_code, res->status);
    }
}

/* Tells the cloud, once per practice, that this agent is alive and how far
 * behind it is. Counts and codes only. A paused practice reports it too:
 * the heartbeat carries the same token, so the cloud sees the refusal. */
static void on_heartbeat(uv_timer_t *t)
{
    struct ds_uploader *up = t->data;
    struct ds_queue_stats qs;
    double now = ds_clock_now();
    char url[600];

    if (ds_store_queue_stats(up->store, &qs) != 0) {
        return;
    }
    snprintf(url, sizeof(url), "%s/v1/agents/heartbeat", up->base_url);
    for (size_t i = 0; i < up->cfg->npractices; i++) {
        json_t *body =
            json_pack("{s:s, s:s, s:I, s:I, s:s?}", "agent_id", up->agent_id, "version", DS_VERSION,
                      "queue_depth", (json_int_t)qs.pending_rows, "oldest_pending_age_seconds",
                      (json_int_t)(qs.oldest_pending_at > 0 ? now - qs.oldest_pending_at : 0.0),
                      "last_error_code", up->last_error[0] != '\0' ? up->last_error : NULL);
        char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;

        if (text != NULL) {
            ds_http_request(up->http, "POST", url, up->practices[i].token, text, strlen(text), NULL,
                            NULL, on_heartbeat_done, up);
        }
        ds_alloc_json_free(text);
        json_decref(body);
    }
}

/* ---- the practice's saved templates ---------------------------------------- */

#define TEMPLATE_PULL_MS (3600 * 1000)

static void push_outbox(struct ds_uploader *up);

struct pull {
    struct ds_uploader *up; /* owner */
    size_t practice;        /* whose templates */
};

/* Creates the parent of dir (state_dir/cloud-templates), 0700. */
static void mkdir_parent(const char *dir)
{
    char parent[4096];
    const char *slash = strrchr(dir, '/');

    if (slash != NULL && (size_t)(slash - dir) < sizeof(parent)) {
        memcpy(parent, dir, (size_t)(slash - dir));
        parent[slash - dir] = '\0';
        ds_os_mkdir(parent, 0);
    }
}

/* Writes text to path through a temporary file, fsynced, renamed. */
static int write_atomic(const char *path, const char *text)
{
    char tmp[4200];
    size_t len = strlen(text);
    int fd;
    int rc = 0;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
        return DS_ETOOBIG;
    }
    fd = ds_os_create_private(tmp, DS_OS_TRUNC);
    if (fd < 0) {
        return DS_EIO;
    }
    if (write(fd, text, len) != (ssize_t)len || ds_os_fsync(fd) != 0) {
        rc = DS_EIO;
    }
    close(fd);
    if (rc == 0 && ds_os_rename(tmp, path, 1) != 0) {
        rc = DS_EIO;
    }
    if (rc != 0) {
        ds_os_unlink(tmp);
    }
    return rc;
}

/* Removes cached templates the cloud no longer has. */
static void prune_cache(const char *dir, json_t *keep)
{
    char path[4200];
    struct dirent *de;
    DIR *d = opendir(dir);

    if (d == NULL) {
        return;
    }
    for (;;) {
        size_t n;
        int found = 0;

        de = readdir(d);
        if (de == NULL) {
            break;
        }
        n = strlen(de->d_name);
        if (n < 6 || strcmp(de->d_name + n - 5, ".json") != 0) {
            continue;
        }
        for (size_t i = 0; i < json_array_size(keep); i++) {
            const char *id = json_string_value(json_array_get(keep, i));

            if (id != NULL && strlen(id) == n - 5 && strncmp(id, de->d_name, n - 5) == 0) {
                found = 1;
            }
        }
        if (!found && snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) < (int)sizeof(path)) {
            ds_os_unlink(path);
        }
    }
    closedir(d);
}

/* What one pull caches. */
struct cache {
    struct pull *pull; /* the pull */
    const char *dir;   /* where the practice's templates go */
    json_t *kept;      /* ids written */
    size_t cached;     /* how many */
};

/* One saved template of the answer: checked as a template, then cached. */
static void cache_template(void *ctx, const char *id, const char *text)
{
    struct cache *c = ctx;
    struct ds_uploader *up = c->pull->up;
    struct ds_template *tpl = NULL;
    char path[4200];

    if (text != NULL && ds_template_parse(text, strlen(text), id, &tpl, NULL) == 0 &&
        snprintf(path, sizeof(path), "%s/%s.json", c->dir, id) < (int)sizeof(path) &&
        write_atomic(path, text) == 0) {
        json_array_append_new(c->kept, json_string(id));
        c->cached++;
    }
    else {
        ds_log_warn("TEMPLATE_INVALID",
                    "templates: saved template %s of practice %s is not a valid template; "
                    "not used",
                    id, up->cfg->practices[c->pull->practice].name);
    }
    ds_template_free(&tpl);
}

static void on_templates(void *ctx, const struct ds_http_response *res)
{
    struct pull *p = ctx;
    struct ds_uploader *up = p->up;
    struct cache c;
    char dir[4096];

    memset(&c, 0, sizeof(c));
    c.pull = p;
    c.dir = dir;
    c.kept = json_array();
    if (res->curl_code != 0 || res->status != 200) {
        ds_log_debug("TEMPLATES_NOT_PULLED",
                     "templates: not pulled for practice %s (curl %d, HTTP %ld)",
                     up->cfg->practices[p->practice].name, res->curl_code, res->status);
        goto out;
    }
    if (ds_config_cloud_templates_dir(up->cfg, up->cfg->practices[p->practice].name, dir,
                                      sizeof(dir)) != 0) {
        goto out;
    }
    mkdir_parent(dir);
    ds_os_mkdir(dir, 0);
    if (ds_answer_templates(res->body, res->body_len, cache_template, &c) != 0) {
        goto out;
    }
    prune_cache(dir, c.kept);
    ds_log_info("TEMPLATES_CACHED", "templates: %zu saved template(s) of practice %s cached",
                c.cached, up->cfg->practices[p->practice].name);
out:
    json_decref(c.kept);
    ds_free(p);
}

static void on_templates_timer(uv_timer_t *t)
{
    struct ds_uploader *up = t->data;
    char url[600];

    push_outbox(up);
    snprintf(url, sizeof(url), "%s/v1/templates", up->base_url);
    for (size_t i = 0; i < up->cfg->npractices; i++) {
        struct pull *p = ds_calloc(1, sizeof(*p));

        if (p == NULL) {
            return;
        }
        p->up = up;
        p->practice = i;
        if (ds_http_request(up->http, "GET", url, up->practices[i].token, NULL, 0, NULL, NULL,
                            on_templates, p) != 0) {
            ds_free(p);
        }
    }
}

/* ---- templates saved on this PC, pushed to the cloud --------------------- */

#define OUTBOX_MAX ((size_t)1100 * 1024) /* a template (1 MiB) and its envelope */

/* state_dir/template-outbox/<practice, made safe as cloud-templates'>. */
static int outbox_dir(const struct ds_config *cfg, const char *practice, char *buf, size_t size)
{
    char cloud[4096];
    const char *safe;

    if (ds_config_cloud_templates_dir(cfg, practice, cloud, sizeof(cloud)) != 0) {
        return DS_ETOOBIG;
    }
    safe = strrchr(cloud, '/') + 1;
    return snprintf(buf, size, "%s/template-outbox/%s", cfg->state_dir, safe) < (int)size
               ? 0
               : DS_ETOOBIG;
}

int ds_upload_template_outbox(const struct ds_config *cfg, const char *practice,
                              const char *template_json, struct ds_error *err)
{
    json_t *t = json_loads(template_json, JSON_REJECT_DUPLICATES, NULL);
    json_t *body = NULL;
    const char *id = json_string_value(json_object_get(t, "id"));
    const char *name = json_string_value(json_object_get(t, "name"));
    const char *type = json_string_value(json_object_get(t, "import_type"));
    char dir[4096];
    char path[4200];
    char *text = NULL;
    int rc = 0;

    if (id == NULL || type == NULL || !ds_answer_template_id_ok(id)) {
        rc = ds_error_set(err, DS_EINVAL, "not a template");
        goto out;
    }
    body = json_pack("{s:s, s:s, s:O}", "name", name != NULL ? name : id, "import_type", type,
                     "mapping_config", t);
    text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    if (text == NULL) {
        rc = ds_error_set(err, DS_ENOMEM, "out of memory");
        goto out;
    }
    if (outbox_dir(cfg, practice, dir, sizeof(dir)) != 0 ||
        snprintf(path, sizeof(path), "%s/%s.json", dir, id) >= (int)sizeof(path)) {
        rc = ds_error_set(err, DS_ETOOBIG, "the state directory's path is too long");
        goto out;
    }
    mkdir_parent(dir);
    ds_os_mkdir(dir, 0);
    if (write_atomic(path, text) != 0) {
        rc = ds_error_set(err, DS_EIO, "cannot write %s: %s", path, strerror(errno));
    }
out:
    free(text);
    json_decref(body);
    json_decref(t);
    return rc;
}

/* One PUT of an outbox entry. */
struct push {
    struct ds_uploader *up; /* owner */
    size_t practice;        /* whose */
    char path[4200];        /* the entry */
    char id[256];           /* the template's id */
    char *body;             /* what was sent (owned) */
    size_t len;
};

/* The whole of path, NUL-terminated, at most OUTBOX_MAX bytes. new: free. */
static char *read_small(const char *path, size_t *len)
{
    struct ds_buf b;
    char block[8192];
    ssize_t n;
    int fd = ds_os_open_read(path);
    char *out = NULL;

    *len = 0;
    if (fd < 0) {
        return NULL;
    }
    ds_buf_init(&b, OUTBOX_MAX);
    for (;;) {
        n = read(fd, block, sizeof(block));
        if (n <= 0 || ds_buf_append(&b, block, (size_t)n) != 0) {
            break;
        }
    }
    close(fd);
    if (n == 0 && ds_buf_append(&b, "", 1) == 0) {
        out = b.data;
        *len = b.len - 1;
        b.data = NULL;
    }
    ds_buf_close(&b);
    return out;
}

static void on_pushed(void *ctx, const struct ds_http_response *res)
{
    struct push *p = ctx;
    const char *practice = p->up->cfg->practices[p->practice].name;
    size_t len = 0;
    char *now;

    if (res->curl_code == 0 && (res->status == 200 || res->status == 201)) {
        /* Saved again meanwhile: that newer body goes at the next push. */
        now = read_small(p->path, &len);
        if (now != NULL && len == p->len && memcmp(now, p->body, len) == 0) {
            ds_os_unlink(p->path);
        }
        free(now);
        ds_log_info("TEMPLATE_PUSHED",
                    "templates: %s saved in the cloud for practice %s (HTTP %ld)", p->id, practice,
                    res->status);
    }
    else if (res->curl_code == 0 && res->status >= 400 && res->status < 500 && res->status != 408 &&
             res->status != 429) {
        char to[4300];

        snprintf(to, sizeof(to), "%s.rejected", p->path);
        ds_os_rename(p->path, to, 1);
        ds_log_warn("TEMPLATE_PUSH_REJECTED",
                    "templates: the cloud refused %s for practice %s (HTTP %ld); it stays in "
                    "template_dir, the request is kept as %s",
                    p->id, practice, res->status, to);
    }
    else {
        ds_log_warn("TEMPLATE_PUSH_RETRY",
                    "templates: %s not saved in the cloud for practice %s yet (curl %d, HTTP "
                    "%ld); tried again at the next sync",
                    p->id, practice, res->curl_code, res->status);
    }
    free(p->body);
    ds_free(p);
}

/* PUTs every outbox entry of every practice. */
static void push_outbox(struct ds_uploader *up)
{
    for (size_t i = 0; i < up->cfg->npractices; i++) {
        char dir[4096];
        struct dirent *de;
        DIR *d;

        if (outbox_dir(up->cfg, up->cfg->practices[i].name, dir, sizeof(dir)) != 0) {
            continue;
        }
        d = opendir(dir);
        while (d != NULL && (de = readdir(d)) != NULL) {
            size_t n = strlen(de->d_name);
            struct push *p;
            char url[1024];

            if (n < 6 || n - 5 >= sizeof(p->id) || strcmp(de->d_name + n - 5, ".json") != 0 ||
                de->d_name[0] == '.') {
                continue;
            }
            p = ds_calloc(1, sizeof(*p));
            if (p == NULL) {
                break;
            }
            p->up = up;
            p->practice = i;
            memcpy(p->id, de->d_name, n - 5);
            snprintf(p->path, sizeof(p->path), "%s/%s", dir, de->d_name);
            p->body = read_small(p->path, &p->len);
            snprintf(url, sizeof(url), "%s/v1/templates/%s", up->base_url, p->id);
            if (p->body == NULL || !ds_answer_template_id_ok(p->id) ||
                ds_http_request(up->http, "PUT", url, up->practices[i].token, p->body, p->len, NULL,
                                NULL, on_pushed, p) != 0) {
                free(p->body);
                ds_free(p);
            }
        }
        if (d != NULL) {
            closedir(d);
        }
    }
}

/* ---- life ----------------------------------------------------------------- */

int ds_upload_new(uv_loop_t *loop, const struct ds_config *cfg, struct ds_store *store,
                  const char *agent_id, ds_upload_done_cb done, void *done_ctx,
                  struct ds_uploader **out, struct ds_error *err)
{
    struct ds_http_options opt;
    struct ds_uploader *up = NULL;
    uint64_t period;
    size_t len;
    int rc;

    *out = NULL;
    up = ds_calloc(1, sizeof(*up));
    if (up == NULL) {
        return ds_error_set(err, DS_ENOMEM, "out of memory");
    }
    up->loop = loop;
    up->cfg = cfg;
    up->store = store;
    up->done = done;
    up->done_ctx = done_ctx;
    up->seed = (unsigned int)time(NULL) ^ (unsigned int)(uintptr_t)up;
    ds_str_copy(up->agent_id, sizeof(up->agent_id), agent_id);
    ds_str_copy(up->base_url, sizeof(up->base_url), cfg->cloud_url);
    len = strlen(up->base_url);
    while (len > 0 && up->base_url[len - 1] == '/') {
        up->base_url[--len] = '\0';
    }
    up->practices = ds_calloc(cfg->npractices > 0 ? cfg->npractices : 1, sizeof(*up->practices));
    if (up->practices == NULL) {
        rc = ds_error_set(err, DS_ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < cfg->npractices; i++) {
        rc = ds_config_read_token(&cfg->practices[i], up->practices[i].token, TOKEN_MAX, err);
        if (rc != 0) {
            goto fail;
        }
    }
    memset(&opt, 0, sizeof(opt));
    opt.ca_file = cfg->ca_file;
    opt.proxy = cfg->proxy;
    opt.timeout_seconds = cfg->timeout_seconds;
    opt.connect_timeout_seconds = cfg->connect_timeout_seconds;
    opt.low_speed_bytes = 1024;
    opt.low_speed_seconds = 30;
    rc = ds_http_new(loop, &opt, &up->http);
    if (rc != 0) {
        ds_error_set(err, rc, "cannot start the HTTP client");
        goto fail;
    }
    uv_timer_init(loop, &up->timer);
    uv_timer_init(loop, &up->heartbeat);
    uv_timer_init(loop, &up->templates);
    up->timer.data = up;
    up->heartbeat.data = up;
    up->templates.data = up;
    up->handles_open = 3;
    uv_timer_start(&up->templates, on_templates_timer, 0, TEMPLATE_PULL_MS);
    period = (uint64_t)(cfg->heartbeat_seconds * 1000.0);
    if (period > 0) {
        uv_timer_start(&up->heartbeat, on_heartbeat, period, period);
    }
    *out = up;
    return 0;
fail:
    ds_upload_free(&up);
    return rc;
}

void ds_upload_sync_now(struct ds_uploader *up)
{
    int woken = 0;

    up->pause_until = 0;
    up->fail_streak = 0;
    for (size_t i = 0; i < up->cfg->npractices; i++) {
        up->practices[i].probe_at = 0;
    }
    for (struct op *op = up->ops; op != NULL; op = op->next) {
        if (!op->busy && isfinite(op->next_at)) {
            op->next_at = 0;
        }
    }
    ds_store_batches_wake(up->store, &woken);
    push_outbox(up);
    ds_log_info("SYNC_NOW", "sync now: %d batch(es) waiting for a retry are due", woken);
    ds_upload_kick(up);
}

int ds_upload_status_json(const struct ds_uploader *up, struct ds_buf *b)
{
    int rc;

    rc = ds_buf_printf(b, "\"in_flight\":%zu,\"retries\":%lu,\"failing\":%d,\"last_error\":",
                       up->in_flight, up->retries, up->fail_streak);
    if (rc == 0) {
        rc = ds_jsonw_str(b, up->last_error);
    }
    if (rc == 0) {
        rc = ds_buf_append_str(b, ",\"practices\":[");
    }
    for (size_t i = 0; rc == 0 && i < up->cfg->npractices; i++) {
        rc = ds_buf_append_str(b, i > 0 ? ",{\"name\":" : "{\"name\":");
        if (rc == 0) {
            rc = ds_jsonw_str(b, up->cfg->practices[i].name);
        }
        if (rc == 0) {
            rc = ds_buf_printf(
                b, ",\"paused\":%s,\"code\":", up->practices[i].paused ? "true" : "false");
        }
        if (rc == 0) {
            rc = ds_jsonw_str(b, up->practices[i].code);
        }
        if (rc == 0) {
            rc = ds_buf_append_str(b, "}");
        }
    }
    return rc != 0 ? rc : ds_buf_append_str(b, "],");
}

size_t ds_upload_in_flight(const struct ds_uploader *up)
{
    return up->in_flight;
}

unsigned long ds_upload_retries(const struct ds_uploader *up)
{
    return up->retries;
}

int ds_upload_practice_paused(const struct ds_uploader *up, const char *practice, char *code,
                              size_t size)
{
    size_t pi = practice_index(up, practice);

    if (pi == (size_t)-1 || !up->practices[pi].paused) {
        return 0;
    }
    if (code != NULL) {
        ds_str_copy(code, size, up->practices[pi].code);
    }
    return 1;
}

static void on_timer_closed(uv_handle_t *h)
{
    struct ds_uploader *up = h->data;

    if (--up->handles_open == 0) {
        ds_free(up);
    }
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
    if (up->practices != NULL) {
        memset(up->practices, 0, up->cfg->npractices * sizeof(*up->practices));
        ds_free(up->practices);
        up->practices = NULL;
    }
    if (up->handles_open > 0) {
        uv_timer_stop(&up->timer);
        uv_timer_stop(&up->heartbeat);
        uv_timer_stop(&up->templates);
        uv_close((uv_handle_t *)&up->timer, on_timer_closed);
        uv_close((uv_handle_t *)&up->heartbeat, on_timer_closed);
        uv_close((uv_handle_t *)&up->templates, on_timer_closed);
    }
    else {
        ds_free(up);
    }
}
