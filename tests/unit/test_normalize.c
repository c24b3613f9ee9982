/*
 * test_normalize.c — the practice-dependent normalizers, table-driven:
 * dates (orders, pivots, month names, Excel serials, sentinels), times,
 * local time to UTC (DST gaps and overlaps), phones with regions and
 * extensions, e-mail, names, money, CDT codes, teeth and surfaces, the
 * coded values of each import type, and gender. Each table holds valid,
 * invalid and ambiguous cases; an error's problem never repeats the value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agent/core/buf.h"
#include "agent/core/error.h"
#include "agent/map/normalize.h"
#include "agent/map/tz.h"
#include "proto/rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Option sets a case may ask for. */
enum opt_set {
    O_DEF = 0, /* zeroed: MDY, US, decimal point, UTC */
    O_DMY,     /* DMY */
    O_YMD,     /* YMD */
    O_GB,      /* phone region GB */
    O_AU,      /* phone region AU */
    O_COMMA,   /* decimal comma */
    O_CHICAGO, /* America/Chicago */
    O_LONDON,  /* Europe/London */
    O_PIVOT50, /* year pivot 50 */
    O_SYDNEY,  /* Australia/Sydney */
};

struct ncase {
    const char *transform;
    enum opt_set opts;
    const char *in;
    int rc;           /* DS_NORM_PRESENT, DS_NORM_ABSENT or DS_EINVAL */
    const char *want; /* output when present */
};

#define P DS_NORM_PRESENT
#define A DS_NORM_ABSENT
#define E DS_EINVAL

static const struct ncase dates[] = {
    {"date", O_DEF, "1985-03-07", P, "1985-03-07"},
    {"date", O_DEF, "03/07/1985", P, "1985-03-07"},
    {"date", O_DEF, "3/7/1985", P, "1985-03-07"},
    {"date", O_DMY, "03/07/1985", P, "1985-07-03"},
    {"date", O_DMY, "31.12.1999", P, "1999-12-31"},
    {"date", O_DMY, "7-3-85", P, "1985-03-07"},
    {"date", O_DEF, "03-07-1985", P, "1985-03-07"},
    {"date", O_YMD, "85/03/07", P, "1985-03-07"},
    {"date", O_DEF, "1985/03/07", P, "1985-03-07"},
    {"date", O_DMY, "1985-03-07", P, "1985-03-07"}, /* ISO wins whatever the order */
    {"date", O_DEF, "19850307", P, "1985-03-07"},
    {"date", O_DEF, "03/07/85", P, "1985-03-07"},
    {"date", O_DEF, "03/07/29", P, "2029-03-07"},
    {"date", O_DEF, "03/07/30", P, "1930-03-07"},
    {"date", O_PIVOT50, "03/07/45", P, "2045-03-07"},
    {"date", O_DEF, "7 Mar 1985", P, "1985-03-07"},
    {"date", O_DEF, "March 7, 1985", P, "1985-03-07"},
    {"date", O_DEF, "7-MAR-85", P, "1985-03-07"},
    {"date", O_DEF, "Thu, 07 Mar 1985", P, "1985-03-07"},
    {"date", O_DEF, "Sept 30 2001", P, "2001-09-30"},
    {"date", O_DEF, "1985 Mar 07", P, "1985-03-07"},
    {"date", O_DEF, "45378", P, "2024-03-27"},
    {"date", O_DEF, "45378.5", P, "2024-03-27"},
    {"date", O_DEF, "1985-03-07 00:00:00", P, "1985-03-07"},
    {"date", O_DEF, "3/7/1985 12:00:00 AM", P, "1985-03-07"},
    {"date", O_DEF, "2024-02-29", P, "2024-02-29"},
    {"date", O_DEF, " 2000-02-29 ", P, "2000-02-29"},
    {"date", O_DEF, "0001-01-01", A, NULL},
    {"date", O_DEF, "0000-00-00", A, NULL},
    {"date", O_DEF, "1899-12-30", A, NULL},
    {"date", O_DEF, "", A, NULL},
    {"date", O_DEF, "2023-02-29", E, NULL},
    {"date", O_DEF, "1900-02-29", E, NULL},
    {"date", O_DEF, "13/25/1980", E, NULL},
    {"date", O_DEF, "13/01/1990", E, NULL}, /* MDY in force: no silent switch */
    {"date", O_DMY, "01/13/1990", E, NULL},
    {"date", O_DEF, "1990-00-10", E, NULL},
    {"date", O_DEF, "1799-12-31", E, NULL},
    {"date", O_DEF, "03/07/985", E, NULL},
    {"date", O_DEF, "Smarch 7 1985", E, NULL},
    {"date", O_DEF, "yesterday", E, NULL},
    {"date", O_DEF, "12", E, NULL},
    {"date", O_DEF, "60", E, NULL},
    {"date", O_DEF, "1985-03-07T25:00", E, NULL},
    {"date", O_DEF, "1985-03-07Z", E, NULL},
    {"date", O_DEF, "03//07/1985 x", E, NULL},
};

static const struct ncase times[] = {
    {"time", O_DEF, "14:30", P, "14:30:00"},
    {"time", O_DEF, "14:30:15", P, "14:30:15"},
    {"time", O_DEF, "14:30:15.250", P, "14:30:15"},
    {"time", O_DEF, "2:30 PM", P, "14:30:00"},
    {"time", O_DEF, "2:30pm", P, "14:30:00"},
    {"time", O_DEF, "2:30 p.m.", P, "14:30:00"},
    {"time", O_DEF, "2:30p", P, "14:30:00"},
    {"time", O_DEF, "2 PM", P, "14:00:00"},
    {"time", O_DEF, "12:00 AM", P, "00:00:00"},
    {"time", O_DEF, "12:05 am", P, "00:05:00"},
    {"time", O_DEF, "12:00 PM", P, "12:00:00"},
    {"time", O_DEF, "11:59:59 PM", P, "23:59:59"},
    {"time", O_DEF, "0:00", P, "00:00:00"},
    {"time", O_DEF, "00:00:00", P, "00:00:00"},
    {"time", O_DEF, "1430", P, "14:30:00"},
    {"time", O_DEF, "930", P, "09:30:00"},
    {"time", O_DEF, "0930", P, "09:30:00"},
    {"time", O_DEF, "9.30", P, "09:30:00"},
    {"time", O_DEF, "23:59", P, "23:59:00"},
    {"time", O_DEF, " 08:05 ", P, "08:05:00"},
    {"time", O_DEF, "", A, NULL},
    {"time", O_DEF, "24:00", E, NULL},
    {"time", O_DEF, "12:60", E, NULL},
    {"time", O_DEF, "13:00 PM", E, NULL},
    {"time", O_DEF, "0:30 AM", E, NULL},
    {"time", O_DEF, "14", E, NULL},
    {"time", O_DEF, "2:3", E, NULL},
    {"time", O_DEF, "noon", E, NULL},
    {"time", O_DEF, "14:30:61", E, NULL},
    {"time", O_DEF, "14:30 XM", E, NULL},
    {"time", O_DEF, "1430 PM", E, NULL},
    {"time", O_DEF, "2:30 PMX", E, NULL},
};

