/*
 * normalize.h — the value normalizers: the one place where text read from an
 * export becomes a canonical value (dates, e-mail addresses, phone numbers,
 * codes). Templates name them as "transform"s.
 *
 * Every normalizer trims the value first (ASCII white space and U+00A0) and
 * then either
 *   - appends the canonical form to out and returns DS_NORM_PRESENT,
 *   - returns DS_NORM_ABSENT (empty, or a value meaning "none" such as the
 *     date 0001-01-01) and leaves out alone, or
 *   - returns DS_EINVAL and points *problem at a fixed phrase ("not a valid
 *     date") — never at anything derived from the value.
 * DS_ETOOBIG and DS_ENOMEM come from out.
 */
#ifndef DS_MAP_NORMALIZE_H
#define DS_MAP_NORMALIZE_H

#include "agent/core/buf.h"

#include <stddef.h>
#include <stdint.h>

enum {
    DS_NORM_ABSENT = 0,  /* no value */
    DS_NORM_PRESENT = 1, /* a canonical value was appended */
};

/* A normalizer, as described above. in need not be NUL-terminated. */
typedef int (*ds_norm_fn)(const char *in, size_t len, struct ds_buf *out, const char **problem);

/* The normalizer for a template transform name ("text", "date", "email",
 * "phone", "gender", "status", "upper", "lower"), or NULL if unknown. */
ds_norm_fn ds_norm_lookup(const char *transform);

/* ds_norm_trim for a value that may have something to trim. */
void ds__norm_trim_some(const char **p, size_t *len);

/* Trims ASCII white space and U+00A0 (no-break space) at both ends.
 * Inline: it runs several times on every value, and most values have
 * nothing to trim — a printable first and last byte (neither a space nor
 * part of a no-break space, 0xc2 0xa0). */
static inline void ds_norm_trim(const char **p, size_t *len)
{
    const unsigned char *s = (const unsigned char *)*p;
    size_t n = *len;

    if (n == 0 || (s[0] > ' ' && s[0] != 0xc2 && s[n - 1] > ' ' && s[n - 1] != 0xa0)) {
        return;
    }
    ds__norm_trim_some(p, len);
}

/* Text as it is, trimmed. */
int ds_norm_text(const char *in, size_t len, struct ds_buf *out, const char **problem);
/* Text in ASCII upper case (other bytes unchanged). */
int ds_norm_upper(const char *in, size_t len, struct ds_buf *out, const char **problem);
/* Text in ASCII lower case (other bytes unchanged). */
int ds_norm_lower(const char *in, size_t len, struct ds_buf *out, const char **problem);
/* YYYY-MM-DD, MM/DD/YYYY, M/D/YYYY or YYYY/MM/DD to YYYY-MM-DD; years
 * 1800-2199; 0001-01-01 and 0000-00-00 mean no date. */
int ds_norm_date(const char *in, size_t len, struct ds_buf *out, const char **problem);
/* An e-mail address in lower case: one '@', a non-empty local part, a
 * domain with a dot inside it, no spaces or control characters. */
int ds_norm_email(const char *in, size_t len, struct ds_buf *out, const char **problem);
/* A phone number in E.164: 10 digits get +1, 11 digits starting with 1 get
 * +, and +digits (8 to 15) stay; only spaces ( ) - . / may surround them. */
int ds_norm_phone(const char *in, size_t len, struct ds_buf *out, const char **problem);
/* male, female, other or unknown from M/Male, F/Female, O/Other/X,
 * U/Unknown (any case). */
int ds_norm_gender(const char *in, size_t len, struct ds_buf *out, const char **problem);
/* active, inactive, archived, deceased, prospect, and Open Dental's
 * PatStatus names (Patient, NonPatient, Inactive, Archived, Deleted,
 * Deceased, Prospective), any case, spaces and dashes ignored. */
int ds_norm_status(const char *in, size_t len, struct ds_buf *out, const char **problem);

