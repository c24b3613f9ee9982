/*
 * control.c — the control socket (see control.h).
 *
 * Server side on the loop: a uv_pipe_t listening, one small struct per
 * connection reading at most one line (MAX_REQUEST bytes), answering and
 * closing. Every answer is built whole in a growing buffer (capped at
 * DS_CONTROL_MAX_ANSWER) through the JSON writer, so it is one valid JSON
 * line or, past the cap, an error answer: never a cut one. Client side:
 * a uv_pipe_t too, on a short-lived loop of its own with a timer, for the
 * CLI. uv_pipe_t is a unix socket on POSIX and a named pipe on Windows;
 * the endpoint's name and who may use it are the platform layer's
 * (agent/os/os_net.h).
 */
#include "agent/service/control.h"

#include "agent/core/alloc.h"
#include "agent/core/buf.h"
#include "agent/core/jsonw.h"
#include "agent/core/log.h"
#include "agent/os/os_net.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REQUEST 4608 /* "import" with a folder and a path */

struct ds_control {
    uv_loop_t *loop;                   /* borrow */
    uv_pipe_t server;                  /* listening */
    struct ds_control_ops ops;         /* the owner's */
    char path[DS_OS_CONTROL_NAME_MAX]; /* the endpoint's name */
    int open_handles;                  /* server + connections not yet closed */
    int closing;                       /* ds_control_free was called */
};

struct conn {
    uv_pipe_t pipe;        /* the client */
    struct ds_control *c;  /* owner */
    char req[MAX_REQUEST]; /* the line so far */
    size_t len;            /* its length */
    struct ds_buf answer;  /* kept alive until the write completes */
    uv_write_t write;      /* the answer's write */
    int answered;          /* an answer is on its way */
    int privileged;        /* the peer is root or this process's user */
};

/* {"ok":false,"error":"MSG"}, MSG through the JSON writer (it names a path). */
static void answer_error(struct ds_buf *b, const char *msg)
{
    ds_buf_reset(b);
    if (ds_buf_append_str(b, "{\"ok\":false,\"error\":") != 0 || ds_jsonw_str(b, msg) != 0 ||
        ds_buf_append_str(b, "}\n") != 0) {
        ds_buf_reset(b);
        ds_buf_append_str(b, "{\"ok\":false,\"error\":\"out of memory\"}\n");
    }
}

/* {"ok":true,"url":"URL"}. */
static void answer_url(struct ds_buf *b, const char *url, int read_only)
{
    if (ds_buf_append_str(b, "{\"ok\":true,\"url\":") != 0 || ds_jsonw_str(b, url) != 0 ||
        ds_buf_append_str(b, read_only ? ",\"read_only\":true}\n" : ",\"read_only\":false}\n") !=
            0) {
        answer_error(b, "out of memory");
    }
}

/* {"ok":true,MEMBERS} with the owner's members; an error answer, whole, when
 * they pass the cap. */
static void answer_status(struct ds_control *c, struct ds_buf *b)
{
    int rc = ds_buf_append_str(b, "{\"ok\":true,");

    if (rc == 0) {
        rc = c->ops.status(c->ops.ctx, b);
    }
    if (rc == 0 && b->data[b->len - 1] == ',') {
        b->len--;
    }
    if (rc == 0) {
        rc = ds_buf_append_str(b, "}\n");
    }
    if (rc != 0) {
        ds_log_warn("CONTROL_STATUS", "control: no status answer: %s", ds_strerror(rc));
        answer_error(b, rc == DS_ETOOBIG ? "the status answer is too long" : ds_strerror(rc));
    }
}

static void maybe_free(struct ds_control *c)
{
    if (c->closing && c->open_handles == 0) {
        ds_free(c);
    }
}

static void on_conn_closed(uv_handle_t *h)
{
    struct conn *k = h->data;
    struct ds_control *c = k->c;

    ds_buf_close(&k->answer);
    ds_free(k);
    c->open_handles--;
    maybe_free(c);
}

