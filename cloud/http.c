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
 * Nothing of a body is read before the request header has been judged:
 * route, method and token (looked up in the database) are checked on the
 * first call of the access handler, and a failure is answered at once,
 * the body unread (libmicrohttpd then closes the connection after a POST
 * or PUT; after another method it reads the rest, which is dropped). So is a
 * Content-Length over DSC_MAX_BODY or an unknown Content-Encoding. A gzip
 * body is inflated as it arrives into at most DSC_MAX_BODY bytes, its
 * compressed bytes never kept; past the cap (as received or inflated) the
 * rest of the upload is read and dropped, and the answer is 413 TOO_LARGE,
 * so the client always gets a response it can read. Once large requests
 * stop for a moment, the freed memory goes back to the system (malloc_trim).
 *
 * The log line carries the method, the path only when it matched a route
 * (ids and numbers, nothing else), the status, the time taken, the
 * practice id, the error code and the batch counts; the same request is
 * counted in the metrics (metrics.c).
 *
 * With --metrics-listen, a second daemon serves the operator on an
 * address of its own: GET /metrics and GET /v1/agents (every practice's
 * agents; ?stale=1 those not heard from). It takes no token — the address
 * is its access control, a loopback or private one — and the API's
 * listener answers neither path (404).
 */
#include "cloud/http.h"
#include "cloud/api.h"
#include "cloud/db.h"
#include "cloud/error.h"
#include "cloud/log.h"
#include "cloud/metrics.h"
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
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

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

/* The operator's listener serves a scraper or two. */
#define OPERATOR_CONNECTIONS 16

/* HTTPS: TLS 1.2 and 1.3 only (1.0 and 1.1 are deprecated, RFC 8996),
 * with ephemeral key exchange and AEAD ciphers; GnuTLS's priority syntax
 * (libmicrohttpd uses GnuTLS). */
#define TLS_PRIORITIES                                                                             \
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:"            \
    "+CHACHA20-POLY1305:-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-RSA:+ECDHE-ECDSA:%SERVER_PRECEDENCE"

/* A request header must arrive whole within this many seconds of the
 * connection opening or of its previous answer (see "slow clients"). */
#define HEADER_DEADLINE_S 10

/* A request whose body took this much memory has its memory given back to
 * the system (malloc_trim) after it: the allocator would otherwise keep the
 * peak for good. Not at once: a sync sends batch after batch, and trimming
 * after each one made the next fault every page of its parse in again
 * (about 1,900 page faults a 2,000-row batch, half of the server's CPU).
 * The watchdog trims once no large request has ended for TRIM_QUIET_S, and
 * at least every TRIM_LATEST_S while they keep coming.
 *
 * What malloc_trim does not give back is a thread arena's top (it trims
 * only the main arena's), where a request's memory ends once all of it is
 * freed. The allocator gives such a top back by itself once it reaches its
 * trim threshold, which glibc raises to twice the largest block it ever
 * mapped for one allocation (after a 30 MB body, a top of up to 60 MB).
 * The server fixes both thresholds instead (TRIM_THRESHOLD,
 * MMAP_THRESHOLD): a batch of the agent's size keeps its memory for the
 * next, a larger request's goes back as it is freed, and a block of 4 MiB
 * or more is mapped on its own. */
#define TRIM_AFTER ((size_t)1024 * 1024)
#define TRIM_QUIET_S 2.0
#define TRIM_LATEST_S 30.0
#define TRIM_THRESHOLD (16 * 1024 * 1024)
#define MMAP_THRESHOLD (4 * 1024 * 1024)

/* A body is inflated while it arrives, into at most DSC_MAX_BODY bytes:
 * the compressed bytes are never kept, and a bomb stops at the cap. */
struct inflater {
    z_stream z;  /* the stream, once started */
    int started; /* inflateInit2 succeeded: inflateEnd is due */
    int ended;   /* the last member ended with the input consumed so far */
    int bad;     /* not gzip, or trailing garbage */
};

