/*
 * record.c — validating canonical records of every import type.
 *
 * The agent validates every record before it sends it; the server checks
 * again because it trusts no input: a record that fails here is answered
 * "rejected" with INVALID_RECORD and touches nothing. Each type is a table
 * of fields with the shape their value must have (dates are real calendar
 * dates YYYY-MM-DD, instants UTC YYYY-MM-DDTHH:MM:SSZ, phones E.164, email
 * one @ and a dotted domain, enumerations their canonical values, integers
 * JSON integers in range), then the rules that span fields: something to
 * match the patient on, an appointment's end. Unknown fields are rejected
 * too, so a template mistake shows instead of silently dropping data.
 * Messages name the field and the problem only, never a value.
 */
#include "cloud/record.h"
#include "cloud/error.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

enum kind {
    KIND_TEXT,
    KIND_DATE,
    KIND_INSTANT,
    KIND_EMAIL,
    KIND_PHONE,
    KIND_ENUM,
    KIND_INT,
    KIND_CDT,
};

struct field {
    const char *name;          /* canonical field name */
    enum kind kind;            /* what its value must look like */
    size_t max;                /* most bytes of a string */
    const char *const *values; /* KIND_ENUM: the canonical values, NULL-terminated */
    long long min;             /* KIND_INT: the range */
    long long maxv;
};

static const char *const patient_statuses[] = {"active",   "inactive", "archived",
                                               "deceased", "prospect", NULL};
static const char *const appointment_statuses[] = {"scheduled", "confirmed", "completed",
                                                   "cancelled", "no_show",   "unscheduled",
                                                   "planned",   "tentative", NULL};
static const char *const treatment_statuses[] = {"planned",  "completed", "existing", "referred",
                                                 "declined", "cancelled", NULL};
static const char *const kinds[] = {"payment", "refund", "adjustment", "charge", NULL};
static const char *const methods[] = {"cash", "check", "card", "insurance", "other", NULL};

#define TEXT(n, m)                                                                                 \
    {                                                                                              \
        n, KIND_TEXT, m, NULL, 0, 0                                                                \
    }
#define DATE(n)                                                                                    \
    {                                                                                              \
        n, KIND_DATE, 10, NULL, 0, 0                                                               \
    }
#define INSTANT(n)                                                                                 \
    {                                                                                              \
        n, KIND_INSTANT, 20, NULL, 0, 0                                                            \
    }
#define ENUM(n, v)                                                                                 \
    {                                                                                              \
        n, KIND_ENUM, 20, v, 0, 0                                                                  \
    }
#define INT(n, lo, hi)                                                                             \
    {                                                                                              \
        n, KIND_INT, 0, NULL, lo, hi                                                               \
    }
#define PATIENT_REF                                                                                \
    TEXT("patient_external_id", 200), TEXT("patient_last_name", 200),                              \
        TEXT("patient_first_name", 200), DATE("patient_date_of_birth"),                            \
        {"patient_email", KIND_EMAIL, 254, NULL, 0, 0},                                            \
    {                                                                                              \
        "patient_phone", KIND_PHONE, 16, NULL, 0, 0                                                \
    }

static const struct field patient_fields[] = {
    TEXT("external_id", 200),
    TEXT("first_name", 200),
    TEXT("last_name", 200),
    TEXT("middle_name", 200),
    TEXT("preferred_name", 200),
    DATE("date_of_birth"),
    TEXT("gender", 50),
    {"email", KIND_EMAIL, 254, NULL, 0, 0},
    {"phone_mobile", KIND_PHONE, 16, NULL, 0, 0},
    {"phone_home", KIND_PHONE, 16, NULL, 0, 0},
    {"phone_work", KIND_PHONE, 16, NULL, 0, 0},
    TEXT("address_line1", 500),
    TEXT("address_line2", 500),
    TEXT("city", 200),
    TEXT("state", 100),
    TEXT("postal_code", 20),
    TEXT("country", 100),
    ENUM("status", patient_statuses),
    TEXT("provider_external_id", 200),
    DATE("first_visit_date"),
    DATE("last_visit_date"),
    TEXT("notes", 20000),
    {NULL, KIND_TEXT, 0, NULL, 0, 0},
};

static const struct field appointment_fields[] = {
    TEXT("external_id", 200),
    PATIENT_REF,
    INSTANT("start_at"),
    INSTANT("end_at"),
    INT("duration_minutes", 1, 1440),
    ENUM("status", appointment_statuses),
    TEXT("provider", 200),
    TEXT("operatory", 200),
    TEXT("appointment_type", 200),
    TEXT("notes", 20000),
    {NULL, KIND_TEXT, 0, NULL, 0, 0},
};

