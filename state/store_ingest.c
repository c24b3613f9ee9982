/*
 * store_ingest.c — files and staging: what the watcher and the ingest
 * thread write.
 *
 * A settled file becomes a `files` row (or a `duplicate` of the content
 * seen before; a held file seen again unchanged but for its mtime stays
 * its one row); ingest opens a job on it, adds one item per data row inside
 * transactions of its own size, and ends with ds_store_job_staged, which cuts
 * the valid items into batches in a single pass over the job's rows.
 *
 * Speed matters here: a million-row export goes through ds_store_item_add a
 * million times. The insert and the duplicate-key probe are cached
 * statements; the probe is answered by the items_key index, and asked only
 * when a Bloom filter of the keys already added to the job says the key may
 * be among them (most keys of an export are new: the filter answers "no"
 * without touching the index); whether the job is still `staging` is
 * checked once per job, not per row (the foreign key from items to jobs
 * still refuses an item whose job was deleted meanwhile).
 */
#include "state/store_int.h"

#include "agent/core/alloc.h"
#include "agent/core/crash.h"
#include "agent/core/jsonw.h"
#include "agent/core/log.h"
#include "agent/os/os_mem.h"
#include "proto/proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- files -------------------------------------------------------------- */

int ds_store_file_known(struct ds_store *st, const char *folder, const char *path, int64_t size,
                        int64_t mtime_ns)
{
    int rc;

    if (st == NULL || folder == NULL || path == NULL) {
        return DS_EINVAL;
    }
    rc = ds__store_row(st, DS__Q_FILE_KNOWN,
                       "SELECT 1 FROM files WHERE folder = ?1 AND path = ?2 AND size = ?3 "
                       "AND mtime_ns = ?4 LIMIT 1",
                       "file known", "ttii", "-", folder, path, size, mtime_ns);
    if (rc == DS_ENOTFOUND) {
        return 0;
    }
    return rc == 0 ? 1 : rc;
}

/* The id of a file with this content that was taken before (any state but
 * `quarantined`), or 0. */
static int file_find_dup(struct ds_store *st, const char *sha256, int64_t *dup_of)
{
    int rc;

    *dup_of = 0;
    rc = ds__store_row(st, DS__Q_FILE_DUP,
                       "SELECT id FROM files WHERE sha256 = ?1 AND state <> 'quarantined' "
                       "ORDER BY id LIMIT 1",
                       "file duplicate", "t", "i", sha256, dup_of);
    return rc == DS_ENOTFOUND ? 0 : rc;
}

/*
 * A held file settling again with the same folder, path, size and content
 * (only its mtime changed: an export program writing the same file again)
 * is the file the queue holds, not a new one: its row takes the new mtime,
 * so the watcher knows it from now on (ds_store_file_known), and nothing
 * else is recorded. *id is that row's id, or 0 when there is none.
 */
static int file_held_again(struct ds_store *st, const char *folder, const char *path, int64_t size,
                           int64_t mtime_ns, const char *sha256, int64_t *id)
{
    int rc;

    *id = 0;
    rc = ds__store_row(st, DS__Q_ONCE,
                       "SELECT id FROM files WHERE folder = ?1 AND path = ?2 AND size = ?3 "
                       "AND sha256 = ?4 AND state = 'held' ORDER BY id DESC LIMIT 1",
                       "file held again", "ttit", "i", folder, path, size, sha256, id);
    if (rc != 0) {
        return rc == DS_ENOTFOUND ? 0 : rc;
    }
    return ds__store_exec(st, DS__Q_ONCE, "UPDATE files SET mtime_ns = ?2 WHERE id = ?1",
                          "file held again", "ii", *id, mtime_ns);
}

/* A new file arriving while the queue is over its disk budget is held
 * (DISK_BUDGET) instead of ingested; ds_store_purge releases it. */
static int file_add_budget(struct ds_store *st, int64_t file_id)
{
    char reason[128];
    int64_t used = 0;
    int over = ds__store_over_budget(st, &used);

    if (over <= 0) {
        return over;
    }
    snprintf(reason, sizeof(reason), "the queue uses %lld MB, over its budget of %lld MB",
             (long long)(used >> 20), (long long)(st->max_bytes >> 20));
    return ds__store_file_hold(st, file_id, DS_HOLD_DISK_BUDGET, reason);
}

