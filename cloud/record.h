/*
 * record.h — the canonical records of the four import types on the cloud
 * side: the server's own validation of a record before dsc_ingest_batch()
 * stores it. docs/protocol.md lists every field and its check.
 */
#ifndef DSC_RECORD_H
#define DSC_RECORD_H

#include <stddef.h>

#include <jansson.h>

enum dsc_record_type {
    DSC_RECORD_PATIENTS,
    DSC_RECORD_APPOINTMENTS,
    DSC_RECORD_TREATMENTS,
    DSC_RECORD_FINANCIAL,
};

/* The type named by an import_type ("patients", "appointments",
 * "treatments", "financial"): 0 and *type, or DSC_EINVAL. */
int dsc_record_type_parse(const char *name, enum dsc_record_type *type);

/* Validates record (a JSON object) as a record of type. On a problem,
 * writes "<field>: <problem>" (never a value) into msg and returns
 * DSC_EINVAL; 0 when the record is acceptable. */
int dsc_record_validate(enum dsc_record_type type, json_t *record, char *msg, size_t msg_size);

/* Every problem of record, as dsc_record_validate finds the first: a new
 * JSON array into *errors of {"field","code","message"} (code by
 * ds_rules_problem_code, proto/rules.h; never a value), empty when the
 * record is acceptable. 0, or DSC_ENOMEM. */
int dsc_record_errors(enum dsc_record_type type, json_t *record, json_t **errors);

#endif