struct request_state {
    char *body;                     /* owned: the body (inflated when it was gzip) */
    size_t len;                     /* bytes in body */
    size_t cap;                     /* bytes allocated */
    struct inflater *gz;            /* owned: the inflater of a gzip body, or NULL */
    int too_large;                  /* the body passed DSC_MAX_BODY; the rest is dropped */
    int no_memory;                  /* an allocation failed while reading */
    int answered;                   /* answered from the header alone; the body is dropped */
    char counted[INET6_ADDRSTRLEN]; /* the forwarded address it counts against, or "" */
    struct timespec start;          /* when the request arrived */
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
    struct watchdog *dog;           /* owner */
    int fd;                         /* the connection's socket */
    double waiting_since;           /* monotonic seconds; 0 while a request is handled */
    char counted[INET6_ADDRSTRLEN]; /* the address it counts against, or "" */
    struct watched *prev;           /* registry list */
    struct watched *next;           /* registry list */
};

struct watchdog {
    pthread_mutex_t lock;  /* guards everything below */
    pthread_cond_t wake;   /* stop */
    struct watched *head;  /* open connections */
    int stop;              /* the thread ends */
    unsigned long dropped; /* connections shut down for being slow */
    double trim_first;     /* monotonic seconds: the first large request not yet trimmed, or 0 */
    double trim_last;      /* monotonic seconds: the last large request's end */
    pthread_t thread;      /* the watchdog */
};

/* ---- clients behind a trusted proxy --------------------------------------
 *
 * Without --trusted-proxy, libmicrohttpd counts connections per peer
 * address (MHD_OPTION_PER_IP_CONNECTION_LIMIT). Behind a TLS proxy every
 * agent has the proxy's address, so that limit would be one limit for all
 * of them. With --trusted-proxy ADDR the server counts for itself instead:
 * a connection from any other peer counts against its address (and is
 * shut down past the limit, as libmicrohttpd would refuse it); a request
 * from ADDR counts, while it is in flight, against the rightmost address of
 * its X-Forwarded-For that is not ADDR (the address the proxy saw), or
 * against ADDR when there is none, and past the limit is answered 503
 * before anything else. X-Forwarded-For is ignored from any other peer:
 * anyone can write it. A slot is held by a connection or a request in
 * flight, of which there are at most 2 * MAX_CONNECTIONS. */
struct client_count {
    char addr[INET6_ADDRSTRLEN]; /* numeric, as inet_ntop writes it; "" for a free slot */
    int n;                       /* connections or requests it holds */
};

struct clients {
    pthread_mutex_t lock;                              /* guards slot */
    char proxy[INET6_ADDRSTRLEN];                      /* the trusted proxy, or "" for none */
    struct client_count slot[2 * MAX_CONNECTIONS + 1]; /* the addresses counted */
};

/* The server's state, shared by libmicrohttpd's callbacks. */
struct server {
    struct dsc_db_pool *pool;    /* borrow */
    struct dsc_metrics *metrics; /* owned */
    struct watchdog dog;         /* slow clients */
    struct clients clients;      /* per-client counts with a trusted proxy */
};

/* Writes the numeric form of a textual address into out, or returns 0
 * when it is not an IPv4 or IPv6 address. */
static int normalize_addr(const char *text, size_t n, char out[INET6_ADDRSTRLEN])
{
    char buf[INET6_ADDRSTRLEN];
    unsigned char bin[sizeof(struct in6_addr)];

    if (n == 0 || n >= sizeof(buf)) {
        return 0;
    }
    memcpy(buf, text, n);
    buf[n] = '\0';
    if (inet_pton(AF_INET, buf, bin) == 1) {
        return inet_ntop(AF_INET, bin, out, INET6_ADDRSTRLEN) != NULL;
    }
    if (inet_pton(AF_INET6, buf, bin) == 1) {
        return inet_ntop(AF_INET6, bin, out, INET6_ADDRSTRLEN) != NULL;
    }
    return 0;
}

