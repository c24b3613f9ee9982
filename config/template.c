/*
 * template.c — loads and checks templates (docs/templates.md).
 *
 * A template comes from outside (an admin's file, the cloud) and is treated
 * as hostile: the whole document is checked before anything uses it, unknown
 * keys included, because a misspelt "colums" silently ignored would map
 * nothing and look like bad data. Every complaint names the JSON path in
 * err->field and the template's origin in err->file.
 *
 * The parsed JSON tree is kept for the template's lifetime: the strings the
 * accessors hand out (id, field names, column aliases) point into it, so
 * nothing is copied twice. Fields are listed in the canonical order of the
 * import type, whatever their order in the document.
 */
#include "config/template.h"

#include "agent/core/alloc.h"
#include "agent/core/buf.h"
#include "agent/map/canon.h"
#include "agent/map/normalize.h"
#include "agent/os/os_text.h"

#include "agent/core/log.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEMPLATE_MAX_BYTES ((size_t)1024 * 1024) /* a template file larger than this is refused */
#define TEMPLATE_ID_MAX 64                       /* characters in an id */
#define TEMPLATE_COLUMNS_MAX 64                  /* aliases for one field */

/* Built by the Makefile from the JSON files in config/templates (installer/embed.sh). */
extern const char *const ds_builtin_templates[];
extern const char *const ds_builtin_templates_names[];

struct ds_template {
    json_t *root;                     /* owned: the document; the strings below live in it */
    const char *id;                   /* the template's id */
    const char *name;                 /* its display name */
    const char *import_type;          /* e.g. "patients" */
    size_t nfields;                   /* mapped canonical fields */
    struct ds_template_field *fields; /* owned: nfields entries, canonical order */
    const char **columns;             /* owned: every field's aliases, each list NULL-ended */
    const char **required;            /* owned: recognition.required, NULL-ended */
    const char **optional;            /* owned: recognition.optional, NULL-ended */
    size_t nrules;                    /* row rules */
    struct ds_template_rule *rules;   /* owned: nrules entries, in document order */
    struct ds_template_dialect dialect;
    const char *time_zone; /* "time_zone": the zone local times are read in, or NULL */
    void **lists;          /* owned: the other string lists, to free */
    size_t nlists;
    json_t *kept; /* owned: JSON values the lists point into */
};

/* Copies src into dst[size], cut to fit. */
static void copy_cut(char *dst, size_t size, const char *src)
{
    size_t n = strnlen(src, size - 1);

    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Fills err (NULL-safe): code, origin, JSON path and message. */
static int tpl_fail(struct ds_error *err, int code, const char *origin, const char *path,
                    const char *msg)
{
    if (err == NULL) {
        return code;
    }
    err->code = code;
    err->row = 0;
    copy_cut(err->file, sizeof(err->file), origin != NULL ? origin : "");
    copy_cut(err->field, sizeof(err->field), path != NULL ? path : "");
    snprintf(err->msg, sizeof(err->msg), "%s", msg);
    return code;
}

/* 1 if id is a safe template id: 1-64 of [A-Za-z0-9._-], not starting with
 * '.', without "..": it becomes a file name. */
static int id_valid(const char *id)
{
    size_t n = strlen(id);

    if (n == 0 || n > TEMPLATE_ID_MAX || id[0] == '.' || strstr(id, "..") != NULL) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = id[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-')) {
            return 0;
        }
    }
    return 1;
}

/* A time zone's name as the template may give it: "UTC" or an IANA name
 * (letters, digits, `_ + -` and `/` between parts, no part starting with
 * a dot), at most 64 bytes. Whether the zone exists is known only where it
 * is loaded (agent/map/tz.c), as for a practice's timezone. */
static int tz_name_valid(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 64 || s[0] == '/' || s[n - 1] == '/') {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '+' || c == '-' || c == '/')) {
            return 0;
        }
        if (c == '/' && s[i + 1] == '/') {
            return 0;
        }
    }
    return 1;
}

/* 1 if every key of obj is in allowed (NULL-terminated); else 0 and *bad. */
static int keys_allowed(json_t *obj, const char *const *allowed, const char **bad)
{
    const char *key;
    json_t *v;

    json_object_foreach(obj, key, v)
    {
        int ok = 0;

        (void)v;
        for (const char *const *a = allowed; *a != NULL; a++) {
            if (strcmp(key, *a) == 0) {
                ok = 1;
                break;
            }
        }
        if (!ok) {
            *bad = key;
            return 0;
        }
    }
    return 1;
}

/* Checks that v is an array of 1..max non-empty strings (min 0 when
 * empty_ok). On failure writes the path of the culprit into path. */
static int check_strings(json_t *v, const char *name, int empty_ok, size_t max, char *path,
                         size_t psize, const char **msg)
{
    size_t i;
    json_t *s;

    snprintf(path, psize, "%s", name);
    if (!json_is_array(v)) {
        *msg = "must be an array of strings";
        return -1;
    }
    if (json_array_size(v) == 0 && !empty_ok) {
        *msg = "must not be empty";
        return -1;
    }
    if (json_array_size(v) > max) {
        *msg = "too many entries";
        return -1;
    }
    json_array_foreach(v, i, s)
    {
        if (!json_is_string(s) || json_string_length(s) == 0) {
            snprintf(path, psize, "%s[%zu]", name, i);
            *msg = "must be a non-empty string";
            return -1;
        }
    }
    return 0;
}

