/*
 * test_store.c — the local queue (state/): opening and migrations, files,
 * staging, batch delivery, completion, recovery and rollback.
 *
 * Each test gets a fresh database in its own temporary directory. The tests
 * look into the database with SQLite directly only to check what the store's
 * interface does not show (schema version, events) or to damage it on
 * purpose; the digest is checked against SHA-256 computed with libcrypto,
 * not with the store's own hashing.
 */
#include "state/store_ingest.h"
#include "state/store_status.h"
#include "state/store_upload.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "tests/unit/store_fixture.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern const char *const ds_store_migrations[];

#define JOB_A "0b7c6a3e-3f0e-4c1e-9a55-1b2c3d4e5f60"
#define JOB_B "1c8d7b4f-4a1f-4d2f-8b66-2c3d4e5f6071"
#define SHA_X "aaaa000000000000000000000000000000000000000000000000000000000001"
#define SHA_Y "bbbb000000000000000000000000000000000000000000000000000000000002"
#define SHA_Z "cccc000000000000000000000000000000000000000000000000000000000003"

static int setup(void **state)
{
    return store_setup(state, "test_store");
}

static int teardown(void **state)
{
    return store_teardown(state);
}

/* ---- helpers ------------------------------------------------------------ */

static int count_migrations(void)
{
    int n = 0;

    while (ds_store_migrations[n] != NULL) {
        n++;
    }
    return n;
}

static void db_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;

    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* SHA-256 hex of s with libcrypto directly. */
static void sha256_ref(const char *s, char hex[DS_SHA256_HEX])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;

    assert_int_equal(EVP_Digest(s, strlen(s), md, &len, EVP_sha256(), NULL), 1);
    assert_int_equal(len, 32);
    for (unsigned int i = 0; i < len; i++) {
        snprintf(hex + (size_t)2 * i, 3, "%02x", md[i]);
    }
}

static void file_state_is(struct ds_store *st, int64_t id, const char *want)
{
    char state[16];

    assert_int_equal(ds_store_file_state(st, id, state, sizeof(state)), 0);
    assert_string_equal(state, want);
}

static void job_state_is(struct ds_store *st, const char *job_id, const char *want)
{
    struct ds_job_info job;

    assert_int_equal(ds_store_job_get(st, job_id, &job), 0);
    assert_string_equal(job.state, want);
}

static void batch_counts_are(struct ds_store *st, const char *job_id, long pending, long in_flight,
                             long retry_wait, long acked, long rejected)
{
    struct ds_batch_counts c;

    assert_int_equal(ds_store_job_batch_counts(st, job_id, &c), 0);
    assert_int_equal(c.pending, pending);
    assert_int_equal(c.in_flight, in_flight);
    assert_int_equal(c.retry_wait, retry_wait);
    assert_int_equal(c.acked, acked);
    assert_int_equal(c.rejected, rejected);
}

static int64_t add_file(struct ds_store *st, const char *path, const char *sha)
{
    int64_t id = 0;
    int dup = -1;

    assert_int_equal(ds_store_file_add(st, "inbox", path, 100, 42, sha, &id, &dup), 0);
    assert_int_equal(dup, 0);
    return id;
}

/* A job on a new file: rows 1..n all valid with keys k<row>. */
static int64_t staged_job(struct ds_store *st, const char *job_id, const char *sha, int n,
                          int batch_rows)
{
    int64_t file_id = add_file(st, job_id, sha);
    char key[16];
    char fp[16];

    assert_int_equal(ds_store_job_begin(st, file_id, job_id, "smile", "patients", "generic",
                                        "patients.csv", sha),
                     0);
    assert_int_equal(ds_store_tx_begin(st), 0);
    for (int i = 1; i <= n; i++) {
        snprintf(key, sizeof(key), "ext:%d", i);
        snprintf(fp, sizeof(fp), "fp%d", i);
        assert_int_equal(
            ds_store_item_add(st, job_id, i, key, fp, DS_ITEM_VALID, "{}", NULL, NULL, NULL), 0);
    }
    assert_int_equal(ds_store_tx_commit(st), 0);
    assert_int_equal(ds_store_job_staged(st, job_id, n, batch_rows), 0);
    return file_id;
}

/* Collects the rows batch_send hands over. */
struct rows_seen {
    long rows[16];
    char keys[16][16];
    int n;
    int fail_at; /* return an error at this row (0: never) */
};

static int collect_row(void *ctx, const struct ds_batch_row *r)
{
    struct rows_seen *seen = ctx;

    if (seen->fail_at != 0 && r->row == seen->fail_at) {
        return DS_ETOOBIG;
    }
    assert_true(seen->n < 16);
    seen->rows[seen->n] = r->row;
    snprintf(seen->keys[seen->n], sizeof(seen->keys[0]), "%s", r->key);
    seen->n++;
    assert_non_null(r->record_json);
    return 0;
}

/* ---- opening ------------------------------------------------------------ */

static void test_open_creates_0640(void **state)
{
    struct fixture *f = *state;
    struct ds_error err;
    struct stat sb;
    char wal[160];
    mode_t old;

    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0640);
    assert_int_equal(ds_store_schema_version(f->st), count_migrations());
    assert_true(count_migrations() >= 1);
    assert_int_equal(db_long(f->path, "PRAGMA user_version"), count_migrations());
    assert_int_equal(db_long(f->path, "SELECT count(*) FROM sqlite_schema WHERE name = 'items'"),
                     1);

    /* The write-ahead log holds patient data too: same mode. */
    add_file(f->st, "a.csv", SHA_X);
    snprintf(wal, sizeof(wal), "%s-wal", f->path);
    assert_int_equal(stat(wal, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0640);

    /* The -wal and -shm outlive the connection, so the group's read-only
     * connections find them; an older 0600 one is given the queue's mode. */
    ds_store_close(&f->st);
    assert_null(f->st);
    ds_store_close(&f->st);
    assert_int_equal(stat(wal, &sb), 0);
    snprintf(wal, sizeof(wal), "%s-shm", f->path);
    assert_int_equal(stat(wal, &sb), 0);
    assert_int_equal(chmod(wal, 0600), 0);

    /* Reopening is idempotent; a permissive umask changes nothing. */
    old = umask(0);
    assert_int_equal(ds_store_open(f->path, &f->st, &err), 0);
    umask(old);
    assert_int_equal(ds_store_schema_version(f->st), count_migrations());
    assert_int_equal(ds_store_file_known(f->st, "inbox", "a.csv", 100, 42), 1);
    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0640);
    assert_int_equal(stat(wal, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0640);
}

static void test_open_new_file_under_umask(void **state)
{
    struct fixture *f = *state;
    struct ds_store *st = NULL;
    struct ds_error err;
    struct stat sb;
    char path[160];
    mode_t old;

    snprintf(path, sizeof(path), "%s/other.db", f->dir);
    old = umask(0);
    assert_int_equal(ds_store_open(path, &st, &err), 0);
    umask(old);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0640);
    ds_store_close(&st);
}

