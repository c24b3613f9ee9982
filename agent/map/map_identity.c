/*
 * map_identity.c — a row's key (map.h): which fields the key rules look at
 * and their precedence. A patient's key follows a fixed precedence; a field
 * that was present but invalid stops the walk (the key would otherwise jump
 * to a weaker rule and look like another patient):
 *
 *   external_id                      -> "ext:<external_id>"
 *   last_name + first_name + dob     -> "h:" sha256("patients" US "name_dob" US
 *                                        fold(last) US fold(first) US dob)
 *   email                            -> "h:" sha256("patients" US "email" US email)
 *   phone_mobile, _home, _work       -> "h:" sha256("patients" US "phone" US e164)
 *
 * (US is the unit separator 0x1f, fold() is ds_norm_fold.) These strings are
 * part of the wire identity of a row: changing them re-keys every patient.
 *
 * The other import types key on external_id, else on their patient
 * reference and own identity fields (map.h); a row with neither is invalid.
 */
#include "agent/map/map_int.h"

#include "agent/map/normalize.h"

#include <stdio.h>
#include <string.h>

#define MAP_EXT_ID_MAX 64 /* characters in an external id */

/* The fields the key rules of patients look at, by slot. */
static const char *const key_names[K_COUNT] = {
    [K_EXTERNAL_ID] = "external_id",
    [K_LAST_NAME] = "last_name",
    [K_FIRST_NAME] = "first_name",
    [K_DATE_OF_BIRTH] = "date_of_birth",
    [K_EMAIL] = "email",
    [K_PHONE_MOBILE] = "phone_mobile",
    [K_PHONE_HOME] = "phone_home",
    [K_PHONE_WORK] = "phone_work",
};

/* For the other import types the same slots hold the patient reference:
 * external_id stays the record's own id. */
static const char *const ref_names[K_COUNT] = {
    [K_EXTERNAL_ID] = "external_id",
    [K_LAST_NAME] = "patient_last_name",
    [K_FIRST_NAME] = "patient_first_name",
    [K_DATE_OF_BIRTH] = "patient_date_of_birth",
    [K_EMAIL] = "patient_email",
    [K_PHONE_MOBILE] = "patient_phone",
    [K_PHONE_HOME] = NULL,
    [K_PHONE_WORK] = NULL,
};

/* The fields of the record's own identity in the keys of the other import
 * types (map.h), at most MAP_OWN_MAX (m->ownidx holds their indices). */
static const char *const own_appt[] = {"start_at", NULL};
static const char *const own_tx[] = {"procedure_code", "tooth", "surface", "service_date", NULL};
static const char *const own_fin[] = {"date", "amount_cents", "kind", "reference", NULL};

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))
_Static_assert(COUNT_OF(own_appt) - 1 <= MAP_OWN_MAX, "own_appt does not fit m->ownidx");
_Static_assert(COUNT_OF(own_tx) - 1 <= MAP_OWN_MAX, "own_tx does not fit m->ownidx");
_Static_assert(COUNT_OF(own_fin) - 1 <= MAP_OWN_MAX, "own_fin does not fit m->ownidx");
_Static_assert(COUNT_OF(((struct ds_mapper *)0)->ownidx) == MAP_OWN_MAX,
               "m->ownidx holds MAP_OWN_MAX indices");

/* The parts of a key of the other import types: the import type, at most
 * four of the patient reference ("name_dob" and three values), then the
 * record's own identity. */
#define KEY_PARTS_MAX 12
_Static_assert(1 + 4 + MAP_OWN_MAX <= KEY_PARTS_MAX, "a reference key's parts fit");

void ds__map_identity_init(struct ds_mapper *m)
{
    for (int k = 0; k < K_COUNT; k++) {
        m->keyidx[k] = -1;
    }
    m->pidx = -1;
    m->aidx = -1;
    m->own = strcmp(m->import_type, "appointments") == 0 ? own_appt
             : strcmp(m->import_type, "treatments") == 0 ? own_tx
                                                         : own_fin;
    for (size_t k = 0; k < MAP_OWN_MAX; k++) {
        m->ownidx[k] = -1;
    }
}

