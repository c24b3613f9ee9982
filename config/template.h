/*
 * template.h — templates: how a given export's columns become a canonical
 * record of one import type (docs/templates.md).
 *
 * A template is a JSON document. Built-in templates live in
 * config/templates/ and are compiled into the binary; an admin's own live in
 * the config's template_dir and win over a built-in of the same id.
 */
#ifndef DS_CONFIG_TEMPLATE_H
#define DS_CONFIG_TEMPLATE_H

#include "agent/core/error.h"

#include <stddef.h>

struct ds_template; /* opaque */

/* One canonical field's mapping, as the mapper sees it. Lists are
 * NULL-terminated; a list the template does not give is NULL. */
struct ds_template_field {
    const char *name;           /* canonical field name, e.g. "date_of_birth" */
    const char *const *columns; /* header names accepted for it (for a combined
                                   instant: its date columns); never empty */
    const char *transform;      /* a ds_norm_lookup_opt name; never NULL */
    int required;               /* non-zero: a row without it is invalid */
    /* an instant assembled from several columns (transform "datetime") */
    const char *const *time_columns;   /* a time of day, or NULL */
    const char *const *hour_columns;   /* an hour, or NULL */
    const char *const *minute_columns; /* minutes, or NULL */
    const char *split;           /* "last_first" / "first_last": a person's name column, or NULL */
    const char *part;            /* with split: "last" or "first" */
    const char *const *map_from; /* value map: what the export writes ... */
    const char *const *map_to;   /* ... and what it stands for (same length) */
    const char *default_value;   /* used when the value is absent, or NULL */
    long multiply;               /* integer transforms: the value times this (slot units); 1 */
    const char *pattern;         /* POSIX extended regex the value must match, or NULL */
    const char *const *enum_values; /* accepted normalized values, or NULL */
    int has_min, has_max;           /* range checks on numbers */
    double min, max;
    int unique; /* the value must be unique within the file */
    /* Which column a row's value comes from: NULL or "header" the first of
     * columns the header has; per row, "value" the first of them with a
     * value, "nonzero" the first holding an amount other than 0, and
     * "nonzero_column" that column's header name instead of its value. */
    const char *pick;
    /* A POSIX extended regular expression with one group: the value is the
     * text the group matched in the column's text (before the value map),
     * absent when the expression does not match; or NULL. */
    const char *extract;
    /* Every listed column with a value, in the order listed, joined with
     * this text (0-8 bytes); or NULL. */
    const char *join;
};

/* A row rule: rows whose column holds one of the values (compared like
 * header names) or starts with one of the prefixes, or (nonzero) holds an
 * amount other than zero, are skipped with a reason or routed to another
 * template (another import type). */
enum ds_rule_kind {
    DS_RULE_SKIP = 1,
    DS_RULE_ROUTE = 2,
};

struct ds_template_rule {
    enum ds_rule_kind kind;
    const char *const *columns;  /* header names of the column tested */
    const char *const *values;   /* or NULL */
    const char *const *prefixes; /* or NULL */
    int nonzero;                 /* match an amount other than 0 */
    const char *reason;          /* skip: why (no patient data), e.g. "patient note" */
    const char *target;          /* route: the template id the row goes to */
};

/* Parses a template from JSON text. origin names it in errors (a file
 * name). new: free with ds_template_free. DS_EPARSE / DS_EINVAL with err. */
int ds_template_parse(const char *json, size_t len, const char *origin, struct ds_template **out,
                      struct ds_error *err);

/* Reads and parses the template file path, whatever its name (a draft
 * the status page previews). new: free with ds_template_free.
 * DS_ENOTFOUND, DS_EIO, DS_EPARSE, DS_EINVAL with err. */
int ds_template_load(const char *path, struct ds_template **out, struct ds_error *err);

/* Finds the template with this id: first a file <id>.json in dir (if dir is
 * not NULL), then the built-in ones. new: free with ds_template_free.
 * DS_ENOTFOUND if there is none. */
int ds_template_find(const char *dir, const char *id, struct ds_template **out,
                     struct ds_error *err);

/* Every template: the built-in ones and the *.json files of dir (dir may be
 * NULL), a file in dir replacing a built-in of the same id. Files that do
 * not parse are skipped with a warning in the log. new: *out is an array of
 * *n templates, free it with ds_template_list_free. */
int ds_template_list(const char *dir, struct ds_template ***out, size_t *n, struct ds_error *err);
void ds_template_list_free(struct ds_template ***list, size_t n);

/* The same over several directories, in rising precedence: the built-in
 * templates, then dirs[0], dirs[1], … (a NULL entry is skipped); a later
 * one replaces an earlier template of the same id. The agent passes the
 * practice's saved templates pulled from the cloud, then the admin's
 * template_dir. */
int ds_template_find_in(const char *const *dirs, size_t ndirs, const char *id,
                        struct ds_template **out, struct ds_error *err);
int ds_template_list_in(const char *const *dirs, size_t ndirs, struct ds_template ***out, size_t *n,
                        struct ds_error *err);

const char *ds_template_id(const struct ds_template *t);          /* borrow */
const char *ds_template_name(const struct ds_template *t);        /* borrow */
const char *ds_template_import_type(const struct ds_template *t); /* borrow */

/* Recognition: the required and optional header names, NULL-terminated,
 * and the aliases given for a recognition name (NULL if none). borrow. */
const char *const *ds_template_required_headers(const struct ds_template *t);
const char *const *ds_template_optional_headers(const struct ds_template *t);
const char *const *ds_template_header_aliases(const struct ds_template *t, const char *name);

/* Dialect hints: delimiter and quote (0 if not given), encoding and
 * date_order ("MDY", "DMY", "YMD"; NULL if not given), decimal_comma. */
struct ds_template_dialect {
    int delimiter;
    int quote;
    const char *encoding;
    const char *date_order;
    int decimal_comma;
};
const struct ds_template_dialect *ds_template_dialect(const struct ds_template *t);

/* The template's "time_zone" ("UTC" or an IANA name): the zone its local
 * times are read in instead of the practice's; NULL when it gives none.
 * borrow. */
const char *ds_template_time_zone(const struct ds_template *t);

size_t ds_template_nrules(const struct ds_template *t);
const struct ds_template_rule *ds_template_rule(const struct ds_template *t, size_t i);
size_t ds_template_nfields(const struct ds_template *t);
const struct ds_template_field *ds_template_field(const struct ds_template *t, size_t i);

void ds_template_free(struct ds_template **t);

#endif