/* A sound header over damaged pages opens, but the check at start refuses
 * it and changes nothing; a sound queue passes. */
static void test_check_damaged_pages(void **state)
{
    struct fixture *f = *state;
    struct ds_error err;
    char junk[4096];
    int64_t id = 0;
    int dup = 0;
    off_t size;
    int fd;

    assert_int_equal(ds_store_check(f->st, &err), 0);
    for (int i = 0; i < 400; i++) {
        char p[64];

        snprintf(p, sizeof(p), "/in/file-%04d-with-a-longer-name-to-fill-pages.csv", i);
        assert_int_equal(ds_store_file_add(f->st, "inbox", p, 10, i, "ab", &id, &dup), 0);
    }
    ds_store_close(&f->st);
    memset(junk, 0x5a, sizeof(junk));
    fd = open(f->path, O_RDWR);
    assert_true(fd >= 0);
    size = lseek(fd, 0, SEEK_END);
    assert_true(size >= 6 * 4096);
    /* The second half: the schema and the tables' roots stay readable. */
    for (off_t at = size / 8192 * 4096; at < size - 4096; at += 4096) {
        assert_int_equal(pwrite(fd, junk, sizeof(junk), at), (ssize_t)sizeof(junk));
    }
    close(fd);

    assert_int_equal(ds_store_open(f->path, &f->st, &err), 0);
    ds_error_clear(&err);
    assert_int_equal(ds_store_check(f->st, &err), DS_ECORRUPT);
    assert_int_equal(err.code, DS_ECORRUPT);
    assert_non_null(strstr(err.msg, "damaged"));
}

static void test_open_garbage_is_corrupt(void **state)
{
    struct fixture *f = *state;
    struct ds_store *st = NULL;
    struct ds_error err;
    char path[160];
    char junk[4096];
    char back[4096];
    int fd;

    for (size_t i = 0; i < sizeof(junk); i++) {
        junk[i] = (char)('a' + i % 26);
    }
    snprintf(path, sizeof(path), "%s/junk.db", f->dir);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
    close(fd);

    ds_error_clear(&err);
    assert_int_equal(ds_store_open(path, &st, &err), DS_ECORRUPT);
    assert_null(st);
    assert_int_equal(err.code, DS_ECORRUPT);
    assert_true(err.msg[0] != '\0');

    /* Never recreated: the file is as it was. */
    fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(read(fd, back, sizeof(back)), (ssize_t)sizeof(back));
    close(fd);
    assert_memory_equal(junk, back, sizeof(junk));
}

static void test_open_newer_schema_refused(void **state)
{
    struct fixture *f = *state;
    struct ds_error err;

    ds_store_close(&f->st);
    db_exec(f->path, "PRAGMA user_version = 9999");
    ds_error_clear(&err);
    assert_int_equal(ds_store_open(f->path, &f->st, &err), DS_ECORRUPT);
    assert_null(f->st);
    assert_non_null(strstr(err.msg, "newer"));
    assert_int_equal(db_long(f->path, "PRAGMA user_version"), 9999);
}

static void test_open_foreign_database_refused(void **state)
{
    struct fixture *f = *state;
    struct ds_store *st = NULL;
    struct ds_error err;
    char path[160];

    snprintf(path, sizeof(path), "%s/foreign.db", f->dir);
    {
        sqlite3 *db = NULL;

        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db, "CREATE TABLE t (x)", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
    }
    assert_int_equal(ds_store_open(path, &st, &err), DS_ECORRUPT);
    assert_null(st);
    assert_int_equal(db_long(path, "SELECT count(*) FROM sqlite_schema"), 1);
}

/* A new queue takes 16 KiB pages (fewer page splits and system calls while
 * staging); a queue whose file already has its pages keeps their size and
 * works as before. */
static void test_page_size(void **state)
{
    struct fixture *f = *state;
    struct ds_store *st = NULL;
    struct ds_error err;
    char path[160];
    int64_t id = 0;
    int dup = 0;

    assert_int_equal(db_long(f->path, "PRAGMA page_size"), 16384);

    snprintf(path, sizeof(path), "%s/old.db", f->dir);
    {
        sqlite3 *db = NULL;

        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db, "PRAGMA page_size = 4096; PRAGMA journal_mode = WAL",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
        sqlite3_close(db);
    }
    assert_int_equal(ds_store_open(path, &st, &err), 0);
    assert_int_equal(ds_store_file_add(st, "inbox", "/in/a.csv", 10, 1, SHA_X, &id, &dup), 0);
    ds_store_close(&st);
    assert_int_equal(db_long(path, "PRAGMA page_size"), 4096);
    assert_int_equal(db_long(path, "SELECT count(*) FROM files"), 1);
}

/* ---- files -------------------------------------------------------------- */

struct detected {
    int64_t ids[8];
    char paths[8][32];
    int n;
};

static int collect_file(void *ctx, const struct ds_file_info *info)
{
    struct detected *d = ctx;

    assert_string_equal(info->state, "detected");
    assert_string_equal(info->folder, "inbox");
    d->ids[d->n] = info->id;
    snprintf(d->paths[d->n], sizeof(d->paths[0]), "%s", info->path);
    d->n++;
    return 0;
}

static void test_file_add_duplicate(void **state)
{
    struct fixture *f = *state;
    struct detected d = {0};
    int64_t a, b, c, e;
    int dup = -1;

    assert_int_equal(ds_store_file_known(f->st, "inbox", "a.csv", 100, 42), 0);
    a = add_file(f->st, "a.csv", SHA_X);
    assert_true(a > 0);
    file_state_is(f->st, a, "detected");
    assert_int_equal(ds_store_file_known(f->st, "inbox", "a.csv", 100, 42), 1);
    assert_int_equal(ds_store_file_known(f->st, "inbox", "a.csv", 100, 43), 0);
    assert_int_equal(ds_store_file_known(f->st, "other", "a.csv", 100, 42), 0);

    /* Same content under another name: duplicate, final. */
    assert_int_equal(ds_store_file_add(f->st, "inbox", "copy.csv", 100, 50, SHA_X, &b, &dup), 0);
    assert_int_equal(dup, 1);
    assert_true(b != a);
    file_state_is(f->st, b, "duplicate");
    assert_int_equal(ds_store_file_known(f->st, "inbox", "copy.csv", 100, 50), 1);
    assert_int_equal(
        ds_store_job_begin(f->st, b, JOB_A, "smile", "patients", "generic", "copy.csv", SHA_X),
        DS_EINVAL);

    /* A quarantined file does not make its content a duplicate. */
    c = add_file(f->st, "bad.csv", SHA_Y);
    assert_int_equal(ds_store_file_quarantine(f->st, c, "NO_TEMPLATE", "no template matched"), 0);
    file_state_is(f->st, c, "quarantined");
    assert_int_equal(ds_store_file_quarantine(f->st, c, "AGAIN", NULL), DS_EINVAL);
    e = add_file(f->st, "bad-again.csv", SHA_Y);
    file_state_is(f->st, e, "detected");

    /* A file that could not be read has no hash; it can still be recorded
     * and quarantined. */
    {
        int64_t u = 0;

        assert_int_equal(ds_store_file_add(f->st, "inbox", "locked.csv", 1, 1, NULL, &u, &dup), 0);
        assert_int_equal(dup, 0);
        assert_int_equal(ds_store_file_quarantine(f->st, u, "UNREADABLE", "permission denied"), 0);
    }

    /* Detected files, oldest first. */
    assert_int_equal(ds_store_files_detected(f->st, collect_file, &d), 0);
    assert_int_equal(d.n, 2);
    assert_int_equal(d.ids[0], a);
    assert_string_equal(d.paths[0], "a.csv");
    assert_int_equal(d.ids[1], e);

    assert_int_equal(ds_store_file_state(f->st, 9999, (char[16]){0}, 16), DS_ENOTFOUND);
    assert_int_equal(db_long(f->path, "SELECT count(*) FROM events WHERE kind = 'file_duplicate'"),
                     1);
    assert_int_equal(db_long(f->path, "SELECT count(*) FROM events WHERE kind = 'file_seen'"), 4);
}