void ds__map_identity_bind(struct ds_mapper *m, size_t i)
{
    const char *name = m->fields[i].name;

    for (int k = 0; k < K_COUNT; k++) {
        const char *kn = m->patients ? key_names[k] : ref_names[k];

        if (kn != NULL && strcmp(name, kn) == 0) {
            m->keyidx[k] = (long)i;
        }
    }
    if (strcmp(name, "patient_external_id") == 0) {
        m->pidx = (long)i;
    }
    if (strcmp(name, "appointment_external_id") == 0) {
        m->aidx = (long)i;
    }
    for (size_t k = 0; m->own[k] != NULL; k++) {
        if (strcmp(name, m->own[k]) == 0) {
            m->ownidx[k] = (long)i;
        }
    }
}

/* The value of field i in the record, or NULL when it has none. */
static const char *field_text(const struct ds_mapper *m, long i)
{
    if (i < 0 || m->state[i] != FIELD_OK) {
        return NULL;
    }
    return m->vals.data + m->voff[i];
}

/* The value of key field k in the record, or NULL. */
static const char *key_value(const struct ds_mapper *m, int k)
{
    return field_text(m, m->keyidx[k]);
}

static enum field_state key_state(const struct ds_mapper *m, int k)
{
    return m->keyidx[k] < 0 ? FIELD_ABSENT : m->state[m->keyidx[k]];
}

/* A part of a key's hash input. */
struct key_part {
    const char *text; /* the value, or a fixed word */
    int fold;         /* pass it through ds_norm_fold */
};

/* prefix then s into dst[size], cut to fit and terminated: what
 * snprintf(dst, size, "%s%s", prefix, s) writes, without a printf per row. */
static void put_prefixed(char *dst, size_t size, const char *prefix, const char *s)
{
    size_t pl = strlen(prefix);
    size_t sl = strlen(s);

    pl = pl < size - 1 ? pl : size - 1;
    memcpy(dst, prefix, pl);
    sl = sl < size - 1 - pl ? sl : size - 1 - pl;
    memcpy(dst + pl, s, sl);
    dst[pl + sl] = '\0';
}

/* Joins the parts with 0x1f and writes "h:<sha256 hex>" into key. */
static int hash_key(struct ds_mapper *m, char key[DS_MAP_KEY_MAX], const struct key_part *parts,
                    size_t nparts)
{
    char hex[DS_SHA256_HEX];
    int rc = 0;

    ds_buf_reset(&m->hash);
    for (size_t i = 0; i < nparts && rc == 0; i++) {
        if (i > 0) {
            rc = ds_buf_append(&m->hash, "\x1f", 1);
        }
        if (rc == 0) {
            rc = parts[i].fold ? ds_norm_fold(parts[i].text, strlen(parts[i].text), &m->hash)
                               : ds_buf_append_str(&m->hash, parts[i].text);
        }
    }
    if (rc == 0) {
        rc = ds__map_sha(m);
    }
    if (rc != 0) {
        return rc;
    }
    ds_sha256_update(m->sha, m->hash.data, m->hash.len);
    ds_sha256_final(m->sha, hex);
    put_prefixed(key, DS_MAP_KEY_MAX, "h:", hex);
    return 0;
}

/* Computes a patient's out->key by the precedence in the file comment. Returns 0 (key
 * may stay "" when it cannot be told) or DS_ENOMEM; *none is set when no
 * rule applies at all. */
static int compute_key(struct ds_mapper *m, struct ds_mapped *out, int *none)
{
    static const int phones[] = {K_PHONE_MOBILE, K_PHONE_HOME, K_PHONE_WORK};
    enum field_state ln = key_state(m, K_LAST_NAME);
    enum field_state fn = key_state(m, K_FIRST_NAME);
    enum field_state dob = key_state(m, K_DATE_OF_BIRTH);

    *none = 0;
    switch (key_state(m, K_EXTERNAL_ID)) {
    case FIELD_OK:
        put_prefixed(out->key, sizeof(out->key), "ext:", key_value(m, K_EXTERNAL_ID));
        return 0;
    case FIELD_BAD:
        return 0;
    case FIELD_ABSENT:
        break;
    }
    if (ln == FIELD_BAD || fn == FIELD_BAD || dob == FIELD_BAD) {
        return 0;
    }
    if (ln == FIELD_OK && fn == FIELD_OK && dob == FIELD_OK) {
        const struct key_part parts[] = {
            {"patients", 0},
            {"name_dob", 0},
            {key_value(m, K_LAST_NAME), 1},
            {key_value(m, K_FIRST_NAME), 1},
            {key_value(m, K_DATE_OF_BIRTH), 0},
        };

        return hash_key(m, out->key, parts, 5);
    }
    switch (key_state(m, K_EMAIL)) {
    case FIELD_OK: {
        const struct key_part parts[] = {
            {"patients", 0},
            {"email", 0},
            {key_value(m, K_EMAIL), 0},
        };

        return hash_key(m, out->key, parts, 3);
    }
    case FIELD_BAD:
        return 0;
    case FIELD_ABSENT:
        break;
    }
    for (size_t i = 0; i < sizeof(phones) / sizeof(phones[0]); i++) {
        switch (key_state(m, phones[i])) {
        case FIELD_OK: {
            const struct key_part parts[] = {
                {"patients", 0},
                {"phone", 0},
                {key_value(m, phones[i]), 0},
            };

            return hash_key(m, out->key, parts, 3);
        }
        case FIELD_BAD:
            return 0;
        case FIELD_ABSENT:
            break;
        }
    }
    *none = 1;
    return 0;
}