static const struct field treatment_fields[] = {
    TEXT("external_id", 200),
    PATIENT_REF,
    {"procedure_code", KIND_CDT, 5, NULL, 0, 0},
    TEXT("description", 1000),
    TEXT("tooth", 10),
    TEXT("surface", 10),
    ENUM("status", treatment_statuses),
    INT("fee_cents", 0, INT_MAX),
    DATE("service_date"),
    TEXT("provider", 200),
    TEXT("appointment_external_id", 200),
    {NULL, KIND_TEXT, 0, NULL, 0, 0},
};

static const struct field financial_fields[] = {
    TEXT("external_id", 200),
    PATIENT_REF,
    DATE("date"),
    INT("amount_cents", INT_MIN, INT_MAX),
    ENUM("kind", kinds),
    ENUM("method", methods),
    TEXT("reference", 200),
    TEXT("description", 1000),
    {NULL, KIND_TEXT, 0, NULL, 0, 0},
};

static const struct {
    const char *name;
    const struct field *fields;
    const char *const *required; /* NULL-terminated */
} types[] = {
    [DSC_RECORD_PATIENTS] = {"patients", patient_fields, (const char *const[]){NULL}},
    [DSC_RECORD_APPOINTMENTS] = {"appointments", appointment_fields,
                                 (const char *const[]){"start_at", "status", NULL}},
    [DSC_RECORD_TREATMENTS] = {"treatments", treatment_fields,
                               (const char *const[]){"procedure_code", "status", NULL}},
    [DSC_RECORD_FINANCIAL] = {"financial", financial_fields,
                              (const char *const[]){"date", "amount_cents", "kind", NULL}},
};

#define NTYPES (sizeof(types) / sizeof(types[0]))
#define MAX_FIELDS 32