/* The peer address of c in numeric form, or 0 when unknown. */
static int peer_addr(struct MHD_Connection *c, char out[INET6_ADDRSTRLEN])
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = info != NULL ? info->client_addr : NULL;

    if (sa == NULL) {
        return 0;
    }
    if (sa->sa_family == AF_INET) {
        return inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                         INET6_ADDRSTRLEN) != NULL;
    }
    if (sa->sa_family == AF_INET6) {
        return inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                         INET6_ADDRSTRLEN) != NULL;
    }
    return 0;
}

/* Counts one more for addr. 0, or -1 (nothing counted) past the limit. */
static int client_take(struct clients *cl, const char *addr)
{
    struct client_count *free_slot = NULL;
    struct client_count *mine = NULL;
    int rc = 0;

    pthread_mutex_lock(&cl->lock);
    for (size_t i = 0; i < sizeof(cl->slot) / sizeof(cl->slot[0]) && mine == NULL; i++) {
        if (cl->slot[i].addr[0] == '\0') {
            free_slot = free_slot != NULL ? free_slot : &cl->slot[i];
        }
        else if (strcmp(cl->slot[i].addr, addr) == 0) {
            mine = &cl->slot[i];
        }
    }
    if (mine == NULL && free_slot != NULL) {
        mine = free_slot;
        snprintf(mine->addr, sizeof(mine->addr), "%s", addr);
        mine->n = 0;
    }
    if (mine == NULL || mine->n >= MAX_CONNECTIONS_PER_CLIENT) {
        rc = -1;
    }
    else {
        mine->n++;
    }
    pthread_mutex_unlock(&cl->lock);
    return rc;
}

/* Gives back what client_take counted for addr. */
static void client_give(struct clients *cl, const char *addr)
{
    pthread_mutex_lock(&cl->lock);
    for (size_t i = 0; i < sizeof(cl->slot) / sizeof(cl->slot[0]); i++) {
        if (strcmp(cl->slot[i].addr, addr) == 0) {
            if (--cl->slot[i].n <= 0) {
                cl->slot[i].addr[0] = '\0';
            }
            break;
        }
    }
    pthread_mutex_unlock(&cl->lock);
}

/* The address a request from the trusted proxy counts against: walking
 * X-Forwarded-For from the right, the first entry that is not the proxy
 * itself; the proxy when there is none or an entry is not an address
 * (what stands left of it cannot be trusted either). */
static void forwarded_for(struct MHD_Connection *c, const char *proxy, char out[INET6_ADDRSTRLEN])
{
    const char *xff = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Forwarded-For");
    char addr[INET6_ADDRSTRLEN];
    size_t end = xff != NULL ? strlen(xff) : 0;
    size_t start;
    size_t a;
    size_t b;

    snprintf(out, INET6_ADDRSTRLEN, "%s", proxy);
    while (end > 0) {
        start = end;
        while (start > 0 && xff[start - 1] != ',') {
            start--;
        }
        a = start;
        b = end;
        while (a < b && (xff[a] == ' ' || xff[a] == '\t')) {
            a++;
        }
        while (b > a && (xff[b - 1] == ' ' || xff[b - 1] == '\t')) {
            b--;
        }
        if (!normalize_addr(xff + a, b - a, addr)) {
            return;
        }
        if (strcmp(addr, proxy) != 0) {
            snprintf(out, INET6_ADDRSTRLEN, "%s", addr);
            return;
        }
        if (start == 0) {
            return;
        }
        end = start - 1;
    }
}

