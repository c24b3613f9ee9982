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

/* One canonical field's mapping, as the mapper sees it. */
struct ds_template_field {
    const char *name;             /* canonical field name, e.g. "date_of_birth" */
    const char *const *columns;   /* header names accepted for it, NULL-terminated */
    const char *transform;        /* "text", "date", "email", "phone", "gender",
                                     "status", "upper", "lower"; never NULL */
    int required;                 /* non-zero: a row without it is invalid */
};

/* Parses a template from JSON text. origin names it in errors (a file
 * name). new: free with ds_template_free. DS_EPARSE / DS_EINVAL with err. */
int ds_template_parse(const char *json, size_t len, const char *origin, struct ds_template **out,
                      struct ds_error *err);

/* Finds the template with this id: first a file <id>.json in dir (if dir is
 * not NULL), then the built-in ones. new: free with ds_template_free.
 * DS_ENOTFOUND if there is none. */
int ds_template_find(const char *dir, const char *id, struct ds_template **out,
                     struct ds_error *err);

const char *ds_template_id(const struct ds_template *t);          /* borrow */
const char *ds_template_import_type(const struct ds_template *t); /* borrow */
size_t ds_template_nfields(const struct ds_template *t);
const struct ds_template_field *ds_template_field(const struct ds_template *t, size_t i);

void ds_template_free(struct ds_template **t);

#endif