static const struct ncase instants[] = {
    {"datetime", O_DEF, "2024-03-27 14:30:00", P, "2024-03-27T14:30:00Z"},
    {"datetime", O_CHICAGO, "2024-03-27 10:45:00", P, "2024-03-27T15:45:00Z"},
    {"datetime", O_CHICAGO, "2024-01-15 08:00", P, "2024-01-15T14:00:00Z"},
    {"datetime", O_CHICAGO, "01/15/2024 8:00 AM", P, "2024-01-15T14:00:00Z"},
    {"datetime", O_CHICAGO, "2024-12-31 23:30", P, "2025-01-01T05:30:00Z"},
    /* spring forward 2024-03-10 02:00 CST -> 03:00 CDT: the gap */
    {"datetime", O_CHICAGO, "2024-03-10 01:59:59", P, "2024-03-10T07:59:59Z"},
    {"datetime", O_CHICAGO, "2024-03-10 02:30", P, "2024-03-10T08:30:00Z"},
    {"datetime", O_CHICAGO, "2024-03-10 03:00", P, "2024-03-10T08:00:00Z"},
    /* fall back 2024-11-03 02:00 CDT -> 01:00 CST: 01:30 twice, first one */
    {"datetime", O_CHICAGO, "2024-11-03 00:59", P, "2024-11-03T05:59:00Z"},
    {"datetime", O_CHICAGO, "2024-11-03 01:30", P, "2024-11-03T06:30:00Z"},
    {"datetime", O_CHICAGO, "2024-11-03 02:00", P, "2024-11-03T08:00:00Z"},
    {"datetime", O_LONDON, "2024-07-01 09:00", P, "2024-07-01T08:00:00Z"},
    {"datetime", O_LONDON, "2024-01-01 09:00", P, "2024-01-01T09:00:00Z"},
    {"datetime", O_LONDON, "2024-03-31 01:30", P, "2024-03-31T01:30:00Z"}, /* gap */
    {"datetime", O_LONDON, "2024-10-27 01:30", P, "2024-10-27T00:30:00Z"}, /* overlap */
    {"datetime", O_SYDNEY, "2024-01-10 09:00", P, "2024-01-09T22:00:00Z"},
    {"datetime", O_SYDNEY, "2024-07-10 09:00", P, "2024-07-09T23:00:00Z"},
    /* past the table: the POSIX footer rules */
    {"datetime", O_CHICAGO, "2150-07-01 12:00", P, "2150-07-01T17:00:00Z"},
    {"datetime", O_CHICAGO, "2150-01-01 12:00", P, "2150-01-01T18:00:00Z"},
    {"datetime", O_SYDNEY, "2150-01-10 09:00", P, "2150-01-09T22:00:00Z"},
    {"datetime", O_CHICAGO, "1850-01-01 12:00", P, "1850-01-01T17:50:36Z"}, /* LMT */
    {"datetime", O_DEF, "45378.75", P, "2024-03-27T18:00:00Z"},
    {"datetime", O_CHICAGO, "March 27, 2024 2:30 PM", P, "2024-03-27T19:30:00Z"},
    {"datetime", O_DEF, "2024-03-27T14:30", P, "2024-03-27T14:30:00Z"},
    {"datetime", O_DEF, "0001-01-01 00:00:00", A, NULL},
    {"datetime", O_DEF, "", A, NULL},
    {"datetime", O_DEF, "2024-03-27", E, NULL},
    {"datetime", O_DEF, "2024-03-27 25:00", E, NULL},
    {"datetime", O_DEF, "2024-03-27T14:30:00Z", E, NULL},
    {"datetime", O_DEF, "2024-03-27 2:30 XM", E, NULL},
    {"datetime", O_DEF, "14:30", E, NULL},
};

static const struct ncase phones[] = {
    {"phone", O_DEF, "(617) 555-0107", P, "+16175550107"},
    {"phone", O_DEF, "617.555.0107", P, "+16175550107"},
    {"phone", O_DEF, "6175550107", P, "+16175550107"},
    {"phone", O_DEF, "1-617-555-0107", P, "+16175550107"},
    {"phone", O_DEF, "+1 617 555 0107", P, "+16175550107"},
    {"phone", O_DEF, "617-555-0107 x12", P, "+16175550107;ext=12"},
    {"phone", O_DEF, "617-555-0107 ext. 345", P, "+16175550107;ext=345"},
    {"phone", O_DEF, "617-555-0107 Ext 9", P, "+16175550107;ext=9"},
    {"phone", O_DEF, "617-555-0107#22", P, "+16175550107;ext=22"},
    {"phone", O_DEF, "+16175550107;ext=7", P, "+16175550107;ext=7"},
    {"phone", O_DEF, "011 44 20 7946 0958", P, "+442079460958"},
    {"phone", O_DEF, "0044 20 7946 0958", P, "+442079460958"},
    {"phone", O_DEF, "+44 (0)20 7946 0958", P, "+442079460958"},
    {"phone", O_GB, "020 7946 0958", P, "+442079460958"},
    {"phone", O_GB, "07700 900123", P, "+447700900123"},
    {"phone", O_GB, "+1 617 555 0107", P, "+16175550107"},
    {"phone", O_GB, "00 1 617 555 0107", P, "+16175550107"},
    {"phone", O_AU, "(02) 9876 5432", P, "+61298765432"},
    {"phone", O_AU, "0412 345 678", P, "+61412345678"},
    {"phone", O_DEF, "", A, NULL},
    {"phone", O_DEF, "  ", A, NULL},
    {"phone", O_DEF, "555-0107", E, NULL},
    {"phone", O_DEF, "0175550107", E, NULL},
    {"phone", O_DEF, "1175550107", E, NULL},
    {"phone", O_DEF, "2-617-555-0107", E, NULL},
    {"phone", O_DEF, "617-555-0107 x", E, NULL},
    {"phone", O_DEF, "617-555-0107 x12a", E, NULL},
    {"phone", O_DEF, "617-555-O107", E, NULL},
    {"phone", O_DEF, "+1234567", E, NULL},
    {"phone", O_DEF, "+1234567890123456", E, NULL},
    {"phone", O_GB, "0207", E, NULL},
    {"phone", O_DEF, "call me", E, NULL},
};

