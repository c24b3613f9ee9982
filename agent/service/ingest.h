/*
 * ingest.h — one settled file, from bytes to staged rows in the queue:
 * hash -> duplicate check -> template -> read -> map -> stage -> cut batches.
 *
 * A template whose route rules send rows to templates of other import
 * types makes one job per type on the same file (state/store_route.c): the
 * file is read once per job, each job holds an item for every data row
 * (the rows of its siblings as `skipped`), and the jobs are staged in one
 * transaction.
 *
 * ds_ingest_run is synchronous and meant for a worker thread (the daemon
 * runs it with uv_queue_work): it touches no libuv handle and opens its own
 * connection to the queue. Rows are committed in chunks while the job is
 * `staging`; a crash or a stop request in the middle leaves a `staging` job
 * that start-up recovery clears, and the file is ingested again from the
 * start — so a file is staged completely or not at all.
 */
#ifndef DS_INGEST_H
#define DS_INGEST_H

#include "agent/core/error.h"
#include "agent/core/hash.h"
#include "config/config.h"

#include <stdatomic.h>
#include <stdint.h>

/* Jobs one file can make: one per import type. */
#define DS_INGEST_MAX_JOBS 4

struct ds_ingest_task {
    /* in */
    const struct ds_config *cfg;         /* borrow, read-only */
    const struct ds_folder_conf *folder; /* borrow, read-only */
    char path[4096];                     /* the file */
    int64_t size;                        /* as settled */
    int64_t mtime_ns;                    /* as settled */
    int64_t dev, ino;                    /* as settled; 0 when not known */
    int64_t file_id;                     /* its queue row, or 0 for a file not yet recorded */
    char sha256[DS_SHA256_HEX];          /* its content hash when file_id != 0 */
    atomic_int *stop;                    /* set non-zero to abandon; may be NULL */

    /* out */
    int rc;                                /* 0, or why nothing was staged */
    int duplicate;                         /* the content was taken before */
    int held_again;                        /* the held file it was, unchanged but for mtime */
    int quarantined;                       /* the file was refused, see err */
    int held;                              /* the file waits for an admin (set by the daemon) */
    char held_code[32];                    /* and why */
    char job_id[DS_UUID_LEN];              /* the job created */
    long rows, valid, invalid, duplicates; /* counts staged */
    long unchanged, skipped, deletions;    /* delta: as synced, skipped by a rule, deletions */
    struct ds_error err;                   /* details when rc != 0 or quarantined */

    /* The jobs staged: one, or one per import type when the template routes
     * rows (job_ids[0] is job_id, of the folder's type). The counts above
     * are summed over them, a routed row counted in its own job only. */
    int njobs;
    char job_ids[DS_INGEST_MAX_JOBS][DS_UUID_LEN];
    char job_types[DS_INGEST_MAX_JOBS][16];
};

/* Runs the task; the result is in the task. Returns t->rc:
 * 0 (staged, duplicate or quarantined — see the flags), DS_EBUSY (the file
 * changed while it was hashed, or its name no longer leads to the regular
 * file that settled: the watcher will settle it again), DS_ESTOP,
 * or an error of the queue itself (DS_ESTORE, DS_ENOMEM), which leaves the
 * file to be retried. */
int ds_ingest_run(struct ds_ingest_task *t);

#endif
