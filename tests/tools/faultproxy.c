/*
 * faultproxy.c — a fault-injecting HTTP/1.1 proxy for the end-to-end tests,
 * on libuv: the agent talks to it instead of the cloud, and a script says
 * which requests it passes and which it breaks.
 *
 *   faultproxy -u HOST:PORT [-l HOST:PORT] [-s SCRIPT] [-o LOG]
 *
 * It listens on -l (default 127.0.0.1:0, the port chosen is printed on
 * stdout as "port N") and forwards each client connection to the upstream
 * -u over a connection of its own. It reads each request whole (request
 * line, headers, Content-Length body: the agent never sends chunked bodies,
 * and it turns "Expect: 100-continue" off), then applies the first rule of
 * the script not used yet if the request line contains the rule's pattern,
 * and passes the request otherwise. A rule line is
 *
 *   PATTERN ACTION [ARG...] [xCOUNT]
 *
 * PATTERN is a substring of the request line ("PUT", "/batches/",
 * "/complete", `+` standing for a space: "POST+/v1/jobs+HTTP") or `*` for
 * any; `xCOUNT` applies the rule to COUNT requests
 * in a row; `#` starts a comment. The actions:
 *
 *   pass                 forward the request and its answer
 *   drop                 close the client's connection without a byte
 *   reset N              forward the request; reset the client's connection
 *                        once N bytes of the answer reached it (the cloud
 *                        did the work, the agent never saw the whole answer)
 *   reset_request N      forward N bytes of the request, then reset both
 *                        connections (the cloud sees half a request)
 *   stall S              hold the request S seconds, then forward it
 *   stall_answer S       forward the request, hold its answer S seconds
 *   throttle BPS         forward the request and its answer at BPS bytes/s
 *   status CODE [RA]     answer CODE by itself (JSON error body,
 *                        Retry-After: RA when given) and close; the request
 *                        never reaches the upstream
 *
 * The log (-o, default stderr) has one line per request:
 * "MS conn=C req=R ACTION REQUEST-LINE", MS being milliseconds since the
 * start, so a test can check that a retry after a Retry-After came no
 * earlier than it said. Nothing of a request's headers or body is logged:
 * the token stays out of it.
 *
 * A test tool: one process, one loop, no threads; SIGTERM and SIGINT stop
 * it.
 */
#include <uv.h>

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_RULES 256
#define MAX_PATTERN 128
#define MAX_REQUEST ((size_t)64 * 1024 * 1024)
#define READ_CHUNK 65536

enum action {
    ACT_PASS,
    ACT_DROP,
    ACT_RESET,
    ACT_RESET_REQUEST,
    ACT_STALL,
    ACT_STALL_ANSWER,
    ACT_THROTTLE,
    ACT_STATUS,
};

static const char *const action_names[] = {
    "pass", "drop", "reset", "reset_request", "stall", "stall_answer", "throttle", "status",
};

struct rule {
    char pattern[MAX_PATTERN]; /* substring of the request line, or "*" */
    enum action action;        /* what to do */
    double arg;                /* N, S, BPS or CODE */
    double arg2;               /* Retry-After for status, or -1 */
    long left;                 /* requests it still applies to */
};

struct proxy {
    uv_loop_t *loop;              /* borrow */
    uv_tcp_t listener;            /* the listening socket */
    uv_signal_t sigterm;          /* stop on SIGTERM */
    uv_signal_t sigint;           /* stop on SIGINT */
    struct sockaddr_in up;        /* the upstream */
    struct rule rules[MAX_RULES]; /* the script */
    size_t n_rules;               /* used entries of rules */
    size_t next_rule;             /* the first rule not used up */
    FILE *log;                    /* borrow: the request log */
    uint64_t start_ms;            /* loop time at start */
    unsigned long conns;          /* connections accepted so far */
};

struct conn {
    struct proxy *p;     /* borrow */
    unsigned long id;    /* 1, 2, ... */
    unsigned long reqs;  /* requests seen on this connection */
    uv_tcp_t client;     /* the agent's side */
    uv_tcp_t upstream;   /* the cloud's side */
    uv_timer_t timer;    /* stalls and throttling of the answer */
    uv_timer_t pace;     /* throttling of the request */
    char *slow;          /* a throttled request being written; owned */
    size_t slow_len;     /* its length */
    size_t slow_off;     /* bytes of it written */
    int up_connected;    /* the upstream connection is up */
    int up_opened;       /* the upstream handle was initialised */
    int closing;         /* close requested */
    int open_handles;    /* handles not closed yet */
    char *in;            /* client bytes not handled yet; owned */
    size_t in_len;       /* used bytes of in */
    size_t in_cap;       /* allocated bytes of in */
    int busy;            /* a request is being handled */
    enum action act;     /* the current request's action */
    double arg;          /* its argument */
    size_t answer_bytes; /* bytes of the answer forwarded */
    char *pending;       /* a request waiting for the upstream connection; owned */
    size_t pending_len;  /* its length */
    int answer_paused;   /* reading the upstream is paused (stall_answer, throttle) */
};

