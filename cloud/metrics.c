/*
 * metrics.c — the counters behind GET /metrics and the operator's agent
 * list (see metrics.h).
 *
 * Request series are kept in a fixed table under one mutex, one entry per
 * (endpoint, method, status) seen; the endpoints and methods are static
 * strings of api.c and http.c, so a label can only be a route template, a
 * method or a number. Past MAX_SERIES distinct series, further ones are
 * counted in dentsync_cloud_metrics_series_dropped_total instead. The
 * latency of every request, batches included, goes into a histogram with
 * the buckets of latency_le.
 *
 * The agents gauge and the agent list read every practice's heartbeats
 * through dsc_agents_seen() (migration 0005), the one way the
 * application role has across practices; the pool gauges come from
 * dsc_db_pool_stats.
 */
#include "cloud/metrics.h"
#include "cloud/agents.h"
#include "cloud/db.h"
#include "cloud/error.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SERIES 256

/* The upper bounds of the latency buckets, in seconds (+Inf is implied). */
static const double latency_le[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
#define NBUCKETS (sizeof(latency_le) / sizeof(latency_le[0]))

/* The import types and row outcomes, in the order of the rows table. */
static const char *const types[] = {"patients", "appointments", "treatments", "financial"};
static const char *const outcomes[] = {"created",  "updated",      "unchanged", "deleted",
                                       "conflict", "needs_review", "rejected"};
#define NTYPES (sizeof(types) / sizeof(types[0]))
#define NOUTCOMES (sizeof(outcomes) / sizeof(outcomes[0]))

struct series {
    const char *endpoint;                /* static: a route template, or "other" */
    const char *method;                  /* static */
    unsigned status;                     /* HTTP status */
    unsigned long long count;            /* requests */
    double sum;                          /* seconds, all requests */
    unsigned long long bucket[NBUCKETS]; /* requests at or under latency_le[i] (not cumulative) */
};

struct dsc_metrics {
    pthread_mutex_t lock;                       /* guards everything below */
    struct series series[MAX_SERIES];           /* request series, nseries used */
    int nseries;                                /* entries used */
    unsigned long long dropped;                 /* requests of series past MAX_SERIES */
    unsigned long long rows[NTYPES][NOUTCOMES]; /* rows stored, by type and outcome */
    unsigned long long replays;                 /* batches answered from the stored answer */
};

int dsc_metrics_new(struct dsc_metrics **out)
{
    struct dsc_metrics *m = calloc(1, sizeof(*m));

    *out = NULL;
    if (m == NULL) {
        return DSC_ENOMEM;
    }
    pthread_mutex_init(&m->lock, NULL);
    *out = m;
    return 0;
}

void dsc_metrics_free(struct dsc_metrics **m)
{
    if (m == NULL || *m == NULL) {
        return;
    }
    pthread_mutex_destroy(&(*m)->lock);
    free(*m);
    *m = NULL;
}

/* The series of (endpoint, method, status), added when new; NULL when the
 * table is full. Under m->lock. */
static struct series *series_of(struct dsc_metrics *m, const char *endpoint, const char *method,
                                unsigned status)
{
    struct series *s;

    for (int i = 0; i < m->nseries; i++) {
        s = &m->series[i];
        if (s->status == status && strcmp(s->endpoint, endpoint) == 0 &&
            strcmp(s->method, method) == 0) {
            return s;
        }
    }
    if (m->nseries == MAX_SERIES) {
        return NULL;
    }
    s = &m->series[m->nseries++];
    s->endpoint = endpoint;
    s->method = method;
    s->status = status;
    return s;
}

void dsc_metrics_request(struct dsc_metrics *m, const char *method, const struct dsc_response *resp,
                         double seconds)
{
    const int counts[NOUTCOMES] = {resp->created, resp->updated,  resp->unchanged,
                                   resp->deleted, resp->conflict, resp->needs_review,
                                   resp->rejected};
    struct series *s;
    size_t t = NTYPES;

    for (size_t i = 0; resp->import_type != NULL && i < NTYPES; i++) {
        if (strcmp(resp->import_type, types[i]) == 0) {
            t = i;
        }
    }
    pthread_mutex_lock(&m->lock);
    s = series_of(m, resp->endpoint != NULL ? resp->endpoint : "other", method, resp->status);
    if (s == NULL) {
        m->dropped++;
    }
    else {
        s->count++;
        s->sum += seconds;
        for (size_t i = 0; i < NBUCKETS; i++) {
            if (seconds <= latency_le[i]) {
                s->bucket[i]++;
                break;
            }
        }
    }
    if (resp->replay) {
        m->replays++;
    }
    else if (resp->status == 200 && t < NTYPES) {
        for (size_t i = 0; i < NOUTCOMES; i++) {
            m->rows[t][i] += (unsigned long long)counts[i];
        }
    }
    pthread_mutex_unlock(&m->lock);
}

/* A growing text buffer; a failed allocation sticks (failed). */
struct text {
    char *buf;  /* owned */
    size_t len; /* bytes used */
    size_t cap; /* bytes allocated */
    int failed; /* an allocation failed: the text is incomplete */
};

__attribute__((format(printf, 2, 3))) static void put(struct text *t, const char *fmt, ...)
{
    va_list ap;
    int n;
    char *p;

    for (int attempt = 0; attempt < 2 && !t->failed; attempt++) {
        va_start(ap, fmt);
        n = vsnprintf(t->buf != NULL ? t->buf + t->len : NULL, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = 1;
            return;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        p = realloc(t->buf, (t->cap + (size_t)n + 1) * 2);
        if (p == NULL) {
            t->failed = 1;
            return;
        }
        t->buf = p;
        t->cap = (t->cap + (size_t)n + 1) * 2;
    }
}

/* A transaction on a pooled connection; put the connection back with
 * txn_end. */
static int txn_begin(struct dsc_db_pool *pool, struct dsc_db **db)
{
    int reused;
    int rc = dsc_db_pool_get(pool, db, &reused);

    if (rc == 0) {
        rc = dsc_db_begin(*db);
    }
    return rc;
}

static void txn_end(struct dsc_db_pool *pool, struct dsc_db **db)
{
    if (*db != NULL) {
        dsc_db_rollback(*db);
    }
    dsc_db_pool_put(pool, db);
}

static void render_requests(struct dsc_metrics *m, struct text *t)
{
    unsigned long long cum;
    const struct series *s;

    put(t, "# HELP dentsync_cloud_requests_total API requests answered, by endpoint, method and "
           "status.\n# TYPE dentsync_cloud_requests_total counter\n");
    for (int i = 0; i < m->nseries; i++) {
        s = &m->series[i];
        put(t, "dentsync_cloud_requests_total{endpoint=\"%s\",method=\"%s\",status=\"%u\"} %llu\n",
            s->endpoint, s->method, s->status, s->count);
    }
    put(t, "# HELP dentsync_cloud_request_duration_seconds Time from a request's arrival to its "
           "answer, by endpoint, method and status (batches: "
           "endpoint=\"/v1/jobs/{id}/batches/{seq}\").\n"
           "# TYPE dentsync_cloud_request_duration_seconds histogram\n");
    for (int i = 0; i < m->nseries; i++) {
        s = &m->series[i];
        cum = 0;
        for (size_t b = 0; b < NBUCKETS; b++) {
            cum += s->bucket[b];
            put(t,
                "dentsync_cloud_request_duration_seconds_bucket{endpoint=\"%s\",method=\"%s\","
                "status=\"%u\",le=\"%g\"} %llu\n",
                s->endpoint, s->method, s->status, latency_le[b], cum);
        }
        put(t,
            "dentsync_cloud_request_duration_seconds_bucket{endpoint=\"%s\",method=\"%s\","
            "status=\"%u\",le=\"+Inf\"} %llu\n",
            s->endpoint, s->method, s->status, s->count);
        put(t,
            "dentsync_cloud_request_duration_seconds_sum{endpoint=\"%s\",method=\"%s\","
            "status=\"%u\"} %.6f\n",
            s->endpoint, s->method, s->status, s->sum);
        put(t,
            "dentsync_cloud_request_duration_seconds_count{endpoint=\"%s\",method=\"%s\","
            "status=\"%u\"} %llu\n",
            s->endpoint, s->method, s->status, s->count);
    }
    put(t,
        "# HELP dentsync_cloud_metrics_series_dropped_total Requests not counted by series "
        "(too many distinct series).\n"
        "# TYPE dentsync_cloud_metrics_series_dropped_total counter\n"
        "dentsync_cloud_metrics_series_dropped_total %llu\n",
        m->dropped);
    put(t, "# HELP dentsync_cloud_rows_total Batch rows answered (replays not counted again), by "
           "import type and outcome.\n# TYPE dentsync_cloud_rows_total counter\n");
    for (size_t a = 0; a < NTYPES; a++) {
        for (size_t b = 0; b < NOUTCOMES; b++) {
            put(t, "dentsync_cloud_rows_total{import_type=\"%s\",outcome=\"%s\"} %llu\n", types[a],
                outcomes[b], m->rows[a][b]);
        }
    }
    put(t,
        "# HELP dentsync_cloud_batch_replays_total Batches answered from their stored answer.\n"
        "# TYPE dentsync_cloud_batch_replays_total counter\n"
        "dentsync_cloud_batch_replays_total %llu\n",
        m->replays);
}

/* The agents of every practice, fresh and stale; nothing when the
 * database cannot answer (dentsync_cloud_database_up says so). */
static void render_agents(struct dsc_db_pool *pool, struct text *t)
{
    static const char sql[] = "SELECT count(*) FILTER (WHERE NOT stale), count(*) FILTER (WHERE "
                              "stale) FROM dsc_agents_seen($1)";
    char after[16];
    const char *params[1] = {after};
    struct dsc_rows *rows = NULL;
    struct dsc_db *db = NULL;
    int rc;

    snprintf(after, sizeof(after), "%d", DSC_AGENT_STALE_SECONDS);
    rc = txn_begin(pool, &db);
    if (rc == 0) {
        rc = dsc_db_exec(db, "metrics agents", sql, 1, params, &rows);
    }
    put(t,
        "# HELP dentsync_cloud_database_up Whether the last scrape could query the database.\n"
        "# TYPE dentsync_cloud_database_up gauge\ndentsync_cloud_database_up %d\n",
        rc == 0);
    if (rc == 0) {
        put(t,
            "# HELP dentsync_cloud_agents Agents of every practice by staleness (stale: no "
            "heartbeat for %d s).\n# TYPE dentsync_cloud_agents gauge\n"
            "dentsync_cloud_agents{staleness=\"fresh\"} %s\n"
            "dentsync_cloud_agents{staleness=\"stale\"} %s\n",
            DSC_AGENT_STALE_SECONDS, dsc_rows_get(rows, 0, 0), dsc_rows_get(rows, 0, 1));
    }
    dsc_rows_free(&rows);
    txn_end(pool, &db);
}

static void render_pool(struct dsc_db_pool *pool, struct text *t)
{
    struct dsc_db_pool_stats st;

    dsc_db_pool_stats(pool, &st);
    put(t,
        "# HELP dentsync_cloud_db_pool_size The most database connections of the pool.\n"
        "# TYPE dentsync_cloud_db_pool_size gauge\ndentsync_cloud_db_pool_size %d\n"
        "# HELP dentsync_cloud_db_pool_connections Database connections open, by state.\n"
        "# TYPE dentsync_cloud_db_pool_connections gauge\n"
        "dentsync_cloud_db_pool_connections{state=\"in_use\"} %d\n"
        "dentsync_cloud_db_pool_connections{state=\"idle\"} %d\n"
        "# HELP dentsync_cloud_db_pool_waits_total Requests that waited for a free connection.\n"
        "# TYPE dentsync_cloud_db_pool_waits_total counter\ndentsync_cloud_db_pool_waits_total "
        "%lu\n"
        "# HELP dentsync_cloud_db_pool_timeouts_total Requests that found no free connection in "
        "time (503).\n"
        "# TYPE dentsync_cloud_db_pool_timeouts_total counter\n"
        "dentsync_cloud_db_pool_timeouts_total %lu\n",
        st.size, st.open - st.idle, st.idle, st.waits, st.timeouts);
}

int dsc_metrics_render(struct dsc_metrics *m, struct dsc_db_pool *pool, struct dsc_response *resp)
{
    struct text t = {NULL, 0, 0, 0};

    /* The database first: the pool gauges then count its connection. */
    render_agents(pool, &t);
    render_pool(pool, &t);
    pthread_mutex_lock(&m->lock);
    render_requests(m, &t);
    pthread_mutex_unlock(&m->lock);
    if (t.failed || t.buf == NULL) {
        free(t.buf);
        return DSC_ENOMEM;
    }
    free(resp->body);
    resp->body = t.buf;
    resp->body_len = t.len;
    resp->status = 200;
    return 0;
}

int dsc_metrics_agents(struct dsc_db_pool *pool, const struct dsc_request *req,
                       struct dsc_response *resp)
{
    static const char sql[] =
        "SELECT json_build_object('stale_after_seconds', $1::integer,"
        " 'agents', coalesce(json_agg(json_build_object("
        "   'practice_id', a.practice_id, 'agent_id', a.agent_id, 'version', a.version,"
        "   'queue_depth', a.queue_depth,"
        "   'oldest_pending_age_seconds', a.oldest_pending_age_seconds,"
        "   'last_error_code', a.last_error_code,"
        "   'last_heartbeat_at', to_char(a.last_heartbeat_at AT TIME ZONE 'UTC',"
        "                                'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
        "   'stale', a.stale)"
        "   ORDER BY a.last_heartbeat_at, a.practice_id, a.agent_id), '[]'::json))::text"
        " FROM dsc_agents_seen($1::integer) a WHERE a.stale OR $2 = '0'";
    const char *stale = req->query != NULL ? req->query(req->query_cls, "stale") : NULL;
    const char *after = req->query != NULL ? req->query(req->query_cls, "stale_after") : NULL;
    char after_buf[16];
    const char *params[2] = {after_buf, "0"};
    struct dsc_rows *rows = NULL;
    struct dsc_db *db = NULL;
    char *end = NULL;
    long n = DSC_AGENT_STALE_SECONDS;
    int rc;

    if (stale != NULL && strcmp(stale, "1") != 0 && strcmp(stale, "0") != 0) {
        return dsc_api_error(resp, 422, "INVALID_REQUEST", "?stale: 0 or 1");
    }
    params[1] = stale != NULL ? stale : "0";
    if (after != NULL) {
        n = strtol(after, &end, 10);
        if (after[0] < '0' || after[0] > '9' || *end != '\0' || n < 1 || n > 31536000) {
            return dsc_api_error(resp, 422, "INVALID_REQUEST",
                                 "?stale_after: seconds, from 1 to 31536000");
        }
    }
    snprintf(after_buf, sizeof(after_buf), "%ld", n);
    rc = txn_begin(pool, &db);
    if (rc == 0) {
        rc = dsc_db_exec(db, "operator agent list", sql, 2, params, &rows);
    }
    if (rc == 0) {
        rc = dsc_api_text(resp, 200, dsc_rows_get(rows, 0, 0));
    }
    else {
        dsc_api_error(resp, 503, "UNAVAILABLE", "%s, retry later", dsc_strerror(rc));
        resp->retry_after = 1;
    }
    dsc_rows_free(&rows);
    txn_end(pool, &db);
    return rc;
}