/* ------------------------------------------------------------------------ */
/* Normalizers that depend on the practice (normalize_date.c, normalize_tz.c, */
/* normalize_contact.c, normalize_code.c).                                    */

/* How to read a date whose order the text does not tell (03/04/2024). */
enum ds_date_order {
    DS_DATE_AUTO = 0, /* per value: MDY; ingest infers the column's order first */
    DS_DATE_MDY = 1,
    DS_DATE_DMY = 2,
    DS_DATE_YMD = 3,
};

struct ds_tz; /* a loaded time zone (normalize_tz.c), immutable: shareable across threads */

/* What the practice-dependent normalizers need. A zeroed struct is valid:
 * MDY, pivot 30, region US, decimal point, UTC. */
struct ds_norm_opts {
    enum ds_date_order date_order; /* see above */
    int year_pivot;                /* two-digit years below it are 20yy, others 19yy; 0: 30 */
    char phone_region[3];          /* "US", "GB", ...; "" is US */
    int decimal_comma;             /* money: ',' separates the cents, '.' or ' ' the thousands */
    const struct ds_tz *tz;        /* borrow: local time zone; NULL is UTC */
};

/* A normalizer taking options (o may be NULL: the defaults). Same return
 * convention as ds_norm_fn. */
typedef int (*ds_norm_opt_fn)(const struct ds_norm_opts *o, const char *in, size_t len,
                              struct ds_buf *out, const char **problem);

/* The normalizer for a transform name: the ones of ds_norm_lookup plus
 * "name", "money", "cdt", "tooth", "surface", "datetime", "time",
 * "integer", "duration", "slot_pattern", "appointment_status",
 * "treatment_status", "patient_status", "financial_kind", "payment_method",
 * "opendental_aptstatus", "opendental_procstatus", "opendental_patstatus".
 * NULL if unknown. */
ds_norm_opt_fn ds_norm_lookup_opt(const char *transform);

/* A date and an optional time of day, as read (local time). */
struct ds_norm_dt {
    int y, mo, d; /* calendar date */
    int h, mi, s; /* time of day, 0 when has_time is 0 */
    int has_time; /* 1 if the text carried a time */
};

/* Dates: ISO (2024-03-27, 20240327, with an optional time after T or a
 * space), numeric with '/', '-' or '.' read in o->date_order (MDY when
 * AUTO), two-digit years through the pivot, month names and abbreviations
 * (27 Mar 2024, March 27, 2024, 27-Mar-24, a leading weekday), Excel serial
 * day numbers (1 to 5 digits, fraction = time). Years 1800-2199. The
 * sentinels 0001-01-01, 0000-00-00 and 1899-12-30 mean no date. Returns
 * DS_NORM_PRESENT with *dt, DS_NORM_ABSENT, or DS_EINVAL. */
int ds_norm_parse_date(const struct ds_norm_opts *o, const char *in, size_t len,
                       struct ds_norm_dt *dt, const char **problem);

/* Appends YYYY-MM-DD, and THH:MM:SSZ when hms (hours, minutes, seconds) is
 * given, written digit by digit: the normalizers run once per field of
 * every row, where a printf was a fifth of `preview --all`'s work. */
int ds__norm_put_date(struct ds_buf *out, long y, long m, long d, const int *hms);

/* A time of day: 14:30, 14:30:15(.000), 2:30 PM, 2:30p, 2 PM, 1430, 930.
 * 12 AM is 00 h. DS_NORM_PRESENT, DS_NORM_ABSENT or DS_EINVAL. */
int ds_norm_parse_time(const char *in, size_t len, int *h, int *mi, int *s, const char **problem);

/* The date as YYYY-MM-DD (a time in the text is ignored). */
int ds_norm_date_opt(const struct ds_norm_opts *o, const char *in, size_t len, struct ds_buf *out,
                     const char **problem);
/* A local date and time to the UTC instant YYYY-MM-DDTHH:MM:SSZ with o->tz
 * (see ds_tz_local_to_utc for gaps and overlaps). A date without a time is
 * refused: an instant needs a time. */
