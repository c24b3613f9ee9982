/*
 * test_watch.c — which names a folder takes: temporary and lock names are
 * never taken; include and exclude patterns narrow the rest.
 */
#include "agent/watch/watch.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ignored_names),
        cmocka_unit_test(test_include_exclude),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
