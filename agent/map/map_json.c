/*
 * map_json.c — the two JSON texts of a row: raw_json (the columns the
 * template reads, under their header names) and record_json (the present
 * fields, sorted by name, whose sha256 is the fingerprint).
 *
 * raw_json is what the queue keeps of the row as read, for `dentsync
 * errors` (docs/security.md): the columns a field or a rule of the template
 * reads (ds__map_raw_keep), never the others — an export's unmapped columns
 * (notes, balances, ...) are not the agent's to keep. Their names are still
 * chosen as if every column were there, so a kept column's name does not
 * depend on which others are left out.
 *
 * The queue keeps raw_json as the array of the values alone
 * (DS_MAP_RAW_VALUES), with the names once per job (ds_map_raw_columns_json),
 * and the record likewise (DS_MAP_RECORD_VALUES, ds_map_record_fields_json).
 *
 * Both are written straight into m->json by agent/core/jsonw.h, byte for
 * byte as jansson's dump wrote them from a tree, with every escaped name
 * computed once per file (ds__map_raw_names, the fields' jkey). A file
 * whose raw column names could clash keeps the tree (build_raw).
 */
#include "agent/map/map_int.h"

#include "agent/core/alloc.h"
#include "agent/core/jsonw.h"
#include "agent/map/normalize.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "<s>": escaped as a JSON object key (map_int.h). */
char *ds__map_json_key(const char *s, size_t *len)
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
int ds__map_raw_names(struct ds_mapper *m)
{
    char name[320];
    char **names = ds_calloc(m->nheader + 1, sizeof(*names));
    int rc = 0;

    m->rawkey = ds_calloc(m->nheader + 1, sizeof(*m->rawkey));
    m->rawkeylen = ds_calloc(m->nheader + 1, sizeof(*m->rawkeylen));
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
        names[j] = ds_strdup(name);
        m->rawkey[j] = names[j] != NULL ? ds__map_json_key(name, &m->rawkeylen[j]) : NULL;
        if (m->rawkey[j] == NULL) {
            rc = DS_ENOMEM;
            goto out;
        }
    }
out:
    if (names != NULL) {
        for (size_t j = 0; j < m->nheader; j++) {
            ds_free(names[j]);
        }
        ds_free(names);
    }
    return rc;
}

/* Serializes j compact with sorted keys into a malloc'd string. */
static char *dump(const json_t *j, size_t flags)
{
    size_t n = json_dumpb(j, NULL, 0, flags);
    char *s;

    if (n == 0) {
        return NULL;
    }
    s = ds_malloc(n + 1);
    if (s == NULL) {
        return NULL;
    }
    if (json_dumpb(j, s, n, flags) != n) {
        ds_free(s);
        return NULL;
    }
    s[n] = '\0';
    return s;
}

int ds__map_raw_keep(struct ds_mapper *m)
{
    m->rawkeep = ds_calloc(m->nheader + 1, sizeof(*m->rawkeep));
    if (m->rawkeep == NULL) {
        return DS_ENOMEM;
    }
    for (size_t i = 0; i < m->nfields; i++) {
        const struct map_field *f = &m->fields[i];

        if (f->col >= 0 && (size_t)f->col < m->nheader) {
            m->rawkeep[f->col] = 1;
        }
        for (size_t k = 0; f->cols != NULL && f->cols[k] >= 0; k++) {
            if ((size_t)f->cols[k] < m->nheader) {
                m->rawkeep[f->cols[k]] = 1;
            }
        }
    }
    for (size_t i = 0; i < m->nrules; i++) {
        if (m->rules[i].col >= 0 && (size_t)m->rules[i].col < m->nheader) {
            m->rawkeep[m->rules[i].col] = 1;
        }
    }
    return 0;
}

/* Whether column j (0-based) goes into raw_json: a header column the
 * template reads; never one past the header. */
static int kept(const struct ds_mapper *m, size_t j)
{
    return j < m->nheader && m->rawkeep != NULL && m->rawkeep[j];
}

/* Builds {"<header>":"<value>",...} of the kept columns in column order. Extra columns and
 * columns with an empty or repeated name are keyed "#<n>" / "<name>#<n>"
 * (n 1-based), so no value is lost or overwritten. */