/* A walk's callback may write to the store (the statement is reset before
 * it runs), and its first non-zero return ends the walk and is returned. */
struct quarantining {
    struct ds_store *st;
    int n;
};

static int quarantine_two(void *ctx, const struct ds_file_info *info)
{
    struct quarantining *q = ctx;

    assert_int_equal(ds_store_file_quarantine(q->st, info->id, "WALK", "seen by the walk"), 0);
    return ++q->n == 2 ? DS_ETOOBIG : 0;
}

static void test_files_detected_callback_writes(void **state)
{
    struct fixture *f = *state;
    struct quarantining q = {f->st, 0};
    struct detected d = {0};
    int64_t a, b, c;

    a = add_file(f->st, "a.csv", SHA_X);
    b = add_file(f->st, "b.csv", SHA_Y);
    c = add_file(f->st, "c.csv", SHA_Z);
    assert_int_equal(ds_store_files_detected(f->st, quarantine_two, &q), DS_ETOOBIG);
    assert_int_equal(q.n, 2);
    file_state_is(f->st, a, "quarantined");
    file_state_is(f->st, b, "quarantined");
    file_state_is(f->st, c, "detected");
    assert_int_equal(ds_store_files_detected(f->st, collect_file, &d), 0);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.ids[0], c);
}

/* ---- the whole way through ---------------------------------------------- */

