/*
 * http.h — the HTTP server of `dentsync-cloud serve` (libmicrohttpd).
 */
#ifndef DSC_HTTP_H
#define DSC_HTTP_H

/* Checks that db_url connects as a role allowed to serve (see
 * dsc_schema_check_app_role), then serves the v1 API on listen
 * ("HOST:PORT", "[IPv6]:PORT") with at most pool_size database connections,
 * until SIGINT or SIGTERM. Returns 0 after a clean stop, DSC_EPERM when the
 * role is refused, DSC_EUNAVAIL when the database cannot be reached at
 * start, DSC_EINVAL for a bad listen address, DSC_EIO when it cannot
 * listen. Call it from the main thread, before any other thread exists. */
int dsc_http_serve(const char *db_url, const char *listen, int pool_size);

#endif
