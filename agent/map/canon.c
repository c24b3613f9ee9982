/*
 * canon.c — the canonical field lists per import type.
 *
 * Only patients is supported so far; appointments, treatments and financial
 * join here together with their mappers, so a template can never name an
 * import type that nothing can map.
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
    NULL,
};

const char *const *ds_map_canonical_fields(const char *import_type)
{
    if (import_type != NULL && strcmp(import_type, "patients") == 0) {
        return patient_fields;
    }
    return NULL;
}
