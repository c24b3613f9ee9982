/*
 * http.c — libcurl's multi interface driven by the libuv loop.
 *
 * The classic multi-socket pattern: curl tells us which sockets to watch
 * (socket_cb) and when to wake it (timer_cb); libuv tells curl when a socket
 * is ready (on_poll) or the timer fired (on_timeout); after each action we
 * collect finished transfers (drain) and call their callbacks. Nothing
 * blocks the loop.
 *
 * Handle lifetimes: every uv handle is freed in its close callback. The
 * struct ds_http itself is freed once the last of its handles has closed
 * (open_handles reaches zero after ds_http_free asked for it).
 */
#include "agent/upload/http.h"

#include "agent/core/alloc.h"
#include "agent/core/buf.h"
#include "agent/core/version.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_RESPONSE (64 * 1024 * 1024) /* bytes kept of one answer */

struct request {
    struct ds_http *h;            /* owner */
    CURL *easy;                   /* owned */
    struct curl_slist *headers;   /* owned */
    char *body;                   /* owned copy of the request body */
    struct ds_buf resp;           /* the answer's body */
    double retry_after;           /* from Retry-After, or -1 */
    ds_http_cb cb;                /* called once at the end */
    void *ctx;                    /* for cb */
    struct request *prev, *next;  /* in h->requests */
    char errbuf[CURL_ERROR_SIZE]; /* curl's text, for debugging */
};

struct sock_ctx {
    uv_poll_t poll;    /* watches fd */
    curl_socket_t fd;  /* the socket */
    struct ds_http *h; /* owner */
};

struct ds_http {
    uv_loop_t *loop;         /* borrow */
    CURLM *multi;            /* owned */
    uv_timer_t timer;        /* curl's timeout */
    char *ca_file;           /* owned; may be NULL */
    char *proxy;             /* owned; may be NULL */
    long timeout_ms;         /* per request */
    long connect_timeout_ms; /* per connection attempt */
    long low_speed_bytes;    /* see struct ds_http_options */
    long low_speed_seconds;
    struct request *requests; /* in flight */
    size_t pending;           /* how many */
    int open_handles;         /* uv handles not yet closed */
    int closing;              /* ds_http_free was called */
};

int ds_http_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : DS_ENOMEM;
}

void ds_http_global_cleanup(void)
{
    curl_global_cleanup();
}

static void maybe_free(struct ds_http *h)
{
    if (h->closing && h->open_handles == 0) {
        ds_free(h->ca_file);
        ds_free(h->proxy);
        ds_free(h);
    }
}

static void on_handle_closed(uv_handle_t *handle)
{
    struct ds_http *h = handle->data;

    h->open_handles--;
    maybe_free(h);
}

static void on_sock_closed(uv_handle_t *handle)
{
    struct sock_ctx *sc = handle->data;
    struct ds_http *h = sc->h;

    ds_free(sc);
    h->open_handles--;
    maybe_free(h);
}

static void request_free(struct request *r)
{
    curl_slist_free_all(r->headers);
    curl_easy_cleanup(r->easy);
    ds_free(r->body);
    ds_buf_close(&r->resp);
    ds_free(r);
}

static void unlink_request(struct ds_http *h, struct request *r)
{
    if (r->prev != NULL) {
        r->prev->next = r->next;
    }
    else {
        h->requests = r->next;
    }
    if (r->next != NULL) {
        r->next->prev = r->prev;
    }
    h->pending--;
}

/* Collects finished transfers and runs their callbacks. */
static void drain(struct ds_http *h)
{
    CURLMsg *msg;
    int left = 0;

    for (;;) {
        struct ds_http_response res;
        struct request *r = NULL;

        msg = curl_multi_info_read(h->multi, &left);
        if (msg == NULL) {
            break;
        }
        if (msg->msg != CURLMSG_DONE) {
            continue;
        }
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        memset(&res, 0, sizeof(res));
        res.curl_code = (int)msg->data.result;
        if (msg->data.result == CURLE_OK) {
            curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &res.status);
        }
        res.body = r->resp.data != NULL ? r->resp.data : "";
        res.body_len = r->resp.len;
        res.retry_after = r->retry_after;
        curl_multi_remove_handle(h->multi, r->easy);
        unlink_request(h, r);
        r->cb(r->ctx, &res);
        request_free(r);
    }
}

