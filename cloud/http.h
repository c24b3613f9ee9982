/*
 * http.h — the HTTP server of `dentsync-cloud serve` (libmicrohttpd).
 */
#ifndef DSC_HTTP_H
#define DSC_HTTP_H

#include <stddef.h>

/* What `serve` is asked to do. */
struct dsc_http_options {
    const char *db_url;   /* borrow: the application role's database URL */
    const char *listen;   /* borrow: "HOST:PORT" or "[IPv6]:PORT" */
    int pool_size;        /* most database connections (1..DSC_DB_POOL_MAX) */
    int pool_wait;        /* seconds a request waits for a free connection, then 503 */
    int threads;          /* 0: a thread per connection; N: a pool of N threads */
    const char *tls_cert; /* borrow: PEM certificate (chain) file, or NULL for plain HTTP */
    const char *tls_key;  /* borrow: PEM private key file, or NULL */
    /* borrow: the numeric address of a reverse proxy whose X-Forwarded-For
     * is trusted for the per-client limits, or NULL (see http.c) */
    const char *trusted_proxy;
    /* borrow: "HOST:PORT" of the operator's listener (GET /metrics, GET
     * /v1/agents of every practice; no token), or NULL for none */
    const char *metrics_listen;
};

/* Checks that the database URL connects as a role allowed to serve (see
 * dsc_schema_check_app_role), then serves the v1 API (HTTPS when a
 * certificate and key are given) until SIGINT or SIGTERM. Returns 0 after
 * a clean stop, DSC_EPERM when the role is refused, DSC_EUNAVAIL when the
 * database cannot be reached at start, DSC_EINVAL for a bad listen (or
 * trusted proxy) address,
 * DSC_EIO when it cannot listen or read the certificate or key. Call it
 * from the main thread, before any other thread exists. */
int dsc_http_serve(const struct dsc_http_options *opt);

/* Inflates a gzip request body (several members allowed) into new: *out
 * (free()), at most DSC_MAX_BODY bytes. 0, DSC_ETOOBIG, DSC_EINVAL (not
 * gzip, truncated, trailing garbage) or DSC_ENOMEM. */
int dsc_http_inflate(const char *in, size_t n, char **out, size_t *out_len);

#endif
