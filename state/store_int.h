/*
 * store_int.h — what the store's files share and nobody else sees.
 *
 * The store is split by who calls it, one public header per caller:
 *   store.c         open, migrations, transactions, recovery, the audit log,
 *                   the rows several transitions share (store.h)
 *   store_ingest.c  files and staging: the watcher, the ingest thread;
 *                   store_route.c the jobs of rows routed to another import
 *                   type, store_rowerr.c a cut row's code (store_ingest.h)
 *   store_delta.c   what was synced before (store_delta.h)
 *   store_upload.c  batches through delivery on the loop thread;
 *                   store_split.c a batch too large cut in two (store_upload.h)
 *   store_admin.c   held files, an admin's retries, the disk budget, the
 *                   purge (store_admin.h)
 *   store_status.c  read-only views for the command line and the web page;
 *                   store_stats.c and store_errors.c the same (store_status.h)
 *   store_stmt.c    the statement helper below, used by all of them
 * They share one struct ds_store and the helpers below; only these files
 * open the database (agent/core/alloc.c includes sqlite3.h too, to hand
 * SQLite the counting allocator of the test mode, and opens nothing).
 *
 * Every query of the tables runs through store_stmt.c (PRAGMAs and
 * transaction control are constant SQL that store.c runs): ds__store_row (a
 * query of one row), ds__store_exec (a statement of no row),
 * ds__store_prep, ds__store_next (or ds__store_step and ds__store_cols) and
 * ds__store_done for a walk over many rows, or ds__store_each for a walk of
 * one query per row whose callback may use the store. A query names its
 * SQL, a slot and two formats: the values bound to ?1, ?2, ... and the
 * columns copied out. A statement in a slot of enum ds__store_q is prepared
 * once per connection and kept (SQLITE_PREPARE_PERSISTENT); one run rarely
 * is prepared for the call with DS__Q_ONCE and finalized after it. A SQLite
 * failure takes one path, ds__store_fail: a DS_E code, logged without
 * values. The one exception to the helper is the insert of
 * ds_store_item_add, which binds and steps its cached statement by hand: it
 * runs once per row read, and staging goes at its speed.
 *
 * No SQL text is ever built from a value. A PRAGMA takes no parameter, so
 * three carry an integer of our own in their text: user_version and
 * cache_size (store.c), incremental_vacuum (store_admin.c).
 */
#ifndef DS_STATE_STORE_INT_H
#define DS_STATE_STORE_INT_H

#include "agent/core/buf.h"
#include "state/store.h"
#include "state/store_admin.h"
#include "state/store_delta.h"
#include "state/store_ingest.h"
#include "state/store_status.h"
#include "state/store_upload.h"

#include <sqlite3.h>
#include <stdint.h>

/* The cached statements, one slot each. The SQL text lives next to the code
 * that runs it; the slot is filled on first use. */
