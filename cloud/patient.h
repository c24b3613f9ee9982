/*
 * patient.h — the canonical patient record on the cloud side: the server's
 * own validation of a record and its upsert by (practice, source key).
 */
#ifndef DSC_PATIENT_H
#define DSC_PATIENT_H

#include <stddef.h>

#include <jansson.h>

#include "cloud/hash.h"

struct dsc_db;

#define DSC_PATIENT_NFIELDS 22

/* A validated record: one value per canonical field, in the order of
 * dsc_patient_field_name(); NULL when absent, null or "". The values are
 * borrowed from the JSON record they were parsed from. */
struct dsc_patient {
    const char *v[DSC_PATIENT_NFIELDS];
};

/* The canonical name of field i (0 <= i < DSC_PATIENT_NFIELDS). */
const char *dsc_patient_field_name(int i);

/* Validates record (a JSON object) into p. On a problem, writes
 * "<field>: <problem>" (never a value) into msg and returns DSC_EINVAL. */
int dsc_patient_parse(json_t *record, struct dsc_patient *p, char *msg, size_t msg_size);

/* Inserts or updates the practice's patient with source key key:
 *   no such key              -> insert, *status "created"
 *   same fingerprint stored  -> nothing, *status "unchanged"
 *   other fingerprint stored -> every field replaced, *status "updated"
 * Writes the patient's id into id. *status is a static string. Must run
 * inside the request's transaction. 0 or a database error. */
int dsc_patient_upsert(struct dsc_db *db, const char *practice_id, const char *key,
                       const char *fingerprint, const struct dsc_patient *p, char id[DSC_UUID_LEN],
                       const char **status);

#endif