int ds_norm_datetime(const struct ds_norm_opts *o, const char *in, size_t len, struct ds_buf *out,
                     const char **problem);
/* A reader's instant: YYYY-MM-DDTHH:MM:SSZ (a calendar's UTC time, kept);
 * a local YYYY-MM-DDTHH:MM:SS or any date-time ds_norm_datetime takes (with
 * o->tz); a date alone (an all-day event) as its local midnight. */
int ds_norm_reader_instant(const struct ds_norm_opts *o, const char *in, size_t len,
                           struct ds_buf *out, const char **problem);
/* Appends the UTC instant of the local dt (has_time ignored: 00:00 then). */
int ds_norm_instant(const struct ds_norm_opts *o, const struct ds_norm_dt *dt, struct ds_buf *out,
                    const char **problem);
/* A time of day as HH:MM:SS. */
int ds_norm_time(const struct ds_norm_opts *o, const char *in, size_t len, struct ds_buf *out,
                 const char **problem);

/* Date-order inference over a column: feed every value, then decide. */
struct ds_date_votes {
    long seen;     /* values that parsed as d/d/y in some order */
    long dmy_only; /* values readable only as DMY (first part above 12) */
    long mdy_only; /* values readable only as MDY (second part above 12) */
};
void ds_norm_date_vote(struct ds_date_votes *v, const char *in, size_t len);
/* DS_DATE_DMY when some values read only as DMY and none only as MDY,
 * DS_DATE_MDY otherwise (also when the column cannot tell). */
enum ds_date_order ds_norm_date_order_infer(const struct ds_date_votes *v);

/* Phone numbers to E.164 with the region's country code for national
 * numbers (US/CA, GB, AU, IE, NZ, DE, FR); 00 / 011 prefixes read as '+';
 * an extension (x12, ext. 12, #12) is kept as ";ext=12". */
int ds_norm_phone_opt(const struct ds_norm_opts *o, const char *in, size_t len, struct ds_buf *out,
                      const char **problem);
/* Names: trimmed, inner white space collapsed; a name written all in upper
 * or all in lower case gets capitals at word starts and after - and ',
 * and Mc (McDonald, O'Brien, Smith-Jones, José); mixed case is kept. */
int ds_norm_name(const struct ds_norm_opts *o, const char *in, size_t len, struct ds_buf *out,
                 const char **problem);
/* Money to integer cents as a decimal number: $1,234.56 -> 123456,
 * (50.00) and 50.00- and -50 -> -5000; decimal comma when configured;
 * at most two decimals (more only if zero); |cents| < 10^13. */
int ds_norm_money(const struct ds_norm_opts *o, const char *in, size_t len, struct ds_buf *out,
                  const char **problem);
/* Parses money into *cents (same rules). */
int ds_norm_parse_money(const struct ds_norm_opts *o, const char *in, size_t len, int64_t *cents,
                        const char **problem);

/* Splits a person's name written "Last, First [Middle]" (comma) or
 * "First [Middle] Last" into its parts, each normalized with ds_norm_name
 * into last, first (bufs). DS_EINVAL when a part is missing. */
int ds_norm_split_name(const char *in, size_t len, int last_first, struct ds_buf *last,
                       struct ds_buf *first, const char **problem);

/* The form a header name or alias is compared in: ASCII lower case without
 * spaces, tabs, '_' and '-'. Writes at most size - 1 bytes and a NUL into
 * out; returns the full length the key would need (like snprintf). */
size_t ds_norm_header(const char *in, size_t len, char *out, size_t size);

/* Appends in[0..len) folded for use in a match key: lower case for ASCII
 * and for the Latin-1 letters U+00C0-U+00DE (but U+00D7); every other byte
 * as it is. This is part of the key definition: changing it changes keys. */
int ds_norm_fold(const char *in, size_t len, struct ds_buf *out);

/* 1 if p[0..n) is well-formed UTF-8 without NUL bytes, else 0. */
int ds_norm_utf8_valid(const char *p, size_t n);

#endif
