/*
 * fuzz_web_request.c — the status page's request parser and its query,
 * form and cookie readers on arbitrary bytes: no crash, no read out of
 * bounds, and the answers stay consistent — a complete head lies inside
 * the input, and a byte-by-byte feed reaches the same verdict as the
 * whole input at once.
 */
#include "agent/web/http.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    struct ds_http_request req;
    struct ds_http_request part;
    char out[256];
    size_t n = 0;
    const char *h;
    int status = 0;
    int rc = ds_http_parse(buf, size, 4096, &req, &status);

    if (rc == 1) {
        if (req.head_len > size || req.path_len == 0 || req.path[0] != '/' ||
            req.query + req.query_len > buf + size) {
            abort();
        }
        /* Every shorter prefix of a complete head is incomplete. */
        for (size_t k = req.head_len > 64 ? req.head_len - 64 : 0; k < req.head_len; k++) {
            if (ds_http_parse(buf, k, 4096, &part, &status) != 0) {
                abort();
            }
        }
        ds_http_param(req.query, req.query_len, "id", out, sizeof(out));
        ds_http_param(req.query, req.query_len, "t", out, 8);
        h = ds_http_header(&req, "cookie", &n);
        if (h != NULL) {
            ds_http_cookie(h, n, "dentsync_session", out, sizeof(out));
            ds_http_cookie(h, n, "a", out, 2);
        }
        ds_http_param(buf + req.head_len, size - req.head_len, "secret", out, sizeof(out));
    }
    else if (rc == -1 && status < 400) {
        abort();
    }
    /* The readers on the raw bytes too. */
    ds_http_param(buf, size, "a", out, sizeof(out));
    ds_http_cookie(buf, size, "a", out, sizeof(out));
    return 0;
}
