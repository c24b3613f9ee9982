/*
 * probe.c — `dentsync doctor`'s requests to the cloud (probe.h), with
 * libcurl's easy interface and the uploader's settings: TLS peers always
 * verified, no redirects, http and https only.
 */
#include "agent/upload/probe.h"

#include "agent/core/alloc.h"
#include "agent/core/clock.h"
#include "agent/core/version.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>
#include <time.h>

#define PROBE_BODY_MAX 8192

struct probe_buf {
    char body[PROBE_BODY_MAX]; /* the start of the body, NUL-terminated */
    size_t len;
    double date; /* the Date header, 0 if none */
};

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
    struct probe_buf *b = ctx;
    size_t len = size * n;
    size_t room = sizeof(b->body) - 1 - b->len;
    size_t take = len < room ? len : room;

    memcpy(b->body + b->len, p, take);
    b->len += take;
    b->body[b->len] = '\0';
    return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
    struct probe_buf *b = ctx;
    size_t len = size * n;
    char value[128];
    time_t t;

    if (len > 5 && len < sizeof(value) + 5 && strncasecmp(p, "date:", 5) == 0) {
        memcpy(value, p + 5, len - 5);
        value[len - 5] = '\0';
        t = curl_getdate(value, NULL);
        if (t > 0) {
            b->date = (double)t;
        }
    }
    return len;
}

static int classify(CURLcode cc)
{
    switch (cc) {
    case CURLE_OK:
        return DS_PROBE_OK;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return DS_PROBE_DNS;
    case CURLE_COULDNT_CONNECT:
        return DS_PROBE_CONNECT;
    case CURLE_OPERATION_TIMEDOUT:
        return DS_PROBE_TIMEOUT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
        return DS_PROBE_TLS;
    default:
        return DS_PROBE_OTHER;
    }
}

int ds_probe_get(const struct ds_config *cfg, const char *path, const char *token,
                 struct ds_probe_result *out)
{
    struct probe_buf *buf = NULL;
    struct curl_slist *headers = NULL;
    char errbuf[CURL_ERROR_SIZE];
    char url[2048];
    char auth[1100];
    CURL *easy = NULL;
    json_t *doc = NULL;
    CURLcode cc;
    double start;
    int n;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    errbuf[0] = '\0';
    auth[0] = '\0';
    n = snprintf(url, sizeof(url), "%s%s", cfg->cloud_url, path);
    if (n < 0 || (size_t)n >= sizeof(url)) {
        return DS_EINVAL;
    }
    buf = ds_calloc(1, sizeof(*buf));
    easy = curl_easy_init();
    if (buf == NULL || easy == NULL) {
        rc = DS_ENOMEM;
        goto out;
    }
    if (token != NULL) {
        n = snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        if (n < 0 || (size_t)n >= sizeof(auth)) {
            rc = DS_EINVAL;
            goto out;
        }
        headers = curl_slist_append(NULL, auth);
        if (headers == NULL) {
            rc = DS_ENOMEM;
            goto out;
        }
    }
    curl_easy_setopt(easy, CURLOPT_URL, url);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, buf);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, buf);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)(cfg->timeout_seconds * 1000.0));
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(cfg->connect_timeout_seconds * 1000.0));
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, "dentsync-agent/" DS_VERSION " (doctor)");
    if (cfg->ca_file != NULL) {
        curl_easy_setopt(easy, CURLOPT_CAINFO, cfg->ca_file);
    }
    if (cfg->proxy != NULL) {
        curl_easy_setopt(easy, CURLOPT_PROXY, cfg->proxy);
    }
    start = ds_clock_now();
    cc = curl_easy_perform(easy);
    out->seconds = ds_clock_now() - start;
    out->local_date = start + out->seconds / 2;
    out->fail = classify(cc);
    if (cc != CURLE_OK) {
        snprintf(out->error, sizeof(out->error), "%s",
                 errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc));
        goto out;
    }
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &out->status);
    out->server_date = buf->date;
    doc = json_loads(buf->body, 0, NULL);
    if (doc != NULL) {
        const char *code =
            json_string_value(json_object_get(json_object_get(doc, "error"), "code"));

        if (code != NULL) {
            snprintf(out->error_code, sizeof(out->error_code), "%s", code);
        }
    }
out:
    json_decref(doc);
    curl_slist_free_all(headers);
    curl_easy_cleanup(easy);
    ds_free(buf);
    /* The token was in auth: leave no copy on the stack. */
    memset(auth, 0, sizeof(auth));
    return rc;
}