static int check_recognition(json_t *rec, const char *origin, struct ds_error *err)
{
    static const char *const keys[] = {"required", "optional", "aliases", NULL};
    const char *bad = NULL;
    const char *msg = NULL;
    char path[64];
    json_t *v;

    if (!json_is_object(rec)) {
        return tpl_fail(err, DS_EINVAL, origin, "recognition", "missing or not an object");
    }
    if (!keys_allowed(rec, keys, &bad)) {
        snprintf(path, sizeof(path), "recognition.%s", bad);
        return tpl_fail(err, DS_EINVAL, origin, path, "unknown key");
    }
    v = json_object_get(rec, "required");
    if (check_strings(v, "recognition.required", 0, 256, path, sizeof(path), &msg) != 0) {
        return tpl_fail(err, DS_EINVAL, origin, path, v == NULL ? "missing" : msg);
    }
    v = json_object_get(rec, "optional");
    if (v != NULL &&
        check_strings(v, "recognition.optional", 1, 256, path, sizeof(path), &msg) != 0) {
        return tpl_fail(err, DS_EINVAL, origin, path, msg);
    }
    v = json_object_get(rec, "aliases");
    if (v != NULL) {
        const char *key;
        json_t *a;

        if (!json_is_object(v) || json_object_size(v) > 256) {
            return tpl_fail(err, DS_EINVAL, origin, "recognition.aliases",
                            "must be an object of name: [aliases]");
        }
        json_object_foreach(v, key, a)
        {
            char inner[64];

            snprintf(inner, sizeof(inner), "recognition.aliases.%.32s", key);
            if (check_strings(a, inner, 0, TEMPLATE_COLUMNS_MAX, path, sizeof(path), &msg) != 0) {
                return tpl_fail(err, DS_EINVAL, origin, path, msg);
            }
        }
    }
    return 0;
}

static int check_dialect(json_t *d, const char *origin, struct ds_error *err)
{
    static const char *const keys[] = {"delimiter",  "quote",         "encoding",
                                       "date_order", "decimal_comma", NULL};
    static const char *const orders[] = {"MDY", "DMY", "YMD", NULL};
    const char *bad = NULL;
    char path[64];
    json_t *v;

    if (d == NULL) {
        return 0;
    }
    if (!json_is_object(d)) {
        return tpl_fail(err, DS_EINVAL, origin, "dialect", "must be an object");
    }
    if (!keys_allowed(d, keys, &bad)) {
        snprintf(path, sizeof(path), "dialect.%.40s", bad);
        return tpl_fail(err, DS_EINVAL, origin, path, "unknown key");
    }
    v = json_object_get(d, "delimiter");
    if (v != NULL && (!json_is_string(v) || json_string_length(v) != 1 ||
                      strchr(",;\t|", json_string_value(v)[0]) == NULL)) {
        return tpl_fail(err, DS_EINVAL, origin, "dialect.delimiter",
                        "must be one of , ; | or a tab");
    }
    v = json_object_get(d, "quote");
    if (v != NULL && (!json_is_string(v) || json_string_length(v) != 1 ||
                      strchr("\"'~", json_string_value(v)[0]) == NULL)) {
        return tpl_fail(err, DS_EINVAL, origin, "dialect.quote", "must be one of \" ' ~");
    }
    v = json_object_get(d, "encoding");
    if (v != NULL && (!json_is_string(v) || json_string_length(v) == 0)) {
        return tpl_fail(err, DS_EINVAL, origin, "dialect.encoding", "must be a string");
    }
    v = json_object_get(d, "date_order");
    if (v != NULL) {
        int ok = 0;

        for (const char *const *o = orders; json_is_string(v) && *o != NULL; o++) {
            ok |= strcmp(*o, json_string_value(v)) == 0;
        }
        if (!ok) {
            return tpl_fail(err, DS_EINVAL, origin, "dialect.date_order",
                            "must be MDY, DMY or YMD");
        }
    }
    v = json_object_get(d, "decimal_comma");
    if (v != NULL && !json_is_boolean(v)) {
        return tpl_fail(err, DS_EINVAL, origin, "dialect.decimal_comma", "must be true or false");
    }
    return 0;
}