static const struct ncase emails[] = {
    {"email", O_DEF, "Ann@Example.COM", P, "ann@example.com"},
    {"email", O_DEF, " a.b+c@example.org ", P, "a.b+c@example.org"},
    {"email", O_DEF, "x@a.io", P, "x@a.io"},
    {"email", O_DEF, "o'brien@example.ie", P, "o'brien@example.ie"},
    {"email", O_DEF, "first_last@mail.example.co.uk", P, "first_last@mail.example.co.uk"},
    {"email", O_DEF, "UPPER@EXAMPLE.NET", P, "upper@example.net"},
    {"email", O_DEF, "a-b@ex-ample.com", P, "a-b@ex-ample.com"},
    {"email", O_DEF, "1@2.de", P, "1@2.de"},
    {"email", O_DEF, "name@sub.domain.example", P, "name@sub.domain.example"},
    {"email", O_DEF, "\xc2\xa0z@example.com\xc2\xa0", P, "z@example.com"},
    {"email", O_DEF, "", A, NULL},
    {"email", O_DEF, "\t", A, NULL},
    {"email", O_DEF, "ann", E, NULL},
    {"email", O_DEF, "ann@", E, NULL},
    {"email", O_DEF, "@example.com", E, NULL},
    {"email", O_DEF, "ann@example", E, NULL},
    {"email", O_DEF, "ann@@example.com", E, NULL},
    {"email", O_DEF, "a@b@example.com", E, NULL},
    {"email", O_DEF, "ann smith@example.com", E, NULL},
    {"email", O_DEF, "ann@.example.com", E, NULL},
    {"email", O_DEF, "ann@example.com.", E, NULL},
    {"email", O_DEF, "ann@example..com", E, NULL},
    {"email", O_DEF, "ann@e.", E, NULL},
    {"email", O_DEF, "ann\x01@example.com", E, NULL},
    {"email", O_DEF, "ann@ex ample.com", E, NULL},
    {"email", O_DEF, "ann@x", E, NULL},
    {"email", O_DEF, "ann.example.com", E, NULL},
    {"email", O_DEF, "ann@a.b", P, "ann@a.b"},
    {"email", O_DEF, "ann@exa\x7fmple.com", E, NULL},
    {"email", O_DEF, "mailto ann@example.com", E, NULL},
};

static const struct ncase names[] = {
    {"name", O_DEF, "  Ann  ", P, "Ann"},
    {"name", O_DEF, "ann", P, "Ann"},
    {"name", O_DEF, "ANN", P, "Ann"},
    {"name", O_DEF, "O'BRIEN", P, "O'Brien"},
    {"name", O_DEF, "o'brien", P, "O'Brien"},
    {"name", O_DEF, "O'Brien", P, "O'Brien"},
    {"name", O_DEF, "MCDONALD", P, "McDonald"},
    {"name", O_DEF, "mcdonald", P, "McDonald"},
    {"name", O_DEF, "McDonald", P, "McDonald"},
    {"name", O_DEF, "SMITH-JONES", P, "Smith-Jones"},
    {"name", O_DEF, "smith-jones", P, "Smith-Jones"},
    {"name", O_DEF, "Mary   Ann", P, "Mary Ann"},
    {"name", O_DEF, "MARY\tANN", P, "Mary Ann"},
    {"name", O_DEF, "mary \t\r\n ann  lee", P, "Mary Ann Lee"},
    {"name", O_DEF, "A B", P, "A B"},
    {"name", O_DEF, "Ann\x01", E, NULL},
    {"name", O_DEF, "Ann \x7f", E, NULL},
    {"name", O_DEF, "Ann\x7f Lee", E, NULL},
    {"name", O_DEF, "Ann \x1b Lee", E, NULL},
    {"name", O_DEF, "JOS\xc3\x89", P, "Jos\xc3\xa9"},
    {"name", O_DEF, "jos\xc3\xa9", P, "Jos\xc3\xa9"},
    {"name", O_DEF, "\xc3\xa9lodie", P, "\xc3\x89lodie"},
    {"name", O_DEF, "Zo\xc3\xab", P, "Zo\xc3\xab"},
    {"name", O_DEF, "van der Berg", P, "van der Berg"},
    {"name", O_DEF, "DeLuca", P, "DeLuca"},
    {"name", O_DEF, "DE LUCA", P, "De Luca"},
    {"name", O_DEF, "MC", P, "Mc"},
    {"name", O_DEF, "J.R.", P, "J.R."},
    {"name", O_DEF, "j.r.", P, "J.R."},
    {"name", O_DEF, "B", P, "B"},
    {"name", O_DEF, "b", P, "B"},
    {"name", O_DEF,
     "\xc2\xa0"
     "Ann"
     "\xc2\xa0",
     P, "Ann"},
    {"name", O_DEF, "", A, NULL},
    {"name", O_DEF, "   ", A, NULL},
    {"name", O_DEF, "Ann\x01", E, NULL},
    {"name", O_DEF, "\x7f", E, NULL},
    {"name", O_DEF, "ANN-MARIE O'NEIL", P, "Ann-Marie O'Neil"},
};

