/*
 * store_delta.c — the delta: what was synced before, so a nightly full
 * snapshot sends only what changed (DESIGN.md, "delta").
 *
 * The `synced` table (migration 0004) holds, per practice, import type and
 * key, the fingerprint of the record the cloud last acknowledged. It is
 * written in one place only, ds__store_synced_acked, inside the transaction
 * of ds_store_batch_acked: a row the cloud created, updated or found
 * unchanged records its fingerprint; a deletion row it deleted (or found
 * already gone) removes its key. So the table never runs ahead of the cloud:
 * a crash before the acknowledgement's commit sends the batch again, and
 * the cloud replays it.
 *
 * Staging reads it twice, each time with one set-based statement over the
 * job rather than a lookup per row:
 *
 *   ds_store_job_mark_unchanged  valid items with a synced key and the same
 *                                fingerprint -> `unchanged` (outbound 0);
 *   ds_store_job_snapshot        (full snapshots) synced keys that no item
 *                                of the job carries -> one deletion item
 *                                each, after the data rows — or, when too
 *                                many vanished at once, nothing and the
 *                                caller holds the file.
 *
 * Both run while the job is `staging`, before ds_store_job_staged cuts the
 * batches; a crash in between leaves a staging job that start-up recovery
 * deletes, and the file is ingested again from the start.
 *
 * Not a hot path per row: statements are prepared per call.
 */
#include "state/store_int.h"

#include "agent/core/log.h"

#include <stdio.h>
#include <string.h>

/* The practice and import type of a job that must be `staging`. */
static int job_scope(struct ds_store *st, const char *job_id, char practice[128],
                     char import_type[32])
{
    char state[24];
    int rc;

    rc = ds__store_row(
        st, DS__Q_ONCE, "SELECT state, practice, import_type FROM jobs WHERE id = ?1", "delta job",
        "t", "ttt", job_id, state, sizeof(state), practice, (size_t)128, import_type, (size_t)32);
    if (rc == 0 && strcmp(state, "staging") != 0) {
        ds_log_error("STORE_STATE",
                     "store: job %s is not staging; its delta is decided while staging", job_id);
        rc = DS_EINVAL;
    }
    return rc;
}

int ds_store_job_mark_unchanged(struct ds_store *st, const char *job_id, long *unchanged)
{
    char practice[128];
    char import_type[32];
    long n = 0;
    int rc;

    rc = ds__store_change(st, st != NULL && job_id != NULL);
    if (rc != 0) {
        return rc;
    }
    rc = job_scope(st, job_id, practice, import_type);
    if (rc != 0) {
        goto out;
    }
    /* Nothing synced yet for the practice and type (a first sync): no row
     * can be unchanged, and the walk over every item of the job is saved. */
    rc = ds__store_row(st, DS__Q_ONCE,
                       "SELECT 1 FROM synced WHERE practice = ?1 AND import_type = ?2 LIMIT 1",
                       "mark unchanged", "tt", "-", practice, import_type);
    if (rc == DS_ENOTFOUND) {
        rc = 0;
        goto out;
    }
    if (rc != 0) {
        goto out;
    }
    /* A duplicate row keeps its state: the first row with its key decides. */
    rc = ds__store_exec(st, DS__Q_ONCE,
                        "UPDATE items SET status = 'unchanged', outbound = 0 "
                        "WHERE job_id = ?1 AND status = 'valid' AND op IS NULL AND EXISTS ("
                        "SELECT 1 FROM synced s WHERE s.practice = ?2 AND s.import_type = ?3 "
                        "AND s.key = items.key AND s.fingerprint = items.fingerprint)",
                        "mark unchanged", "ttt", job_id, practice, import_type);
    if (rc == 0) {
        n = sqlite3_changes(st->db);
    }
out:
    rc = ds__store_end(st, rc);
    if (rc == 0 && unchanged != NULL) {
        *unchanged = n;
    }
    return rc;
}

/* A synced key of an occurrence dated before ?4 (YYYYMMDD; '' for none),
 * in the three forms of an EVENT-ID's occurrence: it left the window. */
#define D8 "[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]"
#define T6 "T[0-9][0-9][0-9][0-9][0-9][0-9]"
#define NOT_AGED                                                                                   \
    "NOT (?4 <> '' AND ("                                                                          \
    "(s.key GLOB '*/" D8 T6 "Z' AND substr(s.key, -16, 8) < ?4) OR "                               \
    "(s.key GLOB '*/" D8 T6 "' AND substr(s.key, -15, 8) < ?4) OR "                                \
    "(s.key GLOB '*/" D8 "' AND substr(s.key, -8) < ?4)))"

/* The keys synced for the scope, less the aged ones. */
#define SYNCED_WHERE "FROM synced s WHERE s.practice = ?2 AND s.import_type = ?3 AND " NOT_AGED

/* Of them, those that no item of the job carries. The items_key index
 * answers the NOT EXISTS per synced key. */
#define MISSING_WHERE                                                                              \
    SYNCED_WHERE                                                                                   \
    " AND NOT EXISTS ("                                                                            \
    "SELECT 1 FROM items i INDEXED BY items_key WHERE i.job_id = ?1 AND i.key = s.key)"

int ds_store_job_snapshot(struct ds_store *st, const char *job_id, long data_rows,
                          int max_missing_percent, int allow_shrink, const char *aged_before,
                          struct ds_snapshot_check *out)
{
    const char *aged = aged_before != NULL ? aged_before : "";
    char practice[128];
    char import_type[32];
    struct ds_snapshot_check c;
    int rc;

