/*
 * test_synonyms.c — the synonym table (agent/map/synonyms.c) and what the
 * mapper and detection make of it: a canonical field the template leaves
 * unbound is bound from a remaining column by synonym, never from a column
 * already bound, never when two columns name it; a required field is
 * rescued; start_at from a date and a time column; detection with
 * import_type auto (a clear winner, a tie between two types, none).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agent/map/canon.h"
#include "agent/map/detect.h"
#include "agent/map/map.h"
#include "agent/map/synonyms.h"
#include "agent/map/tz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fake_row {
    struct ds_row row;
    size_t lens[32];
};

static void fake_row(struct fake_row *f, const char *const *fields, size_t n, long rowno)
{
    assert_true(n <= 32);
    memset(f, 0, sizeof(*f));
    for (size_t i = 0; i < n; i++) {
        f->lens[i] = strlen(fields[i]);
    }
    f->row.nfields = n;
    f->row.fields = fields;
    f->row.lens = f->lens;
    f->row.row = rowno;
    f->row.line = rowno + 1;
    f->row.error_msg = "";
    f->row.raw = "";
}

static struct ds_template *parse(const char *json)
{
    struct ds_template *t = NULL;
    struct ds_error err;

    if (ds_template_parse(json, strlen(json), "test", &t, &err) != 0) {
        fail_msg("template: %s", err.msg);
    }
    return t;
}

/* Every name is folded, stands for a canonical field of its type, and
 * means one field only within its type. */
static void test_table(void **state)
{
    size_t n = ds_synonym_count();

    (void)state;
    assert_true(n > 200);
    for (size_t i = 0; i < n; i++) {
        const char *type, *field, *name;
        enum ds_syn_role role;
        const char *const *canon;
        char folded[64];

        ds_synonym_entry(i, &type, &field, &role, &name);
        assert_non_null(name);
        ds_synonym_fold(name, strlen(name), folded, sizeof(folded));
        if (strcmp(folded, name) != 0) {
            fail_msg("%s %s: '%s' is not folded", type, field, name);
        }
        canon = ds_map_canonical_fields(type);
        assert_non_null(canon);
        while (*canon != NULL && strcmp(*canon, field) != 0) {
            canon++;
        }
        if (*canon == NULL) {
            fail_msg("%s: %s is not a canonical field", type, field);
        }
        for (size_t k = i + 1; k < n; k++) {
            const char *t2, *f2, *n2;
            enum ds_syn_role r2;

            ds_synonym_entry(k, &t2, &f2, &r2, &n2);
            if (strcmp(t2, type) == 0 && strcmp(n2, name) == 0) {
                fail_msg("%s: '%s' names %s and %s", type, name, field, f2);
            }
        }
    }
}

static void expect(const char *type, const char *header, const char *field)
{
    const char *got = ds_synonym_field(type, header, strlen(header), NULL);

    if (got == NULL || strcmp(got, field) != 0) {
        fail_msg("%s '%s': %s, want %s", type, header, got != NULL ? got : "none", field);
    }
}