static const struct ncase money[] = {
    {"money", O_DEF, "1234.56", P, "123456"},
    {"money", O_DEF, "$1,234.56", P, "123456"},
    {"money", O_DEF, "(50.00)", P, "-5000"},
    {"money", O_DEF, "($50.00)", P, "-5000"},
    {"money", O_DEF, "-12", P, "-1200"},
    {"money", O_DEF, "-$12.5", P, "-1250"},
    {"money", O_DEF, "$-12.50", P, "-1250"},
    {"money", O_DEF, "50.00-", P, "-5000"},
    {"money", O_DEF, "50.00 CR", P, "-5000"},
    {"money", O_DEF, "+7", P, "700"},
    {"money", O_DEF, "0", P, "0"},
    {"money", O_DEF, ".5", P, "50"},
    {"money", O_DEF, "12.500", P, "1250"},
    {"money", O_DEF, "1,000,000", P, "100000000"},
    {"money", O_DEF, "USD 10", P, "1000"},
    {"money", O_DEF, "10 USD", P, "1000"},
    {"money", O_DEF,
     "\xc2\xa3"
     "5.25",
     P, "525"},
    {"money", O_COMMA, "1.234,56", P, "123456"},
    {"money", O_COMMA, "1 234,56 \xe2\x82\xac", P, "123456"},
    {"money", O_COMMA, "12,5", P, "1250"},
    {"money", O_COMMA, "-3", P, "-300"},
    {"money", O_DEF, "", A, NULL},
    {"money", O_DEF, "12.345", E, NULL},
    {"money", O_DEF, "12,5", E, NULL},
    {"money", O_DEF, "1,23", E, NULL},
    {"money", O_DEF, "1234,567.00", E, NULL},
    {"money", O_DEF, "--5", E, NULL},
    {"money", O_DEF, "(-5)", E, NULL},
    {"money", O_DEF, "five", E, NULL},
    {"money", O_DEF, "$", E, NULL},
    {"money", O_DEF, "99999999999999", E, NULL},
    {"money", O_COMMA, "1.23", E, NULL},
    {"money", O_DEF, "1.2.3", E, NULL},
};

static const struct ncase codes[] = {
    {"cdt", O_DEF, "D0120", P, "D0120"},
    {"cdt", O_DEF, "d2392", P, "D2392"},
    {"cdt", O_DEF, " D1110 ", P, "D1110"},
    {"cdt", O_DEF, "0150", P, "D0150"},
    {"cdt", O_DEF, "01110", P, "D1110"},
    {"cdt", O_DEF, "", A, NULL},
    {"cdt", O_DEF, "D012", E, NULL},
    {"cdt", O_DEF, "D01200", E, NULL},
    {"cdt", O_DEF, "X0120", E, NULL},
    {"cdt", O_DEF, "Pay", E, NULL},
    {"cdt", O_DEF, "DA120", E, NULL},
    {"cdt", O_DEF, "11110", E, NULL},
    {"tooth", O_DEF, "3", P, "3"},
    {"tooth", O_DEF, "03", P, "3"},
    {"tooth", O_DEF, "#14", P, "14"},
    {"tooth", O_DEF, "32", P, "32"},
    {"tooth", O_DEF, "a", P, "A"},
    {"tooth", O_DEF, "T", P, "T"},
    {"tooth", O_DEF, "", A, NULL},
    {"tooth", O_DEF, "0", E, NULL},
    {"tooth", O_DEF, "33", E, NULL},
    {"tooth", O_DEF, "U", E, NULL},
    {"tooth", O_DEF, "3.5", E, NULL},
    {"tooth", O_DEF, "UR", E, NULL},
    {"surface", O_DEF, "MOD", P, "MOD"},
    {"surface", O_DEF, "dom", P, "MOD"},
    {"surface", O_DEF, "B", P, "B"},
    {"surface", O_DEF, "M,O", P, "MO"},
    {"surface", O_DEF, "LIF", P, "IFL"},
    {"surface", O_DEF, "OO", P, "O"},
    {"surface", O_DEF, "5", P, "5"},
    {"surface", O_DEF, "", A, NULL},
    {"surface", O_DEF, "X", E, NULL},
    {"surface", O_DEF, "MODZ", E, NULL},
    {"surface", O_DEF, ",", E, NULL},
    {"duration", O_DEF, "30", P, "30"},
    {"duration", O_DEF, "045", P, "45"},
    {"duration", O_DEF, "0", E, NULL},
    {"duration", O_DEF, "1441", E, NULL},
    {"duration", O_DEF, "half", E, NULL},
    {"slot_pattern", O_DEF, "XX//XX", P, "30"},
    {"slot_pattern", O_DEF, "/XXX/", P, "25"},
    {"slot_pattern", O_DEF, "XXAB", E, NULL},
    {"integer", O_DEF, "17", P, "17"},
    {"integer", O_DEF, "17.0", P, "17"},
    {"integer", O_DEF, "-1", E, NULL},
};

