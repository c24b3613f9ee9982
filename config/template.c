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

#include "agent/core/buf.h"
#include "agent/map/canon.h"
#include "agent/map/normalize.h"

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
    static const char *const keys[] = {"required", "optional", NULL};
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
    return 0;
}

/* Checks one entry of "fields". */
static int check_field(const char *name, json_t *f, const char *const *canon, const char *origin,
                       struct ds_error *err)
{
    static const char *const keys[] = {"columns", "transform", "required", NULL};
    const char *bad = NULL;
    const char *msg = NULL;
    char path[64];
    char inner[64];
    json_t *v;
    int known = 0;

    snprintf(path, sizeof(path), "fields.%s", name);
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
        snprintf(path, sizeof(path), "fields.%s.%s", name, bad);
        return tpl_fail(err, DS_EINVAL, origin, path, "unknown key");
    }
    v = json_object_get(f, "columns");
    snprintf(inner, sizeof(inner), "fields.%s.columns", name);
    if (check_strings(v, inner, 0, TEMPLATE_COLUMNS_MAX, path, sizeof(path), &msg) != 0) {
        return tpl_fail(err, DS_EINVAL, origin, path, v == NULL ? "missing" : msg);
    }
    v = json_object_get(f, "transform");
    if (v != NULL && (!json_is_string(v) || ds_norm_lookup(json_string_value(v)) == NULL)) {
        snprintf(path, sizeof(path), "fields.%s.transform", name);
        return tpl_fail(err, DS_EINVAL, origin, path, "unknown transform");
    }
    v = json_object_get(f, "required");
    if (v != NULL && !json_is_boolean(v)) {
        snprintf(path, sizeof(path), "fields.%s.required", name);
        return tpl_fail(err, DS_EINVAL, origin, path, "must be true or false");
    }
    return 0;
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
        ncols += json_array_size(json_object_get(f, "columns")) + 1;
    }
    t->fields = calloc(json_object_size(fields) + 1, sizeof(*t->fields));
    t->columns = calloc(ncols + 1, sizeof(*t->columns));
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
        t->columns[c++] = NULL;
        v = json_object_get(f, "transform");
        t->fields[k].transform = v != NULL ? json_string_value(v) : "text";
        t->fields[k].required = json_is_true(json_object_get(f, "required"));
        k++;
    }
    t->nfields = k;
    return 0;
}

int ds_template_parse(const char *json, size_t len, const char *origin, struct ds_template **out,
                      struct ds_error *err)
{
    static const char *const keys[] = {"id",          "name",   "description", "import_type",
                                       "recognition", "fields", NULL};
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
    t = calloc(1, sizeof(*t));
    if (t == NULL) {
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
                      "missing, or not a supported import type (patients)");
        goto out;
    }
    t->import_type = json_string_value(v);
    rc = check_recognition(json_object_get(t->root, "recognition"), origin, err);
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

int ds_template_find(const char *dir, const char *id, struct ds_template **out,
                     struct ds_error *err)
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
    if (dir != NULL) {
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

const char *ds_template_id(const struct ds_template *t)
{
    return t->id;
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
    free((*t)->fields);
    free((*t)->columns);
    json_decref((*t)->root);
    free(*t);
    *t = NULL;
}
