/*
 * daemon.h — `dentsync run`: the service. One libuv loop holds the watcher,
 * the uploader, the signal handlers and the loop's own connection to the
 * queue; ingest runs on libuv's thread pool, one file at a time. What it
 * starts on (the lock, the queue, the loop, the uploader) is the runtime's
 * (runtime.h).
 */
#ifndef DS_DAEMON_H
#define DS_DAEMON_H

#include "agent/core/error.h"
#include "agent/service/runtime.h"
#include "config/config.h"

/* Starts rt with cfg (taking the state directory's lock at the first call)
 * and runs until SIGINT or SIGTERM; rt is ended again before it returns,
 * its lock kept. Returns 0 after a clean stop; DS_ERELOAD after SIGHUP
 * brought a valid new configuration (call again with it, after
 * ds_runtime_reload_ok); or a DS_E* code with err set when the service
 * could not start. */
int ds_daemon_run(struct ds_runtime *rt, const struct ds_config *cfg, struct ds_error *err);

#endif
