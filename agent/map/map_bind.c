/*
 * map_bind.c — binding a template to a file's header, once per file (see
 * map.c): each canonical field gets the first of its aliases that names a
 * header column, compared in the ds_norm_header form (case, spaces, '_' and
 * '-' ignored); its value map, pattern, range and unique set are prepared
 * and the key fields noted, so that ds_map_row only indexes into the row.
 */
#include "agent/map/map_int.h"

#include "agent/core/alloc.h"
#include "agent/map/canon.h"
#include "agent/map/normalize.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A NUL-terminated copy of s[0..n) (map_int.h). */
char *ds__map_dup_n(const char *s, size_t n)
{
    char *p = ds_malloc(n + 1);

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
    char *k = ds_malloc(need + 1);

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
                ds_free(k);
                return (long)j;
            }
        }
        ds_free(k);
    }
    return -1;
}

/* Every column of the header one of the aliases names, in alias order,
 * each once, -1 ended. DS_ENOMEM. */
static int resolve_all(const char *const *aliases, char *const *hkeys, size_t nh, long **out)
{
    size_t n = 0;
    long *cols = ds_calloc(nh + 1, sizeof(*cols));

    if (cols == NULL) {
        return DS_ENOMEM;
    }
    for (const char *const *a = aliases; *a != NULL; a++) {
        char *k = header_key(*a, strlen(*a));

        if (k == NULL) {
            ds_free(cols);
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
        ds_free(k);
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
    l = ds_calloc(n + 1, sizeof(*l));
    if (l == NULL) {
        return DS_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        l[i] = header_key(in[i], strlen(in[i]));
        if (l[i] == NULL) {
            for (size_t j = 0; j < i; j++) {
                ds_free(l[j]);
            }
            ds_free(l);
            return DS_ENOMEM;
        }
    }
    *out = l;
    return 0;
}

void ds__map_free_list(char ***l)
{
    if (*l == NULL) {
        return;
    }
    for (char **p = *l; *p != NULL; p++) {
        ds_free(*p);
    }
    ds_free(*l);
    *l = NULL;
}

/* DS_EINVAL about one template field. */
static int field_fail(struct ds_error *err, const char *field, const char *msg)
{
    if (err != NULL) {
        snprintf(err->field, sizeof(err->field), "%s", field);
    }
    return ds_error_set(err, DS_EINVAL, "%s", msg);
}

int ds__map_bind_header(struct ds_mapper *m, const struct ds_row *header, char **hkeys)
{
    for (size_t j = 0; j < m->nheader; j++) {
        m->header[j] = ds__map_dup_n(header->fields[j], header->lens[j]);
        hkeys[j] = header_key(header->fields[j], header->lens[j]);
        if (m->header[j] == NULL || hkeys[j] == NULL) {
            return DS_ENOMEM;
        }
    }
    return 0;
}

int ds__map_bind_field(struct ds_mapper *m, size_t i, const struct ds_template_field *tf,
                       char *const *hkeys, struct ds_error *err)
{
    struct map_field *f = &m->fields[i];
    size_t nh = m->nheader;
    int oom = 0;
    int rc;

    f->name = ds_strdup(tf->name);
    f->fn = ds_norm_lookup_opt(tf->transform);
    f->required = tf->required;
    f->integer = ds_map_field_is_integer(tf->name);
    f->tcol = f->hcol = f->mcol = -1;
    f->jkey = f->name != NULL ? ds__map_json_key(f->name, &f->jkeylen) : NULL;
    if (f->name == NULL || f->jkey == NULL) {
        return ds_error_set(err, DS_ENOMEM, "out of memory");
    }
    if (f->fn == NULL) {
        return field_fail(err, tf->name, "unknown transform");
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
        return ds_error_set(err, DS_ENOMEM, "out of memory");
    }
    if (tf->pick != NULL && strcmp(tf->pick, "header") != 0) {
        f->pick = strcmp(tf->pick, "value") == 0     ? PICK_VALUE
                  : strcmp(tf->pick, "nonzero") == 0 ? PICK_NONZERO
                                                     : PICK_NONZERO_COL;
        if (resolve_all(tf->columns, hkeys, nh, &f->cols) != 0) {
            return ds_error_set(err, DS_ENOMEM, "out of memory");
        }
    }
    f->combined = tf->time_columns != NULL || tf->hour_columns != NULL;
    f->dated = f->combined || f->fn == ds_norm_lookup_opt("date") ||
               f->fn == ds_norm_lookup_opt("datetime");
    if (f->col < 0 && f->required && tf->default_value == NULL) {
        return field_fail(err, tf->name, "required field has no column in the header");
    }
    if (f->combined && f->col >= 0 && f->tcol < 0 && f->hcol < 0 && f->required) {
        return field_fail(err, tf->name, "the time column of this instant is missing");
    }
    if (tf->split != NULL) {
        f->split = strcmp(tf->split, "last_first") == 0 ? 1 : 2;
        f->part_first = tf->part != NULL && strcmp(tf->part, "first") == 0;
    }
    rc = fold_list(tf->map_from, &f->map_keys);
    if (rc != 0) {
        return ds_error_set(err, rc, "out of memory");
    }
    f->map_to = tf->map_to;
    f->defval = tf->default_value;
    f->multiply = tf->multiply > 0 ? tf->multiply : 1;
    if (tf->pattern != NULL) {
        rc = ds_regex_compile(&f->re, tf->pattern, 0);
        if (rc == DS_ENOMEM) {
            return ds_error_set(err, rc, "out of memory");
        }
        if (rc != 0) {
            return field_fail(err, tf->name, "pattern is not a valid regular expression");
        }
    }
    f->enumv = tf->enum_values;
    f->has_min = tf->has_min;
    f->has_max = tf->has_max;
    f->min = tf->min;
    f->max = tf->max;
    if (tf->unique) {
        f->seen = json_object();
        if (f->seen == NULL) {
            return ds_error_set(err, DS_ENOMEM, "out of memory");
        }
    }
    ds__map_identity_bind(m, i);
    return 0;
}

int ds__map_bind_rules(struct ds_mapper *m, const struct ds_template *t, char *const *hkeys,
                       struct ds_error *err)
{
    int oom = 0;
    int rc;

    m->nrules = ds_template_nrules(t);
    m->rules = ds_calloc(m->nrules + 1, sizeof(*m->rules));
    if (m->rules == NULL) {
        return ds_error_set(err, DS_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < m->nrules; i++) {
        m->rules[i].r = ds_template_rule(t, i);
        m->rules[i].col = resolve_column(m->rules[i].r->columns, hkeys, m->nheader, &oom);
        rc = fold_list(m->rules[i].r->values, &m->rules[i].values);
        if (rc != 0 || oom) {
            return ds_error_set(err, DS_ENOMEM, "out of memory");
        }
    }
    return 0;
}

/* The record's order: field indices sorted by name, as jansson's
 * JSON_SORT_KEYS sorts them, computed once instead of per row. DS_EINVAL
 * when two fields share a name (a template's fields are a JSON object's
 * keys: they cannot). */
int ds__map_record_order(struct ds_mapper *m, struct ds_error *err)
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