static int check_rules(json_t *rules, const char *origin, struct ds_error *err)
{
    static const char *const keys[] = {"skip",     "route",   "columns", "values",
                                       "prefixes", "nonzero", "reason",  NULL};
    const char *bad = NULL;
    const char *msg = NULL;
    char path[64];
    char inner[64];
    size_t i;
    json_t *r;
    json_t *v;

    if (rules == NULL) {
        return 0;
    }
    if (!json_is_array(rules) || json_array_size(rules) > 64) {
        return tpl_fail(err, DS_EINVAL, origin, "rules", "must be an array (at most 64)");
    }
    json_array_foreach(rules, i, r)
    {
        snprintf(path, sizeof(path), "rules[%zu]", i);
        if (!json_is_object(r) || !keys_allowed(r, keys, &bad)) {
            return tpl_fail(err, DS_EINVAL, origin, path, "must be an object of known keys");
        }
        if ((json_object_get(r, "skip") != NULL) == (json_object_get(r, "route") != NULL)) {
            return tpl_fail(err, DS_EINVAL, origin, path,
                            "needs exactly one of \"skip\": true or \"route\": \"<template id>\"");
        }
        v = json_object_get(r, "skip");
        if (v != NULL && !json_is_true(v)) {
            return tpl_fail(err, DS_EINVAL, origin, path, "skip must be true");
        }
        v = json_object_get(r, "route");
        if (v != NULL && (!json_is_string(v) || !id_valid(json_string_value(v)))) {
            return tpl_fail(err, DS_EINVAL, origin, path, "route must be a template id");
        }
        snprintf(inner, sizeof(inner), "rules[%zu].columns", i);
        v = json_object_get(r, "columns");
        if (check_strings(v, inner, 0, TEMPLATE_COLUMNS_MAX, path, sizeof(path), &msg) != 0) {
            return tpl_fail(err, DS_EINVAL, origin, path, v == NULL ? "missing" : msg);
        }
        snprintf(inner, sizeof(inner), "rules[%zu].values", i);
        v = json_object_get(r, "values");
        if (v != NULL && check_strings(v, inner, 0, 256, path, sizeof(path), &msg) != 0) {
            return tpl_fail(err, DS_EINVAL, origin, path, msg);
        }
        snprintf(inner, sizeof(inner), "rules[%zu].prefixes", i);
        v = json_object_get(r, "prefixes");
        if (v != NULL && check_strings(v, inner, 0, 256, path, sizeof(path), &msg) != 0) {
            return tpl_fail(err, DS_EINVAL, origin, path, msg);
        }
        v = json_object_get(r, "nonzero");
        if (v != NULL && !json_is_boolean(v)) {
            snprintf(path, sizeof(path), "rules[%zu].nonzero", i);
            return tpl_fail(err, DS_EINVAL, origin, path, "must be true or false");
        }
        if (json_object_get(r, "values") == NULL && json_object_get(r, "prefixes") == NULL &&
            !json_is_true(json_object_get(r, "nonzero"))) {
            snprintf(path, sizeof(path), "rules[%zu]", i);
            return tpl_fail(err, DS_EINVAL, origin, path, "needs values, prefixes or nonzero");
        }
        v = json_object_get(r, "reason");
        if (v != NULL && (!json_is_string(v) || json_string_length(v) > 64)) {
            snprintf(path, sizeof(path), "rules[%zu].reason", i);
            return tpl_fail(err, DS_EINVAL, origin, path, "must be a string (at most 64)");
        }
    }
    return 0;
}

/* Checks one entry of "fields". */
static int check_field(const char *name, json_t *f, const char *const *canon, const char *origin,
                       struct ds_error *err)
{
    static const char *const keys[] = {
        "columns", "transform", "required", "date",    "time",     "hour",    "minute",
        "split",   "part",      "map",      "default", "multiply", "pattern", "enum",
        "min",     "max",       "unique",   "pick",    "extract",  "join",    NULL};
    static const char *const lists[] = {"date", "time", "hour", "minute", "enum", NULL};
    const char *bad = NULL;
    const char *msg = NULL;
    char path[96];
    char inner[96];
    json_t *v;
    int known = 0;