static void test_lifecycle(void **state)
{
    struct fixture *f = *state;
    struct ds_item_counts c;
    struct ds_job_info job;
    struct rows_seen seen = {0};
    char digest[DS_SHA256_HEX];
    char digest2[DS_SHA256_HEX];
    char want[DS_SHA256_HEX];
    const char *stored = NULL;
    double now = 1700000000.0;
    double next_due = -1;
    int64_t file_id;
    int attempts = 0;
    long seq = 0;

    file_id = add_file(f->st, "exports/appts.csv", SHA_X);
    assert_int_equal(ds_store_job_begin(f->st, file_id, JOB_A, "smile", "appointments",
                                        "generic-appointments", "/srv/exports/appts.csv", SHA_X),
                     0);
    file_state_is(f->st, file_id, "staging");
    assert_int_equal(ds_store_job_get(f->st, JOB_A, &job), 0);
    assert_string_equal(job.state, "staging");
    assert_string_equal(job.filename, "appts.csv");
    assert_string_equal(job.practice, "smile");
    assert_string_equal(job.import_type, "appointments");
    assert_string_equal(job.template_id, "generic-appointments");
    assert_string_equal(job.sha256, SHA_X);
    assert_int_equal(job.remote_open, 0);
    /* One job per file. */
    assert_int_equal(
        ds_store_job_begin(f->st, file_id, JOB_B, "smile", "appointments", "t", "appts.csv", SHA_X),
        DS_EINVAL);

    /* Rows: 1 valid k1, 2 invalid, 3 valid k2, 4 valid k1 (duplicate of 1),
     * 5, 6, 7 valid. */
    assert_int_equal(ds_store_tx_begin(f->st), 0);
    assert_int_equal(ds_store_item_add(f->st, JOB_A, 1, "ext:1", "fp1", DS_ITEM_VALID, "{\"r\":1}",
                                       "{\"c\":1}", NULL, &stored),
                     0);
    assert_string_equal(stored, DS_ITEM_VALID);
    assert_int_equal(ds_store_item_add(f->st, JOB_A, 2, NULL, NULL, DS_ITEM_INVALID, NULL,
                                       "{\"c\":2}", "start_at: not a date", &stored),
                     0);
    assert_string_equal(stored, DS_ITEM_INVALID);
    assert_int_equal(ds_store_item_add(f->st, JOB_A, 3, "ext:2", "fp2", DS_ITEM_VALID, "{\"r\":3}",
                                       NULL, NULL, &stored),
                     0);
    assert_string_equal(stored, DS_ITEM_VALID);
    assert_int_equal(ds_store_item_add(f->st, JOB_A, 4, "ext:1", "fp4", DS_ITEM_VALID, "{\"r\":4}",
                                       NULL, NULL, &stored),
                     0);
    assert_string_equal(stored, DS_ITEM_DUPLICATE);
    assert_int_equal(ds_store_item_add(f->st, JOB_A, 5, "ext:5", "fp5", DS_ITEM_VALID, "{\"r\":5}",
                                       NULL, NULL, NULL),
                     0);
    assert_int_equal(ds_store_item_add(f->st, JOB_A, 6, "ext:6", "fp6", DS_ITEM_VALID, "{\"r\":6}",
                                       NULL, NULL, NULL),
                     0);
    assert_int_equal(ds_store_item_add(f->st, JOB_A, 7, "ext:7", "fp7", DS_ITEM_VALID, "{\"r\":7}",
                                       NULL, NULL, NULL),
                     0);
    /* A row twice, a valid row without a key, an unknown status. */
    assert_int_equal(
        ds_store_item_add(f->st, JOB_A, 7, "ext:8", "fp8", DS_ITEM_VALID, "{}", NULL, NULL, NULL),
        DS_EEXIST);
    assert_int_equal(
        ds_store_item_add(f->st, JOB_A, 8, NULL, "fp", DS_ITEM_VALID, "{}", NULL, NULL, NULL),
        DS_EINVAL);
    assert_int_equal(
        ds_store_item_add(f->st, JOB_A, 8, "ext:8", "fp", "sent", "{}", NULL, NULL, NULL),
        DS_EINVAL);
    assert_int_equal(ds_store_tx_commit(f->st), 0);

    assert_int_equal(ds_store_job_item_counts(f->st, JOB_A, &c), 0);
    assert_int_equal(c.total, 7);
    assert_int_equal(c.valid, 5);
    assert_int_equal(c.invalid, 1);
    assert_int_equal(c.duplicate, 1);
    assert_int_equal(db_long(f->path, "SELECT count(*) FROM items WHERE row = 4 AND "
                                      "error_code = 'DUPLICATE_KEY' AND error LIKE '%row 1'"),
                     1);

    /* Staging ends with the row count read; a wrong count is refused and
     * changes nothing. */
    assert_int_equal(ds_store_job_staged(f->st, JOB_A, 8, 2), DS_EINVAL);
    job_state_is(f->st, JOB_A, "staging");
    batch_counts_are(f->st, JOB_A, 0, 0, 0, 0, 0);
    assert_int_equal(ds_store_job_staged(f->st, JOB_A, 7, 2), 0);
    job_state_is(f->st, JOB_A, "uploading");
    file_state_is(f->st, file_id, "staged");
    assert_int_equal(ds_store_job_staged(f->st, JOB_A, 7, 2), DS_EINVAL);
    assert_int_equal(
        ds_store_item_add(f->st, JOB_A, 8, "ext:8", "fp8", DS_ITEM_VALID, "{}", NULL, NULL, NULL),
        DS_EINVAL);
    /* Valid rows 1 3 5 6 7 cut by two: {1,3} {5,6} {7}. */
    batch_counts_are(f->st, JOB_A, 3, 0, 0, 0, 0);
    assert_int_equal(db_long(f->path,
                             "SELECT count(*) FROM batches WHERE (seq = 1 AND first_row = 1 AND "
                             "last_row = 3 AND nrows = 2) OR (seq = 2 AND first_row = 5 AND "
                             "last_row = 6 AND nrows = 2) OR (seq = 3 AND first_row = 7 AND "
                             "last_row = 7 AND nrows = 1)"),
                     3);
    assert_int_equal(db_long(f->path, "SELECT count(*) FROM items WHERE outbound = 0"), 2);
    assert_int_equal(
        db_long(f->path, "SELECT count(*) FROM items WHERE outbound = 0 AND row IN (2, 4)"), 2);

    /* The job is opened in the cloud. */
    assert_int_equal(ds_store_job_opened(f->st, JOB_A), 0);
    assert_int_equal(ds_store_job_get(f->st, JOB_A, &job), 0);
    assert_int_equal(job.remote_open, 1);
    assert_int_equal(job.total_rows, 7);

    /* Batch 1 goes; the file is uploading from then on. */
    assert_int_equal(ds_store_batch_next(f->st, JOB_A, now, NULL, NULL, &seq, &next_due), 1);
    assert_int_equal(seq, 1);
    assert_true(next_due == 0);
    assert_int_equal(ds_store_batch_send(f->st, JOB_A, 1, collect_row, &seen, digest, &attempts),
                     0);
    assert_int_equal(attempts, 1);
    assert_int_equal(seen.n, 2);
    assert_int_equal(seen.rows[0], 1);
    assert_int_equal(seen.rows[1], 3);
    assert_string_equal(seen.keys[0], "ext:1");
    assert_string_equal(seen.keys[1], "ext:2");
    sha256_ref("1\text:1\tfp1\n3\text:2\tfp2\n", want);
    assert_string_equal(digest, want);
    file_state_is(f->st, file_id, "uploading");
    batch_counts_are(f->st, JOB_A, 2, 1, 0, 0, 0);
    assert_int_equal(ds_store_job_item_counts(f->st, JOB_A, &c), 0);
    assert_int_equal(c.sent, 2);
    assert_int_equal(c.valid, 3);
    /* In flight: not sent twice, not due. */
    assert_int_equal(ds_store_batch_send(f->st, JOB_A, 1, NULL, NULL, digest2, NULL), DS_EINVAL);
    assert_int_equal(ds_store_batch_next(f->st, JOB_A, now, NULL, NULL, &seq, NULL), 1);
    assert_int_equal(seq, 2);

    {
        struct ds_item_result r[] = {
            {1, "created", "rec-1", NULL, NULL},
            {3, "updated", "rec-3", NULL, NULL},
        };

        assert_int_equal(ds_store_batch_acked(f->st, JOB_A, 1, r, 2), 0);
        assert_int_equal(ds_store_batch_acked(f->st, JOB_A, 1, r, 2), DS_EINVAL);
    }
    batch_counts_are(f->st, JOB_A, 2, 0, 0, 1, 0);
    assert_int_equal(
        db_long(f->path, "SELECT count(*) FROM items WHERE row = 1 AND record_id = 'rec-1'"), 1);

    /* Batch 2 fails retryably: it waits, and batch 3 goes meanwhile. */
    assert_int_equal(ds_store_batch_send(f->st, JOB_A, 2, NULL, NULL, digest, &attempts), 0);
    sha256_ref("5\text:5\tfp5\n6\text:6\tfp6\n", want);
    assert_string_equal(digest, want);
    assert_int_equal(ds_store_batch_retry(f->st, JOB_A, 2, now + 60, "HTTP_503"), 0);
    batch_counts_are(f->st, JOB_A, 1, 0, 1, 1, 0);
    assert_int_equal(ds_store_batch_next(f->st, JOB_A, now, NULL, NULL, &seq, &next_due), 1);
    assert_int_equal(seq, 3);
    assert_true(next_due == now + 60);

    /* Batch 3 is refused for good: its row is rejected with the reason. */
    assert_int_equal(ds_store_batch_send(f->st, JOB_A, 3, NULL, NULL, digest, &attempts), 0);
    assert_int_equal(ds_store_batch_rejected(f->st, JOB_A, 3, "HTTP_422", "schema mismatch"), 0);
    batch_counts_are(f->st, JOB_A, 0, 0, 1, 1, 1);
    assert_int_equal(db_long(f->path, "SELECT count(*) FROM items WHERE row = 7 AND "
                                      "status = 'rejected' AND error_code = 'HTTP_422'"),
                     1);
    assert_int_equal(ds_store_batch_rejected(f->st, JOB_A, 3, "X", NULL), DS_EINVAL);

    /* Not complete while a batch waits. */
    assert_int_equal(ds_store_job_completed(f->st, JOB_A), DS_EBUSY);
    job_state_is(f->st, JOB_A, "uploading");
    assert_int_equal(ds_store_batch_next(f->st, JOB_A, now + 30, NULL, NULL, &seq, &next_due), 0);
    assert_true(next_due == now + 60);

    /* Batch 2 again when due: the same digest; the answer misses row 6 and
     * names a row the batch does not hold. */
    assert_int_equal(ds_store_batch_next(f->st, JOB_A, now + 60, NULL, NULL, &seq, &next_due), 1);
    assert_int_equal(seq, 2);
    assert_true(next_due == 0);
    assert_int_equal(ds_store_batch_send(f->st, JOB_A, 2, NULL, NULL, digest2, &attempts), 0);
    assert_int_equal(attempts, 2);
    sha256_ref("5\text:5\tfp5\n6\text:6\tfp6\n", want);
    assert_string_equal(digest2, want);
    {
        struct ds_item_result r[] = {
            {5, "conflict", NULL, "SLOT_TAKEN", "operatory busy"},
            {1, "created", "rec-x", NULL, NULL},
            {99, "created", "rec-y", NULL, NULL},
        };
        struct ds_item_result bad[] = {{5, "exploded", NULL, NULL, NULL}};

        assert_int_equal(ds_store_batch_acked(f->st, JOB_A, 2, bad, 1), DS_EINVAL);
        batch_counts_are(f->st, JOB_A, 0, 1, 0, 1, 1);
        assert_int_equal(ds_store_batch_acked(f->st, JOB_A, 2, r, 3), 0);
    }
    batch_counts_are(f->st, JOB_A, 0, 0, 0, 2, 1);
    assert_int_equal(
        db_long(f->path, "SELECT count(*) FROM items WHERE row = 1 AND record_id = 'rec-1'"), 1);
    assert_int_equal(db_long(f->path, "SELECT count(*) FROM items WHERE row = 6 AND "
                                      "status = 'rejected' AND error_code = 'MISSING_RESULT'"),
                     1);

    /* Complete: errors among the rows, so completed_with_errors. */
    assert_int_equal(ds_store_job_item_counts(f->st, JOB_A, &c), 0);
    assert_int_equal(c.total, 7);
    assert_int_equal(c.created, 1);
    assert_int_equal(c.updated, 1);
    assert_int_equal(c.conflict, 1);
    assert_int_equal(c.rejected, 2);
    assert_int_equal(c.invalid, 1);
    assert_int_equal(c.duplicate, 1);
    assert_int_equal(c.valid + c.sent, 0);
    assert_int_equal(ds_store_job_completed(f->st, JOB_A), 0);
    job_state_is(f->st, JOB_A, "completed_with_errors");
    file_state_is(f->st, file_id, "done");
    assert_int_equal(ds_store_job_completed(f->st, JOB_A), 0);
    job_state_is(f->st, JOB_A, "completed_with_errors");
    assert_int_equal(ds_store_batch_send(f->st, JOB_A, 1, NULL, NULL, digest, NULL), DS_EINVAL);

    /* The audit trail. */
    assert_int_equal(db_long(f->path, "SELECT count(*) FROM events WHERE job_id = '" JOB_A "' "
                                      "AND kind IN ('job_created', 'job_staged', 'job_opened', "
                                      "'job_completed')"),
                     4);
    assert_int_equal(
        db_long(f->path, "SELECT count(*) FROM events WHERE kind = 'batch_sent' AND seq = 2"), 2);
    assert_int_equal(db_long(f->path, "SELECT count(*) FROM events WHERE kind = 'batch_retry' "
                                      "AND code = 'HTTP_503'"),
                     1);
    assert_int_equal(db_long(f->path, "SELECT count(*) FROM events WHERE kind = 'job_completed' "
                                      "AND code = 'completed_with_errors'"),
                     1);
}