static void test_lookup(void **state)
{
    enum ds_syn_role role = DS_SYN_WHOLE;

    (void)state;
    expect("patients", "Forename", "first_name");
    expect("patients", "Given Name", "first_name");
    expect("patients", "SURNAME", "last_name");
    expect("patients", "family_name", "last_name");
    expect("patients", "D.O.B.", "date_of_birth");
    expect("patients", "Birth-Date", "date_of_birth");
    expect("patients", "Post Code", "postal_code");
    expect("patients", "ZIP code", "postal_code");
    expect("patients", "Cell Phone", "phone_mobile");
    expect("patients", "Mobile", "phone_mobile");
    expect("patients", "Telephone", "phone_home");
    expect("patients", "E-mail", "email");
    expect("patients", "Street", "address_line1");
    expect("patients", "Town", "city");
    expect("patients", "County", "state");
    expect("patients", "Province", "state");
    expect("patients", "Chart Number", "external_id");
    expect("patients", "Comments", "notes");
    expect("appointments", "Appt Status", "status");
    expect("appointments", "status", "status");
    expect("appointments", "Surgery", "operatory");
    expect("appointments", "Chair", "operatory");
    expect("appointments", "Clinic", "location");
    expect("appointments", "ClinicNum", "location");
    expect("patients", "Location", "location");
    expect("treatments", "Site", "location");
    expect("financial", "Branch", "location");
    expect("financial", "Office", "location");
    expect("appointments", "Clinician", "provider");
    expect("appointments", "Mins", "duration_minutes");
    expect("appointments", "Account Number", "patient_external_id");
    expect("appointments", "Surname", "patient_last_name");
    expect("treatments", "ADA Code", "procedure_code");
    expect("treatments", "CDT code", "procedure_code");
    expect("treatments", "Tooth Number", "tooth");
    expect("treatments", "Fee", "fee_cents");
    expect("financial", "Payment", "amount_cents");
    expect("financial", "Memo", "description");
    assert_string_equal(ds_synonym_field("appointments", "Appt Date", 9, &role), "start_at");
    assert_int_equal(role, DS_SYN_DATE);
    assert_string_equal(ds_synonym_field("appointments", "Start Time", 10, &role), "start_at");
    assert_int_equal(role, DS_SYN_TIME);
    assert_null(ds_synonym_field("patients", "Mood", 4, NULL));
    assert_null(ds_synonym_field("nonsense", "Forename", 8, NULL));
    assert_string_equal(ds_synonym_transform("patients", "date_of_birth"), "date");
    assert_string_equal(ds_synonym_transform("appointments", "status"), "appointment_status");
}

/* generic-patients knows no "Forename": without the synonyms the file
 * cannot use it (first_name is required). */
static void test_uk_patients(void **state)
{
    static const char *const h[] = {"Patient No", "Forename", "Surname", "D.O.B.",
                                    "Postcode",   "Mobile",   "E-mail",  "County"};
    static const char *const v[] = {
        "UK1", "Ann", "Lee", "25/12/1980", "LS1 4AP", "+44 7700 900123", "ann@example.co.uk",
        "Kent"};
    struct ds_template *t = NULL;
    struct ds_mapper *m = NULL;
    struct ds_norm_opts o;
    struct ds_mapped out;
    struct ds_error err;
    struct fake_row hr;
    struct fake_row r;
    char *json = NULL;

    (void)state;
    assert_int_equal(ds_template_find(NULL, "generic-patients", &t, NULL), 0);
    fake_row(&hr, h, 8, 0);
    assert_int_equal(ds_map_new(t, &hr.row, &m, &err), 0);
    memset(&o, 0, sizeof(o));
    o.date_order = DS_DATE_DMY;
    ds_map_set_options(m, &o);
    fake_row(&r, v, 8, 1);
    assert_int_equal(ds_map_row(m, &r.row, &out), 0);
    if (!out.valid) {
        fail_msg("invalid: %s", out.error);
    }
    assert_string_equal(out.record_json,
                        "{\"date_of_birth\":\"1980-12-25\",\"email\":\"ann@example.co.uk\","
                        "\"external_id\":\"UK1\",\"first_name\":\"Ann\",\"last_name\":\"Lee\","
                        "\"phone_mobile\":\"+447700900123\",\"postal_code\":\"LS1 4AP\","
                        "\"state\":\"KENT\"}");
    ds_mapped_close(&out);
    for (size_t i = 0; i < ds_map_nfields(m); i++) {
        const char *f = ds_map_field_name(m, i);
        int by = ds_map_field_bound_by(m, i);

        if (strcmp(f, "first_name") == 0 || strcmp(f, "date_of_birth") == 0 ||
            strcmp(f, "state") == 0) {
            assert_int_equal(by, DS_MAP_BY_SYNONYM);
        }
        else if (strcmp(f, "last_name") == 0 || strcmp(f, "postal_code") == 0) {
            assert_int_equal(by, DS_MAP_BY_TEMPLATE); /* the template lists them */
        }
    }
    assert_int_equal(ds_map_binding_json(m, &json), 0);
    assert_non_null(
        strstr(json, "{\"field\":\"first_name\",\"column\":\"Forename\",\"by\":\"synonym\"}"));
    assert_non_null(
        strstr(json, "{\"field\":\"last_name\",\"column\":\"Surname\",\"by\":\"template\"}"));
    assert_non_null(strstr(json, "\"ambiguous\":[]"));
    free(json);
    ds_map_free(&m);
    ds_template_free(&t);
}