    snprintf(path, sizeof(path), "fields.%.40s", name);
    for (const char *const *c = canon; *c != NULL; c++) {
        if (strcmp(*c, name) == 0) {
            known = 1;
            break;
        }
    }
    if (!known) {
        return tpl_fail(err, DS_EINVAL, origin, path, "not a canonical field of the import type");
    }
    if (!json_is_object(f)) {
        return tpl_fail(err, DS_EINVAL, origin, path, "must be an object");
    }
    if (!keys_allowed(f, keys, &bad)) {
        snprintf(path, sizeof(path), "fields.%.40s.%.40s", name, bad);
        return tpl_fail(err, DS_EINVAL, origin, path, "unknown key");
    }
    v = json_object_get(f, "columns");
    snprintf(inner, sizeof(inner), "fields.%.40s.columns", name);
    if ((v != NULL || json_object_get(f, "date") == NULL) &&
        check_strings(v, inner, 0, TEMPLATE_COLUMNS_MAX, path, sizeof(path), &msg) != 0) {
        return tpl_fail(err, DS_EINVAL, origin, path, v == NULL ? "missing" : msg);
    }
    for (const char *const *l = lists; *l != NULL; l++) {
        v = json_object_get(f, *l);
        snprintf(inner, sizeof(inner), "fields.%.40s.%s", name, *l);
        if (v != NULL &&
            check_strings(v, inner, 0, TEMPLATE_COLUMNS_MAX, path, sizeof(path), &msg) != 0) {
            return tpl_fail(err, DS_EINVAL, origin, path, msg);
        }
    }
    if (json_object_get(f, "date") != NULL && json_object_get(f, "time") == NULL &&
        json_object_get(f, "hour") == NULL) {
        snprintf(path, sizeof(path), "fields.%.40s.date", name);
        return tpl_fail(err, DS_EINVAL, origin, path, "an instant needs time or hour columns too");
    }
    v = json_object_get(f, "transform");
    if (v != NULL && (!json_is_string(v) || ds_norm_lookup_opt(json_string_value(v)) == NULL)) {
        snprintf(path, sizeof(path), "fields.%.40s.transform", name);
        return tpl_fail(err, DS_EINVAL, origin, path, "unknown transform");
    }
    v = json_object_get(f, "split");
    if (v != NULL && (!json_is_string(v) || (strcmp(json_string_value(v), "last_first") != 0 &&
                                             strcmp(json_string_value(v), "first_last") != 0))) {
        snprintf(path, sizeof(path), "fields.%.40s.split", name);
        return tpl_fail(err, DS_EINVAL, origin, path, "must be last_first or first_last");
    }
    v = json_object_get(f, "part");
    if ((v != NULL) != (json_object_get(f, "split") != NULL) ||
        (v != NULL && (!json_is_string(v) || (strcmp(json_string_value(v), "last") != 0 &&
                                              strcmp(json_string_value(v), "first") != 0)))) {
        snprintf(path, sizeof(path), "fields.%.40s.part", name);
        return tpl_fail(err, DS_EINVAL, origin, path, "split needs part: last or first");
    }
    v = json_object_get(f, "map");
    if (v != NULL) {
        const char *key;
        json_t *to;

        snprintf(path, sizeof(path), "fields.%.40s.map", name);
        if (!json_is_object(v) || json_object_size(v) > 256) {
            return tpl_fail(err, DS_EINVAL, origin, path, "must be an object of strings");
        }
        json_object_foreach(v, key, to)
        {
            if (!json_is_string(to)) {
                return tpl_fail(err, DS_EINVAL, origin, path, "must be an object of strings");
            }
        }
    }
    v = json_object_get(f, "default");
    if (v != NULL && (!json_is_string(v) || json_string_length(v) == 0)) {
        snprintf(path, sizeof(path), "fields.%.40s.default", name);
        return tpl_fail(err, DS_EINVAL, origin, path, "must be a non-empty string");
    }
    v = json_object_get(f, "multiply");
    if (v != NULL &&
        (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 1440)) {
        snprintf(path, sizeof(path), "fields.%.40s.multiply", name);
        return tpl_fail(err, DS_EINVAL, origin, path, "must be a whole number from 1 to 1440");
    }
    v = json_object_get(f, "pattern");
    if (v != NULL) {
        struct ds_regex *re = NULL;
        int rc;

        snprintf(path, sizeof(path), "fields.%.40s.pattern", name);
        if (!json_is_string(v) || json_string_length(v) > 256) {
            return tpl_fail(err, DS_EINVAL, origin, path, "not a valid regular expression");
        }
        rc = ds_regex_compile(&re, json_string_value(v), 0);
        if (rc == DS_ENOMEM) {
            return tpl_fail(err, rc, origin, path, "out of memory");
        }
        if (rc != 0) {
            return tpl_fail(err, DS_EINVAL, origin, path, "not a valid regular expression");
        }
        ds_regex_free(&re);
    }
    if ((json_object_get(f, "min") != NULL && !json_is_number(json_object_get(f, "min"))) ||
        (json_object_get(f, "max") != NULL && !json_is_number(json_object_get(f, "max")))) {
        snprintf(path, sizeof(path), "fields.%.40s", name);
        return tpl_fail(err, DS_EINVAL, origin, path, "min and max must be numbers");
    }
    v = json_object_get(f, "pick");
    if (v != NULL) {
        snprintf(path, sizeof(path), "fields.%.40s.pick", name);
        if (!json_is_string(v) || (strcmp(json_string_value(v), "header") != 0 &&
                                   strcmp(json_string_value(v), "value") != 0 &&
                                   strcmp(json_string_value(v), "nonzero") != 0 &&
                                   strcmp(json_string_value(v), "nonzero_column") != 0)) {
            return tpl_fail(err, DS_EINVAL, origin, path,
                            "must be header, value, nonzero or nonzero_column");
        }
        if (json_object_get(f, "date") != NULL || json_object_get(f, "split") != NULL) {
            return tpl_fail(err, DS_EINVAL, origin, path,
                            "a picked column cannot be combined with date or split");
        }
    }
    v = json_object_get(f, "extract");
    if (v != NULL) {
        struct ds_regex *re = NULL;
        int ok;
        int rc;

        snprintf(path, sizeof(path), "fields.%.40s.extract", name);
        if (!json_is_string(v) || json_string_length(v) > 256) {
            return tpl_fail(err, DS_EINVAL, origin, path, "not a valid regular expression");
        }
        rc = ds_regex_compile(&re, json_string_value(v), DS_REGEX_GROUPS);
        if (rc == DS_ENOMEM) {
            return tpl_fail(err, rc, origin, path, "out of memory");
        }
        if (rc != 0) {
            return tpl_fail(err, DS_EINVAL, origin, path, "not a valid regular expression");
        }
        ok = ds_regex_groups(re) == 1;
        ds_regex_free(&re);
        if (!ok) {
            return tpl_fail(err, DS_EINVAL, origin, path, "must have exactly one group");
        }
        if (json_object_get(f, "date") != NULL || json_object_get(f, "split") != NULL) {
            return tpl_fail(err, DS_EINVAL, origin, path, "cannot be combined with date or split");
        }
    }
    v = json_object_get(f, "join");
    if (v != NULL) {
        snprintf(path, sizeof(path), "fields.%.40s.join", name);
        if (!json_is_string(v) || json_string_length(v) > 8) {
            return tpl_fail(err, DS_EINVAL, origin, path, "must be a string (at most 8 bytes)");
        }
        if (json_object_get(f, "date") != NULL || json_object_get(f, "split") != NULL ||
            json_object_get(f, "pick") != NULL) {
            return tpl_fail(err, DS_EINVAL, origin, path,
                            "cannot be combined with date, split or pick");
        }
    }
    v = json_object_get(f, "required");
    if (v != NULL && !json_is_boolean(v)) {
        snprintf(path, sizeof(path), "fields.%.40s.required", name);
        return tpl_fail(err, DS_EINVAL, origin, path, "must be true or false");
    }
    v = json_object_get(f, "unique");
    if (v != NULL && !json_is_boolean(v)) {
        snprintf(path, sizeof(path), "fields.%.40s.unique", name);
        return tpl_fail(err, DS_EINVAL, origin, path, "must be true or false");
    }
    return 0;
}

/* A NULL-terminated copy of the strings of a JSON array (NULL for no
 * array), remembered in t->lists. DS_ENOMEM. */
