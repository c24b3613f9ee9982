/*
 * patient.c — validating and storing canonical patient records.
 *
 * The agent validates every record before it sends it; the server checks
 * again because it trusts no input: a record that fails here is answered
 * "rejected" with INVALID_RECORD and touches no patient. Checks follow the
 * design's canonical record: dates are real calendar dates written
 * YYYY-MM-DD, phones E.164, email has one @ and a dotted domain, status one
 * of the five canonical values, and there is something to match on
 * (external_id, email, a phone, or last_name + first_name + date_of_birth).
 * Unknown fields are rejected too, so a template mistake shows instead of
 * silently dropping data. Messages name the field and the problem only.
 *
 * The upsert runs as three statements so that it is correct under
 * concurrency without retries: INSERT ... ON CONFLICT DO NOTHING (waits
 * for a concurrent inserter of the same key and then does nothing), UPDATE
 * where the fingerprint differs, and finally SELECT for the unchanged case.
 */
#include "cloud/patient.h"
#include "cloud/db.h"
#include "cloud/error.h"

#include <stdio.h>
#include <string.h>

enum kind {
    KIND_TEXT,
    KIND_DATE,
    KIND_EMAIL,
    KIND_PHONE,
    KIND_STATUS,
};

static const struct {
    const char *name; /* canonical field name */
    enum kind kind;   /* what its value must look like */
    size_t max;       /* most bytes accepted */
} fields[DSC_PATIENT_NFIELDS] = {
    {"external_id", KIND_TEXT, 200},
    {"first_name", KIND_TEXT, 200},
    {"last_name", KIND_TEXT, 200},
    {"middle_name", KIND_TEXT, 200},
    {"preferred_name", KIND_TEXT, 200},
    {"date_of_birth", KIND_DATE, 10},
    {"gender", KIND_TEXT, 50},
    {"email", KIND_EMAIL, 254},
    {"phone_mobile", KIND_PHONE, 16},
    {"phone_home", KIND_PHONE, 16},
    {"phone_work", KIND_PHONE, 16},
    {"address_line1", KIND_TEXT, 500},
    {"address_line2", KIND_TEXT, 500},
    {"city", KIND_TEXT, 200},
    {"state", KIND_TEXT, 100},
    {"postal_code", KIND_TEXT, 20},
    {"country", KIND_TEXT, 100},
    {"status", KIND_STATUS, 20},
    {"provider_external_id", KIND_TEXT, 200},
    {"first_visit_date", KIND_DATE, 10},
    {"last_visit_date", KIND_DATE, 10},
    {"notes", KIND_TEXT, 20000},
};

enum {
    F_EXTERNAL_ID = 0,
    F_FIRST_NAME = 1,
    F_LAST_NAME = 2,
    F_DATE_OF_BIRTH = 5,
    F_EMAIL = 7,
    F_PHONE_MOBILE = 8,
    F_PHONE_HOME = 9,
    F_PHONE_WORK = 10,
};

static const char *const statuses[] = {"active", "inactive", "archived", "deceased", "prospect"};

/* $1 practice, $2 source key, $3 fingerprint, then the fields in order. */
static const char insert_sql[] =
    "INSERT INTO patients (practice_id, source_key, fingerprint, external_id, first_name,"
    " last_name, middle_name, preferred_name, date_of_birth, gender, email, phone_mobile,"
    " phone_home, phone_work, address_line1, address_line2, city, state, postal_code, country,"
    " status, provider_external_id, first_visit_date, last_visit_date, notes)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::date, $10, $11, $12, $13, $14, $15, $16, $17,"
    " $18, $19, $20, $21, $22, $23::date, $24::date, $25)"
    " ON CONFLICT (practice_id, source_key) DO NOTHING RETURNING id";

static const char update_sql[] =
    "UPDATE patients SET fingerprint = $3, external_id = $4, first_name = $5, last_name = $6,"
    " middle_name = $7, preferred_name = $8, date_of_birth = $9::date, gender = $10,"
    " email = $11, phone_mobile = $12, phone_home = $13, phone_work = $14,"
    " address_line1 = $15, address_line2 = $16, city = $17, state = $18, postal_code = $19,"
    " country = $20, status = $21, provider_external_id = $22, first_visit_date = $23::date,"
    " last_visit_date = $24::date, notes = $25, updated_at = now()"
    " WHERE practice_id = $1 AND source_key = $2 AND fingerprint <> $3 RETURNING id";

static const char select_sql[] =
    "SELECT id FROM patients WHERE practice_id = $1 AND source_key = $2";

const char *dsc_patient_field_name(int i)
{
    return fields[i].name;
}

static int digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
    }
    return 1;
}

static int number(const char *s, size_t n)
{
    int v = 0;

    for (size_t i = 0; i < n; i++) {
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static int valid_date(const char *s)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y;
    int m;
    int d;
    int max;

    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-' || !digits(s, 4) || !digits(s + 5, 2) ||
        !digits(s + 8, 2)) {
        return 0;
    }
    y = number(s, 4);
    m = number(s + 5, 2);
    d = number(s + 8, 2);
    if (y < 1800 || m < 1 || m > 12 || d < 1) {
        return 0;
    }
    max = mdays[m - 1];
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) {
        max = 29;
    }
    return d <= max;
}

