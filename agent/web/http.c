/*
 * http.c — the request parser of the status page (see http.h).
 *
 * The parser walks the buffer once per call, from the start: requests are
 * small (the head is bounded by max_head, a few KiB), so re-reading what
 * came before is cheaper than keeping a resumable state, and a pure
 * function of (buf, len) is what the fuzz target and the unit tests drive.
 * Every index is checked against len before it is read.
 */
#include "agent/web/http.h"

#include "agent/core/error.h"

#include <string.h>
#include <strings.h>

/* RFC 9110 tchar: what a method or a header name may hold. */
static int is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
        return 1;
    }
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* The end of the line starting at i: the index of its CR (followed by LF).
 * Returns 1 and *end when found, 0 when the buffer ends first, -1 for a
 * bare CR or LF. */
static int line_end(const char *buf, size_t len, size_t i, size_t *end)
{
    for (size_t j = i; j < len; j++) {
        if (buf[j] == '\n') {
            return -1;
        }
        if (buf[j] == '\r') {
            if (j + 1 >= len) {
                return 0;
            }
            if (buf[j + 1] != '\n') {
                return -1;
            }
            *end = j;
            return 1;
        }
    }
    return 0;
}

static int refuse(int *status, int code)
{
    *status = code;
    return -1;
}

static int parse_request_line(const char *buf, size_t end, struct ds_http_request *req, int *status)
{
    size_t i = 0;
    size_t t0;
    size_t n;

    while (i < end && is_tchar((unsigned char)buf[i])) {
        i++;
    }
    if (i == 0 || i >= sizeof(req->method) || i >= end || buf[i] != ' ') {
        return refuse(status, 400);
    }
    memcpy(req->method, buf, i);
    req->method[i] = '\0';
    t0 = ++i;
    while (i < end && buf[i] != ' ') {
        unsigned char c = (unsigned char)buf[i];

        if (c <= 0x20 || c >= 0x7f) {
            return refuse(status, 400);
        }
        i++;
    }
    n = i - t0;
    if (n == 0 || buf[t0] != '/' || i >= end) {
        return refuse(status, 400);
    }
    if (n > DS_HTTP_MAX_TARGET) {
        return refuse(status, 414);
    }
    req->path = buf + t0;
    req->path_len = n;
    req->query = buf + t0 + n;
    req->query_len = 0;
    for (size_t k = 0; k < n; k++) {
        if (buf[t0 + k] == '?') {
            req->path_len = k;
            req->query = buf + t0 + k + 1;
            req->query_len = n - k - 1;
            break;
        }
    }
    i++; /* the space */
    if (end - i != 8 || memcmp(buf + i, "HTTP/1.", 7) != 0) {
        return refuse(status, end - i >= 5 && memcmp(buf + i, "HTTP/", 5) == 0 ? 505 : 400);
    }
    if (buf[i + 7] != '0' && buf[i + 7] != '1') {
        return refuse(status, 505);
    }
    req->minor = buf[i + 7] - '0';
    return 0;
}

/* Content-Length: 1 to 15 digits, nothing else. */
static int parse_length(const char *v, size_t n, long long *out)
{
    long long x = 0;

    if (n == 0 || n > 15) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9') {
            return -1;
        }
        x = x * 10 + (v[i] - '0');
    }
    *out = x;
    return 0;
}

static int parse_header(const char *buf, size_t i, size_t end, struct ds_http_request *req,
                        int *status)
{
    struct ds_http_header *h;
    size_t j = i;
    size_t v0;
    size_t v1;

    if (buf[i] == ' ' || buf[i] == '\t') {
        return refuse(status, 400); /* obs-fold */
    }
    while (j < end && is_tchar((unsigned char)buf[j])) {
        j++;
    }
    if (j == i || j >= end || buf[j] != ':') {
        return refuse(status, 400);
    }
    if (req->nheaders == DS_HTTP_MAX_HEADERS) {
        return refuse(status, 431);
    }
    v0 = j + 1;
    while (v0 < end && (buf[v0] == ' ' || buf[v0] == '\t')) {
        v0++;
    }
    v1 = end;
    while (v1 > v0 && (buf[v1 - 1] == ' ' || buf[v1 - 1] == '\t')) {
        v1--;
    }
    for (size_t k = v0; k < v1; k++) {
        unsigned char c = (unsigned char)buf[k];

        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            return refuse(status, 400);
        }
    }
    h = &req->headers[req->nheaders++];
    h->name = buf + i;
    h->name_len = j - i;
    h->value = buf + v0;
    h->value_len = v1 - v0;
    if (h->name_len == 17 && strncasecmp(h->name, "transfer-encoding", 17) == 0) {
        return refuse(status, 501);
    }
    if (h->name_len == 14 && strncasecmp(h->name, "content-length", 14) == 0) {
        long long n = 0;

        if (parse_length(h->value, h->value_len, &n) != 0 ||
            (req->content_length >= 0 && req->content_length != n)) {
            return refuse(status, 400);
        }
        req->content_length = n;
    }
    return 0;
}

