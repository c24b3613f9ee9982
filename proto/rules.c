/*
 * rules.c — the rule book of canonical records (see rules.h), linked by both
 * the agent and the cloud. Each import type is a table of fields with the
 * shape their value must have, then the rules that span fields. Unknown
 * fields are the caller's to refuse (ds_rules_field_index returns -1). No
 * allocation, no state.
 */
#include "proto/rules.h"

#include <limits.h>
#include <stdio.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

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
        n, DS_RULES_TEXT, m, NULL, 0, 0                                                            \
    }
#define DATE(n)                                                                                    \
    {                                                                                              \
        n, DS_RULES_DATE, 10, NULL, 0, 0                                                           \
    }
#define INSTANT(n)                                                                                 \
    {                                                                                              \
        n, DS_RULES_INSTANT, 20, NULL, 0, 0                                                        \
    }
#define ENUM(n, v)                                                                                 \
    {                                                                                              \
        n, DS_RULES_ENUM, 20, v, 0, 0                                                              \
    }
#define INT(n, lo, hi)                                                                             \
    {                                                                                              \
        n, DS_RULES_INT, 0, NULL, lo, hi                                                           \
    }
#define EMAIL(n)                                                                                   \
    {                                                                                              \
        n, DS_RULES_EMAIL, 254, NULL, 0, 0                                                         \
    }
#define PHONE(n)                                                                                   \
    {                                                                                              \
        n, DS_RULES_PHONE, 16, NULL, 0, 0                                                          \
    }
#define END                                                                                        \
    {                                                                                              \
        NULL, DS_RULES_TEXT, 0, NULL, 0, 0                                                         \
    }
#define PATIENT_REF                                                                                \
    TEXT("patient_external_id", 200), TEXT("patient_last_name", 200),                              \
        TEXT("patient_first_name", 200), DATE("patient_date_of_birth"), EMAIL("patient_email"),    \
        PHONE("patient_phone")

/* The clinic or site of a multi-location practice a record belongs to (a
 * patient: the home clinic): optional text, the PMS's own code or name of
 * the location, or the folder's fixed one. Never patient data. */
#define LOCATION TEXT("location", 100)

static const struct ds_rules_field patient_fields[] = {
    TEXT("external_id", 200),
    TEXT("first_name", 200),
    TEXT("last_name", 200),
    TEXT("middle_name", 200),
    TEXT("preferred_name", 200),
    DATE("date_of_birth"),
    TEXT("gender", 50),
    EMAIL("email"),
    PHONE("phone_mobile"),
    PHONE("phone_home"),
    PHONE("phone_work"),
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
    LOCATION,
    END,
};

static const struct ds_rules_field appointment_fields[] = {
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
    LOCATION,
    END,
};

static const struct ds_rules_field treatment_fields[] = {
    TEXT("external_id", 200),
    PATIENT_REF,
    {"procedure_code", DS_RULES_CDT, 5, NULL, 0, 0},
    TEXT("description", 1000),
    TEXT("tooth", 10),
    TEXT("surface", 10),
    ENUM("status", treatment_statuses),
    INT("fee_cents", 0, INT_MAX),
    DATE("service_date"),
    TEXT("provider", 200),
    TEXT("appointment_external_id", 200),
    LOCATION,
    END,
};

static const struct ds_rules_field financial_fields[] = {
    TEXT("external_id", 200),
    PATIENT_REF,
    DATE("date"),
    INT("amount_cents", INT_MIN, INT_MAX),
    ENUM("kind", kinds),
    ENUM("method", methods),
    TEXT("reference", 200),
    TEXT("description", 1000),
    LOCATION,
    END,
};

const struct ds_rules_type ds_rules_types[DS_RULES_NTYPES] = {
    {"patients", patient_fields, (const char *const[]){NULL}},
    {"appointments", appointment_fields, (const char *const[]){"start_at", "status", NULL}},
    {"treatments", treatment_fields, (const char *const[]){"procedure_code", "status", NULL}},
    {"financial", financial_fields, (const char *const[]){"date", "amount_cents", "kind", NULL}},
};

const struct ds_rules_type *ds_rules_type(const char *import_type)
{
    for (size_t i = 0; i < DS_RULES_NTYPES && import_type != NULL; i++) {
        if (strcmp(ds_rules_types[i].name, import_type) == 0) {
            return &ds_rules_types[i];
        }
    }
    return NULL;
}

