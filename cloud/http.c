/*
 * http.c — libmicrohttpd glue: listening, collecting and inflating request
 * bodies, sending responses, one log line per request, and clean shutdown.
 *
 * libmicrohttpd runs one thread per connection (the handlers block on
 * PostgreSQL, so an event loop would gain nothing), or a fixed pool of
 * --threads threads, and the threads share the connection pool of db.c.
 * With --tls-cert and --tls-key it speaks HTTPS (libmicrohttpd's GnuTLS). SIGINT and SIGTERM are
 * blocked before the daemon starts, so every thread inherits the mask, and the main thread takes
 * them with sigwait(); MHD_stop_daemon then lets running requests finish.
 *
 * Bodies are capped at DSC_MAX_BODY both as received and once inflated;
 * past the cap the rest of the upload is read and dropped, and the answer
 * is 413 TOO_LARGE, so the client always gets a response it can read.
 *
 * The log line carries the method, the path only when it matched a route
 * (ids and numbers, nothing else), the status, the time taken, the
 * practice id, the error code and the batch counts.
 */
#include "cloud/http.h"
#include "cloud/api.h"
#include "cloud/db.h"
#include "cloud/error.h"
#include "cloud/log.h"
#include "cloud/schema.h"

#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>
#include <zlib.h>

/* What one client can make the server hold: a practice's agent keeps a
 * handful of connections (max_in_flight, 2 by default, plus a heartbeat),
 * so 64 per address leaves room for a practice behind one NAT address
 * while one client can no longer take all 256 slots. An idle connection is
 * closed after 30 s: agents open a new one when they need it. */
#define MAX_CONNECTIONS 256
#define MAX_CONNECTIONS_PER_CLIENT 64
#define IDLE_TIMEOUT_S 30

/* A request header must arrive whole within this many seconds of the
 * connection opening or of its previous answer (see "slow clients"). */
#define HEADER_DEADLINE_S 10

struct request_state {
    char *body;            /* owned: the body as received */
    size_t len;            /* bytes in body */
    size_t cap;            /* bytes allocated */
    int too_large;         /* the body passed DSC_MAX_BODY; the rest is dropped */
    int no_memory;         /* an allocation failed while reading */
    struct timespec start; /* when the request arrived */
};

/* ---- slow clients ---------------------------------------------------------
 *
 * The idle timeout alone does not stop a client that sends its header a
 * byte at a time (slowloris): every byte counts as activity. So each
 * connection is registered while it is open (MHD_OPTION_NOTIFY_CONNECTION)
 * with the time it started waiting for a request header: when it opened,
 * or when its previous request completed. Once a second a watchdog thread
 * shuts down every connection that has waited longer than
 * HEADER_DEADLINE_S; libmicrohttpd then reads the end of the stream and
 * closes it. A body, once the header is in, is bounded by the idle timeout
 * and the size cap only (a batch may take minutes over a slow line).
 *
 * Shutting a socket down under the registry's lock cannot hit another
 * connection that reused its descriptor: libmicrohttpd reports a connection
 * closed before it closes the socket, and that report takes the lock. */
struct watched {
    struct watchdog *dog; /* owner */
    int fd;               /* the connection's socket */
    double waiting_since; /* monotonic seconds; 0 while a request is handled */
    struct watched *prev; /* registry list */
    struct watched *next; /* registry list */
};

struct watchdog {
    pthread_mutex_t lock;  /* guards everything below */
    pthread_cond_t wake;   /* stop */
    struct watched *head;  /* open connections */
    int stop;              /* the thread ends */
    unsigned long dropped; /* connections shut down for being slow */
    pthread_t thread;      /* the watchdog */
};