static void on_poll(uv_poll_t *poll, int status, int events)
{
    struct sock_ctx *sc = poll->data;
    int flags = 0;
    int running = 0;

    if (status < 0) {
        flags = CURL_CSELECT_ERR;
    }
    if (events & UV_READABLE) {
        flags |= CURL_CSELECT_IN;
    }
    if (events & UV_WRITABLE) {
        flags |= CURL_CSELECT_OUT;
    }
    curl_multi_socket_action(sc->h->multi, sc->fd, flags, &running);
    drain(sc->h);
}

static void on_timeout(uv_timer_t *timer)
{
    struct ds_http *h = timer->data;
    int running = 0;

    curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    drain(h);
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    struct ds_http *h = userp;

    (void)multi;
    if (timeout_ms < 0) {
        uv_timer_stop(&h->timer);
    }
    else {
        /* A zero timeout still goes through the loop, never recursively. */
        uv_timer_start(&h->timer, on_timeout, (uint64_t)timeout_ms, 0);
    }
    return 0;
}

static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    struct ds_http *h = userp;
    struct sock_ctx *sc = socketp;
    int events = 0;

    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        if (sc != NULL) {
            uv_poll_stop(&sc->poll);
            curl_multi_assign(h->multi, fd, NULL);
            uv_close((uv_handle_t *)&sc->poll, on_sock_closed);
        }
        return 0;
    }
    if (sc == NULL) {
        sc = ds_calloc(1, sizeof(*sc));
        if (sc == NULL) {
            return -1;
        }
        sc->fd = fd;
        sc->h = h;
        if (uv_poll_init_socket(h->loop, &sc->poll, fd) != 0) {
            ds_free(sc);
            return -1;
        }
        sc->poll.data = sc;
        h->open_handles++;
        curl_multi_assign(h->multi, fd, sc);
    }
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) {
        events |= UV_READABLE;
    }
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) {
        events |= UV_WRITABLE;
    }
    uv_poll_start(&sc->poll, events, on_poll);
    return 0;
}

static void options_free(struct ds_http *h)
{
    ds_free(h->ca_file);
    ds_free(h->proxy);
    ds_free(h);
}

int ds_http_new(uv_loop_t *loop, const struct ds_http_options *opt, struct ds_http **out)
{
    struct ds_http *h = ds_calloc(1, sizeof(*h));

    *out = NULL;
    if (h == NULL) {
        return DS_ENOMEM;
    }
    h->loop = loop;
    h->timeout_ms = (long)(opt->timeout_seconds * 1000.0);
    h->connect_timeout_ms = (long)(opt->connect_timeout_seconds * 1000.0);
    h->low_speed_bytes = opt->low_speed_bytes;
    h->low_speed_seconds = opt->low_speed_seconds;
    if (opt->ca_file != NULL) {
        h->ca_file = ds_strdup(opt->ca_file);
    }
    if (opt->proxy != NULL) {
        h->proxy = ds_strdup(opt->proxy);
    }
    if ((opt->ca_file != NULL && h->ca_file == NULL) || (opt->proxy != NULL && h->proxy == NULL)) {
        options_free(h);
        return DS_ENOMEM;
    }
    h->multi = curl_multi_init();
    if (h->multi == NULL) {
        options_free(h);
        return DS_ENOMEM;
    }
    uv_timer_init(loop, &h->timer);
    h->timer.data = h;
    h->open_handles = 1;
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
    *out = h;
    return 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *userp)
{
    struct request *r = userp;

    if (ds_buf_append(&r->resp, p, size * n) != 0) {
        return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
    }
    return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *userp)
{
    struct request *r = userp;
    size_t len = size * n;
    static const char name[] = "retry-after:";
    char value[32];
    size_t i = sizeof(name) - 1;
    size_t k = 0;
    char *end = NULL;
    double v;

    if (len <= i || strncasecmp(p, name, i) != 0) {
        return len;
    }
    while (i < len && (p[i] == ' ' || p[i] == '\t')) {
        i++;
    }
    while (i < len && k < sizeof(value) - 1 && p[i] != '\r' && p[i] != '\n') {
        value[k++] = p[i++];
    }
    value[k] = '\0';
    v = strtod(value, &end);
    /* An HTTP-date is rare from our cloud; treat it as "a little later". */
    r->retry_after = end != value && v >= 0 ? v : 1.0;
    return len;
}