static double mono_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct server *srv = cls;
    struct watchdog *dog = &srv->dog;
    struct watched *w = *socket_context;
    const union MHD_ConnectionInfo *info;
    char addr[INET6_ADDRSTRLEN];

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
        if (srv->clients.proxy[0] != '\0' && peer_addr(c, addr) &&
            strcmp(addr, srv->clients.proxy) != 0) {
            if (client_take(&srv->clients, addr) == 0) {
                memcpy(w->counted, addr, sizeof(addr));
            }
            else {
                shutdown(w->fd, SHUT_RDWR); /* over its limit: refused */
            }
        }
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
    if (w->counted[0] != '\0') {
        client_give(&srv->clients, w->counted);
    }
    free(w);
    *socket_context = NULL;
}

/* A request header arrived (waiting = 0) or an answer was sent (waiting =
 * now) on connection c; large: that answer ended a request of TRIM_AFTER
 * or more, whose memory the watchdog gives back. */
static void set_waiting(struct MHD_Connection *c, double waiting, int large)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct watched *w = info != NULL ? info->socket_context : NULL;

    if (w != NULL) {
        pthread_mutex_lock(&w->dog->lock);
        w->waiting_since = waiting;
        if (large) {
            w->dog->trim_last = waiting;
            if (w->dog->trim_first == 0) {
                w->dog->trim_first = waiting;
            }
        }
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
        if (dog->trim_first > 0 &&
            (now - dog->trim_last >= TRIM_QUIET_S || now - dog->trim_first >= TRIM_LATEST_S)) {
            dog->trim_first = 0;
            pthread_mutex_unlock(&dog->lock);
#ifdef __GLIBC__
            malloc_trim(0);
#endif
            pthread_mutex_lock(&dog->lock);
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

static void inflater_free(struct inflater **gz)
{
    if (gz == NULL || *gz == NULL) {
        return;
    }
    if ((*gz)->started) {
        inflateEnd(&(*gz)->z);
    }
    free(*gz);
    *gz = NULL;
}

static void state_free(struct request_state **st)
{
    if (st == NULL || *st == NULL) {
        return;
    }
    inflater_free(&(*st)->gz);
    free((*st)->body);
    free(*st);
    *st = NULL;
}

/* Makes room for at least one more byte of body, up to DSC_MAX_BODY + 1
 * (one past the cap, so that passing it shows). 0 or DSC_ENOMEM. */
static int grow(struct request_state *st, size_t want)
{
    size_t cap;
    char *p;

    if (want <= st->cap) {
        return 0;
    }
    cap = st->cap > 0 ? st->cap : 16384;
    while (cap < want) {
        cap *= 2;
    }
    cap = cap > DSC_MAX_BODY + 1 ? DSC_MAX_BODY + 1 : cap;
    p = realloc(st->body, cap);
    if (p == NULL) {
        return DSC_ENOMEM;
    }
    st->body = p;
    st->cap = cap;
    return 0;
}

static void drop_body(struct request_state *st)
{
    free(st->body);
    st->body = NULL;
    st->len = st->cap = 0;
    inflater_free(&st->gz);
}

/* Inflates n bytes of a gzip body into st->body. */
static void inflate_more(struct request_state *st, const char *data, size_t n)
{
    struct inflater *gz = st->gz;
    int ret;

    if (gz->bad) {
        return;
    }
    gz->z.next_in = (Bytef *)(uintptr_t)data;
    gz->z.avail_in = (uInt)n;
    while (gz->z.avail_in > 0) {
        if (gz->ended) {
            inflateReset(&gz->z); /* another gzip member follows */
            gz->ended = 0;
        }
        if (grow(st, st->len + 1) != 0) {
            st->no_memory = 1;
            drop_body(st);
            return;
        }
        gz->z.next_out = (Bytef *)st->body + st->len;
        gz->z.avail_out = (uInt)(st->cap - st->len);
        ret = inflate(&gz->z, Z_NO_FLUSH);
        st->len = st->cap - gz->z.avail_out;
        if (st->len > DSC_MAX_BODY) {
            st->too_large = 1;
            drop_body(st);
            return;
        }
        if (ret == Z_STREAM_END) {
            gz->ended = 1;
        }
        else if (ret == Z_MEM_ERROR) {
            st->no_memory = 1;
            drop_body(st);
            return;
        }
        else if (ret != Z_OK && !(ret == Z_BUF_ERROR && gz->z.avail_out == 0)) {
            gz->bad = 1;
            return;
        }
    }
}

static void append(struct request_state *st, const char *data, size_t n)
{
    if (st->too_large || st->no_memory || st->answered) {
        return;
    }
    if (st->gz != NULL) {
        inflate_more(st, data, n);
        return;
    }
    if (n > DSC_MAX_BODY - st->len) {
        st->too_large = 1;
        drop_body(st);
        return;
    }
    if (grow(st, st->len + n) != 0) {
        st->no_memory = 1;
        return;
    }
    memcpy(st->body + st->len, data, n);
    st->len += n;
}

/* Prepares st to inflate a gzip body. 0 or DSC_ENOMEM. */
static int start_inflate(struct request_state *st)
{
    st->gz = calloc(1, sizeof(*st->gz));
    if (st->gz == NULL) {
        return DSC_ENOMEM;
    }
    if (inflateInit2(&st->gz->z, 15 + 16) != Z_OK) {
        free(st->gz);
        st->gz = NULL;
        return DSC_ENOMEM;
    }
    st->gz->started = 1;
    return 0;
}

/* After the last byte: 0 when the gzip body inflated whole, DSC_ETOOBIG,
 * DSC_ENOMEM or DSC_EINVAL. */
static int body_status(const struct request_state *st)
{
    if (st->too_large) {
        return DSC_ETOOBIG;
    }
    if (st->no_memory) {
        return DSC_ENOMEM;
    }
    if (st->gz != NULL && (st->gz->bad || !st->gz->ended)) {
        return DSC_EINVAL;
    }
    return 0;
}

int dsc_http_inflate(const char *in, size_t n, char **out, size_t *out_len)
{
    struct request_state st;
    int rc;

    *out = NULL;
    *out_len = 0;
    memset(&st, 0, sizeof(st));
    rc = start_inflate(&st);
    if (rc != 0) {
        return rc;
    }
    append(&st, in, n);
    rc = body_status(&st);
    if (rc == 0) {
        *out = st.body;
        *out_len = st.len;
        st.body = NULL;
    }
    inflater_free(&st.gz);
    free(st.body);
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

static void log_request(struct server *srv, const char *method, const struct dsc_response *resp,
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
    dsc_metrics_request(srv->metrics, log_method(method), resp,
                        (double)(now.tv_sec - st->start.tv_sec) +
                            (double)(now.tv_nsec - st->start.tv_nsec) / 1e9);
}

static const char *query_arg(void *cls, const char *name)
{
    return MHD_lookup_connection_value(cls, MHD_GET_ARGUMENT_KIND, name);
}

/* Sends resp (filled, or empty after an allocation failure) and logs the
 * request. */
static enum MHD_Result send_answer(struct server *srv, struct MHD_Connection *c, const char *method,
                                   const struct request_state *st, struct dsc_response *resp)
{
    struct MHD_Response *r = NULL;
    char retry[16];
    enum MHD_Result ret = MHD_NO;

    if (resp->body == NULL) {
        /* Only an allocation failure gets here. */
        resp->status = 500;
        resp->body = strdup("{\"error\":{\"code\":\"INTERNAL\",\"message\":\"out of memory\"}}");
        resp->body_len = resp->body != NULL ? strlen(resp->body) : 0;
    }
    r = MHD_create_response_from_buffer(resp->body_len, resp->body != NULL ? resp->body : "",
                                        MHD_RESPMEM_MUST_COPY);
    if (r == NULL) {
        goto out;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (resp->retry_after > 0) {
        snprintf(retry, sizeof(retry), "%d", resp->retry_after);
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, retry);
    }
    if (resp->allow != NULL) {
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, resp->allow);
    }
    ret = MHD_queue_response(c, resp->status, r);
out:
    log_request(srv, method, resp, st);
    MHD_destroy_response(r);
    return ret;
}

static void request_init(struct dsc_request *req, struct MHD_Connection *c, const char *url,
                         const char *method)
{
    memset(req, 0, sizeof(*req));
    req->method = method;
    req->path = url;
    req->authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    req->batch_digest = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Batch-Digest");
    req->query = query_arg;
    req->query_cls = c;
}

/* The request header is in, no byte of the body read yet: answers at once
 * what needs no body (route, token, a declared length over the cap, an
 * unknown encoding), so that nobody without a token makes the server hold
 * or inflate a byte, and prepares the inflater of a gzip body. Returns 1
 * when resp holds the answer. */
static int check_header(struct dsc_db_pool *pool, struct MHD_Connection *c, const char *url,
                        const char *method, struct request_state *st, struct dsc_response *resp)
{
    struct dsc_request req;
    const char *length;
    const char *encoding;
    char *end = NULL;
    unsigned long long n;

    request_init(&req, c, url, method);
    if (dsc_api_precheck(pool, &req, resp)) {
        return 1;
    }
    length = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (length != NULL) {
        n = strtoull(length, &end, 10);
        if (end != length && n > DSC_MAX_BODY) {
            dsc_api_error(resp, 413, "TOO_LARGE", "body larger than %zu bytes", DSC_MAX_BODY);
            return 1;
        }
    }
    encoding = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Encoding");
    if (encoding == NULL || strcasecmp(encoding, "identity") == 0) {
        return 0;
    }
    if (strcasecmp(encoding, "gzip") != 0 && strcasecmp(encoding, "x-gzip") != 0) {
        dsc_api_error(resp, 422, "INVALID_REQUEST",
                      "Content-Encoding: not supported (gzip or identity)");
        return 1;
    }
    if (start_inflate(st) != 0) {
        dsc_api_error(resp, 503, "UNAVAILABLE", "out of memory, retry later");
        resp->retry_after = 1;
        return 1;
    }
    return 0;
}

/* Answers a request whose body is complete. */
static enum MHD_Result respond(struct server *srv, struct MHD_Connection *c, const char *url,
                               const char *method, struct request_state *st)
{
    struct dsc_request req;
    struct dsc_response resp;
    enum MHD_Result ret;

    dsc_response_init(&resp);
    request_init(&req, c, url, method);
    req.body = st->body;
    req.body_len = st->len;
    switch (body_status(st)) {
    case DSC_ETOOBIG:
        dsc_api_error(&resp, 413, "TOO_LARGE", "body larger than %zu bytes%s", DSC_MAX_BODY,
                      st->gz != NULL ? " inflated" : "");
        break;
    case DSC_ENOMEM:
        dsc_api_error(&resp, 503, "UNAVAILABLE", "out of memory, retry later");
        resp.retry_after = 1;
        break;
    case DSC_EINVAL:
        dsc_api_error(&resp, 422, "INVALID_REQUEST", "body: not valid gzip");
        break;
    default:
        dsc_api_handle(srv->pool, &req, &resp);
        break;
    }
    ret = send_answer(srv, c, method, st, &resp);
    dsc_response_close(&resp);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct server *srv = cls;
    struct request_state *st = *con_cls;
    struct dsc_response resp;
    char peer[INET6_ADDRSTRLEN];
    enum MHD_Result ret;

    (void)version;
    if (st == NULL) {
        st = calloc(1, sizeof(*st));
        if (st == NULL) {
            return MHD_NO;
        }
        clock_gettime(CLOCK_MONOTONIC, &st->start);
        *con_cls = st;
        set_waiting(c, 0, 0);
        dsc_response_init(&resp);
        if (srv->clients.proxy[0] != '\0' && peer_addr(c, peer) &&
            strcmp(peer, srv->clients.proxy) == 0) {
            forwarded_for(c, srv->clients.proxy, st->counted);
            if (client_take(&srv->clients, st->counted) != 0) {
                st->counted[0] = '\0';
                dsc_api_error(&resp, 503, "UNAVAILABLE",
                              "too many requests in flight from one client, retry later");
                resp.retry_after = 1;
            }
        }
        if (resp.status == 0 && !check_header(srv->pool, c, url, method, st, &resp)) {
            dsc_response_close(&resp);
            return MHD_YES;
        }
        /* libmicrohttpd sends the answer without reading the body of a
         * POST or PUT, then closes the connection; any other body is
         * dropped by append(). */
        st->answered = 1;
        ret = send_answer(srv, c, method, st, &resp);
        dsc_response_close(&resp);
        return ret;
    }
    if (*upload_data_size > 0) {
        append(st, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (st->answered) {
        return MHD_YES;
    }
    return respond(srv, c, url, method, st);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct server *srv = cls;
    struct request_state *st = *con_cls;
    int big;

    (void)toe;
    big = st != NULL && st->cap >= TRIM_AFTER;
    if (st != NULL && st->counted[0] != '\0') {
        client_give(&srv->clients, st->counted);
    }
    state_free(&st);
    *con_cls = NULL;
    /* The body and its parse are freed: their memory goes back later
     * (TRIM_AFTER). */
    set_waiting(c, mono_now(), big);
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

/* The operator's listener: GET /metrics and GET /v1/agents, no token, no
 * body (one is read and dropped). One log line per request. */
static enum MHD_Result on_operator(void *cls, struct MHD_Connection *c, const char *url,
                                   const char *method, const char *version, const char *upload_data,
                                   size_t *upload_data_size, void **con_cls)
{
    static int started; /* its address marks a request whose header is in */
    struct server *srv = cls;
    struct dsc_request req;
    struct dsc_response resp;
    struct MHD_Response *r = NULL;
    const char *path = "-";
    enum MHD_Result ret = MHD_NO;
    int text = 0;

    (void)version;
    (void)upload_data;
    if (*con_cls == NULL) {
        *con_cls = &started;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    dsc_response_init(&resp);
    if (strcmp(url, "/metrics") == 0 || strcmp(url, "/v1/agents") == 0) {
        path = strcmp(url, "/metrics") == 0 ? "/metrics" : "/v1/agents";
    }
    if (strcmp(path, "-") == 0) {
        dsc_api_error(&resp, 404, "NOT_FOUND", "no such resource");
    }
    else if (strcmp(method, "GET") != 0) {
        dsc_api_error(&resp, 405, "METHOD_NOT_ALLOWED", "use GET on this resource");
        resp.allow = "GET";
    }
    else if (path[1] == 'm') {
        text = dsc_metrics_render(srv->metrics, srv->pool, &resp) == 0;
    }
    else {
        request_init(&req, c, url, method);
        dsc_metrics_agents(srv->pool, &req, &resp);
    }
    if (resp.body == NULL) {
        resp.status = 500; /* only an allocation failure gets here */
    }
    r = MHD_create_response_from_buffer(resp.body_len, resp.body != NULL ? resp.body : "",
                                        MHD_RESPMEM_MUST_COPY);
    if (r != NULL) {
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                                text ? "text/plain; version=0.0.4; charset=utf-8"
                                     : "application/json");
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        if (resp.allow != NULL) {
            MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, resp.allow);
        }
        ret = MHD_queue_response(c, resp.status, r);
        MHD_destroy_response(r);
    }
    dsc_log_info("operator: %s %s %u", log_method(method), path, resp.status);
    dsc_response_close(&resp);
    return ret;
}

/* Starts the operator's listener on listen (see on_operator). */
static int operator_start(struct server *srv, const char *listen, struct MHD_Daemon **out)
{
    struct addrinfo *ai = NULL;
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
    int rc;

    *out = NULL;
    rc = parse_listen(listen, &ai);
    if (rc != 0) {
        return rc;
    }
    if (ai->ai_family == AF_INET6) {
        flags |= MHD_USE_IPv6;
    }
    *out = MHD_start_daemon(flags, 0, NULL, NULL, &on_operator, srv, MHD_OPTION_EXTERNAL_LOGGER,
                            &on_mhd_log, NULL, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)IDLE_TIMEOUT_S,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned int)OPERATOR_CONNECTIONS,
                            MHD_OPTION_END);
    freeaddrinfo(ai);
    if (*out == NULL) {
        dsc_log_error("serve: cannot listen on %s (metrics)", listen);
        return DSC_EIO;
    }
    return 0;
}

int dsc_http_serve(const struct dsc_http_options *opt)
{
    struct dsc_db *db = NULL;
    struct dsc_db_pool *pool = NULL;
    struct MHD_Daemon *daemon = NULL;
    struct MHD_Daemon *operator= NULL;
    struct addrinfo *ai = NULL;
    char *cert = NULL;
    char *key = NULL;
    struct MHD_OptionItem extra[8];
    struct server *srv = NULL;
    int dog_started = 0;
    unsigned int flags;
    int n = 0;
    sigset_t stop;
    int sig = 0;
    int rc;

    rc = parse_listen(opt->listen, &ai);
    if (rc == 0 && opt->metrics_listen != NULL) {
        struct addrinfo *check = NULL;

        rc = parse_listen(opt->metrics_listen, &check);
        if (check != NULL) {
            freeaddrinfo(check);
        }
    }
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
    srv = calloc(1, sizeof(*srv));
    if (srv == NULL) {
        rc = DSC_ENOMEM;
        goto out;
    }
    srv->pool = pool;
    pthread_mutex_init(&srv->clients.lock, NULL);
    rc = dsc_metrics_new(&srv->metrics);
    if (rc != 0) {
        goto out;
    }
    if (opt->trusted_proxy != NULL &&
        !normalize_addr(opt->trusted_proxy, strlen(opt->trusted_proxy), srv->clients.proxy)) {
        rc = DSC_EINVAL;
        goto out;
    }

#ifdef __GLIBC__
    mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD); /* see TRIM_AFTER */
    mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD);
#endif
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
        extra[n++] =
            (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)TLS_PRIORITIES};
    }
    if (srv->clients.proxy[0] == '\0') {
        extra[n++] = (struct MHD_OptionItem){MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                                             MAX_CONNECTIONS_PER_CLIENT, NULL};
    }
    rc = watchdog_start(&srv->dog);
    if (rc != 0) {
        goto out;
    }
    dog_started = 1;
    extra[n++] =
        (struct MHD_OptionItem){MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)&on_connection, srv};
    extra[n] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    /* The logger goes first so that no message escapes it. */
    daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, &on_request, srv, MHD_OPTION_EXTERNAL_LOGGER, &on_mhd_log, NULL,
        MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_NOTIFY_COMPLETED, &on_completed, srv,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)IDLE_TIMEOUT_S, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int)MAX_CONNECTIONS, MHD_OPTION_ARRAY, extra, MHD_OPTION_END);
    if (daemon == NULL) {
        dsc_log_error("serve: cannot listen on %s", opt->listen);
        rc = DSC_EIO;
        goto out;
    }
    if (opt->metrics_listen != NULL) {
        rc = operator_start(srv, opt->metrics_listen, &operator);
        if (rc != 0) {
            goto out;
        }
        dsc_log_info("serve: metrics and the operator's agent list on %s (http)",
                     opt->metrics_listen);
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
    if (operator!= NULL) {
        MHD_stop_daemon(operator);
    }
    if (daemon != NULL) {
        MHD_stop_daemon(daemon);
    }
    if (dog_started) {
        watchdog_stop(&srv->dog);
    }
    if (srv != NULL) {
        pthread_mutex_destroy(&srv->clients.lock);
        dsc_metrics_free(&srv->metrics);
        free(srv);
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
