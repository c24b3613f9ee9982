/*
 * rules.h — the rule book of canonical records (docs/protocol.md, "Records"):
 * per import type, the fields a record may carry, the shape of each value
 * (dates, instants, e-mail, E.164 phones, code lists, integer ranges, CDT
 * codes, lengths), the fields it requires and the rules that span fields
 * (something to match a patient on, a patient reference, an appointment's
 * end). Written once here: the cloud rejects what breaks a rule and the
 * agent's validation (map.c) marks the same rows invalid, so a row the agent
 * calls valid is one the cloud accepts.
 *
 * Plain C and libc only, as proto.h. Problems are written as short English
 * that names no value ("not a date (YYYY-MM-DD)"); callers prefix the field.
 */
#ifndef DS_RULES_H
#define DS_RULES_H

#include <stddef.h>

enum ds_rules_kind {
    DS_RULES_TEXT,
    DS_RULES_DATE,    /* a calendar date YYYY-MM-DD, year >= 1800 */
    DS_RULES_INSTANT, /* UTC YYYY-MM-DDTHH:MM:SSZ */
    DS_RULES_EMAIL,
    DS_RULES_PHONE, /* E.164 */
    DS_RULES_ENUM,  /* one of values */
    DS_RULES_INT,   /* a JSON integer from min to maxv */
    DS_RULES_CDT,   /* D and four digits */
};

struct ds_rules_field {
    const char *name;          /* canonical field name */
    enum ds_rules_kind kind;   /* what its value must look like */
    size_t max;                /* most bytes of a string */
    const char *const *values; /* DS_RULES_ENUM: the canonical values, NULL-terminated */
    long long min;             /* DS_RULES_INT: the range */
    long long maxv;
};

struct ds_rules_type {
    const char *name;                    /* the import type */
    const struct ds_rules_field *fields; /* ends with a NULL name */
    const char *const *required;         /* NULL-terminated */
};

/* The import types, in the order of the cloud's enum dsc_record_type. */
#define DS_RULES_NTYPES 4
extern const struct ds_rules_type ds_rules_types[DS_RULES_NTYPES];

/* Fields of one record, at most (the cloud's and the agent's arrays). */
#define DS_RULES_MAX_FIELDS 32

/* borrow: the rules of import_type, or NULL when there is no such type. */
const struct ds_rules_type *ds_rules_type(const char *import_type);

/* The index of field name in t->fields, or -1. */
int ds_rules_field_index(const struct ds_rules_type *t, const char *name);

/* Checks a non-empty string value of f (n bytes). Returns 0, or -1 with the
 * problem written into msg ("not a date (YYYY-MM-DD)"). */
int ds_rules_check_text(const struct ds_rules_field *f, const char *s, size_t n, char *msg,
                        size_t msg_size);

/* Checks an integer value of f as ds_rules_check_text does. */
int ds_rules_check_int(const struct ds_rules_field *f, long long v, char *msg, size_t msg_size);

/* The rules that span fields. v[i] is the value of t->fields[i] (any
 * non-NULL text for an integer), NULL when absent or empty; every present
 * value already passed its own check. Returns 0, or -1 with *field set to
 * the field it names ("record" for a rule of the whole record) and the
 * problem in msg. */
int ds_rules_check_record(const struct ds_rules_type *t, const char *const *v, const char **field,
                          char *msg, size_t msg_size);

/* The code of a problem: what kind of mistake a field holds, for a person
 * to sort and count by and for the agent and the cloud to spell alike
 * (docs/protocol.md, "All errors of a record"). problem is a message of
 * this rule book or of the agent's normalizers, with or without its
 * "<field>: " prefix; a reader's cap ("FIELD_TOO_LONG: ...") keeps its own
 * code. Always one of: REQUIRED, UNKNOWN_VALUE, NO_MATCH_KEY, BAD_DATE,
 * BAD_EMAIL, BAD_PHONE, BAD_CODE, TOO_LONG, BAD_NUMBER, NOT_UNIQUE,
 * UNKNOWN_FIELD, FIELD_TOO_LONG, TOO_MANY_COLUMNS, ROW_TOO_LARGE,
 * INVALID_VALUE. borrow (static). */
const char *ds_rules_problem_code(const char *problem);

#endif
