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

enum {
    DS_NORM_ABSENT = 0,  /* no value */
    DS_NORM_PRESENT = 1, /* a canonical value was appended */
};

/* A normalizer, as described above. in need not be NUL-terminated. */
typedef int (*ds_norm_fn)(const char *in, size_t len, struct ds_buf *out, const char **problem);

/* The normalizer for a template transform name ("text", "date", "email",
 * "phone", "gender", "status", "upper", "lower"), or NULL if unknown. */
ds_norm_fn ds_norm_lookup(const char *transform);

/* Trims ASCII white space and U+00A0 (no-break space) at both ends. */
void ds_norm_trim(const char **p, size_t *len);

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
