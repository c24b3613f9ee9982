/*
 * db.c — libpq wrapped: connections, bound-parameter statements, results
 * and the request threads' connection pool.
 *
 * The pool keeps idle connections on a stack under a mutex. A connection
 * that is broken, or that comes back still inside a transaction, is closed
 * instead of kept. After a PostgreSQL restart every idle connection is
 * stale: api.c notices at BEGIN on a reused connection, flushes the idle
 * ones and retries once on a fresh connection, before any statement of the
 * request has run, so the restart costs no request at all.
 *
 * A pooled connection keeps no state between transactions: its timeouts
 * are set inside each transaction (set_config(..., true), as
 * app.practice_id is), every statement is an unnamed one (PQexecParams)
 * and the ingest's temporary table empties at commit. So the connection
 * may as well be a PgBouncer client in transaction pooling mode, whose
 * server connection changes from one transaction to the next
 * (docs/scaling.md).
 */
#include "cloud/db.h"
#include "cloud/error.h"
#include "cloud/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

struct dsc_db {
    PGconn *conn;     /* owned */
    int verbose;      /* log PostgreSQL's messages (command line only) */
    int pooled;       /* a request thread's: each transaction sets its timeouts */
    char sqlstate[6]; /* of the last failure, "" after a success */
};

struct dsc_db_pool {
    char *url;              /* owned */
    int size;               /* most connections open at once */
    int open;               /* connections open, idle or out */
    int nidle;              /* entries used in idle */
    struct dsc_db **idle;   /* owned stack of idle connections */
    pthread_mutex_t lock;   /* guards open, nidle, idle, waits, timeouts */
    pthread_cond_t changed; /* signalled when a connection is put back or closed */
    int wait;               /* seconds dsc_db_pool_get waits for a free connection */
    unsigned long waits;    /* dsc_db_pool_get calls that waited */
    unsigned long timeouts; /* ... and gave up */
};

#define POOL_WAIT_SECONDS 30

/* Limits every statement of the server, so a stuck lock turns into a 503
 * instead of a hung agent. Transaction-local, so that nothing outlives the
 * transaction on a server connection that a pooler hands on. */
static const char pooled_begin[] =
    "BEGIN; SELECT set_config('statement_timeout', '60s', true),"
    " set_config('lock_timeout', '30s', true),"
    " set_config('idle_in_transaction_session_timeout', '120s', true)";

/* Copies libpq's message onto one line: its newlines and tabs become
 * spaces and the trailing ones go, so a log line stays one line. */
static const char *one_line(const char *msg, char *buf, size_t size)
{
    size_t n = 0;

    for (; msg != NULL && *msg != '\0' && n + 1 < size; msg++) {
        buf[n++] = *msg == '\n' || *msg == '\t' || *msg == '\r' ? ' ' : *msg;
    }
    while (n > 0 && buf[n - 1] == ' ') {
        n--;
    }
    buf[n] = '\0';
    return buf;
}

int dsc_db_open(const char *url, int verbose, struct dsc_db **out)
{
    static const char *const keys[] = {"dbname", "application_name", "connect_timeout", NULL};
    const char *values[] = {url, "dentsync-cloud", "5", NULL};
    char msg[512];
    struct dsc_db *db = NULL;
    int rc = 0;

    *out = NULL;
    db = calloc(1, sizeof(*db));
    if (db == NULL) {
        rc = DSC_ENOMEM;
        goto out;
    }
    db->verbose = verbose;
    db->conn = PQconnectdbParams(keys, values, 1);
    if (db->conn == NULL) {
        rc = DSC_ENOMEM;
        goto out;
    }
    if (PQstatus(db->conn) != CONNECTION_OK) {
        /* Connection errors name hosts and roles, never patient data. */
        dsc_log_error("database: cannot connect: %s",
                      one_line(PQerrorMessage(db->conn), msg, sizeof(msg)));
        rc = DSC_EUNAVAIL;
        goto out;
    }
    *out = db;
    db = NULL;
out:
    dsc_db_close(&db);
    return rc;
}

void dsc_db_close(struct dsc_db **db)
{
    if (db == NULL || *db == NULL) {
        return;
    }
    if ((*db)->conn != NULL) {
        PQfinish((*db)->conn);
    }
    free(*db);
    *db = NULL;
}

