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
 * The record is a JSON object of the present fields only, serialized
 * compact with sorted keys; its sha256 is the fingerprint. Messages name a
 * field and a fixed problem, never a value.
 */
#include "agent/map/map.h"

#include "agent/core/buf.h"
#include "agent/map/canon.h"
#include "agent/map/normalize.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAP_VALUE_MAX (2 * (size_t)DS_READ_MAX_FIELD) /* a normalized value */
#define MAP_EXT_ID_MAX 64                             /* characters in an external id */
#define MAP_HASH_INPUT_MAX (4 * (size_t)DS_READ_MAX_FIELD)

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

static const char *const key_names[K_COUNT] = {
    "external_id", "last_name",    "first_name", "date_of_birth",
    "email",       "phone_mobile", "phone_home", "phone_work",
};

struct map_field {
    char *name;    /* owned: canonical name */
    ds_norm_fn fn; /* its normalizer */
    int required;  /* a row without it is invalid */
    long col;      /* header column, -1 when the file has none */
};

struct ds_mapper {
    size_t nfields;           /* template fields */
    struct map_field *fields; /* owned: nfields entries */
    enum field_state *state;  /* owned: per field, for the current row */
    long keyidx[K_COUNT];     /* index in fields of each key field, -1 if unmapped */
    size_t nheader;           /* header columns */
    char **header;            /* owned: header names, for raw_json */
    struct ds_buf value;      /* scratch: one normalized value */
    struct ds_buf hash;       /* scratch: a key's hash input */
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

/* DS_EINVAL about one template field. */
static int field_fail(struct ds_error *err, const char *field, const char *msg)
{
    if (err != NULL) {
        snprintf(err->field, sizeof(err->field), "%s", field);
    }
    return ds_error_set(err, DS_EINVAL, "%s", msg);
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
    m->nheader = nh;
    m->header = calloc(nh + 1, sizeof(*m->header));
    m->nfields = ds_template_nfields(t);
    m->fields = calloc(m->nfields + 1, sizeof(*m->fields));
    m->state = calloc(m->nfields + 1, sizeof(*m->state));
    if (m->header == NULL || m->fields == NULL || m->state == NULL) {
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
    for (int k = 0; k < K_COUNT; k++) {
        m->keyidx[k] = -1;
    }
    for (size_t i = 0; i < m->nfields; i++) {
        const struct ds_template_field *tf = ds_template_field(t, i);
        struct map_field *f = &m->fields[i];

        f->name = strdup(tf->name);
        f->fn = ds_norm_lookup(tf->transform);
        f->required = tf->required;
        if (f->name == NULL) {
            rc = ds_error_set(err, DS_ENOMEM, "out of memory");
            goto out;
        }
        if (f->fn == NULL) {
            rc = field_fail(err, tf->name, "unknown transform");
            goto out;
        }
        f->col = resolve_column(tf->columns, hkeys, nh, &oom);
        if (oom) {
            rc = ds_error_set(err, DS_ENOMEM, "out of memory");
            goto out;
        }
        if (f->col < 0 && f->required) {
            rc = field_fail(err, tf->name, "required field has no column in the header");
            goto out;
        }
        for (int k = 0; k < K_COUNT; k++) {
            if (strcmp(f->name, key_names[k]) == 0) {
                m->keyidx[k] = (long)i;
            }
        }
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
        }
    }
    if ((*m)->header != NULL) {
        for (size_t j = 0; j < (*m)->nheader; j++) {
            free((*m)->header[j]);
        }
    }
    free((*m)->fields);
    free((*m)->state);
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

/* The value of key field k in the record, or NULL. */
static const char *key_value(const struct ds_mapper *m, const json_t *rec, int k)
{
    if (m->keyidx[k] < 0) {
        return NULL;
    }
    return json_string_value(json_object_get(rec, m->fields[m->keyidx[k]].name));
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
    rc = ds_sha256_hex(m->hash.data, m->hash.len, hex);
    if (rc != 0) {
        return rc;
    }
    snprintf(key, DS_MAP_KEY_MAX, "h:%s", hex);
    return 0;
}

/* Computes out->key by the precedence in the file comment. Returns 0 (key
 * may stay "" when it cannot be told) or DS_ENOMEM; *none is set when no
 * rule applies at all. */
static int compute_key(struct ds_mapper *m, const json_t *rec, struct ds_mapped *out, int *none)
{
    static const int phones[] = {K_PHONE_MOBILE, K_PHONE_HOME, K_PHONE_WORK};
    enum field_state ln = key_state(m, K_LAST_NAME);
    enum field_state fn = key_state(m, K_FIRST_NAME);
    enum field_state dob = key_state(m, K_DATE_OF_BIRTH);

    *none = 0;
    switch (key_state(m, K_EXTERNAL_ID)) {
    case FIELD_OK:
        snprintf(out->key, sizeof(out->key), "ext:%s", key_value(m, rec, K_EXTERNAL_ID));
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
            {key_value(m, rec, K_LAST_NAME), 1},
            {key_value(m, rec, K_FIRST_NAME), 1},
            {key_value(m, rec, K_DATE_OF_BIRTH), 0},
        };

        return hash_key(m, out->key, parts, 5);
    }
    switch (key_state(m, K_EMAIL)) {
    case FIELD_OK: {
        const struct key_part parts[] = {
            {"patients", 0},
            {"email", 0},
            {key_value(m, rec, K_EMAIL), 0},
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
                {key_value(m, rec, phones[i]), 0},
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

int ds_map_row(struct ds_mapper *m, const struct ds_row *row, struct ds_mapped *out)
{
    json_t *rec = NULL;
    const char *problem;
    int none = 0;
    int got;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    out->valid = 1;
    rec = json_object();
    if (rec == NULL) {
        rc = DS_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < m->nfields; i++) {
        struct map_field *f = &m->fields[i];
        const char *in = "";
        size_t len = 0;

        m->state[i] = FIELD_ABSENT;
        if (f->col >= 0 && (size_t)f->col < row->nfields) {
            in = row->fields[f->col];
            len = row->lens[f->col];
        }
        ds_norm_trim(&in, &len);
        if (len > 0 && !ds_norm_utf8_valid(in, len)) {
            m->state[i] = FIELD_BAD;
            set_invalid(out, f->name, "not valid UTF-8");
            continue;
        }
        ds_buf_reset(&m->value);
        problem = "not acceptable";
        got = f->fn(in, len, &m->value, &problem);
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
        if (json_object_set_new(rec, f->name, json_stringn_nocheck(m->value.data, m->value.len)) !=
            0) {
            rc = DS_ENOMEM;
            goto out;
        }
        m->state[i] = FIELD_OK;
    }
    rc = compute_key(m, rec, out, &none);
    if (rc != 0) {
        goto out;
    }
    if (none) {
        set_invalid(out, "record",
                    "no match key (external_id, email, phone, or last_name + first_name + "
                    "date_of_birth)");
    }
    rc = build_raw(m, row, &out->raw_json);
    if (rc != 0) {
        goto out;
    }
    if (out->valid) {
        out->record_json = dump(rec, JSON_COMPACT | JSON_SORT_KEYS);
        if (out->record_json == NULL) {
            rc = DS_ENOMEM;
            goto out;
        }
        rc = ds_sha256_hex(out->record_json, strlen(out->record_json), out->fingerprint);
        if (rc != 0) {
            goto out;
        }
    }
out:
    json_decref(rec);
    if (rc != 0) {
        ds_mapped_close(out);
    }
    return rc;
}
