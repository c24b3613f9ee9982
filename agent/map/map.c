/*
 * map.c — from an export row to a canonical patient record, its key and its
 * fingerprint (map.h has the contract).
 *
 * ds_map_new binds the template to the header once: each canonical field
 * gets the first of its aliases that names a header column, compared in the
 * ds_norm_header form (case, spaces, '_' and '-' ignored). ds_map_row then
 * only indexes into the row.
 *
 * A row is processed completely even after a field fails, so the first
 * problem (in canonical field order) is reported and the key can still be
 * computed when the fields it depends on are sound. The key follows a fixed
 * precedence; a field that was present but invalid stops the walk (the key
 * would otherwise jump to a weaker rule and look like another patient):
 *
 *   external_id                      -> "ext:<external_id>"
 *   last_name + first_name + dob     -> "h:" sha256("patients" US "name_dob" US
 *                                        fold(last) US fold(first) US dob)
 *   email                            -> "h:" sha256("patients" US "email" US email)
 *   phone_mobile, _home, _work       -> "h:" sha256("patients" US "phone" US e164)
 *
 * (US is the unit separator 0x1f, fold() is ds_norm_fold.) These strings are
 * part of the wire identity of a row: changing them re-keys every patient.
 *
 * The other import types key on external_id, else on their patient
 * reference and own identity fields (map.h); a row with neither is invalid.
 *
 * Per field, in this order: the column's text (or, for a combined instant,
 * date + time or date + hour + minute columns; for a split name, its part),
 * the template's value map (compared like header names), the default when
 * the value is absent, the transform, the multiplier (slot units), then the
 * validation rules (pattern, enum, range, unique within the file). Row
 * rules (skip, route) are tested before any field.
 *
 * The record is a JSON object of the present fields only, serialized
 * compact with sorted keys; its sha256 is the fingerprint. Messages name a
 * field and a fixed problem, never a value.
 *
 * Speed: a row builds no JSON tree. The values are kept in one scratch
 * buffer (vals); the record and the raw row are written straight into
 * another (json) by agent/core/jsonw.h, byte for byte as jansson's dump
 * wrote them, with the field order and every escaped name computed once
 * per file; one SHA-256 context serves every key and fingerprint.
 */
#include "agent/map/map.h"

#include "agent/core/buf.h"
#include "agent/core/jsonw.h"
#include "agent/map/canon.h"
#include "agent/map/normalize.h"

#include <jansson.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAP_VALUE_MAX (2 * (size_t)DS_READ_MAX_FIELD) /* a normalized value */
#define MAP_EXT_ID_MAX 64                             /* characters in an external id */
#define MAP_HASH_INPUT_MAX (4 * (size_t)DS_READ_MAX_FIELD)
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

/* For the other import types the same slots hold the patient reference:
 * external_id stays the record's own id. */
static const char *const ref_names[K_COUNT] = {
    "external_id",
    "patient_last_name",
    "patient_first_name",
    "patient_date_of_birth",
    "patient_email",
    "patient_phone",
    NULL,
    NULL,
};

/* The fields of the record's own identity in the keys of the other import
 * types (map.h), at most four. */
static const char *const own_appt[] = {"start_at", NULL};
static const char *const own_tx[] = {"procedure_code", "tooth", "surface", "service_date", NULL};
static const char *const own_fin[] = {"date", "amount_cents", "kind", "reference", NULL};

static const char *const key_names[K_COUNT] = {
    "external_id", "last_name",    "first_name", "date_of_birth",
    "email",       "phone_mobile", "phone_home", "phone_work",
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
    regex_t re;                /* pattern, when has_re */
    int has_re;
    const char *const *enumv; /* borrow: accepted values, or NULL */
    int has_min, has_max;
    double min, max;
    json_t *seen; /* owned: values seen, when unique */
    int integer;  /* a JSON integer on the wire */
    int pick;     /* PICK_*: where a row's value comes from */
    long *cols;   /* owned, with a pick: every listed column the header has, -1 ended */
    int dated;    /* a date, a local date-time or a combined instant: its column votes */
    struct ds_date_votes votes; /* the column's d/d/y values (ds_map_date_vote) */
    enum ds_date_order order;   /* decided for the column (auto), or 0: the mapper's */
    char hint[160];             /* after a failed date: which order the column reads in */
    char *jkey;   /* owned: "<name>": as written in the record */
    size_t jkeylen;
};

enum {
    PICK_HEADER = 0,     /* the first listed column the header has */
    PICK_VALUE = 1,      /* per row: the first of them with a value */
    PICK_NONZERO = 2,    /* per row: the first holding an amount other than 0 */
    PICK_NONZERO_COL = 3 /* ... and the field takes that column's header name */
};

struct map_rule {
    const struct ds_template_rule *r; /* borrow (template) */
    long col;                         /* the column tested, -1 if the file has none */
    char **values;                    /* owned: values in header form, NULL-ended */
};

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
    long ownidx[4];            /* their indices in fields, -1 if unmapped */
    size_t *order;             /* owned: field indices, sorted by name (the record's order) */
    struct ds_buf vals;        /* scratch: the row's values, each NUL-terminated */
    size_t *voff;              /* owned: per field, its value's offset in vals ... */
    size_t *vlen;              /* ... and length, while its state is FIELD_OK */
    struct ds_buf json;        /* scratch: the record or the raw row being written */
    char **rawkey;             /* owned: per header column, its "<name>": in raw_json */
    size_t *rawkeylen;
    int raw_fast;          /* 1: raw_json is written from rawkey (no name clash possible) */
    int no_raw;            /* 1: raw_json is left NULL (ds_map_set_outputs) */
    int no_record;         /* 1: record_json and fingerprint are left out */
    struct ds_sha256 *sha; /* owned: keys and fingerprints, reset by each digest */
};

/* ------------------------------------------------------------------------ */
/* Binding                                                                  */