static double mono_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct watchdog *dog = cls;
    struct watched *w = *socket_context;
    const union MHD_ConnectionInfo *info;

    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        w = calloc(1, sizeof(*w));
        if (w == NULL || info == NULL) {
            free(w); /* not watched: the idle timeout still applies */
            return;
        }
        w->dog = dog;
        w->fd = info->connect_fd;
        w->waiting_since = mono_now();
        pthread_mutex_lock(&dog->lock);
        w->next = dog->head;
        if (dog->head != NULL) {
            dog->head->prev = w;
        }
        dog->head = w;
        pthread_mutex_unlock(&dog->lock);
        *socket_context = w;
        return;
    }
    if (w == NULL) {
        return;
    }
    pthread_mutex_lock(&dog->lock);
    if (w->prev != NULL) {
        w->prev->next = w->next;
    }
    else {
        dog->head = w->next;
    }
    if (w->next != NULL) {
        w->next->prev = w->prev;
    }
    pthread_mutex_unlock(&dog->lock);
    free(w);
    *socket_context = NULL;
}

/* A request header arrived (waiting = 0) or an answer was sent (waiting =
 * now) on connection c. */
static void set_waiting(struct MHD_Connection *c, double waiting)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct watched *w = info != NULL ? info->socket_context : NULL;

    if (w != NULL) {
        pthread_mutex_lock(&w->dog->lock);
        w->waiting_since = waiting;
        pthread_mutex_unlock(&w->dog->lock);
    }
}

static void *watchdog_main(void *arg)
{
    struct watchdog *dog = arg;
    struct timespec until;
    unsigned long dropped;

    pthread_mutex_lock(&dog->lock);
    while (!dog->stop) {
        double now = mono_now();

        dropped = 0;
        for (struct watched *w = dog->head; w != NULL; w = w->next) {
            if (w->waiting_since > 0 && now - w->waiting_since > HEADER_DEADLINE_S) {
                shutdown(w->fd, SHUT_RDWR);
                w->waiting_since = 0;
                dropped++;
            }
        }
        dog->dropped += dropped;
        if (dropped > 0) {
            dsc_log_warn("serve: closed %lu connection(s) that sent no whole request header "
                         "within %d s",
                         dropped, HEADER_DEADLINE_S);
        }
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        pthread_cond_timedwait(&dog->wake, &dog->lock, &until);
    }
    pthread_mutex_unlock(&dog->lock);
    return NULL;
}

static int watchdog_start(struct watchdog *dog)
{
    memset(dog, 0, sizeof(*dog));
    pthread_mutex_init(&dog->lock, NULL);
    pthread_cond_init(&dog->wake, NULL);
    if (pthread_create(&dog->thread, NULL, watchdog_main, dog) != 0) {
        pthread_cond_destroy(&dog->wake);
        pthread_mutex_destroy(&dog->lock);
        return DSC_ENOMEM;
    }
    return 0;
}

/* After MHD_stop_daemon: every connection has been reported closed. */
static void watchdog_stop(struct watchdog *dog)
{
    pthread_mutex_lock(&dog->lock);
    dog->stop = 1;
    pthread_cond_signal(&dog->wake);
    pthread_mutex_unlock(&dog->lock);
    pthread_join(dog->thread, NULL);
    pthread_cond_destroy(&dog->wake);
    pthread_mutex_destroy(&dog->lock);
}

static void state_free(struct request_state **st)
{
    if (st == NULL || *st == NULL) {
        return;
    }
    free((*st)->body);
    free(*st);
    *st = NULL;
}

static void append(struct request_state *st, const char *data, size_t n)
{
    size_t cap;
    char *p;

    if (st->too_large || st->no_memory) {
        return;
    }
    if (n > DSC_MAX_BODY - st->len) {
        st->too_large = 1;
        free(st->body);
        st->body = NULL;
        st->len = st->cap = 0;
        return;
    }
    if (st->len + n > st->cap) {
        cap = st->cap > 0 ? st->cap : 16384;
        while (cap < st->len + n) {
            cap *= 2;
        }
        p = realloc(st->body, cap);
        if (p == NULL) {
            st->no_memory = 1;
            return;
        }
        st->body = p;
        st->cap = cap;
    }
    memcpy(st->body + st->len, data, n);
    st->len += n;
}