/* A column the template binds is never rebound; a field two remaining
 * columns name stays unbound and is said to be ambiguous; a field the
 * template lacks is added. */
static void test_bound_and_ambiguous(void **state)
{
    static const char *const h[] = {"appointment_id", "patient_id",   "appointment_date",
                                    "start_hour",     "start_minute", "Status",
                                    "Appt Status",    "Chair",        "Type"};
    static const char *const v[] = {"7",        "1001",   "03/10/2024", "9",     "30",
                                    "Complete", "Broken", "2",          "Recall"};
    struct ds_template *t = NULL;
    struct ds_mapper *m = NULL;
    struct ds_tz *tz = NULL;
    struct ds_norm_opts o;
    struct ds_mapped out;
    struct ds_error err;
    struct fake_row hr;
    struct fake_row r;
    char *json = NULL;
    long c1 = -1;
    long c2 = -1;

    (void)state;
    assert_int_equal(ds_template_find(NULL, "dentrix-appointments", &t, NULL), 0);
    fake_row(&hr, h, 9, 0);
    assert_int_equal(ds_map_new(t, &hr.row, &m, &err), 0);
    assert_int_equal(ds_map_nambiguous(m), 1);
    assert_string_equal(ds_map_ambiguous(m, 0, &c1, &c2), "status");
    assert_int_equal(c1, 5);
    assert_int_equal(c2, 6);
    assert_null(ds_map_ambiguous(m, 1, &c1, &c2));
    assert_int_equal(ds_map_binding_json(m, &json), 0);
    assert_non_null(strstr(
        json, "\"ambiguous\":[{\"field\":\"status\",\"columns\":[\"Status\",\"Appt Status\"]}]"));
    /* operatory_id is absent: Chair takes the template's field; Type is an
     * appointment_type, which the template lacks. */
    assert_non_null(
        strstr(json, "{\"field\":\"operatory\",\"column\":\"Chair\",\"by\":\"synonym\"}"));
    assert_non_null(
        strstr(json, "{\"field\":\"appointment_type\",\"column\":\"Type\",\"by\":\"synonym\"}"));
    /* start_at is the template's, from three columns: no synonym takes it. */
    assert_non_null(strstr(
        json, "{\"field\":\"start_at\",\"column\":\"appointment_date\",\"by\":\"template\"}"));
    free(json);
    assert_int_equal(ds_tz_load("America/Chicago", &tz, NULL), 0);
    memset(&o, 0, sizeof(o));
    o.tz = tz;
    ds_map_set_options(m, &o);
    fake_row(&r, v, 9, 1);
    assert_int_equal(ds_map_row(m, &r.row, &out), 0);
    assert_false(out.valid); /* status is unbound: the rule book wants one */
    assert_non_null(strstr(out.error, "status"));
    ds_mapped_close(&out);
    ds_map_free(&m);
    ds_template_free(&t);
    ds_tz_free(&tz);
}

/* A required template field found by synonym; start_at from a date and a
 * time column. */
