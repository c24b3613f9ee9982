/*
 * store_admin.c — what waits for an admin and what keeps the queue small:
 * held files, the `retry` command's transitions, the disk budget, and the
 * purge of acknowledged rows with the incremental vacuum behind it.
 *
 *   file   detected | staging --ds_store_file_hold--> held
 *                              (ds_store_file_add, over the disk budget)
 *          held --ds_store_file_retry--> detected          (an admin)
 *          held (DISK_BUDGET) --ds_store_purge--> detected  (space freed)
 *   batch  rejected --ds_store_batches_retry_rejected--> pending (an admin;
 *          only while its job is `uploading`: the cloud takes no new batch
 *          on a completed job)
 *
 * Every admin transition adds 1 to store_meta's `retry_generation`, in the
 * same transaction, so a running agent learns of it with one read
 * (ds_store_retry_generation) and walks its `detected` files again.
 *
 * Retention never touches key and fingerprint: the delta compares them and
 * the Batch-Digest is computed from them, nor an item's status and codes.
 * It strips record and raw only from items whose fate is settled: the
 * outbound items of `acked` batches, and the items decided locally
 * (invalid, duplicate) of completed jobs and of jobs still `uploading` with
 * no activity (staged, or a batch's last change) for retention_days — a job
 * stuck on a rejected batch. Items still to deliver (of a pending, waiting
 * or rejected batch) keep their data for the upload or an admin's retry.
 *
 * Stripping must give the space back. An UPDATE that shrinks rows in place
 * leaves each page as sparse as it made it and frees no page: SQLite merges
 * underfull pages only when cells are deleted (it frees overflow pages, but
 * an item of about 1 KB has none in 16 KiB pages). So each stripped range
 * is moved: copied, already stripped, to a temporary table, deleted (which
 * merges and frees the pages) and inserted again, in the same transaction
 * as the UPDATE — a crash leaves the range either as it was or stripped and
 * moved, never lost or doubled. The rows come back packed (with new rowids
 * in a rowid table: nothing reads an item's rowid). The copy carries no
 * patient data (record and raw are NULL by then), and `SELECT *` keeps
 * every other column as it was.
 *
 * None of this is a hot path: statements are prepared per call.
 */
#include "state/store_int.h"

#include "agent/core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Batches (and jobs) stripped per transaction: short write locks, so the
 * ingest thread and the uploader are never held up for long. */
#define PURGE_CHUNK 16
/* Free pages given back per ds_store_purge (16 KiB pages: 16 MiB; 4 MiB in
 * a queue made with 4 KiB pages), so one call never stalls the loop for
 * long; the next call goes on. */
#define PURGE_VACUUM_PAGES 1024
#define SECONDS_PER_DAY 86400.0

/* One integer from a statement without parameters. */
static int query_int64(struct ds_store *st, const char *sql, int64_t *value)
{
    return ds__store_row(st, DS__Q_ONCE, sql, "query", "", "i", value);
}

int ds__store_bump_generation(struct ds_store *st)
{
    return ds__store_exec(st, DS__Q_ONCE,
                          "UPDATE store_meta SET value = value + 1 WHERE name = 'retry_generation'",
                          "retry generation", "");
}

int ds_store_retry_generation(struct ds_store *st, int64_t *generation)
{
    if (st == NULL || generation == NULL) {
        return DS_EINVAL;
    }
    return query_int64(st, "SELECT value FROM store_meta WHERE name = 'retry_generation'",
                       generation);
}

/* ---- held files ----------------------------------------------------------- */

int ds__store_file_hold(struct ds_store *st, int64_t file_id, const char *code, const char *reason)
{
    int rc = ds__store_file_set_aside(st, file_id, DS__Q_ONCE,
                                      "UPDATE files SET state = 'held', reason_code = ?2, "
                                      "reason = ?3, updated_at = ?4 WHERE id = ?1",
                                      "held", code, reason);

    if (rc == 0) {
        ds_log_warn("FILE_HELD", "store: file %lld held for an admin: %s", (long long)file_id,
                    code);
    }
    return rc;
}

int ds_store_file_hold(struct ds_store *st, int64_t file_id, const char *code, const char *reason)
{
    int rc;

    rc = ds__store_change(st, st != NULL && code != NULL);
    if (rc != 0) {
        return rc;
    }
    return ds__store_end(st, ds__store_file_hold(st, file_id, code, reason));
}

