/*
 * http.h — the status page's HTTP/1.1 request parser: a pure function over
 * the bytes received so far, with hard bounds, plus the helpers that read a
 * query string, a form body and a Cookie header.
 *
 * It accepts only what the page's own clients send: a request line
 * `METHOD SP /target SP HTTP/1.x CRLF`, header lines `name: value CRLF`,
 * an empty line, then a body of exactly Content-Length bytes. Everything
 * else is refused with the status to answer: a line ending without CR, an
 * obsolete folded header, control bytes, a target not starting with '/',
 * two different Content-Length values (400); Transfer-Encoding (501, so a
 * body's length is never ambiguous); a head larger than the bound (431);
 * a version other than 1.0 or 1.1 (505). Nothing is allocated: the
 * request points into the caller's buffer.
 */
#ifndef DS_WEB_HTTP_H
#define DS_WEB_HTTP_H

#include <stddef.h>

#define DS_HTTP_MAX_HEADERS 48 /* more header lines are a 431 */
#define DS_HTTP_MAX_TARGET 2048

struct ds_http_header {
    const char *name; /* borrow: points into the buffer parsed */
    size_t name_len;
    const char *value; /* leading and trailing blanks removed */
    size_t value_len;
};

struct ds_http_request {
    char method[8];   /* GET, POST, ... (NUL-terminated) */
    const char *path; /* borrow: the target up to '?' */
    size_t path_len;
    const char *query; /* borrow: after '?', may be empty */
    size_t query_len;
    int minor; /* HTTP/1.minor */
    struct ds_http_header headers[DS_HTTP_MAX_HEADERS];
    size_t nheaders;
    long long content_length; /* -1 when absent */
    size_t head_len;          /* bytes of the request line and headers, blank line included */
};

/* Parses the head of a request from buf[0..len). Returns 1 when the head
 * is complete (req filled, req->head_len set), 0 when more bytes are
 * needed, -1 when the request is refused: *status receives the HTTP status
 * to answer (400, 431, 501, 505). A head longer than max_head bytes is a
 * 431 as soon as that is known. */
int ds_http_parse(const char *buf, size_t len, size_t max_head, struct ds_http_request *req,
                  int *status);

/* The value of header name (case-insensitive), *len its length; NULL if
 * absent. */
const char *ds_http_header(const struct ds_http_request *req, const char *name, size_t *len);

/* Looks up name in s[0..n), a list of `key=value` joined by '&' (query
 * strings and x-www-form-urlencoded bodies), percent- and '+'-decoded into
 * out[size]. 0 when found, DS_ENOTFOUND, DS_ETOOBIG when it does not fit,
 * DS_EINVAL for a bad escape or a decoded NUL. */
int ds_http_param(const char *s, size_t n, const char *name, char *out, size_t size);

/* The value of cookie name in a Cookie header value h[0..n), into
 * out[size]. 0, DS_ENOTFOUND or DS_ETOOBIG. */
int ds_http_cookie(const char *h, size_t n, const char *name, char *out, size_t size);

#endif