int ds_http_request(struct ds_http *h, const char *method, const char *url, const char *token,
                    const void *body, size_t len, const char *content_encoding, const char *digest,
                    ds_http_cb cb, void *ctx)
{
    struct request *r = NULL;
    struct curl_slist *l = NULL;
    char line[512];
    int rc = DS_ENOMEM;

    if (h->closing) {
        return DS_ESTOP;
    }
    r = ds_calloc(1, sizeof(*r));
    if (r == NULL) {
        goto out;
    }
    r->h = h;
    r->cb = cb;
    r->ctx = ctx;
    r->retry_after = -1;
    ds_buf_init(&r->resp, MAX_RESPONSE);
    r->easy = curl_easy_init();
    if (r->easy == NULL) {
        goto out;
    }
    snprintf(line, sizeof(line), "Authorization: Bearer %s", token != NULL ? token : "");
    l = curl_slist_append(r->headers, line);
    if (l == NULL) {
        goto out;
    }
    r->headers = l;
    l = curl_slist_append(r->headers, "Content-Type: application/json");
    if (l == NULL) {
        goto out;
    }
    r->headers = l;
    l = curl_slist_append(r->headers, "Expect:");
    if (l == NULL) {
        goto out;
    }
    r->headers = l;
    if (content_encoding != NULL) {
        snprintf(line, sizeof(line), "Content-Encoding: %s", content_encoding);
        l = curl_slist_append(r->headers, line);
        if (l == NULL) {
            goto out;
        }
        r->headers = l;
    }
    if (digest != NULL) {
        snprintf(line, sizeof(line), "Batch-Digest: %s", digest);
        l = curl_slist_append(r->headers, line);
        if (l == NULL) {
            goto out;
        }
        r->headers = l;
    }
    if (body != NULL) {
        r->body = ds_malloc(len + 1);
        if (r->body == NULL) {
            goto out;
        }
        memcpy(r->body, body, len);
        r->body[len] = '\0';
    }
    curl_easy_setopt(r->easy, CURLOPT_URL, url);
    curl_easy_setopt(r->easy, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
    if (r->body != NULL) {
        curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, r->body);
        curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    }
    curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(r->easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(r->easy, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
    curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, h->timeout_ms);
    curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT_MS, h->connect_timeout_ms);
    if (h->low_speed_seconds > 0) {
        curl_easy_setopt(r->easy, CURLOPT_LOW_SPEED_LIMIT, h->low_speed_bytes);
        curl_easy_setopt(r->easy, CURLOPT_LOW_SPEED_TIME, h->low_speed_seconds);
    }
    if (h->proxy != NULL) {
        curl_easy_setopt(r->easy, CURLOPT_PROXY, h->proxy);
    }
    curl_easy_setopt(r->easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(r->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(r->easy, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(r->easy, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(r->easy, CURLOPT_USERAGENT, "dentsync-agent/" DS_VERSION);
    if (h->ca_file != NULL) {
        curl_easy_setopt(r->easy, CURLOPT_CAINFO, h->ca_file);
    }
    if (curl_multi_add_handle(h->multi, r->easy) != CURLM_OK) {
        rc = DS_EINVAL;
        goto out;
    }
    r->next = h->requests;
    if (h->requests != NULL) {
        h->requests->prev = r;
    }
    h->requests = r;
    h->pending++;
    r = NULL;
    rc = 0;
out:
    if (r != NULL) {
        request_free(r);
    }
    return rc;
}

void ds_http_free(struct ds_http **hp)
{
    struct ds_http *h;

    if (hp == NULL || *hp == NULL) {
        return;
    }
    h = *hp;
    *hp = NULL;
    h->closing = 1;
    while (h->requests != NULL) {
        struct request *r = h->requests;

        curl_multi_remove_handle(h->multi, r->easy);
        unlink_request(h, r);
        request_free(r);
    }
    curl_multi_cleanup(h->multi);
    h->multi = NULL;
    uv_timer_stop(&h->timer);
    uv_close((uv_handle_t *)&h->timer, on_handle_closed);
}