int ds_rules_field_index(const struct ds_rules_type *t, const char *name)
{
    /* ds_rules_check_record asks a few names per row: the first byte rules
     * out most fields without a call to strcmp. */
    for (int i = 0; t->fields[i].name != NULL; i++) {
        if (t->fields[i].name[0] == name[0] && strcmp(t->fields[i].name, name) == 0) {
            return i;
        }
    }
    return -1;
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

static int valid_date(const char *s, size_t n)
{
    return n == 10 && date_prefix(s);
}

/* "YYYY-MM-DDTHH:MM:SSZ", UTC. */
static int valid_instant(const char *s, size_t n)
{
    return n == 20 && date_prefix(s) && s[10] == 'T' && s[13] == ':' && s[16] == ':' &&
           s[19] == 'Z' && digits(s + 11, 2) && digits(s + 14, 2) && digits(s + 17, 2) &&
           number(s + 11, 2) < 24 && number(s + 14, 2) < 60 && number(s + 17, 2) < 60;
}

/* Days from 1970-01-01 to the proleptic Gregorian date y-m-d (m 1..12):
 * the days-from-civil computation, so that no C library's timegm (absent
 * from Windows' runtime) is needed. */
static long long days_from_civil(long long y, int m, int d)
{
    long long era;
    long long yoe;
    long long doy;
    long long doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Seconds since the epoch of a valid instant. */
static long long instant_seconds(const char *s)
{
    long long days = days_from_civil(number(s, 4), number(s + 5, 2), number(s + 8, 2));

    return days * 86400 + number(s + 11, 2) * 3600LL + number(s + 14, 2) * 60LL + number(s + 17, 2);
}

static int valid_email(const char *s, size_t n)
{
    const char *at = memchr(s, '@', n);
    const char *dot = NULL;

    if (at == NULL || at == s || memchr(at + 1, '@', n - (size_t)(at + 1 - s)) != NULL) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f) {
            return 0;
        }
        if (s + i > at && s[i] == '.') {
            dot = s + i;
        }
    }
    return dot != NULL && dot > at + 1 && dot < s + n - 1;
}

static int valid_phone(const char *s, size_t n)
{
    return n >= 8 && n <= 16 && s[0] == '+' && s[1] != '0' && digits(s + 1, n - 1);
}

static int valid_enum(const char *s, size_t n, const char *const *values)
{
    /* No value is empty; the first byte rules most out without a strlen. */
    for (; n > 0 && *values != NULL; values++) {
        if ((*values)[0] == s[0] && strlen(*values) == n && memcmp(s, *values, n) == 0) {
            return 1;
        }
    }
    return 0;
}

static const char *problem(enum ds_rules_kind kind)
{
    switch (kind) {
    case DS_RULES_DATE:
        return "not a date (YYYY-MM-DD)";
    case DS_RULES_INSTANT:
        return "not a UTC instant (YYYY-MM-DDTHH:MM:SSZ)";
    case DS_RULES_EMAIL:
        return "not an email address";
    case DS_RULES_PHONE:
        return "not an E.164 phone number";
    case DS_RULES_CDT:
        return "not a CDT code (D and 4 digits)";
    case DS_RULES_ENUM:
        return "not a canonical value";
    default:
        return "not acceptable";
    }
}

int ds_rules_check_text(const struct ds_rules_field *f, const char *s, size_t n, char *msg,
                        size_t msg_size)
{
    int ok;

    if (f->kind == DS_RULES_INT) {
        snprintf(msg, msg_size, "must be an integer");
        return -1;
    }
    if (n > f->max) {
        snprintf(msg, msg_size, "longer than %zu bytes", f->max);
        return -1;
    }
    switch (f->kind) {
    case DS_RULES_DATE:
        ok = valid_date(s, n);
        break;
    case DS_RULES_INSTANT:
        ok = valid_instant(s, n);
        break;
    case DS_RULES_EMAIL:
        ok = valid_email(s, n);
        break;
    case DS_RULES_PHONE:
        ok = valid_phone(s, n);
        break;
    case DS_RULES_ENUM:
        ok = valid_enum(s, n, f->values);
        break;
    case DS_RULES_CDT:
        ok = n == 5 && s[0] == 'D' && digits(s + 1, 4);
        break;
    default:
        ok = 1;
        break;
    }
    if (!ok) {
        snprintf(msg, msg_size, "%s", problem(f->kind));
        return -1;
    }
    return 0;
}

