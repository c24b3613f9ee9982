/*
 * store_status.c — read-only views of the queue for the command line:
 * `status` (per folder, batches not delivered), `jobs`, `job ID` and
 * `events`.
 *
 * These run in a separate process beside a running agent, on a connection
 * opened read-only: no migration, no WAL switch, no file created, nothing
 * written. WAL lets them read a consistent snapshot while the agent writes.
 * Every statement is prepared here, bound with parameters and finalized
 * before the function returns (a read-only connection is short-lived, so
 * nothing is cached in st->stmt).
 *
 * What leaves this file: ids, names from the config, file paths, states,
 * counts, codes and the error messages the store keeps, which by contract
 * name fields and problems, never values (store.h). The items' record and
 * raw columns are never read here.
 */
#include "state/store.h"

#include "agent/core/alloc.h"
#include "state/store_int.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* "DSyn", as store.c stamps the queue. */
#define STATUS_APPLICATION_ID 0x4453796e
#define STATUS_BUSY_MS 5000

static int status_pragma_int(struct ds_store *st, const char *sql, int *value)
{
    int src = ds__store_pragma_int(st, sql, value);

    if (src == SQLITE_ROW) {
        return 0;
    }
    return (src & 0xff) == SQLITE_NOTADB || (src & 0xff) == SQLITE_CORRUPT ? DS_ECORRUPT
                                                                           : DS_ESTORE;
}

int ds_store_open_readonly(const char *path, struct ds_store **out, struct ds_error *err)
{
    struct ds_store *st = NULL;
    struct stat sb;
    int appid = 0;
    int version = 0;
    int src;
    int rc = 0;

    if (path == NULL || out == NULL) {
        return ds_error_set(err, DS_EINVAL, "no database path");
    }
    *out = NULL;
    if (stat(path, &sb) != 0 && errno == ENOENT) {
        return ds_error_set(err, DS_ENOTFOUND, "%s: no queue yet", path);
    }
    if (access(path, R_OK) != 0) {
        /* Not "no queue": the queue is there, closed to this user. */
        return ds_error_set(err, DS_EIO,
                            "%s: %s (run as root, the service user, or a member of its group)",
                            path, strerror(errno));
    }
    st = ds_calloc(1, sizeof(*st));
    if (st == NULL) {
        rc = ds_error_set(err, DS_ENOMEM, "out of memory");
        goto out;
    }
    snprintf(st->path, sizeof(st->path), "%s", path);
    src = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    if (src != SQLITE_OK) {
        rc = ds_error_set(err, DS_ESTORE, "%s: cannot open: %s", path,
                          st->db != NULL ? sqlite3_errmsg(st->db) : sqlite3_errstr(src));
        goto out;
    }
    sqlite3_busy_timeout(st->db, STATUS_BUSY_MS);
    rc = status_pragma_int(st, "PRAGMA application_id", &appid);
    if (rc == 0) {
        rc = status_pragma_int(st, "PRAGMA user_version", &version);
    }
    if (rc != 0) {
        ds_error_set(err, rc, "%s: cannot read the queue: %s", path, sqlite3_errmsg(st->db));
        goto out;
    }
    if (appid != STATUS_APPLICATION_ID || version < 1) {
        rc = ds_error_set(err, DS_ECORRUPT, "%s: not a dentsync queue", path);
        goto out;
    }
    st->version = version;
    *out = st;
    st = NULL;
out:
    ds_store_close(&st);
    return rc;
}

int ds_store_snapshot_begin(struct ds_store *st)
{
    if (st == NULL || !sqlite3_get_autocommit(st->db)) {
        return DS_EINVAL;
    }
    return ds__store_exec(st, DS__Q_ONCE, "BEGIN DEFERRED", "snapshot", "");
}

void ds_store_snapshot_end(struct ds_store *st)
{
    if (st != NULL && !sqlite3_get_autocommit(st->db)) {
        sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
    }
}

int ds_store_folder_status(struct ds_store *st, const char *folder, struct ds_folder_status *out)
{
    memset(out, 0, sizeof(*out));
    if (st == NULL || folder == NULL) {
        return DS_EINVAL;
    }
    return ds__store_row(
        st, DS__Q_ONCE,
        "SELECT (SELECT path FROM files WHERE folder = ?1 ORDER BY id DESC LIMIT 1),"
        "       (SELECT max(created_at) FROM files WHERE folder = ?1),"
        "       max(coalesce((SELECT max(b.updated_at) FROM batches b JOIN jobs j ON j.id = "
        "                     b.job_id JOIN files f ON f.id = j.file_id "
        "                     WHERE f.folder = ?1 AND b.state = 'acked'), 0),"
        "           coalesce((SELECT max(j.completed_at) FROM jobs j JOIN files f ON "
        "                     f.id = j.file_id WHERE f.folder = ?1), 0)),"
        "       (SELECT count(*) FROM files WHERE folder = ?1 AND state IN "
        "        ('detected', 'staging', 'staged', 'uploading')),"
        "       (SELECT count(*) FROM items i JOIN jobs j ON j.id = i.job_id JOIN files f ON "
        "        f.id = j.file_id WHERE f.folder = ?1 AND j.state = 'uploading' "
        "        AND i.status IN ('valid', 'sent')),"
        "       (SELECT count(*) FROM files WHERE folder = ?1 AND state = 'held'),"
        "       (SELECT count(*) FROM files WHERE folder = ?1 AND state = 'quarantined')",
        "folder status", "t", "cddllll", folder, out->last_file, sizeof(out->last_file),
        &out->last_seen_at, &out->last_synced_at, &out->files_waiting, &out->rows_pending,
        &out->held, &out->quarantined);
}