int dsc_http_inflate(const char *in, size_t n, char **out, size_t *out_len)
{
    z_stream z;
    size_t cap = n < DSC_MAX_BODY / 4 ? n * 4 + 1024 : DSC_MAX_BODY + 1;
    size_t len = 0;
    char *buf = NULL;
    char *p;
    int ret;
    int rc = 0;

    *out = NULL;
    *out_len = 0;
    memset(&z, 0, sizeof(z));
    if (inflateInit2(&z, 15 + 16) != Z_OK) {
        return DSC_ENOMEM;
    }
    buf = malloc(cap);
    if (buf == NULL) {
        rc = DSC_ENOMEM;
        goto out;
    }
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)n;
    for (;;) {
        if (len == cap) {
            if (cap > DSC_MAX_BODY) {
                rc = DSC_ETOOBIG;
                goto out;
            }
            cap = cap * 2 > DSC_MAX_BODY + 1 ? DSC_MAX_BODY + 1 : cap * 2;
            p = realloc(buf, cap);
            if (p == NULL) {
                rc = DSC_ENOMEM;
                goto out;
            }
            buf = p;
        }
        z.next_out = (Bytef *)buf + len;
        z.avail_out = (uInt)(cap - len);
        ret = inflate(&z, Z_NO_FLUSH);
        len = cap - z.avail_out;
        if (len > DSC_MAX_BODY) {
            rc = DSC_ETOOBIG;
            goto out;
        }
        if (ret == Z_STREAM_END) {
            if (z.avail_in == 0) {
                break;
            }
            inflateReset(&z); /* another gzip member follows */
            continue;
        }
        if (ret == Z_OK || (ret == Z_BUF_ERROR && z.avail_out == 0)) {
            continue;
        }
        rc = ret == Z_MEM_ERROR ? DSC_ENOMEM : DSC_EINVAL;
        goto out;
    }
    *out = buf;
    *out_len = len;
    buf = NULL;
out:
    inflateEnd(&z);
    free(buf);
    return rc;
}

static const char *log_method(const char *method)
{
    static const char *const known[] = {"GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS"};

    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (strcmp(method, known[i]) == 0) {
            return known[i];
        }
    }
    return "OTHER";
}

static void log_request(const char *method, const struct dsc_response *resp,
                        const struct request_state *st)
{
    struct timespec now;
    char counts[160] = "";
    long ms;

    clock_gettime(CLOCK_MONOTONIC, &now);
    ms = (now.tv_sec - st->start.tv_sec) * 1000 + (now.tv_nsec - st->start.tv_nsec) / 1000000;
    if (resp->rows > 0) {
        snprintf(counts, sizeof(counts),
                 " rows=%d created=%d updated=%d unchanged=%d rejected=%d deleted=%d"
                 " conflict=%d needs_review=%d%s",
                 resp->rows, resp->created, resp->updated, resp->unchanged, resp->rejected,
                 resp->deleted, resp->conflict, resp->needs_review, resp->replay ? " replay" : "");
    }
    dsc_log_info("%s %s %u %ldms practice=%s%s%s%s", log_method(method), resp->route, resp->status,
                 ms, resp->practice_id[0] != '\0' ? resp->practice_id : "-",
                 resp->error != NULL ? " error=" : "", resp->error != NULL ? resp->error : "",
                 counts);
}

static const char *query_arg(void *cls, const char *name)
{
    return MHD_lookup_connection_value(cls, MHD_GET_ARGUMENT_KIND, name);
}

