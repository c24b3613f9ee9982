/*
 * web.h — the local status page, served by the running agent on its loop
 * (docs/web.md).
 *
 * A small HTTP/1.1 server on a uv_tcp_t, bound to [web] listen:port
 * (127.0.0.1 by default; a loopback address only), one request per
 * connection. It
 * serves the page's HTML, CSS and JS, embedded in the binary at build time,
 * and a JSON API over the queue: the overview that `dentsync status`
 * shows, the job history and each job's errors, held and quarantined files,
 * and the actions sync-now, retry, preview and import of a dropped file.
 *
 * Only a logged-in browser gets anything but the page's static files: a
 * session comes from a one-time link (ds_web_link, printed by `dentsync
 * web-url`, with the rights the control socket gives its asker) or the
 * login secret. It listens on loopback only: it has no TLS. Every POST
 * carries the session's CSRF token; every answer says Cache-Control:
 * no-store. Values from export
 * files appear only in answers to a logged-in session, never in a URL or
 * a log line.
 */
#ifndef DS_WEB_WEB_H
#define DS_WEB_WEB_H

#include "agent/service/control.h"
#include "agent/core/error.h"
#include "config/config.h"
#include "state/store.h"

#include <stddef.h>
#include <uv.h>

struct ds_web; /* opaque */

/* Listens on cfg's [web] address and port. store is the loop thread's
 * queue connection (borrow; it must outlive the server); ops are the
 * agent's sync-now and status (copied). new: free with ds_web_free. On
 * failure (port taken, unreadable secret_file) nothing is left open and
 * err says why. */
int ds_web_new(uv_loop_t *loop, const struct ds_config *cfg, struct ds_store *store,
               const struct ds_control_ops *ops, struct ds_web **out, struct ds_error *err);

/* Closes the listener, every connection and every child process (run the
 * loop afterwards), and removes the files dropped but not imported.
 * NULL-safe. */
void ds_web_free(struct ds_web **w);

/* Mints a one-time login link, "http://ADDRESS:PORT/login?t=TOKEN", into
 * url[size]. full: its session may change the queue and import (asked by
 * root or the service's user); otherwise it may look and sync only. */
int ds_web_link(struct ds_web *w, int full, char *url, size_t size);

#endif