static int str_list(struct ds_template *t, json_t *arr, const char *const **out)
{
    const char **l;
    void **grown;
    size_t i;
    json_t *s;

    *out = NULL;
    if (arr == NULL) {
        return 0;
    }
    l = ds_calloc(json_array_size(arr) + 1, sizeof(*l));
    grown = ds_realloc(t->lists, (t->nlists + 1) * sizeof(*grown));
    if (grown != NULL) {
        t->lists = grown;
    }
    if (l == NULL || grown == NULL) {
        ds_free(l);
        return DS_ENOMEM;
    }
    t->lists[t->nlists++] = l;
    json_array_foreach(arr, i, s)
    {
        l[i] = json_string_value(s);
    }
    *out = l;
    return 0;
}

/* The keys and the values of a value map as two lists; the JSON strings
 * they point to are kept alive in t->kept. */
static int map_lists(struct ds_template *t, json_t *map, struct ds_template_field *f)
{
    json_t *keys = json_array();
    json_t *vals = json_array();
    const char *key;
    json_t *to;
    int rc = 0;

    if (keys == NULL || vals == NULL || json_array_append(t->kept, keys) != 0 ||
        json_array_append(t->kept, vals) != 0) {
        rc = DS_ENOMEM;
        goto out;
    }
    json_object_foreach(map, key, to)
    {
        if (json_array_append_new(keys, json_string(key)) != 0 ||
            json_array_append(vals, to) != 0) {
            rc = DS_ENOMEM;
            goto out;
        }
    }
    rc = str_list(t, keys, &f->map_from);
    if (rc == 0) {
        rc = str_list(t, vals, &f->map_to);
    }
out:
    json_decref(keys);
    json_decref(vals);
    return rc;
}

/* Builds t->fields and t->columns from the checked "fields" object. */
static int build_fields(struct ds_template *t, json_t *fields, const char *const *canon)
{
    size_t ncols = 0;
    size_t k = 0;
    size_t c = 0;
    const char *key;
    json_t *f;

    json_object_foreach(fields, key, f)
    {
        (void)key;
        ncols += json_array_size(json_object_get(f, "columns")) +
                 json_array_size(json_object_get(f, "date")) + 1;
    }
    t->fields = ds_calloc(json_object_size(fields) + 1, sizeof(*t->fields));
    t->columns = ds_calloc(ncols + 1, sizeof(*t->columns));
    if (t->fields == NULL || t->columns == NULL) {
        return DS_ENOMEM;
    }
    for (const char *const *name = canon; *name != NULL; name++) {
        json_t *v;
        json_t *col;
        size_t i;

        f = json_object_get(fields, *name);
        if (f == NULL) {
            continue;
        }
        t->fields[k].name = *name;
        t->fields[k].columns = t->columns + c;
        json_array_foreach(json_object_get(f, "columns"), i, col)
        {
            t->columns[c++] = json_string_value(col);
        }
        json_array_foreach(
            json_object_get(f, "columns") != NULL ? NULL : json_object_get(f, "date"), i, col)
        {
            t->columns[c++] = json_string_value(col);
        }
        t->columns[c++] = NULL;
        v = json_object_get(f, "transform");
        t->fields[k].transform = v != NULL ? json_string_value(v) : "text";
        t->fields[k].required = json_is_true(json_object_get(f, "required"));
        if (str_list(t, json_object_get(f, "time"), &t->fields[k].time_columns) != 0 ||
            str_list(t, json_object_get(f, "hour"), &t->fields[k].hour_columns) != 0 ||
            str_list(t, json_object_get(f, "minute"), &t->fields[k].minute_columns) != 0 ||
            str_list(t, json_object_get(f, "enum"), &t->fields[k].enum_values) != 0) {
            return DS_ENOMEM;
        }
        if (json_object_get(f, "date") != NULL && v == NULL) {
            t->fields[k].transform = "datetime";
        }
        t->fields[k].split = json_string_value(json_object_get(f, "split"));
        t->fields[k].part = json_string_value(json_object_get(f, "part"));
        if (json_object_get(f, "map") != NULL &&
            map_lists(t, json_object_get(f, "map"), &t->fields[k]) != 0) {
            return DS_ENOMEM;
        }
        t->fields[k].default_value = json_string_value(json_object_get(f, "default"));
        v = json_object_get(f, "multiply");
        t->fields[k].multiply = v != NULL ? (long)json_integer_value(v) : 1;
        t->fields[k].pattern = json_string_value(json_object_get(f, "pattern"));
        v = json_object_get(f, "min");
        t->fields[k].has_min = v != NULL;
        t->fields[k].min = v != NULL ? json_number_value(v) : 0;
        v = json_object_get(f, "max");
        t->fields[k].has_max = v != NULL;
        t->fields[k].max = v != NULL ? json_number_value(v) : 0;
        t->fields[k].unique = json_is_true(json_object_get(f, "unique"));
        t->fields[k].pick = json_string_value(json_object_get(f, "pick"));
        t->fields[k].extract = json_string_value(json_object_get(f, "extract"));
        t->fields[k].join = json_string_value(json_object_get(f, "join"));
        k++;
    }
    t->nfields = k;
    return 0;
}

