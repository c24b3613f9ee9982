/*
 * daemon.h — `dentsync run`: the service. One libuv loop holds the watcher,
 * the uploader, the signal handlers and the loop's own connection to the
 * queue; ingest runs on libuv's thread pool, one file at a time.
 */
#ifndef DS_DAEMON_H
#define DS_DAEMON_H

#include "agent/core/error.h"
#include "config/config.h"

/* Runs until SIGINT or SIGTERM. Returns 0 after a clean stop; DS_ERELOAD
 * after SIGHUP brought a valid new configuration (call again with it); or
 * a DS_E* code with err set when the service could not start. */
int ds_daemon_run(const struct ds_config *cfg, struct ds_error *err);

/* Takes the state directory's lock (state_dir/agent.lock, flock): one agent
 * per queue. *fd receives the descriptor, kept open for the process's life.
 * DS_EBUSY, with err naming the directory, when another agent holds it. */
int ds_daemon_lock(const struct ds_config *cfg, int *fd, struct ds_error *err);

/* Creates the state directory (0750) if it is missing, and reads the
 * installation's agent id from state_dir/agent-id, creating it on first use.
 * Shared by every command that opens the queue. */
int ds_daemon_prepare_state(const struct ds_config *cfg, char agent_id[37], struct ds_error *err);

#endif
