/*
 * map_int.h — what the files of the mapper share (map.h has the contract).
 *
 *   map.c           the mapper object: ds_map_new, the options, the row loop
 *                   (ds_map_row), routing, ds_map_free
 *   map_bind.c      binding a template to a header: columns, value maps,
 *                   patterns, row rules, the record's field order
 *   map_field.c     the per-field pipeline on a row: cell, pick, combined
 *                   instant, value map, default, transform, multiplier,
 *                   validation; and the row rules' test
 *   map_identity.c  a row's key: the key fields and their precedence
 *   map_json.c      raw_json and record_json, written without a tree
 *   map_dates.c     date-order voting (ds_map_date_*)
 *   map_synonym.c   after the template: the canonical fields it left
 *                   unbound, bound from the remaining columns by synonym
 *
 * Nothing here is seen outside agent/map/map*.c.
 */
#ifndef DS_MAP_MAP_INT_H
#define DS_MAP_MAP_INT_H

#include "agent/core/buf.h"
#include "agent/map/map.h"
#include "agent/os/os_text.h"

#include <stddef.h>

struct json_t;

#define MAP_VALUE_MAX (2 * (size_t)DS_READ_MAX_FIELD) /* a normalized value */
#define MAP_HASH_INPUT_MAX (4 * (size_t)DS_READ_MAX_FIELD)
#define MAP_OWN_MAX 4 /* fields in a record's own identity (map_identity.c) */
/* The record or the raw row as JSON: every field escaped (at most 6 bytes a
 * byte) with its name. */
#define MAP_JSON_MAX ((size_t)DS_READ_MAX_FIELDS * (6 * MAP_VALUE_MAX + 400))

enum field_state {
    FIELD_ABSENT = 0, /* no value */
    FIELD_OK = 1,     /* a normalized value in the record */
    FIELD_BAD = 2,    /* a value that failed its transform */
};

/* The fields the key rules look at. */
enum key_field {
    K_EXTERNAL_ID,
    K_LAST_NAME,
    K_FIRST_NAME,
    K_DATE_OF_BIRTH,
    K_EMAIL,
    K_PHONE_MOBILE,
    K_PHONE_HOME,
    K_PHONE_WORK,
    K_COUNT,
};

struct map_field {
    char *name;                /* owned: canonical name */
    ds_norm_opt_fn fn;         /* its normalizer */
    int required;              /* a row without it is invalid */
    long col;                  /* header column, -1 when the file has none */
    long tcol, hcol, mcol;     /* time, hour, minute columns of a combined instant, or -1 */
    int combined;              /* 1: an instant from date + time or date + hour + minute */
    int split;                 /* 0, 1 "last_first", 2 "first_last" */
    int part_first;            /* with split: 1 the first name, 0 the last */
    char **map_keys;           /* owned: value map keys in header form, NULL-ended */
    const char *const *map_to; /* borrow (template): what they stand for */
    const char *defval;        /* borrow: default, or NULL */
    long multiply;             /* 1, or the slot unit */
    struct ds_regex *re;       /* owned: pattern, or NULL */
    const char *const *enumv;  /* borrow: accepted values, or NULL */
    int has_min, has_max;
    double min, max;
    struct json_t *seen;  /* owned: values seen, when unique */
    int integer;          /* a JSON integer on the wire */
    int pick;             /* PICK_*: where a row's value comes from */
    struct ds_regex *xre; /* owned: extract, the value is what its group matched; or NULL */
    const char *join;     /* borrow (template): with PICK_JOIN, what goes between values */
    long *cols;           /* owned, with a pick: every listed column the header has, -1 ended */
    int dated;            /* a date, a local date-time or a combined instant: its column votes */
    struct ds_date_votes votes; /* the column's d/d/y values (ds_map_date_vote) */
    enum ds_date_order order;   /* decided for the column (auto), or 0: the mapper's */
    char hint[160];             /* after a failed date: which order the column reads in */
    int rule;                   /* its index in the rule book's fields (proto/rules.h), or -1 */
    int rule_sure;              /* 1: a text field, or its transform only makes values of
                                   its rule's kind (a date, an address): check_rules
                                   tests their length only */
    char *jkey;                 /* owned: "<name>": as written in the record */
    size_t jkeylen;
    int by; /* DS_MAP_BY_*: how its column was found */
};

/* A canonical field the synonyms could not bind: two columns name it. */
struct map_ambig {
    const char *field; /* borrow (static canon) */
    long col[2];       /* two of its columns */
};