int dsc_record_type_parse(const char *name, enum dsc_record_type *type)
{
    for (size_t i = 0; i < NTYPES; i++) {
        if (name != NULL && strcmp(name, types[i].name) == 0) {
            *type = (enum dsc_record_type)i;
            return 0;
        }
    }
    return DSC_EINVAL;
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

/* A real calendar date "YYYY-MM-DD" at the start of s, year >= 1800. */
static int date_prefix(const char *s)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y;
    int m;
    int d;
    int max;

    if (s[4] != '-' || s[7] != '-' || !digits(s, 4) || !digits(s + 5, 2) || !digits(s + 8, 2)) {
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

static int valid_date(const char *s)
{
    return strlen(s) == 10 && date_prefix(s);
}

/* "YYYY-MM-DDTHH:MM:SSZ", UTC. */
static int valid_instant(const char *s)
{
    return strlen(s) == 20 && date_prefix(s) && s[10] == 'T' && s[13] == ':' && s[16] == ':' &&
           s[19] == 'Z' && digits(s + 11, 2) && digits(s + 14, 2) && digits(s + 17, 2) &&
           number(s + 11, 2) < 24 && number(s + 14, 2) < 60 && number(s + 17, 2) < 60;
}

/* Seconds since the epoch of a valid instant. */
static long long instant_seconds(const char *s)
{
    struct tm tm;

    memset(&tm, 0, sizeof(tm));
    tm.tm_year = number(s, 4) - 1900;
    tm.tm_mon = number(s + 5, 2) - 1;
    tm.tm_mday = number(s + 8, 2);
    tm.tm_hour = number(s + 11, 2);
    tm.tm_min = number(s + 14, 2);
    tm.tm_sec = number(s + 17, 2);
    return (long long)timegm(&tm);
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

static int valid_enum(const char *s, const char *const *values)
{
    for (; *values != NULL; values++) {
        if (strcmp(s, *values) == 0) {
            return 1;
        }
    }
    return 0;
}

static const char *problem(enum kind kind)
{
    switch (kind) {
    case KIND_DATE:
        return "not a date (YYYY-MM-DD)";
    case KIND_INSTANT:
        return "not a UTC instant (YYYY-MM-DDTHH:MM:SSZ)";
    case KIND_EMAIL:
        return "not an email address";
    case KIND_PHONE:
        return "not an E.164 phone number";
    case KIND_CDT:
        return "not a CDT code (D and 4 digits)";
    case KIND_ENUM:
        return "not a canonical value";
    default:
        return "not acceptable";
    }
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

/* The value of field name, or NULL when absent, null or "". */
static const char *present(const struct field *fields, const char *const *v, const char *name)
{
    for (int i = 0; fields[i].name != NULL; i++) {
        if (strcmp(fields[i].name, name) == 0) {
            return v[i];
        }
    }
    return NULL;
}

static int check_value(const struct field *f, json_t *value, const char **out, char *msg,
                       size_t msg_size)
{
    json_int_t n;
    const char *s;
    int ok;

    *out = NULL;
    if (json_is_null(value)) {
        return 0;
    }
    if (f->kind == KIND_INT) {
        if (!json_is_integer(value)) {
            snprintf(msg, msg_size, "%s: must be an integer", f->name);
            return DSC_EINVAL;
        }
        n = json_integer_value(value);
        if (n < f->min || n > f->maxv) {
            snprintf(msg, msg_size, "%s: must be from %lld to %lld", f->name, f->min, f->maxv);
            return DSC_EINVAL;
        }
        *out = "1";
        return 0;
    }
    if (!json_is_string(value)) {
        snprintf(msg, msg_size, "%s: must be a string", f->name);
        return DSC_EINVAL;
    }
    s = json_string_value(value);
    if (s[0] == '\0') {
        return 0;
    }
    if (json_string_length(value) > f->max) {
        snprintf(msg, msg_size, "%s: longer than %zu bytes", f->name, f->max);
        return DSC_EINVAL;
    }
    switch (f->kind) {
    case KIND_DATE:
        ok = valid_date(s);
        break;
    case KIND_INSTANT:
        ok = valid_instant(s);
        break;
    case KIND_EMAIL:
        ok = valid_email(s);
        break;
    case KIND_PHONE:
        ok = valid_phone(s);
        break;
    case KIND_ENUM:
        ok = valid_enum(s, f->values);
        break;
    case KIND_CDT:
        ok = strlen(s) == 5 && s[0] == 'D' && digits(s + 1, 4);
        break;
    default:
        ok = 1;
        break;
    }
    if (!ok) {
        snprintf(msg, msg_size, "%s: %s", f->name, problem(f->kind));
        return DSC_EINVAL;
    }
    *out = s;
    return 0;
}

/* The rules that span fields. */
static int check_record(enum dsc_record_type type, const struct field *fields, const char **v,
                        char *msg, size_t msg_size)
{
    const char *start;
    const char *end;
    long long span;

#define HAS(name) (present(fields, v, name) != NULL)
    if (type == DSC_RECORD_PATIENTS) {
        if (!HAS("external_id") && !HAS("email") && !HAS("phone_mobile") && !HAS("phone_home") &&
            !HAS("phone_work") &&
            (!HAS("last_name") || !HAS("first_name") || !HAS("date_of_birth"))) {
            snprintf(msg, msg_size,
                     "record: nothing to match on (external_id, email, a phone, or last_name + "
                     "first_name + date_of_birth)");
            return DSC_EINVAL;
        }
        return 0;
    }
    if (!HAS("patient_external_id") && !HAS("patient_email") && !HAS("patient_phone") &&
        (!HAS("patient_last_name") || !HAS("patient_first_name") ||
         !HAS("patient_date_of_birth"))) {
        snprintf(msg, msg_size,
                 "record: no patient reference (patient_external_id, patient_email, "
                 "patient_phone, or patient_last_name + patient_first_name + "
                 "patient_date_of_birth)");
        return DSC_EINVAL;
    }
    for (const char *const *r = types[type].required; *r != NULL; r++) {
        if (!HAS(*r)) {
            snprintf(msg, msg_size, "%s: required", *r);
            return DSC_EINVAL;
        }
    }
    if (type == DSC_RECORD_APPOINTMENTS) {
        start = present(fields, v, "start_at");
        end = present(fields, v, "end_at");
        if (end == NULL && !HAS("duration_minutes")) {
            snprintf(msg, msg_size, "end_at: required when duration_minutes is absent");
            return DSC_EINVAL;
        }
        if (end != NULL) {
            span = instant_seconds(end) - instant_seconds(start);
            if (span <= 0 || span > 24 * 3600) {
                snprintf(msg, msg_size, "end_at: must be after start_at, at most 24 hours");
                return DSC_EINVAL;
            }
        }
    }
#undef HAS
    return 0;
}

int dsc_record_validate(enum dsc_record_type type, json_t *record, char *msg, size_t msg_size)
{
    const struct field *fields = types[type].fields;
    const char *v[MAX_FIELDS];
    const char *name;
    json_t *value;
    int i;

    memset(v, 0, sizeof(v));
    json_object_foreach(record, name, value)
    {
        for (i = 0; fields[i].name != NULL; i++) {
            if (strcmp(fields[i].name, name) == 0) {
                break;
            }
        }
        if (fields[i].name == NULL) {
            unknown_field(name, msg, msg_size);
            return DSC_EINVAL;
        }
        if (check_value(&fields[i], value, &v[i], msg, msg_size) != 0) {
            return DSC_EINVAL;
        }
    }
    return check_record(type, fields, v, msg, msg_size);
}