static const struct ncase statuses[] = {
    {"appointment_status", O_DEF, "Scheduled", P, "scheduled"},
    {"appointment_status", O_DEF, "CONFIRMED", P, "confirmed"},
    {"appointment_status", O_DEF, "Complete", P, "completed"},
    {"appointment_status", O_DEF, "Kept", P, "completed"},
    {"appointment_status", O_DEF, "Broken", P, "no_show"},
    {"appointment_status", O_DEF, "No Show", P, "no_show"},
    {"appointment_status", O_DEF, "no-show", P, "no_show"},
    {"appointment_status", O_DEF, "Canceled", P, "cancelled"},
    {"appointment_status", O_DEF, "UnschedList", P, "unscheduled"},
    {"appointment_status", O_DEF, "Planned", P, "planned"},
    {"appointment_status", O_DEF, "Tentative", P, "tentative"},
    {"appointment_status", O_DEF, "PtNote", E, NULL},
    {"appointment_status", O_DEF, "Lunch", E, NULL},
    {"opendental_aptstatus", O_DEF, "1", P, "scheduled"},
    {"opendental_aptstatus", O_DEF, "2", P, "completed"},
    {"opendental_aptstatus", O_DEF, "3", P, "unscheduled"},
    {"opendental_aptstatus", O_DEF, "4", P, "unscheduled"},
    {"opendental_aptstatus", O_DEF, "5", P, "no_show"},
    {"opendental_aptstatus", O_DEF, "6", P, "planned"},
    {"opendental_aptstatus", O_DEF, "7", E, NULL},
    {"opendental_aptstatus", O_DEF, "8", E, NULL},
    {"opendental_aptstatus", O_DEF, "0", E, NULL},
    {"opendental_aptstatus", O_DEF, "9", E, NULL},
    {"opendental_aptstatus", O_DEF, "Complete", P, "completed"},
    {"opendental_procstatus", O_DEF, "1", P, "planned"},
    {"opendental_procstatus", O_DEF, "2", P, "completed"},
    {"opendental_procstatus", O_DEF, "3", P, "existing"},
    {"opendental_procstatus", O_DEF, "4", P, "existing"},
    {"opendental_procstatus", O_DEF, "5", P, "referred"},
    {"opendental_procstatus", O_DEF, "6", P, "cancelled"},
    {"opendental_procstatus", O_DEF, "7", E, NULL},
    {"opendental_procstatus", O_DEF, "8", P, "declined"},
    {"opendental_procstatus", O_DEF, "TP", P, "planned"},
    {"opendental_procstatus", O_DEF, "EC", P, "existing"},
    {"opendental_procstatus", O_DEF, "Cn", E, NULL},
    {"treatment_status", O_DEF, "Treatment Planned", P, "planned"},
    {"treatment_status", O_DEF, "C", P, "completed"},
    {"treatment_status", O_DEF, "Referred Out", P, "referred"},
    {"treatment_status", O_DEF, "declined", P, "declined"},
    {"treatment_status", O_DEF, "maybe", E, NULL},
    {"opendental_patstatus", O_DEF, "0", P, "active"},
    {"opendental_patstatus", O_DEF, "1", P, "inactive"},
    {"opendental_patstatus", O_DEF, "2", P, "inactive"},
    {"opendental_patstatus", O_DEF, "3", P, "archived"},
    {"opendental_patstatus", O_DEF, "4", P, "archived"},
    {"opendental_patstatus", O_DEF, "5", P, "deceased"},
    {"opendental_patstatus", O_DEF, "6", P, "prospect"},
    {"opendental_patstatus", O_DEF, "7", E, NULL},
    {"opendental_patstatus", O_DEF, "NonPatient", P, "inactive"},
    {"patient_status", O_DEF, "Active", P, "active"},
    {"patient_status", O_DEF, "Prospective", P, "prospect"},
    {"patient_status", O_DEF, "gone", E, NULL},
    {"patient_status", O_DEF, "", A, NULL},
    {"financial_kind", O_DEF, "Pay", P, "payment"},
    {"financial_kind", O_DEF, "Ins", P, "payment"},
    {"financial_kind", O_DEF, "Adj", P, "adjustment"},
    {"financial_kind", O_DEF, "Refund", P, "refund"},
    {"financial_kind", O_DEF, "Charge", P, "charge"},
    {"financial_kind", O_DEF, "gift", E, NULL},
    {"payment_method", O_DEF, "Cheque", P, "check"},
    {"payment_method", O_DEF, "VISA", P, "card"},
    {"payment_method", O_DEF, "Credit Card", P, "card"},
    {"payment_method", O_DEF, "Cash", P, "cash"},
    {"payment_method", O_DEF, "Insurance", P, "insurance"},
    {"payment_method", O_DEF, "barter", E, NULL},
};

static const struct ncase genders[] = {
    {"gender", O_DEF, "M", P, "male"},
    {"gender", O_DEF, "m", P, "male"},
    {"gender", O_DEF, "Male", P, "male"},
    {"gender", O_DEF, "MALE", P, "male"},
    {"gender", O_DEF, " male ", P, "male"},
    {"gender", O_DEF, "F", P, "female"},
    {"gender", O_DEF, "f", P, "female"},
    {"gender", O_DEF, "Female", P, "female"},
    {"gender", O_DEF, "FEMALE", P, "female"},
    {"gender", O_DEF, "O", P, "other"},
    {"gender", O_DEF, "Other", P, "other"},
    {"gender", O_DEF, "X", P, "other"},
    {"gender", O_DEF, "U", P, "unknown"},
    {"gender", O_DEF, "Unknown", P, "unknown"},
    {"gender", O_DEF, "", A, NULL},
    {"gender", O_DEF, "  ", A, NULL},
    {"gender", O_DEF, "Mail", E, NULL},
    {"gender", O_DEF, "Femme", E, NULL},
    {"gender", O_DEF, "1", E, NULL},
    {"gender", O_DEF, "MF", E, NULL},
    {"gender", O_DEF, "?", E, NULL},
    {"gender", O_DEF, "boy", E, NULL},
    {"gender", O_DEF, "fe male", P, "female"},
    {"gender", O_DEF, "un-known", P, "unknown"},
    {"gender", O_DEF, "N/A", E, NULL},
    {"gender", O_DEF, "mâle", E, NULL},
    {"gender", O_DEF, "W", E, NULL},
    {"gender", O_DEF, "Males", E, NULL},
    {"gender", O_DEF, "other ", P, "other"},
    {"gender", O_DEF, "\tU\t", P, "unknown"},
};

struct tzs {
    struct ds_tz *chicago, *london, *sydney;
};

/* On failure too, *state holds what was loaded: cmocka runs the group's
 * teardown after a failed setup. */
