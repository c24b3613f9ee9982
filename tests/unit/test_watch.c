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

struct seen {
    int known;   /* calls of the known callback */
    int settled; /* calls of the settled callback */
};

static int on_known(void *ctx, const struct ds_folder_conf *folder, const char *path, int64_t size,
                    int64_t mtime_ns)
{
    struct seen *s = ctx;

    (void)folder;
    (void)size;
    (void)mtime_ns;
    if (strstr(path, "moved.csv") != NULL) {
        s->known++;
    }
    return 0;
}

static void on_settled(void *ctx, const struct ds_folder_conf *folder, const char *path,
                       const struct ds_file_id *id)
{
    struct seen *s = ctx;

    (void)folder;
    (void)path;
    (void)id;
    s->settled++;
}

static void on_guard(uv_timer_t *t)
{
    (void)t; /* only wakes the loop */
}

/* A file moved into the folder is scanned in the loop iteration that
 * delivers its event: the first event of a burst does not wait for the
 * debounce timer, which has not fired by the time the iteration ends. */
static void test_event_scans_at_once(void **state)
{
    char dir[512], side[512], from[1024], to[1024];
    struct ds_folder_conf folder;
    struct ds_config cfg;
    struct seen seen = {0, 0};
    struct ds_watch *w = NULL;
    struct ds_error err;
    uv_loop_t loop;
    uv_timer_t guard;
    FILE *f;

    (void)state;
    assert_int_equal(ds_test_mkdtemp("ds-watch", dir, sizeof(dir)), 0);
    assert_int_equal(ds_test_mkdtemp("ds-watch-side", side, sizeof(side)), 0);
    memset(&folder, 0, sizeof(folder));
    folder.name = "f";
    folder.path = dir;
    memset(&cfg, 0, sizeof(cfg));
    cfg.settle_seconds = 600;
    cfg.rescan_seconds = 3600;
    cfg.folders = &folder;
    cfg.nfolders = 1;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(ds_watch_new(&loop, &cfg, on_known, on_settled, &seen, &w, &err), 0);
    uv_run(&loop, UV_RUN_NOWAIT); /* the first scan: an empty folder */
    assert_int_equal(seen.known, 0);

    snprintf(from, sizeof(from), "%s/moved.csv", side);
    snprintf(to, sizeof(to), "%s/moved.csv", dir);
    f = fopen(from, "wb");
    assert_non_null(f);
    fputs("id,name\n1,x\n", f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(rename(from, to), 0);

    /* One iteration: it waits for the event (the guard ends a wait for an
     * event that never comes) and returns after its callbacks. */
    uv_timer_init(&loop, &guard);
    uv_timer_start(&guard, on_guard, 10000, 0);
    uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(seen.known, 1);
    assert_int_equal(seen.settled, 0);

    uv_close((uv_handle_t *)&guard, NULL);
    ds_watch_free(&w);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    ds_test_rmtree(dir);
    ds_test_rmtree(side);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ignored_names),
        cmocka_unit_test(test_include_exclude),
        cmocka_unit_test(test_event_scans_at_once),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
