/*
 * map_field.c — the per-field pipeline on one row, in this order: the
 * column's text (or, for a combined instant, date + time or date + hour +
 * minute columns; for a split name, its part; with a pick, the first listed
 * column that qualifies; with a join, every listed column with a value),
 * the extract expression's group, the template's value map (compared like header
 * names), the default when the value is absent, the transform, the
 * multiplier (slot units), then the validation rules (pattern, enum, range,
 * unique within the file). Also the test of a row rule (skip, route), which
 * reads cells the same way.
 */
#include "agent/map/map_int.h"

#include "agent/map/normalize.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

/* 1 if a row rule matches the row (map_int.h). */
int ds__map_rule_matches(const struct ds_mapper *m, const struct map_rule *r,
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

/* The listed columns with a value, in order, joined with f->join into
 * m->part. 0 or DS_ETOOBIG / DS_ENOMEM. */
static int join_cells(struct ds_mapper *m, const struct map_field *f, const struct ds_row *row)
{
    size_t sep = strlen(f->join);
    int any = 0;
    int rc = 0;

    ds_buf_reset(&m->part);
    for (const long *c = f->cols; *c >= 0 && rc == 0; c++) {
        const char *p;
        size_t n;

        cell(row, *c, &p, &n);
        if (n == 0) {
            continue;
        }
        if (any) {
            rc = ds_buf_append(&m->part, f->join, sep);
        }
        if (rc == 0) {
            rc = ds_buf_append(&m->part, p, n);
        }
        any = 1;
    }
    return rc;
}

/* The text the extract expression's group matched in in[0..len), into
 * *in and *len; *len is 0 when it does not match. 0 or DS_ETOOBIG /
 * DS_ENOMEM. */
static int extract_cell(struct ds_mapper *m, const struct map_field *f, const char **in,
                        size_t *len)
{
    size_t so = 0;
    size_t eo = 0;
    int rc = 0;

    if (*in != m->part.data) {
        ds_buf_reset(&m->part);
        rc = ds_buf_append(&m->part, *in, *len);
        if (rc != 0) {
            return rc;
        }
    }
    if (m->part.data == NULL || !ds_regex_group1(f->xre, m->part.data, &so, &eo)) {
        *in = "";
        *len = 0;
        return 0;
    }
    *in = m->part.data + so;
    *len = eo - so;
    ds_norm_trim(in, len);
    return 0;
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
int ds__map_field_value(struct ds_mapper *m, struct map_field *f, const struct ds_row *row,
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
    if (f->pick == PICK_JOIN) {
        rc = join_cells(m, f, row);
        if (rc == DS_ETOOBIG) {
            *problem = "the joined columns are too long";
            return DS_EINVAL;
        }
        if (rc != 0) {
            return rc;
        }
        in = m->part.data != NULL ? m->part.data : "";
        len = m->part.len;
    }
    else if (f->pick != PICK_HEADER) {
        pick_cell(m, f, row, &in, &len);
    }
    else {
        cell(row, f->col, &in, &len);
    }
    if (len > 0 && !row->utf8_checked && !ds_norm_utf8_valid(in, len)) {
        *problem = "not valid UTF-8";
        return DS_EINVAL;
    }
    if (len == 0 && f->defval == NULL && f->split == 0) {
        /* Every transform reads an empty value as absent (test_normalize
         * holds them to it): most columns of an export are empty in most
         * rows, and this is the whole field for them. */
        return DS_NORM_ABSENT;
    }
    if (len > 0 && f->xre != NULL) {
        rc = extract_cell(m, f, &in, &len);
        if (rc != 0) {
            return rc;
        }
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
        rc = ds_buf_append_int(&m->value, v * f->multiply, 0);
        if (rc == 0) {
            rc = DS_NORM_PRESENT;
        }
    }
    return rc;
}

/* The validation rules on a normalized value. 0 or DS_EINVAL with
 * *problem; DS_ENOMEM. */
int ds__map_field_validate(struct map_field *f, const char *v, const char **problem)
{
    if (f->re != NULL && !ds_regex_match(f->re, v)) {
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