/* Answers a request whose body is complete. */
static enum MHD_Result respond(struct dsc_db_pool *pool, struct MHD_Connection *c, const char *url,
                               const char *method, struct request_state *st)
{
    struct dsc_request req;
    struct dsc_response resp;
    struct MHD_Response *r = NULL;
    const char *encoding;
    char *inflated = NULL;
    size_t inflated_len = 0;
    char retry[16];
    enum MHD_Result ret = MHD_NO;
    int rc;

    dsc_response_init(&resp);
    memset(&req, 0, sizeof(req));
    req.method = method;
    req.path = url;
    req.authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    req.batch_digest = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Batch-Digest");
    req.body = st->body;
    req.body_len = st->len;
    req.query = query_arg;
    req.query_cls = c;
    encoding = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Encoding");

    if (st->too_large) {
        dsc_api_error(&resp, 413, "TOO_LARGE", "body larger than %zu bytes", DSC_MAX_BODY);
    }
    else if (st->no_memory) {
        dsc_api_error(&resp, 503, "UNAVAILABLE", "out of memory, retry later");
        resp.retry_after = 1;
    }
    else if (encoding != NULL && strcasecmp(encoding, "identity") != 0 &&
             strcasecmp(encoding, "gzip") != 0 && strcasecmp(encoding, "x-gzip") != 0) {
        dsc_api_error(&resp, 422, "INVALID_REQUEST",
                      "Content-Encoding: not supported (gzip or identity)");
    }
    else {
        if (encoding != NULL && strcasecmp(encoding, "identity") != 0) {
            rc = dsc_http_inflate(st->body, st->len, &inflated, &inflated_len);
            if (rc == DSC_ETOOBIG) {
                dsc_api_error(&resp, 413, "TOO_LARGE", "body larger than %zu bytes inflated",
                              DSC_MAX_BODY);
            }
            else if (rc == DSC_ENOMEM) {
                dsc_api_error(&resp, 503, "UNAVAILABLE", "out of memory, retry later");
                resp.retry_after = 1;
            }
            else if (rc != 0) {
                dsc_api_error(&resp, 422, "INVALID_REQUEST", "body: not valid gzip");
            }
            req.body = inflated;
            req.body_len = inflated_len;
        }
        if (resp.status == 0) {
            dsc_api_handle(pool, &req, &resp);
        }
    }
    if (resp.body == NULL) {
        /* Only an allocation failure gets here. */
        resp.status = 500;
        resp.body = strdup("{\"error\":{\"code\":\"INTERNAL\",\"message\":\"out of memory\"}}");
        resp.body_len = resp.body != NULL ? strlen(resp.body) : 0;
    }
    r = MHD_create_response_from_buffer(resp.body_len, resp.body != NULL ? resp.body : "",
                                        MHD_RESPMEM_MUST_COPY);
    if (r == NULL) {
        goto out;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (resp.retry_after > 0) {
        snprintf(retry, sizeof(retry), "%d", resp.retry_after);
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, retry);
    }
    if (resp.allow != NULL) {
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, resp.allow);
    }
    ret = MHD_queue_response(c, resp.status, r);
out:
    log_request(method, &resp, st);
    MHD_destroy_response(r);
    free(inflated);
    dsc_response_close(&resp);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct request_state *st = *con_cls;

    (void)version;
    if (st == NULL) {
        st = calloc(1, sizeof(*st));
        if (st == NULL) {
            return MHD_NO;
        }
        clock_gettime(CLOCK_MONOTONIC, &st->start);
        *con_cls = st;
        set_waiting(c, 0);
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        append(st, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    return respond(cls, c, url, method, st);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct request_state *st = *con_cls;

    (void)cls;
    (void)toe;
    state_free(&st);
    *con_cls = NULL;
    set_waiting(c, mono_now());
}

__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    size_t n;

    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) {
        msg[--n] = '\0';
    }
    dsc_log_warn("http: %s", msg);
}

/* Resolves "HOST:PORT" or "[V6]:PORT" (numeric host and port). new: *out
 * (freeaddrinfo). */