static int build_raw(const struct ds_mapper *m, const struct ds_row *row, char **out)
{
    json_t *raw = json_object();
    json_t *all = json_object(); /* every column's name: names are chosen among them all */
    char name[320];
    int rc = 0;

    if (raw == NULL || all == NULL) {
        rc = DS_ENOMEM;
        goto out;
    }
    for (size_t j = 0; j < row->nfields; j++) {
        const char *h = j < m->nheader ? m->header[j] : "";
        json_t *v;

        if (h[0] == '\0' || !ds_norm_utf8_valid(h, strlen(h))) {
            snprintf(name, sizeof(name), "#%zu", j + 1);
        }
        else if (json_object_get(all, h) != NULL || strlen(h) >= sizeof(name) - 24) {
            snprintf(name, sizeof(name), "%.256s#%zu", h, j + 1);
        }
        else {
            snprintf(name, sizeof(name), "%s", h);
        }
        if (!ds_norm_utf8_valid(name, strlen(name))) {
            snprintf(name, sizeof(name), "#%zu", j + 1);
        }
        if (json_object_set_new(all, name, json_null()) != 0) {
            rc = DS_ENOMEM;
            goto out;
        }
        if (!kept(m, j)) {
            /* A kept column of the same name written earlier goes, as a
             * later column overwrites it in the full row. */
            json_object_del(raw, name);
            continue;
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
    json_decref(all);
    return rc;
}

/* A copy of what m->json holds, for the caller to ds_free(). */
static int copy_json(const struct ds_mapper *m, char **out)
{
    *out = ds__map_dup_n(m->json.data, m->json.len);
    return *out != NULL ? 0 : DS_ENOMEM;
}

/* Writes the raw row as build_raw would, without a tree: each kept column's
 * name was escaped once (raw_names), each value is escaped straight into
 * m->json; a value that is not valid UTF-8 (or holds a NUL) is null. */
int ds__map_put_raw(struct ds_mapper *m, const struct ds_row *row, char **out)
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
    rc = ds_buf_append(b, m->raw_values ? "[" : "{", 1);
    for (size_t j = 0, n = 0; j < row->nfields && rc == 0; j++) {
        if (!kept(m, j)) {
            continue;
        }
        if (n++ > 0) {
            rc = ds_buf_append(b, ",", 1);
        }
        if (rc == 0 && !m->raw_values) {
            rc = ds_buf_append(b, m->rawkey[j], m->rawkeylen[j]);
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
        rc = ds_buf_append(b, m->raw_values ? "]" : "}", 1);
    }
    if (rc == 0) {
        rc = copy_json(m, out);
    }
    return rc;
}

/* Appends the name of a key as the fields and columns keep it escaped
 * ("<name>":) to the array of names being written in b, after a comma
 * unless it is the first (*n counts them). */
static int put_name(struct ds_buf *b, size_t *n, const char *jkey, size_t jkeylen)
{
    int rc = (*n)++ > 0 ? ds_buf_append(b, ",", 1) : 0;

    return rc == 0 ? ds_buf_append(b, jkey, jkeylen - 1) : rc; /* without its ':' */
}

/* Closes the array of names in b and hands it over as *out (new); b is
 * closed either way. */
static int end_names(struct ds_buf *b, int rc, char **out)
{
    if (rc == 0) {
        rc = ds_buf_append(b, "]", 1);
    }
    if (rc == 0) {
        *out = ds_buf_steal(b);
        rc = *out != NULL ? 0 : DS_ENOMEM;
    }
    ds_buf_close(b);
    return rc;
}

int ds_map_raw_columns_json(const struct ds_mapper *m, char **out)
{
    struct ds_buf b;
    size_t n = 0;
    int rc;

    *out = NULL;
    if (!m->raw_values) {
        return 0;
    }
    ds_buf_init(&b, MAP_JSON_MAX);
    rc = ds_buf_append(&b, "[", 1);
    for (size_t j = 0; j < m->nheader && rc == 0; j++) {
        if (kept(m, j)) {
            rc = put_name(&b, &n, m->rawkey[j], m->rawkeylen[j]);
        }
    }
    return end_names(&b, rc, out);
}

int ds_map_record_fields_json(const struct ds_mapper *m, char **out)
{
    struct ds_buf b;
    size_t n = 0;
    int rc;

    *out = NULL;
    if (!m->record_values) {
        return 0;
    }
    ds_buf_init(&b, MAP_JSON_MAX);
    rc = ds_buf_append(&b, "[", 1);
    for (size_t k = 0; k < m->nfields && rc == 0; k++) {
        const struct map_field *f = &m->fields[m->order[k]];

        rc = put_name(&b, &n, f->jkey, f->jkeylen);
    }
    return end_names(&b, rc, out);
}

/* Writes the record — the present fields in name order, compact, as
 * jansson's JSON_COMPACT | JSON_SORT_KEYS dump wrote it (the fingerprint is
 * its sha256) — and its fingerprint. */
int ds__map_put_record(struct ds_mapper *m, struct ds_mapped *out)
{
    struct ds_buf *b = &m->json;
    struct ds_buf *a = &m->jvals;
    int first = 1;
    int rc;

    ds_buf_reset(b);
    ds_buf_reset(a);
    rc = ds_buf_append(b, "{", 1);
    if (rc == 0 && m->record_values) {
        rc = ds_buf_append(a, "[", 1);
    }
    for (size_t k = 0; k < m->nfields && rc == 0; k++) {
        size_t i = m->order[k];
        const char *v;
        size_t at;

        if (m->record_values && k > 0) {
            rc = ds_buf_append(a, ",", 1);
        }
        if (m->state[i] != FIELD_OK) {
            if (rc == 0 && m->record_values) {
                rc = ds_buf_append(a, "null", 4);
            }
            continue;
        }
        v = m->vals.data + m->voff[i]; /* vals is empty until a value is kept */
        if (rc == 0 && !first) {
            rc = ds_buf_append(b, ",", 1);
        }
        first = 0;
        if (rc == 0) {
            rc = ds_buf_append(b, m->fields[i].jkey, m->fields[i].jkeylen);
        }
        at = b->len;
        if (rc == 0) {
            rc = m->fields[i].integer ? ds_buf_append(b, v, m->vlen[i])
                                      : ds_jsonw_string(b, v, m->vlen[i]);
        }
        if (rc == 0 && m->record_values) {
            rc = ds_buf_append(a, b->data + at, b->len - at); /* the value as written */
        }
    }
    if (rc == 0) {
        rc = ds_buf_append(b, "}", 1);
    }
    if (rc == 0 && m->record_values) {
        rc = ds_buf_append(a, "]", 1);
    }
    if (rc == DS_EINVAL) {
        rc = DS_ENOMEM; /* what jansson's dump reported for a string it could not write */
    }
    if (rc == 0) {
        rc = ds__map_sha(m);
    }
    if (rc != 0) {
        return rc;
    }
    ds_sha256_update(m->sha, b->data, b->len);
    ds_sha256_final(m->sha, out->fingerprint);
    if (m->record_values) {
        out->record_json = ds__map_dup_n(a->data, a->len);
        return out->record_json != NULL ? 0 : DS_ENOMEM;
    }
    return copy_json(m, &out->record_json);
}

/* The raw columns of a row the reader cut at a cap: exactly the kept
 * header columns (as for any row, so `dentsync errors` keeps one set of columns),
 * the fields before the cap filled in, the others empty; none when the
 * caller asked for no raw row. */
int ds__map_put_cut_raw(const struct ds_mapper *m, const struct ds_row *row, char **out)
{
    struct ds_row cut = *row;
    const char **fields = NULL;
    size_t *lens = NULL;
    int rc = DS_ENOMEM;

    if (m->no_raw) {
        return 0;
    }
    fields = ds_calloc(m->nheader + 1, sizeof(*fields));
    lens = ds_calloc(m->nheader + 1, sizeof(*lens));
    if (fields != NULL && lens != NULL) {
        for (size_t j = 0; j < m->nheader; j++) {
            fields[j] = j < row->nfields ? row->fields[j] : "";
            lens[j] = j < row->nfields ? row->lens[j] : 0;
        }
        cut.nfields = m->nheader;
        cut.fields = fields;
        cut.lens = lens;
        rc = build_raw(m, &cut, out);
    }
    ds_free(fields);
    ds_free(lens);
    return rc;
}