int ds_store_batches_waiting(struct ds_store *st, ds_store_batch_status_cb cb, void *ctx)
{
    sqlite3_stmt *s = NULL;
    struct ds_batch_status b;
    int rc;

    rc = ds__store_prep(st, DS__Q_ONCE,
                        "SELECT b.job_id, b.seq, b.state, f.folder, j.practice, b.nrows, "
                        "       b.attempts, b.next_attempt_at, b.last_error_code "
                        "FROM batches b JOIN jobs j ON j.id = b.job_id "
                        "LEFT JOIN files f ON f.id = j.file_id "
                        "WHERE b.state IN ('pending', 'in_flight', 'retry_wait', 'rejected') "
                        "  AND j.state = 'uploading' "
                        "ORDER BY j.created_at, b.job_id, b.seq",
                        "batches waiting", &s, "");
    while (rc == 0 && (rc = ds__store_step(st, s, "batches waiting")) == 1) {
        memset(&b, 0, sizeof(b));
        rc = ds__store_cols(s, "slssslnds", &b.job_id, &b.seq, &b.state, &b.folder, &b.practice,
                            &b.nrows, &b.attempts, &b.next_attempt_at, &b.last_error_code);
        rc = rc != 0 ? rc : cb(ctx, &b);
    }
    ds__store_done(DS__Q_ONCE, &s);
    return rc;
}

/* The job columns both jobs_list and job_show select, in this order. */
#define JOB_COLUMNS                                                                                \
    "SELECT j.id, f.folder, j.practice, j.import_type, j.template_id, j.filename, j.state, "       \
    "       j.total_rows, j.created_at, j.staged_at, j.completed_at, "                             \
    "       CASE WHEN json_valid(j.binding) THEN "                                                 \
    "           (SELECT json_extract(e.value, '$.column') FROM json_each(j.binding, '$.fields') "  \
    "e "                                                                                           \
    "             WHERE json_extract(e.value, '$.field') = 'location' LIMIT 1) END "               \
    "FROM jobs j LEFT JOIN files f ON f.id = j.file_id "

static int job_rows(struct ds_store *st, sqlite3_stmt *s, ds_store_job_row_cb cb, void *ctx)
{
    struct ds_job_row j;
    int rc;

    while ((rc = ds__store_step(st, s, "jobs")) == 1) {
        memset(&j, 0, sizeof(j));
        rc = ds__store_cols(s, "ssssssslddds", &j.id, &j.folder, &j.practice, &j.import_type,
                            &j.template_id, &j.filename, &j.state, &j.total_rows, &j.created_at,
                            &j.staged_at, &j.completed_at, &j.location_column);
        if (rc == 0) {
            rc = ds_store_job_item_counts(st, j.id, &j.counts);
        }
        if (rc == 0) {
            rc = cb(ctx, &j);
        }
        if (rc != 0) {
            return rc;
        }
    }
    return rc;
}

int ds_store_jobs_list(struct ds_store *st, long limit, ds_store_job_row_cb cb, void *ctx)
{
    sqlite3_stmt *s = NULL;
    int rc;

    rc = ds__store_prep(st, DS__Q_ONCE,
                        JOB_COLUMNS "ORDER BY j.created_at DESC, j.rowid DESC LIMIT ?1", "jobs", &s,
                        "l", limit > 0 ? limit : -1L);
    if (rc == 0) {
        rc = job_rows(st, s, cb, ctx);
    }
    ds__store_done(DS__Q_ONCE, &s);
    return rc;
}

int ds_store_job_show(struct ds_store *st, const char *id, ds_store_job_row_cb cb, void *ctx)
{
    sqlite3_stmt *s = NULL;
    char pattern[64];
    size_t len = id != NULL ? strlen(id) : 0;
    int count = 0;
    int rc;

    if (len < 8 || len > 36 || strpbrk(id, "%_") != NULL) {
        return DS_EINVAL;
    }
    snprintf(pattern, sizeof(pattern), "%s%%", id);
    rc = ds__store_row(st, DS__Q_ONCE, "SELECT count(*) FROM jobs WHERE id LIKE ?1", "job", "t",
                       "n", pattern, &count);
    if (rc != 0) {
        return rc;
    }
    if (count == 0) {
        return DS_ENOTFOUND;
    }
    if (count > 1) {
        return DS_EINVAL;
    }
    rc = ds__store_prep(st, DS__Q_ONCE, JOB_COLUMNS "WHERE j.id LIKE ?1", "job", &s, "t", pattern);
    if (rc == 0) {
        rc = job_rows(st, s, cb, ctx);
    }
    ds__store_done(DS__Q_ONCE, &s);
    return rc;
}

