/*
 * probe.h — one blocking request to the cloud for `dentsync doctor`: can
 * the name be resolved, a connection made, the certificate verified, the
 * token accepted, and how far apart are the clocks?
 *
 * It lives in upload/ because only that module talks to the cloud, and it
 * makes its requests as the uploader does (the config's CA bundle, proxy
 * and timeouts, TLS peers always verified, no redirects). It uses libcurl's
 * easy interface: doctor runs outside the loop. The token is sent, never
 * kept or printed.
 */
#ifndef DS_UPLOAD_PROBE_H
#define DS_UPLOAD_PROBE_H

#include "agent/core/error.h"
#include "config/config.h"

/* What went wrong before an HTTP answer came. */
enum ds_probe_fail {
    DS_PROBE_OK = 0,      /* an HTTP answer came (any status) */
    DS_PROBE_DNS = 1,     /* the host name (or proxy) could not be resolved */
    DS_PROBE_CONNECT = 2, /* no connection: refused, unreachable, firewall */
    DS_PROBE_TLS = 3,     /* TLS failed: certificate not trusted, wrong name, handshake */
    DS_PROBE_TIMEOUT = 4, /* no answer in time */
    DS_PROBE_OTHER = 5,   /* anything else (message in error) */
};

struct ds_probe_result {
    int fail;            /* enum ds_probe_fail */
    long status;         /* HTTP status, 0 when no answer came */
    char error[256];     /* libcurl's message when fail != 0 */
    char error_code[64]; /* the code of a JSON error body, "" if none */
    double server_date;  /* the answer's Date header (epoch seconds), 0 if none */
    double local_date;   /* our clock half way through the request */
    double seconds;      /* how long the request took */
};

/* GET cfg->cloud_url + path, with the bearer token when token is not
 * NULL. 0 when the request was made (out says how it went, even a
 * failure to connect), DS_ENOMEM or DS_EINVAL otherwise. */
int ds_probe_get(const struct ds_config *cfg, const char *path, const char *token,
                 struct ds_probe_result *out);

#endif