static void test_required_and_instant(void **state)
{
    static const char *const tj =
        "{\"id\":\"x-appts\",\"import_type\":\"appointments\","
        "\"recognition\":{\"required\":[\"Visit\"]},"
        "\"fields\":{\"external_id\":{\"columns\":[\"Visit\"],\"required\":true},"
        "\"patient_external_id\":{\"columns\":[\"PtRef\"],\"required\":true}}}";
    static const char *const h[] = {"Visit",      "Chart No", "Appt Date",
                                    "Start Time", "Status",   "Mins"};
    static const char *const v[] = {"V1", "P9", "2024-03-27", "10:45", "Kept", "45"};
    static const char *const bad[] = {"Visit", "Appt Date"};
    struct ds_template *t = parse(tj);
    struct ds_mapper *m = NULL;
    struct ds_tz *tz = NULL;
    struct ds_norm_opts o;
    struct ds_mapped out;
    struct ds_error err;
    struct fake_row hr;
    struct fake_row r;

    (void)state;
    fake_row(&hr, h, 6, 0);
    assert_int_equal(ds_map_new(t, &hr.row, &m, &err), 0);
    assert_int_equal(ds_tz_load("Europe/London", &tz, NULL), 0);
    memset(&o, 0, sizeof(o));
    o.tz = tz;
    ds_map_set_options(m, &o);
    fake_row(&r, v, 6, 1);
    assert_int_equal(ds_map_row(m, &r.row, &out), 0);
    if (!out.valid) {
        fail_msg("invalid: %s", out.error);
    }
    assert_string_equal(
        out.record_json,
        "{\"duration_minutes\":45,\"external_id\":\"V1\",\"patient_external_id\":\"P9\","
        "\"start_at\":\"2024-03-27T10:45:00Z\",\"status\":\"completed\"}");
    ds_mapped_close(&out);
    assert_int_equal(ds_map_field_time_column(m, 2), 3);
    ds_map_free(&m);
    /* Without a synonym for it the required field still fails. */
    fake_row(&hr, bad, 2, 0);
    assert_int_equal(ds_map_new(t, &hr.row, &m, &err), DS_EINVAL);
    assert_string_equal(err.field, "patient_external_id");
    ds_template_free(&t);
    ds_tz_free(&tz);
}

static void detect_header(const char *const *names, size_t n, struct ds_template **list,
                          size_t nlist, struct ds_detection *d)
{
    struct fake_row h;

    fake_row(&h, names, n, 0);
    assert_int_equal(ds_detect_any_type(list, nlist, &h.row, d), 0);
}

/* import_type auto: the best template of any type, a tie between two
 * types held, a header no type fits held, a routed pair not a tie. */
static void test_detect_auto(void **state)
{
    static const char *const uk[] = {"Patient No", "Forename", "Surname",
                                     "DOB",        "Postcode", "Mobile"};
    static const char *const appt[] = {"Appt ID", "Patient ID", "Appt Date", "Start Time",
                                       "Mins",    "Status",     "Surgery"};
    static const char *const tie[] = {"Ref", "When", "Value"};
    static const char *const none[] = {"Mood", "Weather", "Colour"};
    static const char *const ledger[] = {"Date",    "Entry Date", "Name",   "Tooth",
                                         "Surface", "Check #",    "Code",   "Description",
                                         "Amount",  "Prov",       "Balance"};
    static const char *const a_json = "{\"id\":\"acme-visits\",\"import_type\":\"appointments\","
                                      "\"recognition\":{\"required\":[\"Ref\",\"When\",\"Value\"]},"
                                      "\"fields\":{\"external_id\":{\"columns\":[\"Ref\"]}}}";
    static const char *const f_json = "{\"id\":\"acme-charges\",\"import_type\":\"financial\","
                                      "\"recognition\":{\"required\":[\"Ref\",\"When\",\"Value\"]},"
                                      "\"fields\":{\"external_id\":{\"columns\":[\"Ref\"]}}}";
    struct ds_template **list = NULL;
    struct ds_template **all = NULL;
    struct ds_detection d;
    struct ds_error err;
    char msg[768];
    size_t n = 0;

    (void)state;
    assert_int_equal(ds_template_list(NULL, &list, &n, &err), 0);
    all = calloc(n + 2, sizeof(struct ds_template *));
    assert_non_null(all);
    memcpy(all, list, n * sizeof(struct ds_template *));
    all[n] = parse(a_json);
    all[n + 1] = parse(f_json);

    detect_header(uk, 6, all, n + 2, &d);
    assert_true(d.matched);
    assert_false(d.ambiguous);
    assert_string_equal(ds_template_id(d.best[0].t), "generic-patients");

    detect_header(appt, 7, all, n + 2, &d);
    assert_true(d.matched);
    assert_string_equal(ds_template_import_type(d.best[0].t), "appointments");

    detect_header(tie, 3, all, n + 2, &d);
    assert_false(d.matched);
    assert_true(d.ambiguous);
    ds_detect_explain(&d, msg, sizeof(msg));
    assert_non_null(strstr(msg, "acme-charges (financial, score 100)"));
    assert_non_null(strstr(msg, "acme-visits (appointments, score 100)"));
    /* With one of the two only, the file is that one's. */
    detect_header(tie, 3, all, n + 1, &d);
    assert_true(d.matched);
    assert_string_equal(ds_template_id(d.best[0].t), "acme-visits");

    detect_header(none, 3, all, n + 2, &d);
    assert_false(d.matched);
    assert_false(d.ambiguous);
    ds_detect_explain(&d, msg, sizeof(msg));
    assert_non_null(strstr(msg, "no template matches the header"));

    /* The ledger pair reads alike, but routes to each other: no tie. */
    detect_header(ledger, 11, all, n + 2, &d);
    assert_true(d.matched);
    assert_non_null(strstr(ds_template_id(d.best[0].t), "dentrix-ledger-"));

    ds_template_free(&all[n]);
    ds_template_free(&all[n + 1]);
    free(all);
    ds_template_list_free(&list, n);
}