int ds_store_job_errors(struct ds_store *st, const char *job_id, long limit,
                        ds_store_error_group_cb cb, void *ctx)
{
    sqlite3_stmt *s = NULL;
    struct ds_error_group g;
    int rc;

    rc = ds__store_prep(st, DS__Q_ONCE,
                        "SELECT i.status, coalesce(json_extract(e.value, '$.code'), "
                        "       i.error_code), coalesce(json_extract(e.value, '$.message'), "
                        "       i.error) AS msg, count(*), min(i.row) "
                        "FROM items i LEFT JOIN json_each(i.errors) e "
                        "WHERE i.job_id = ?1 AND i.status IN ('invalid', 'duplicate', "
                        "      'conflict', 'needs_review', 'rejected') "
                        "GROUP BY 1, 2, 3 "
                        "ORDER BY count(*) DESC, min(i.row) LIMIT ?2",
                        "job errors", &s, "tl", job_id, limit > 0 ? limit : -1L);
    while (rc == 0 && (rc = ds__store_next(st, s, "job errors", "sssll", &g.status, &g.code,
                                           &g.message, &g.count, &g.first_row)) == 1) {
        rc = cb(ctx, &g);
    }
    ds__store_done(DS__Q_ONCE, &s);
    return rc;
}

int ds_store_events_list(struct ds_store *st, double since, long limit, ds_store_event_cb cb,
                         void *ctx)
{
    sqlite3_stmt *s = NULL;
    struct ds_event_row e;
    int rc;

    rc = ds__store_prep(st, DS__Q_ONCE,
                        "SELECT id, at, kind, file_id, job_id, seq, code, detail FROM "
                        "(SELECT * FROM events WHERE at >= ?1 ORDER BY id DESC LIMIT ?2) "
                        "ORDER BY id",
                        "events", &s, "dl", since, limit > 0 ? limit : -1L);
    while (rc == 0 &&
           (rc = ds__store_next(st, s, "events", "idsislss", &e.id, &e.at, &e.kind, &e.file_id,
                                &e.job_id, &e.seq, &e.code, &e.detail)) == 1) {
        rc = cb(ctx, &e);
    }
    ds__store_done(DS__Q_ONCE, &s);
    return rc;
}

/* ---- a one-shot import's progress ------------------------------------------ */

int ds_store_files_last_id(struct ds_store *st, int64_t *id)
{
    *id = 0;
    return ds__store_row(st, DS__Q_ONCE, "SELECT coalesce(max(id), 0) FROM files", "last file id",
                         "", "i", id);
}

int ds_store_file_progress(struct ds_store *st, const char *folder, const char *path,
                           int64_t after_id, struct ds_file_progress *out)
{
    int rc;

    memset(out, 0, sizeof(*out));
    rc = ds__store_row(st, DS__Q_ONCE,
                       "SELECT f.id, f.state, f.reason_code, f.reason, j.id, j.state, "
                       "       coalesce(j.total_rows, 0) "
                       "FROM files f LEFT JOIN jobs j ON j.file_id = f.id "
                       "WHERE f.folder = ?1 AND f.path = ?2 AND f.id > ?3 "
                       "ORDER BY f.id DESC, j.created_at DESC LIMIT 1",
                       "file progress", "tti", "icccccl", folder, path, after_id, &out->file_id,
                       out->state, sizeof(out->state), out->reason_code, sizeof(out->reason_code),
                       out->reason, sizeof(out->reason), out->job_id, sizeof(out->job_id),
                       out->job_state, sizeof(out->job_state), &out->total_rows);
    if (rc != 0 || out->job_id[0] == '\0') {
        return rc;
    }
    rc = ds_store_job_item_counts(st, out->job_id, &out->items);
    if (rc == 0) {
        rc = ds_store_job_batch_counts(st, out->job_id, &out->batches);
    }
    if (rc != 0) {
        return rc;
    }
    /* The newest error, if any: none found is no failure. */
    rc = ds__store_row(st, DS__Q_ONCE,
                       "SELECT last_error_code FROM batches WHERE job_id = ?1 "
                       "AND state <> 'acked' AND last_error_code IS NOT NULL "
                       "ORDER BY updated_at DESC LIMIT 1",
                       "file progress", "t", "c", out->job_id, out->last_error_code,
                       sizeof(out->last_error_code));
    return rc == DS_ENOTFOUND ? 0 : rc;
}
