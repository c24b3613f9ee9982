/*
 * test_glob.c — the portable file-name matcher (agent/core/glob.c), the
 * one Windows builds match include and exclude patterns with; and the
 * regular expressions of agent/os/os_text.h.
 */
#include "agent/core/glob.h"
#include "agent/core/error.h"
#include "agent/os/os_text.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#define M(p, n) ds_glob_match((p), (n), 0)
#define MI(p, n) ds_glob_match((p), (n), DS_GLOB_CASEFOLD)

static void test_literal_and_wildcards(void **state)
{
    (void)state;
    assert_true(M("patients.csv", "patients.csv"));
    assert_false(M("patients.csv", "patients.csv2"));
    assert_false(M("patients.csv", "patients.cs"));
    assert_true(M("", ""));
    assert_false(M("", "a"));
    assert_true(M("*", ""));
    assert_true(M("*", "anything at all.txt"));
    assert_true(M("*.csv", ".csv"));
    assert_true(M("*.csv", "a.b.csv"));
    assert_false(M("*.csv", "a.csv.part"));
    assert_true(M("*backup*", "patients-backup-2024.csv"));
    assert_false(M("*backup*", "patients-bkp.csv"));
    assert_true(M("a*b*c", "aXbYbZc"));
    assert_false(M("a*b*c", "aXbYbZ"));
    assert_true(M("**x", "x"));
    assert_true(M("report-??.xls", "report-07.xls"));
    assert_false(M("report-??.xls", "report-2024.xls"));
    assert_false(M("report-??.xls", "report-7.xls"));
    /* Backtracking past several candidate positions. */
    assert_true(M("*aab", "aaaaaaab"));
    assert_false(M("*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaac"));
}

static void test_sets(void **state)
{
    (void)state;
    assert_true(M("[abc].csv", "b.csv"));
    assert_false(M("[abc].csv", "d.csv"));
    assert_true(M("file[0-9].txt", "file7.txt"));
    assert_false(M("file[0-9].txt", "fileA.txt"));
    assert_true(M("[!0-9]*", "x1"));
    assert_false(M("[!0-9]*", "1x"));
    assert_true(M("[^a]", "b"));
    assert_false(M("[^a]", "a"));
    assert_true(M("[]x]", "]"));
    assert_true(M("[!]x]", "y"));
    assert_false(M("[!]x]", "]"));
    assert_true(M("[a-]", "-"));
    /* A [ without its ] is an ordinary character. */
    assert_true(M("a[b", "a[b"));
    assert_false(M("a[b", "ab"));
    /* No escapes: a backslash is itself. */
    assert_true(M("a\\*", "a\\xyz"));
    assert_false(M("a\\*", "a*"));
}

static void test_case_fold(void **state)
{
    (void)state;
    assert_false(M("*.CSV", "x.csv"));
    assert_true(MI("*.CSV", "x.csv"));
    assert_true(MI("*.csv", "X.CSV"));
    assert_true(MI("Report-??.Xls", "REPORT-07.xls"));
    assert_true(MI("[a-c]*", "Banana"));
    assert_true(MI("[A-C]*", "banana"));
    assert_false(MI("[!A-C]*", "banana"));
    assert_false(MI("*.csv", "x.tsv"));
}

static void test_utf8(void **state)
{
    (void)state;
    /* ? and a set take one character, not one byte. */
    assert_true(M("?.csv", "\xc3\xa9.csv"));         /* é */
    assert_true(M("?.csv", "\xe2\x82\xac.csv"));     /* € */
    assert_true(M("?.csv", "\xf0\x9f\x98\x80.csv")); /* an emoji */
    assert_false(M("??.csv", "\xc3\xa9.csv"));
    assert_true(M("[\xc3\xa9\xc3\xa8]x", "\xc3\xa8x")); /* [éè] */
    assert_false(M("[\xc3\xa9]x", "\xc3\xa8x"));
    /* Bytes that start no UTF-8 sequence are characters by themselves. */
    assert_true(M("??", "\xff\xfe"));
    assert_true(M("a?", "a\xc3"));
    assert_true(M("*\xff", "abc\xff"));
}

static void test_regex(void **state)
{
    struct ds_regex *re = NULL;

    (void)state;
    assert_int_equal(ds_regex_compile(&re, "^[0-9]{3}-[0-9]{4}$", 0), 0);
    assert_true(ds_regex_match(re, "555-0100"));
    assert_false(ds_regex_match(re, "5550100"));
    ds_regex_free(&re);
    assert_null(re);
    ds_regex_free(&re);

    assert_int_equal(ds_regex_compile(&re, "^(mr|mrs)$", 0), 0);
    assert_false(ds_regex_match(re, "MRS"));
    ds_regex_free(&re);
    assert_int_equal(ds_regex_compile(&re, "^(mr|mrs)$", DS_REGEX_ICASE), 0);
    assert_true(ds_regex_match(re, "MRS"));
    ds_regex_free(&re);

    assert_int_equal(ds_regex_compile(&re, "a(b", 0), DS_EINVAL);
    assert_null(re);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literal_and_wildcards),
        cmocka_unit_test(test_sets),
        cmocka_unit_test(test_case_fold),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_regex),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