/* 1 if s is 1-64 printable ASCII characters. */
int ds__map_ext_id_valid(const char *s, size_t n)
{
    if (n == 0 || n > MAP_EXT_ID_MAX) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x20 || s[i] > 0x7e) {
            return 0;
        }
    }
    return 1;
}

/* Keys of appointments, treatments and financial records (map.h). */
static int compute_ref_key(struct ds_mapper *m, struct ds_mapped *out, int *none)
{
    struct key_part parts[KEY_PARTS_MAX];
    size_t np = 0;
    const char *pid;

    *none = 0;
    switch (key_state(m, K_EXTERNAL_ID)) {
    case FIELD_OK:
        put_prefixed(out->key, sizeof(out->key), "ext:", key_value(m, K_EXTERNAL_ID));
        return 0;
    case FIELD_BAD:
        return 0;
    case FIELD_ABSENT:
        break;
    }
    parts[np++] = (struct key_part){m->import_type, 0};
    pid = field_text(m, m->pidx);
    if (pid != NULL) {
        parts[np++] = (struct key_part){"pid", 0};
        parts[np++] = (struct key_part){pid, 0};
    }
    else if (key_state(m, K_LAST_NAME) == FIELD_OK && key_state(m, K_FIRST_NAME) == FIELD_OK &&
             key_state(m, K_DATE_OF_BIRTH) == FIELD_OK) {
        parts[np++] = (struct key_part){"name_dob", 0};
        parts[np++] = (struct key_part){key_value(m, K_LAST_NAME), 1};
        parts[np++] = (struct key_part){key_value(m, K_FIRST_NAME), 1};
        parts[np++] = (struct key_part){key_value(m, K_DATE_OF_BIRTH), 0};
    }
    else if (key_state(m, K_EMAIL) == FIELD_OK) {
        parts[np++] = (struct key_part){"email", 0};
        parts[np++] = (struct key_part){key_value(m, K_EMAIL), 0};
    }
    else if (key_state(m, K_PHONE_MOBILE) == FIELD_OK) {
        parts[np++] = (struct key_part){"phone", 0};
        parts[np++] = (struct key_part){key_value(m, K_PHONE_MOBILE), 0};
    }
    else if (key_state(m, K_LAST_NAME) == FIELD_OK && key_state(m, K_FIRST_NAME) == FIELD_OK) {
        /* A ledger names the patient only: the weakest reference; the cloud
         * decides whether it matches one patient. */
        parts[np++] = (struct key_part){"name", 0};
        parts[np++] = (struct key_part){key_value(m, K_LAST_NAME), 1};
        parts[np++] = (struct key_part){key_value(m, K_FIRST_NAME), 1};
    }
    else if (strcmp(m->import_type, "treatments") == 0 && field_text(m, m->aidx) != NULL) {
        /* A service of an appointment (Eaglesoft's appointment_detail) names
         * its appointment, not its patient. */
        parts[np++] = (struct key_part){"appt", 0};
        parts[np++] = (struct key_part){field_text(m, m->aidx), 0};
    }
    else {
        *none = 1;
        return 0;
    }
    /* An integer field's text in vals is already its "%lld" form. */
    for (size_t k = 0; m->own[k] != NULL && np < KEY_PARTS_MAX; k++) {
        const char *v = field_text(m, m->ownidx[k]);

        parts[np++] = (struct key_part){v != NULL ? v : "", 0};
    }
    return hash_key(m, out->key, parts, np);
}

int ds__map_key(struct ds_mapper *m, struct ds_mapped *out, int *none)
{
    return m->patients ? compute_key(m, out, none) : compute_ref_key(m, out, none);
}
