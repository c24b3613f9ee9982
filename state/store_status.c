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

static const char *col_text(sqlite3_stmt *s, int i)
{
    return (const char *)sqlite3_column_text(s, i);
}

static int status_pragma_int(struct ds_store *st, const char *sql, int *value)
{
    sqlite3_stmt *s = NULL;
    int src;
    int rc = 0;

    src = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
    if (src == SQLITE_OK) {
        src = sqlite3_step(s);
    }
    if (src != SQLITE_ROW) {
        rc = (src & 0xff) == SQLITE_NOTADB || (src & 0xff) == SQLITE_CORRUPT ? DS_ECORRUPT
                                                                             : DS_ESTORE;
        goto out;
    }
    *value = sqlite3_column_int(s, 0);
out:
    sqlite3_finalize(s);
    return rc;
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

/* Prepares sql with up to two text parameters (NULL: not bound). */
static int status_prepare(struct ds_store *st, const char *sql, const char *a, const char *b,
                          sqlite3_stmt **out)
{
    int src = sqlite3_prepare_v2(st->db, sql, -1, out, NULL);

    if (src != SQLITE_OK) {
        return ds__store_fail(st, src, "status query");
    }
    if (a != NULL) {
        sqlite3_bind_text(*out, 1, a, -1, SQLITE_STATIC);
    }
    if (b != NULL) {
        sqlite3_bind_text(*out, 2, b, -1, SQLITE_STATIC);
    }
    return 0;
}

int ds_store_folder_status(struct ds_store *st, const char *folder, struct ds_folder_status *out)
{
    sqlite3_stmt *s = NULL;
    int src;
    int rc;

    memset(out, 0, sizeof(*out));
    if (st == NULL || folder == NULL) {
        return DS_EINVAL;
    }
    rc = status_prepare(
        st,
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
        folder, NULL, &s);
    if (rc != 0) {
        goto out;
    }
    src = sqlite3_step(s);
    if (src != SQLITE_ROW) {
        rc = ds__store_fail(st, src, "folder status");
        goto out;
    }
    if (col_text(s, 0) != NULL) {
        snprintf(out->last_file, sizeof(out->last_file), "%s", col_text(s, 0));
    }
    out->last_seen_at = sqlite3_column_double(s, 1);
    out->last_synced_at = sqlite3_column_double(s, 2);
    out->files_waiting = (long)sqlite3_column_int64(s, 3);
    out->rows_pending = (long)sqlite3_column_int64(s, 4);
    out->held = (long)sqlite3_column_int64(s, 5);
    out->quarantined = (long)sqlite3_column_int64(s, 6);
out:
    sqlite3_finalize(s);
    return rc;
}

int ds_store_batches_waiting(struct ds_store *st, ds_store_batch_status_cb cb, void *ctx)
{
    sqlite3_stmt *s = NULL;
    struct ds_batch_status b;
    int src;
    int rc;

    rc = status_prepare(st,
                        "SELECT b.job_id, b.seq, b.state, f.folder, j.practice, b.nrows, "
                        "       b.attempts, b.next_attempt_at, b.last_error_code "
                        "FROM batches b JOIN jobs j ON j.id = b.job_id "
                        "LEFT JOIN files f ON f.id = j.file_id "
                        "WHERE b.state IN ('pending', 'in_flight', 'retry_wait', 'rejected') "
                        "  AND j.state = 'uploading' "
                        "ORDER BY j.created_at, b.job_id, b.seq",
                        NULL, NULL, &s);
    if (rc != 0) {
        goto out;
    }
    for (;;) {
        src = sqlite3_step(s);
        if (src == SQLITE_DONE) {
            break;
        }
        if (src != SQLITE_ROW) {
            rc = ds__store_fail(st, src, "batches waiting");
            goto out;
        }
        memset(&b, 0, sizeof(b));
        b.job_id = col_text(s, 0);
        b.seq = (long)sqlite3_column_int64(s, 1);
        b.state = col_text(s, 2);
        b.folder = col_text(s, 3);
        b.practice = col_text(s, 4);
        b.nrows = (long)sqlite3_column_int64(s, 5);
        b.attempts = sqlite3_column_int(s, 6);
        b.next_attempt_at = sqlite3_column_double(s, 7);
        b.last_error_code = col_text(s, 8);
        rc = cb(ctx, &b);
        if (rc != 0) {
            goto out;
        }
    }
out:
    sqlite3_finalize(s);
    return rc;
}

/* The job columns both jobs_list and job_show select, in this order. */
#define JOB_COLUMNS                                                                                \
    "SELECT j.id, f.folder, j.practice, j.import_type, j.template_id, j.filename, j.state, "       \
    "       j.total_rows, j.created_at, j.staged_at, j.completed_at "                              \
    "FROM jobs j LEFT JOIN files f ON f.id = j.file_id "

static int job_rows(struct ds_store *st, sqlite3_stmt *s, ds_store_job_row_cb cb, void *ctx,
                    long *seen)
{
    struct ds_job_row j;
    int src;
    int rc = 0;

    *seen = 0;
    for (;;) {
        src = sqlite3_step(s);
        if (src == SQLITE_DONE) {
            break;
        }
        if (src != SQLITE_ROW) {
            return ds__store_fail(st, src, "jobs");
        }
        memset(&j, 0, sizeof(j));
        j.id = col_text(s, 0);
        j.folder = col_text(s, 1);
        j.practice = col_text(s, 2);
        j.import_type = col_text(s, 3);
        j.template_id = col_text(s, 4);
        j.filename = col_text(s, 5);
        j.state = col_text(s, 6);
        j.total_rows = (long)sqlite3_column_int64(s, 7);
        j.created_at = sqlite3_column_double(s, 8);
        j.staged_at = sqlite3_column_double(s, 9);
        j.completed_at = sqlite3_column_double(s, 10);
        rc = ds_store_job_item_counts(st, j.id, &j.counts);
        if (rc == 0) {
            rc = cb(ctx, &j);
        }
        if (rc != 0) {
            return rc;
        }
        (*seen)++;
    }
    return rc;
}

int ds_store_jobs_list(struct ds_store *st, long limit, ds_store_job_row_cb cb, void *ctx)
{
    sqlite3_stmt *s = NULL;
    long seen = 0;
    int rc;

    rc = status_prepare(st, JOB_COLUMNS "ORDER BY j.created_at DESC, j.rowid DESC LIMIT ?1", NULL,
                        NULL, &s);
    if (rc != 0) {
        goto out;
    }
    sqlite3_bind_int64(s, 1, limit > 0 ? limit : -1);
    rc = job_rows(st, s, cb, ctx, &seen);
out:
    sqlite3_finalize(s);
    return rc;
}

int ds_store_job_show(struct ds_store *st, const char *id, ds_store_job_row_cb cb, void *ctx)
{
    sqlite3_stmt *s = NULL;
    char pattern[64];
    size_t len = id != NULL ? strlen(id) : 0;
    int count = 0;
    long seen = 0;
    int src;
    int rc;

    if (len < 8 || len > 36 || strpbrk(id, "%_") != NULL) {
        return DS_EINVAL;
    }
    snprintf(pattern, sizeof(pattern), "%s%%", id);
    rc = status_prepare(st, "SELECT count(*) FROM jobs WHERE id LIKE ?1", pattern, NULL, &s);
    if (rc != 0) {
        goto out;
    }
    src = sqlite3_step(s);
    if (src != SQLITE_ROW) {
        rc = ds__store_fail(st, src, "job");
        goto out;
    }
    count = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    s = NULL;
    if (count == 0) {
        rc = DS_ENOTFOUND;
        goto out;
    }
    if (count > 1) {
        rc = DS_EINVAL;
        goto out;
    }
    rc = status_prepare(st, JOB_COLUMNS "WHERE j.id LIKE ?1", pattern, NULL, &s);
    if (rc == 0) {
        rc = job_rows(st, s, cb, ctx, &seen);
    }
out:
    sqlite3_finalize(s);
    return rc;
}

int ds_store_job_errors(struct ds_store *st, const char *job_id, long limit,
                        ds_store_error_group_cb cb, void *ctx)
{
    sqlite3_stmt *s = NULL;
    struct ds_error_group g;
    int src;
    int rc;

    rc = status_prepare(st,
                        "SELECT status, error_code, error, count(*), min(row) FROM items "
                        "WHERE job_id = ?1 AND status IN ('invalid', 'duplicate', 'conflict', "
                        "      'needs_review', 'rejected') "
                        "GROUP BY status, error_code, error "
                        "ORDER BY count(*) DESC, min(row) LIMIT ?2",
                        job_id, NULL, &s);
    if (rc != 0) {
        goto out;
    }
    sqlite3_bind_int64(s, 2, limit > 0 ? limit : -1);
    for (;;) {
        src = sqlite3_step(s);
        if (src == SQLITE_DONE) {
            break;
        }
        if (src != SQLITE_ROW) {
            rc = ds__store_fail(st, src, "job errors");
            goto out;
        }
        g.status = col_text(s, 0);
        g.code = col_text(s, 1);
        g.message = col_text(s, 2);
        g.count = (long)sqlite3_column_int64(s, 3);
        g.first_row = (long)sqlite3_column_int64(s, 4);
        rc = cb(ctx, &g);
        if (rc != 0) {
            goto out;
        }
    }
out:
    sqlite3_finalize(s);
    return rc;
}

int ds_store_events_list(struct ds_store *st, double since, long limit, ds_store_event_cb cb,
                         void *ctx)
{
    sqlite3_stmt *s = NULL;
    struct ds_event_row e;
    int src;
    int rc;

    rc = status_prepare(st,
                        "SELECT id, at, kind, file_id, job_id, seq, code, detail FROM "
                        "(SELECT * FROM events WHERE at >= ?1 ORDER BY id DESC LIMIT ?2) "
                        "ORDER BY id",
                        NULL, NULL, &s);
    if (rc != 0) {
        goto out;
    }
    sqlite3_bind_double(s, 1, since);
    sqlite3_bind_int64(s, 2, limit > 0 ? limit : -1);
    for (;;) {
        src = sqlite3_step(s);
        if (src == SQLITE_DONE) {
            break;
        }
        if (src != SQLITE_ROW) {
            rc = ds__store_fail(st, src, "events");
            goto out;
        }
        e.id = sqlite3_column_int64(s, 0);
        e.at = sqlite3_column_double(s, 1);
        e.kind = col_text(s, 2);
        e.file_id = sqlite3_column_int64(s, 3);
        e.job_id = col_text(s, 4);
        e.seq = (long)sqlite3_column_int64(s, 5);
        e.code = col_text(s, 6);
        e.detail = col_text(s, 7);
        rc = cb(ctx, &e);
        if (rc != 0) {
            goto out;
        }
    }
out:
    sqlite3_finalize(s);
    return rc;
}

/* ---- a one-shot import's progress ------------------------------------------ */

int ds_store_files_last_id(struct ds_store *st, int64_t *id)
{
    sqlite3_stmt *s = NULL;
    int rc;

    *id = 0;
    rc = status_prepare(st, "SELECT coalesce(max(id), 0) FROM files", NULL, NULL, &s);
    if (rc != 0) {
        return rc;
    }
    if (sqlite3_step(s) == SQLITE_ROW) {
        *id = sqlite3_column_int64(s, 0);
    }
    else {
        rc = ds__store_fail(st, sqlite3_errcode(st->db), "last file id");
    }
    sqlite3_finalize(s);
    return rc;
}

static void copy_col(sqlite3_stmt *s, int i, char *buf, size_t size)
{
    const char *v = col_text(s, i);

    snprintf(buf, size, "%s", v != NULL ? v : "");
}

int ds_store_file_progress(struct ds_store *st, const char *folder, const char *path,
                           int64_t after_id, struct ds_file_progress *out)
{
    sqlite3_stmt *s = NULL;
    int src;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = status_prepare(st,
                        "SELECT f.id, f.state, f.reason_code, f.reason, j.id, j.state, "
                        "       coalesce(j.total_rows, 0) "
                        "FROM files f LEFT JOIN jobs j ON j.file_id = f.id "
                        "WHERE f.folder = ?1 AND f.path = ?2 AND f.id > ?3 "
                        "ORDER BY f.id DESC, j.created_at DESC LIMIT 1",
                        folder, path, &s);
    if (rc != 0) {
        return rc;
    }
    sqlite3_bind_int64(s, 3, after_id);
    src = sqlite3_step(s);
    if (src == SQLITE_DONE) {
        rc = DS_ENOTFOUND;
        goto out;
    }
    if (src != SQLITE_ROW) {
        rc = ds__store_fail(st, src, "file progress");
        goto out;
    }
    out->file_id = sqlite3_column_int64(s, 0);
    copy_col(s, 1, out->state, sizeof(out->state));
    copy_col(s, 2, out->reason_code, sizeof(out->reason_code));
    copy_col(s, 3, out->reason, sizeof(out->reason));
    copy_col(s, 4, out->job_id, sizeof(out->job_id));
    copy_col(s, 5, out->job_state, sizeof(out->job_state));
    out->total_rows = (long)sqlite3_column_int64(s, 6);
    sqlite3_finalize(s);
    s = NULL;
    if (out->job_id[0] == '\0') {
        goto out;
    }
    rc = ds_store_job_item_counts(st, out->job_id, &out->items);
    if (rc == 0) {
        rc = ds_store_job_batch_counts(st, out->job_id, &out->batches);
    }
    if (rc != 0) {
        goto out;
    }
    rc = status_prepare(st,
                        "SELECT last_error_code FROM batches WHERE job_id = ?1 "
                        "AND state <> 'acked' AND last_error_code IS NOT NULL "
                        "ORDER BY updated_at DESC LIMIT 1",
                        out->job_id, NULL, &s);
    if (rc == 0 && sqlite3_step(s) == SQLITE_ROW) {
        copy_col(s, 0, out->last_error_code, sizeof(out->last_error_code));
    }
out:
    sqlite3_finalize(s);
    return rc;
}