static int count_job(void *ctx, const struct ds_job_info *job)
{
    int *n = ctx;

    assert_string_equal(job->state, "uploading");
    (*n)++;
    return 0;
}

/* Every repeated key of a job is found, and no new key is taken for a
 * repeat, over enough keys to fill the staging connection's key filter
 * (every block of it sees several keys): 30,000 keys, then each 7th again. */
static void test_duplicate_keys_many(void **state)
{
    struct fixture *f = *state;
    const char *stored = NULL;
    int64_t file_id = 0;
    int dup = 0;
    char key[32];
    long row = 0;
    long dups = 0;

    assert_int_equal(ds_store_file_add(f->st, "inbox", "/in/many.csv", 1, 1, SHA_X, &file_id, &dup),
                     0);
    assert_int_equal(ds_store_job_begin(f->st, file_id, JOB_A, "smile", "patients",
                                        "generic-patients", "/in/many.csv", SHA_X),
                     0);
    assert_int_equal(ds_store_tx_begin(f->st), 0);
    for (long i = 0; i < 30000; i++) {
        snprintf(key, sizeof(key), "ext:%ld", i * 7919);
        assert_int_equal(ds_store_item_add(f->st, JOB_A, ++row, key, "fp", DS_ITEM_VALID, "{}",
                                           NULL, NULL, &stored),
                         0);
        if (strcmp(stored, DS_ITEM_VALID) != 0) {
            fail_msg("row %ld (%s): %s", row, key, stored);
        }
    }
    for (long i = 0; i < 30000; i += 7) {
        snprintf(key, sizeof(key), "ext:%ld", i * 7919);
        assert_int_equal(ds_store_item_add(f->st, JOB_A, ++row, key, "fp", DS_ITEM_VALID, "{}",
                                           NULL, NULL, &stored),
                         0);
        if (strcmp(stored, DS_ITEM_DUPLICATE) != 0) {
            fail_msg("row %ld (%s): %s", row, key, stored);
        }
        dups++;
    }
    assert_int_equal(ds_store_tx_commit(f->st), 0);
    assert_int_equal(db_long(f->path, "SELECT count(*) FROM items WHERE status = 'duplicate'"),
                     dups);
    assert_int_equal(db_long(f->path, "SELECT count(*) FROM items WHERE status = 'valid'"), 30000);
}