struct write_req {
    uv_write_t w;    /* the libuv request */
    struct conn *c;  /* borrow */
    char *data;      /* owned */
    int reset_after; /* reset the client once written */
    int close_after; /* close the connection once written */
};

static void conn_close(struct conn *c);
static void shutdown_client(struct conn *c);
static void handle_request(struct conn *c);
static void on_upstream_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

/* --- log ------------------------------------------------------------------- */

static void plog(struct proxy *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void plog(struct proxy *p, const char *fmt, ...)
{
    va_list ap;

    uv_update_time(p->loop);
    fprintf(p->log, "%" PRIu64 " ", uv_now(p->loop) - p->start_ms);
    va_start(ap, fmt);
    vfprintf(p->log, fmt, ap);
    va_end(ap);
    fputc('\n', p->log);
    fflush(p->log);
}

/* --- the script ------------------------------------------------------------ */

static int parse_action(const char *word, enum action *out)
{
    for (size_t i = 0; i < sizeof(action_names) / sizeof(action_names[0]); i++) {
        if (strcmp(word, action_names[i]) == 0) {
            *out = (enum action)i;
            return 0;
        }
    }
    return -1;
}

/* Reads the script: one rule per line. Returns 0 or -1 with a message. */
static int load_script(struct proxy *p, const char *path)
{
    char line[512];
    unsigned lineno = 0;
    FILE *f = fopen(path, "r");
    int rc = -1;

    if (f == NULL) {
        fprintf(stderr, "faultproxy: %s: %s\n", path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        char *words[6];
        size_t n = 0;
        char *save = NULL;
        char *hash = strchr(line, '#');
        struct rule *r;

        lineno++;
        if (hash != NULL) {
            *hash = '\0';
        }
        for (char *w = strtok_r(line, " \t\r\n", &save); w != NULL && n < 6;
             w = strtok_r(NULL, " \t\r\n", &save)) {
            words[n++] = w;
        }
        if (n == 0) {
            continue;
        }
        if (n < 2 || p->n_rules == MAX_RULES || strlen(words[0]) >= MAX_PATTERN) {
            fprintf(stderr, "faultproxy: %s:%u: PATTERN ACTION [ARG...] [xCOUNT]\n", path, lineno);
            goto out;
        }
        r = &p->rules[p->n_rules];
        memset(r, 0, sizeof(*r));
        snprintf(r->pattern, sizeof(r->pattern), "%s", words[0]);
        for (char *sp = strchr(r->pattern, '+'); sp != NULL; sp = strchr(sp, '+')) {
            *sp = ' ';
        }
        if (parse_action(words[1], &r->action) != 0) {
            fprintf(stderr, "faultproxy: %s:%u: unknown action %s\n", path, lineno, words[1]);
            goto out;
        }
        r->left = 1;
        r->arg2 = -1;
        if (n > 2 && words[n - 1][0] == 'x') {
            r->left = strtol(words[n - 1] + 1, NULL, 10);
            n--;
        }
        if (n > 2) {
            r->arg = strtod(words[2], NULL);
        }
        if (n > 3) {
            r->arg2 = strtod(words[3], NULL);
        }
        if (r->left < 1 || (r->action != ACT_PASS && r->action != ACT_DROP && n < 3)) {
            fprintf(stderr, "faultproxy: %s:%u: %s needs an argument\n", path, lineno, words[1]);
            goto out;
        }
        p->n_rules++;
    }
    rc = 0;
out:
    fclose(f);
    return rc;
}

/* The rule for a request line: the first rule not used up, if it matches. */
static const struct rule *take_rule(struct proxy *p, const char *request_line)
{
    struct rule *r;

    if (p->next_rule >= p->n_rules) {
        return NULL;
    }
    r = &p->rules[p->next_rule];
    if (strcmp(r->pattern, "*") != 0 && strstr(request_line, r->pattern) == NULL) {
        return NULL;
    }
    r->left--;
    if (r->left == 0) {
        p->next_rule++;
    }
    return r;
}

/* --- connections ----------------------------------------------------------- */

static void on_handle_closed(uv_handle_t *h)
{
    struct conn *c = h->data;

    c->open_handles--;
    if (c->open_handles == 0) {
        free(c->in);
        free(c->pending);
        free(c->slow);
        free(c);
    }
}

static void close_handle(uv_handle_t *h)
{
    if (!uv_is_closing(h)) {
        uv_close(h, on_handle_closed);
    }
}

static void conn_close(struct conn *c)
{
    if (c->closing) {
        return;
    }
    c->closing = 1;
    close_handle((uv_handle_t *)&c->client);
    close_handle((uv_handle_t *)&c->timer);
    close_handle((uv_handle_t *)&c->pace);
    if (c->up_opened) {
        close_handle((uv_handle_t *)&c->upstream);
    }
}

/* Resets the client's connection (RST) and closes the rest. */
static void conn_reset(struct conn *c)
{
    if (c->closing) {
        return;
    }
    c->closing = 1;
    if (uv_tcp_close_reset(&c->client, on_handle_closed) != 0) {
        close_handle((uv_handle_t *)&c->client);
    }
    close_handle((uv_handle_t *)&c->timer);
    close_handle((uv_handle_t *)&c->pace);
    if (c->up_opened) {
        close_handle((uv_handle_t *)&c->upstream);
    }
}

static void on_written(uv_write_t *w, int status)
{
    struct write_req *wr = (struct write_req *)w;
    struct conn *c = wr->c;

    if (status < 0 || wr->close_after) {
        conn_close(c);
    }
    else if (wr->reset_after) {
        conn_reset(c);
    }
    free(wr->data);
    free(wr);
}

/* Writes a copy of len bytes to s; flags as in struct write_req. */
static int send_bytes(struct conn *c, uv_tcp_t *s, const char *data, size_t len, int reset_after,
                      int close_after)
{
    struct write_req *wr = calloc(1, sizeof(*wr));
    uv_buf_t b;

    if (wr == NULL || c->closing) {
        free(wr);
        return -1;
    }
    wr->data = malloc(len > 0 ? len : 1);
    if (wr->data == NULL) {
        free(wr);
        return -1;
    }
    memcpy(wr->data, data, len);
    wr->c = c;
    wr->reset_after = reset_after;
    wr->close_after = close_after;
    b = uv_buf_init(wr->data, (unsigned)len);
    if (uv_write(&wr->w, (uv_stream_t *)s, &b, 1, on_written) != 0) {
        free(wr->data);
        free(wr);
        conn_close(c);
        return -1;
    }
    return 0;
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    struct conn *c = req->data;

    (void)status;
    free(req);
    conn_close(c);
}

/* The upstream closed: the client gets what was written to it, then EOF. */
static void shutdown_client(struct conn *c)
{
    uv_shutdown_t *req = malloc(sizeof(*req));

    if (c->closing) {
        free(req);
        return;
    }
    uv_read_stop((uv_stream_t *)&c->upstream);
    if (req == NULL) {
        conn_close(c);
        return;
    }
    req->data = c;
    if (uv_shutdown(req, (uv_stream_t *)&c->client, on_shutdown) != 0) {
        free(req);
        conn_close(c);
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct conn *c = h->data;
    size_t size = READ_CHUNK;

    (void)suggested;
    if (c->act == ACT_THROTTLE && c->busy) {
        /* A tenth of a second's worth per read; the timer paces the reads. */
        size = (size_t)(c->arg / 10.0);
        if (size < 1) {
            size = 1;
        }
        if (size > READ_CHUNK) {
            size = READ_CHUNK;
        }
    }
    buf->base = malloc(size);
    buf->len = buf->base != NULL ? size : 0;
}

/* Resumes reading the upstream after a stall or a throttle pause. */
static void on_answer_timer(uv_timer_t *t)
{
    struct conn *c = t->data;

    if (c->closing || !c->answer_paused) {
        return;
    }
    c->answer_paused = 0;
    uv_read_start((uv_stream_t *)&c->upstream, on_alloc, on_upstream_read);
}

static void pause_answer(struct conn *c, double seconds)
{
    uv_read_stop((uv_stream_t *)&c->upstream);
    c->answer_paused = 1;
    uv_timer_start(&c->timer, on_answer_timer, (uint64_t)(seconds * 1000.0), 0);
}

static void on_upstream_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct conn *c = s->data;
    size_t len = n > 0 ? (size_t)n : 0;

    if (n < 0) {
        free(buf->base);
        shutdown_client(c);
        return;
    }
    if (c->closing || len == 0) {
        free(buf->base);
        return;
    }
    if (c->busy && c->act == ACT_RESET && c->answer_bytes + len >= (size_t)c->arg) {
        size_t keep = (size_t)c->arg - c->answer_bytes;

        plog(c->p, "conn=%lu req=%lu reset after %zu answer bytes", c->id, c->reqs,
             c->answer_bytes + keep);
        if (keep > 0) {
            send_bytes(c, &c->client, buf->base, keep, 1, 0);
        }
        else {
            conn_reset(c);
        }
        free(buf->base);
        return;
    }
    c->answer_bytes += len;
    send_bytes(c, &c->client, buf->base, len, 0, 0);
    free(buf->base);
    if (c->busy && c->act == ACT_THROTTLE) {
        pause_answer(c, (double)len / c->arg);
    }
}

/* Writes the next tenth of a second's worth of a throttled request. */
static void on_pace(uv_timer_t *t)
{
    struct conn *c = t->data;
    size_t step = (size_t)(c->arg / 10.0);

    if (c->closing || c->slow == NULL) {
        uv_timer_stop(t);
        return;
    }
    if (step < 1) {
        step = 1;
    }
    if (step > c->slow_len - c->slow_off) {
        step = c->slow_len - c->slow_off;
    }
    send_bytes(c, &c->upstream, c->slow + c->slow_off, step, 0, 0);
    c->slow_off += step;
    if (c->slow_off == c->slow_len) {
        uv_timer_stop(t);
        free(c->slow);
        c->slow = NULL;
    }
}

/* Sends the current request (len bytes of c->in) upstream, or keeps it
 * until the upstream connection is up. */
static void forward(struct conn *c, const char *data, size_t len)
{
    if (!c->up_connected) {
        free(c->pending);
        c->pending = malloc(len > 0 ? len : 1);
        if (c->pending == NULL) {
            conn_close(c);
            return;
        }
        memcpy(c->pending, data, len);
        c->pending_len = len;
        return;
    }
    if (c->act == ACT_RESET_REQUEST) {
        size_t part = (size_t)c->arg < len ? (size_t)c->arg : len;

        send_bytes(c, &c->upstream, data, part, 0, 0);
        plog(c->p, "conn=%lu req=%lu reset after %zu request bytes", c->id, c->reqs, part);
        conn_reset(c);
        return;
    }
    if (c->act == ACT_THROTTLE) {
        free(c->slow);
        c->slow = malloc(len > 0 ? len : 1);
        if (c->slow == NULL) {
            conn_close(c);
            return;
        }
        memcpy(c->slow, data, len);
        c->slow_len = len;
        c->slow_off = 0;
        uv_timer_start(&c->pace, on_pace, 0, 100);
        return;
    }
    send_bytes(c, &c->upstream, data, len, 0, 0);
}

static void on_upstream_connect(uv_connect_t *req, int status)
{
    struct conn *c = req->data;

    free(req);
    if (c->closing) {
        return;
    }
    if (status < 0) {
        plog(c->p, "conn=%lu upstream: %s", c->id, uv_strerror(status));
        conn_close(c);
        return;
    }
    c->up_connected = 1;
    if (!c->answer_paused) {
        uv_read_start((uv_stream_t *)&c->upstream, on_alloc, on_upstream_read);
    }
    if (c->pending != NULL) {
        char *data = c->pending;

        c->pending = NULL;
        forward(c, data, c->pending_len);
        free(data);
    }
}

static int open_upstream(struct conn *c)
{
    uv_connect_t *req;

    if (c->up_opened) {
        return 0;
    }
    req = malloc(sizeof(*req));
    if (req == NULL) {
        return -1;
    }
    uv_tcp_init(c->p->loop, &c->upstream);
    c->upstream.data = c;
    c->up_opened = 1;
    c->open_handles++;
    req->data = c;
    if (uv_tcp_connect(req, &c->upstream, (const struct sockaddr *)&c->p->up,
                       on_upstream_connect) != 0) {
        free(req);
        return -1;
    }
    return 0;
}

/* The length of the whole request at the start of c->in, or 0 when it has
 * not all arrived. The request line goes into line. */
static size_t request_length(struct conn *c, char *line, size_t line_size)
{
    const char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
    const char *eol;
    size_t head;
    size_t body = 0;

    if (end == NULL) {
        return 0;
    }
    head = (size_t)(end - c->in) + 4;
    eol = memchr(c->in, '\r', head);
    snprintf(line, line_size, "%.*s", (int)(eol - c->in), c->in);
    for (const char *h = eol + 2; h < end;) {
        const char *next = memmem(h, (size_t)(end + 2 - h), "\r\n", 2);

        if (next == NULL) {
            break;
        }
        if ((size_t)(next - h) > 15 && strncasecmp(h, "content-length:", 15) == 0) {
            body = strtoul(h + 15, NULL, 10);
        }
        h = next + 2;
    }
    if (c->in_len < head + body) {
        return 0;
    }
    return head + body;
}

static void answer_status(struct conn *c, int code, double retry_after)
{
    char head[512];
    char body[128];
    char ra[64] = "";
    int bl;
    int hl;

    bl = snprintf(body, sizeof(body),
                  "{\"error\":{\"code\":\"FAULT_%d\",\"message\":\"injected by faultproxy\"}}",
                  code);
    if (retry_after >= 0) {
        snprintf(ra, sizeof(ra), "Retry-After: %g\r\n", retry_after);
    }
    hl = snprintf(head, sizeof(head),
                  "HTTP/1.1 %d Injected\r\nContent-Type: application/json\r\n"
                  "Content-Length: %d\r\n%sConnection: close\r\n\r\n%s",
                  code, bl, ra, body);
    send_bytes(c, &c->client, head, (size_t)hl, 0, 1);
}

static void on_stall_timer(uv_timer_t *t)
{
    struct conn *c = t->data;

    if (c->closing || c->pending == NULL) {
        return;
    }
    {
        char *data = c->pending;
        size_t len = c->pending_len;

        c->pending = NULL;
        c->act = ACT_PASS;
        open_upstream(c);
        forward(c, data, len);
        free(data);
    }
}

/* Handles the whole request at the start of c->in, if it has arrived. */
static void handle_request(struct conn *c)
{
    char line[256];
    size_t len = request_length(c, line, sizeof(line));
    const struct rule *r;

    if (len == 0 || c->closing) {
        return;
    }
    c->reqs++;
    r = take_rule(c->p, line);
    c->act = r != NULL ? r->action : ACT_PASS;
    c->arg = r != NULL ? r->arg : 0;
    c->answer_bytes = 0;
    c->busy = 1;
    plog(c->p, "conn=%lu req=%lu %s %s", c->id, c->reqs, action_names[c->act], line);
    switch (c->act) {
    case ACT_DROP:
        conn_close(c);
        break;
    case ACT_STATUS:
        answer_status(c, (int)r->arg, r->arg2);
        break;
    case ACT_STALL:
        free(c->pending);
        c->pending = malloc(len);
        if (c->pending == NULL) {
            conn_close(c);
            break;
        }
        memcpy(c->pending, c->in, len);
        c->pending_len = len;
        uv_timer_start(&c->timer, on_stall_timer, (uint64_t)(c->arg * 1000.0), 0);
        break;
    case ACT_STALL_ANSWER:
        if (open_upstream(c) != 0) {
            conn_close(c);
            break;
        }
        if (c->up_connected) {
            pause_answer(c, c->arg);
        }
        else {
            c->answer_paused = 1;
            uv_timer_start(&c->timer, on_answer_timer, (uint64_t)(c->arg * 1000.0), 0);
        }
        forward(c, c->in, len);
        break;
    default:
        if (open_upstream(c) != 0) {
            conn_close(c);
            break;
        }
        forward(c, c->in, len);
        break;
    }
    if (!c->closing) {
        memmove(c->in, c->in + len, c->in_len - len);
        c->in_len -= len;
    }
}

static void on_client_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct conn *c = s->data;
    size_t len = n > 0 ? (size_t)n : 0;

    if (n < 0) {
        free(buf->base);
        conn_close(c);
        return;
    }
    if (c->closing || len == 0) {
        free(buf->base);
        return;
    }
    if (c->in_len + len > MAX_REQUEST) {
        free(buf->base);
        conn_close(c);
        return;
    }
    if (c->in_len + len > c->in_cap) {
        size_t cap = (c->in_len + len) * 2;
        char *grown = realloc(c->in, cap);

        if (grown == NULL) {
            free(buf->base);
            conn_close(c);
            return;
        }
        c->in = grown;
        c->in_cap = cap;
    }
    memcpy(c->in + c->in_len, buf->base, len);
    c->in_len += len;
    free(buf->base);
    /* A new request on a kept-alive connection ends the previous one. */
    if (c->busy && memmem(c->in, c->in_len, "\r\n\r\n", 4) != NULL) {
        c->busy = 0;
        if (c->answer_paused) {
            c->answer_paused = 0;
            uv_timer_stop(&c->timer);
            uv_read_start((uv_stream_t *)&c->upstream, on_alloc, on_upstream_read);
        }
    }
    if (!c->busy) {
        handle_request(c);
    }
}

static void on_connection(uv_stream_t *server, int status)
{
    struct proxy *p = server->data;
    struct conn *c;

    if (status < 0) {
        return;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return;
    }
    c->p = p;
    c->id = ++p->conns;
    uv_tcp_init(p->loop, &c->client);
    uv_timer_init(p->loop, &c->timer);
    uv_timer_init(p->loop, &c->pace);
    c->client.data = c;
    c->timer.data = c;
    c->pace.data = c;
    c->open_handles = 3;
    if (uv_accept(server, (uv_stream_t *)&c->client) != 0) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->client, 1);
    uv_read_start((uv_stream_t *)&c->client, on_alloc, on_client_read);
}