static char *dup_n(const char *s, size_t n)
{
    char *p = malloc(n + 1);

    if (p != NULL) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* The ds_norm_header form of s, allocated. NULL on DS_ENOMEM. */
static char *header_key(const char *s, size_t n)
{
    size_t need = ds_norm_header(s, n, NULL, 0);
    char *k = malloc(need + 1);

    if (k != NULL) {
        ds_norm_header(s, n, k, need + 1);
    }
    return k;
}

/* Finds the column of the first alias present in the header. */
static long resolve_column(const char *const *aliases, char *const *hkeys, size_t nh, int *oom)
{
    for (const char *const *a = aliases; *a != NULL; a++) {
        char *k = header_key(*a, strlen(*a));

        if (k == NULL) {
            *oom = 1;
            return -1;
        }
        for (size_t j = 0; j < nh; j++) {
            if (hkeys[j][0] != '\0' && strcmp(hkeys[j], k) == 0) {
                free(k);
                return (long)j;
            }
        }
        free(k);
    }
    return -1;
}

/* Every column of the header one of the aliases names, in alias order,
 * each once, -1 ended. DS_ENOMEM. */
static int resolve_all(const char *const *aliases, char *const *hkeys, size_t nh, long **out)
{
    size_t n = 0;
    long *cols = calloc(nh + 1, sizeof(*cols));

    if (cols == NULL) {
        return DS_ENOMEM;
    }
    for (const char *const *a = aliases; *a != NULL; a++) {
        char *k = header_key(*a, strlen(*a));

        if (k == NULL) {
            free(cols);
            return DS_ENOMEM;
        }
        for (size_t j = 0; j < nh; j++) {
            size_t i = 0;

            while (i < n && cols[i] != (long)j) {
                i++;
            }
            if (i == n && hkeys[j][0] != '\0' && strcmp(hkeys[j], k) == 0) {
                cols[n++] = (long)j;
                break;
            }
        }
        free(k);
    }
    cols[n] = -1;
    *out = cols;
    return 0;
}

/* The header forms of a NULL-ended list (NULL in: NULL out). */
static int fold_list(const char *const *in, char ***out)
{
    size_t n = 0;
    char **l;

    *out = NULL;
    if (in == NULL) {
        return 0;
    }
    while (in[n] != NULL) {
        n++;
    }
    l = calloc(n + 1, sizeof(*l));
    if (l == NULL) {
        return DS_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        l[i] = header_key(in[i], strlen(in[i]));
        if (l[i] == NULL) {
            for (size_t j = 0; j < i; j++) {
                free(l[j]);
            }
            free(l);
            return DS_ENOMEM;
        }
    }
    *out = l;
    return 0;
}

static void free_list(char ***l)
{
    if (*l == NULL) {
        return;
    }
    for (char **p = *l; *p != NULL; p++) {
        free(*p);
    }
    free(*l);
    *l = NULL;
}

void ds_map_set_options(struct ds_mapper *m, const struct ds_norm_opts *o)
{
    if (o != NULL) {
        m->opts = *o;
    }
    if (m->dialect_order != NULL) {
        m->opts.date_order = strcmp(m->dialect_order, "DMY") == 0   ? DS_DATE_DMY
                             : strcmp(m->dialect_order, "YMD") == 0 ? DS_DATE_YMD
                                                                    : DS_DATE_MDY;
    }
    if (m->dialect_comma) {
        m->opts.decimal_comma = 1;
    }
    m->auto_order = m->opts.date_order == DS_DATE_AUTO;
}

void ds_map_set_outputs(struct ds_mapper *m, int outputs)
{
    m->no_raw = (outputs & DS_MAP_RAW) == 0;
    m->no_record = (outputs & DS_MAP_RECORD) == 0;
}

long ds_map_field_column(const struct ds_mapper *m, size_t i)
{
    return i < m->nfields ? m->fields[i].col : -1;
}

/* DS_EINVAL about one template field. */
static int field_fail(struct ds_error *err, const char *field, const char *msg)
{
    if (err != NULL) {
        snprintf(err->field, sizeof(err->field), "%s", field);
    }
    return ds_error_set(err, DS_EINVAL, "%s", msg);
}

/* "<s>": escaped as a JSON object key, allocated (*len its length). NULL on
 * DS_ENOMEM, or when s is not valid UTF-8. */
static char *json_key(const char *s, size_t *len)
{
    struct ds_buf b;

    ds_buf_init(&b, MAP_JSON_MAX);
    if (ds_jsonw_string(&b, s, strlen(s)) != 0 || ds_buf_append(&b, ":", 1) != 0) {
        ds_buf_close(&b);
        return NULL;
    }
    *len = b.len;
    return ds_buf_steal(&b);
}

/* 1 if s is "#" and a number above n: the name an extra column past the
 * header would get. */
static int extra_column_name(const char *s, size_t n)
{
    char *end = NULL;
    unsigned long long v;

    if (s[0] != '#' || s[1] < '0' || s[1] > '9') {
        return 0;
    }
    v = strtoull(s + 1, &end, 10);
    return *end == '\0' && v > n;
}

/*
 * The names of raw_json's columns, chosen once per file as build_raw would
 * choose them row by row: an empty or non-UTF-8 header name becomes "#<n>",
 * a repeated one (or one too long) "<name>#<n>" (n 1-based). Rows are then
 * written from m->rawkey without a tree. When a chosen name still clashes
 * with another (or with the "#<n>" of a column past the header), a later
 * column would overwrite an earlier one in the tree: m->raw_fast stays 0
 * and such files keep going through build_raw.
 */
static int raw_names(struct ds_mapper *m)
{
    char name[320];
    char **names = calloc(m->nheader + 1, sizeof(*names));
    int rc = 0;

    m->rawkey = calloc(m->nheader + 1, sizeof(*m->rawkey));
    m->rawkeylen = calloc(m->nheader + 1, sizeof(*m->rawkeylen));
    if (names == NULL || m->rawkey == NULL || m->rawkeylen == NULL) {
        rc = DS_ENOMEM;
        goto out;
    }
    m->raw_fast = 1;
    for (size_t j = 0; j < m->nheader; j++) {
        const char *h = m->header[j];
        int taken = 0;

        if (h[0] == '\0' || !ds_norm_utf8_valid(h, strlen(h))) {
            snprintf(name, sizeof(name), "#%zu", j + 1);
        }
        else {
            for (size_t k = 0; k < j && !taken; k++) {
                taken = strcmp(names[k], h) == 0;
            }
            if (taken || strlen(h) >= sizeof(name) - 24) {
                snprintf(name, sizeof(name), "%.256s#%zu", h, j + 1);
            }
            else {
                snprintf(name, sizeof(name), "%s", h);
            }
        }
        if (!ds_norm_utf8_valid(name, strlen(name))) {
            snprintf(name, sizeof(name), "#%zu", j + 1);
        }
        for (size_t k = 0; k < j; k++) {
            if (strcmp(names[k], name) == 0) {
                m->raw_fast = 0;
            }
        }
        if (extra_column_name(name, m->nheader)) {
            m->raw_fast = 0;
        }
        names[j] = strdup(name);
        m->rawkey[j] = names[j] != NULL ? json_key(name, &m->rawkeylen[j]) : NULL;
        if (m->rawkey[j] == NULL) {
            rc = DS_ENOMEM;
            goto out;
        }
    }
out:
    if (names != NULL) {
        for (size_t j = 0; j < m->nheader; j++) {
            free(names[j]);
        }
        free(names);
    }
    return rc;
}

/* The record's order: field indices sorted by name, as jansson's
 * JSON_SORT_KEYS sorts them, computed once instead of per row. DS_EINVAL
 * when two fields share a name (a template's fields are a JSON object's
 * keys: they cannot). */
static int record_order(struct ds_mapper *m, struct ds_error *err)
{
    for (size_t i = 0; i < m->nfields; i++) {
        size_t k = i;

        while (k > 0 && strcmp(m->fields[m->order[k - 1]].name, m->fields[i].name) > 0) {
            m->order[k] = m->order[k - 1];
            k--;
        }
        if (k > 0 && strcmp(m->fields[m->order[k - 1]].name, m->fields[i].name) == 0) {
            return field_fail(err, m->fields[i].name, "field named twice");
        }
        m->order[k] = i;
    }
    return 0;
}

int ds_map_new(const struct ds_template *t, const struct ds_row *header, struct ds_mapper **out,
               struct ds_error *err)
{
    struct ds_mapper *m = NULL;
    char **hkeys = NULL;
    size_t nh = header->nfields;
    int oom = 0;
    int rc = 0;

    *out = NULL;
    if (ds_map_canonical_fields(ds_template_import_type(t)) == NULL) {
        rc = ds_error_set(err, DS_EINVAL, "import type not supported by the mapper");
        goto out;
    }
    m = calloc(1, sizeof(*m));
    hkeys = calloc(nh + 1, sizeof(*hkeys));
    if (m == NULL || hkeys == NULL) {
        rc = ds_error_set(err, DS_ENOMEM, "out of memory");
        goto out;
    }
    ds_buf_init(&m->value, MAP_VALUE_MAX);
    ds_buf_init(&m->hash, MAP_HASH_INPUT_MAX);
    ds_buf_init(&m->part, MAP_VALUE_MAX);
    ds_buf_init(&m->json, MAP_JSON_MAX);
    m->import_type = ds_map_canonical_fields(ds_template_import_type(t)) != NULL
                         ? ds_template_import_type(t)
                         : "";
    m->patients = strcmp(m->import_type, "patients") == 0;
    ds_map_set_options(m, NULL);
    m->opts.date_order = DS_DATE_AUTO;
    m->nheader = nh;
    m->header = calloc(nh + 1, sizeof(*m->header));
    m->nfields = ds_template_nfields(t);
    m->fields = calloc(m->nfields + 1, sizeof(*m->fields));
    m->state = calloc(m->nfields + 1, sizeof(*m->state));
    m->order = calloc(m->nfields + 1, sizeof(*m->order));
    m->voff = calloc(m->nfields + 1, sizeof(*m->voff));
    m->vlen = calloc(m->nfields + 1, sizeof(*m->vlen));
    ds_buf_init(&m->vals, (m->nfields + 1) * (MAP_VALUE_MAX + 32));
    m->sha = ds_sha256_new();
    if (m->header == NULL || m->fields == NULL || m->state == NULL || m->order == NULL ||
        m->voff == NULL || m->vlen == NULL || m->sha == NULL) {
        rc = ds_error_set(err, DS_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t j = 0; j < nh; j++) {
        m->header[j] = dup_n(header->fields[j], header->lens[j]);
        hkeys[j] = header_key(header->fields[j], header->lens[j]);
        if (m->header[j] == NULL || hkeys[j] == NULL) {
            rc = ds_error_set(err, DS_ENOMEM, "out of memory");
            goto out;
        }
    }
    rc = raw_names(m);
    if (rc != 0) {
        rc = ds_error_set(err, rc, "out of memory");
        goto out;
    }
    for (int k = 0; k < K_COUNT; k++) {
        m->keyidx[k] = -1;
    }
    m->pidx = -1;
    m->aidx = -1;
    m->own = strcmp(m->import_type, "appointments") == 0 ? own_appt
             : strcmp(m->import_type, "treatments") == 0 ? own_tx
                                                         : own_fin;
    for (size_t k = 0; k < sizeof(m->ownidx) / sizeof(m->ownidx[0]); k++) {
        m->ownidx[k] = -1;
    }
    for (size_t i = 0; i < m->nfields; i++) {
        const struct ds_template_field *tf = ds_template_field(t, i);
        struct map_field *f = &m->fields[i];

        f->name = strdup(tf->name);
        f->fn = ds_norm_lookup_opt(tf->transform);
        f->required = tf->required;
        f->integer = ds_map_field_is_integer(tf->name);
        f->tcol = f->hcol = f->mcol = -1;
        f->jkey = f->name != NULL ? json_key(f->name, &f->jkeylen) : NULL;
        if (f->name == NULL || f->jkey == NULL) {
            rc = ds_error_set(err, DS_ENOMEM, "out of memory");
            goto out;
        }
        if (f->fn == NULL) {
            rc = field_fail(err, tf->name, "unknown transform");
            goto out;
        }
        f->col = resolve_column(tf->columns, hkeys, nh, &oom);
        if (tf->time_columns != NULL) {
            f->tcol = resolve_column(tf->time_columns, hkeys, nh, &oom);
        }
        if (tf->hour_columns != NULL) {
            f->hcol = resolve_column(tf->hour_columns, hkeys, nh, &oom);
        }
        if (tf->minute_columns != NULL) {
            f->mcol = resolve_column(tf->minute_columns, hkeys, nh, &oom);
        }
        if (oom) {
            rc = ds_error_set(err, DS_ENOMEM, "out of memory");
            goto out;
        }
        if (tf->pick != NULL && strcmp(tf->pick, "header") != 0) {
            f->pick = strcmp(tf->pick, "value") == 0     ? PICK_VALUE
                      : strcmp(tf->pick, "nonzero") == 0 ? PICK_NONZERO
                                                         : PICK_NONZERO_COL;
            if (resolve_all(tf->columns, hkeys, nh, &f->cols) != 0) {
                rc = ds_error_set(err, DS_ENOMEM, "out of memory");
                goto out;
            }
        }
        f->combined = tf->time_columns != NULL || tf->hour_columns != NULL;
        f->dated = f->combined || f->fn == ds_norm_lookup_opt("date") ||
                   f->fn == ds_norm_lookup_opt("datetime");
        if (f->col < 0 && f->required && tf->default_value == NULL) {
            rc = field_fail(err, tf->name, "required field has no column in the header");
            goto out;
        }
        if (f->combined && f->col >= 0 && f->tcol < 0 && f->hcol < 0 && f->required) {
            rc = field_fail(err, tf->name, "the time column of this instant is missing");
            goto out;
        }
        if (tf->split != NULL) {
            f->split = strcmp(tf->split, "last_first") == 0 ? 1 : 2;
            f->part_first = tf->part != NULL && strcmp(tf->part, "first") == 0;
        }
        rc = fold_list(tf->map_from, &f->map_keys);
        if (rc != 0) {
            rc = ds_error_set(err, rc, "out of memory");
            goto out;
        }
        f->map_to = tf->map_to;
        f->defval = tf->default_value;
        f->multiply = tf->multiply > 0 ? tf->multiply : 1;
        if (tf->pattern != NULL) {
            if (regcomp(&f->re, tf->pattern, REG_EXTENDED | REG_NOSUB) != 0) {
                rc = field_fail(err, tf->name, "pattern is not a valid regular expression");
                goto out;
            }
            f->has_re = 1;
        }
        f->enumv = tf->enum_values;
        f->has_min = tf->has_min;
        f->has_max = tf->has_max;
        f->min = tf->min;
        f->max = tf->max;
        if (tf->unique) {
            f->seen = json_object();
            if (f->seen == NULL) {
                rc = ds_error_set(err, DS_ENOMEM, "out of memory");
                goto out;
            }
        }
        for (int k = 0; k < K_COUNT; k++) {
            const char *kn = m->patients ? key_names[k] : ref_names[k];

            if (kn != NULL && strcmp(f->name, kn) == 0) {
                m->keyidx[k] = (long)i;
            }
        }
        if (strcmp(f->name, "patient_external_id") == 0) {
            m->pidx = (long)i;
        }
        if (strcmp(f->name, "appointment_external_id") == 0) {
            m->aidx = (long)i;
        }
        for (size_t k = 0; m->own[k] != NULL; k++) {
            if (strcmp(f->name, m->own[k]) == 0) {
                m->ownidx[k] = (long)i;
            }
        }
    }
    rc = record_order(m, err);
    if (rc != 0) {
        goto out;
    }
    m->nrules = ds_template_nrules(t);
    m->rules = calloc(m->nrules + 1, sizeof(*m->rules));
    if (m->rules == NULL) {
        rc = ds_error_set(err, DS_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < m->nrules; i++) {
        m->rules[i].r = ds_template_rule(t, i);
        m->rules[i].col = resolve_column(m->rules[i].r->columns, hkeys, nh, &oom);
        rc = fold_list(m->rules[i].r->values, &m->rules[i].values);
        if (rc != 0 || oom) {
            rc = ds_error_set(err, DS_ENOMEM, "out of memory");
            goto out;
        }
    }
    {
        const struct ds_template_dialect *d = ds_template_dialect(t);

        m->dialect_order = d->date_order;
        m->dialect_comma = d->decimal_comma;
        ds_map_set_options(m, NULL);
    }
    *out = m;
    m = NULL;
out:
    if (hkeys != NULL) {
        for (size_t j = 0; j < nh; j++) {
            free(hkeys[j]);
        }
        free(hkeys);
    }
    ds_map_free(&m);
    return rc;
}

void ds_map_free(struct ds_mapper **m)
{
    if (m == NULL || *m == NULL) {
        return;
    }
    if ((*m)->fields != NULL) {
        for (size_t i = 0; i < (*m)->nfields; i++) {
            free((*m)->fields[i].name);
            free_list(&(*m)->fields[i].map_keys);
            if ((*m)->fields[i].has_re) {
                regfree(&(*m)->fields[i].re);
            }
            json_decref((*m)->fields[i].seen);
            free((*m)->fields[i].cols);
            free((*m)->fields[i].jkey);
        }
    }
    if ((*m)->rules != NULL) {
        for (size_t i = 0; i < (*m)->nrules; i++) {
            free_list(&(*m)->rules[i].values);
        }
    }
    free((*m)->rules);
    ds_buf_close(&(*m)->part);
    if ((*m)->header != NULL) {
        for (size_t j = 0; j < (*m)->nheader; j++) {
            free((*m)->header[j]);
        }
    }
    if ((*m)->rawkey != NULL) {
        for (size_t j = 0; j < (*m)->nheader; j++) {
            free((*m)->rawkey[j]);
        }
    }
    free((*m)->rawkey);
    free((*m)->rawkeylen);
    free((*m)->fields);
    free((*m)->state);
    free((*m)->order);
    free((*m)->voff);
    free((*m)->vlen);
    ds_buf_close(&(*m)->vals);
    ds_buf_close(&(*m)->json);
    ds_sha256_free(&(*m)->sha);
    free((*m)->header);
    ds_buf_close(&(*m)->value);
    ds_buf_close(&(*m)->hash);
    free(*m);
    *m = NULL;
}

void ds_mapped_close(struct ds_mapped *out)
{
    if (out == NULL) {
        return;
    }
    free(out->record_json);
    free(out->raw_json);
    memset(out, 0, sizeof(*out));
}

/* ------------------------------------------------------------------------ */
/* One row                                                                  */

/* Marks the row invalid with "<field>: <problem>" unless it already is. */
static void set_invalid(struct ds_mapped *out, const char *field, const char *problem)
{
    if (!out->valid) {
        return;
    }
    out->valid = 0;
    snprintf(out->error, sizeof(out->error), "%s: %s", field, problem);
    snprintf(out->error_field, sizeof(out->error_field), "%s", field);
}

/* Serializes j compact with sorted keys into a malloc'd string. */
static char *dump(const json_t *j, size_t flags)
{
    size_t n = json_dumpb(j, NULL, 0, flags);
    char *s;

    if (n == 0) {
        return NULL;
    }
    s = malloc(n + 1);
    if (s == NULL) {
        return NULL;
    }
    if (json_dumpb(j, s, n, flags) != n) {
        free(s);
        return NULL;
    }
    s[n] = '\0';
    return s;
}

/* The value of field i in the record, or NULL when it has none. */
static const char *field_text(const struct ds_mapper *m, long i)
{
    if (i < 0 || m->state[i] != FIELD_OK) {
        return NULL;
    }
    return m->vals.data + m->voff[i];
}

/* The value of key field k in the record, or NULL. */
static const char *key_value(const struct ds_mapper *m, int k)
{
    return field_text(m, m->keyidx[k]);
}

static enum field_state key_state(const struct ds_mapper *m, int k)
{
    return m->keyidx[k] < 0 ? FIELD_ABSENT : m->state[m->keyidx[k]];
}

/* A part of a key's hash input. */
struct key_part {
    const char *text; /* the value, or a fixed word */
    int fold;         /* pass it through ds_norm_fold */
};

/* Joins the parts with 0x1f and writes "h:<sha256 hex>" into key. */
static int hash_key(struct ds_mapper *m, char key[DS_MAP_KEY_MAX], const struct key_part *parts,
                    size_t nparts)
{
    char hex[DS_SHA256_HEX];
    int rc = 0;

    ds_buf_reset(&m->hash);
    for (size_t i = 0; i < nparts && rc == 0; i++) {
        if (i > 0) {
            rc = ds_buf_append(&m->hash, "\x1f", 1);
        }
        if (rc == 0) {
            rc = parts[i].fold ? ds_norm_fold(parts[i].text, strlen(parts[i].text), &m->hash)
                               : ds_buf_append_str(&m->hash, parts[i].text);
        }
    }
    if (rc != 0) {
        return rc;
    }
    ds_sha256_update(m->sha, m->hash.data, m->hash.len);
    ds_sha256_final(m->sha, hex);
    snprintf(key, DS_MAP_KEY_MAX, "h:%s", hex);
    return 0;
}

/* Computes out->key by the precedence in the file comment. Returns 0 (key
 * may stay "" when it cannot be told) or DS_ENOMEM; *none is set when no
 * rule applies at all. */
static int compute_key(struct ds_mapper *m, struct ds_mapped *out, int *none)
{
    static const int phones[] = {K_PHONE_MOBILE, K_PHONE_HOME, K_PHONE_WORK};
    enum field_state ln = key_state(m, K_LAST_NAME);
    enum field_state fn = key_state(m, K_FIRST_NAME);
    enum field_state dob = key_state(m, K_DATE_OF_BIRTH);

    *none = 0;
    switch (key_state(m, K_EXTERNAL_ID)) {
    case FIELD_OK:
        snprintf(out->key, sizeof(out->key), "ext:%s", key_value(m, K_EXTERNAL_ID));
        return 0;
    case FIELD_BAD:
        return 0;
    case FIELD_ABSENT:
        break;
    }
    if (ln == FIELD_BAD || fn == FIELD_BAD || dob == FIELD_BAD) {
        return 0;
    }
    if (ln == FIELD_OK && fn == FIELD_OK && dob == FIELD_OK) {
        const struct key_part parts[] = {
            {"patients", 0},
            {"name_dob", 0},
            {key_value(m, K_LAST_NAME), 1},
            {key_value(m, K_FIRST_NAME), 1},
            {key_value(m, K_DATE_OF_BIRTH), 0},
        };

        return hash_key(m, out->key, parts, 5);
    }
    switch (key_state(m, K_EMAIL)) {
    case FIELD_OK: {
        const struct key_part parts[] = {
            {"patients", 0},
            {"email", 0},
            {key_value(m, K_EMAIL), 0},
        };

        return hash_key(m, out->key, parts, 3);
    }
    case FIELD_BAD:
        return 0;
    case FIELD_ABSENT:
        break;
    }
    for (size_t i = 0; i < sizeof(phones) / sizeof(phones[0]); i++) {
        switch (key_state(m, phones[i])) {
        case FIELD_OK: {
            const struct key_part parts[] = {
                {"patients", 0},
                {"phone", 0},
                {key_value(m, phones[i]), 0},
            };

            return hash_key(m, out->key, parts, 3);
        }
        case FIELD_BAD:
            return 0;
        case FIELD_ABSENT:
            break;
        }
    }
    *none = 1;
    return 0;
}

/* 1 if s is 1-64 printable ASCII characters. */
static int ext_id_valid(const char *s, size_t n)
{
    if (n == 0 || n > MAP_EXT_ID_MAX) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x20 || s[i] > 0x7e) {
            return 0;
        }
    }
    return 1;
}

/* Builds {"<header>":"<value>",...} in column order. Extra columns and
 * columns with an empty or repeated name are keyed "#<n>" / "<name>#<n>"
 * (n 1-based), so no value is lost or overwritten. */
static int build_raw(const struct ds_mapper *m, const struct ds_row *row, char **out)
{
    json_t *raw = json_object();
    char name[320];
    int rc = 0;

    if (raw == NULL) {
        return DS_ENOMEM;
    }
    for (size_t j = 0; j < row->nfields; j++) {
        const char *h = j < m->nheader ? m->header[j] : "";
        json_t *v;

        if (h[0] == '\0' || !ds_norm_utf8_valid(h, strlen(h))) {
            snprintf(name, sizeof(name), "#%zu", j + 1);
        }
        else if (json_object_get(raw, h) != NULL || strlen(h) >= sizeof(name) - 24) {
            snprintf(name, sizeof(name), "%.256s#%zu", h, j + 1);
        }
        else {
            snprintf(name, sizeof(name), "%s", h);
        }
        if (!ds_norm_utf8_valid(name, strlen(name))) {
            snprintf(name, sizeof(name), "#%zu", j + 1);
        }
        v = ds_norm_utf8_valid(row->fields[j], row->lens[j])
                ? json_stringn_nocheck(row->fields[j], row->lens[j])
                : json_null();
        if (v == NULL || json_object_set_new(raw, name, v) != 0) {
            rc = DS_ENOMEM;
            goto out;
        }
    }
    *out = dump(raw, JSON_COMPACT);
    if (*out == NULL) {
        rc = DS_ENOMEM;
    }
out:
    json_decref(raw);
    return rc;
}

/* A copy of what m->json holds, for the caller to free(). */
static int copy_json(const struct ds_mapper *m, char **out)
{
    *out = dup_n(m->json.data, m->json.len);
    return *out != NULL ? 0 : DS_ENOMEM;
}

/* Writes the raw row as build_raw would, without a tree: each column's name
 * was escaped once (raw_names), each value is escaped straight into m->json;
 * a value that is not valid UTF-8 (or holds a NUL) is null. */
static int put_raw(struct ds_mapper *m, const struct ds_row *row, char **out)
{
    struct ds_buf *b = &m->json;
    int rc;

    if (m->no_raw) {
        return 0;
    }
    if (!m->raw_fast) {
        return build_raw(m, row, out);
    }
    ds_buf_reset(b);
    rc = ds_buf_append(b, "{", 1);
    for (size_t j = 0; j < row->nfields && rc == 0; j++) {
        if (j > 0) {
            rc = ds_buf_append(b, ",", 1);
        }
        if (rc == 0) {
            rc = j < m->nheader ? ds_buf_append(b, m->rawkey[j], m->rawkeylen[j])
                                : ds_buf_printf(b, "\"#%zu\":", j + 1);
        }
        if (rc == 0) {
            rc = memchr(row->fields[j], '\0', row->lens[j]) == NULL
                     ? ds_jsonw_string(b, row->fields[j], row->lens[j])
                     : DS_EINVAL;
        }
        if (rc == DS_EINVAL) {
            rc = ds_buf_append(b, "null", 4); /* not UTF-8: b is as it was */
        }
    }
    if (rc == 0) {
        rc = ds_buf_append(b, "}", 1);
    }
    if (rc == 0) {
        rc = copy_json(m, out);
    }
    return rc;
}

/* Writes the record — the present fields in name order, compact, as
 * jansson's JSON_COMPACT | JSON_SORT_KEYS dump wrote it (the fingerprint is
 * its sha256) — and its fingerprint. */
static int put_record(struct ds_mapper *m, struct ds_mapped *out)
{
    struct ds_buf *b = &m->json;
    int first = 1;
    int rc;

    ds_buf_reset(b);
    rc = ds_buf_append(b, "{", 1);
    for (size_t k = 0; k < m->nfields && rc == 0; k++) {
        size_t i = m->order[k];
        const char *v = m->vals.data + m->voff[i];

        if (m->state[i] != FIELD_OK) {
            continue;
        }
        if (!first) {
            rc = ds_buf_append(b, ",", 1);
        }
        first = 0;
        if (rc == 0) {
            rc = ds_buf_append(b, m->fields[i].jkey, m->fields[i].jkeylen);
        }
        if (rc == 0) {
            rc = m->fields[i].integer ? ds_buf_append(b, v, m->vlen[i])
                                      : ds_jsonw_string(b, v, m->vlen[i]);
        }
    }
    if (rc == 0) {
        rc = ds_buf_append(b, "}", 1);
    }
    if (rc == DS_EINVAL) {
        rc = DS_ENOMEM; /* what jansson's dump reported for a string it could not write */
    }
    if (rc != 0) {
        return rc;
    }
    ds_sha256_update(m->sha, b->data, b->len);
    ds_sha256_final(m->sha, out->fingerprint);
    return copy_json(m, &out->record_json);
}

/* Keeps field i's normalized value (m->value) for the record and the keys.
 * An integer field keeps its "%lld" form, as jansson wrote json_integer. */
static int keep_value(struct ds_mapper *m, size_t i, long long integer)
{
    size_t start = m->vals.len;
    int rc;

    rc = m->fields[i].integer ? ds_buf_printf(&m->vals, "%lld", integer)
                              : ds_buf_append(&m->vals, m->value.data, m->value.len);
    m->voff[i] = start;
    m->vlen[i] = m->vals.len - start;
    if (rc == 0) {
        rc = ds_buf_append(&m->vals, "", 1);
    }
    return rc;
}

/* The text of column col of the row, trimmed ("" if none). */
static void cell(const struct ds_row *row, long col, const char **p, size_t *n)
{
    *p = "";
    *n = 0;
    if (col >= 0 && (size_t)col < row->nfields) {
        *p = row->fields[col];
        *n = row->lens[col];
    }
    ds_norm_trim(p, n);
}

/* 1 if a row rule matches the row. */
static int rule_matches(const struct ds_mapper *m, const struct map_rule *r,
                        const struct ds_row *row)
{
    char key[128];
    const char *p;
    size_t n;

    (void)m;
    cell(row, r->col, &p, &n);
    if (r->col < 0 || n == 0) {
        return 0;
    }
    if (r->values != NULL && ds_norm_header(p, n, key, sizeof(key)) < sizeof(key)) {
        for (char **v = r->values; *v != NULL; v++) {
            if (strcmp(*v, key) == 0) {
                return 1;
            }
        }
    }
    if (r->r->prefixes != NULL) {
        for (const char *const *pre = r->r->prefixes; *pre != NULL; pre++) {
            size_t pl = strlen(*pre);

            if (n >= pl && strncasecmp(p, *pre, pl) == 0) {
                return 1;
            }
        }
    }
    if (r->r->nonzero) {
        int64_t cents = 0;
        const char *problem = NULL;

        if (ds_norm_parse_money(&m->opts, p, n, &cents, &problem) == DS_NORM_PRESENT &&
            cents != 0) {
            return 1;
        }
    }
    return 0;
}

/* The text a field with a pick takes from the row ("" when no column
 * qualifies): the first listed column with a value, or with an amount
 * other than 0, or that column's header name. */
static void pick_cell(const struct ds_mapper *m, const struct map_field *f,
                      const struct ds_row *row, const char **p, size_t *n)
{
    for (const long *c = f->cols; *c >= 0; c++) {
        int64_t cents = 0;
        const char *problem = NULL;

        cell(row, *c, p, n);
        if (*n == 0) {
            continue;
        }
        if (f->pick == PICK_VALUE) {
            return;
        }
        if (ds_norm_parse_money(&m->opts, *p, *n, &cents, &problem) == DS_NORM_PRESENT &&
            cents != 0) {
            if (f->pick == PICK_NONZERO_COL) {
                *p = m->header[*c];
                *n = strlen(*p);
            }
            return;
        }
    }
    *p = "";
    *n = 0;
}

/* An instant from a date column and a time, or an hour and a minute,
 * column. */
static int combined_instant(struct ds_mapper *m, struct map_field *f, const struct ds_row *row,
                            const char **problem)
{
    struct ds_norm_dt dt;
    const char *p;
    size_t n;
    int rc;

    cell(row, f->col, &p, &n);
    rc = ds_norm_parse_date(&m->opts, p, n, &dt, problem);
    if (rc != DS_NORM_PRESENT) {
        return rc;
    }
    if (f->tcol >= 0) {
        cell(row, f->tcol, &p, &n);
        rc = ds_norm_parse_time(p, n, &dt.h, &dt.mi, &dt.s, problem);
        if (rc == DS_NORM_ABSENT) {
            *problem = "a date without its time";
            return DS_EINVAL;
        }
        if (rc != DS_NORM_PRESENT) {
            return rc;
        }
    }
    else {
        long h = 0;
        long mi = 0;
        char *end = NULL;
        char num[8];

        cell(row, f->hcol, &p, &n);
        if (n == 0 || n >= sizeof(num)) {
            *problem = "a date without its hour";
            return DS_EINVAL;
        }
        memcpy(num, p, n);
        num[n] = '\0';
        h = strtol(num, &end, 10);
        if (*end != '\0' || h < 0 || h > 23) {
            *problem = "not a valid hour";
            return DS_EINVAL;
        }
        cell(row, f->mcol, &p, &n);
        if (n >= sizeof(num)) {
            *problem = "not a valid minute";
            return DS_EINVAL;
        }
        memcpy(num, p, n);
        num[n] = '\0';
        mi = n > 0 ? strtol(num, &end, 10) : 0;
        if ((n > 0 && *end != '\0') || mi < 0 || mi > 59) {
            *problem = "not a valid minute";
            return DS_EINVAL;
        }
        dt.h = (int)h;
        dt.mi = (int)mi;
        dt.s = 0;
    }
    return ds_norm_instant(&m->opts, &dt, &m->value, problem);
}

/* Runs field f on the row into m->value: DS_NORM_PRESENT, _ABSENT,
 * DS_EINVAL with *problem, or a negative error. */
static int field_value(struct ds_mapper *m, struct map_field *f, const struct ds_row *row,
                       const char **problem)
{
    const char *in;
    size_t len;
    int rc;

    ds_buf_reset(&m->value);
    if (f->combined) {
        cell(row, f->col, &in, &len);
        if (len == 0) {
            return DS_NORM_ABSENT;
        }
        return combined_instant(m, f, row, problem);
    }
    if (f->pick != PICK_HEADER) {
        pick_cell(m, f, row, &in, &len);
    }
    else {
        cell(row, f->col, &in, &len);
    }
    if (len > 0 && !ds_norm_utf8_valid(in, len)) {
        *problem = "not valid UTF-8";
        return DS_EINVAL;
    }
    if (f->split != 0) {
        ds_buf_reset(&m->part);
        rc = f->part_first
                 ? ds_norm_split_name(in, len, f->split == 1, &m->part, &m->value, problem)
                 : ds_norm_split_name(in, len, f->split == 1, &m->value, &m->part, problem);
        return rc;
    }
    if (len > 0 && f->map_keys != NULL) {
        char key[128];

        if (ds_norm_header(in, len, key, sizeof(key)) < sizeof(key)) {
            for (size_t k = 0; f->map_keys[k] != NULL; k++) {
                if (strcmp(f->map_keys[k], key) == 0) {
                    in = f->map_to[k];
                    len = strlen(in);
                    break;
                }
            }
        }
    }
    if (len == 0 && f->defval != NULL) {
        in = f->defval;
        len = strlen(in);
    }
    rc = f->fn(&m->opts, in, len, &m->value, problem);
    if (rc == DS_NORM_PRESENT && f->multiply > 1) {
        char *end = NULL;
        long v = strtol(m->value.data, &end, 10);

        if (*end != '\0' || v > 1000000) {
            *problem = "not a whole number";
            return DS_EINVAL;
        }
        ds_buf_reset(&m->value);
        rc = ds_buf_printf(&m->value, "%ld", v * f->multiply);
        if (rc == 0) {
            rc = DS_NORM_PRESENT;
        }
    }
    return rc;
}

/* The validation rules on a normalized value. 0 or DS_EINVAL with
 * *problem; DS_ENOMEM. */
static int field_validate(struct map_field *f, const char *v, const char **problem)
{
    if (f->has_re && regexec(&f->re, v, 0, NULL, 0) != 0) {
        *problem = "does not match the pattern";
        return DS_EINVAL;
    }
    if (f->enumv != NULL) {
        int ok = 0;

        for (const char *const *e = f->enumv; *e != NULL && !ok; e++) {
            ok = strcmp(*e, v) == 0;
        }
        if (!ok) {
            *problem = "not one of the accepted values";
            return DS_EINVAL;
        }
    }
    if (f->has_min || f->has_max) {
        char *end = NULL;
        double d = strtod(v, &end);

        if (end == v || *end != '\0' || (f->has_min && d < f->min) || (f->has_max && d > f->max)) {
            *problem = "out of range";
            return DS_EINVAL;
        }
    }
    if (f->seen != NULL) {
        if (json_object_get(f->seen, v) != NULL) {
            *problem = "not unique in the file";
            return DS_EINVAL;
        }
        if (json_object_set_new(f->seen, v, json_true()) != 0) {
            return DS_ENOMEM;
        }
    }
    return 0;
}

/* Keys of appointments, treatments and financial records (map.h). */
static int compute_ref_key(struct ds_mapper *m, struct ds_mapped *out, int *none)
{
    struct key_part parts[12];
    size_t np = 0;
    const char *pid;

    *none = 0;
    switch (key_state(m, K_EXTERNAL_ID)) {
    case FIELD_OK:
        snprintf(out->key, sizeof(out->key), "ext:%s", key_value(m, K_EXTERNAL_ID));
        return 0;
    case FIELD_BAD:
        return 0;
    case FIELD_ABSENT:
        break;
    }
    parts[np++] = (struct key_part){m->import_type, 0};
    pid = field_text(m, m->pidx);
    if (pid != NULL) {
        parts[np++] = (struct key_part){"pid", 0};
        parts[np++] = (struct key_part){pid, 0};
    }
    else if (key_state(m, K_LAST_NAME) == FIELD_OK && key_state(m, K_FIRST_NAME) == FIELD_OK &&
             key_state(m, K_DATE_OF_BIRTH) == FIELD_OK) {
        parts[np++] = (struct key_part){"name_dob", 0};
        parts[np++] = (struct key_part){key_value(m, K_LAST_NAME), 1};
        parts[np++] = (struct key_part){key_value(m, K_FIRST_NAME), 1};
        parts[np++] = (struct key_part){key_value(m, K_DATE_OF_BIRTH), 0};
    }
    else if (key_state(m, K_EMAIL) == FIELD_OK) {
        parts[np++] = (struct key_part){"email", 0};
        parts[np++] = (struct key_part){key_value(m, K_EMAIL), 0};
    }
    else if (key_state(m, K_PHONE_MOBILE) == FIELD_OK) {
        parts[np++] = (struct key_part){"phone", 0};
        parts[np++] = (struct key_part){key_value(m, K_PHONE_MOBILE), 0};
    }
    else if (key_state(m, K_LAST_NAME) == FIELD_OK && key_state(m, K_FIRST_NAME) == FIELD_OK) {
        /* A ledger names the patient only: the weakest reference; the cloud
         * decides whether it matches one patient. */
        parts[np++] = (struct key_part){"name", 0};
        parts[np++] = (struct key_part){key_value(m, K_LAST_NAME), 1};
        parts[np++] = (struct key_part){key_value(m, K_FIRST_NAME), 1};
    }
    else if (strcmp(m->import_type, "treatments") == 0 && field_text(m, m->aidx) != NULL) {
        /* A service of an appointment (Eaglesoft's appointment_detail) names
         * its appointment, not its patient. */
        parts[np++] = (struct key_part){"appt", 0};
        parts[np++] = (struct key_part){field_text(m, m->aidx), 0};
    }
    else {
        *none = 1;
        return 0;
    }
    /* An integer field's text in vals is already its "%lld" form. */
    for (size_t k = 0; m->own[k] != NULL && np < 12; k++) {
        const char *v = field_text(m, m->ownidx[k]);

        parts[np++] = (struct key_part){v != NULL ? v : "", 0};
    }
    return hash_key(m, out->key, parts, np);
}

int ds_map_row(struct ds_mapper *m, const struct ds_row *row, struct ds_mapped *out)
{
    const char *problem;
    int none = 0;
    int got;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    out->valid = 1;
    for (size_t i = 0; i < m->nrules; i++) {
        if (m->no_routes && m->rules[i].r->kind == DS_RULE_ROUTE) {
            continue;
        }
        if (rule_matches(m, &m->rules[i], row)) {
            if (m->rules[i].r->kind == DS_RULE_SKIP) {
                out->skipped = 1;
                out->skip_reason = m->rules[i].r->reason;
            }
            else {
                out->route = m->rules[i].r->target;
            }
            out->valid = 0;
            return put_raw(m, row, &out->raw_json);
        }
    }
    ds_buf_reset(&m->vals);
    for (size_t i = 0; i < m->nfields; i++) {
        struct map_field *f = &m->fields[i];
        long long integer = 0;

        m->state[i] = FIELD_ABSENT;
        problem = "not acceptable";
        if (f->order != 0) {
            /* The order ds_map_date_decide found for this column. */
            enum ds_date_order saved = m->opts.date_order;

            m->opts.date_order = f->order;
            got = field_value(m, f, row, &problem);
            m->opts.date_order = saved;
        }
        else {
            got = field_value(m, f, row, &problem);
        }
        if (got == DS_EINVAL && f->dated && f->hint[0] != '\0') {
            snprintf(m->problem, sizeof(m->problem), "%s; %s", problem, f->hint);
            problem = m->problem;
        }
        if (got == DS_NORM_PRESENT) {
            got = field_validate(f, m->value.data, &problem);
            if (got == 0) {
                got = DS_NORM_PRESENT;
            }
        }
        if (got == DS_EINVAL) {
            m->state[i] = FIELD_BAD;
            set_invalid(out, f->name, problem);
            continue;
        }
        if (got < 0) {
            rc = got;
            goto out;
        }
        if (got == DS_NORM_ABSENT) {
            if (f->required) {
                set_invalid(out, f->name, "required");
            }
            continue;
        }
        if (m->keyidx[K_EXTERNAL_ID] == (long)i && !ext_id_valid(m->value.data, m->value.len)) {
            m->state[i] = FIELD_BAD;
            set_invalid(out, f->name, "not a valid identifier (at most 64 printable characters)");
            continue;
        }
        if (f->integer) {
            char *end = NULL;

            integer = strtoll(m->value.data, &end, 10);
            if (*end != '\0') {
                m->state[i] = FIELD_BAD;
                set_invalid(out, f->name, "not a whole number");
                continue;
            }
        }
        rc = keep_value(m, i, integer);
        if (rc != 0) {
            goto out;
        }
        m->state[i] = FIELD_OK;
    }
    rc = m->patients ? compute_key(m, out, &none) : compute_ref_key(m, out, &none);
    if (rc != 0) {
        goto out;
    }
    if (none) {
        set_invalid(out, "record",
                    m->patients
                        ? "no match key (external_id, email, phone, or last_name + "
                          "first_name + date_of_birth)"
                        : "no key: external_id or a patient reference (patient_external_id, "
                          "e-mail, phone or patient name)");
    }
    rc = put_raw(m, row, &out->raw_json);
    if (rc == 0 && out->valid && !m->no_record) {
        rc = put_record(m, out);
    }
out:
    if (rc != 0) {
        ds_mapped_close(out);
    }
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Routing                                                                  */

const struct ds_template_rule *ds_map_rule(const struct ds_mapper *m, const struct ds_row *row)
{
    for (size_t i = 0; i < m->nrules; i++) {
        if (m->no_routes && m->rules[i].r->kind == DS_RULE_ROUTE) {
            continue;
        }
        if (rule_matches(m, &m->rules[i], row)) {
            return m->rules[i].r;
        }
    }
    return NULL;
}

void ds_map_set_routing(struct ds_mapper *m, int on)
{
    m->no_routes = !on;
}

/* ------------------------------------------------------------------------ */
/* Date order                                                               */

int ds_map_wants_date_votes(const struct ds_mapper *m)
{
    if (!m->auto_order) {
        return 0;
    }
    for (size_t i = 0; i < m->nfields; i++) {
        if (m->fields[i].dated && m->fields[i].col >= 0) {
            return 1;
        }
    }
    return 0;
}

void ds_map_date_vote(struct ds_mapper *m, const struct ds_row *row)
{
    for (size_t i = 0; i < m->nfields; i++) {
        struct map_field *f = &m->fields[i];

        if (f->dated && f->col >= 0 && (size_t)f->col < row->nfields) {
            ds_norm_date_vote(&f->votes, row->fields[f->col], row->lens[f->col]);
        }
    }
}

/* The order a set of votes tells: DMY or MDY when only that one reads some
 * values, else AUTO (nothing decisive, or both: inconsistent). */
static enum ds_date_order votes_tell(const struct ds_date_votes *v)
{
    if (v->dmy_only > 0 && v->mdy_only == 0) {
        return DS_DATE_DMY;
    }
    if (v->mdy_only > 0 && v->dmy_only == 0) {
        return DS_DATE_MDY;
    }
    return DS_DATE_AUTO;
}

/*
 * Decides the order of each date column from its votes, when the order is
 * auto: a column whose values read only one way takes that way; a column
 * that cannot tell (every value fits both) takes what the file's date
 * columns together tell; a column that reads both ways (inconsistent) is
 * not guessed: it stays MDY, and its failures say how many rows only read
 * as DD/MM/YYYY. Whatever the order, a column with values only the other
 * order reads gets that hint for its failed rows.
 */
void ds_map_date_decide(struct ds_mapper *m)
{
    struct ds_date_votes all;
    enum ds_date_order file_order;

    memset(&all, 0, sizeof(all));
    for (size_t i = 0; i < m->nfields; i++) {
        if (m->fields[i].dated) {
            all.seen += m->fields[i].votes.seen;
            all.dmy_only += m->fields[i].votes.dmy_only;
            all.mdy_only += m->fields[i].votes.mdy_only;
        }
    }
    file_order = votes_tell(&all);
    for (size_t i = 0; i < m->nfields; i++) {
        struct map_field *f = &m->fields[i];
        enum ds_date_order in_force;

        if (!f->dated) {
            continue;
        }
        if (m->auto_order) {
            f->order = votes_tell(&f->votes);
            if (f->order == DS_DATE_AUTO && f->votes.dmy_only == 0 && f->votes.mdy_only == 0) {
                f->order = file_order;
            }
            if (f->order == DS_DATE_AUTO) {
                f->order = DS_DATE_MDY;
            }
        }
        in_force = f->order != 0 ? f->order : m->opts.date_order;
        f->hint[0] = '\0';
        if (in_force != DS_DATE_DMY && in_force != DS_DATE_YMD && f->votes.dmy_only > 0) {
            snprintf(f->hint, sizeof(f->hint),
                     "does not fit MM/DD/YYYY; %ld rows in this column only read as DD/MM/YYYY "
                     "\xe2\x80\x94 set date_order = DMY",
                     f->votes.dmy_only);
        }
        else if (in_force == DS_DATE_DMY && f->votes.mdy_only > 0) {
            snprintf(f->hint, sizeof(f->hint),
                     "does not fit DD/MM/YYYY; %ld rows in this column only read as MM/DD/YYYY "
                     "\xe2\x80\x94 set date_order = MDY",
                     f->votes.mdy_only);
        }
    }
}

enum ds_date_order ds_map_field_date_order(const struct ds_mapper *m, size_t i)
{
    if (i >= m->nfields || !m->fields[i].dated) {
        return DS_DATE_AUTO;
    }
    return m->fields[i].order != 0 ? m->fields[i].order : m->opts.date_order;
}

const struct ds_date_votes *ds_map_field_date_votes(const struct ds_mapper *m, size_t i)
{
    return i < m->nfields && m->fields[i].dated ? &m->fields[i].votes : NULL;
}