enum ds__store_q {
    DS__Q_EVENT,
    DS__Q_FILE_KNOWN,
    DS__Q_FILE_DUP,
    DS__Q_FILE_INSERT,
    DS__Q_FILE_GET,
    DS__Q_FILE_SET_STATE,
    DS__Q_FILE_QUARANTINE,
    DS__Q_FILES_DETECTED,
    DS__Q_FILE_JOBS_STAGING,
    DS__Q_JOB_INSERT,
    DS__Q_JOB_STATE,
    DS__Q_JOB_GET,
    DS__Q_JOB_DELETE_ITEMS,
    DS__Q_JOB_DELETE_BATCHES,
    DS__Q_JOB_DELETE,
    DS__Q_JOB_STAGED,
    DS__Q_JOB_OPENED,
    DS__Q_JOB_COMPLETED,
    DS__Q_JOBS_UPLOADING,
    DS__Q_JOBS_STAGING,
    DS__Q_ITEM_DUP,
    DS__Q_ITEM_ANY,
    DS__Q_ITEM_INSERT,
    DS__Q_ITEM_SCAN,
    DS__Q_ITEM_COUNTS,
    DS__Q_BATCH_INSERT,
    DS__Q_BATCH_ASSIGN,
    DS__Q_BATCH_GET,
    DS__Q_BATCH_COUNTS,
    DS__Q_BATCH_DUE,
    DS__Q_BATCH_NEXT_DUE,
    DS__Q_BATCH_IN_FLIGHT,
    DS__Q_BATCH_ITEMS_SENT,
    DS__Q_BATCH_ROWS,
    DS__Q_BATCH_FILE_UPLOADING,
    DS__Q_BATCH_RESULT,
    DS__Q_BATCH_MISSING,
    DS__Q_BATCH_ACKED,
    DS__Q_BATCH_RETRY,
    DS__Q_BATCH_REJECTED,
    DS__Q_BATCH_ITEMS_REJECTED,
    DS__Q_BATCHES_IN_FLIGHT,
    DS__Q_BATCH_REQUEUE,
    DS__Q_ITEM_ERRORS,
    DS__Q_SYNCED_GET,
    DS__Q_COUNT, /* the number of slots */
    DS__Q_ONCE   /* no slot: prepared for one call and finalized after it */
};

struct ds_store {
    sqlite3 *db;                     /* owned: the connection */
    sqlite3_stmt *stmt[DS__Q_COUNT]; /* owned: cached statements, NULL until used */
    struct ds_sha256 *sha;           /* owned: reused for batch digests */
    int version;                     /* schema version in force */
    int user_tx;                     /* 1 inside ds_store_tx_begin/commit */
    char staging_job[DS_UUID_LEN];   /* last job item_add saw in `staging`, or "" */
    uint64_t *staged_keys;           /* owned: Bloom filter of the valid keys added to
                                        staging_job, or NULL (store_ingest.c) */
    int64_t max_bytes;               /* disk budget of ds_store_set_budget, 0: none */
    char path[256];                  /* for messages: the database file */
};

/* Frees the Bloom filter of the staging job's keys (store_ingest.c). */
void ds__store_staged_keys_free(struct ds_store *st);

/* An item's raw row or record as the object: text itself when it is an
 * object or NULL, else its values paired with names (ds_jsonw_zip with
 * flags) into b, emptied first. *out borrows text or b's data. DS_ECORRUPT
 * (logged, naming the job, the row and what) when the values have no
 * names or do not pair. */
int ds__store_zip(const char *job_id, long row, const char *what, const char *names,
                  const char *text, int flags, struct ds_buf *b, const char **out);

/* Seconds since the Unix epoch, wall clock. */
double ds__store_now(void);

/* Turns a SQLite result code into a DS_E* code and logs what failed (SQLite's
 * messages name tables and columns, never values). */
int ds__store_fail(struct ds_store *st, int sqlite_rc, const char *what);

/* The cached statement for slot q, preparing sql on first use. borrow. */
int ds__store_stmt(struct ds_store *st, enum ds__store_q q, const char *sql, sqlite3_stmt **out);

/* ---- running a statement (store_stmt.c, which has the formats) ---------- */

/* Prepares sql (the cached statement of slot q, or with DS__Q_ONCE one for
 * this call) and binds ?1, ?2, ... from the values after the format `in`.
 * new: release with ds__store_done(q, out). */
int ds__store_prep(struct ds_store *st, enum ds__store_q q, const char *sql, const char *what,
                   sqlite3_stmt **out, const char *in, ...);

/* Resets s and binds its parameters again (a statement stepped in a loop). */
int ds__store_bind(struct ds_store *st, sqlite3_stmt *s, const char *what, const char *in, ...);

/* One step: 1 on a row, 0 at the end, or the DS_E code of the failure. */
int ds__store_step(struct ds_store *st, sqlite3_stmt *s, const char *what);