static void test_clean_and_empty_jobs(void **state)
{
    struct fixture *f = *state;
    struct ds_item_counts c;
    char digest[DS_SHA256_HEX];
    int64_t a, b;
    long seq;
    int n = 0;

    /* Every row created: completed. */
    a = staged_job(f->st, JOB_A, SHA_X, 3, 10);
    batch_counts_are(f->st, JOB_A, 1, 0, 0, 0, 0);

    /* No valid row at all: no batch; complete right away. */
    b = add_file(f->st, "empty.csv", SHA_Y);
    assert_int_equal(
        ds_store_job_begin(f->st, b, JOB_B, "smile", "patients", "generic", "empty.csv", SHA_Y), 0);
    assert_int_equal(
        ds_store_item_add(f->st, JOB_B, 1, NULL, NULL, DS_ITEM_INVALID, NULL, NULL, "bad", NULL),
        0);
    assert_int_equal(ds_store_job_staged(f->st, JOB_B, 1, 10), 0);
    batch_counts_are(f->st, JOB_B, 0, 0, 0, 0, 0);
    assert_int_equal(ds_store_jobs_uploading(f->st, count_job, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(ds_store_job_completed(f->st, JOB_B), 0);
    job_state_is(f->st, JOB_B, "completed_with_errors");
    file_state_is(f->st, b, "done");

    assert_int_equal(ds_store_batch_next(f->st, JOB_A, 0, NULL, NULL, &seq, NULL), 1);
    assert_int_equal(ds_store_batch_send(f->st, JOB_A, seq, NULL, NULL, digest, NULL), 0);
    {
        struct ds_item_result r[] = {
            {1, "created", "r1", NULL, NULL},
            {2, "unchanged", "r2", NULL, NULL},
            {3, "updated", "r3", NULL, NULL},
        };

        assert_int_equal(ds_store_batch_acked(f->st, JOB_A, seq, r, 3), 0);
    }
    assert_int_equal(ds_store_job_completed(f->st, JOB_A), 0);
    job_state_is(f->st, JOB_A, "completed");
    file_state_is(f->st, a, "done");
    assert_int_equal(ds_store_job_item_counts(f->st, JOB_A, &c), 0);
    assert_int_equal(c.unchanged, 1);
    n = 0;
    assert_int_equal(ds_store_jobs_uploading(f->st, count_job, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(ds_store_job_item_counts(f->st, "no-such-job", &c), DS_ENOTFOUND);
}

/* ---- recovery ----------------------------------------------------------- */

static void test_recover(void **state)
{
    struct fixture *f = *state;
    struct ds_job_info job;
    struct ds_error err;
    char digest[DS_SHA256_HEX];
    char digest2[DS_SHA256_HEX];
    int64_t a, b;
    int restaged = -1;
    int requeued = -1;
    int attempts = 0;

    /* Job B uploading with batch 1 in flight when the agent stops. */
    b = staged_job(f->st, JOB_B, SHA_Y, 4, 2);
    assert_int_equal(ds_store_batch_send(f->st, JOB_B, 1, NULL, NULL, digest, &attempts), 0);

    /* Job A cut short while staging. */
    a = add_file(f->st, "a.csv", SHA_X);
    assert_int_equal(
        ds_store_job_begin(f->st, a, JOB_A, "smile", "patients", "generic", "a.csv", SHA_X), 0);
    assert_int_equal(
        ds_store_item_add(f->st, JOB_A, 1, "ext:1", "fp", DS_ITEM_VALID, "{}", NULL, NULL, NULL),
        0);

    /* A new process. */
    ds_store_close(&f->st);
    assert_int_equal(ds_store_open(f->path, &f->st, &err), 0);
    assert_int_equal(ds_store_recover(f->st, &restaged, &requeued), 0);
    assert_int_equal(restaged, 1);
    assert_int_equal(requeued, 1);

    assert_int_equal(ds_store_job_get(f->st, JOB_A, &job), DS_ENOTFOUND);
    file_state_is(f->st, a, "detected");
    assert_int_equal(db_long(f->path, "SELECT count(*) FROM items WHERE job_id = '" JOB_A "'"), 0);
    batch_counts_are(f->st, JOB_B, 2, 0, 0, 0, 0);
    file_state_is(f->st, b, "uploading");

    /* Nothing left to recover. */
    assert_int_equal(ds_store_recover(f->st, &restaged, NULL), 0);
    assert_int_equal(restaged, 0);

    /* The file is ingested again from the start, under the same job id. */
    assert_int_equal(
        ds_store_job_begin(f->st, a, JOB_A, "smile", "patients", "generic", "a.csv", SHA_X), 0);
    assert_int_equal(
        ds_store_item_add(f->st, JOB_A, 1, "ext:1", "fp", DS_ITEM_VALID, "{}", NULL, NULL, NULL),
        0);
    assert_int_equal(ds_store_job_staged(f->st, JOB_A, 1, 2), 0);

    /* The requeued batch goes again, with the same digest. */
    assert_int_equal(ds_store_batch_send(f->st, JOB_B, 1, NULL, NULL, digest2, &attempts), 0);
    assert_int_equal(attempts, 2);
    assert_string_equal(digest, digest2);
    assert_int_equal(db_long(f->path, "SELECT count(*) FROM events WHERE kind IN ('job_restaged', "
                                      "'batch_requeued')"),
                     2);
}

/* ---- batch selection ---------------------------------------------------- */

static int skip_listed(void *ctx, long seq)
{
    const long *list = ctx;

    for (int i = 0; list[i] != 0; i++) {
        if (list[i] == seq) {
            return 1;
        }
    }
    return 0;
}

static void test_batch_next(void **state)
{
    struct fixture *f = *state;
    char digest[DS_SHA256_HEX];
    long none[] = {0};
    long one[] = {1, 0};
    long all[] = {1, 2, 3, 0};
    double now = 5000.0;
    double next_due = -1;
    long seq = 0;

    staged_job(f->st, JOB_A, SHA_X, 5, 2); /* {1,2} {3,4} {5} */
    assert_int_equal(ds_store_batch_next(f->st, JOB_A, now, skip_listed, none, &seq, NULL), 1);
    assert_int_equal(seq, 1);
    assert_int_equal(ds_store_batch_next(f->st, JOB_A, now, skip_listed, one, &seq, NULL), 1);
    assert_int_equal(seq, 2);
    seq = -7;
    assert_int_equal(ds_store_batch_next(f->st, JOB_A, now, skip_listed, all, &seq, &next_due), 0);
    assert_int_equal(seq, -7);
    assert_true(next_due == 0);

    /* Batch 1 waits until now + 10, batch 2 until now + 20. */
    assert_int_equal(ds_store_batch_send(f->st, JOB_A, 1, NULL, NULL, digest, NULL), 0);
    assert_int_equal(ds_store_batch_retry(f->st, JOB_A, 1, now + 10, "TIMEOUT"), 0);
    assert_int_equal(ds_store_batch_send(f->st, JOB_A, 2, NULL, NULL, digest, NULL), 0);
    assert_int_equal(ds_store_batch_retry(f->st, JOB_A, 2, now + 20, "HTTP_429"), 0);
    assert_int_equal(ds_store_batch_retry(f->st, JOB_A, 2, now + 20, "HTTP_429"), DS_EINVAL);
    assert_int_equal(ds_store_batch_next(f->st, JOB_A, now, NULL, NULL, &seq, &next_due), 1);
    assert_int_equal(seq, 3);
    assert_true(next_due == now + 10);
    assert_int_equal(ds_store_batch_next(f->st, JOB_A, now, skip_listed, all, &seq, &next_due), 0);
    assert_true(next_due == now + 10);
    assert_int_equal(ds_store_batch_next(f->st, JOB_A, now + 10, NULL, NULL, &seq, &next_due), 1);
    assert_int_equal(seq, 1);
    assert_true(next_due == now + 20);
    assert_int_equal(ds_store_batch_next(f->st, JOB_A, now + 10, skip_listed, one, &seq, NULL), 1);
    assert_int_equal(seq, 3);
    assert_int_equal(ds_store_batch_next(f->st, JOB_A, now + 25, NULL, NULL, &seq, &next_due), 1);
    assert_int_equal(seq, 1);
    assert_true(next_due == 0);
    assert_int_equal(ds_store_batch_next(f->st, "no-such-job", now, NULL, NULL, &seq, NULL), 0);
}

/* ---- failures leave nothing behind -------------------------------------- */

static void test_rollback(void **state)
{
    struct fixture *f = *state;
    struct ds_job_info job;
    int64_t a;

    a = add_file(f->st, "a.csv", SHA_X);
    assert_int_equal(ds_store_tx_begin(f->st), 0);
    assert_int_equal(ds_store_tx_begin(f->st), DS_EINVAL);
    assert_int_equal(
        ds_store_job_begin(f->st, a, JOB_A, "smile", "patients", "generic", "a.csv", SHA_X), 0);
    assert_int_equal(
        ds_store_item_add(f->st, JOB_A, 1, "ext:1", "fp", DS_ITEM_VALID, "{}", NULL, NULL, NULL),
        0);
    assert_int_equal(
        ds_store_item_add(f->st, JOB_A, 2, "ext:2", "fp", DS_ITEM_VALID, "{}", NULL, NULL, NULL),
        0);
    assert_int_equal(ds_store_tx_rollback(f->st), 0);
    assert_int_equal(ds_store_tx_rollback(f->st), DS_EINVAL);
    assert_int_equal(ds_store_tx_commit(f->st), DS_EINVAL);

    assert_int_equal(ds_store_job_get(f->st, JOB_A, &job), DS_ENOTFOUND);
    file_state_is(f->st, a, "detected");
    assert_int_equal(db_long(f->path, "SELECT count(*) FROM items"), 0);
    assert_int_equal(db_long(f->path, "SELECT count(*) FROM jobs"), 0);
    assert_int_equal(db_long(f->path, "SELECT count(*) FROM events WHERE kind = 'job_created'"), 0);
    /* The job that was rolled back takes no items. */
    assert_int_equal(
        ds_store_item_add(f->st, JOB_A, 1, "ext:1", "fp", DS_ITEM_VALID, "{}", NULL, NULL, NULL),
        DS_ENOTFOUND);

    /* A state change inside the caller's transaction commits with it. */
    assert_int_equal(ds_store_tx_begin(f->st), 0);
    assert_int_equal(
        ds_store_job_begin(f->st, a, JOB_B, "smile", "patients", "generic", "a.csv", SHA_X), 0);
    assert_int_equal(
        ds_store_item_add(f->st, JOB_B, 1, "ext:1", "fp", DS_ITEM_VALID, "{}", NULL, NULL, NULL),
        0);
    assert_int_equal(ds_store_tx_commit(f->st), 0);
    job_state_is(f->st, JOB_B, "staging");
    assert_int_equal(db_long(f->path, "SELECT count(*) FROM items"), 1);
    /* A failed change inside it rolls back alone. */
    assert_int_equal(ds_store_tx_begin(f->st), 0);
    assert_int_equal(ds_store_job_staged(f->st, JOB_B, 5, 10), DS_EINVAL);
    assert_int_equal(
        ds_store_item_add(f->st, JOB_B, 2, "ext:2", "fp", DS_ITEM_VALID, "{}", NULL, NULL, NULL),
        0);
    assert_int_equal(ds_store_tx_commit(f->st), 0);
    assert_int_equal(ds_store_job_staged(f->st, JOB_B, 2, 10), 0);
    batch_counts_are(f->st, JOB_B, 1, 0, 0, 0, 0);
    file_state_is(f->st, a, "staged");

    /* Quarantine while staging: the job and its items go. */
    a = add_file(f->st, "b.csv", SHA_Y);
    assert_int_equal(
        ds_store_job_begin(f->st, a, JOB_A, "smile", "patients", "generic", "a.csv", SHA_X), 0);
    assert_int_equal(
        ds_store_item_add(f->st, JOB_A, 1, "ext:1", "fp", DS_ITEM_VALID, "{}", NULL, NULL, NULL),
        0);
    assert_int_equal(ds_store_file_quarantine(f->st, a, "READ_ERROR", "truncated file"), 0);
    file_state_is(f->st, a, "quarantined");
    assert_int_equal(ds_store_job_get(f->st, JOB_A, &job), DS_ENOTFOUND);
    assert_int_equal(db_long(f->path, "SELECT count(*) FROM items WHERE job_id = '" JOB_A "'"), 0);
    assert_int_equal(db_long(f->path, "SELECT count(*) FROM files WHERE reason_code = "
                                      "'READ_ERROR' AND reason = 'truncated file'"),
                     1);
}

/* A callback that fails leaves the batch as it was; a batch whose rows no
 * longer match its digest is refused. */
static void test_send_failures(void **state)
{
    struct fixture *f = *state;
    struct rows_seen seen = {0};
    char digest[DS_SHA256_HEX];
    int64_t file_id;
    int attempts = 0;

    file_id = staged_job(f->st, JOB_A, SHA_X, 4, 2);
    seen.fail_at = 2;
    assert_int_equal(ds_store_batch_send(f->st, JOB_A, 1, collect_row, &seen, digest, &attempts),
                     DS_ETOOBIG);
    batch_counts_are(f->st, JOB_A, 2, 0, 0, 0, 0);
    file_state_is(f->st, file_id, "staged");
    assert_int_equal(db_long(f->path, "SELECT count(*) FROM items WHERE status = 'sent'"), 0);

    db_exec(f->path, "UPDATE items SET fingerprint = 'tampered' WHERE row = 3");
    assert_int_equal(ds_store_batch_send(f->st, JOB_A, 2, NULL, NULL, digest, NULL), DS_ECORRUPT);
    batch_counts_are(f->st, JOB_A, 2, 0, 0, 0, 0);

    assert_int_equal(ds_store_batch_send(f->st, JOB_A, 1, NULL, NULL, digest, &attempts), 0);
    assert_int_equal(attempts, 1);
    assert_int_equal(ds_store_batch_send(f->st, JOB_A, 7, NULL, NULL, digest, NULL), DS_ENOTFOUND);
}

/* The raw rows a callback was handed, as text ("-" for none). */
struct raw_seen {
    char raw[4][96];
    char record[4][96];
    int n;
};

static int collect_raw(void *ctx, const struct ds_batch_row *r)
{
    struct raw_seen *seen = ctx;

    assert_true(seen->n < 4);
    snprintf(seen->record[seen->n], sizeof(seen->record[0]), "%s",
             r->record_json != NULL ? r->record_json : "-");
    snprintf(seen->raw[seen->n++], sizeof(seen->raw[0]), "%s",
             r->raw_json != NULL ? r->raw_json : "-");
    return 0;
}

static int collect_failed_raw(void *ctx, const struct ds_failed_row *r)
{
    struct raw_seen *seen = ctx;

    assert_true(seen->n < 4);
    snprintf(seen->raw[seen->n++], sizeof(seen->raw[0]), "%s",
             r->raw_json != NULL ? r->raw_json : "-");
    return 0;
}

/* Raw rows and records kept as their values leave the store as the objects
 * again, with the job's names (a record without its absent fields), for the
 * batch body and for `dentsync errors`; an object is handed out as it is;
 * values without names, or more values than names, are a damaged queue.
 * The names are set only before the job's first item. */
static void test_raw_values(void **state)
{
    struct fixture *f = *state;
    struct raw_seen seen = {0};
    char digest[DS_SHA256_HEX];
    int64_t file_id = add_file(f->st, "raw.csv", SHA_X);

    assert_int_equal(
        ds_store_job_begin(f->st, file_id, JOB_A, "smile", "patients", "generic", "raw.csv", SHA_X),
        0);
    assert_int_equal(ds_store_job_set_columns(f->st, JOB_A, "{}", NULL), DS_EINVAL);
    assert_int_equal(ds_store_job_set_columns(f->st, JOB_A, NULL, "{}"), DS_EINVAL);
    assert_int_equal(ds_store_job_set_columns(f->st, JOB_B, "[\"x\"]", NULL), DS_ENOTFOUND);
    assert_int_equal(ds_store_job_set_columns(f->st, JOB_A,
                                              "[\"Patient ID\",\"Name \\\"N\\\"\",\"Notes\"]",
                                              "[\"age\",\"first_name\",\"last_name\"]"),
                     0);
    assert_int_equal(ds_store_tx_begin(f->st), 0);
    assert_int_equal(ds_store_item_add(f->st, JOB_A, 1, "ext:1", "fp1", DS_ITEM_VALID,
                                       "[42,null,\"Lee\"]", "[\"1\",\"A, \\\"B\\\"]\",\"\"]", NULL,
                                       NULL),
                     0);
    assert_int_equal(ds_store_item_add(f->st, JOB_A, 2, "ext:2", "fp2", DS_ITEM_VALID,
                                       "[null,\"A\",\"B\"]", "[\"2\",null]", NULL, NULL),
                     0);
    assert_int_equal(ds_store_item_add(f->st, JOB_A, 3, "ext:3", "fp3", DS_ITEM_VALID, "{}",
                                       "{\"Patient ID\":\"3\"}", NULL, NULL),
                     0);
    assert_int_equal(ds_store_item_add(f->st, JOB_A, 4, NULL, NULL, DS_ITEM_INVALID, NULL,
                                       "[\"4\",\"x\",\"y\"]", "Name: required", NULL),
                     0);
    assert_int_equal(ds_store_tx_commit(f->st), 0);
    assert_int_equal(ds_store_job_set_columns(f->st, JOB_A, "[\"Other\"]", NULL), DS_EINVAL);
    assert_int_equal(ds_store_job_staged(f->st, JOB_A, 4, 10), 0);

    assert_int_equal(ds_store_batch_send(f->st, JOB_A, 1, collect_raw, &seen, digest, NULL), 0);
    assert_int_equal(seen.n, 3);
    assert_string_equal(
        seen.raw[0], "{\"Patient ID\":\"1\",\"Name \\\"N\\\"\":\"A, \\\"B\\\"]\",\"Notes\":\"\"}");
    assert_string_equal(seen.raw[1], "{\"Patient ID\":\"2\",\"Name \\\"N\\\"\":null}");
    assert_string_equal(seen.raw[2], "{\"Patient ID\":\"3\"}");
    assert_string_equal(seen.record[0], "{\"age\":42,\"last_name\":\"Lee\"}");
    assert_string_equal(seen.record[1], "{\"first_name\":\"A\",\"last_name\":\"B\"}");
    assert_string_equal(seen.record[2], "{}");

    seen.n = 0;
    assert_int_equal(ds_store_job_failed_rows(f->st, JOB_A, collect_failed_raw, &seen), 0);
    assert_int_equal(seen.n, 1);
    assert_string_equal(seen.raw[0],
                        "{\"Patient ID\":\"4\",\"Name \\\"N\\\"\":\"x\",\"Notes\":\"y\"}");

    db_exec(f->path, "UPDATE items SET raw = '[\"4\",\"x\",\"y\",\"z\"]' WHERE row = 4");
    assert_int_equal(ds_store_job_failed_rows(f->st, JOB_A, collect_failed_raw, &seen),
                     DS_ECORRUPT);
    db_exec(f->path, "UPDATE jobs SET raw_columns = NULL");
    assert_int_equal(ds_store_job_failed_rows(f->st, JOB_A, collect_failed_raw, &seen),
                     DS_ECORRUPT);
    /* A record's values without the job's field names, in a batch. */
    db_exec(f->path, "UPDATE jobs SET record_fields = NULL");
    db_exec(f->path, "UPDATE batches SET state = 'pending'");
    seen.n = 0;
    assert_int_equal(ds_store_batch_send(f->st, JOB_A, 1, collect_raw, &seen, digest, NULL),
                     DS_ECORRUPT);
}

/* A second connection (the ingest thread's) sees only committed work. */
static void test_two_connections(void **state)
{
    struct fixture *f = *state;
    struct ds_store *other = NULL;
    const char *stored = NULL;
    struct ds_job_info job;
    struct ds_error err;
    int64_t a;

    assert_int_equal(ds_store_open(f->path, &other, &err), 0);
    a = add_file(f->st, "a.csv", SHA_Z);
    assert_int_equal(
        ds_store_job_begin(other, a, JOB_A, "smile", "patients", "generic", "a.csv", SHA_Z), 0);
    assert_int_equal(ds_store_tx_begin(other), 0);
    assert_int_equal(
        ds_store_item_add(other, JOB_A, 1, "ext:1", "fp", DS_ITEM_VALID, "{}", NULL, NULL, NULL),
        0);
    /* The loop reads while ingest holds its transaction. */
    assert_int_equal(ds_store_job_get(f->st, JOB_A, &job), 0);
    assert_string_equal(job.state, "staging");
    assert_int_equal(ds_store_tx_commit(other), 0);
    /* A connection that takes over a job with items in it still finds the
     * keys the other one added: row 2 is a duplicate of row 1. */
    assert_int_equal(
        ds_store_item_add(f->st, JOB_A, 2, "ext:1", "fp", DS_ITEM_VALID, "{}", NULL, NULL, &stored),
        0);
    assert_string_equal(stored, DS_ITEM_DUPLICATE);
    assert_int_equal(
        ds_store_item_add(f->st, JOB_A, 3, "ext:3", "fp", DS_ITEM_VALID, "{}", NULL, NULL, &stored),
        0);
    assert_string_equal(stored, DS_ITEM_VALID);
    assert_int_equal(ds_store_job_staged(other, JOB_A, 3, 100), 0);
    job_state_is(f->st, JOB_A, "uploading");
    file_state_is(f->st, a, "staged");
    ds_store_close(&other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_creates_0640, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_new_file_under_umask, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_garbage_is_corrupt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_damaged_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_newer_schema_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_foreign_database_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_page_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_add_duplicate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_files_detected_callback_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_keys_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clean_and_empty_jobs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recover, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_next, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rollback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_connections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_raw_values, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