static void conn_close(struct conn *k)
{
    if (!uv_is_closing((uv_handle_t *)&k->pipe)) {
        uv_close((uv_handle_t *)&k->pipe, on_conn_closed);
    }
}

static void on_written(uv_write_t *w, int status)
{
    struct conn *k = w->data;

    (void)status;
    conn_close(k);
}

/* "import\tFOLDER\tPATH": the file is staged and uploaded next.
 * Only root and the service's own user may: an import writes to the queue
 * and sends a file to the cloud, which the read-only group may not. */
static void answer_import(struct conn *k)
{
    struct ds_control *c = k->c;
    char msg[512];
    char *folder = k->req + 7;
    char *path = strchr(folder, '\t');

    if (!k->privileged) {
        answer_error(&k->answer, "import needs root or the service user");
        return;
    }
    if (path == NULL || c->ops.import == NULL) {
        answer_error(&k->answer, "bad import request");
        return;
    }
    *path++ = '\0';
    msg[0] = '\0';
    if (c->ops.import(c->ops.ctx, folder, path, msg, sizeof(msg)) != 0) {
        answer_error(&k->answer, msg);
        return;
    }
    ds_buf_append_str(&k->answer, "{\"ok\":true}\n");
}

/* "reload": the configuration again; root and the service's user only,
 * as it can change what is read and where it goes. */
static void answer_reload(struct conn *k)
{
    struct ds_control *c = k->c;
    char msg[256];

    if (!k->privileged) {
        answer_error(&k->answer, "reload needs root or the service user");
        return;
    }
    if (c->ops.reload == NULL) {
        answer_error(&k->answer, "unknown command");
        return;
    }
    msg[0] = '\0';
    if (c->ops.reload(c->ops.ctx, msg, sizeof(msg)) != 0) {
        answer_error(&k->answer, msg);
        return;
    }
    ds_buf_append_str(&k->answer, "{\"ok\":true}\n");
}