static int parse_listen(const char *listen, struct addrinfo **out)
{
    struct addrinfo hints;
    char host[256];
    const char *colon = strrchr(listen, ':');
    const char *h = host;
    size_t n;

    *out = NULL;
    if (colon == NULL || colon == listen || colon[1] == '\0') {
        return DSC_EINVAL;
    }
    n = (size_t)(colon - listen);
    if (n >= sizeof(host)) {
        return DSC_EINVAL;
    }
    memcpy(host, listen, n);
    host[n] = '\0';
    if (host[0] == '[' && n > 2 && host[n - 1] == ']') {
        host[n - 1] = '\0';
        h = host + 1;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    if (getaddrinfo(h, colon + 1, &hints, out) != 0) {
        return DSC_EINVAL;
    }
    return 0;
}

/* Reads a PEM file of at most 1 MiB into new: *out (NUL-terminated). */
static int read_pem(const char *path, char **out)
{
    FILE *f = NULL;
    char *buf = NULL;
    size_t n;
    int rc = 0;

    *out = NULL;
    f = fopen(path, "rb");
    if (f == NULL) {
        rc = DSC_EIO;
        goto out;
    }
    buf = malloc(1024 * 1024 + 1);
    if (buf == NULL) {
        rc = DSC_ENOMEM;
        goto out;
    }
    n = fread(buf, 1, 1024 * 1024 + 1, f);
    if (ferror(f) || n == 0 || n > 1024 * 1024) {
        rc = DSC_EIO;
        goto out;
    }
    buf[n] = '\0';
    *out = buf;
    buf = NULL;
out:
    if (f != NULL) {
        fclose(f);
    }
    free(buf);
    return rc;
}

int dsc_http_serve(const struct dsc_http_options *opt)
{
    struct dsc_db *db = NULL;
    struct dsc_db_pool *pool = NULL;
    struct MHD_Daemon *daemon = NULL;
    struct addrinfo *ai = NULL;
    char *cert = NULL;
    char *key = NULL;
    struct MHD_OptionItem extra[5];
    struct watchdog dog;
    int dog_started = 0;
    unsigned int flags;
    int n = 0;
    sigset_t stop;
    int sig = 0;
    int rc;

    rc = parse_listen(opt->listen, &ai);
    if (rc != 0) {
        goto out; /* the caller explains the usage */
    }
    if (opt->tls_cert != NULL) {
        rc = read_pem(opt->tls_cert, &cert);
        if (rc == 0) {
            rc = read_pem(opt->tls_key, &key);
        }
        if (rc != 0) {
            dsc_log_error("serve: cannot read the TLS certificate or key file");
            goto out;
        }
    }
    rc = dsc_db_open(opt->db_url, 0, &db);
    if (rc != 0) {
        goto out;
    }
    rc = dsc_schema_check_app_role(db);
    dsc_db_close(&db);
    if (rc != 0) {
        goto out;
    }
    rc = dsc_db_pool_new(opt->db_url, opt->pool_size, &pool);
    if (rc != 0) {
        goto out;
    }
    dsc_db_pool_set_wait(pool, opt->pool_wait);

    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
    if (opt->threads == 0) {
        flags |= MHD_USE_THREAD_PER_CONNECTION;
    }
    if (ai->ai_family == AF_INET6) {
        flags |= MHD_USE_IPv6;
    }
    if (cert != NULL) {
        flags |= MHD_USE_TLS;
    }
    /* The options that depend on the command line go in an array. */
    if (opt->threads > 0) {
        extra[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, opt->threads, NULL};
    }
    if (cert != NULL) {
        extra[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, cert};
        extra[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, key};
    }
    rc = watchdog_start(&dog);
    if (rc != 0) {
        goto out;
    }
    dog_started = 1;
    extra[n++] =
        (struct MHD_OptionItem){MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)&on_connection, &dog};
    extra[n] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    /* The logger goes first so that no message escapes it. */
    daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, &on_request, pool, MHD_OPTION_EXTERNAL_LOGGER, &on_mhd_log, NULL,
        MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_NOTIFY_COMPLETED, &on_completed, NULL,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)IDLE_TIMEOUT_S, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int)MAX_CONNECTIONS, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned int)MAX_CONNECTIONS_PER_CLIENT, MHD_OPTION_ARRAY, extra, MHD_OPTION_END);
    if (daemon == NULL) {
        dsc_log_error("serve: cannot listen on %s", opt->listen);
        rc = DSC_EIO;
        goto out;
    }
    dsc_log_info("serve: listening on %s (%s), up to %d database connections, %s", opt->listen,
                 cert != NULL ? "https" : "http", opt->pool_size,
                 opt->threads > 0 ? "a thread pool" : "a thread per connection");
    sigwait(&stop, &sig);
    dsc_log_info("serve: signal %d, stopping", sig);
    MHD_stop_daemon(daemon);
    daemon = NULL;
    dsc_log_info("serve: stopped");
out:
    if (daemon != NULL) {
        MHD_stop_daemon(daemon);
    }
    if (dog_started) {
        watchdog_stop(&dog);
    }
    dsc_db_pool_free(&pool);
    dsc_db_close(&db);
    if (ai != NULL) {
        freeaddrinfo(ai);
    }
    free(cert);
    if (key != NULL) {
        memset(key, 0, strlen(key));
    }
    free(key);
    return rc;
}