enum {
    PICK_HEADER = 0,      /* the first listed column the header has */
    PICK_VALUE = 1,       /* per row: the first of them with a value */
    PICK_NONZERO = 2,     /* per row: the first holding an amount other than 0 */
    PICK_NONZERO_COL = 3, /* ... and the field takes that column's header name */
    PICK_JOIN = 4         /* per row: every one of them with a value, joined */
};

struct map_rule {
    const struct ds_template_rule *r; /* borrow (template) */
    long col;                         /* the column tested, -1 if the file has none */
    char **values;                    /* owned: values in header form, NULL-ended */
};

struct ds_rules_type;

#define MAP_VOTERS 16 /* dated fields ds_map_date_vote keeps a list of */

struct ds_mapper {
    const char *import_type;   /* borrow (static canon): patients, ... */
    int patients;              /* 1 for patients (its own key rules) */
    struct ds_norm_opts opts;  /* practice options, dialect applied */
    size_t nrules;             /* row rules */
    struct map_rule *rules;    /* owned */
    struct ds_buf part;        /* scratch: the other part of a split name */
    size_t nfields;            /* template fields */
    struct map_field *fields;  /* owned: nfields entries */
    enum field_state *state;   /* owned: per field, for the current row */
    long keyidx[K_COUNT];      /* index in fields of each key field, -1 if unmapped */
    size_t nheader;            /* header columns */
    char **header;             /* owned: header names, for raw_json */
    struct ds_buf value;       /* scratch: one normalized value */
    struct ds_buf hash;        /* scratch: a key's hash input */
    long pidx;                 /* index of patient_external_id, -1 if unmapped */
    long aidx;                 /* index of appointment_external_id, -1 if unmapped */
    const char *dialect_order; /* borrow (template): MDY/DMY/YMD, or NULL */
    int dialect_comma;         /* the template says decimal comma */
    int no_routes;             /* 1: route rules are not tested (ds_map_set_routing) */
    int auto_order;            /* 1: neither the template nor the practice fixes date_order */
    char problem[224];         /* scratch: a problem with its date-order hint */
    const char *const *own;    /* borrow (static): a record's own key fields, by name */
    long ownidx[MAP_OWN_MAX];  /* their indices in fields, -1 if unmapped */
    size_t *order;             /* owned: field indices, sorted by name (the record's order) */
    struct ds_buf vals;        /* scratch: the row's values, each NUL-terminated */
    size_t *voff;              /* owned: per field, its value's offset in vals ... */
    size_t *vlen;              /* ... and length, while its state is FIELD_OK */
    struct ds_buf json;        /* scratch: the record or the raw row being written */
    struct ds_buf jvals;       /* scratch: the record's values (DS_MAP_RECORD_VALUES) */
    char **rawkey;             /* owned: per header column, its "<name>": in raw_json */
    size_t *rawkeylen;
    char *rawkeep;             /* owned: per header column, 1 when a field or rule reads it */
    int raw_fast;              /* 1: raw_json is written from rawkey (no name clash possible) */
    int no_raw;                /* 1: raw_json is left NULL (ds_map_set_outputs) */
    int raw_values;            /* 1: raw_json is the array of the kept values
                                  (DS_MAP_RAW_VALUES on a raw_fast mapper) */
    int record_values;         /* 1: record_json is the array of every field's value
                                  in the record's order, null when absent */
    int no_record;             /* 1: record_json and fingerprint are left out */
    size_t voters[MAP_VOTERS]; /* the dated fields with a column (ds_map_date_vote) ... */
    size_t nvoters;            /* ... how many; more than MAP_VOTERS: every field is looked at */
    int vote_kinds;            /* 1: a DD/MM-only vote was cast, 2: an MM/DD-only one */
    struct ds_sha256 *sha;     /* owned: keys and fingerprints, reset by each digest; made at
                                  the first digest (ds__map_sha) */
    const struct ds_rules_type *rtype; /* borrow (static): the import type's rules, or NULL */
    size_t ntemplate;                  /* fields[0..ntemplate) are the template's */
    struct map_ambig *ambig;           /* owned: fields left unbound as ambiguous */
    size_t nambig;
    char *location; /* owned: the folder's fixed location (ds_map_set_location), or NULL */

    ds_map_key_fn key_hook; /* ds_map_set_key_hook, or NULL */
    void *key_ctx;
};

/* The digest of keys and fingerprints, made at its first use: the crypto
 * library's start-up costs as much as mapping a few thousand rows, and a
 * preview without a queue, whose rows have external ids, never digests.
 * 0 or DS_ENOMEM (map.c). */
int ds__map_sha(struct ds_mapper *m);

/* Binding (map_bind.c). */

