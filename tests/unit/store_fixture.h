/*
 * store_fixture.h — the queue the store tests share: a fresh queue in a
 * temporary directory per test, removed after it, and a look at the
 * database on a connection of its own. Included after <cmocka.h>.
 */
#ifndef DS_TESTS_UNIT_STORE_FIXTURE_H
#define DS_TESTS_UNIT_STORE_FIXTURE_H

#include "state/store.h"

#include <dirent.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct fixture {
    char dir[64];
    char path[128];
    struct ds_store *st;
};

/* A fresh queue in /tmp/NAME.XXXXXX, as the test's state. */
static inline int store_setup(void **state, const char *name)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct ds_error err;

    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/%s.XXXXXX", name);
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/queue.db", f->dir);
    assert_int_equal(ds_store_open(f->path, &f->st, &err), 0);
    *state = f;
    return 0;
}

/* Closes the queue and removes its directory. */
static inline int store_teardown(void **state)
{
    struct fixture *f = *state;
    struct dirent *e;
    char p[512];
    DIR *d;

    ds_store_close(&f->st);
    d = opendir(f->dir);
    for (e = d != NULL ? readdir(d) : NULL; e != NULL; e = readdir(d)) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            snprintf(p, sizeof(p), "%s/%s", f->dir, e->d_name);
            unlink(p);
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

/* Runs sql on its own connection; returns the first column of the first row
 * as an integer (or -1 if there is none). */
static inline long db_long(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    long v = -1;

    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    if (sqlite3_step(s) == SQLITE_ROW) {
        v = (long)sqlite3_column_int64(s, 0);
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

#endif