int ds_store_file_add(struct ds_store *st, const char *folder, const char *path, int64_t size,
                      int64_t mtime_ns, const char *sha256, int64_t *file_id, int *duplicate)
{
    char detail[48];
    int64_t dup_of = 0;
    int64_t id = 0;
    double now = ds__store_now();
    int rc;

    rc = ds__store_change(st, st != NULL && folder != NULL && path != NULL);
    if (rc != 0) {
        return rc;
    }
    if (sha256 != NULL) {
        rc = file_held_again(st, folder, path, size, mtime_ns, sha256, &id);
        if (rc != 0 || id != 0) {
            goto out;
        }
        rc = file_find_dup(st, sha256, &dup_of);
        if (rc != 0) {
            goto out;
        }
    }
    rc = ds__store_exec(st, DS__Q_FILE_INSERT,
                        "INSERT INTO files (folder, path, size, mtime_ns, sha256, state, "
                        "duplicate_of, created_at, updated_at) "
                        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
                        "file add", "ttiittId", folder, path, size, mtime_ns, sha256,
                        dup_of != 0 ? "duplicate" : "detected", dup_of, now);
    if (rc != 0) {
        goto out;
    }
    id = sqlite3_last_insert_rowid(st->db);
    if (dup_of != 0) {
        snprintf(detail, sizeof(detail), "same content as file %lld", (long long)dup_of);
        rc = ds__store_event(st, "file_duplicate", id, NULL, 0, NULL, detail);
    }
    else {
        rc = ds__store_event(st, "file_seen", id, NULL, 0, NULL, NULL);
    }
    if (rc == 0 && dup_of == 0) {
        rc = file_add_budget(st, id);
    }
out:
    rc = ds__store_end(st, rc);
    if (rc == 0) {
        ds_crash_point("file_added_after_commit");
        if (file_id != NULL) {
            *file_id = id;
        }
        if (duplicate != NULL) {
            *duplicate = dup_of != 0;
        }
    }
    return rc;
}

/* Reads a file's state into state[size]. */
static int file_get_state(struct ds_store *st, int64_t file_id, char *state, size_t size)
{
    return ds__store_row(st, DS__Q_FILE_GET, "SELECT state FROM files WHERE id = ?1", "file state",
                         "i", "t", file_id, state, size);
}

int ds_store_file_state(struct ds_store *st, int64_t file_id, char *state, size_t size)
{
    if (st == NULL || state == NULL || size == 0) {
        return DS_EINVAL;
    }
    return file_get_state(st, file_id, state, size);
}

/* Deletes the file's jobs that are still `staging` (one per import type). */
int ds__store_file_drop_staging(struct ds_store *st, int64_t file_id)
{
    char job_id[DS_UUID_LEN];
    int rc;

    for (;;) {
        rc = ds__store_row(st, DS__Q_FILE_JOBS_STAGING,
                           "SELECT id FROM jobs WHERE file_id = ?1 AND state = 'staging' LIMIT 1",
                           "file jobs", "i", "t", file_id, job_id, sizeof(job_id));
        if (rc == DS_ENOTFOUND) {
            return 0;
        }
        if (rc == 0) {
            rc = ds__store_job_delete(st, job_id);
        }
        if (rc != 0) {
            return rc;
        }
    }
}

int ds__store_file_set_aside(struct ds_store *st, int64_t file_id, enum ds__store_q q,
                             const char *sql, const char *to, const char *code, const char *reason)
{
    char state[24];
    char event[32];
    int rc;

    rc = file_get_state(st, file_id, state, sizeof(state));
    if (rc != 0) {
        return rc;
    }
    /* Once staged, the rows are in the queue and the file is not read again;
     * a final state stays final. */
    if (strcmp(state, "detected") != 0 && strcmp(state, "staging") != 0) {
        ds_log_error("STORE_STATE", "store: file %lld is %s and cannot be %s", (long long)file_id,
                     state, to);
        return DS_EINVAL;
    }
    /* Partial jobs go: a retry ingests the file again from the start. */
    rc = ds__store_file_drop_staging(st, file_id);
    snprintf(event, sizeof(event), "file_%s", to);
    if (rc == 0) {
        rc = ds__store_exec(st, q, sql, event, "ittd", file_id, code, reason, ds__store_now());
    }
    return ds__store_then_event(st, rc, event, file_id, NULL, 0, code, reason);
}