/* A NUL-terminated copy of s[0..n), allocated. NULL on DS_ENOMEM. */
char *ds__map_dup_n(const char *s, size_t n);

/* Frees a NULL-ended list of strings and the list; sets *l to NULL. */
void ds__map_free_list(char ***l);

/* Copies the header's names into m->header and their ds_norm_header forms
 * into hkeys (nheader entries, each owned by the caller). DS_ENOMEM. */
int ds__map_bind_header(struct ds_mapper *m, const struct ds_row *header, char **hkeys);

/* Binds template field tf to m->fields[i]: its columns among hkeys, its
 * normalizer, value map, pattern and checks. DS_EINVAL with err->field, or
 * DS_ENOMEM; err is set either way. */
int ds__map_bind_field(struct ds_mapper *m, size_t i, const struct ds_template_field *tf,
                       char *const *hkeys, struct ds_error *err);

/* The checks of a bound field that need its final columns: a required
 * field without column or default, an instant without its time. DS_EINVAL
 * with err set. */
int ds__map_check_field(const struct ds_mapper *m, size_t i, struct ds_error *err);

/* Binds every canonical field the template left unbound from the header
 * columns no field or rule reads, by synonym (agent/map/synonyms.h):
 * appends a field for one the template lacks, sets the column of a
 * template field that found none. A field two columns name is left
 * unbound and noted in m->ambig. m->fields has room for every canonical
 * field. DS_ENOMEM with err set. */
int ds__map_bind_synonyms(struct ds_mapper *m, char *const *hkeys, struct ds_error *err);

/* Binds the template's row rules to the header. DS_ENOMEM, with err set. */
int ds__map_bind_rules(struct ds_mapper *m, const struct ds_template *t, char *const *hkeys,
                       struct ds_error *err);

/* Computes m->order once the fields are bound. DS_EINVAL with err set. */
int ds__map_record_order(struct ds_mapper *m, struct ds_error *err);

/* The per-field pipeline (map_field.c). */

/* 1 if a row rule matches the row. */
int ds__map_rule_matches(const struct ds_mapper *m, const struct map_rule *r,
                         const struct ds_row *row);

/* Runs field f on the row into m->value: DS_NORM_PRESENT, _ABSENT,
 * DS_EINVAL with *problem, or a negative error. */
int ds__map_field_value(struct ds_mapper *m, struct map_field *f, const struct ds_row *row,
                        const char **problem);

/* The validation rules on a normalized value. 0 or DS_EINVAL with
 * *problem; DS_ENOMEM. */
int ds__map_field_validate(struct map_field *f, const char *v, const char **problem);

/* Identity (map_identity.c). */

/* Sets the key field indices to unmapped and picks the own identity
 * fields of m->import_type. */
void ds__map_identity_init(struct ds_mapper *m);

/* Notes field i (bound, with its name) when a key rule looks at it. */
void ds__map_identity_bind(struct ds_mapper *m, size_t i);

/* Computes out->key from the fields of the row in m->vals (0 or
 * DS_ENOMEM; the key stays "" when it cannot be told); *none is set when
 * no rule applies at all. */
int ds__map_key(struct ds_mapper *m, struct ds_mapped *out, int *none);

/* 1 if s is 1-64 printable ASCII characters: a valid external id. */
int ds__map_ext_id_valid(const char *s, size_t n);

/* JSON output (map_json.c). */

/* "<s>": escaped as a JSON object key, allocated (*len its length). NULL on
 * DS_ENOMEM, or when s is not valid UTF-8. */
char *ds__map_json_key(const char *s, size_t *len);

/* Chooses raw_json's column names once per file (m->rawkey, m->raw_fast).
 * DS_ENOMEM. */
int ds__map_raw_names(struct ds_mapper *m);

/* Marks the header columns the template reads (m->rawkeep): a field's
 * column or any column it may pick from, a rule's column. Only those go
 * into raw_json. Called once the fields and rules are bound. DS_ENOMEM. */
int ds__map_raw_keep(struct ds_mapper *m);

/* The raw row as {"<header>":"<value>",...} of the columns the template
 * reads, into *out (new), unless m->no_raw. DS_ENOMEM. */
int ds__map_put_raw(struct ds_mapper *m, const struct ds_row *row, char **out);

/* The raw columns of a row the reader cut at a cap, unless m->no_raw. */
int ds__map_put_cut_raw(const struct ds_mapper *m, const struct ds_row *row, char **out);

/* out->record_json (new) and out->fingerprint from the row's OK fields. */
int ds__map_put_record(struct ds_mapper *m, struct ds_mapped *out);

#endif
