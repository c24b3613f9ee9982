/*
 * canon.c — the canonical field lists per import type
 * (../shared/DESIGN.md; docs/protocol.md has the wire records).
 *
 * Appointments, treatments and financial records refer to their patient by
 * patient_external_id and/or the patient's match keys (patient_last_name,
 * patient_first_name, patient_date_of_birth, patient_email,
 * patient_phone). duration_minutes, fee_cents and amount_cents are JSON
 * integers on the wire; every other value is a string.
 */
#include "agent/map/canon.h"

#include <stddef.h>
#include <string.h>

static const char *const patient_fields[] = {
    "external_id",
    "first_name",
    "last_name",
    "middle_name",
    "preferred_name",
    "date_of_birth",
    "gender",
    "email",
    "phone_mobile",
    "phone_home",
    "phone_work",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "postal_code",
    "country",
    "status",
    "provider_external_id",
    "first_visit_date",
    "last_visit_date",
    "notes",
    "location",
    NULL,
};

#define PATIENT_REF                                                                                \
    "patient_external_id", "patient_last_name", "patient_first_name", "patient_date_of_birth",     \
        "patient_email", "patient_phone"

static const char *const appointment_fields[] = {
    "external_id", PATIENT_REF, "start_at",         "end_at", "duration_minutes", "status",
    "provider",    "operatory", "appointment_type", "notes",  "location",         NULL,
};

static const char *const treatment_fields[] = {
    "external_id",
    PATIENT_REF,
    "procedure_code",
    "description",
    "tooth",
    "surface",
    "status",
    "fee_cents",
    "service_date",
    "provider",
    "appointment_external_id",
    "location",
    NULL,
};

static const char *const financial_fields[] = {
    "external_id", PATIENT_REF, "date",        "amount_cents", "kind",
    "method",      "reference", "description", "location",     NULL,
};

static const char *const integer_fields[] = {"duration_minutes", "fee_cents", "amount_cents", NULL};

const char *const *ds_map_canonical_fields(const char *import_type)
{
    if (import_type == NULL) {
        return NULL;
    }
    if (strcmp(import_type, "patients") == 0) {
        return patient_fields;
    }
    if (strcmp(import_type, "appointments") == 0) {
        return appointment_fields;
    }
    if (strcmp(import_type, "treatments") == 0) {
        return treatment_fields;
    }
    if (strcmp(import_type, "financial") == 0) {
        return financial_fields;
    }
    return NULL;
}

int ds_map_field_is_integer(const char *field)
{
    for (const char *const *f = integer_fields; *f != NULL; f++) {
        if (strcmp(*f, field) == 0) {
            return 1;
        }
    }
    return 0;
}