    if (st == NULL || job_id == NULL || out == NULL || data_rows < 0 || max_missing_percent < 0) {
        return DS_EINVAL;
    }
    memset(&c, 0, sizeof(c));
    rc = ds__store_begin(st);
    if (rc != 0) {
        return rc;
    }
    rc = job_scope(st, job_id, practice, import_type);
    if (rc == 0) {
        rc = ds__store_row(st, DS__Q_ONCE, "SELECT count(*) " SYNCED_WHERE, "snapshot synced",
                           "-ttt", "l", practice, import_type, aged, &c.synced);
    }
    if (rc != 0 || c.synced == 0) {
        goto out;
    }
    rc = ds__store_row(st, DS__Q_ONCE, "SELECT count(*) " MISSING_WHERE, "snapshot missing", "tttt",
                       "l", job_id, practice, import_type, aged, &c.missing);
    if (rc != 0 || c.missing == 0) {
        goto out;
    }
    /* In integers: missing / synced > max / 100. */
    if (!allow_shrink && (int64_t)c.missing * 100 > (int64_t)max_missing_percent * c.synced) {
        c.shrank = 1;
        goto out;
    }
    rc = ds__store_exec(st, DS__Q_ONCE,
                        "INSERT INTO items (job_id, row, key, fingerprint, status, outbound, op) "
                        "SELECT ?1, ?5 + row_number() OVER (ORDER BY s.key), s.key, 'delete', "
                        "'valid', 1, 'delete' " MISSING_WHERE " ORDER BY s.key",
                        "snapshot deletions", "ttttl", job_id, practice, import_type, aged,
                        data_rows);
    if (rc == 0) {
        c.deletions = sqlite3_changes(st->db);
    }
out:
    rc = ds__store_end(st, rc);
    if (rc == 0) {
        *out = c;
    }
    return rc;
}

int ds__store_synced_acked(struct ds_store *st, const char *job_id, long first_row, long last_row)
{
    static const char *const sql[] = {
        /* Upserts the records the cloud holds now. */
        "INSERT INTO synced (practice, import_type, key, fingerprint, job_id, synced_at) "
        "SELECT j.practice, j.import_type, i.key, i.fingerprint, i.job_id, ?4 "
        "FROM items i JOIN jobs j ON j.id = i.job_id "
        "WHERE i.job_id = ?1 AND i.row BETWEEN ?2 AND ?3 AND i.outbound = 1 AND i.op IS NULL "
        "AND i.status IN ('created', 'updated', 'unchanged') AND i.key IS NOT NULL "
        "AND i.fingerprint IS NOT NULL "
        "ON CONFLICT (practice, import_type, key) DO UPDATE SET "
        "fingerprint = excluded.fingerprint, job_id = excluded.job_id, "
        "synced_at = excluded.synced_at",
        /* Forgets the keys the cloud no longer holds live. */
        "DELETE FROM synced WHERE (practice, import_type, key) IN ("
        "SELECT j.practice, j.import_type, i.key FROM items i JOIN jobs j ON j.id = i.job_id "
        "WHERE i.job_id = ?1 AND i.row BETWEEN ?2 AND ?3 AND i.outbound = 1 "
        "AND i.op = 'delete' AND i.status IN ('deleted', 'unchanged'))",
    };
    /* The deletion takes no time (?4). */
    static const char *const in[] = {"tlld", "tll"};
    double now = ds__store_now();
    int rc = 0;

    for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]) && rc == 0; i++) {
        rc = ds__store_exec(st, DS__Q_ONCE, sql[i], "synced", in[i], job_id, first_row, last_row,
                            now);
    }
    return rc;
}

int ds_store_synced_get(struct ds_store *st, const char *practice, const char *import_type,
                        const char *key, char fingerprint[DS_SHA256_HEX])
{
    int rc;

    if (st == NULL || practice == NULL || import_type == NULL || key == NULL) {
        return DS_EINVAL;
    }
    /* Cached: `preview --all` asks once per row (preparing it each time was
     * half of that command's instructions). */
    rc = ds__store_row(st, DS__Q_SYNCED_GET,
                       "SELECT fingerprint FROM synced WHERE practice = ?1 AND import_type = ?2 "
                       "AND key = ?3",
                       "synced get", "ttt", "t", practice, import_type, key, fingerprint,
                       (size_t)DS_SHA256_HEX);
    if (rc == DS_ENOTFOUND) {
        return 0;
    }
    if (rc == DS_ETOOBIG) {
        return DS_ECORRUPT;
    }
    return rc == 0 ? 1 : rc;
}

int ds_store_synced_count(struct ds_store *st, const char *practice, const char *import_type,
                          long *count)
{
    if (st == NULL || practice == NULL || import_type == NULL || count == NULL) {
        return DS_EINVAL;
    }
    return ds__store_row(st, DS__Q_ONCE,
                         "SELECT count(*) FROM synced WHERE practice = ?1 AND import_type = ?2",
                         "synced count", "tt", "l", practice, import_type, count);
}

int ds_store_synced_forget(struct ds_store *st, const char *practice, const char *import_type,
                           long *forgotten)
{
    int rc;

    rc = ds__store_change(st, st != NULL && practice != NULL);
    if (rc != 0) {
        return rc;
    }
    rc = ds__store_exec(
        st, DS__Q_ONCE,
        "DELETE FROM synced WHERE practice = ?1 AND (?2 IS NULL OR import_type = ?2)",
        "synced forget", "tt", practice, import_type);
    if (rc == 0 && forgotten != NULL) {
        *forgotten = (long)sqlite3_changes(st->db);
    }
    rc = ds__store_then_event(st, rc, "resync", 0, NULL, 0, import_type, NULL);
    return ds__store_end(st, rc);
}
