/*
 * normalize_code.c — money, dental codes and the coded values of each
 * import type (normalize.h), and the transform table.
 *
 * Coded values (statuses, kinds, methods) are looked up in a table after
 * ds_norm_header folding (case, spaces, '_' and '-' ignored). A value that
 * is in no table is an error naming no value ("unknown value"): the admin
 * extends the template's value map, nothing is defaulted silently. Open
 * Dental's enums get transforms of their own because its raw query exports
 * write them as numbers (pms-exports.md); its PtNote (7, 8) appointments
 * and Cn (7) procedures are not records of the type and are refused here —
 * the built-in templates skip them with a row rule before they get here.
 */
#include "agent/map/normalize.h"

#include "agent/core/error.h"

#include <stdint.h>
#include <string.h>

#define TOKEN_MAX 40
#define MONEY_MAX_CENTS ((int64_t)10000000000000) /* 10^13 cents */

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* ---- money --------------------------------------------------------------- */

/* Skips a currency sign at s[*i]: $ £ € (UTF-8) or a 3-letter ISO code. */
static void skip_currency(const char *s, size_t len, size_t *i)
{
    if (*i < len && s[*i] == '$') {
        (*i)++;
    }
    else if (*i + 1 < len && (unsigned char)s[*i] == 0xc2 && (unsigned char)s[*i + 1] == 0xa3) {
        *i += 2;
    }
    else if (*i + 2 < len && (unsigned char)s[*i] == 0xe2 && (unsigned char)s[*i + 1] == 0x82 &&
             (unsigned char)s[*i + 2] == 0xac) {
        *i += 3;
    }
    else if (*i + 3 <= len && (strncmp(s + *i, "USD", 3) == 0 || strncmp(s + *i, "EUR", 3) == 0 ||
                               strncmp(s + *i, "GBP", 3) == 0 || strncmp(s + *i, "CAD", 3) == 0 ||
                               strncmp(s + *i, "AUD", 3) == 0)) {
        *i += 3;
    }
    while (*i < len && s[*i] == ' ') {
        (*i)++;
    }
}

int ds_norm_parse_money(const struct ds_norm_opts *o, const char *in, size_t len, int64_t *cents,
                        const char **problem)
{
    char dec = o != NULL && o->decimal_comma ? ',' : '.';
    size_t i = 0;
    int neg = 0;
    int paren = 0;
    int64_t units = 0;
    int64_t frac = 0;
    int nfrac = 0;
    int ndig = 0;
    int group = -1; /* digits since the last thousands separator, -1 before any */
    int lead = 0;   /* digits before the first thousands separator */

    ds_norm_trim(&in, &len);
    if (len == 0) {
        return DS_NORM_ABSENT;
    }
    if (in[0] == '(' && in[len - 1] == ')') {
        paren = 1;
        in++;
        len -= 2;
    }
    if (i < len && (in[i] == '-' || in[i] == '+')) {
        neg = in[i] == '-';
        i++;
    }
    skip_currency(in, len, &i);
    if (i < len && (in[i] == '-' || in[i] == '+') && !neg) {
        neg = in[i] == '-';
        i++;
    }
    for (; i < len; i++) {
        unsigned char c = (unsigned char)in[i];

        if (is_digit(c)) {
            if (units > MONEY_MAX_CENTS / 100) {
                goto bad;
            }
            units = units * 10 + (c - '0');
            ndig++;
            if (group >= 0) {
                group++;
            }
            else {
                lead++;
            }
        }
        else if ((dec == '.' && c == ',') || (dec == ',' && (c == '.' || c == ' ')) ||
                 (c == '\'' && dec == '.')) {
            /* a thousands separator: 1-3 digits first, then groups of 3 */
            if (ndig == 0 || (group < 0 && lead > 3) || (group >= 0 && group != 3)) {
                goto bad;
            }
            group = 0;
        }
        else {
            break;
        }
    }
    if (ndig == 0 && !(i < len && in[i] == dec)) {
        goto bad;
    }
    if (group >= 0 && group != 3) {
        goto bad;
    }
    if (i < len && in[i] == dec) {
        for (i++; i < len && is_digit((unsigned char)in[i]); i++) {
            if (nfrac >= 2) {
                if (in[i] != '0') {
                    goto bad; /* a fraction of a cent: no silent rounding */
                }
                continue;
            }
            frac = frac * 10 + (in[i] - '0');
            nfrac++;
        }
        if (nfrac == 0 && ndig == 0) {
            goto bad;
        }
    }
    if (nfrac == 1) {
        frac *= 10;
    }
    while (i < len && in[i] == ' ') {
        i++;
    }
    {
        size_t j = i;

        skip_currency(in, len, &j);
        i = j;
    }
    if (i < len && in[i] == '-' && !neg && !paren) {
        neg = 1;
        i++;
    }
    else if (i + 2 <= len && (strncmp(in + i, "CR", 2) == 0 || strncmp(in + i, "cr", 2) == 0) &&
             !neg && !paren) {
        neg = 1;
        i += 2;
    }
    if (i != len || (paren && neg)) {
        goto bad;
    }
    *cents = units * 100 + frac;
    if (*cents >= MONEY_MAX_CENTS) {
        goto bad;
    }
    if (neg || paren) {
        *cents = -*cents;
    }
    return DS_NORM_PRESENT;
bad:
    *problem = "not a valid amount of money";
    return DS_EINVAL;
}

