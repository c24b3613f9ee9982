/*
 * tz.h — IANA time zones read from the system's tz database (TZif files in
 * /usr/share/zoneinfo), for converting a practice's local times to UTC.
 *
 * Why our own reader: the C library converts local time only through the
 * process-wide TZ variable (setenv + tzset + mktime), which is neither
 * thread-safe nor per practice, and ingest runs on a worker thread while
 * the loop thread logs with localtime. A loaded struct ds_tz is immutable,
 * so any number of threads may use it at once.
 *
 * Local to UTC, where the wall clock is ambiguous:
 *   gap      (spring forward: 02:30 does not exist) — the time is read
 *            with the offset in force before the change, so it lands after
 *            it: 02:30 CST -> 08:30Z, which is 03:30 CDT. A clock that was
 *            not yet moved forward wrote it that way.
 *   overlap  (fall back: 01:30 happens twice) — the first occurrence, still
 *            on daylight time (01:30 CDT -> 06:30Z). An export cannot tell
 *            the two apart; the earlier one keeps a day's order.
 */
#ifndef DS_MAP_TZ_H
#define DS_MAP_TZ_H

#include "agent/core/error.h"

#include <stddef.h>
#include <stdint.h>

struct ds_tz; /* opaque, immutable once loaded */

#define DS_TZ_DIR "/usr/share/zoneinfo"

enum {
    DS_TZ_NORMAL = 0,  /* the local time happened once */
    DS_TZ_GAP = 1,     /* it never happened (clocks jumped over it) */
    DS_TZ_OVERLAP = 2, /* it happened twice */
};

/* Loads the zone called name ("America/Chicago", "UTC") from DS_TZ_DIR;
 * NULL or "" loads the system's zone (/etc/localtime). new: free with
 * ds_tz_free. DS_EINVAL (a name that is not a zone name), DS_ENOTFOUND,
 * DS_EPARSE (not a TZif file), with err. */
int ds_tz_load(const char *name, struct ds_tz **out, struct ds_error *err);

/* Parses TZif bytes (version 1 to 4, with the POSIX TZ footer used past the
 * last transition). name is kept for messages. new: free with ds_tz_free. */
int ds_tz_parse(const unsigned char *data, size_t len, const char *name, struct ds_tz **out);

/* The UTC offset in seconds (east positive) in force at utc. */
int ds_tz_offset_at(const struct ds_tz *tz, int64_t utc);

/* Converts a local time (seconds since 1970-01-01 00:00 on the local wall
 * clock) to UTC by the rules in the file comment. *kind (may be NULL)
 * receives DS_TZ_NORMAL, DS_TZ_GAP or DS_TZ_OVERLAP. Returns 0. */
int ds_tz_local_to_utc(const struct ds_tz *tz, int64_t local, int64_t *utc, int *kind);

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil): m 1-12, d 1-31, any year. */
int64_t ds_tz_days_from_civil(int64_t y, int64_t m, int64_t d);

/* NULL-safe; sets *tz to NULL. */
void ds_tz_free(struct ds_tz **tz);

#endif