int ds_http_parse(const char *buf, size_t len, size_t max_head, struct ds_http_request *req,
                  int *status)
{
    size_t scan = len < max_head ? len : max_head;
    size_t end = 0;
    size_t i;
    int rc;

    memset(req, 0, sizeof(*req));
    req->content_length = -1;
    *status = 0;
    rc = line_end(buf, scan, 0, &end);
    if (rc < 0) {
        return refuse(status, 400);
    }
    if (rc == 0) {
        return len >= max_head ? refuse(status, 431) : 0;
    }
    if (parse_request_line(buf, end, req, status) != 0) {
        return -1;
    }
    i = end + 2;
    for (;;) {
        rc = line_end(buf, scan, i, &end);
        if (rc < 0) {
            return refuse(status, 400);
        }
        if (rc == 0) {
            return len >= max_head ? refuse(status, 431) : 0;
        }
        if (end == i) {
            break;
        }
        if (parse_header(buf, i, end, req, status) != 0) {
            return -1;
        }
        i = end + 2;
    }
    req->head_len = end + 2;
    if (req->minor == 1 && ds_http_header(req, "host", NULL) == NULL) {
        return refuse(status, 400);
    }
    return 1;
}

const char *ds_http_header(const struct ds_http_request *req, const char *name, size_t *len)
{
    size_t n = strlen(name);

    for (size_t i = 0; i < req->nheaders; i++) {
        const struct ds_http_header *h = &req->headers[i];

        if (h->name_len == n && strncasecmp(h->name, name, n) == 0) {
            if (len != NULL) {
                *len = h->value_len;
            }
            return h->value;
        }
    }
    return NULL;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Decodes v[0..n) into out[size]. */
static int decode(const char *v, size_t n, char *out, size_t size)
{
    size_t o = 0;

    if (size == 0) {
        return DS_ETOOBIG;
    }
    for (size_t i = 0; i < n; i++) {
        char c = v[i];

        if (c == '+') {
            c = ' ';
        }
        else if (c == '%') {
            int hi;
            int lo;

            if (i + 2 >= n) {
                return DS_EINVAL;
            }
            hi = hexval(v[i + 1]);
            lo = hexval(v[i + 2]);
            if (hi < 0 || lo < 0) {
                return DS_EINVAL;
            }
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (c == '\0') {
            return DS_EINVAL;
        }
        if (o + 1 >= size) {
            out[0] = '\0';
            return DS_ETOOBIG;
        }
        out[o++] = c;
    }
    out[o] = '\0';
    return 0;
}

int ds_http_param(const char *s, size_t n, const char *name, char *out, size_t size)
{
    size_t klen = strlen(name);
    size_t i = 0;

    while (i < n) {
        size_t j = i;
        size_t eq;

        while (j < n && s[j] != '&') {
            j++;
        }
        eq = i;
        while (eq < j && s[eq] != '=') {
            eq++;
        }
        if (eq - i == klen && memcmp(s + i, name, klen) == 0) {
            return decode(eq < j ? s + eq + 1 : s + j, eq < j ? j - eq - 1 : 0, out, size);
        }
        i = j + 1;
    }
    return DS_ENOTFOUND;
}

int ds_http_cookie(const char *h, size_t n, const char *name, char *out, size_t size)
{
    size_t klen = strlen(name);
    size_t i = 0;

    while (i < n) {
        size_t j;
        size_t eq;

        while (i < n && (h[i] == ' ' || h[i] == '\t')) {
            i++;
        }
        j = i;
        while (j < n && h[j] != ';') {
            j++;
        }
        eq = i;
        while (eq < j && h[eq] != '=') {
            eq++;
        }
        if (eq < j && eq - i == klen && memcmp(h + i, name, klen) == 0) {
            size_t vlen = j - eq - 1;

            while (vlen > 0 && (h[eq + vlen] == ' ' || h[eq + vlen] == '\t')) {
                vlen--;
            }
            if (vlen + 1 > size) {
                return DS_ETOOBIG;
            }
            memcpy(out, h + eq + 1, vlen);
            out[vlen] = '\0';
            return 0;
        }
        i = j + 1;
    }
    return DS_ENOTFOUND;
}