/* A canonical recognition name is there when a column is its synonym:
 * without that, generic-patients (first_name, last_name required) would
 * not see Forename. */
static void test_detect_synonym(void **state)
{
    static const char *const uk[] = {"Forename", "Surname", "Post Code", "Mobile"};
    struct ds_template **list = NULL;
    struct ds_detection d;
    struct ds_error err;
    struct fake_row h;
    size_t n = 0;

    (void)state;
    assert_int_equal(ds_template_list(NULL, &list, &n, &err), 0);
    fake_row(&h, uk, 4, 0);
    assert_int_equal(ds_detect_template(list, n, "patients", &h.row, &d), 0);
    assert_true(d.matched);
    assert_string_equal(ds_template_id(d.best[0].t), "generic-patients");
    assert_int_equal(d.known, 4);
    ds_template_list_free(&list, n);
}

/* generic-appointments reads start_at from start_at, Start or Start Time;
 * a file with "Appt Date" and "Appt Time" is still detected (the
 * recognition name "start" has the alias start_at, a canonical field) and
 * mapped (the two columns make the instant). */
static void test_date_and_time_columns(void **state)
{
    static const char *const h[] = {"Appt Date", "Appt Time", "Patient ID", "Status", "Mins"};
    static const char *const v[] = {"2024-03-27", "2:30 PM", "P1", "Scheduled", "30"};
    struct ds_template **list = NULL;
    struct ds_mapper *m = NULL;
    struct ds_tz *tz = NULL;
    struct ds_detection d;
    struct ds_norm_opts o;
    struct ds_mapped out;
    struct ds_error err;
    struct fake_row hr;
    struct fake_row r;
    size_t n = 0;

    (void)state;
    assert_int_equal(ds_template_list(NULL, &list, &n, &err), 0);
    fake_row(&hr, h, 5, 0);
    assert_int_equal(ds_detect_template(list, n, "appointments", &hr.row, &d), 0);
    assert_true(d.matched);
    assert_string_equal(ds_template_id(d.best[0].t), "generic-appointments");
    assert_int_equal(ds_map_new(d.best[0].t, &hr.row, &m, &err), 0);
    assert_int_equal(ds_tz_load("UTC", &tz, NULL), 0);
    memset(&o, 0, sizeof(o));
    o.tz = tz;
    ds_map_set_options(m, &o);
    fake_row(&r, v, 5, 1);
    assert_int_equal(ds_map_row(m, &r.row, &out), 0);
    if (!out.valid) {
        fail_msg("invalid: %s", out.error);
    }
    assert_non_null(strstr(out.record_json, "\"start_at\":\"2024-03-27T14:30:00Z\""));
    ds_mapped_close(&out);
    ds_map_free(&m);
    ds_tz_free(&tz);
    ds_template_list_free(&list, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_uk_patients),
        cmocka_unit_test(test_bound_and_ambiguous),
        cmocka_unit_test(test_required_and_instant),
        cmocka_unit_test(test_detect_auto),
        cmocka_unit_test(test_detect_synonym),
        cmocka_unit_test(test_date_and_time_columns),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
