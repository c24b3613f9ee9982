/*
 * child.c — runs `dentsync preview` and `dentsync errors` for the status
 * page as child processes of the agent, so the page shows exactly what the
 * command line shows, a hostile file is read outside the service's
 * process, and the loop never waits: the child's output comes through
 * pipes on the loop, bounded, and a child that runs too long is killed.
 */
#include "agent/web/web_int.h"

#include "agent/core/alloc.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ERR 4096
#define MAX_ARGS 16

struct ds__web_child {
    uv_process_t proc;        /* the child */
    uv_pipe_t out, err;       /* its stdout and stderr */
    uv_timer_t timer;         /* its deadline */
    struct ds_buf obuf, ebuf; /* what it wrote */
    struct ds__web_conn *c;   /* the request it works for (a reference) */
    ds__web_child_cb cb;      /* called once */
    int open;                 /* handles not closed yet */
    int pipes_open;           /* pipes not at EOF yet */
    int exited;               /* the process ended */
    int status;               /* its exit status, -1 if killed */
    int called;               /* cb ran */
};

static void on_closed(uv_handle_t *h)
{
    struct ds__web_child *k = h->data;
    struct ds__web_conn *c = k->c;

    if (--k->open > 0) {
        return;
    }
    ds_buf_close(&k->obuf);
    ds_buf_close(&k->ebuf);
    ds_free(k);
    c->w->open_handles--;
    ds__web_conn_unref(c);
}

static void close_all(struct ds__web_child *k)
{
    uv_handle_t *hs[] = {(uv_handle_t *)&k->proc, (uv_handle_t *)&k->out, (uv_handle_t *)&k->err,
                         (uv_handle_t *)&k->timer};

    for (size_t i = 0; i < sizeof(hs) / sizeof(hs[0]); i++) {
        if (!uv_is_closing(hs[i])) {
            uv_close(hs[i], on_closed);
        }
    }
}

static void maybe_done(struct ds__web_child *k)
{
    if (!k->exited || k->pipes_open > 0 || k->called) {
        return;
    }
    k->called = 1;
    k->c->busy = 0;
    k->c->child = NULL;
    k->cb(k->c, k->status, &k->obuf, &k->ebuf);
    close_all(k);
}

static void on_exit_cb(uv_process_t *p, int64_t status, int signal)
{
    struct ds__web_child *k = p->data;

    k->exited = 1;
    k->status = signal != 0 ? -1 : (int)status;
    uv_timer_stop(&k->timer);
    maybe_done(k);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct ds__web_child *k = h->data;

    (void)suggested;
    *buf = uv_buf_init(k->c->w->rbuf, sizeof(k->c->w->rbuf));
}

static void on_pipe(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct ds__web_child *k = s->data;
    struct ds_buf *b = s == (uv_stream_t *)&k->out ? &k->obuf : &k->ebuf;

    if (n < 0) {
        uv_read_stop(s);
        k->pipes_open--;
        maybe_done(k);
        return;
    }
    if (n > 0 && ds_buf_append(b, buf->base, (size_t)n) != 0 && b == &k->obuf) {
        /* More than the caller accepts: the answer would be cut. */
        uv_process_kill(&k->proc, SIGKILL);
    }
}

static void on_timeout(uv_timer_t *t)
{
    struct ds__web_child *k = t->data;

    if (!k->exited) {
        uv_process_kill(&k->proc, SIGKILL);
    }
}

int ds__web_child_run(struct ds__web_conn *c, const char *const *args, size_t max_out,
                      uint64_t timeout_ms, ds__web_child_cb cb)
{
    struct ds__web_child *k;
    uv_process_options_t o;
    uv_stdio_container_t io[3];
    char *argv[MAX_ARGS + 2];
    size_t n = 0;
    int rc;

    if (c->w->exe[0] == '\0' || c->child != NULL) {
        return DS_EINVAL;
    }
    k = ds_calloc(1, sizeof(*k));
    if (k == NULL) {
        return DS_ENOMEM;
    }
    argv[n++] = c->w->exe;
    for (; args[n - 1] != NULL && n <= MAX_ARGS; n++) {
        argv[n] = (char *)args[n - 1];
    }
    argv[n] = NULL;
    k->c = c;
    k->cb = cb;
    ds_buf_init(&k->obuf, max_out);
    ds_buf_init(&k->ebuf, MAX_ERR);
    uv_pipe_init(c->w->loop, &k->out, 0);
    uv_pipe_init(c->w->loop, &k->err, 0);
    uv_timer_init(c->w->loop, &k->timer);
    k->out.data = k->err.data = k->timer.data = k->proc.data = k;
    memset(&o, 0, sizeof(o));
    memset(io, 0, sizeof(io));
    io[0].flags = UV_IGNORE;
    io[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    io[1].data.stream = (uv_stream_t *)&k->out;
    io[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    io[2].data.stream = (uv_stream_t *)&k->err;
    o.file = c->w->exe;
    o.args = argv;
    o.stdio = io;
    o.stdio_count = 3;
    o.exit_cb = on_exit_cb;
    rc = uv_spawn(c->w->loop, &k->proc, &o);
    /* From here on the handles are counted and closed through on_closed. */
    k->open = 4;
    c->refs++;
    c->w->open_handles++;
    if (rc != 0) {
        /* A process handle that failed to spawn is closed like the rest;
         * the callback never runs (the caller answers). */
        k->called = 1;
        close_all(k);
        return DS_EIO;
    }
    k->pipes_open = 2;
    c->busy = 1;
    c->child = k;
    uv_read_start((uv_stream_t *)&k->out, on_alloc, on_pipe);
    uv_read_start((uv_stream_t *)&k->err, on_alloc, on_pipe);
    uv_timer_start(&k->timer, on_timeout, timeout_ms, 0);
    return 0;
}

void ds__web_child_kill(struct ds__web_conn *c)
{
    if (c->child != NULL && !c->child->exited) {
        uv_process_kill(&c->child->proc, SIGKILL);
    }
}
