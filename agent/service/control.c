/*
 * control.c — the control socket (see control.h).
 *
 * Server side on the loop: a uv_pipe_t listening, one small struct per
 * connection reading at most one line (MAX_REQUEST bytes), answering and
 * closing. Every answer is built whole in a growing buffer (capped at
 * DS_CONTROL_MAX_ANSWER) through the JSON writer, so it is one valid JSON
 * line or, past the cap, an error answer: never a cut one. Client side:
 * plain blocking sockets with poll(2) timeouts, for the short-lived CLI.
 */
#include "agent/service/control.h"

#include "agent/core/alloc.h"
#include "agent/core/buf.h"
#include "agent/core/jsonw.h"
#include "agent/core/log.h"

#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_REQUEST 4608 /* "import" with a folder and a path */

struct ds_control {
    uv_loop_t *loop;           /* borrow */
    uv_pipe_t server;          /* listening */
    struct ds_control_ops ops; /* the owner's */
    char path[108];            /* the socket file */
    int open_handles;          /* server + connections not yet closed */
    int closing;               /* ds_control_free was called */
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

/* Root, or the user this process runs as (SO_PEERCRED). */
static int peer_privileged(uv_pipe_t *pipe)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);
    uv_os_fd_t fd;

    if (uv_fileno((uv_handle_t *)pipe, &fd) != 0 ||
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
        return 0;
    }
    return cred.uid == 0 || cred.uid == geteuid();
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
    k->privileged = peer_privileged(&k->pipe);
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
    int n;
    int rc;

    *out = NULL;
    if (c == NULL) {
        return ds_error_set(err, DS_ENOMEM, "out of memory");
    }
    c->loop = loop;
    c->ops = *ops;
    n = snprintf(c->path, sizeof(c->path), "%s/%s", cfg->state_dir, DS_CONTROL_SOCKET);
    if (n < 0 || (size_t)n >= sizeof(c->path)) {
        ds_free(c);
        return ds_error_set(err, DS_ETOOBIG, "state_dir is too long for a control socket");
    }
    unlink(c->path); /* a stale socket of a previous run */
    uv_pipe_init(loop, &c->server, 0);
    c->server.data = c;
    c->open_handles = 1;
    rc = uv_pipe_bind(&c->server, c->path);
    if (rc == 0) {
        chmod(c->path, 0660);
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
    unlink(c->path);
    uv_close((uv_handle_t *)&c->server, on_server_closed);
}

int ds_control_request(const char *state_dir, const char *command, struct ds_buf *answer,
                       int timeout_ms)
{
    struct sockaddr_un sa;
    struct pollfd pfd;
    char chunk[4096];
    size_t start = answer->len;
    ssize_t n;
    int fd = -1;
    int rc = 0;

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", state_dir, DS_CONTROL_SOCKET);
    if (n < 0 || (size_t)n >= sizeof(sa.sun_path)) {
        return DS_ETOOBIG;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return DS_EIO;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        rc = errno == ENOENT || errno == ECONNREFUSED ? DS_ENOTFOUND : DS_EIO;
        goto out;
    }
    if (write(fd, command, strlen(command)) < 0 || write(fd, "\n", 1) != 1) {
        rc = DS_EIO;
        goto out;
    }
    pfd.fd = fd;
    pfd.events = POLLIN;
    for (;;) {
        if (poll(&pfd, 1, timeout_ms) <= 0) {
            rc = DS_EIO;
            goto out;
        }
        n = read(fd, chunk, sizeof(chunk));
        if (n < 0) {
            rc = DS_EIO;
            goto out;
        }
        if (n == 0) {
            break;
        }
        rc = ds_buf_append(answer, chunk, (size_t)n);
        if (rc != 0) {
            goto out;
        }
        if (memchr(chunk, '\n', (size_t)n) != NULL) {
            break; /* the one line is whole */
        }
    }
    if (answer->len > start) {
        answer->len = start + strcspn(answer->data + start, "\n");
        answer->data[answer->len] = '\0';
    }
out:
    close(fd);
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
