/*
 * http.h — HTTP requests on the agent's libuv loop, through libcurl's multi
 * interface (one uv_poll per socket curl asks for, one uv_timer for curl's
 * timeouts). Only the upload module uses it: it is the one place that talks
 * to the cloud.
 *
 * TLS peers are always verified (an optional CA bundle replaces the system
 * one); redirects are not followed; only http and https are spoken.
 */
#ifndef DS_UPLOAD_HTTP_H
#define DS_UPLOAD_HTTP_H

#include "agent/core/error.h"

#include <stddef.h>
#include <uv.h>

struct ds_http; /* opaque: one curl multi handle on one loop */

struct ds_http_response {
    long status;        /* HTTP status, 0 when no answer came */
    int curl_code;      /* CURLcode of the transfer, 0 on success */
    const char *body;   /* borrow: the body, NUL-terminated, during the callback */
    size_t body_len;    /* its length */
    double retry_after; /* seconds from a Retry-After header, or -1 */
};

/* Called once per request, on the loop thread, after it finished or failed.
 * Never called for a request whose ds_http_request call failed. */
typedef void (*ds_http_cb)(void *ctx, const struct ds_http_response *res);

/* How requests are made; copied by ds_http_new. */
struct ds_http_options {
    const char *ca_file;            /* CA bundle, or NULL for the system's */
    const char *proxy;              /* proxy URL, or NULL for the environment's */
    double timeout_seconds;         /* whole request */
    double connect_timeout_seconds; /* connection attempt */
    long low_speed_bytes;           /* abandon a transfer slower than this ... */
    long low_speed_seconds;         /* ... for this long (0: never) */
};

/* new: free with ds_http_free. */
int ds_http_new(uv_loop_t *loop, const struct ds_http_options *opt, struct ds_http **out);

/* Starts a request. url and token are copied; body is copied too (len bytes;
 * NULL for none). content_encoding (e.g. "gzip") and digest (Batch-Digest)
 * may be NULL. DS_ENOMEM, DS_EINVAL. */
int ds_http_request(struct ds_http *h, const char *method, const char *url, const char *token,
                    const void *body, size_t len, const char *content_encoding, const char *digest,
                    ds_http_cb cb, void *ctx);

/* Aborts every request in flight without calling their callbacks, closes the
 * handles; the structure is freed once libuv has closed them, so run the
 * loop afterwards. NULL-safe; sets *h to NULL. */
void ds_http_free(struct ds_http **h);

/* Once per process, before any thread: curl_global_init. */
int ds_http_global_init(void);
void ds_http_global_cleanup(void);

#endif