int ds_store_file_quarantine(struct ds_store *st, int64_t file_id, const char *code,
                             const char *reason)
{
    int rc;

    rc = ds__store_change(st, st != NULL && code != NULL);
    if (rc != 0) {
        return rc;
    }
    rc = ds__store_file_set_aside(st, file_id, DS__Q_FILE_QUARANTINE,
                                  "UPDATE files SET state = 'quarantined', reason_code = ?2, "
                                  "reason = ?3, updated_at = ?4 WHERE id = ?1",
                                  "quarantined", code, reason);
    return ds__store_end(st, rc);
}

/* ds_store_files_detected's walk: the caller's callback, and copies of one
 * files row, so that callback may call back into the store. */
struct files_walk {
    ds_store_file_cb cb;
    void *ctx;
    int64_t last;
    char *folder;
    char *path;
    char *sha256;
};

static void files_walk_free(struct files_walk *w)
{
    ds_free(w->folder);
    ds_free(w->path);
    ds_free(w->sha256);
    w->folder = NULL;
    w->path = NULL;
    w->sha256 = NULL;
}

static int files_walk_row(struct ds_store *st, void *ctx)
{
    struct files_walk *w = ctx;
    struct ds_file_info info;
    int rc = DS_ENOMEM;

    (void)st;
    if (w->folder != NULL && w->path != NULL) {
        info.id = w->last;
        info.folder = w->folder;
        info.path = w->path;
        info.sha256 = w->sha256;
        info.state = "detected";
        rc = w->cb(w->ctx, &info);
    }
    files_walk_free(w);
    return rc;
}

int ds_store_files_detected(struct ds_store *st, ds_store_file_cb cb, void *ctx)
{
    struct files_walk w = {cb, ctx, 0, NULL, NULL, NULL};
    int rc;

    if (st == NULL || cb == NULL) {
        return DS_EINVAL;
    }
    /* One row per query, the statement reset before the callback runs. */
    rc = ds__store_each(st, DS__Q_FILES_DETECTED,
                        "SELECT id, folder, path, sha256 FROM files "
                        "WHERE state = 'detected' AND id > ?1 ORDER BY id LIMIT 1",
                        "files detected", files_walk_row, &w, "p", "immm", &w.last, &w.last,
                        &w.folder, &w.path, &w.sha256);
    files_walk_free(&w);
    return rc;
}

/* ---- staging ------------------------------------------------------------ */

/* Checks that a job field fits the struct ds_job_info it is read back into. */
static int job_field_fits(const char *value, size_t size, const char *name)
{
    if (value == NULL || strlen(value) >= size) {
        ds_log_error("STORE_STATE", "store: job %s is missing or longer than %zu bytes", name,
                     size - 1);
        return DS_EINVAL;
    }
    return 0;
}

int ds_store_job_begin(struct ds_store *st, int64_t file_id, const char *job_id,
                       const char *practice, const char *import_type, const char *template_id,
                       const char *filename, const char *sha256)
{
    struct ds_job_info sz; /* only for the sizes of its members */
    const char *base;
    int changed = 0;
    int rc;

    if (st == NULL) {
        return DS_EINVAL;
    }
    if (template_id == NULL) {
        template_id = "";
    }
    base = filename != NULL ? strrchr(filename, '/') : NULL;
    base = base != NULL ? base + 1 : filename;
    rc = job_field_fits(job_id, sizeof(sz.id), "id");
    if (rc == 0) {
        rc = job_field_fits(practice, sizeof(sz.practice), "practice");
    }
    if (rc == 0) {
        rc = job_field_fits(import_type, sizeof(sz.import_type), "import type");
    }
    if (rc == 0) {
        rc = job_field_fits(template_id, sizeof(sz.template_id), "template id");
    }
    if (rc == 0) {
        rc = job_field_fits(base, sizeof(sz.filename), "file name");
    }
    if (rc == 0) {
        rc = job_field_fits(sha256, sizeof(sz.sha256), "sha256");
    }
    if (rc != 0) {
        return rc;
    }
    rc = ds__store_begin(st);
    if (rc != 0) {
        return rc;
    }
    rc = ds__store_file_set_state(st, file_id, "detected", "staging", &changed);
    if (rc != 0) {
        goto out;
    }
    if (!changed) {
        ds_log_error("STORE_STATE", "store: file %lld is not detected; no job begins on it",
                     (long long)file_id);
        rc = DS_EINVAL;
        goto out;
    }
    rc = ds__store_exec(st, DS__Q_JOB_INSERT,
                        "INSERT INTO jobs (id, file_id, practice, import_type, template_id, "
                        "filename, sha256, state, created_at) "
                        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'staging', ?8)",
                        "job begin", "titttttd", job_id, file_id, practice, import_type,
                        template_id, base, sha256, ds__store_now());
    rc = ds__store_then_event(st, rc, "job_created", file_id, job_id, 0, import_type, NULL);
