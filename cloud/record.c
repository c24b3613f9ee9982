/*
 * record.c — validating canonical records of every import type.
 *
 * The agent validates every record before it sends it; the server checks
 * again because it trusts no input: a record that fails here is answered
 * "rejected" with INVALID_RECORD and touches nothing. The rules are the rule
 * book in proto/rules.c, which the agent's validation applies too: here
 * only the walk over the JSON members, refusing unknown fields so that a
 * template mistake shows instead of silently dropping data.
 * Messages name the field and the problem only, never a value.
 */
#include "cloud/record.h"
#include "cloud/error.h"
#include "proto/rules.h"

#include <stdio.h>
#include <string.h>

_Static_assert(DSC_RECORD_FINANCIAL + 1 == DS_RULES_NTYPES,
               "the record types are the rule book's, in its order");

int dsc_record_type_parse(const char *name, enum dsc_record_type *type)
{
    const struct ds_rules_type *t = ds_rules_type(name);

    if (t == NULL) {
        return DSC_EINVAL;
    }
    *type = (enum dsc_record_type)(t - ds_rules_types);
    return 0;
}

/* Names an unknown member only when it looks like a field name, so the
 * message never echoes arbitrary text from the request. */
static void unknown_field(const char *name, char *msg, size_t msg_size)
{
    size_t n = strlen(name);

    if (n > 0 && n <= 64 && strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") == n) {
        snprintf(msg, msg_size, "%s: unknown field", name);
    }
    else {
        snprintf(msg, msg_size, "record: unknown field");
    }
}

static int check_value(const struct ds_rules_field *f, json_t *value, const char **out, char *msg,
                       size_t msg_size)
{
    char problem[128];
    int rc;

    *out = NULL;
    if (json_is_null(value)) {
        return 0;
    }
    if (json_is_integer(value)) {
        rc = ds_rules_check_int(f, json_integer_value(value), problem, sizeof(problem));
        *out = "1";
    }
    else if (!json_is_string(value)) {
        snprintf(problem, sizeof(problem), "must be %s",
                 f->kind == DS_RULES_INT ? "an integer" : "a string");
        rc = -1;
    }
    else if (json_string_length(value) == 0 && f->kind != DS_RULES_INT) {
        return 0;
    }
    else {
        rc = ds_rules_check_text(f, json_string_value(value), json_string_length(value), problem,
                                 sizeof(problem));
        *out = json_string_value(value);
    }
    if (rc != 0) {
        *out = NULL;
        snprintf(msg, msg_size, "%s: %s", f->name, problem);
        return DSC_EINVAL;
    }
    return 0;
}

/* Adds "<field>: <problem>" to errs (when not NULL) and keeps the first
 * message in msg. */
static int note(json_t *errs, int *n, const char *text, char *msg, size_t msg_size)
{
    char field[72];
    const char *colon = strstr(text, ": ");
    size_t len = colon != NULL ? (size_t)(colon - text) : 0;

    if (*n == 0) {
        snprintf(msg, msg_size, "%s", text);
    }
    (*n)++;
    if (errs == NULL) {
        return 0;
    }
    snprintf(field, sizeof(field), "%.*s", len > 0 && len < 64 ? (int)len : 6,
             len > 0 && len < 64 ? text : "record");
    return json_array_append_new(errs, json_pack("{s:s,s:s,s:s}", "field", field, "code",
                                                 ds_rules_problem_code(text), "message", text)) == 0
               ? 0
               : DSC_ENOMEM;
}

/* Every problem of the record into errs (NULL: only the first, into msg).
 * The rules across fields only when every field is sound, as the agent's
 * validation (agent/map/map.c) does. */
static int walk(enum dsc_record_type type, json_t *record, json_t *errs, char *msg, size_t msg_size)
{
    const struct ds_rules_type *t = &ds_rules_types[type];
    const char *v[DS_RULES_MAX_FIELDS];
    const char *field;
    char problem[256];
    char text[320];
    const char *name;
    json_t *value;
    int n = 0;
    int i;

    memset(v, 0, sizeof(v));
    json_object_foreach(record, name, value)
    {
        i = ds_rules_field_index(t, name);
        if (i < 0) {
            unknown_field(name, text, sizeof(text));
        }
        else if (check_value(&t->fields[i], value, &v[i], text, sizeof(text)) == 0) {
            continue;
        }
        if (note(errs, &n, text, msg, msg_size) != 0) {
            return DSC_ENOMEM;
        }
        if (errs == NULL) {
            return DSC_EINVAL;
        }
    }
    if (n == 0 && ds_rules_check_record(t, v, &field, problem, sizeof(problem)) != 0) {
        snprintf(text, sizeof(text), "%s: %s", field, problem);
        if (note(errs, &n, text, msg, msg_size) != 0) {
            return DSC_ENOMEM;
        }
    }
    return n > 0 ? DSC_EINVAL : 0;
}

int dsc_record_validate(enum dsc_record_type type, json_t *record, char *msg, size_t msg_size)
{
    return walk(type, record, NULL, msg, msg_size);
}

int dsc_record_errors(enum dsc_record_type type, json_t *record, json_t **errors)
{
    char msg[320];
    int rc;

    *errors = json_array();
    if (*errors == NULL) {
        return DSC_ENOMEM;
    }
    rc = walk(type, record, *errors, msg, sizeof(msg));
    if (rc == DSC_ENOMEM) {
        json_decref(*errors);
        *errors = NULL;
        return rc;
    }
    return 0;
}
