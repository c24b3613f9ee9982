/*
 * test_read_ics.c — the ICS reader: every VEVENT a row with the fixed
 * header; TZID from the calendar's VTIMEZONE and from the zone database,
 * UTC and floating times, all-day dates, DURATION, folded and escaped text,
 * attendees; recurrence expanded inside the window with EXDATE; skipped
 * components and unknown zones noticed; a calendar cut inside an event;
 * a changed occurrence (RECURRENCE-ID) replacing the one its series would
 * give, before or after the series in the file; RDATE and EXDATE.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agent/read/read.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum {
    F_UID,
    F_RID,
    F_START,
    F_END,
    F_SUMMARY,
    F_DESC,
    F_LOC,
    F_STATUS,
    F_ORG,
    F_ATT,
    F_EVENT_ID,
    F_ATT_EMAIL,
    F_ATT_TEL,
    F_COUNT
};

static const char calendar[] = "BEGIN:VCALENDAR\r\n"
                               "VERSION:2.0\r\n"
                               "PRODID:-//Example//Synthetic//EN\r\n"
                               "BEGIN:VTIMEZONE\r\n"
                               "TZID:GB\r\n"
                               "BEGIN:STANDARD\r\n"
                               "DTSTART:19701025T020000\r\n"
                               "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\n"
                               "TZOFFSETFROM:+0100\r\n"
                               "TZOFFSETTO:+0000\r\n"
                               "END:STANDARD\r\n"
                               "BEGIN:DAYLIGHT\r\n"
                               "DTSTART:19700329T010000\r\n"
                               "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\n"
                               "TZOFFSETFROM:+0000\r\n"
                               "TZOFFSETTO:+0100\r\n"
                               "END:DAYLIGHT\r\n"
                               "END:VTIMEZONE\r\n"
                               "BEGIN:VEVENT\r\n"
                               "UID:appt-1@example.com\r\n"
                               "DTSTART;TZID=GB:20240615T100000\r\n"
                               "DTEND;TZID=GB:20240615T103000\r\n"
                               "SUMMARY:Check-up\\, cleaning\r\n"
                               "DESCRIPTION:First line\\nsecond \r\n"
                               " line\r\n"
                               "LOCATION:Op 2\r\n"
                               "STATUS:CONFIRMED\r\n"
                               "ORGANIZER;CN=Front Desk:mailto:desk@example.com\r\n"
                               "ATTENDEE;CN=A:mailto:a@example.com\r\n"
                               "ATTENDEE;CN=B:mailto:b@example.org\r\n"
                               "BEGIN:VALARM\r\n"
                               "ACTION:DISPLAY\r\n"
                               "TRIGGER:-PT15M\r\n"
                               "END:VALARM\r\n"
                               "END:VEVENT\r\n"
                               "BEGIN:VTODO\r\n"
                               "UID:todo-1\r\n"
                               "END:VTODO\r\n"
                               "BEGIN:VEVENT\r\n"
                               "UID:appt-2\r\n"
                               "DTSTART:20240327T154500Z\r\n"
                               "DURATION:PT45M\r\n"
                               "END:VEVENT\r\n"
                               "BEGIN:VEVENT\r\n"
                               "UID:appt-3\r\n"
                               "DTSTART;VALUE=DATE:20241225\r\n"
                               "DTEND;VALUE=DATE:20241226\r\n"
                               "SUMMARY:Closed\r\n"
                               "END:VEVENT\r\n"
                               "BEGIN:VEVENT\r\n"
                               "UID:appt-4\r\n"
                               "DTSTART:20240101T080000\r\n"
                               "END:VEVENT\r\n"
                               "BEGIN:VEVENT\r\n"
                               "UID:appt-5\r\n"
                               "DTSTART;TZID=America/Chicago:20240710T090000\r\n"
                               "DTEND;TZID=America/Chicago:20240710T100000\r\n"
                               "END:VEVENT\r\n"
                               "BEGIN:VEVENT\r\n"
                               "UID:no-start\r\n"
                               "SUMMARY:broken\r\n"
                               "END:VEVENT\r\n"
                               "BEGIN:VEVENT\r\n"
                               "UID:appt-6\r\n"
                               "DTSTART;TZID=Nowhere/Special:20240710T090000\r\n"
                               "END:VEVENT\r\n"
                               "END:VCALENDAR\r\n";

struct tmp {
    char path[64];
};

static void tmp_write(struct tmp *t, const char *s)
{
    int fd;

    snprintf(t->path, sizeof(t->path), "/tmp/ds-test-ics-XXXXXX");
    fd = mkstemp(t->path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
    close(fd);
}

static int count_kind(const struct ds_reader *r, int kind, const char *part)
{
    size_t n = 0;
    const struct ds_read_notice *list = ds_read_notices(r, &n, NULL);
    int k = 0;

    for (size_t i = 0; i < n; i++) {
        k += list[i].kind == kind && strstr(list[i].msg, part) != NULL;
    }
    return k;
}

static void test_events(void **state)
{
    struct ds_reader *r = NULL;
    struct ds_error err;
    struct ds_row row;
    struct tmp t;

    (void)state;
    tmp_write(&t, calendar);
    assert_int_equal(ds_read_open(t.path, NULL, &r, &err), 0);
    assert_string_equal(ds_read_dialect(r)->format, "ics");
    assert_int_equal(ds_read_header(r)->nfields, F_COUNT);
    assert_string_equal(ds_read_header(r)->fields[F_START], "DTSTART");
    assert_string_equal(ds_read_header(r)->fields[F_EVENT_ID], "EVENT-ID");
    assert_string_equal(ds_read_header(r)->fields[F_ATT_EMAIL], "ATTENDEE-EMAIL");
    assert_string_equal(ds_read_header(r)->fields[F_ATT_TEL], "ATTENDEE-TEL");
    assert_int_equal(ds_read_next_row(r, &row, &err), 1);
    assert_int_equal(row.nfields, F_COUNT);
    assert_int_equal(row.line, 19);
    assert_string_equal(row.fields[F_UID], "appt-1@example.com");
    assert_string_equal(row.fields[F_RID], "");
    assert_string_equal(row.fields[F_START], "2024-06-15T09:00:00Z");
    assert_string_equal(row.fields[F_END], "2024-06-15T09:30:00Z");
    assert_string_equal(row.fields[F_SUMMARY], "Check-up, cleaning");
    assert_string_equal(row.fields[F_DESC], "First line\nsecond line");
    assert_string_equal(row.fields[F_LOC], "Op 2");
    assert_string_equal(row.fields[F_STATUS], "CONFIRMED");
    assert_string_equal(row.fields[F_ORG], "desk@example.com");
    assert_string_equal(row.fields[F_ATT], "a@example.com; b@example.org");
    assert_string_equal(row.fields[F_EVENT_ID], "appt-1@example.com");
    assert_string_equal(row.fields[F_ATT_EMAIL], "a@example.com");
    assert_string_equal(row.fields[F_ATT_TEL], "");
    assert_int_equal(ds_read_next_row(r, &row, &err), 1);
    assert_string_equal(row.fields[F_UID], "appt-2");
    assert_string_equal(row.fields[F_START], "2024-03-27T15:45:00Z");
    assert_string_equal(row.fields[F_END], "2024-03-27T16:30:00Z");
    assert_int_equal(ds_read_next_row(r, &row, &err), 1);
    assert_string_equal(row.fields[F_START], "2024-12-25");
    assert_string_equal(row.fields[F_END], "2024-12-26");
    assert_int_equal(ds_read_next_row(r, &row, &err), 1);
    assert_string_equal(row.fields[F_START], "2024-01-01T08:00:00");
    assert_string_equal(row.fields[F_END], "");
    assert_int_equal(ds_read_next_row(r, &row, &err), 1);
    assert_string_equal(row.fields[F_START], "2024-07-10T14:00:00Z");
    assert_string_equal(row.fields[F_END], "2024-07-10T15:00:00Z");
    assert_int_equal(ds_read_next_row(r, &row, &err), 1);
    assert_string_equal(row.fields[F_UID], "appt-6");
    assert_string_equal(row.fields[F_START], "2024-07-10T09:00:00");
    assert_int_equal(row.row, 6);
    assert_int_equal(ds_read_next_row(r, &row, &err), 0);
    assert_int_equal(count_kind(r, DS_READ_NOTICE_SKIPPED, "VTODO"), 1);
    assert_int_equal(count_kind(r, DS_READ_NOTICE_SKIPPED, "without DTSTART"), 1);
    assert_int_equal(count_kind(r, DS_READ_NOTICE_SKIPPED, "unknown TZID"), 1);
    ds_read_close(&r);
    unlink(t.path);
}

/* A calendar with one recurring event starting days_ago days ago. */
static void recurring(char *buf, size_t size, int days_ago, const char *rule, int exdate_week)
{
    time_t start = time(NULL) - (time_t)days_ago * 86400;
    time_t ex = start + (time_t)exdate_week * 7 * 86400;
    struct tm s;
    struct tm e;

    gmtime_r(&start, &s);
    gmtime_r(&ex, &e);
    snprintf(buf, size,
             "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:series\r\n"
             "DTSTART:%04d%02d%02dT100000Z\r\nDTEND:%04d%02d%02dT103000Z\r\n"
             "RRULE:%s\r\n%s%04d%02d%02dT100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
             s.tm_year + 1900, s.tm_mon + 1, s.tm_mday, s.tm_year + 1900, s.tm_mon + 1, s.tm_mday,
             rule, exdate_week > 0 ? "EXDATE:" : "X-NONE:", e.tm_year + 1900, e.tm_mon + 1,
             e.tm_mday);
}