/* Undoes an ingest cut short while the agent runs (the disk was full): the
 * file's jobs still `staging` go with their items, and the file is
 * `detected` again, to be ingested from the start. What start-up recovery
 * does for every file, for this one. */
int ds_store_file_unstage(struct ds_store *st, int64_t file_id)
{
    int rc;

    rc = ds__store_change(st, st != NULL);
    if (rc != 0) {
        return rc;
    }
    /* Every staging job of the file: one per import type its template
     * routes rows to. */
    rc = ds__store_file_drop_staging(st, file_id);
    if (rc == 0) {
        rc = ds__store_file_set_state(st, file_id, "staging", "detected", NULL);
    }
    return ds__store_end(st, rc);
}

int ds_store_file_held(struct ds_store *st, int64_t file_id)
{
    char state[24];
    int rc;

    if (st == NULL) {
        return DS_EINVAL;
    }
    rc = ds_store_file_state(st, file_id, state, sizeof(state));
    if (rc != 0) {
        return rc;
    }
    return strcmp(state, "held") == 0;
}

int ds_store_file_retry(struct ds_store *st, int64_t file_id)
{
    char state[24];
    int rc;

    rc = ds__store_change(st, st != NULL);
    if (rc != 0) {
        return rc;
    }
    rc = ds_store_file_state(st, file_id, state, sizeof(state));
    if (rc != 0) {
        goto out;
    }
    if (strcmp(state, "held") != 0) {
        ds_log_error("STORE_STATE", "store: file %lld is %s, not held; nothing to retry",
                     (long long)file_id, state);
        rc = DS_EINVAL;
        goto out;
    }
    rc = ds__store_exec(st, DS__Q_ONCE,
                        "UPDATE files SET state = 'detected', reason_code = NULL, reason = NULL, "
                        "admin_retries = admin_retries + 1, updated_at = ?2 WHERE id = ?1",
                        "file retry", "id", file_id, ds__store_now());
    if (rc == 0) {
        rc = ds__store_bump_generation(st);
    }
    rc = ds__store_then_event(st, rc, "file_retried", file_id, NULL, 0, NULL, "by an admin");
out:
    return ds__store_end(st, rc);
}

int ds_store_file_admin_retries(struct ds_store *st, int64_t file_id, int *retries)
{
    if (st == NULL || retries == NULL) {
        return DS_EINVAL;
    }
    return ds__store_row(st, DS__Q_ONCE, "SELECT admin_retries FROM files WHERE id = ?1",
                         "file admin retries", "i", "n", file_id, retries);
}

int ds_store_file_find(struct ds_store *st, const char *path, int64_t *file_id, char *state,
                       size_t size)
{
    if (st == NULL || path == NULL || file_id == NULL) {
        return DS_EINVAL;
    }
    return ds__store_row(st, DS__Q_ONCE,
                         "SELECT id, state FROM files WHERE path = ?1 ORDER BY id DESC LIMIT 1",
                         "file find", "t", "it", path, file_id, state, size);
}

/* ---- rejected batches ------------------------------------------------------- */

/* Puts one rejected batch of an uploading job back to pending. */
static int retry_batch(struct ds_store *st, const char *job_id, long seq, long first, long last)
{
    /* ds_store_batch_rejected made every valid or sent item of the range
     * rejected, with the batch's code. */
    static const struct ds__store_sql retry[2] = {
        {DS__Q_ONCE,
         "UPDATE batches SET state = 'pending', next_attempt_at = NULL, "
         "updated_at = ?3 WHERE job_id = ?1 AND seq = ?2 AND state = 'rejected'",
         "batch retry"},
        {DS__Q_ONCE,
         "UPDATE items SET status = 'valid', error_code = NULL, error = NULL "
         "WHERE job_id = ?1 AND row BETWEEN ?2 AND ?3 AND outbound = 1 "
         "AND status = 'rejected'",
         "batch items retry"},
    };
    int rc;

    rc = ds__store_batch_move(st, retry, job_id, seq, first, last);
    return ds__store_then_event(st, rc, "batch_retried", 0, job_id, seq, NULL, "by an admin");
}

