/*
 * store_admin.h — what waits for an admin and what keeps the queue small:
 * held files, the `retry` command, the disk budget and retention
 * (store_admin.c, store_stats.c).
 */
#ifndef DS_STATE_STORE_ADMIN_H
#define DS_STATE_STORE_ADMIN_H

#include "state/store.h"

/* Why a file is `held`: it waits for an admin (`dentsync retry`), in place. */
#define DS_HOLD_NO_TEMPLATE "NO_TEMPLATE"       /* no template matched the header */
#define DS_HOLD_SNAPSHOT "SNAPSHOT_SANITY"      /* a full snapshot lost too many keys */
#define DS_HOLD_DISK_BUDGET "DISK_BUDGET"       /* the queue is over max_queue_mb */
#define DS_HOLD_AMBIGUOUS_TYPE "AMBIGUOUS_TYPE" /* import_type auto: two types fit equally */

/* Holds a file for an admin: `detected` or `staging` -> `held`, with a code
 * (DS_HOLD_* or another) and a message without patient data. A job of the
 * file in `staging` is deleted with its items, so a retry ingests the file
 * again from the start. Event `file_held`. DS_EINVAL from any other state. */
int ds_store_file_hold(struct ds_store *st, int64_t file_id, const char *code, const char *reason);

/* An ingest cut short while the agent runs (no space left): the file's jobs
 * still `staging` (one per import type it routes to) are deleted with their
 * items and the file goes back to `detected`, in one transaction. A file in
 * another state is left alone. 0 or a DS_E code (DS_EFULL while there is
 * still no space). */
int ds_store_file_unstage(struct ds_store *st, int64_t file_id);

/* An admin's retry of a held file: `held` -> `detected`, the reason
 * cleared, files.admin_retries + 1, the retry generation + 1. Event
 * `file_retried`. DS_EINVAL unless the file is held, DS_ENOTFOUND if no
 * such file. */
int ds_store_file_retry(struct ds_store *st, int64_t file_id);

/* How many times an admin retried the file (a check that held it may let
 * it through on a retry). */
int ds_store_file_admin_retries(struct ds_store *st, int64_t file_id, int *retries);

/* The newest file row with this path: *file_id, and its state into
 * state[size] (may be NULL). DS_ENOTFOUND if none. */
int ds_store_file_find(struct ds_store *st, const char *path, int64_t *file_id, char *state,
                       size_t size);

/* An admin's retry of rejected batches: each `rejected` batch of job_id (of
 * every job when job_id is NULL) whose job is still `uploading` goes back to
 * `pending`, its rejected items back to `valid` (error cleared); the retry
 * generation + 1; event `batch_retried` per batch. *batches (may be NULL)
 * receives the count; *completed (may be NULL) the number of rejected
 * batches left alone because their job is completed already (the cloud
 * takes no new batch on a completed job). */
int ds_store_batches_retry_rejected(struct ds_store *st, const char *job_id, long *batches,
                                    long *completed);

/* A counter that grows with every admin retry (files and batches) and with
 * every file the disk budget releases. A running agent reads it on each
 * rescan: when it grew, it walks ds_store_files_detected again and kicks the
 * uploader. One indexed read. */
int ds_store_retry_generation(struct ds_store *st, int64_t *generation);

/* The disk budget of this connection, in bytes (0: none). With a budget,
 * ds_store_file_add records a new file `held` (DISK_BUDGET) instead of
 * `detected` while the queue uses more than it, and ds_store_purge releases
 * such files once it uses less. Not stored: each connection sets it. */
int ds_store_set_budget(struct ds_store *st, int64_t max_bytes);

/* The bytes the queue database uses: its pages but the free ones (the WAL
 * not counted). */
int ds_store_size(struct ds_store *st, int64_t *bytes);

/* 1 if the file is `held`, 0 if not, negative on error. */
int ds_store_file_held(struct ds_store *st, int64_t file_id);

/* Retention: strips the patient data (record, raw) of the items of batches
 * acknowledged more than retention_days before now, and of the items decided
 * locally (invalid, duplicate) of jobs completed that long ago or still
 * uploading with no activity (staged, a batch's change) for that long; key,
 * fingerprint, status and codes stay for the delta, the digest and the
 * job's state. Items still to deliver (a pending or rejected batch's) keep
 * their data. In transactions of a few
 * batches each. Then gives up to a bounded number of free pages back to the
 * file system (PRAGMA incremental_vacuum), and releases files held for the
 * disk budget if the queue is under it again. *purged (may be NULL) receives
 * the number of items stripped. retention_days 0 purges everything
 * acknowledged. */
int ds_store_purge(struct ds_store *st, double now, int retention_days, long *purged);

/* Gives at most max_pages free pages back to the file system (PRAGMA
 * incremental_vacuum); *freed (may be NULL) receives how many. */
int ds_store_vacuum(struct ds_store *st, long max_pages, long *freed);

/* Makes every batch waiting for a retry due now (an admin's sync-now).
 * *woken (may be NULL) receives how many. */
int ds_store_batches_wake(struct ds_store *st, int *woken);

#endif