int ds_norm_money(const struct ds_norm_opts *o, const char *in, size_t len, struct ds_buf *out,
                  const char **problem)
{
    int64_t cents = 0;
    int rc = ds_norm_parse_money(o, in, len, &cents, problem);

    if (rc != DS_NORM_PRESENT) {
        return rc;
    }
    rc = ds_buf_append_int(out, (long long)cents, 0);
    return rc != 0 ? rc : DS_NORM_PRESENT;
}

/* ---- integers and lengths ------------------------------------------------ */

/* A non-negative whole number (leading zeros and a ".0" allowed) up to max. */
static int parse_count(const char *in, size_t len, long max, long *v)
{
    size_t i = 0;

    *v = 0;
    if (len == 0) {
        return -1;
    }
    for (; i < len && is_digit((unsigned char)in[i]); i++) {
        *v = *v * 10 + (in[i] - '0');
        if (*v > max) {
            return -1;
        }
    }
    if (i == 0) {
        return -1;
    }
    if (i < len && in[i] == '.') {
        for (i++; i < len && in[i] == '0'; i++) {
        }
    }
    return i == len ? 0 : -1;
}

static int norm_integer(const struct ds_norm_opts *o, const char *in, size_t len,
                        struct ds_buf *out, const char **problem)
{
    long v;
    int rc;

    (void)o;
    ds_norm_trim(&in, &len);
    if (len == 0) {
        return DS_NORM_ABSENT;
    }
    if (parse_count(in, len, 1000000000L, &v) != 0) {
        *problem = "not a whole number";
        return DS_EINVAL;
    }
    rc = ds_buf_append_int(out, v, 0);
    return rc != 0 ? rc : DS_NORM_PRESENT;
}

/* Minutes: 1 to 1440 (a day). */
static int norm_duration(const struct ds_norm_opts *o, const char *in, size_t len,
                         struct ds_buf *out, const char **problem)
{
    long v;
    int rc;

    (void)o;
    ds_norm_trim(&in, &len);
    if (len == 0) {
        return DS_NORM_ABSENT;
    }
    if (parse_count(in, len, 1440, &v) != 0 || v == 0) {
        *problem = "not a length in minutes (1-1440)";
        return DS_EINVAL;
    }
    rc = ds_buf_append_int(out, v, 0);
    return rc != 0 ? rc : DS_NORM_PRESENT;
}

/* Open Dental's Pattern: one character per 5 minutes, X (provider) or /
 * (assistant), |  also seen; anything else is not a pattern. */
static int norm_slot_pattern(const struct ds_norm_opts *o, const char *in, size_t len,
                             struct ds_buf *out, const char **problem)
{
    int rc;

    (void)o;
    ds_norm_trim(&in, &len);
    if (len == 0) {
        return DS_NORM_ABSENT;
    }
    if (len > 288) {
        goto bad;
    }
    for (size_t i = 0; i < len; i++) {
        char c = in[i];

        if (c != 'X' && c != 'x' && c != '/' && c != '|') {
            goto bad;
        }
    }
    rc = ds_buf_append_int(out, (long long)len * 5, 0);
    return rc != 0 ? rc : DS_NORM_PRESENT;
bad:
    *problem = "not a time pattern (X and / per 5 minutes)";
    return DS_EINVAL;
}