/* Reads the current row's columns into the pointers after the format out.
 * 0, or DS_ETOOBIG when a text did not fit (the other columns are read). */
int ds__store_cols(sqlite3_stmt *s, const char *out, ...);

/* Resets a slot's statement (finalizes a DS__Q_ONCE one); sets *s to NULL.
 * NULL-safe. */
void ds__store_done(enum ds__store_q q, sqlite3_stmt **s);

/* One step and, on a row, its columns read as ds__store_cols does: 1 on a
 * row, 0 at the end, or the DS_E code (of the step or of the columns). */
int ds__store_next(struct ds_store *st, sqlite3_stmt *s, const char *what, const char *out, ...);

/* The whole sequence for a query of one row: prepare, bind the values of
 * `in`, step, read the columns of `out` (the pointers follow the values),
 * reset. 0, DS_ENOTFOUND when there is no row, or the DS_E code. */
int ds__store_row(struct ds_store *st, enum ds__store_q q, const char *sql, const char *what,
                  const char *in, const char *out, ...);

/* The same for a statement that returns no row: runs it to its end.
 * sqlite3_changes(st->db) says how many rows it changed. */
int ds__store_exec(struct ds_store *st, enum ds__store_q q, const char *sql, const char *what,
                   const char *in, ...);

/* Walks rows one query each: runs the query of one row (as ds__store_row,
 * the statement reset after it), then cb(st, ctx), which may call into the
 * store, again until the query finds no row. A parameter bound with the
 * letter p is read through its pointer at each run: a cursor the callback
 * or the columns move on. 0 at the end, else the first non-zero code of
 * the query or of cb. */
typedef int (*ds__store_each_cb)(struct ds_store *st, void *ctx);
int ds__store_each(struct ds_store *st, enum ds__store_q q, const char *sql, const char *what,
                   ds__store_each_cb cb, void *ctx, const char *in, const char *out, ...);

/* rc, or when rc is 0 the event appended (ds__store_event): the tail of a
 * step that records what it did. */
int ds__store_then_event(struct ds_store *st, int rc, const char *kind, int64_t file_id,
                         const char *job_id, long seq, const char *code, const char *detail);

/* Ends a state change opened with ds__store_begin: commits when rc is 0,
 * else rolls back and returns rc. */
int ds__store_end(struct ds_store *st, int rc);

/* Resets a statement and clears its bindings. NULL-safe. */
void ds__store_reset(sqlite3_stmt *s);

/* Prepares and steps a PRAGMA (or a query of no parameter) for this call
 * only: the SQLite code of the step (SQLITE_ROW with a row). *out is new:
 * sqlite3_finalize. ds__store_pragma_int reads one integer the same way. */
int ds__store_pragma(struct ds_store *st, const char *sql, sqlite3_stmt **out);
int ds__store_pragma_int(struct ds_store *st, const char *sql, int *value);

/* Runs a statement that returns no row to its end. */
int ds__store_run(struct ds_store *st, sqlite3_stmt *s, const char *what);

/* Binds text that may be NULL (NULL binds SQL NULL). */
int ds__store_bind_text(sqlite3_stmt *s, int i, const char *text);

/* Opens the transaction of one state change: BEGIN IMMEDIATE, or a
 * savepoint when the caller holds a transaction of its own
 * (ds_store_tx_begin). Each successful
 * ds__store_begin is followed by exactly one ds__store_commit or
 * ds__store_rollback. */
int ds__store_begin(struct ds_store *st);
int ds__store_commit(struct ds_store *st);
void ds__store_rollback(struct ds_store *st);

/* Opens a state change (ds__store_begin) when args_ok, the caller's check
 * of its arguments; DS_EINVAL without a transaction when not. Inline, so
 * that the analyzer sees a refused call return. */
static inline int ds__store_change(struct ds_store *st, int args_ok)
{
    return args_ok ? ds__store_begin(st) : DS_EINVAL;
}

