/*
 * runtime.h — what every process that does the agent's work starts and
 * stops the same way: `dentsync run` (daemon.c) and `dentsync import`
 * without a running agent (agent/cli/cmd_import.c).
 *
 * ds_runtime_start, in this order:
 *
 *   lock     state_dir/agent.lock (flock): one such process per queue;
 *            taken at the first start, kept until ds_runtime_close
 *   state    state_dir created (0750), the installation's agent-id read
 *            or made
 *   queue    queue.db opened (migrations), its damage check (SQLite's
 *            quick_check: a damaged queue is refused with the reason,
 *            before anything writes), then recovery of what a crash cut
 *            short
 *   sweep    after-delivery and quarantine of files the queue finished
 *            with, in case a crash came before the file system's change
 *   loop     the libuv loop, the queue's disk budget for ingest, and the
 *            uploader on the loop (a completed job's file is disposed of)
 *
 * Shutting down is in two halves: ds_runtime_stop from a callback on the
 * loop (uploads in flight are abandoned, re-sent after the next start,
 * which the cloud's replay rule makes safe), then ds_runtime_end once
 * uv_run returned. A reload of `dentsync run` ends and starts again under
 * the same lock, which is why a new configuration may not move state_dir
 * (ds_runtime_reload_ok).
 */
#ifndef DS_RUNTIME_H
#define DS_RUNTIME_H

#include "agent/core/error.h"
#include "agent/core/fsafe.h"
#include "agent/core/hash.h"
#include "agent/service/ingest.h"
#include "agent/upload/upload.h"
#include "config/config.h"
#include "state/store.h"

#include <stdatomic.h>
#include <stdint.h>
#include <uv.h>

/* Embedded in its owner; ds_runtime_init before anything else. */
struct ds_runtime {
    int lock_fd;                 /* state_dir/agent.lock while held, else -1 */
    int http;                    /* libcurl's global set-up done */
    const struct ds_config *cfg; /* borrow: the configuration of this start */
    char agent_id[DS_UUID_LEN];  /* this installation */
    struct ds_store *store;      /* the loop thread's connection to the queue; owned */
    uv_loop_t loop;              /* the one loop */
    int loop_open;               /* loop initialised: ds_runtime_end closes it */
    struct ds_uploader *up;      /* owned; NULL once stopped */
    atomic_int stop;             /* set non-zero: a running ingest stops at its next commit */
    int dispose_busy;            /* delivered files another program held open at the last try */
};

void ds_runtime_init(struct ds_runtime *rt);

/* Starts the runtime for cfg (borrowed until ds_runtime_end), taking the
 * lock when rt does not hold it yet. 0, or a DS_E* code with err saying
 * why, everything this call opened closed again (the lock stays):
 * DS_EBUSY with rt->lock_fd still -1 when another process holds the lock;
 * DS_ECORRUPT for a damaged queue; DS_EINVAL when rt holds the lock of
 * another state_dir. */
int ds_runtime_start(struct ds_runtime *rt, const struct ds_config *cfg, struct ds_error *err);

/* Fills the inputs of an ingest of path (as settled: id) with the
 * settings of folder, stoppable through rt->stop; file_id 0, no hash. */
void ds_runtime_task(struct ds_runtime *rt, struct ds_ingest_task *t,
                     const struct ds_folder_conf *folder, const char *path,
                     const struct ds_file_id *id);

/* From a callback on the loop: the uploader is freed and its handles
 * close. Idempotent. */
void ds_runtime_stop(struct ds_runtime *rt);

/* After uv_run returned (or to give up after a start): stops what is left,
 * runs the loop until its last handle closed, closes it, closes the queue.
 * The lock stays for the next start. Idempotent. */
void ds_runtime_end(struct ds_runtime *rt);

/* ds_runtime_end, then the lock and libcurl's global state released. */
void ds_runtime_close(struct ds_runtime *rt);

/* 1 when next may replace the running configuration: it keeps the state
 * directory whose lock rt holds. Otherwise 0, with STATE_DIR_CHANGED
 * logged: the queue, its lock and the control socket stay where they are. */
int ds_runtime_reload_ok(const struct ds_runtime *rt, const struct ds_config *next);

#endif