int ds_store_batches_retry_rejected(struct ds_store *st, const char *job_id, long *batches,
                                    long *completed)
{
    sqlite3_stmt *s = NULL;
    char id[DS_UUID_LEN];
    long nretried = 0;
    long ncompleted = 0;
    long seq;
    long first;
    long last;
    int rc;

    rc = ds__store_change(st, st != NULL);
    if (rc != 0) {
        return rc;
    }
    if (job_id != NULL) {
        rc = ds__store_job_state(st, job_id, NULL, NULL);
        if (rc != 0) {
            goto out;
        }
    }
    rc = ds__store_row(st, DS__Q_ONCE,
                       "SELECT count(*) FROM batches b JOIN jobs j ON j.id = b.job_id "
                       "WHERE b.state = 'rejected' AND j.state <> 'uploading' "
                       "AND (?1 IS NULL OR b.job_id = ?1)",
                       "batches retry", "t", "l", job_id, &ncompleted);
    if (rc != 0) {
        goto out;
    }
    /* One batch per query: each one leaves the `rejected` state, so the
     * select finds the next one. */
    rc = ds__store_prep(st, DS__Q_ONCE,
                        "SELECT b.job_id, b.seq, b.first_row, b.last_row FROM batches b "
                        "JOIN jobs j ON j.id = b.job_id WHERE b.state = 'rejected' "
                        "AND j.state = 'uploading' AND (?1 IS NULL OR b.job_id = ?1) "
                        "ORDER BY b.job_id, b.seq LIMIT 1",
                        "batches retry", &s, "t", job_id);
    while (rc == 0 && (rc = ds__store_step(st, s, "batches retry")) == 1) {
        rc = ds__store_cols(s, "tlll", id, sizeof(id), &seq, &first, &last);
        sqlite3_reset(s);
        if (rc == 0) {
            rc = retry_batch(st, id, seq, first, last);
        }
        if (rc == 0) {
            nretried++;
        }
    }
    if (rc == 0 && nretried > 0) {
        rc = ds__store_bump_generation(st);
    }
out:
    ds__store_done(DS__Q_ONCE, &s);
    rc = ds__store_end(st, rc);
    if (rc == 0) {
        if (batches != NULL) {
            *batches = nretried;
        }
        if (completed != NULL) {
            *completed = ncompleted;
        }
    }
    return rc;
}

/* ---- disk budget -------------------------------------------------------------- */

int ds_store_set_budget(struct ds_store *st, int64_t max_bytes)
{
    if (st == NULL || max_bytes < 0) {
        return DS_EINVAL;
    }
    st->max_bytes = max_bytes;
    return 0;
}

int ds_store_size(struct ds_store *st, int64_t *bytes)
{
    if (st == NULL || bytes == NULL) {
        return DS_EINVAL;
    }
    return query_int64(st,
                       "SELECT (p.page_count - f.freelist_count) * s.page_size "
                       "FROM pragma_page_count() p, pragma_freelist_count() f, "
                       "pragma_page_size() s",
                       bytes);
}

int ds__store_over_budget(struct ds_store *st, int64_t *used)
{
    int64_t bytes = 0;
    int rc;

    if (st->max_bytes <= 0) {
        return 0;
    }
    rc = ds_store_size(st, &bytes);
    if (rc != 0) {
        return rc;
    }
    if (used != NULL) {
        *used = bytes;
    }
    return bytes > st->max_bytes;
}

/* Files held for the disk budget go back to `detected` once the queue is
 * under it again. */
static int budget_release(struct ds_store *st, long *released)
{
    char detail[32];
    int rc;

    *released = 0;
    rc = ds__store_over_budget(st, NULL);
    if (rc != 0 || st->max_bytes <= 0) {
        return rc < 0 ? rc : 0;
    }
    rc = ds__store_begin(st);
    if (rc != 0) {
        return rc;
    }
    rc = ds__store_exec(st, DS__Q_ONCE,
                        "UPDATE files SET state = 'detected', reason_code = NULL, reason = NULL, "
                        "updated_at = ?1 WHERE state = 'held' AND reason_code = 'DISK_BUDGET'",
                        "budget release", "d", ds__store_now());
    if (rc != 0) {
        goto out;
    }
    *released = sqlite3_changes(st->db);
    if (*released > 0) {
        snprintf(detail, sizeof(detail), "%ld file(s)", *released);
        rc = ds__store_bump_generation(st);
        rc = ds__store_then_event(st, rc, "files_released", 0, NULL, 0, "DISK_BUDGET", detail);
    }
out:
    return ds__store_end(st, rc);
}

/* ---- retention ------------------------------------------------------------------ */

struct purge_key {
    char job_id[DS_UUID_LEN];
    long seq; /* the batch, or 0 for a job's local items */
    long first;
    long last;
};

/* The items a purge strips: of a batch's range (?1-?3), or a job's local
 * items (?1). */