/* Appends an event inside the current transaction. */
int ds__store_event(struct ds_store *st, const char *kind, int64_t file_id, const char *job_id,
                    long seq, const char *code, const char *detail);

/* Reads a job's state and file id. DS_ENOTFOUND if there is no such job.
 * state (may be NULL) receives at most 24 bytes. */
int ds__store_job_state(struct ds_store *st, const char *job_id, char state[24], int64_t *file_id);

/* Reads a job's file id (file_id may be NULL) and checks that the job is
 * in state `want`: DS_EINVAL, logged as "job <id> is <state><why>", when
 * it is not; DS_ENOTFOUND if there is no such job. */
int ds__store_job_in(struct ds_store *st, const char *job_id, const char *want, int64_t *file_id,
                     const char *why);

/* A statement of the store: its slot, its SQL, and what it does (for the
 * message when it fails). */
struct ds__store_sql {
    enum ds__store_q q;
    const char *sql;
    const char *what;
};

/* Moves a batch and its items with it: runs move[0] (?1 job, ?2 seq, ?3
 * now) on the batch, then move[1] (?1 job, ?2 first row, ?3 last row) on
 * its items. */
int ds__store_batch_move(struct ds_store *st, const struct ds__store_sql move[2],
                         const char *job_id, long seq, long first_row, long last_row);

/* Moves a file from state `from` to `to`; *changed (may be NULL) is 1 if
 * it was in `from`, else 0. */
int ds__store_file_set_state(struct ds_store *st, int64_t file_id, const char *from, const char *to,
                             int *changed);

/* A file's jobs (store_route.c): how many are `staging`, and how many are
 * not completed yet. */
int ds__store_file_jobs_staging(struct ds_store *st, int64_t file_id, long *n);
int ds__store_file_jobs_open(struct ds_store *st, int64_t file_id, long *n);

/* Deletes every `staging` job of the file (store_ingest.c). */
int ds__store_file_drop_staging(struct ds_store *st, int64_t file_id);

/* Deletes a job that never finished staging, with its items and batches. */
int ds__store_job_delete(struct ds_store *st, const char *job_id);

/* Feeds one row's line of the Batch-Digest, "<row>\t<key>\t<fingerprint>\n"
 * (a NULL key or fingerprint counts as empty), to h. */
void ds__store_digest_row(struct ds_sha256 *h, long row, const char *key, const char *fingerprint);

/* Whether the queue uses more than st->max_bytes: 1 yes, 0 no (or no
 * budget), negative on error. *used (may be NULL) receives the bytes used. */
int ds__store_over_budget(struct ds_store *st, int64_t *used);

/* Sets a file aside inside the current transaction: `detected` or
 * `staging` -> `to` ("held", "quarantined") with sql (?1 id, ?2 code, ?3
 * reason, ?4 now), its staging jobs deleted, event file_<to>. DS_EINVAL
 * from any other state (store_ingest.c). */
int ds__store_file_set_aside(struct ds_store *st, int64_t file_id, enum ds__store_q q,
                             const char *sql, const char *to, const char *code, const char *reason);

/* Holds a file inside the current transaction (ds_store_file_hold). */
int ds__store_file_hold(struct ds_store *st, int64_t file_id, const char *code, const char *reason);

/* Adds 1 to the retry generation (store_meta), inside the current
 * transaction. */
int ds__store_bump_generation(struct ds_store *st);

/* Copies src into dst[size]; DS_ETOOBIG if it does not fit. */
int ds__store_copy(char *dst, size_t size, const char *src);

/* After a batch's results are written (ds_store_batch_acked, same
 * transaction): its rows created, updated or unchanged record their key and
 * fingerprint in `synced`, its deletion rows deleted or unchanged remove
 * theirs (store_delta.c). */
int ds__store_synced_acked(struct ds_store *st, const char *job_id, long first_row, long last_row);

#endif