int ds_rules_check_int(const struct ds_rules_field *f, long long v, char *msg, size_t msg_size)
{
    if (f->kind != DS_RULES_INT) {
        snprintf(msg, msg_size, "must be a string");
        return -1;
    }
    if (v < f->min || v > f->maxv) {
        snprintf(msg, msg_size, "must be from %lld to %lld", f->min, f->maxv);
        return -1;
    }
    return 0;
}

/* The names ds_rules_check_record looks up for every record, and room for
 * each type's required names after them. */
enum {
    RN_EXTERNAL_ID,
    RN_EMAIL,
    RN_PHONE_MOBILE,
    RN_PHONE_HOME,
    RN_PHONE_WORK,
    RN_LAST_NAME,
    RN_FIRST_NAME,
    RN_DATE_OF_BIRTH,
    RN_PATIENT_EXTERNAL_ID,
    RN_PATIENT_EMAIL,
    RN_PATIENT_PHONE,
    RN_PATIENT_LAST_NAME,
    RN_PATIENT_FIRST_NAME,
    RN_APPOINTMENT_EXTERNAL_ID,
    RN_START_AT,
    RN_END_AT,
    RN_DURATION_MINUTES,
    RN_REQUIRED, /* t->required[i] is slot RN_REQUIRED + i */
    RN_SLOTS = RN_REQUIRED + 8,
};

/* Their field indexes, found once per type instead of a search through
 * the type's fields for each name of each record: 0 not looked up yet,
 * else the index + 2 (1: no such field). The tables are constant, so
 * every thread that fills a slot stores the same value. */
static _Atomic int rn_index[DS_RULES_NTYPES][RN_SLOTS];

/* The value of field name (slot: its place in rn_index), or NULL when
 * absent. */
static const char *value_at(const struct ds_rules_type *t, size_t ti, const char *const *v,
                            int slot, const char *name)
{
    int i;

    if (ti < DS_RULES_NTYPES && slot < RN_SLOTS) {
        i = atomic_load_explicit(&rn_index[ti][slot], memory_order_relaxed);
        if (i == 0) {
            i = ds_rules_field_index(t, name) + 2;
            atomic_store_explicit(&rn_index[ti][slot], i, memory_order_relaxed);
        }
        return i < 2 ? NULL : v[i - 2];
    }
    i = ds_rules_field_index(t, name);
    return i < 0 ? NULL : v[i];
}

/* t's place in ds_rules_types (the row of rn_index), or DS_RULES_NTYPES
 * for a type of its own. Found once per record, not once per name. */
static size_t type_index(const struct ds_rules_type *t)
{
    for (size_t ti = 0; ti < DS_RULES_NTYPES; ti++) {
        if (t == &ds_rules_types[ti]) {
            return ti;
        }
    }
    return DS_RULES_NTYPES;
}