#define PURGE_BATCH_ROWS "job_id = ?1 AND row BETWEEN ?2 AND ?3 AND outbound = 1"
#define PURGE_JOB_ROWS "job_id = ?1 AND outbound = 0"

/* Moves the stripped rows of one range (see the top of this file): the
 * copy, the delete, the insert back (mv, bound like the strip), then
 * empties the copy. Inside the chunk's transaction. */
static int purge_move(struct ds_store *st, sqlite3_stmt *mv[3], int jobs,
                      const struct purge_key *key)
{
    int rc = 0;

    for (int k = 0; k < 3 && rc == 0; k++) {
        rc = k == 2 ? ds__store_bind(st, mv[k], "purge move", "")
             : jobs ? ds__store_bind(st, mv[k], "purge move", "t", key->job_id)
                    : ds__store_bind(st, mv[k], "purge move", "tll", key->job_id, key->first,
                                     key->last);
        if (rc == 0) {
            rc = ds__store_run(st, mv[k], "purge move");
        }
    }
    if (rc == 0) {
        rc = ds__store_exec(st, DS__Q_ONCE, "DELETE FROM temp.purge_moved", "purge move", "");
    }
    return rc;
}

/* Strips one chunk: up to PURGE_CHUNK acknowledged batches, or when none is
 * left, up to PURGE_CHUNK completed or idle jobs' local items. *more is 1 when the
 * chunk was full. */
static int purge_chunk(struct ds_store *st, double cutoff, double now, long *purged, int *more)
{
    static const char *const strip_sql[2] = {
        "UPDATE items SET record = NULL, raw = NULL WHERE " PURGE_BATCH_ROWS
        " AND (record IS NOT NULL OR raw IS NOT NULL)",
        "UPDATE items SET record = NULL, raw = NULL WHERE " PURGE_JOB_ROWS
        " AND (record IS NOT NULL OR raw IS NOT NULL)",
    };
    static const char *const move_sql[2][3] = {
        {"INSERT INTO temp.purge_moved SELECT * FROM main.items WHERE " PURGE_BATCH_ROWS,
         "DELETE FROM main.items WHERE " PURGE_BATCH_ROWS,
         "INSERT INTO main.items SELECT * FROM temp.purge_moved"},
        {"INSERT INTO temp.purge_moved SELECT * FROM main.items WHERE " PURGE_JOB_ROWS,
         "DELETE FROM main.items WHERE " PURGE_JOB_ROWS,
         "INSERT INTO main.items SELECT * FROM temp.purge_moved"},
    };
    static const char batches_sql[] =
        "SELECT job_id, seq, first_row, last_row FROM batches INDEXED BY batches_unpurged "
        "WHERE state = 'acked' AND purged_at IS NULL AND updated_at < ?1 "
        "ORDER BY updated_at LIMIT ?2";
    /* A completed job, or one still uploading whose last activity (staged,
     * or a batch's last change) is older: its local items are settled. */
    static const char jobs_sql[] =
        "SELECT id, 0, 0, 0 FROM jobs j WHERE purged_at IS NULL "
        "AND ((state IN ('completed', 'completed_with_errors') AND completed_at < ?1) "
        "OR (state = 'uploading' AND coalesce(staged_at, created_at) < ?1 "
        "AND NOT EXISTS (SELECT 1 FROM batches b WHERE b.job_id = j.id "
        "AND b.updated_at >= ?1))) LIMIT ?2";
    struct purge_key keys[PURGE_CHUNK];
    sqlite3_stmt *s = NULL;
    sqlite3_stmt *u = NULL;
    sqlite3_stmt *m = NULL;
    sqlite3_stmt *mv[3] = {NULL, NULL, NULL};
    long stripped;
    int n = 0;
    int jobs = 0;
    int rc;

    *more = 0;
    rc = ds__store_begin(st);
    if (rc != 0) {
        return rc;
    }
    for (int pass = 0; pass < 2 && n == 0 && rc == 0; pass++) {
        jobs = pass;
        rc = ds__store_prep(st, DS__Q_ONCE, pass == 0 ? batches_sql : jobs_sql, "purge", &s, "dn",
                            cutoff, PURGE_CHUNK);
        while (rc == 0 && n < PURGE_CHUNK && (rc = ds__store_step(st, s, "purge")) == 1) {
            rc = ds__store_cols(s, "tlll", keys[n].job_id, sizeof(keys[n].job_id), &keys[n].seq,
                                &keys[n].first, &keys[n].last);
            n++;
        }
        ds__store_done(DS__Q_ONCE, &s);
    }
    if (rc != 0 || n == 0) {
        goto out;
    }
    rc = ds__store_prep(st, DS__Q_ONCE, strip_sql[jobs], "purge items", &u, "");
    for (int k = 0; k < 3 && rc == 0; k++) {
        rc = ds__store_prep(st, DS__Q_ONCE, move_sql[jobs][k], "purge move", &mv[k], "");
    }
    if (rc == 0) {
        rc = ds__store_prep(
            st, DS__Q_ONCE,
            jobs ? "UPDATE jobs SET purged_at = ?3 WHERE id = ?1 AND ?2 = 0"
                 : "UPDATE batches SET purged_at = ?3 WHERE job_id = ?1 AND seq = ?2",
            "purge mark", &m, "");
    }
    for (int i = 0; i < n && rc == 0; i++) {
        rc = ds__store_bind(st, u, "purge items", jobs ? "t" : "tll", keys[i].job_id, keys[i].first,
                            keys[i].last);
        if (rc == 0) {
            rc = ds__store_run(st, u, "purge items");
        }
        if (rc != 0) {
            break;
        }
        stripped = sqlite3_changes(st->db);
        *purged += stripped;
        rc = stripped > 0 ? purge_move(st, mv, jobs, &keys[i]) : 0;
        if (rc == 0) {
            rc = ds__store_bind(st, m, "purge mark", "tld", keys[i].job_id, keys[i].seq, now);
        }
        if (rc == 0) {
            rc = ds__store_run(st, m, "purge mark");
        }
    }
    *more = n == PURGE_CHUNK || !jobs;
out:
    ds__store_done(DS__Q_ONCE, &s);
    ds__store_done(DS__Q_ONCE, &u);
    ds__store_done(DS__Q_ONCE, &m);
    for (int k = 0; k < 3; k++) {
        ds__store_done(DS__Q_ONCE, &mv[k]);
    }
    return ds__store_end(st, rc);
}