/* --- main -------------------------------------------------------------------- */

static void on_signal(uv_signal_t *s, int signum)
{
    (void)signum;
    uv_stop(s->loop);
}

static int parse_addr(const char *hostport, struct sockaddr_in *out)
{
    char host[64];
    const char *colon = strrchr(hostport, ':');
    size_t hl;

    if (colon == NULL) {
        return -1;
    }
    hl = (size_t)(colon - hostport);
    if (hl == 0 || hl >= sizeof(host)) {
        return -1;
    }
    memcpy(host, hostport, hl);
    host[hl] = '\0';
    return uv_ip4_addr(host, (int)strtol(colon + 1, NULL, 10), out);
}

static void usage(void)
{
    fprintf(stderr, "usage: faultproxy -u HOST:PORT [-l HOST:PORT] [-s SCRIPT] [-o LOG]\n");
}

int main(int argc, char **argv)
{
    struct proxy p;
    struct sockaddr_in listen_addr;
    struct sockaddr_storage bound;
    int bound_len = sizeof(bound);
    const char *listen_at = "127.0.0.1:0";
    const char *upstream = NULL;
    const char *script = NULL;
    const char *log_path = NULL;
    int rc = 1;

    memset(&p, 0, sizeof(p));
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "-l") == 0) {
            listen_at = argv[i + 1];
        }
        else if (strcmp(argv[i], "-u") == 0) {
            upstream = argv[i + 1];
        }
        else if (strcmp(argv[i], "-s") == 0) {
            script = argv[i + 1];
        }
        else if (strcmp(argv[i], "-o") == 0) {
            log_path = argv[i + 1];
        }
        else {
            usage();
            return 2;
        }
    }
    if (upstream == NULL || argc % 2 == 0 || parse_addr(upstream, &p.up) != 0 ||
        parse_addr(listen_at, &listen_addr) != 0) {
        usage();
        return 2;
    }
    p.log = stderr;
    if (log_path != NULL) {
        p.log = fopen(log_path, "a");
        if (p.log == NULL) {
            fprintf(stderr, "faultproxy: %s: %s\n", log_path, strerror(errno));
            return 1;
        }
    }
    if (script != NULL && load_script(&p, script) != 0) {
        goto out;
    }
    p.loop = uv_default_loop();
    p.start_ms = uv_now(p.loop);
    uv_tcp_init(p.loop, &p.listener);
    p.listener.data = &p;
    if (uv_tcp_bind(&p.listener, (const struct sockaddr *)&listen_addr, 0) != 0 ||
        uv_listen((uv_stream_t *)&p.listener, 128, on_connection) != 0 ||
        uv_tcp_getsockname(&p.listener, (struct sockaddr *)&bound, &bound_len) != 0) {
        fprintf(stderr, "faultproxy: cannot listen on %s\n", listen_at);
        goto out;
    }
    uv_signal_init(p.loop, &p.sigterm);
    uv_signal_init(p.loop, &p.sigint);
    uv_signal_start(&p.sigterm, on_signal, SIGTERM);
    uv_signal_start(&p.sigint, on_signal, SIGINT);
    printf("port %d\n", ntohs(((struct sockaddr_in *)&bound)->sin_port));
    fflush(stdout);
    uv_run(p.loop, UV_RUN_DEFAULT);
    rc = 0;
out:
    if (p.log != stderr) {
        fclose(p.log);
    }
    return rc;
}