/* ---- dental codes -------------------------------------------------------- */

/* CDT: D + 4 digits; also 4 digits alone and the old 5-digit ADA form
 * 0NNNN, both given their D. */
static int norm_cdt(const struct ds_norm_opts *o, const char *in, size_t len, struct ds_buf *out,
                    const char **problem)
{
    const char *d;
    int rc;

    (void)o;
    ds_norm_trim(&in, &len);
    if (len == 0) {
        return DS_NORM_ABSENT;
    }
    if (len == 5 && (in[0] == 'D' || in[0] == 'd')) {
        d = in + 1;
    }
    else if (len == 4) {
        d = in;
    }
    else if (len == 5 && in[0] == '0') {
        d = in + 1;
    }
    else {
        goto bad;
    }
    for (int i = 0; i < 4; i++) {
        if (!is_digit((unsigned char)d[i])) {
            goto bad;
        }
    }
    rc = ds_buf_append(out, "D", 1);
    rc = rc != 0 ? rc : ds_buf_append(out, d, 4);
    return rc != 0 ? rc : DS_NORM_PRESENT;
bad:
    *problem = "not a CDT code (D and 4 digits)";
    return DS_EINVAL;
}

/* Universal numbering: 1-32 (a leading # or zeros allowed), primary teeth
 * A-T (either case). */
static int norm_tooth(const struct ds_norm_opts *o, const char *in, size_t len, struct ds_buf *out,
                      const char **problem)
{
    long v;
    int rc;

    (void)o;
    ds_norm_trim(&in, &len);
    if (len > 0 && in[0] == '#') {
        in++;
        len--;
    }
    if (len == 0) {
        return DS_NORM_ABSENT;
    }
    if (len == 1 && ((in[0] >= 'A' && in[0] <= 'T') || (in[0] >= 'a' && in[0] <= 't'))) {
        char c = (char)(in[0] >= 'a' ? in[0] - 32 : in[0]);

        rc = ds_buf_append(out, &c, 1);
        return rc != 0 ? rc : DS_NORM_PRESENT;
    }
    if (len <= 3 && parse_count(in, len, 99, &v) == 0 && v >= 1 && v <= 32) {
        rc = ds_buf_append_int(out, v, 0);
        return rc != 0 ? rc : DS_NORM_PRESENT;
    }
    *problem = "not a tooth number (1-32 or A-T)";
    return DS_EINVAL;
}

/* Surfaces: letters of M O D B L I F V and 5, in any case, separators
 * dropped, each once, in the fixed order MODIBFLV5. */
static int norm_surface(const struct ds_norm_opts *o, const char *in, size_t len,
                        struct ds_buf *out, const char **problem)
{
    static const char order[] = "MODIBFLV5";
    int seen[sizeof(order)] = {0};
    int any = 0;
    int rc;

    (void)o;
    ds_norm_trim(&in, &len);
    if (len == 0) {
        return DS_NORM_ABSENT;
    }
    if (len > 32) {
        goto bad;
    }
    for (size_t i = 0; i < len; i++) {
        char c = in[i] >= 'a' && in[i] <= 'z' ? (char)(in[i] - 32) : in[i];
        const char *p;

        if (c == ' ' || c == ',' || c == '/' || c == '-') {
            continue;
        }
        p = c != '\0' ? strchr(order, c) : NULL;
        if (p == NULL) {
            goto bad;
        }
        seen[p - order] = 1;
        any = 1;
    }
    if (!any) {
        goto bad;
    }
    for (size_t k = 0; k < sizeof(order) - 1; k++) {
        if (seen[k]) {
            rc = ds_buf_append(out, &order[k], 1);
            if (rc != 0) {
                return rc;
            }
        }
    }
    return DS_NORM_PRESENT;
bad:
    *problem = "not a tooth surface (M O D B L I F V 5)";
    return DS_EINVAL;
}

/* ---- coded values -------------------------------------------------------- */

struct code {
    const char *from; /* ds_norm_header form */
    const char *to;   /* canonical value, or NULL: not a record of this type */
};