static int setup(void **state)
{
    struct tzs *z = calloc(1, sizeof(*z));

    *state = z;
    if (z == NULL || ds_tz_load("America/Chicago", &z->chicago, NULL) != 0 ||
        ds_tz_load("Europe/London", &z->london, NULL) != 0 ||
        ds_tz_load("Australia/Sydney", &z->sydney, NULL) != 0) {
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    struct tzs *z = *state;

    if (z == NULL) {
        return 0;
    }
    ds_tz_free(&z->chicago);
    ds_tz_free(&z->london);
    ds_tz_free(&z->sydney);
    free(z);
    return 0;
}

static void make_opts(const struct tzs *z, enum opt_set set, struct ds_norm_opts *o)
{
    memset(o, 0, sizeof(*o));
    switch (set) {
    case O_DMY:
        o->date_order = DS_DATE_DMY;
        break;
    case O_YMD:
        o->date_order = DS_DATE_YMD;
        break;
    case O_GB:
        memcpy(o->phone_region, "GB", 3);
        break;
    case O_AU:
        memcpy(o->phone_region, "AU", 3);
        break;
    case O_COMMA:
        o->decimal_comma = 1;
        break;
    case O_CHICAGO:
        o->tz = z->chicago;
        break;
    case O_LONDON:
        o->tz = z->london;
        break;
    case O_SYDNEY:
        o->tz = z->sydney;
        break;
    case O_PIVOT50:
        o->year_pivot = 50;
        break;
    case O_DEF:
        break;
    }
}

static void run_table(void **state, const struct ncase *cases, size_t n, size_t min)
{
    struct ds_buf out;
    struct ds_norm_opts o;

    assert_true(n >= min);
    ds_buf_init(&out, 4096);
    for (size_t i = 0; i < n; i++) {
        const struct ncase *c = &cases[i];
        ds_norm_opt_fn fn = ds_norm_lookup_opt(c->transform);
        const char *problem = NULL;
        int rc;

        assert_non_null(fn);
        make_opts(*state, c->opts, &o);
        ds_buf_reset(&out);
        rc = fn(&o, c->in, strlen(c->in), &out, &problem);
        if (rc != c->rc) {
            fail_msg("%s(\"%s\"): rc %d, expected %d (%s)", c->transform, c->in, rc, c->rc,
                     out.data != NULL ? out.data : "");
        }
        if (rc == DS_NORM_PRESENT && strcmp(out.data, c->want) != 0) {
            fail_msg("%s(\"%s\"): \"%s\", expected \"%s\"", c->transform, c->in, out.data, c->want);
        }
        if (rc == DS_NORM_ABSENT) {
            assert_int_equal(out.len, 0);
        }
        if (rc == DS_EINVAL) {
            assert_non_null(problem);
            /* The reason is a fixed phrase: never the value itself. */
            if (strlen(c->in) >= 3) {
                assert_null(strstr(problem, c->in));
            }
        }
    }
    ds_buf_close(&out);
}

#define TABLE(name, table)                                                                         \
    static void name(void **state)                                                                 \
    {                                                                                              \
        run_table(state, table, sizeof(table) / sizeof(table[0]), 30);                             \
    }

TABLE(test_dates, dates)
TABLE(test_times, times)
TABLE(test_instants, instants)
TABLE(test_phones, phones)
TABLE(test_emails, emails)
TABLE(test_names, names)
TABLE(test_money, money)
TABLE(test_codes, codes)
TABLE(test_statuses, statuses)
TABLE(test_genders, genders)

static void vote_all(struct ds_date_votes *v, const char *const *values)
{
    memset(v, 0, sizeof(*v));
    for (const char *const *p = values; *p != NULL; p++) {
        ds_norm_date_vote(v, *p, strlen(*p));
    }
}

static void test_date_order_inference(void **state)
{
    static const char *const us[] = {"03/04/2020", "12/25/1980", "1/2/2001", "", NULL};
    static const char *const eu[] = {"03/04/2020", "25/12/1980", "1/2/2001", "31.01.1999", NULL};
    static const char *const unsure[] = {"03/04/2020", "01/02/2001", NULL};
    static const char *const mixed[] = {"25/12/1980", "12/25/1980", NULL};
    static const char *const iso[] = {"1980-12-25", "2001-02-01", NULL};
    static const char *const timed[] = {"25/12/1980 9:15:00 AM", "3/4/2024 14:30", NULL};
    static const char *const edge[] = {"  12/25/1980 ", "123/4/2024", "198/12/25", NULL};
    struct ds_date_votes v;

    (void)state;
    vote_all(&v, us);
    assert_int_equal(ds_norm_date_order_infer(&v), DS_DATE_MDY);
    assert_int_equal(v.mdy_only, 1);
    vote_all(&v, eu);
    assert_int_equal(ds_norm_date_order_infer(&v), DS_DATE_DMY);
    assert_int_equal(v.dmy_only, 2);
    vote_all(&v, unsure);
    assert_int_equal(ds_norm_date_order_infer(&v), DS_DATE_MDY);
    assert_int_equal(v.seen, 2);
    vote_all(&v, mixed);
    assert_int_equal(ds_norm_date_order_infer(&v), DS_DATE_MDY);
    /* A date-time votes with its date part. */
    vote_all(&v, timed);
    assert_int_equal(v.seen, 2);
    assert_int_equal(v.dmy_only, 1);
    vote_all(&v, iso);
    assert_int_equal(v.seen, 0);
    /* Spaces around are trimmed first; three leading digits never vote. */
    vote_all(&v, edge);
    assert_int_equal(v.seen, 1);
    assert_int_equal(v.mdy_only, 1);
}

static void test_split_name(void **state)
{
    struct ds_buf last;
    struct ds_buf first;
    const char *problem = NULL;

    (void)state;
    ds_buf_init(&last, 1024);
    ds_buf_init(&first, 1024);
    assert_int_equal(ds_norm_split_name("OKAFOR, ROBERT", 14, 1, &last, &first, &problem),
                     DS_NORM_PRESENT);
    assert_string_equal(last.data, "Okafor");
    assert_string_equal(first.data, "Robert");
    ds_buf_reset(&last);
    ds_buf_reset(&first);
    assert_int_equal(ds_norm_split_name("Mary Ann  O'Brien", 17, 0, &last, &first, &problem),
                     DS_NORM_PRESENT);
    assert_string_equal(last.data, "O'Brien");
    assert_string_equal(first.data, "Mary Ann");
    ds_buf_reset(&last);
    ds_buf_reset(&first);
    assert_int_equal(ds_norm_split_name("Okafor", 6, 1, &last, &first, &problem), DS_EINVAL);
    assert_int_equal(ds_norm_split_name("Okafor,", 7, 1, &last, &first, &problem), DS_EINVAL);
    assert_int_equal(ds_norm_split_name("", 0, 1, &last, &first, &problem), DS_NORM_ABSENT);
    ds_buf_close(&last);
    ds_buf_close(&first);
}

static void test_tz_load_errors(void **state)
{
    struct ds_tz *tz = NULL;
    struct ds_error err;
    static const unsigned char junk[] = "TZif2 this is not a zone file at all, no";

    (void)state;
    assert_int_equal(ds_tz_load("../etc/passwd", &tz, &err), DS_EINVAL);
    assert_int_equal(ds_tz_load("Mars/Olympus_Mons", &tz, &err), DS_ENOTFOUND);
    assert_int_equal(ds_tz_parse(junk, sizeof(junk), "junk", &tz), DS_EPARSE);
    assert_null(tz);
    assert_int_equal(ds_tz_load("UTC", &tz, &err), 0);
    assert_int_equal(ds_tz_offset_at(tz, 1700000000), 0);
    ds_tz_free(&tz);
    assert_int_equal(ds_tz_load(NULL, &tz, &err), 0); /* the system's zone */
    ds_tz_free(&tz);
}

/* The digit writer behind the normalizers' output gives printf's bytes for
 * every width and sign, the extremes included, and the date writer the
 * normalized forms. */
/* Every transform reads an empty value as absent and writes nothing: the
 * mapper takes an empty cell for absent without calling it. */
static void test_empty_is_absent(void **state)
{
    static const char *const transforms[] = {"text",
                                             "upper",
                                             "lower",
                                             "email",
                                             "gender",
                                             "date",
                                             "datetime",
                                             "instant",
                                             "time",
                                             "phone",
                                             "name",
                                             "money",
                                             "integer",
                                             "duration",
                                             "slot_pattern",
                                             "cdt",
                                             "tooth",
                                             "surface",
                                             "status",
                                             "patient_status",
                                             "appointment_status",
                                             "treatment_status",
                                             "financial_kind",
                                             "payment_method",
                                             "opendental_aptstatus",
                                             "opendental_procstatus",
                                             "opendental_patstatus",
                                             NULL};
    struct ds_norm_opts o;
    struct ds_buf out;
    size_t n = 0;

    (void)state;
    memset(&o, 0, sizeof(o));
    ds_buf_init(&out, 1024);
    for (const char *const *name = transforms; *name != NULL; name++, n++) {
        ds_norm_opt_fn fn = ds_norm_lookup_opt(*name);
        const char *problem = NULL;

        assert_non_null(fn);
        ds_buf_reset(&out);
        assert_int_equal(fn(&o, "", 0, &out, &problem), DS_NORM_ABSENT);
        assert_int_equal(out.len, 0);
    }
    assert_null(ds_norm_lookup_opt("no_such_transform"));
    ds_buf_close(&out);
    assert_int_equal(n, 27);
}

/* Whatever the "date" and "email" transforms accept, they write a value
 * the rule book's date and e-mail tests pass: the mapper tests such
 * values' length only. Every day from 1799 to 2200 in three orders and
 * shapes, Excel serials, and addresses at the edges of what is taken. */
static void test_transforms_pass_the_rules(void **state)
{
    static const char *const addresses[] = {"a@b.co",        "A.B@C-D.EU", "x+y@mail.example.com",
                                            "\xc3\xbc@x.de", " a_b@c.io ", "a@b..c",
                                            "a@.b.c",        "a@b.c.",     "@b.c",
                                            "a@b",           "a b@c.de",   "a@@b.cd",
                                            "a@b.c",         NULL};
    const struct ds_rules_type *t = ds_rules_type("patients");
    const struct ds_rules_field *dob = &t->fields[ds_rules_field_index(t, "date_of_birth")];
    const struct ds_rules_field *mail = &t->fields[ds_rules_field_index(t, "email")];
    ds_norm_opt_fn date = ds_norm_lookup_opt("date");
    ds_norm_opt_fn email = ds_norm_lookup_opt("email");
    struct ds_norm_opts o;
    struct ds_buf out;
    char in[64];
    char msg[128];
    long present = 0;

    (void)state;
    assert_int_equal(dob->kind, DS_RULES_DATE);
    assert_int_equal(mail->kind, DS_RULES_EMAIL);
    memset(&o, 0, sizeof(o));
    ds_buf_init(&out, 1024);
    for (int y = 1799; y <= 2200; y++) {
        for (int m = 1; m <= 12; m++) {
            for (int d = 1; d <= 31; d++) {
                for (int form = 0; form < 4; form++) {
                    const char *problem = NULL;
                    int n = form == 0   ? snprintf(in, sizeof(in), "%d-%02d-%02d", y, m, d)
                            : form == 1 ? snprintf(in, sizeof(in), "%d/%d/%d", m, d, y)
                            : form == 2
                                ? snprintf(in, sizeof(in), "%d%02d%02d", y, m, d)
                                : snprintf(in, sizeof(in), "%d", (y - 1800) * 372 + m * 31 + d);

                    o.date_order = form == 1 && d > 12 ? DS_DATE_MDY : DS_DATE_AUTO;
                    ds_buf_reset(&out);
                    if (date(&o, in, (size_t)n, &out, &problem) == DS_NORM_PRESENT) {
                        present++;
                        assert_int_equal(
                            ds_rules_check_text(dob, out.data, out.len, msg, sizeof(msg)), 0);
                    }
                }
            }
        }
    }
    assert_true(present > 500000);
    for (const char *const *e = addresses; *e != NULL; e++) {
        const char *problem = NULL;

        ds_buf_reset(&out);
        if (email(&o, *e, strlen(*e), &out, &problem) == DS_NORM_PRESENT) {
            assert_int_equal(ds_rules_check_text(mail, out.data, out.len, msg, sizeof(msg)), 0);
        }
    }
    ds_buf_close(&out);
}

/* ds_buf_append copies short pieces with moves of a fixed size: every
 * length from 0 to 40, at every offset of the buffer, byte for byte. */
static void test_buf_append_lengths(void **state)
{
    char src[64];
    char want[8192];
    struct ds_buf b;
    size_t w = 0;

    (void)state;
    for (size_t i = 0; i < sizeof(src); i++) {
        src[i] = (char)('A' + i % 26);
    }
    ds_buf_init(&b, sizeof(want));
    for (size_t off = 0; off < 9; off++) {
        for (size_t n = 0; n <= 40; n++) {
            assert_int_equal(ds_buf_append(&b, src + off, n), 0);
            memcpy(want + w, src + off, n);
            w += n;
            assert_int_equal(b.len, w);
            assert_int_equal(b.data[b.len], '\0');
        }
    }
    assert_memory_equal(b.data, want, w);
    ds_buf_close(&b);
}

static void test_fmt_int(void **state)
{
    static const long long vals[] = {0,
                                     1,
                                     -1,
                                     7,
                                     -7,
                                     9,
                                     10,
                                     -10,
                                     99,
                                     100,
                                     1234,
                                     -1234,
                                     2026,
                                     99999,
                                     1000000,
                                     -1000000,
                                     2147483647LL,
                                     -2147483648LL,
                                     9223372036854775807LL,
                                     -9223372036854775807LL - 1};
    char want[64];
    char got[DS_FMT_INT_MAX + 1];
    struct ds_buf b;

    (void)state;
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        for (int w = 0; w <= 20; w++) {
            size_t n = ds_fmt_int(got, vals[i], w);

            assert_true(n <= DS_FMT_INT_MAX);
            got[n] = '\0';
            if (w == 0) {
                snprintf(want, sizeof(want), "%lld", vals[i]);
            }
            else {
                snprintf(want, sizeof(want), "%0*lld", w, vals[i]);
            }
            assert_string_equal(got, want);
        }
    }
    for (long long v = -2000; v <= 2000; v++) {
        size_t n = ds_fmt_int(got, v, 4);

        got[n] = '\0';
        snprintf(want, sizeof(want), "%04lld", v);
        assert_string_equal(got, want);
    }
    ds_buf_init(&b, 256);
    assert_int_equal(ds__norm_put_date(&b, 1800, 1, 9, NULL), 0);
    assert_string_equal(b.data, "1800-01-09");
    ds_buf_reset(&b);
    {
        const int hms[3] = {7, 5, 59};

        assert_int_equal(ds__norm_put_date(&b, 2024, 12, 31, hms), 0);
        assert_string_equal(b.data, "2024-12-31T07:05:59Z");
    }
    ds_buf_reset(&b);
    /* Outside the ranges a normalizer gives: printf's form still. */
    {
        const int hms[3] = {100, -1, 5};

        assert_int_equal(ds__norm_put_date(&b, 12345, 7, 100, hms), 0);
        assert_string_equal(b.data, "12345-07-100T100:-1:05Z");
    }
    ds_buf_reset(&b);
    for (long y = 0; y <= 9999; y += 37) {
        const int hms[3] = {(int)(y % 24), (int)(y % 60), (int)(y % 59)};

        snprintf(want, sizeof(want), "%04ld-%02ld-%02ldT%02d:%02d:%02dZ", y, y % 13, y % 32, hms[0],
                 hms[1], hms[2]);
        ds_buf_reset(&b);
        assert_int_equal(ds__norm_put_date(&b, y, y % 13, y % 32, hms), 0);
        assert_string_equal(b.data, want);
    }
    ds_buf_reset(&b);
    assert_int_equal(ds_buf_append_int(&b, -42, 0), 0);
    assert_int_equal(ds_buf_append_int(&b, 5, 3), 0);
    assert_string_equal(b.data, "-42005");
    ds_buf_close(&b);
}