/* Builds t->rules, t->required, t->optional and t->dialect. */
static int build_rest(struct ds_template *t)
{
    json_t *rec = json_object_get(t->root, "recognition");
    json_t *rules = json_object_get(t->root, "rules");
    json_t *d = json_object_get(t->root, "dialect");
    const char *const *l = NULL;
    size_t i;
    json_t *r;

    if (str_list(t, json_object_get(rec, "required"), &l) != 0) {
        return DS_ENOMEM;
    }
    t->required = (const char **)l;
    l = NULL;
    if (json_object_get(rec, "optional") != NULL &&
        str_list(t, json_object_get(rec, "optional"), &l) != 0) {
        return DS_ENOMEM;
    }
    t->optional = (const char **)l;
    if (rules != NULL) {
        t->rules = ds_calloc(json_array_size(rules) + 1, sizeof(*t->rules));
        if (t->rules == NULL) {
            return DS_ENOMEM;
        }
        json_array_foreach(rules, i, r)
        {
            struct ds_template_rule *dr = &t->rules[i];

            dr->kind = json_object_get(r, "skip") != NULL ? DS_RULE_SKIP : DS_RULE_ROUTE;
            if (str_list(t, json_object_get(r, "columns"), &dr->columns) != 0 ||
                str_list(t, json_object_get(r, "values"), &dr->values) != 0 ||
                str_list(t, json_object_get(r, "prefixes"), &dr->prefixes) != 0) {
                return DS_ENOMEM;
            }
            dr->nonzero = json_is_true(json_object_get(r, "nonzero"));
            dr->reason = json_string_value(json_object_get(r, "reason"));
            if (dr->reason == NULL) {
                dr->reason = "a template rule";
            }
            dr->target = json_string_value(json_object_get(r, "route"));
        }
        t->nrules = json_array_size(rules);
    }
    if (d != NULL) {
        const char *v = json_string_value(json_object_get(d, "delimiter"));

        t->dialect.delimiter = v != NULL ? (unsigned char)v[0] : 0;
        v = json_string_value(json_object_get(d, "quote"));
        t->dialect.quote = v != NULL ? (unsigned char)v[0] : 0;
        t->dialect.encoding = json_string_value(json_object_get(d, "encoding"));
        t->dialect.date_order = json_string_value(json_object_get(d, "date_order"));
        t->dialect.decimal_comma = json_is_true(json_object_get(d, "decimal_comma"));
    }
    return 0;
}

int ds_template_parse(const char *json, size_t len, const char *origin, struct ds_template **out,
                      struct ds_error *err)
{
    static const char *const keys[] = {"id",          "name",   "description", "import_type",
                                       "recognition", "fields", "dialect",     "rules",
                                       "time_zone",   NULL};
    struct ds_template *t = NULL;
    const char *const *canon;
    const char *bad = NULL;
    json_error_t jerr;
    json_t *fields;
    json_t *v;
    const char *key;
    char path[64];
    int rc = 0;

    *out = NULL;
    if (len > TEMPLATE_MAX_BYTES) {
        rc = tpl_fail(err, DS_ETOOBIG, origin, "", "template larger than 1 MiB");
        goto out;
    }
    t = ds_calloc(1, sizeof(*t));
    if (t != NULL) {
        t->kept = json_array();
    }
    if (t == NULL || t->kept == NULL) {
        rc = tpl_fail(err, DS_ENOMEM, origin, "", "out of memory");
        goto out;
    }
    t->root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (t->root == NULL) {
        rc = tpl_fail(err, DS_EPARSE, origin, "", "not valid JSON");
        if (err != NULL) {
            err->row = jerr.line;
            snprintf(err->msg, sizeof(err->msg), "not valid JSON: %s", jerr.text);
        }
        goto out;
    }
    if (!json_is_object(t->root)) {
        rc = tpl_fail(err, DS_EINVAL, origin, "", "a template must be a JSON object");
        goto out;
    }
    if (!keys_allowed(t->root, keys, &bad)) {
        rc = tpl_fail(err, DS_EINVAL, origin, bad, "unknown key");
        goto out;
    }
    v = json_object_get(t->root, "id");
    if (!json_is_string(v) || !id_valid(json_string_value(v))) {
        rc = tpl_fail(err, DS_EINVAL, origin, "id",
                      "missing, or not 1-64 of the characters A-Z a-z 0-9 . _ -");
        goto out;
    }
    t->id = json_string_value(v);
    v = json_object_get(t->root, "name");
    if (v != NULL && !json_is_string(v)) {
        rc = tpl_fail(err, DS_EINVAL, origin, "name", "must be a string");
        goto out;
    }
    t->name = v != NULL ? json_string_value(v) : t->id;
    v = json_object_get(t->root, "description");
    if (v != NULL && !json_is_string(v)) {
        rc = tpl_fail(err, DS_EINVAL, origin, "description", "must be a string");
        goto out;
    }
    v = json_object_get(t->root, "import_type");
    canon = json_is_string(v) ? ds_map_canonical_fields(json_string_value(v)) : NULL;
    if (canon == NULL) {
        rc = tpl_fail(err, DS_EINVAL, origin, "import_type",
                      "missing, or not an import type (patients, appointments, treatments, "
                      "financial)");
        goto out;
    }
    t->import_type = json_string_value(v);
    v = json_object_get(t->root, "time_zone");
    if (v != NULL && (!json_is_string(v) || !tz_name_valid(json_string_value(v)))) {
        rc = tpl_fail(err, DS_EINVAL, origin, "time_zone",
                      "must be \"UTC\" or an IANA zone name such as \"Europe/Berlin\"");
        goto out;
    }
    t->time_zone = v != NULL ? json_string_value(v) : NULL;
    rc = check_recognition(json_object_get(t->root, "recognition"), origin, err);
    if (rc == 0) {
        rc = check_dialect(json_object_get(t->root, "dialect"), origin, err);
    }
    if (rc == 0) {
        rc = check_rules(json_object_get(t->root, "rules"), origin, err);
    }
    if (rc != 0) {
        goto out;
    }
    fields = json_object_get(t->root, "fields");
    if (!json_is_object(fields) || json_object_size(fields) == 0) {
        rc = tpl_fail(err, DS_EINVAL, origin, "fields", "missing, empty or not an object");
        goto out;
    }
    json_object_foreach(fields, key, v)
    {
        rc = check_field(key, v, canon, origin, err);
        if (rc != 0) {
            goto out;
        }
    }
    rc = build_fields(t, fields, canon);
    if (rc == 0) {
        rc = build_rest(t);
    }
    if (rc != 0) {
        snprintf(path, sizeof(path), "fields");
        rc = tpl_fail(err, rc, origin, path, "out of memory");
        goto out;
    }
    *out = t;
    t = NULL;
out:
    ds_template_free(&t);
    return rc;
}