static void answer(struct conn *k)
{
    struct ds_control *c = k->c;
    uv_buf_t b;

    k->req[strcspn(k->req, "\r\n")] = '\0';
    if (strcmp(k->req, "sync-now") == 0) {
        ds_log_info("SYNC_NOW", "control: sync-now");
        c->ops.sync_now(c->ops.ctx);
        ds_buf_append_str(&k->answer, "{\"ok\":true}\n");
    }
    else if (strncmp(k->req, "import\t", 7) == 0) {
        answer_import(k);
    }
    else if (strcmp(k->req, "reload") == 0) {
        answer_reload(k);
    }
    else if (strcmp(k->req, "status") == 0) {
        answer_status(c, &k->answer);
    }
    else if (strcmp(k->req, "web-link") == 0) {
        char url[256];

        /* The page's session gets the rights the peer has here. */
        if (c->ops.web_link != NULL &&
            c->ops.web_link(c->ops.ctx, k->privileged, url, sizeof(url)) == 0) {
            answer_url(&k->answer, url, !k->privileged);
        }
        else {
            answer_error(&k->answer, "the status page is not running (off in [web], or its port "
                                     "was taken: see the log)");
        }
    }
    else {
        answer_error(&k->answer, "unknown command");
    }
    k->answered = 1;
    if (k->answer.len == 0) {
        conn_close(k); /* not even an error answer could be written */
        return;
    }
    b = uv_buf_init(k->answer.data, (unsigned int)k->answer.len);
    k->write.data = k;
    if (uv_write(&k->write, (uv_stream_t *)&k->pipe, &b, 1, on_written) != 0) {
        conn_close(k);
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct conn *k = h->data;

    (void)suggested;
    *buf = uv_buf_init(k->req + k->len, (unsigned int)(sizeof(k->req) - 1 - k->len));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct conn *k = s->data;

    (void)buf;
    if (n < 0) {
        if (!k->answered) {
            conn_close(k);
        }
        return;
    }
    k->len += (size_t)n;
    k->req[k->len] = '\0';
    if (strchr(k->req, '\n') != NULL || k->len >= sizeof(k->req) - 1) {
        uv_read_stop(s);
        answer(k);
    }
}

static void on_connection(uv_stream_t *server, int status)
{
    struct ds_control *c = server->data;
    struct conn *k;

    if (status < 0 || c->closing) {
        return;
    }
    k = ds_calloc(1, sizeof(*k));
    if (k == NULL) {
        return;
    }
    k->c = c;
    ds_buf_init(&k->answer, DS_CONTROL_MAX_ANSWER);
    uv_pipe_init(c->loop, &k->pipe, 0);
    k->pipe.data = k;
    c->open_handles++;
    if (uv_accept(server, (uv_stream_t *)&k->pipe) != 0) {
        conn_close(k);
        return;
    }
    k->privileged = ds_os_control_peer_privileged(&k->pipe);
    if (uv_read_start((uv_stream_t *)&k->pipe, on_alloc, on_read) != 0) {
        conn_close(k);
    }
}

static void on_server_closed(uv_handle_t *h)
{
    struct ds_control *c = h->data;

    c->open_handles--;
    maybe_free(c);
}

int ds_control_new(uv_loop_t *loop, const struct ds_config *cfg, const struct ds_control_ops *ops,
                   struct ds_control **out, struct ds_error *err)
{
    struct ds_control *c = ds_calloc(1, sizeof(*c));
    int rc;

    *out = NULL;
    if (c == NULL) {
        return ds_error_set(err, DS_ENOMEM, "out of memory");
    }
    c->loop = loop;
    c->ops = *ops;
    if (ds_os_control_name(cfg->state_dir, c->path, sizeof(c->path)) != 0) {
        ds_free(c);
        return ds_error_set(err, DS_ETOOBIG, "state_dir is too long for a control socket");
    }
    ds_os_control_stale(c->path); /* a stale socket of a previous run */
    uv_pipe_init(loop, &c->server, 0);
    c->server.data = c;
    c->open_handles = 1;
    rc = uv_pipe_bind(&c->server, c->path);
    if (rc == 0) {
        (void)ds_os_control_restrict(&c->server, c->path);
        rc = uv_listen((uv_stream_t *)&c->server, 8, on_connection);
    }
    if (rc != 0) {
        ds_error_set(err, DS_EIO, "cannot listen on %s: %s", c->path, uv_strerror(rc));
        c->closing = 1;
        uv_close((uv_handle_t *)&c->server, on_server_closed);
        return DS_EIO;
    }
    *out = c;
    return 0;
}

void ds_control_free(struct ds_control **cp)
{
    struct ds_control *c;

    if (cp == NULL || *cp == NULL) {
        return;
    }
    c = *cp;
    *cp = NULL;
    c->closing = 1;
    ds_os_control_gone(c->path);
    uv_close((uv_handle_t *)&c->server, on_server_closed);
}

/* The client's one request, on its own loop. */
struct request {
    uv_pipe_t pipe;
    uv_timer_t timer;
    uv_connect_t connect;
    uv_write_t write;
    uv_buf_t out[2];       /* the command and its newline */
    struct ds_buf *answer; /* the caller's */
    size_t start;          /* answer's length before */
    char chunk[4096];      /* what is being read */
    int timeout_ms;        /* for each step */
    int rc;                /* the outcome so far */
    int done;              /* the pipe is being closed */
};

static void request_end(struct request *q, int rc)
{
    if (q->done) {
        return;
    }
    q->done = 1;
    q->rc = rc;
    uv_close((uv_handle_t *)&q->pipe, NULL);
    uv_close((uv_handle_t *)&q->timer, NULL);
}

static void on_request_timeout(uv_timer_t *t)
{
    request_end(t->data, DS_EIO);
}

static void on_request_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct request *q = h->data;

    (void)suggested;
    *buf = uv_buf_init(q->chunk, sizeof(q->chunk));
}