static int code_lookup(const struct code *table, const char *in, size_t len, struct ds_buf *out,
                       const char **problem)
{
    char key[TOKEN_MAX];
    int rc;

    ds_norm_trim(&in, &len);
    if (len == 0) {
        return DS_NORM_ABSENT;
    }
    if (ds_norm_header(in, len, key, sizeof(key)) < sizeof(key)) {
        for (const struct code *c = table; c->from != NULL; c++) {
            if (key[0] == c->from[0] && strcmp(key, c->from) == 0) {
                if (c->to == NULL) {
                    *problem = "a note or condition, not a record of this type";
                    return DS_EINVAL;
                }
                rc = ds_buf_append_str(out, c->to);
                return rc != 0 ? rc : DS_NORM_PRESENT;
            }
        }
    }
    *problem = "unknown value";
    return DS_EINVAL;
}

static const struct code appointment_statuses[] = {
    {"scheduled", "scheduled"},     {"sched", "scheduled"},
    {"booked", "scheduled"},        {"confirmed", "confirmed"},
    {"conf", "confirmed"},          {"completed", "completed"},
    {"complete", "completed"},      {"kept", "completed"},
    {"done", "completed"},          {"checkedout", "completed"},
    {"cancelled", "cancelled"},     {"canceled", "cancelled"},
    {"cancel", "cancelled"},        {"noshow", "no_show"},
    {"broken", "no_show"},          {"missed", "no_show"},
    {"failed", "no_show"},          {"unscheduled", "unscheduled"},
    {"unschedlist", "unscheduled"}, {"asap", "unscheduled"},
    {"planned", "planned"},         {"tentative", "tentative"},
    {"pending", "tentative"},       {"ptnote", NULL},
    {"ptnotecompleted", NULL},      {NULL, NULL},
};

static const struct code od_aptstatus[] = {
    {"1", "scheduled"},
    {"2", "completed"},
    {"3", "unscheduled"},
    {"4", "unscheduled"},
    {"5", "no_show"},
    {"6", "planned"},
    {"7", NULL},
    {"8", NULL},
    {"scheduled", "scheduled"},
    {"complete", "completed"},
    {"unschedlist", "unscheduled"},
    {"asap", "unscheduled"},
    {"broken", "no_show"},
    {"planned", "planned"},
    {"ptnote", NULL},
    {"ptnotecompleted", NULL},
    {NULL, NULL},
};

static const struct code treatment_statuses[] = {
    {"planned", "planned"},
    {"treatmentplanned", "planned"},
    {"tp", "planned"},
    {"proposed", "planned"},
    {"completed", "completed"},
    {"complete", "completed"},
    {"c", "completed"},
    {"done", "completed"},
    {"existing", "existing"},
    {"ec", "existing"},
    {"eo", "existing"},
    {"e", "existing"},
    {"referred", "referred"},
    {"referredout", "referred"},
    {"r", "referred"},
    {"declined", "declined"},
    {"rejected", "declined"},
    {"tpi", "declined"},
    {"cancelled", "cancelled"},
    {"canceled", "cancelled"},
    {"deleted", "cancelled"},
    {"d", "cancelled"},
    {"cn", NULL},
    {"condition", NULL},
    {NULL, NULL},
};

static const struct code od_procstatus[] = {
    {"1", "planned"},  {"2", "completed"}, {"3", "existing"},  {"4", "existing"},
    {"5", "referred"}, {"6", "cancelled"}, {"7", NULL},        {"8", "declined"},
    {"tp", "planned"}, {"c", "completed"}, {"ec", "existing"}, {"eo", "existing"},
    {"r", "referred"}, {"d", "cancelled"}, {"cn", NULL},       {"tpi", "declined"},
    {NULL, NULL},
};

static const struct code patient_statuses[] = {
    {"active", "active"},
    {"a", "active"},
    {"inactive", "inactive"},
    {"i", "inactive"},
    {"archived", "archived"},
    {"deceased", "deceased"},
    {"prospect", "prospect"},
    {"patient", "active"},
    {"nonpatient", "inactive"},
    {"deleted", "archived"},
    {"prospective", "prospect"},
    {"new", "prospect"},
    {NULL, NULL},
};

static const struct code od_patstatus[] = {
    {"0", "active"},          {"1", "inactive"},           {"2", "inactive"},
    {"3", "archived"},        {"4", "archived"},           {"5", "deceased"},
    {"6", "prospect"},        {"patient", "active"},       {"nonpatient", "inactive"},
    {"inactive", "inactive"}, {"archived", "archived"},    {"deleted", "archived"},
    {"deceased", "deceased"}, {"prospective", "prospect"}, {NULL, NULL},
};