/* Reads a template file into buf. DS_ENOTFOUND if it does not exist. */
static int read_file(const char *path, struct ds_buf *buf, struct ds_error *err)
{
    char block[8192];
    FILE *f = NULL;
    size_t n;
    int rc = 0;

    f = fopen(path, "rbe");
    if (f == NULL) {
        rc = errno == ENOENT ? DS_ENOTFOUND : DS_EIO;
        if (rc == DS_EIO) {
            tpl_fail(err, rc, path, "", "cannot open the template");
        }
        goto out;
    }
    for (;;) {
        n = fread(block, 1, sizeof(block), f);
        if (n > 0) {
            rc = ds_buf_append(buf, block, n);
            if (rc != 0) {
                tpl_fail(err, rc, path, "",
                         rc == DS_ETOOBIG ? "template larger than 1 MiB" : "out of memory");
                goto out;
            }
        }
        if (n < sizeof(block)) {
            break;
        }
    }
    if (ferror(f)) {
        rc = tpl_fail(err, DS_EIO, path, "", "cannot read the template");
        goto out;
    }
out:
    if (f != NULL) {
        fclose(f);
    }
    return rc;
}

int ds_template_load(const char *path, struct ds_template **out, struct ds_error *err)
{
    struct ds_buf buf;
    int rc;

    *out = NULL;
    ds_buf_init(&buf, TEMPLATE_MAX_BYTES);
    rc = read_file(path, &buf, err);
    if (rc == DS_ENOTFOUND) {
        tpl_fail(err, rc, path, "", "no such file");
    }
    if (rc == 0) {
        rc = ds_template_parse(buf.data != NULL ? buf.data : "", buf.len, path, out, err);
    }
    ds_buf_close(&buf);
    return rc;
}

/* Parses and checks that the template's id is the one asked for. */
static int parse_as(const char *json, size_t len, const char *origin, const char *id,
                    struct ds_template **out, struct ds_error *err)
{
    int rc = ds_template_parse(json, len, origin, out, err);

    if (rc == 0 && strcmp(ds_template_id(*out), id) != 0) {
        ds_template_free(out);
        rc = tpl_fail(err, DS_EINVAL, origin, "id", "does not match the file name");
    }
    return rc;
}

int ds_template_find_in(const char *const *dirs, size_t ndirs, const char *id,
                        struct ds_template **out, struct ds_error *err)
{
    struct ds_buf buf;
    char path[4096];
    char name[TEMPLATE_ID_MAX + 8];
    char origin[TEMPLATE_ID_MAX + 16];
    int n;
    int rc = 0;

    *out = NULL;
    ds_buf_init(&buf, TEMPLATE_MAX_BYTES);
    if (id == NULL || !id_valid(id)) {
        rc = tpl_fail(err, DS_EINVAL, "", "id", "not a valid template id");
        goto out;
    }
    snprintf(name, sizeof(name), "%s.json", id);
    for (size_t k = ndirs; k-- > 0;) {
        const char *dir = dirs[k];

        if (dir == NULL) {
            continue;
        }
        n = snprintf(path, sizeof(path), "%s/%s", dir, name);
        if (n < 0 || (size_t)n >= sizeof(path)) {
            rc = tpl_fail(err, DS_EINVAL, dir, "template_dir", "path too long");
            goto out;
        }
        rc = read_file(path, &buf, err);
        if (rc == 0) {
            rc = parse_as(buf.data != NULL ? buf.data : "", buf.len, path, id, out, err);
            goto out;
        }
        if (rc != DS_ENOTFOUND) {
            goto out;
        }
    }
    for (size_t i = 0; ds_builtin_templates_names[i] != NULL; i++) {
        if (strcmp(ds_builtin_templates_names[i], name) == 0) {
            snprintf(origin, sizeof(origin), "builtin:%s", name);
            rc = parse_as(ds_builtin_templates[i], strlen(ds_builtin_templates[i]), origin, id, out,
                          err);
            goto out;
        }
    }
    rc = tpl_fail(err, DS_ENOTFOUND, "", "id", "no template with this id");
out:
    ds_buf_close(&buf);
    return rc;
}

int ds_template_find(const char *dir, const char *id, struct ds_template **out,
                     struct ds_error *err)
{
    return ds_template_find_in(&dir, 1, id, out, err);
}

void ds_template_list_free(struct ds_template ***list, size_t n)
{
    if (list == NULL || *list == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        ds_template_free(&(*list)[i]);
    }
    ds_free(*list);
    *list = NULL;
}

/* Appends t to the list, replacing one with the same id. Steals t. */
static int list_put(struct ds_template ***list, size_t *n, struct ds_template **t)
{
    struct ds_template **grown;

    for (size_t i = 0; i < *n; i++) {
        if (strcmp(ds_template_id((*list)[i]), ds_template_id(*t)) == 0) {
            ds_template_free(&(*list)[i]);
            (*list)[i] = *t;
            *t = NULL;
            return 0;
        }
    }
    grown = ds_realloc(*list, (*n + 1) * sizeof(*grown));
    if (grown == NULL) {
        ds_template_free(t);
        return DS_ENOMEM;
    }
    *list = grown;
    grown[(*n)++] = *t;
    *t = NULL;
    return 0;
}