static long count_rows(const char *text, const struct ds_read_hints *h, char *first_rid,
                       size_t size)
{
    struct ds_reader *r = NULL;
    struct ds_error err;
    struct ds_row row;
    struct tmp t;
    long n = 0;

    tmp_write(&t, text);
    assert_int_equal(ds_read_open(t.path, h, &r, &err), 0);
    while (ds_read_next_row(r, &row, &err) == 1) {
        if (n == 0) {
            snprintf(first_rid, size, "%s", row.fields[F_RID]);
        }
        assert_string_equal(row.fields[F_UID], "series");
        assert_int_equal(strlen(row.fields[F_START]), 20);
        n++;
    }
    assert_int_equal(count_kind(r, DS_READ_NOTICE_SKIPPED, "recurring event"), 1);
    ds_read_close(&r);
    unlink(t.path);
    return n;
}

static void day(char *out, size_t size, int days_from_now);

/* The reader's aged_before is the UTC day days_ago days ago. */
static void aged_day(const char *text, const struct ds_read_hints *h, int days_ago)
{
    struct ds_reader *r = NULL;
    struct ds_error err;
    struct tmp t;
    char want[40];

    tmp_write(&t, text);
    assert_int_equal(ds_read_open(t.path, h, &r, &err), 0);
    day(want, sizeof(want), -days_ago);
    assert_string_equal(ds_read_dialect(r)->aged_before, want);
    ds_read_close(&r);
    unlink(t.path);
}