/* ds_norm_utf8_valid as it was, a byte at a time: the reference for the
 * word-at-a-time version. */
static int utf8_valid_ref(const unsigned char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        unsigned char b = s[i];
        unsigned long cp;
        size_t k;

        if (b == 0) {
            return 0;
        }
        if (b < 0x80) {
            i++;
            continue;
        }
        if (b >= 0xc2 && b <= 0xdf) {
            k = 1;
            cp = b & 0x1fu;
        }
        else if (b >= 0xe0 && b <= 0xef) {
            k = 2;
            cp = b & 0x0fu;
        }
        else if (b >= 0xf0 && b <= 0xf4) {
            k = 3;
            cp = b & 0x07u;
        }
        else {
            return 0;
        }
        if (n - i <= k) {
            return 0;
        }
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80) {
                return 0;
            }
            cp = (cp << 6) | (s[i + j] & 0x3fu);
        }
        if ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff)) {
            return 0;
        }
        i += k + 1;
    }
    return 1;
}

/* The fast paths of UTF-8 checking and trimming answer as the byte-by-byte
 * code did, on 200,000 random strings: mostly ASCII, with NULs, spaces,
 * no-break spaces, accents and stray bytes at every offset. */
static void test_utf8_trim_fast_paths(void **state)
{
    static const unsigned char pool[] = {'a',  'Z',  '0',  ' ',  '\t', '\r', 0,    0xc2,
                                         0xa0, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f,
                                         0x98, 0x80, 0xff, 0x7f, 0x80, 0x01};
    unsigned char buf[40];
    unsigned long seed = 12345;

    (void)state;
    for (int t = 0; t < 200000; t++) {
        size_t n;

        seed = seed * 6364136223846793005ul + 1442695040888963407ul;
        n = (seed >> 33) % sizeof(buf);
        for (size_t i = 0; i < n; i++) {
            seed = seed * 6364136223846793005ul + 1442695040888963407ul;
            /* Three in four bytes plain letters, so long ASCII runs occur. */
            buf[i] = (seed >> 40) % 4 != 0 ? (unsigned char)('a' + (seed >> 20) % 26)
                                           : pool[(seed >> 28) % sizeof(pool)];
        }
        assert_int_equal(ds_norm_utf8_valid((const char *)buf, n), utf8_valid_ref(buf, n));
        {
            const char *p = (const char *)buf;
            size_t len = n;
            size_t a = 0;
            size_t b = n;

            /* The reference trim: spaces and no-break spaces at both ends. */
            for (;;) {
                if (b - a >= 1 && (buf[a] == ' ' || (buf[a] >= '\t' && buf[a] <= '\r'))) {
                    a++;
                }
                else if (b - a >= 2 && buf[a] == 0xc2 && buf[a + 1] == 0xa0) {
                    a += 2;
                }
                else {
                    break;
                }
            }
            for (;;) {
                if (b - a >= 1 &&
                    (buf[b - 1] == ' ' || (buf[b - 1] >= '\t' && buf[b - 1] <= '\r'))) {
                    b--;
                }
                else if (b - a >= 2 && buf[b - 2] == 0xc2 && buf[b - 1] == 0xa0) {
                    b -= 2;
                }
                else {
                    break;
                }
            }
            ds_norm_trim(&p, &len);
            assert_ptr_equal(p, (const char *)buf + a);
            assert_int_equal(len, b - a);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fmt_int),
        cmocka_unit_test(test_buf_append_lengths),
        cmocka_unit_test(test_utf8_trim_fast_paths),
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_instants),
        cmocka_unit_test(test_phones),
        cmocka_unit_test(test_emails),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_money),
        cmocka_unit_test(test_codes),
        cmocka_unit_test(test_statuses),
        cmocka_unit_test(test_genders),
        cmocka_unit_test(test_date_order_inference),
        cmocka_unit_test(test_empty_is_absent),
        cmocka_unit_test(test_transforms_pass_the_rules),
        cmocka_unit_test(test_split_name),
        cmocka_unit_test(test_tz_load_errors),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