int dsc_db_idle(const struct dsc_db *db)
{
    return PQstatus(db->conn) == CONNECTION_OK && PQtransactionStatus(db->conn) == PQTRANS_IDLE;
}

/* Classifies a failed result (res may be NULL when libpq ran out of memory
 * or the connection dropped) and logs it. */
static int fail(struct dsc_db *db, const char *label, const PGresult *res)
{
    const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    char msg[1024];
    int rc = DSC_EDB;

    snprintf(db->sqlstate, sizeof(db->sqlstate), "%s", state != NULL ? state : "");
    if (PQstatus(db->conn) != CONNECTION_OK || strncmp(db->sqlstate, "08", 2) == 0 ||
        strcmp(db->sqlstate, "57P01") == 0 || strcmp(db->sqlstate, "57P02") == 0 ||
        strcmp(db->sqlstate, "57P03") == 0) {
        rc = DSC_EUNAVAIL;
    }
    else if (strcmp(db->sqlstate, "40001") == 0 || strcmp(db->sqlstate, "40P01") == 0 ||
             strcmp(db->sqlstate, "55P03") == 0 || strcmp(db->sqlstate, "57014") == 0) {
        rc = DSC_EBUSY;
    }
    if (db->verbose) {
        dsc_log_error("database: %s failed: %s", label,
                      one_line(res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(db->conn),
                               msg, sizeof(msg)));
    }
    else {
        dsc_log_warn("database: %s failed: sqlstate %s (%s)", label,
                     db->sqlstate[0] != '\0' ? db->sqlstate : "none", dsc_strerror(rc));
    }
    return rc;
}

int dsc_db_exec(struct dsc_db *db, const char *label, const char *sql, int n,
                const char *const *params, struct dsc_rows **rows)
{
    PGresult *res = NULL;
    ExecStatusType st;
    int rc = 0;

    if (rows != NULL) {
        *rows = NULL;
    }
    res = PQexecParams(db->conn, sql, n, NULL, params, NULL, NULL, 0);
    st = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        rc = fail(db, label, res);
        goto out;
    }
    db->sqlstate[0] = '\0';
    if (rows != NULL) {
        *rows = (struct dsc_rows *)res;
        res = NULL;
    }
out:
    PQclear(res);
    return rc;
}

int dsc_db_script(struct dsc_db *db, const char *label, const char *sql)
{
    PGresult *res = PQexec(db->conn, sql);
    ExecStatusType st = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    int rc = 0;

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        rc = fail(db, label, res);
    }
    else {
        db->sqlstate[0] = '\0';
    }
    PQclear(res);
    return rc;
}

int dsc_db_begin(struct dsc_db *db)
{
    if (db->pooled) {
        return dsc_db_script(db, "begin", pooled_begin);
    }
    return dsc_db_exec(db, "begin", "BEGIN", 0, NULL, NULL);
}

int dsc_db_commit(struct dsc_db *db)
{
    return dsc_db_exec(db, "commit", "COMMIT", 0, NULL, NULL);
}

void dsc_db_rollback(struct dsc_db *db)
{
    PGresult *res;

    if (PQstatus(db->conn) != CONNECTION_OK || PQtransactionStatus(db->conn) == PQTRANS_IDLE) {
        return;
    }
    res = PQexec(db->conn, "ROLLBACK");
    PQclear(res);
}

int dsc_rows_count(const struct dsc_rows *rows)
{
    return rows != NULL ? PQntuples((const PGresult *)rows) : 0;
}

const char *dsc_rows_get(const struct dsc_rows *rows, int row, int col)
{
    const PGresult *res = (const PGresult *)rows;

    if (res == NULL || row < 0 || row >= PQntuples(res) || col < 0 || col >= PQnfields(res) ||
        PQgetisnull(res, row, col)) {
        return NULL;
    }
    return PQgetvalue(res, row, col);
}

void dsc_rows_free(struct dsc_rows **rows)
{
    if (rows == NULL || *rows == NULL) {
        return;
    }
    PQclear((PGresult *)*rows);
    *rows = NULL;
}

/* --- pool ---------------------------------------------------------------- */