out:
    return ds__store_end(st, rc);
}

/*
 * The Bloom filter of the valid keys added to the staging job:
 * STAGED_KEY_BITS bits (4 MiB, allocated per job and touched only where keys
 * fall), three bits per key, all three in one 64-byte block (one cache line:
 * a key costs one memory access, not three at random places of the 4 MiB,
 * which showed as 6 % of staging's CPU; false positives: 0.074 % of keys at
 * a million rows against 0.063 % unblocked, 10.2 % against 10.1 % at seven
 * million). A key it has not seen is certainly not in the job, so the
 * duplicate probe is skipped; a key it may have seen (seen, or a false
 * positive) asks the index as before. So it must see every valid key of the
 * job: it is set up only for a job with no item yet, by the connection that
 * adds them all, and dropped whenever staging_job is.
 */
#define STAGED_KEY_BITS ((uint64_t)1 << 25)
#define STAGED_KEY_BLOCK_WORDS 8 /* 512 bits, one cache line */

static uint64_t key_mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9u;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebu;
    return x ^ (x >> 31);
}

/* The key's hash, computed once per row for the test and the set. */
static uint64_t staged_key_hash(const char *key)
{
    uint64_t h = 1469598103934665603u;

    for (const char *p = key; *p != '\0'; p++) {
        h = (h ^ (unsigned char)*p) * 1099511628211u;
    }
    return key_mix(h);
}

/* Tests (set = 0) or sets (set = 1) the bits of the key hashed to h; returns
 * 1 when all were set before. The block comes from the hash's low bits, the
 * three bits inside it from its high bits, 9 bits each. */
static int staged_key(struct ds_store *st, uint64_t h, int set)
{
    uint64_t *block = st->staged_keys + (h & (STAGED_KEY_BITS / 512 - 1)) * STAGED_KEY_BLOCK_WORDS;
    int all = 1;

    for (int i = 0; i < 3; i++) {
        unsigned bit = (unsigned)(h >> (37 + 9 * i)) & 511u;
        uint64_t mask = (uint64_t)1 << (bit & 63);

        all = all && (block[bit >> 6] & mask) != 0;
        if (set) {
            block[bit >> 6] |= mask;
        }
    }
    return all;
}

void ds__store_staged_keys_free(struct ds_store *st)
{
    ds_os_table_free(st->staged_keys, STAGED_KEY_BITS / 8);
    st->staged_keys = NULL;
}

/* A fresh filter for job_id if it has no item yet, else none. */
static int staged_keys_start(struct ds_store *st, const char *job_id)
{
    int rc;

    ds__store_staged_keys_free(st);
    rc = ds__store_row(st, DS__Q_ITEM_ANY, "SELECT 1 FROM items WHERE job_id = ?1 LIMIT 1",
                       "job items", "t", "-", job_id);
    if (rc == DS_ENOTFOUND) {
        /* Out of memory here only costs speed: every key is probed. */
        st->staged_keys = ds_os_table_alloc(STAGED_KEY_BITS / 8);
        rc = 0;
    }
    return rc;
}

/* Whether items may be added to job_id: it must be `staging`. Remembered per
 * connection so a million rows cost one lookup. */
static int item_job_staging(struct ds_store *st, const char *job_id)
{
    int rc;

    if (st->staging_job[0] != '\0' && strcmp(st->staging_job, job_id) == 0) {
        return 0;
    }
    rc = ds__store_job_in(st, job_id, "staging", NULL, "; items are added only while staging");
    if (rc != 0) {
        return rc;
    }
    rc = staged_keys_start(st, job_id);
    if (rc != 0) {
        return rc;
    }
    return ds__store_copy(st->staging_job, sizeof(st->staging_job), job_id);
}

/* The row of an earlier valid item of the job with this key, or 0. INDEXED BY
 * pins the items_key index: without statistics the planner would rather walk
 * the job's rows through the primary key to test status, one full scan per
 * row added. (It also makes preparing fail loudly if the index is gone.) */