int ds_rules_check_record(const struct ds_rules_type *t, const char *const *v, const char **field,
                          char *msg, size_t msg_size)
{
    const size_t ti = type_index(t);
    const char *start;
    const char *end;
    long long span;
    int k;

    *field = "record";
#define HAS(slot, name) (value_at(t, ti, v, (slot), (name)) != NULL)
    if (t == &ds_rules_types[0]) {
        if (!HAS(RN_EXTERNAL_ID, "external_id") && !HAS(RN_EMAIL, "email") &&
            !HAS(RN_PHONE_MOBILE, "phone_mobile") && !HAS(RN_PHONE_HOME, "phone_home") &&
            !HAS(RN_PHONE_WORK, "phone_work") &&
            (!HAS(RN_LAST_NAME, "last_name") || !HAS(RN_FIRST_NAME, "first_name") ||
             !HAS(RN_DATE_OF_BIRTH, "date_of_birth"))) {
            snprintf(msg, msg_size,
                     "nothing to match on (external_id, email, a phone, or last_name + "
                     "first_name + date_of_birth)");
            return -1;
        }
        return 0;
    }
    /* A patient reference: the last name + first name alone is a name-only
     * reference the cloud resolves when exactly one patient has that name
     * (docs/protocol.md); a treatment may name its appointment instead, whose
     * patient it then is. */
    if (!HAS(RN_PATIENT_EXTERNAL_ID, "patient_external_id") &&
        !HAS(RN_PATIENT_EMAIL, "patient_email") && !HAS(RN_PATIENT_PHONE, "patient_phone") &&
        (!HAS(RN_PATIENT_LAST_NAME, "patient_last_name") ||
         !HAS(RN_PATIENT_FIRST_NAME, "patient_first_name")) &&
        !HAS(RN_APPOINTMENT_EXTERNAL_ID, "appointment_external_id")) {
        snprintf(msg, msg_size,
                 "no patient reference (patient_external_id, patient_email, patient_phone, "
                 "patient_last_name + patient_first_name, or a treatment's "
                 "appointment_external_id)");
        return -1;
    }
    k = RN_REQUIRED;
    for (const char *const *r = t->required; *r != NULL; r++, k++) {
        if (!HAS(k, *r)) {
            *field = *r;
            snprintf(msg, msg_size, "required");
            return -1;
        }
    }
    if (t == &ds_rules_types[1] || strcmp(t->name, "appointments") == 0) {
        start = value_at(t, ti, v, RN_START_AT, "start_at");
        end = value_at(t, ti, v, RN_END_AT, "end_at");
        if (end == NULL && !HAS(RN_DURATION_MINUTES, "duration_minutes")) {
            *field = "end_at";
            snprintf(msg, msg_size, "required when duration_minutes is absent");
            return -1;
        }
        if (end != NULL) {
            span = instant_seconds(end) - instant_seconds(start);
            if (span <= 0 || span > 24LL * 3600) {
                *field = "end_at";
                snprintf(msg, msg_size, "must be after start_at, at most 24 hours");
                return -1;
            }
        }
    }
#undef HAS
    return 0;
}

/* Reader caps keep their code; the rest is told by the problem's words,
 * tested most specific first. */
const char *ds_rules_problem_code(const char *problem)
{
    static const char *const caps[] = {"FIELD_TOO_LONG", "TOO_MANY_COLUMNS", "ROW_TOO_LARGE", NULL};
    static const struct {
        const char *words;
        const char *code;
    } words[] = {
        {"required", "REQUIRED"},
        {"unknown field", "UNKNOWN_FIELD"},
        {"unknown value", "UNKNOWN_VALUE"},
        {"accepted values", "UNKNOWN_VALUE"},
        {"canonical value", "UNKNOWN_VALUE"},
        {"nothing to match on", "NO_MATCH_KEY"},
        {"no match key", "NO_MATCH_KEY"},
        {"no key", "NO_MATCH_KEY"},
        {"no patient reference", "NO_MATCH_KEY"},
        {"no identity key", "NO_MATCH_KEY"},
        {"not unique", "NOT_UNIQUE"},
        {"longer than", "TOO_LONG"},
        {"too long", "TOO_LONG"},
        {"email", "BAD_EMAIL"},
        {"e-mail", "BAD_EMAIL"},
        {"valid address", "BAD_EMAIL"},
        {"phone", "BAD_PHONE"},
        {"length in minutes", "BAD_NUMBER"},
        {"CDT", "BAD_CODE"},
        {"tooth", "BAD_CODE"},
        {"date", "BAD_DATE"},
        {"instant", "BAD_DATE"},
        {"time", "BAD_DATE"},
        {"hour", "BAD_DATE"},
        {"minute", "BAD_DATE"},
        {"UTC", "BAD_DATE"},
        {"start_at", "BAD_DATE"},
        {"number", "BAD_NUMBER"},
        {"integer", "BAD_NUMBER"},
        {"amount", "BAD_NUMBER"},
        {"range", "BAD_NUMBER"},
        {"must be from", "BAD_NUMBER"},
    };
    const char *p;

    if (problem == NULL) {
        return "INVALID_VALUE";
    }
    for (size_t i = 0; caps[i] != NULL; i++) {
        if (strstr(problem, caps[i]) != NULL) {
            return caps[i];
        }
    }
    p = strstr(problem, ": ");
    p = p != NULL ? p + 2 : problem;
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (strstr(p, words[i].words) != NULL) {
            return words[i].code;
        }
    }
    return "INVALID_VALUE";
}
