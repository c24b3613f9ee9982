/*
 * map_errors.c — every problem of a row (map.h): the JSON the queue keeps
 * in items.errors, and what to do about each, for preview, `dentsync job`,
 * the errors CSV and the status page.
 *
 * A suggestion names the canonical field and the kind of problem, never a
 * value nor a header read from the export, so the views that must show no
 * patient data (job, the status page) can show it too.
 */
#include "agent/map/map.h"

#include "agent/core/alloc.h"
#include "agent/core/buf.h"
#include "agent/core/jsonw.h"
#include "proto/rules.h"

#include <stdio.h>
#include <string.h>

#define ERRORS_JSON_MAX ((size_t)DS_MAP_ERRORS_MAX * 2048)

static int put_error(struct ds_buf *b, int first, const char *field, const char *code,
                     const char *message)
{
    int rc = ds_buf_append_str(b, first ? "{\"field\":" : ",{\"field\":");

    if (rc == 0) {
        rc = ds_jsonw_str(b, field);
    }
    if (rc == 0) {
        rc = ds_buf_append_str(b, ",\"code\":");
    }
    if (rc == 0) {
        rc = ds_jsonw_str(b, code);
    }
    if (rc == 0) {
        rc = ds_buf_append_str(b, ",\"message\":");
    }
    if (rc == 0) {
        rc = ds_jsonw_str(b, message);
    }
    if (rc == 0) {
        rc = ds_buf_append(b, "}", 1);
    }
    return rc;
}

int ds_map_errors_json(const struct ds_mapped *out, char **json)
{
    struct ds_buf b;
    int rc;

    *json = NULL;
    ds_buf_init(&b, ERRORS_JSON_MAX);
    rc = ds_buf_append(&b, "[", 1);
    for (size_t i = 0; rc == 0 && i < out->nerrors; i++) {
        rc = put_error(&b, i == 0, out->errors[i].field, out->errors[i].code,
                       out->errors[i].message);
    }
    if (rc == 0 && out->nerrors == 0 && out->error[0] != '\0') {
        char field[64];

        ds_map_message_field(out->error, field, sizeof(field));
        rc = put_error(&b, 1, out->error_field[0] != '\0' ? out->error_field : field,
                       ds_rules_problem_code(out->error), out->error);
    }
    if (rc == 0) {
        rc = ds_buf_append(&b, "]", 1);
    }
    if (rc == 0) {
        *json = ds_buf_steal(&b);
        rc = *json != NULL ? 0 : DS_ENOMEM;
    }
    ds_buf_close(&b);
    return rc;
}

void ds_map_message_field(const char *message, char *buf, size_t size)
{
    const char *colon = message != NULL ? strstr(message, ": ") : NULL;
    size_t n = colon != NULL ? (size_t)(colon - message) : 0;

    if (n == 0 || n >= 64 || strspn(message, "abcdefghijklmnopqrstuvwxyz0123456789_") != n) {
        snprintf(buf, size, "record");
        return;
    }
    snprintf(buf, size, "%.*s", (int)n, message);
}

void ds_map_suggest(const char *field, const char *code, char *buf, size_t size)
{
    const char *f = field != NULL && field[0] != '\0' ? field : "record";
    const char *c = code != NULL ? code : "";

    if (strcmp(c, "REQUIRED") == 0) {
        snprintf(buf, size, "%s is empty: fill it in the practice software and export again", f);
    }
    else if (strcmp(c, "UNKNOWN_VALUE") == 0) {
        snprintf(buf, size,
                 "%s holds a value the template does not know: use one it knows, or add it to "
                 "fields.%s.map in your copy of the template (docs/templates.md)",
                 f, f);
    }
    else if (strcmp(c, "BAD_DATE") == 0) {
        snprintf(buf, size,
                 "%s is not a real date or time: correct it, or check date_order and the time "
                 "zone of the folder",
                 f);
    }
    else if (strcmp(c, "BAD_EMAIL") == 0) {
        snprintf(buf, size, "%s is not an e-mail address: correct it or leave it empty", f);
    }
    else if (strcmp(c, "BAD_PHONE") == 0) {
        snprintf(buf, size,
                 "%s is not a phone number: write it with its area code (check phone_region)", f);
    }
    else if (strcmp(c, "BAD_CODE") == 0) {
        snprintf(buf, size, "%s is not a valid code: correct it in the practice software", f);
    }
    else if (strcmp(c, "TOO_LONG") == 0) {
        snprintf(buf, size, "%s is too long: shorten it in the practice software", f);
    }
    else if (strcmp(c, "BAD_NUMBER") == 0) {
        snprintf(buf, size, "%s is not a number in range: correct it", f);
    }
    else if (strcmp(c, "NOT_UNIQUE") == 0) {
        snprintf(buf, size, "%s repeats a value of another row: each row needs its own", f);
    }
    else if (strcmp(c, "NO_MATCH_KEY") == 0) {
        snprintf(buf, size,
                 "the row has nothing to identify it: give it an id, an e-mail, a phone, or "
                 "last name + first name + date of birth (for other types: the patient's id "
                 "or name)");
    }
    else if (strcmp(c, "UNKNOWN_FIELD") == 0) {
        snprintf(buf, size,
                 "the template maps %s, which this import type does not have: fix "
                 "the template",
                 f);
    }
    else if (strcmp(c, "FIELD_TOO_LONG") == 0 || strcmp(c, "TOO_MANY_COLUMNS") == 0 ||
             strcmp(c, "ROW_TOO_LARGE") == 0) {
        snprintf(buf, size,
                 "the row is over a reader limit and stays out: often a wrong quote or "
                 "delimiter, or a long note (docs/formats.md)");
    }
    else {
        snprintf(buf, size, "correct %s in the practice software and export again", f);
    }
}

void ds_map_suggest_status(const char *status, const char *code, const char *message, char *buf,
                           size_t size)
{
    char field[64];
    const char *st = status != NULL ? status : "";

    if (strcmp(st, "needs_review") == 0) {
        snprintf(buf, size,
                 "the cloud could not tell which record this row is: pick it in the "
                 "cloud's review list");
    }
    else if (strcmp(st, "conflict") == 0) {
        snprintf(buf, size,
                 "the row conflicts with a record the cloud holds (e.g. a "
                 "double-booked chair): resolve it in the cloud application");
    }
    else if (strcmp(st, "duplicate") == 0) {
        snprintf(buf, size, "the same record is twice in the file; the first row was taken");
    }
    else if (strcmp(st, "rejected") == 0 && (code == NULL || strcmp(code, "INVALID_RECORD") != 0)) {
        snprintf(buf, size, "the cloud refused the row: fix the cause it names, then retry");
    }
    else {
        ds_map_message_field(message, field, sizeof(field));
        ds_map_suggest(field,
                       code != NULL && strcmp(code, "INVALID_RECORD") != 0
                           ? code
                           : ds_rules_problem_code(message),
                       buf, size);
    }
}
