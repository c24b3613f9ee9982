/*
 * test_watch.c — which names a folder takes: temporary and lock names are
 * never taken; include and exclude patterns narrow the rest. A file moved
 * into a watched folder is looked at on the event itself.
 */
#include "agent/watch/watch.h"
#include "tests/unit/scratch.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

static void test_ignored_names(void **state)
{
    static const char *const ignored[] = {
        "~$patients.xlsx", ".hidden.csv", "export.csv.tmp", "export.csv.part", "export.csv~", "",
    };
    static const char *const taken[] = {
        "patients.csv", "Appointments 2024.xlsx", "a", "tmp.csv", "part.csv", "x.partial",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++) {
        assert_true(ds_watch_ignored(ignored[i]));
    }
    for (size_t i = 0; i < sizeof(taken) / sizeof(taken[0]); i++) {
        assert_false(ds_watch_ignored(taken[i]));
    }
}

static void test_include_exclude(void **state)
{
    struct ds_folder_conf f;

    (void)state;
    memset(&f, 0, sizeof(f));
    assert_true(ds_watch_wanted(&f, "anything.dat"));
    assert_false(ds_watch_wanted(&f, "~$lock.xlsx"));

    f.include = "*.csv, *.TXT ,report-??.xls";
    assert_true(ds_watch_wanted(&f, "patients.csv"));
    assert_true(ds_watch_wanted(&f, "notes.TXT"));
    assert_true(ds_watch_wanted(&f, "report-07.xls"));
    assert_false(ds_watch_wanted(&f, "report-2024.xls"));
    assert_false(ds_watch_wanted(&f, "notes.txt")); /* patterns are case-sensitive */
    assert_false(ds_watch_wanted(&f, "patients.csv.part"));

    f.exclude = "*backup*,old-*";
    assert_false(ds_watch_wanted(&f, "patients-backup.csv"));
    assert_false(ds_watch_wanted(&f, "old-patients.csv"));
    assert_true(ds_watch_wanted(&f, "patients.csv"));

    f.include = NULL;
    assert_true(ds_watch_wanted(&f, "appointments.xlsx"));
    assert_false(ds_watch_wanted(&f, "backup"));

    f.exclude = ",,";
    assert_true(ds_watch_wanted(&f, "empty-patterns.csv"));
}

/* One watched folder on a loop of its own; nothing settles (600 s) and no
 * periodic rescan comes (an hour) while a test runs. */
struct watched {
    char dir[512];
    struct ds_folder_conf folder;
    struct ds_config cfg;
    const char *name; /* the file whose looks are counted */
    int known;        /* calls of the known callback for it: the scans that saw it */
    int settled;      /* calls of the settled callback */
    struct ds_watch *w;
    uv_loop_t loop;
    uv_timer_t guard; /* ends a wait for an event that never comes */
};

static int on_known(void *ctx, const struct ds_folder_conf *folder, const char *path, int64_t size,
                    int64_t mtime_ns)
{
    struct watched *t = ctx;

    (void)folder;
    (void)size;
    (void)mtime_ns;
    if (strstr(path, t->name) != NULL) {
        t->known++;
    }
    return 0;
}

static void on_settled(void *ctx, const struct ds_folder_conf *folder, const char *path,
                       const struct ds_file_id *id)
{
    struct watched *t = ctx;

    (void)folder;
    (void)path;
    (void)id;
    t->settled++;
}

static void on_guard(uv_timer_t *t)
{
    (void)t; /* only wakes the loop */
}

static void watched_start(struct watched *t, const char *name)
{
    struct ds_error err;

    memset(t, 0, sizeof(*t));
    assert_int_equal(ds_test_mkdtemp("ds-watch", t->dir, sizeof(t->dir)), 0);
    t->name = name;
    t->folder.name = "f";
    t->folder.path = t->dir;
    t->cfg.settle_seconds = 600;
    t->cfg.rescan_seconds = 3600;
    t->cfg.folders = &t->folder;
    t->cfg.nfolders = 1;
    assert_int_equal(uv_loop_init(&t->loop), 0);
    assert_int_equal(ds_watch_new(&t->loop, &t->cfg, on_known, on_settled, t, &t->w, &err), 0);
    uv_timer_init(&t->loop, &t->guard);
    uv_timer_start(&t->guard, on_guard, 10000, 0);
    uv_run(&t->loop, UV_RUN_NOWAIT); /* the first scan: an empty folder */
    assert_int_equal(t->known, 0);
}

static void watched_stop(struct watched *t)
{
    uv_close((uv_handle_t *)&t->guard, NULL);
    ds_watch_free(&t->w);
    uv_run(&t->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&t->loop), 0);
    ds_test_rmtree(t->dir);
}

/* A file moved into the folder is scanned in the loop iteration that
 * delivers its event: after a quiet folder an event does not wait for the
 * debounce timer, which has not fired by the time the iteration ends. */
static void test_event_scans_at_once(void **state)
{
    char side[512], from[1024], to[1024];
    struct watched t;
    FILE *f;

    (void)state;
    watched_start(&t, "moved.csv");
    assert_int_equal(ds_test_mkdtemp("ds-watch-side", side, sizeof(side)), 0);
    snprintf(from, sizeof(from), "%s/moved.csv", side);
    snprintf(to, sizeof(to), "%s/moved.csv", t.dir);
    f = fopen(from, "wb");
    assert_non_null(f);
    fputs("id,name\n1,x\n", f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(rename(from, to), 0);

    /* One iteration: it waits for the event and returns after its
     * callbacks. */
    uv_run(&t.loop, UV_RUN_ONCE);
    assert_int_equal(t.known, 1);
    assert_int_equal(t.settled, 0);
    watched_stop(&t);
    ds_test_rmtree(side);
}

/* The debounce of watch.c. */
#define DEBOUNCE_MS 50

/* A file written in 40 pieces 5 ms apart (about 200 ms) is scanned on its
 * first event and once after its last, not every DEBOUNCE_MS while it is
 * written. A pause of DEBOUNCE_MS or more between two loop iterations (a
 * busy machine) ends a burst, and is allowed one more scan. */
static void test_burst_scans_twice(void **state)
{
    const struct timespec pause = {0, 5 * 1000 * 1000};
    char path[1024];
    struct watched t;
    uint64_t before;
    int gaps = 0;
    int seen;
    FILE *f;

    (void)state;
    watched_start(&t, "burst.csv");
    snprintf(path, sizeof(path), "%s/burst.csv", t.dir);
    before = uv_now(&t.loop);
    for (int i = 0; i < 40; i++) {
        f = fopen(path, "ab");
        assert_non_null(f);
        fprintf(f, "%d,row %d\n", i, i);
        assert_int_equal(fclose(f), 0);
        uv_run(&t.loop, UV_RUN_NOWAIT);
        if (uv_now(&t.loop) - before >= DEBOUNCE_MS) {
            gaps++;
        }
        before = uv_now(&t.loop);
        nanosleep(&pause, NULL);
    }
    assert_true(t.known >= 1);
    /* The scan after the last event: the debounce timer fires (the guard
     * ends the wait if it never does). */
    seen = t.known;
    while (t.known == seen && uv_now(&t.loop) - before < 5000) {
        uv_run(&t.loop, UV_RUN_ONCE);
    }
    assert_true(t.known >= 2);
    assert_true(t.known <= 2 + gaps);
    watched_stop(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ignored_names),
        cmocka_unit_test(test_include_exclude),
        cmocka_unit_test(test_event_scans_at_once),
        cmocka_unit_test(test_burst_scans_twice),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
