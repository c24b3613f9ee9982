/*
 * test_portable.c — the portable code that stands in for what not every C
 * library has: the ASCII case-insensitive search (agent/core/ascii.c, over
 * strcasestr), the date parser of `--since` (agent/cli/out.c, over
 * strptime) and the UTC instant arithmetic of the record rules
 * (proto/rules.c, over timegm).
 */
#include "agent/cli/out.h"
#include "agent/core/ascii.h"
#include "agent/core/error.h"
#include "proto/rules.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <time.h>

static void test_ascii_casestr(void **state)
{
    const char *hay = "BEGIN:VEVENT\r\nrecurrence-id:20240101T090000\r\n";

    (void)state;
    assert_ptr_equal(ds_ascii_casestr(hay, "RECURRENCE-ID"), strstr(hay, "recurrence-id"));
    assert_ptr_equal(ds_ascii_casestr(hay, "begin"), hay);
    assert_ptr_equal(ds_ascii_casestr(hay, ""), hay);
    assert_null(ds_ascii_casestr(hay, "RECURRENCE-IDX"));
    assert_null(ds_ascii_casestr("", "a"));
    assert_null(ds_ascii_casestr("abc", "abcd"));
    assert_ptr_equal(ds_ascii_casestr("aaab", "AAB"), strchr("aaab", 'a') + 1);
    /* Bytes past ASCII are compared as they are. */
    assert_null(ds_ascii_casestr("\xc3\xa9", "\xc3\x89"));
    assert_non_null(ds_ascii_casestr("x\xc3\xa9", "\xc3\xa9"));
}

/* What mktime makes of a local date and time. */
static double local(int y, int mo, int d, int h, int mi, int s)
{
    struct tm tm;

    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    tm.tm_isdst = -1;
    return (double)mktime(&tm);
}

static void test_parse_since(void **state)
{
    double t = 0;

    (void)state;
    assert_int_equal(ds_out_parse_since("2024-03-05", 0, &t), 0);
    assert_true(t == local(2024, 3, 5, 0, 0, 0));
    assert_int_equal(ds_out_parse_since("2024-03-05T07:08:09", 0, &t), 0);
    assert_true(t == local(2024, 3, 5, 7, 8, 9));
    assert_int_equal(ds_out_parse_since("2024-3-5 7:08", 0, &t), 0);
    assert_true(t == local(2024, 3, 5, 7, 8, 0));
    assert_int_equal(ds_out_parse_since("2h", 10000, &t), 0);
    assert_true(t == 10000 - 7200);
    assert_int_equal(ds_out_parse_since("2024-13-05", 0, &t), DS_EINVAL);
    assert_int_equal(ds_out_parse_since("2024-03-05T25:00", 0, &t), DS_EINVAL);
    assert_int_equal(ds_out_parse_since("2024-03-05T07", 0, &t), DS_EINVAL);
    assert_int_equal(ds_out_parse_since("2024-03-05x", 0, &t), DS_EINVAL);
    assert_int_equal(ds_out_parse_since("2024-03", 0, &t), DS_EINVAL);
    assert_int_equal(ds_out_parse_since("", 0, &t), DS_EINVAL);
}

/* ds_rules_check_record on an appointment from start to end. */
static int appointment(const char *start, const char *end)
{
    const struct ds_rules_type *t = ds_rules_type("appointments");
    const char *v[DS_RULES_MAX_FIELDS];
    const char *field = NULL;
    char msg[256];

    memset(v, 0, sizeof(v));
    v[ds_rules_field_index(t, "patient_external_id")] = "P1";
    v[ds_rules_field_index(t, "start_at")] = start;
    v[ds_rules_field_index(t, "end_at")] = end;
    v[ds_rules_field_index(t, "status")] = "scheduled";
    return ds_rules_check_record(t, v, &field, msg, sizeof(msg));
}

static void test_instant_span(void **state)
{
    (void)state;
    /* Across a leap day: exactly 24 hours is allowed, 24.5 is not. */
    assert_int_equal(appointment("2024-02-28T23:30:00Z", "2024-02-29T23:30:00Z"), 0);
    assert_int_equal(appointment("2024-02-28T23:30:00Z", "2024-03-01T00:00:00Z"), -1);
    assert_int_equal(appointment("2023-02-28T23:30:00Z", "2023-03-01T00:00:00Z"), 0);
    /* Across a year's end and a century that is no leap year. */
    assert_int_equal(appointment("2023-12-31T23:00:00Z", "2024-01-01T01:00:00Z"), 0);
    assert_int_equal(appointment("2100-02-28T12:00:00Z", "2100-03-01T11:00:00Z"), 0);
    assert_int_equal(appointment("1999-12-31T12:00:00Z", "2000-01-01T12:00:01Z"), -1);
    /* The end before the start. */
    assert_int_equal(appointment("2024-01-01T10:00:00Z", "2024-01-01T09:59:59Z"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ascii_casestr),
        cmocka_unit_test(test_parse_since),
        cmocka_unit_test(test_instant_span),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