static int valid_email(const char *s)
{
    const char *at = strchr(s, '@');
    const char *dot;

    if (at == NULL || at == s || strchr(at + 1, '@') != NULL) {
        return 0;
    }
    for (const char *p = s; *p != '\0'; p++) {
        if ((unsigned char)*p <= ' ' || *p == 0x7f) {
            return 0;
        }
    }
    dot = strrchr(at + 1, '.');
    return dot != NULL && dot > at + 1 && dot[1] != '\0';
}

static int valid_phone(const char *s)
{
    size_t n = strlen(s);

    return s[0] == '+' && n >= 8 && n <= 16 && s[1] != '0' && digits(s + 1, n - 1);
}

static int valid_status(const char *s)
{
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        if (strcmp(s, statuses[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

static int field_index(const char *name)
{
    for (int i = 0; i < DSC_PATIENT_NFIELDS; i++) {
        if (strcmp(name, fields[i].name) == 0) {
            return i;
        }
    }
    return -1;
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

int dsc_patient_parse(json_t *record, struct dsc_patient *p, char *msg, size_t msg_size)
{
    const char *name;
    const char *s;
    json_t *value;
    int i;
    int ok;

    memset(p, 0, sizeof(*p));
    json_object_foreach(record, name, value)
    {
        i = field_index(name);
        if (i < 0) {
            unknown_field(name, msg, msg_size);
            return DSC_EINVAL;
        }
        if (json_is_null(value)) {
            continue;
        }
        if (!json_is_string(value)) {
            snprintf(msg, msg_size, "%s: must be a string", name);
            return DSC_EINVAL;
        }
        s = json_string_value(value);
        if (s[0] == '\0') {
            continue;
        }
        if (json_string_length(value) > fields[i].max) {
            snprintf(msg, msg_size, "%s: longer than %zu bytes", name, fields[i].max);
            return DSC_EINVAL;
        }
        switch (fields[i].kind) {
        case KIND_DATE:
            ok = valid_date(s);
            break;
        case KIND_EMAIL:
            ok = valid_email(s);
            break;
        case KIND_PHONE:
            ok = valid_phone(s);
            break;
        case KIND_STATUS:
            ok = valid_status(s);
            break;
        default:
            ok = 1;
            break;
        }
        if (!ok) {
            snprintf(msg, msg_size, "%s: %s", name,
                     fields[i].kind == KIND_DATE    ? "not a date (YYYY-MM-DD)"
                     : fields[i].kind == KIND_EMAIL ? "not an email address"
                     : fields[i].kind == KIND_PHONE ? "not an E.164 phone number"
                                                    : "not a canonical status");
            return DSC_EINVAL;
        }
        p->v[i] = s;
    }
    if (p->v[F_EXTERNAL_ID] == NULL && p->v[F_EMAIL] == NULL && p->v[F_PHONE_MOBILE] == NULL &&
        p->v[F_PHONE_HOME] == NULL && p->v[F_PHONE_WORK] == NULL &&
        (p->v[F_LAST_NAME] == NULL || p->v[F_FIRST_NAME] == NULL ||
         p->v[F_DATE_OF_BIRTH] == NULL)) {
        snprintf(msg, msg_size,
                 "record: nothing to match on (external_id, email, a phone, or last_name + "
                 "first_name + date_of_birth)");
        return DSC_EINVAL;
    }
    return 0;
}

int dsc_patient_upsert(struct dsc_db *db, const char *practice_id, const char *key,
                       const char *fingerprint, const struct dsc_patient *p, char id[DSC_UUID_LEN],
                       const char **status)
{
    const char *params[3 + DSC_PATIENT_NFIELDS];
    struct dsc_rows *rows = NULL;
    int rc;

    params[0] = practice_id;
    params[1] = key;
    params[2] = fingerprint;
    for (int i = 0; i < DSC_PATIENT_NFIELDS; i++) {
        params[3 + i] = p->v[i];
    }
    *status = "created";
    rc = dsc_db_exec(db, "patient insert", insert_sql, 3 + DSC_PATIENT_NFIELDS, params, &rows);
    if (rc != 0 || dsc_rows_count(rows) == 1) {
        goto out;
    }
    dsc_rows_free(&rows);
    *status = "updated";
    rc = dsc_db_exec(db, "patient update", update_sql, 3 + DSC_PATIENT_NFIELDS, params, &rows);
    if (rc != 0 || dsc_rows_count(rows) == 1) {
        goto out;
    }
    dsc_rows_free(&rows);
    *status = "unchanged";
    rc = dsc_db_exec(db, "patient lookup", select_sql, 2, params, &rows);
    if (rc == 0 && dsc_rows_count(rows) != 1) {
        rc = DSC_EDB; /* it conflicted on insert, so it must be there */
    }
out:
    if (rc == 0) {
        snprintf(id, DSC_UUID_LEN, "%s", dsc_rows_get(rows, 0, 0));
    }
    dsc_rows_free(&rows);
    return rc;
}