static int item_find_dup(struct ds_store *st, const char *job_id, const char *key, long *row)
{
    int rc;

    *row = 0;
    rc = ds__store_row(st, DS__Q_ITEM_DUP,
                       "SELECT row FROM items INDEXED BY items_key "
                       "WHERE job_id = ?1 AND key = ?2 AND status = 'valid' LIMIT 1",
                       "item duplicate", "tt", "l", job_id, key, row);
    return rc == DS_ENOTFOUND ? 0 : rc;
}

int ds_store_item_add(struct ds_store *st, const char *job_id, long row, const char *key,
                      const char *fingerprint, const char *status, const char *record_json,
                      const char *raw_json, const char *error, const char **stored_status)
{
    sqlite3_stmt *s = NULL;
    const char *stored;
    int valid = 0;
    int skipped = 0;
    char dup_error[64];
    long dup_row = 0;
    uint64_t key_hash = 0;
    int rc;

    if (st == NULL || job_id == NULL || status == NULL || row < 1) {
        return DS_EINVAL;
    }
    if (strcmp(status, DS_ITEM_VALID) == 0) {
        stored = DS_ITEM_VALID;
        valid = 1;
        if (key == NULL) {
            ds_log_error("STORE_STATE", "store: job %s row %ld: a valid item needs a key", job_id,
                         row);
            return DS_EINVAL;
        }
    }
    else if (strcmp(status, DS_ITEM_INVALID) == 0) {
        stored = DS_ITEM_INVALID;
    }
    else if (strcmp(status, DS_ITEM_SKIPPED) == 0) {
        stored = DS_ITEM_SKIPPED;
        skipped = 1;
    }
    else {
        ds_log_error("STORE_STATE",
                     "store: job %s row %ld: items are added valid, invalid or skipped", job_id,
                     row);
        return DS_EINVAL;
    }
    rc = item_job_staging(st, job_id);
    if (rc != 0) {
        return rc;
    }
    if (valid && st->staged_keys != NULL) {
        key_hash = staged_key_hash(key);
    }
    if (valid && (st->staged_keys == NULL || staged_key(st, key_hash, 0))) {
        rc = item_find_dup(st, job_id, key, &dup_row);
        if (rc != 0) {
            return rc;
        }
        if (dup_row != 0) {
            stored = DS_ITEM_DUPLICATE;
            snprintf(dup_error, sizeof(dup_error), "same key as row %ld", dup_row);
            error = dup_error;
        }
    }
    rc = ds__store_stmt(st, DS__Q_ITEM_INSERT,
                        "INSERT INTO items (job_id, row, key, fingerprint, status, record, raw, "
                        "error_code, error, outbound) "
                        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                        &s);
    if (rc != 0) {
        goto out;
    }
    sqlite3_bind_text(s, 1, job_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, row);
    ds__store_bind_text(s, 3, key);
    ds__store_bind_text(s, 4, fingerprint);
    sqlite3_bind_text(s, 5, stored, -1, SQLITE_STATIC);
    ds__store_bind_text(s, 6, record_json);
    ds__store_bind_text(s, 7, raw_json);
    sqlite3_bind_int(s, 10, valid && dup_row == 0);
    if (dup_row != 0) {
        sqlite3_bind_text(s, 8, "DUPLICATE_KEY", -1, SQLITE_STATIC);
    }
    else if (skipped) {
        sqlite3_bind_text(s, 8, "SKIPPED", -1, SQLITE_STATIC);
    }
    ds__store_bind_text(s, 9, error);
    rc = ds__store_run(st, s, "item add");
    if (rc == 0 && valid && dup_row == 0 && st->staged_keys != NULL) {
        staged_key(st, key_hash, 1);
    }
    if (rc == 0 && stored_status != NULL) {
        *stored_status = stored;
    }
out:
    ds__store_reset(s);
    return rc;
}

/* The batch being cut while ds_store_job_staged walks the rows. */
struct cut {
    long seq;   /* the batch's number, from 1 */
    long first; /* its first and last row */
    long last;
    long nrows; /* rows in it so far */
};

/* Writes the batch cut so far with its digest. Its items are the job's
 * outbound items in [first, last]: nothing is written on them. */