int dsc_db_pool_new(const char *url, int size, struct dsc_db_pool **out)
{
    struct dsc_db_pool *pool = NULL;
    int rc = 0;

    *out = NULL;
    if (size < 1 || size > DSC_DB_POOL_MAX) {
        return DSC_EINVAL;
    }
    pool = calloc(1, sizeof(*pool));
    if (pool == NULL) {
        return DSC_ENOMEM;
    }
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->changed, NULL);
    pool->size = size;
    pool->wait = POOL_WAIT_SECONDS;
    pool->url = strdup(url);
    pool->idle = calloc((size_t)size, sizeof(struct dsc_db *));
    if (pool->url == NULL || pool->idle == NULL) {
        rc = DSC_ENOMEM;
        goto out;
    }
    *out = pool;
    pool = NULL;
out:
    dsc_db_pool_free(&pool);
    return rc;
}

void dsc_db_pool_free(struct dsc_db_pool **pool)
{
    struct dsc_db_pool *p;

    if (pool == NULL || *pool == NULL) {
        return;
    }
    p = *pool;
    for (int i = 0; i < p->nidle; i++) {
        dsc_db_close(&p->idle[i]);
    }
    free(p->idle);
    free(p->url);
    pthread_cond_destroy(&p->changed);
    pthread_mutex_destroy(&p->lock);
    free(p);
    *pool = NULL;
}

void dsc_db_pool_set_wait(struct dsc_db_pool *pool, int seconds)
{
    pool->wait = seconds < 1 ? 1 : seconds > 60 ? 60 : seconds;
}

int dsc_db_pool_get(struct dsc_db_pool *pool, struct dsc_db **db, int *reused)
{
    struct timespec deadline;
    int rc = 0;

    *db = NULL;
    *reused = 0;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += pool->wait;
    pthread_mutex_lock(&pool->lock);
    if (pool->nidle == 0 && pool->open >= pool->size) {
        pool->waits++;
    }
    while (pool->nidle == 0 && pool->open >= pool->size) {
        if (pthread_cond_timedwait(&pool->changed, &pool->lock, &deadline) == ETIMEDOUT) {
            pool->timeouts++;
            pthread_mutex_unlock(&pool->lock);
            dsc_log_warn("database: no pooled connection free after %d s", pool->wait);
            return DSC_EBUSY;
        }
    }
    if (pool->nidle > 0) {
        *db = pool->idle[--pool->nidle];
        *reused = 1;
        pthread_mutex_unlock(&pool->lock);
        return 0;
    }
    pool->open++;
    pthread_mutex_unlock(&pool->lock);

    rc = dsc_db_open(pool->url, 0, db);
    if (rc == 0) {
        (*db)->pooled = 1;
    }
    else {
        pthread_mutex_lock(&pool->lock);
        pool->open--;
        pthread_cond_signal(&pool->changed);
        pthread_mutex_unlock(&pool->lock);
    }
    return rc;
}

void dsc_db_pool_stats(struct dsc_db_pool *pool, struct dsc_db_pool_stats *out)
{
    pthread_mutex_lock(&pool->lock);
    out->size = pool->size;
    out->open = pool->open;
    out->idle = pool->nidle;
    out->waits = pool->waits;
    out->timeouts = pool->timeouts;
    pthread_mutex_unlock(&pool->lock);
}

void dsc_db_pool_flush(struct dsc_db_pool *pool)
{
    struct dsc_db *idle[DSC_DB_POOL_MAX];
    int n;

    pthread_mutex_lock(&pool->lock);
    n = pool->nidle;
    pool->nidle -= n;
    memcpy(idle, pool->idle + pool->nidle, (size_t)n * sizeof(struct dsc_db *));
    pool->open -= n;
    pthread_cond_broadcast(&pool->changed);
    pthread_mutex_unlock(&pool->lock);
    for (int i = 0; i < n; i++) {
        dsc_db_close(&idle[i]); /* outside the lock: PQfinish may write to the socket */
    }
}

void dsc_db_pool_put(struct dsc_db_pool *pool, struct dsc_db **db)
{
    if (db == NULL || *db == NULL) {
        return;
    }
    pthread_mutex_lock(&pool->lock);
    if (dsc_db_idle(*db) && pool->nidle < pool->size) {
        pool->idle[pool->nidle++] = *db;
        *db = NULL;
    }
    else {
        pool->open--;
    }
    pthread_cond_signal(&pool->changed);
    pthread_mutex_unlock(&pool->lock);
    dsc_db_close(db); /* no-op when it went back to the pool */
}