static void test_recurrence(void **state)
{
    struct ds_read_hints week = {.window_days_back = 7, .window_days_ahead = 7};
    char text[1024];
    char rid[64];
    long n;

    (void)state;
    recurring(text, sizeof(text), 10, "FREQ=WEEKLY;COUNT=4", 0);
    assert_int_equal(count_rows(text, NULL, rid, sizeof(rid)), 4);
    assert_int_equal(strlen(rid), 20);
    recurring(text, sizeof(text), 10, "FREQ=WEEKLY;COUNT=4", 1);
    assert_int_equal(count_rows(text, NULL, rid, sizeof(rid)), 3);
    /* Weekly for ever from three years ago: a year either side. */
    recurring(text, sizeof(text), 3 * 365, "FREQ=WEEKLY", 0);
    n = count_rows(text, NULL, rid, sizeof(rid));
    assert_true(n >= 103 && n <= 106);
    n = count_rows(text, &week, rid, sizeof(rid));
    assert_true(n >= 1 && n <= 3);
    /* Occurrences before the window's first day, less one for the zones,
     * are aged: a full snapshot does not take them for deletions. */
    aged_day(text, NULL, 366);
    aged_day(text, &week, 8);
}

/* "YYYYMMDD" of the day days_from_now days from now (UTC). */
static void day(char *out, size_t size, int days_from_now)
{
    time_t t = time(NULL) + (time_t)days_from_now * 86400;
    struct tm tm;

    gmtime_r(&t, &tm);
    snprintf(out, size, "%04d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

/* "YYYY-MM-DD" of the same day. */
static void iso_day(char *out, size_t size, int days_from_now)
{
    char d[40];

    day(d, sizeof(d), days_from_now);
    snprintf(out, size, "%.4s-%.2s-%.2s", d, d + 4, d + 6);
}

struct occ {
    char rid[32];
    char start[32];
    char summary[32];
};

/* Reads every row of text into occ (at most max); returns how many. */
static size_t read_all(const char *text, struct occ *occ, size_t max)
{
    struct ds_reader *r = NULL;
    struct ds_error err;
    struct ds_row row;
    struct tmp t;
    size_t n = 0;
    int rc;

    tmp_write(&t, text);
    assert_int_equal(ds_read_open(t.path, NULL, &r, &err), 0);
    while ((rc = ds_read_next_row(r, &row, &err)) == 1) {
        assert_true(n < max);
        snprintf(occ[n].rid, sizeof(occ[n].rid), "%s", row.fields[F_RID]);
        snprintf(occ[n].start, sizeof(occ[n].start), "%s", row.fields[F_START]);
        snprintf(occ[n].summary, sizeof(occ[n].summary), "%s", row.fields[F_SUMMARY]);
        n++;
    }
    assert_int_equal(rc, 0);
    ds_read_close(&r);
    unlink(t.path);
    return n;
}

/* Index of the row whose RECURRENCE-ID starts with rid, or -1; no two
 * rows may share one. */
static int find_rid(const struct occ *occ, size_t n, const char *rid)
{
    int at = -1;

    for (size_t i = 0; i < n; i++) {
        if (strncmp(occ[i].rid, rid, strlen(rid)) == 0) {
            assert_int_equal(at, -1);
            at = (int)i;
        }
    }
    return at;
}

/* A daily series of five from ten days ago (days 0-4), the occurrence of
 * day 1 changed by its own VEVENT (moved to 14:00), day 3 excluded, day 2
 * given again as an RDATE, day 20 added as an RDATE. The changed VEVENT
 * comes after the series, then before it. */
static void test_overrides_rdate_exdate(void **state)
{
    char d[5][40];
    char iso[5][40];
    char master[1024];
    char change[512];
    char text[4096];
    struct occ occ[16];
    size_t n;
    int i;

    (void)state;
    for (int k = 0; k < 4; k++) {
        static const int offs[] = {-10, -9, -8, 10};

        day(d[k], sizeof(d[k]), offs[k]);
        iso_day(iso[k], sizeof(iso[k]), offs[k]);
    }
    day(d[4], sizeof(d[4]), -7);
    iso_day(iso[4], sizeof(iso[4]), -7);
    snprintf(master, sizeof(master),
             "BEGIN:VEVENT\r\nUID:series\r\nSUMMARY:Hygiene\r\n"
             "DTSTART:%sT100000Z\r\nDTEND:%sT103000Z\r\n"
             "RRULE:FREQ=DAILY;COUNT=5\r\nEXDATE:%sT100000Z\r\n"
             "RDATE:%sT100000Z\r\nRDATE:%sT100000Z\r\nEND:VEVENT\r\n",
             d[0], d[0], d[4], d[2], d[3]);
    snprintf(change, sizeof(change),
             "BEGIN:VEVENT\r\nUID:series\r\nSUMMARY:Hygiene (moved)\r\n"
             "RECURRENCE-ID:%sT100000Z\r\nDTSTART:%sT140000Z\r\nDTEND:%sT143000Z\r\n"
             "END:VEVENT\r\n",
             d[1], d[1], d[1]);
    for (int order = 0; order < 2; order++) {
        snprintf(text, sizeof(text), "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n%s%sEND:VCALENDAR\r\n",
                 order == 0 ? master : change, order == 0 ? change : master);
        n = read_all(text, occ, 16);
        /* Days 0, 2, 4 and 20 of the series, and the changed day 1. */
        assert_int_equal(n, 5);
        assert_true(find_rid(occ, n, iso[0]) >= 0);
        assert_true(find_rid(occ, n, iso[2]) >= 0);
        assert_true(find_rid(occ, n, iso[3]) >= 0);
        assert_int_equal(find_rid(occ, n, iso[4]), -1);
        i = find_rid(occ, n, iso[1]);
        assert_true(i >= 0);
        assert_string_equal(occ[i].summary, "Hygiene (moved)");
        assert_string_equal(occ[i].start + 10, "T14:00:00Z");
        i = find_rid(occ, n, iso[3]);
        assert_string_equal(occ[i].summary, "Hygiene");
        assert_string_equal(occ[i].start + 10, "T10:00:00Z");
    }
}

/* The columns made for the mapper: EVENT-ID is the UID, with the
 * RECURRENCE-ID of an occurrence (compact, UTC) so that a changed
 * occurrence has the id of the occurrence it changes; a UID too long for
 * an external id is replaced by its hash; the patient's e-mail is the
 * first attendee who is not the organizer, the phone the first tel:. */
static void test_event_id_and_attendees(void **state)
{
    char long_uid[200];
    char text[4096];
    char d0[40];
    char d1[40];
    char want[128];
    struct ds_reader *r = NULL;
    struct ds_error err;
    struct ds_row row;
    struct tmp t;
    int seen_change = 0;
    int seen_first = 0;

    (void)state;
    memset(long_uid, 'u', 100);
    long_uid[100] = '\0';
    day(d0, sizeof(d0), -3);
    day(d1, sizeof(d1), 4);
    snprintf(text, sizeof(text),
             "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"
             "BEGIN:VEVENT\r\nUID:one\r\nDTSTART:20240327T154500Z\r\n"
             "ORGANIZER:mailto:Dr@Example.com\r\n"
             "ATTENDEE;ROLE=CHAIR:mailto:dr@example.com\r\n"
             "ATTENDEE:tel:+1-617-555-0107\r\n"
             "ATTENDEE:mailto:pat@example.org\r\n"
             "ATTENDEE:tel:+44 20 7946 0000\r\nEND:VEVENT\r\n"
             "BEGIN:VEVENT\r\nUID:%s\r\nDTSTART:20240328T100000Z\r\nEND:VEVENT\r\n"
             "BEGIN:VEVENT\r\nUID:ser\r\nDTSTART:%sT100000Z\r\nRRULE:FREQ=WEEKLY;COUNT=2\r\n"
             "END:VEVENT\r\n"
             "BEGIN:VEVENT\r\nUID:ser\r\nRECURRENCE-ID:%sT100000Z\r\n"
             "DTSTART:%sT120000Z\r\nEND:VEVENT\r\n"
             "END:VCALENDAR\r\n",
             long_uid, d0, d1, d1);
    tmp_write(&t, text);
    assert_int_equal(ds_read_open(t.path, NULL, &r, &err), 0);
    assert_int_equal(ds_read_next_row(r, &row, &err), 1);
    assert_string_equal(row.fields[F_EVENT_ID], "one");
    assert_string_equal(row.fields[F_ATT_EMAIL], "pat@example.org");
    assert_string_equal(row.fields[F_ATT_TEL], "+1-617-555-0107");
    assert_int_equal(ds_read_next_row(r, &row, &err), 1);
    assert_string_equal(row.fields[F_UID], long_uid);
    assert_int_equal(strncmp(row.fields[F_EVENT_ID], "ics-", 4), 0);
    assert_int_equal(strlen(row.fields[F_EVENT_ID]), 36);
    assert_string_equal(row.fields[F_ATT_EMAIL], "");
    for (int k = 0; k < 2; k++) {
        assert_int_equal(ds_read_next_row(r, &row, &err), 1);
        assert_string_equal(row.fields[F_UID], "ser");
        if (strcmp(row.fields[F_START] + 10, "T12:00:00Z") == 0) {
            snprintf(want, sizeof(want), "ser/%sT100000Z", d1);
            seen_change = 1;
        }
        else {
            snprintf(want, sizeof(want), "ser/%sT100000Z", d0);
            seen_first = 1;
        }
        assert_string_equal(row.fields[F_EVENT_ID], want);
    }
    assert_true(seen_change && seen_first);
    assert_int_equal(ds_read_next_row(r, &row, &err), 0);
    ds_read_close(&r);
    unlink(t.path);
}

/* RDATE without RRULE: DTSTART and each RDATE, in time order, with a
 * zone; EXDATE takes one out; an override in a zone replaces its own. */
static void test_rdate_only(void **state)
{
    char d[4][40];
    char iso[4][40];
    char text[2048];
    struct occ occ[8];
    size_t n;
    int i;

    (void)state;
    for (int k = 0; k < 4; k++) {
        day(d[k], sizeof(d[k]), 30 + k * 7);
        iso_day(iso[k], sizeof(iso[k]), 30 + k * 7);
    }
    snprintf(text, sizeof(text),
             "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"
             "BEGIN:VEVENT\r\nUID:visits\r\nSUMMARY:Ortho\r\n"
             "DTSTART;TZID=America/Chicago:%sT090000\r\n"
             "RDATE;TZID=America/Chicago:%sT090000,%sT090000\r\n"
             "RDATE;TZID=America/Chicago:%sT090000\r\n"
             "EXDATE;TZID=America/Chicago:%sT090000\r\nEND:VEVENT\r\n"
             "BEGIN:VEVENT\r\nUID:visits\r\nSUMMARY:Ortho (late)\r\n"
             "RECURRENCE-ID;TZID=America/Chicago:%sT090000\r\n"
             "DTSTART;TZID=America/Chicago:%sT160000\r\nEND:VEVENT\r\n"
             "END:VCALENDAR\r\n",
             d[0], d[3], d[1], d[2], d[2], d[3], d[3]);
    n = read_all(text, occ, 8);
    assert_int_equal(n, 3);
    assert_int_equal(find_rid(occ, n, iso[2]), -1);
    assert_true(find_rid(occ, n, iso[0]) >= 0);
    /* The series comes in time order: DTSTART first, then the RDATE. */
    assert_true(find_rid(occ, n, iso[0]) < find_rid(occ, n, iso[1]));
    i = find_rid(occ, n, iso[3]);
    assert_true(i >= 0);
    assert_string_equal(occ[i].summary, "Ortho (late)");
}

static void test_broken(void **state)
{
    struct ds_reader *r = NULL;
    struct ds_error err;
    struct ds_row row;
    struct tmp t;

    (void)state;
    tmp_write(&t, "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:a\nDTSTART:20240101T100000Z\nEND:VEVENT\n"
                  "BEGIN:VEVENT\nUID:b\nDTSTART:2024");
    assert_int_equal(ds_read_open(t.path, NULL, &r, &err), 0);
    assert_int_equal(ds_read_next_row(r, &row, &err), 1);
    assert_int_equal(ds_read_next_row(r, &row, &err), DS_EPARSE);
    assert_non_null(strstr(err.msg, "ends inside the VEVENT"));
    assert_non_null(strstr(err.msg, "line 6"));
    assert_int_equal(err.row, 2);
    assert_string_equal(err.file, t.path);
    ds_read_close(&r);
    unlink(t.path);
    /* Only a calendar without events: no rows, no error. */
    tmp_write(&t, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n");
    assert_int_equal(ds_read_open(t.path, NULL, &r, &err), 0);
    assert_int_equal(ds_read_next_row(r, &row, &err), 0);
    ds_read_close(&r);
    unlink(t.path);
}

/* Appends text to a growing string. */
/* The room put keeps for n bytes: the next power of two, so a calendar
 * built from many small pieces grows in O(n) (a realloc per piece is
 * quadratic where realloc always moves, as under ASan). */
static size_t room(size_t n)
{
    size_t c = 64;

    while (c < n) {
        c *= 2;
    }
    return c;
}

static void put(char **s, size_t *n, const char *text)
{
    size_t len = strlen(text);

    if (*s == NULL || room(*n + 1) < *n + len + 1) {
        *s = realloc(*s, room(*n + len + 1));
    }
    assert_non_null(*s);
    memcpy(*s + *n, text, len + 1);
    *n += len;
}

/* A calendar of three events whose second holds mid (its UID "b"): the
 * first and third read normally, the second comes back as a cut row. */
static void three_events(const char *mid, int error, size_t field, size_t kept)
{
    struct ds_reader *r = NULL;
    struct ds_error err;
    struct ds_row row;
    struct tmp t;
    char *cal = NULL;
    size_t n = 0;
    long lines = 0;

    put(&cal, &n,
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTART:20240101T100000Z\r\n"
        "END:VEVENT\r\nBEGIN:VEVENT\r\nUID:b\r\nDTSTART:20240102T100000Z\r\n"
        "SUMMARY:s\r\n");
    put(&cal, &n, mid);
    put(&cal, &n,
        "END:VEVENT\r\nBEGIN:VEVENT\r\nUID:c\r\nDTSTART:20240103T100000Z\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n");
    for (size_t i = 0; i < n; i++) {
        lines += cal[i] == '\n';
    }
    tmp_write(&t, cal);
    free(cal);
    assert_int_equal(ds_read_open(t.path, NULL, &r, &err), 0);
    assert_int_equal(ds_read_next_row(r, &row, &err), 1);
    assert_int_equal(row.error, DS_READ_ROW_OK);
    assert_string_equal(row.fields[F_UID], "a");
    assert_int_equal(ds_read_next_row(r, &row, &err), 1);
    assert_int_equal(row.row, 2);
    assert_int_equal(row.line, 6);
    assert_int_equal(row.error, error);
    assert_int_equal(row.error_field, field);
    assert_true(row.error_msg[0] != '\0');
    assert_int_equal(row.nfields, kept);
    if (kept > 0) {
        assert_string_equal(row.fields[F_UID], "b");
    }
    assert_true(row.raw_len <= (size_t)64 * 1024);
    assert_int_equal(ds_read_next_row(r, &row, &err), 1);
    assert_int_equal(row.error, DS_READ_ROW_OK);
    assert_int_equal(row.row, 3);
    assert_int_equal(row.line, lines - 4);
    assert_string_equal(row.fields[F_UID], "c");
    assert_int_equal(ds_read_next_row(r, &row, &err), 0);
    ds_read_close(&r);
    unlink(t.path);
}

static void test_caps(void **state)
{
    size_t big = (size_t)DS_READ_MAX_FIELD + 1;
    char *x = malloc((size_t)2 << 20);
    char *s = NULL;
    size_t n = 0;

    (void)state;
    assert_non_null(x);
    /* A DESCRIPTION one past the field cap: the fields before it stay. */
    memset(x, 'x', big);
    x[big] = '\0';
    put(&s, &n, "DESCRIPTION:");
    put(&s, &n, x);
    put(&s, &n, "\r\n");
    three_events(s, DS_READ_ROW_FIELD_TOO_LONG, F_DESC + 1, F_DESC);
    /* The same property folded over many lines, past the line cap: read
     * to its end, named, no fields. */
    free(s);
    s = NULL;
    n = 0;
    memset(x, 'y', 73);
    x[73] = '\0';
    put(&s, &n, "DESCRIPTION:");
    for (int i = 0; i < 16000; i++) {
        put(&s, &n, x);
        put(&s, &n, "\r\n ");
    }
    put(&s, &n, "end\r\n");
    three_events(s, DS_READ_ROW_FIELD_TOO_LONG, F_DESC + 1, 0);
    /* A line of a property that is no field, past the line cap. */
    free(s);
    s = NULL;
    n = 0;
    memset(x, 'z', ((size_t)1 << 20) + 10);
    x[((size_t)1 << 20) + 10] = '\0';
    put(&s, &n, "X-NOTE:");
    put(&s, &n, x);
    put(&s, &n, "\r\n");
    three_events(s, DS_READ_ROW_TOO_LARGE, 0, 0);
    /* Many short lines: the event past its cap. */
    free(s);
    s = NULL;
    n = 0;
    memset(x, 'w', 90);
    x[90] = '\0';
    for (int i = 0; i < 12000; i++) {
        put(&s, &n, "X-A:");
        put(&s, &n, x);
        put(&s, &n, "\r\n");
    }
    three_events(s, DS_READ_ROW_TOO_LARGE, 0, 0);
    free(s);
    free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_events),
        cmocka_unit_test(test_recurrence),
        cmocka_unit_test(test_overrides_rdate_exdate),
        cmocka_unit_test(test_event_id_and_attendees),
        cmocka_unit_test(test_rdate_only),
        cmocka_unit_test(test_broken),
        cmocka_unit_test(test_caps),
    };

    /* As the program does: under wine the time zones then come from the
     * zoneinfo folder beside this .exe (the Makefile puts it there, as the
     * installer does beside dentsync.exe), not from where libical was
     * built; without it America/Chicago would be unknown. */
    ds_read_setup();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