static int cut_flush(struct ds_store *st, const char *job_id, struct cut *c, double now)
{
    char digest[DS_SHA256_HEX];
    int rc;

    ds_sha256_final(st->sha, digest);
    rc = ds__store_exec(st, DS__Q_BATCH_INSERT,
                        "INSERT INTO batches (job_id, seq, state, first_row, last_row, nrows, "
                        "digest, created_at, updated_at) "
                        "VALUES (?1, ?2, 'pending', ?3, ?4, ?5, ?6, ?7, ?7)",
                        "batch insert", "tlllltd", job_id, c->seq, c->first, c->last, c->nrows,
                        digest, now);
    if (rc == 0) {
        c->seq++;
        c->nrows = 0;
    }
    return rc;
}

static void digest_update(void *h, const void *p, size_t n)
{
    ds_sha256_update(h, p, n);
}

/* Feeds one row's digest line (ds_proto_digest_row) to h. The uploader's
 * digest (store_upload.c) uses the same function. */
void ds__store_digest_row(struct ds_sha256 *h, long row, const char *key, const char *fingerprint)
{
    ds_proto_digest_row(digest_update, h, row, key, fingerprint);
}

/*
 * One pass over the job's items in row order (the primary key's order, no
 * sort): counts them, checks that rows are 1..total_rows, and cuts the
 * outbound ones into batches as it goes, each batch written as soon as it is
 * full. Only the batches table is written; the items are only read.
 */
static int job_cut(struct ds_store *st, const char *job_id, long total_rows, int batch_rows,
                   long *nbatches)
{
    sqlite3_stmt *s = NULL;
    struct cut c = {1, 0, 0, 0};
    char scratch[DS_SHA256_HEX];
    double now = ds__store_now();
    long count = 0;
    long maxrow = 0;
    long row;
    int rc;

    rc = ds__store_prep(st, DS__Q_ITEM_SCAN,
                        "SELECT row, key, fingerprint, outbound FROM items "
                        "WHERE job_id = ?1 ORDER BY row",
                        "job cut", &s, "t", job_id);
    if (rc != 0) {
        goto out;
    }
    ds_sha256_final(st->sha, scratch); /* starts a fresh digest */
    /* One step per item: the columns are read directly, without a format. */
    while ((rc = ds__store_step(st, s, "job cut")) == 1) {
        row = (long)sqlite3_column_int64(s, 0);
        count++;
        maxrow = row;
        if (!sqlite3_column_int(s, 3)) {
            continue;
        }
        if (c.nrows == 0) {
            c.first = row;
        }
        c.last = row;
        c.nrows++;
        ds__store_digest_row(st->sha, row, (const char *)sqlite3_column_text(s, 1),
                             (const char *)sqlite3_column_text(s, 2));
        if (c.nrows == batch_rows) {
            rc = cut_flush(st, job_id, &c, now);
            if (rc != 0) {
                goto out;
            }
        }
    }
    if (rc != 0) {
        goto out;
    }
    if (c.nrows > 0) {
        rc = cut_flush(st, job_id, &c, now);
        if (rc != 0) {
            goto out;
        }
    }
    if (count != total_rows || maxrow > total_rows) {
        ds_log_error("STORE_STATE",
                     "store: job %s has %ld item(s) up to row %ld but %ld row(s) were read; "
                     "every data row needs its item",
                     job_id, count, maxrow, total_rows);
        rc = DS_EINVAL;
        goto out;
    }
    *nbatches = c.seq - 1;
out:
    ds__store_done(DS__Q_ITEM_SCAN, &s);
    return rc;
}

int ds_store_job_staged(struct ds_store *st, const char *job_id, long total_rows, int batch_rows)
{
    char detail[64];
    int64_t file_id = 0;
    long nbatches = 0;
    long siblings = 0;
    int changed = 0;
    int rc;

    rc = ds__store_change(st, st != NULL && job_id != NULL && total_rows >= 0 && batch_rows >= 1);
    if (rc != 0) {
        return rc;
    }
    rc = ds__store_job_in(st, job_id, "staging", &file_id, ", not staging");
    if (rc != 0) {
        goto out;
    }
    rc = job_cut(st, job_id, total_rows, batch_rows, &nbatches);
    if (rc != 0) {
        goto out;
    }
    rc = ds__store_exec(st, DS__Q_JOB_STAGED,
                        "UPDATE jobs SET state = 'uploading', total_rows = ?2, staged_at = ?3 "
                        "WHERE id = ?1",
                        "job staged", "tld", job_id, total_rows, ds__store_now());
    if (rc != 0) {
        goto out;
    }
    /* A sibling job (rows routed to another type) still staging keeps the
     * file staging; the last job staged moves it (store_route.c). */
    rc = ds__store_file_jobs_staging(st, file_id, &siblings);
    if (rc == 0 && siblings == 0) {
        rc = ds__store_file_set_state(st, file_id, "staging", "staged", &changed);
        if (rc == 0 && !changed) {
            ds_log_error("STORE_CORRUPT", "store: the file of job %s is not staging", job_id);
            rc = DS_ECORRUPT;
        }
    }
    if (rc != 0) {
        goto out;
    }
    snprintf(detail, sizeof(detail), "%ld rows, %ld batches", total_rows, nbatches);
    rc = ds__store_event(st, "job_staged", file_id, job_id, 0, NULL, detail);
    if (rc == 0) {
        ds_crash_point("job_staged_before_commit");
    }
out:
    if (strcmp(st->staging_job, job_id) == 0) {
        st->staging_job[0] = '\0';
    }
    return ds__store_end(st, rc);
}