static const struct code financial_kinds[] = {
    {"payment", "payment"},
    {"pay", "payment"},
    {"pmt", "payment"},
    {"ins", "payment"},
    {"inspay", "payment"},
    {"insurancepayment", "payment"},
    {"refund", "refund"},
    {"ref", "refund"},
    {"adjustment", "adjustment"},
    {"adj", "adjustment"},
    {"credit", "adjustment"},
    {"writeoff", "adjustment"},
    {"charge", "charge"},
    {"fee", "charge"},
    {"production", "charge"},
    {"debit", "charge"},
    {NULL, NULL},
};

static const struct code payment_methods[] = {
    {"cash", "cash"},     {"check", "check"},         {"cheque", "check"},   {"chk", "check"},
    {"card", "card"},     {"creditcard", "card"},     {"debitcard", "card"}, {"cc", "card"},
    {"visa", "card"},     {"mastercard", "card"},     {"mc", "card"},        {"amex", "card"},
    {"discover", "card"}, {"insurance", "insurance"}, {"ins", "insurance"},  {"other", "other"},
    {"eft", "other"},     {"ach", "other"},           {NULL, NULL},
};

#define CODE_FN(fname, table)                                                                      \
    static int fname(const struct ds_norm_opts *o, const char *in, size_t len, struct ds_buf *out, \
                     const char **problem)                                                         \
    {                                                                                              \
        (void)o;                                                                                   \
        return code_lookup(table, in, len, out, problem);                                          \
    }

CODE_FN(norm_appointment_status, appointment_statuses)
CODE_FN(norm_od_aptstatus, od_aptstatus)
CODE_FN(norm_treatment_status, treatment_statuses)
CODE_FN(norm_od_procstatus, od_procstatus)
CODE_FN(norm_patient_status, patient_statuses)
CODE_FN(norm_od_patstatus, od_patstatus)
CODE_FN(norm_financial_kind, financial_kinds)
CODE_FN(norm_payment_method, payment_methods)

/* ---- the transform table ------------------------------------------------- */

/* The option-less normalizers, wrapped. */
#define PLAIN_FN(fname, plain)                                                                     \
    static int fname(const struct ds_norm_opts *o, const char *in, size_t len, struct ds_buf *out, \
                     const char **problem)                                                         \
    {                                                                                              \
        (void)o;                                                                                   \
        return plain(in, len, out, problem);                                                       \
    }

PLAIN_FN(opt_text, ds_norm_text)
PLAIN_FN(opt_upper, ds_norm_upper)
PLAIN_FN(opt_lower, ds_norm_lower)
PLAIN_FN(opt_email, ds_norm_email)
PLAIN_FN(opt_gender, ds_norm_gender)

ds_norm_opt_fn ds_norm_lookup_opt(const char *transform)
{
    static const struct {
        const char *name;
        ds_norm_opt_fn fn;
    } fns[] = {
        {"text", opt_text},
        {"upper", opt_upper},
        {"lower", opt_lower},
        {"email", opt_email},
        {"gender", opt_gender},
        {"date", ds_norm_date_opt},
        {"datetime", ds_norm_datetime},
        {"instant", ds_norm_reader_instant},
        {"time", ds_norm_time},
        {"phone", ds_norm_phone_opt},
        {"name", ds_norm_name},
        {"money", ds_norm_money},
        {"integer", norm_integer},
        {"duration", norm_duration},
        {"slot_pattern", norm_slot_pattern},
        {"cdt", norm_cdt},
        {"tooth", norm_tooth},
        {"surface", norm_surface},
        {"status", norm_patient_status},
        {"patient_status", norm_patient_status},
        {"appointment_status", norm_appointment_status},
        {"treatment_status", norm_treatment_status},
        {"financial_kind", norm_financial_kind},
        {"payment_method", norm_payment_method},
        {"opendental_aptstatus", norm_od_aptstatus},
        {"opendental_procstatus", norm_od_procstatus},
        {"opendental_patstatus", norm_od_patstatus},
    };

    if (transform == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
        if (strcmp(transform, fns[i].name) == 0) {
            return fns[i].fn;
        }
    }
    return NULL;
}
