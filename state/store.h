/*
 * store.h — the local queue: the agent's single source of truth.
 *
 * The only code in dentsync that opens SQLite. One struct ds_store is one
 * connection: the loop thread has its own, and each ingest (run off the loop
 * with uv_queue_work) opens its own; WAL mode lets them work side by side.
 * Every state change is one transaction, so a crash at any instant resumes
 * exactly where it stopped (docs/states.md has the state machines).
 *
 * Patient data lives only in items.record and items.raw. Nothing this module
 * logs or records in the events table carries it: events hold ids, row
 * numbers, counts and codes.
 *
 * Times are seconds since the Unix epoch as doubles (wall clock).
 *
 * The interface is split by who calls it, as the .c files are:
 *   store.h         opening, recovery, transactions, counts, the audit log (all)
 *   store_ingest.h  files and staging (the watcher, the ingest thread)
 *   store_delta.h   what was synced before (ingest, preview, resync)
 *   store_upload.h  batches through delivery (the uploader, loop thread)
 *   store_admin.h   held files, retries, disk budget, retention (admin, daemon)
 *   store_status.h  read-only views (the command line, the web page)
 */
#ifndef DS_STATE_STORE_H
#define DS_STATE_STORE_H

#include "agent/core/error.h"
#include "agent/core/hash.h"

#include <stddef.h>
#include <stdint.h>

struct ds_store; /* opaque: one SQLite connection */

/* The mode of queue.db and its -wal and -shm: the service user writes, the
 * dentsync group reads (the read-only commands); others never reach it. */
#define DS_STORE_MODE 0640

/* ---- opening ------------------------------------------------------------ */

/* Opens (creating it DS_STORE_MODE if needed) the database at path, sets WAL and a
 * busy timeout, and applies the numbered migrations in state/migrations
 * (PRAGMA user_version). new: close with ds_store_close.
 * DS_ESTORE / DS_ECORRUPT with err->msg saying what SQLite said. */
int ds_store_open(const char *path, struct ds_store **out, struct ds_error *err);

/* NULL-safe; sets *st to NULL. */
void ds_store_close(struct ds_store **st);

/* The schema version in force (the number of migrations applied). */
int ds_store_schema_version(struct ds_store *st);

/* SQLite's quick_check over the whole file (it reads every page once):
 * 0 when the queue is sound, DS_ECORRUPT with the first problem in err
 * when it is damaged, or the error that stopped the check. Changes
 * nothing. `dentsync run` calls it at start, before recovery writes. */
int ds_store_check(struct ds_store *st, struct ds_error *err);

/* Start-up recovery, run once by the loop before anything else:
 *  - a job still `staging` was cut short by a crash: its items and batches
 *    are deleted, the job row too, and its file goes back to `detected`
 *    so it is ingested again from the start;
 *  - a batch `in_flight` goes back to `pending` (the cloud's replay rule makes
 *    sending it again safe).
 * *restaged and *requeued (may be NULL) receive the counts. */
int ds_store_recover(struct ds_store *st, int *restaged, int *requeued);

/* A transaction of the caller's around many changes: ingest adds a job's
 * items in transactions of any size it picks (a few thousand rows). */
int ds_store_tx_begin(struct ds_store *st);
int ds_store_tx_commit(struct ds_store *st);
int ds_store_tx_rollback(struct ds_store *st);

/* ---- counts and the audit trail ----------------------------------------- */

/* Counts of a job's batches by state, to decide what to do next. */
struct ds_batch_counts {
    long pending, in_flight, retry_wait, acked, rejected;
};
int ds_store_job_batch_counts(struct ds_store *st, const char *job_id, struct ds_batch_counts *out);

/* Item counts of a job by status. */
struct ds_item_counts {
    long total, valid, invalid, duplicate, sent, created, updated, unchanged, conflict,
        needs_review, rejected;
    long skipped, deleted; /* skipped by a template rule; deleted by a deletion row */
};
int ds_store_job_item_counts(struct ds_store *st, const char *job_id, struct ds_item_counts *out);

/* Appends an event (ids and codes only). Any argument but kind may be
 * NULL / 0. */
int ds_store_event(struct ds_store *st, const char *kind, int64_t file_id, const char *job_id,
                   long seq, const char *code, const char *detail);

#endif