/* ---- the binding of a job's template ------------------------------------- */

int ds_store_job_set_binding(struct ds_store *st, const char *job_id, const char *binding)
{
    int rc;

    rc = ds__store_change(st, st != NULL && job_id != NULL && binding != NULL);
    if (rc != 0) {
        return rc;
    }
    rc = ds__store_exec(st, DS__Q_ONCE, "UPDATE jobs SET binding = ?2 WHERE id = ?1", "job binding",
                        "tt", job_id, binding);
    if (rc == 0 && sqlite3_changes(st->db) == 0) {
        rc = DS_ENOTFOUND;
    }
    return ds__store_end(st, rc);
}

/* ---- the names of a job's compact rows ------------------------------------ */

int ds_store_job_set_columns(struct ds_store *st, const char *job_id, const char *raw_columns,
                             const char *record_fields)
{
    int rc;

    rc = ds__store_change(st, st != NULL && job_id != NULL &&
                                  (raw_columns == NULL || raw_columns[0] == '[') &&
                                  (record_fields == NULL || record_fields[0] == '['));
    if (rc != 0) {
        return rc;
    }
    /* Only before the job's first item: the items already staged would be
     * read with names they were not written for. */
    rc = ds__store_exec(st, DS__Q_ONCE,
                        "UPDATE jobs SET raw_columns = ?2, record_fields = ?3 "
                        "WHERE id = ?1 AND state = 'staging' "
                        "AND NOT EXISTS (SELECT 1 FROM items WHERE job_id = ?1)",
                        "job columns", "ttt", job_id, raw_columns, record_fields);
    if (rc == 0 && sqlite3_changes(st->db) == 0) {
        rc = ds__store_job_in(st, job_id, "staging", NULL, "; its column names are set then");
        if (rc == 0) {
            ds_log_error("STORE_STATE",
                         "store: job %s: column names are set only before its first item", job_id);
            rc = DS_EINVAL;
        }
    }
    return ds__store_end(st, rc);
}

int ds__store_zip(const char *job_id, long row, const char *what, const char *names,
                  const char *text, int flags, struct ds_buf *b, const char **out)
{
    int rc;

    *out = text;
    if (text == NULL || text[0] != '[') {
        return 0;
    }
    if (names == NULL) {
        ds_log_error("STORE_CORRUPT", "store: job %s row %ld: %s values without names", job_id, row,
                     what);
        return DS_ECORRUPT;
    }
    ds_buf_reset(b);
    rc = ds_jsonw_zip(b, names, text, flags);
    if (rc == DS_EPARSE) {
        ds_log_error("STORE_CORRUPT",
                     "store: job %s row %ld: %s values do not pair with the job's names", job_id,
                     row, what);
        rc = DS_ECORRUPT;
    }
    *out = rc == 0 ? b->data : NULL;
    return rc;
}

int ds_store_job_binding(struct ds_store *st, const char *job_id, char *buf, size_t size)
{
    int rc;

    if (st == NULL || job_id == NULL || buf == NULL || size == 0) {
        return DS_EINVAL;
    }
    buf[0] = '\0';
    rc = ds__store_row(st, DS__Q_ONCE,
                       "SELECT binding FROM jobs WHERE id = ?1 AND binding IS NOT NULL",
                       "job binding", "t", "t", job_id, buf, size);
    if (rc != 0 && rc != DS_ETOOBIG) {
        buf[0] = '\0';
    }
    return rc;
}