static void on_request_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct request *q = s->data;
    int rc;

    (void)buf;
    if (n == UV_EOF) {
        request_end(q, 0);
        return;
    }
    if (n < 0) {
        request_end(q, DS_EIO);
        return;
    }
    if (n == 0) {
        return;
    }
    rc = ds_buf_append(q->answer, q->chunk, (size_t)n);
    if (rc != 0 || memchr(q->chunk, '\n', (size_t)n) != NULL) {
        request_end(q, rc); /* an error, or the one line is whole */
        return;
    }
    uv_timer_start(&q->timer, on_request_timeout, (uint64_t)q->timeout_ms, 0);
}

static void on_request_written(uv_write_t *w, int status)
{
    struct request *q = w->data;

    if (status != 0) {
        request_end(q, DS_EIO);
        return;
    }
    uv_timer_start(&q->timer, on_request_timeout, (uint64_t)q->timeout_ms, 0);
    if (uv_read_start((uv_stream_t *)&q->pipe, on_request_alloc, on_request_read) != 0) {
        request_end(q, DS_EIO);
    }
}

static void on_request_connected(uv_connect_t *cr, int status)
{
    struct request *q = cr->data;

    if (q->done) {
        return;
    }
    if (status != 0) {
        request_end(q, status == UV_ENOENT || status == UV_ECONNREFUSED ? DS_ENOTFOUND : DS_EIO);
        return;
    }
    q->write.data = q;
    if (uv_write(&q->write, (uv_stream_t *)&q->pipe, q->out, 2, on_request_written) != 0) {
        request_end(q, DS_EIO);
    }
}

int ds_control_request(const char *state_dir, const char *command, struct ds_buf *answer,
                       int timeout_ms)
{
    char name[DS_OS_CONTROL_NAME_MAX];
    uv_loop_t loop;
    struct request *q;
    int rc;

    if (ds_os_control_name(state_dir, name, sizeof(name)) != 0) {
        return DS_ETOOBIG;
    }
    q = ds_calloc(1, sizeof(*q));
    if (q == NULL) {
        return DS_ENOMEM;
    }
    if (uv_loop_init(&loop) != 0) {
        ds_free(q);
        return DS_EIO;
    }
    q->answer = answer;
    q->start = answer->len;
    q->timeout_ms = timeout_ms;
    q->out[0] = uv_buf_init((char *)command, (unsigned int)strlen(command));
    q->out[1] = uv_buf_init("\n", 1);
    uv_pipe_init(&loop, &q->pipe, 0);
    uv_timer_init(&loop, &q->timer);
    q->pipe.data = q;
    q->timer.data = q;
    q->connect.data = q;
    uv_pipe_connect(&q->connect, &q->pipe, name, on_request_connected);
    uv_timer_start(&q->timer, on_request_timeout, (uint64_t)timeout_ms, 0);
    (void)uv_run(&loop, UV_RUN_DEFAULT);
    rc = q->rc;
    (void)uv_loop_close(&loop);
    if (answer->len > q->start) {
        answer->len = q->start + strcspn(answer->data + q->start, "\n");
        answer->data[answer->len] = '\0';
    }
    ds_free(q);
    return rc;
}

int ds_control_ask(const char *state_dir, const char *command, int timeout_ms, json_t **doc)
{
    struct ds_buf answer;
    json_t *d = NULL;
    int rc;

    if (doc != NULL) {
        *doc = NULL;
    }
    ds_buf_init(&answer, DS_CONTROL_MAX_ANSWER);
    rc = ds_control_request(state_dir, command, &answer, timeout_ms);
    if (rc == 0) {
        d = json_loadb(answer.data != NULL ? answer.data : "", answer.len, 0, NULL);
        rc = json_is_object(d) ? 0 : DS_EIO;
    }
    ds_buf_close(&answer);
    if (rc == 0 && doc != NULL) {
        *doc = d;
        d = NULL;
    }
    json_decref(d);
    return rc;
}