int ds_template_list_in(const char *const *dirs, size_t ndirs, struct ds_template ***out, size_t *n,
                        struct ds_error *err)
{
    struct ds_template **list = NULL;
    struct ds_template *t = NULL;
    struct dirent *de;
    struct ds_buf buf;
    DIR *d = NULL;
    char origin[TEMPLATE_ID_MAX + 16];
    char path[4096];
    size_t count = 0;
    int rc = 0;

    *out = NULL;
    *n = 0;
    ds_buf_init(&buf, TEMPLATE_MAX_BYTES);
    for (size_t i = 0; ds_builtin_templates_names[i] != NULL; i++) {
        snprintf(origin, sizeof(origin), "builtin:%.60s", ds_builtin_templates_names[i]);
        rc = ds_template_parse(ds_builtin_templates[i], strlen(ds_builtin_templates[i]), origin, &t,
                               err);
        if (rc == 0) {
            rc = list_put(&list, &count, &t);
        }
        if (rc != 0) {
            goto out;
        }
    }
    for (size_t k = 0; k < ndirs; k++) {
        const char *dir = dirs[k];

        if (dir == NULL) {
            continue;
        }
        d = opendir(dir);
        if (d == NULL && errno == ENOENT) {
            /* Normal for the practice's saved templates until the first
             * pull from the cloud makes the directory. */
            ds_log_debug("TEMPLATE_DIR_ABSENT", "templates: no template directory %s (yet)", dir);
            continue;
        }
        if (d == NULL) {
            ds_log_warn("TEMPLATE_DIR_UNREADABLE",
                        "templates: cannot read the template directory %s: %s", dir,
                        strerror(errno));
            continue;
        }
        while (d != NULL) {
            size_t len;
            struct ds_error perr;

            de = readdir(d);
            if (de == NULL) {
                break;
            }
            len = strlen(de->d_name);
            if (len < 6 || strcmp(de->d_name + len - 5, ".json") != 0 || de->d_name[0] == '.') {
                continue;
            }
            snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
            ds_buf_reset(&buf);
            rc = read_file(path, &buf, &perr);
            if (rc == 0) {
                rc = ds_template_parse(buf.data != NULL ? buf.data : "", buf.len, path, &t, &perr);
            }
            if (rc != 0) {
                char msg[512];

                ds_log_warn("TEMPLATE_INVALID", "templates: %s skipped: %s", de->d_name,
                            ds_error_format(&perr, msg, sizeof(msg)));
                rc = 0;
                continue;
            }
            rc = list_put(&list, &count, &t);
            if (rc != 0) {
                goto out;
            }
        }
        closedir(d);
        d = NULL;
    }
    *out = list;
    *n = count;
    list = NULL;
out:
    if (d != NULL) {
        closedir(d);
    }
    ds_buf_close(&buf);
    ds_template_list_free(&list, count);
    return rc;
}

int ds_template_list(const char *dir, struct ds_template ***out, size_t *n, struct ds_error *err)
{
    return ds_template_list_in(&dir, 1, out, n, err);
}

const char *ds_template_id(const struct ds_template *t)
{
    return t->id;
}

const char *ds_template_name(const struct ds_template *t)
{
    return t->name;
}

const char *const *ds_template_required_headers(const struct ds_template *t)
{
    return t->required;
}

const char *const *ds_template_optional_headers(const struct ds_template *t)
{
    static const char *const none[] = {NULL};

    return t->optional != NULL ? t->optional : none;
}

const char *const *ds_template_header_aliases(const struct ds_template *t, const char *name)
{
    json_t *a =
        json_object_get(json_object_get(json_object_get(t->root, "recognition"), "aliases"), name);
    const char *const *l = NULL;

    if (a == NULL) {
        return NULL;
    }
    /* Built on demand: detection asks once per recognition name and file. */
    for (size_t i = 0; i < t->nlists; i++) {
        const char *const *cand = t->lists[i];

        if (cand[0] != NULL && cand[0] == json_string_value(json_array_get(a, 0))) {
            return cand;
        }
    }
    if (str_list((struct ds_template *)t, a, &l) != 0) {
        return NULL;
    }
    return l;
}

const struct ds_template_dialect *ds_template_dialect(const struct ds_template *t)
{
    return &t->dialect;
}

const char *ds_template_time_zone(const struct ds_template *t)
{
    return t->time_zone;
}

size_t ds_template_nrules(const struct ds_template *t)
{
    return t->nrules;
}

const struct ds_template_rule *ds_template_rule(const struct ds_template *t, size_t i)
{
    return i < t->nrules ? &t->rules[i] : NULL;
}

const char *ds_template_import_type(const struct ds_template *t)
{
    return t->import_type;
}

size_t ds_template_nfields(const struct ds_template *t)
{
    return t->nfields;
}

const struct ds_template_field *ds_template_field(const struct ds_template *t, size_t i)
{
    return i < t->nfields ? &t->fields[i] : NULL;
}

void ds_template_free(struct ds_template **t)
{
    if (t == NULL || *t == NULL) {
        return;
    }
    ds_free((*t)->fields);
    ds_free((*t)->columns);
    for (size_t i = 0; i < (*t)->nlists; i++) {
        ds_free((*t)->lists[i]);
    }
    ds_free((*t)->lists);
    ds_free((*t)->rules);
    json_decref((*t)->kept);
    json_decref((*t)->root);
    ds_free(*t);
    *t = NULL;
}