int ds_store_vacuum(struct ds_store *st, long max_pages, long *freed)
{
    int64_t before = 0;
    int64_t after = 0;
    char sql[64];
    int rc;

    if (st == NULL || max_pages < 1) {
        return DS_EINVAL;
    }
    rc = query_int64(st, "SELECT freelist_count FROM pragma_freelist_count()", &before);
    if (rc != 0) {
        return rc;
    }
    if (before > 0) {
        /* PRAGMA takes no bound parameter: the integer is our own. */
        snprintf(sql, sizeof(sql), "PRAGMA incremental_vacuum(%ld)", max_pages);
        rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
            return ds__store_fail(st, rc, "incremental vacuum");
        }
        rc = query_int64(st, "SELECT freelist_count FROM pragma_freelist_count()", &after);
        if (rc != 0) {
            return rc;
        }
    }
    if (freed != NULL) {
        *freed = (long)(before - after);
    }
    return 0;
}

int ds_store_purge(struct ds_store *st, double now, int retention_days, long *purged)
{
    double cutoff;
    char detail[64];
    long items = 0;
    long freed = 0;
    long released = 0;
    int more = 1;
    int rc = 0;

    if (st == NULL || retention_days < 0) {
        return DS_EINVAL;
    }
    cutoff = now - retention_days * SECONDS_PER_DAY;
    /* The copy of purge_move: the columns of items, whatever they are now.
     * Kept for the connection's life, empty between ranges. */
    rc = ds__store_exec(st, DS__Q_ONCE,
                        "CREATE TEMP TABLE IF NOT EXISTS purge_moved AS "
                        "SELECT * FROM main.items WHERE 0",
                        "purge move table", "");
    while (rc == 0 && more) {
        rc = purge_chunk(st, cutoff, now, &items, &more);
    }
    if (rc == 0 && items > 0) {
        snprintf(detail, sizeof(detail), "%ld item(s) stripped", items);
        rc = ds_store_event(st, "queue_purged", 0, NULL, 0, NULL, detail);
    }
    if (rc == 0) {
        rc = ds_store_vacuum(st, PURGE_VACUUM_PAGES, &freed);
    }
    if (rc == 0) {
        rc = budget_release(st, &released);
    }
    if (rc != 0) {
        return rc;
    }
    if (items > 0 || freed > 0 || released > 0) {
        ds_log_info("QUEUE_PURGED",
                    "store: purged %ld item(s) older than %d day(s), %ld page(s) freed, "
                    "%ld held file(s) released",
                    items, retention_days, freed, released);
    }
    if (purged != NULL) {
        *purged = items;
    }
    return 0;
}
