/*
 * test_map_types.c — every built-in template on its synthetic sample
 * (samples/pms, made by samples/generate-pms.sh): zero invalid rows, rows
 * routed to the companion template map there, skip rules count their rows,
 * each sample's header carries the columns ../shared/pms-exports.md lists
 * for its shape (Open Dental raw and human-readable, Dentrix views and
 * ledger, Eaglesoft, SoftDent), every status code listed there appears; and the wire records of
 * appointments, treatments and financial (integers, UTC instants, keys).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agent/map/detect.h"
#include "agent/map/map.h"
#include "agent/map/synonyms.h"
#include "agent/map/tz.h"
#include "agent/read/read.h"
#include "config/template.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The columns ../shared/pms-exports.md lists for each shape, as written
 * there (NULL-ended). */
static const char *const od_patient[] = {"PatNum",
                                         "LName",
                                         "FName",
                                         "MiddleI",
                                         "Preferred",
                                         "PatStatus",
                                         "Gender",
                                         "Position",
                                         "Birthdate",
                                         "SSN",
                                         "Address",
                                         "Address2",
                                         "City",
                                         "State",
                                         "Zip",
                                         "HmPhone",
                                         "WkPhone",
                                         "WirelessPhone",
                                         "Guarantor",
                                         "Email",
                                         "EstBalance",
                                         "PriProv",
                                         "SecProv",
                                         "BillingType",
                                         "ChartNumber",
                                         "BalTotal",
                                         "DateFirstVisit",
                                         "ClinicNum",
                                         "PreferContactMethod",
                                         "TxtMsgOk",
                                         "Language",
                                         "DateTStamp",
                                         "SecDateEntry",
                                         NULL};
static const char *const od_appointment[] = {"AptNum",
                                             "PatNum",
                                             "AptStatus",
                                             "Pattern",
                                             "Confirmed",
                                             "Op",
                                             "Note",
                                             "ProvNum",
                                             "ProvHyg",
                                             "AptDateTime",
                                             "NextAptNum",
                                             "UnschedStatus",
                                             "IsNewPatient",
                                             "ProcDescript",
                                             "Assistant",
                                             "ClinicNum",
                                             "IsHygiene",
                                             "DateTStamp",
                                             "DateTimeArrived",
                                             "DateTimeSeated",
                                             "DateTimeDismissed",
                                             "AppointmentTypeNum",
                                             "SecDateTEntry",
                                             "Priority",
                                             NULL};
static const char *const od_procedure[] = {
    "ProcNum",    "PatNum",     "AptNum",  "ProcDate",   "ProcFee",       "Surf",      "ToothNum",
    "ToothRange", "ProcStatus", "ProvNum", "Dx",         "PlannedAptNum", "ClinicNum", "CodeNum",
    "ProcCode",   "UnitQty",    "DateTP",  "DateEntryC", "DateTStamp",    "Discount",  NULL};
static const char *const od_payment[] = {
    "PayNum", "PayType",   "PayDate",   "PayAmt",     "CheckNum",      "BankBranch",    "PayNote",
    "PatNum", "ClinicNum", "DateEntry", "DepositNum", "IsRecurringCC", "PaymentSource", NULL};
static const char *const es_patient[] = {"patient_id",
                                         "first_name",
                                         "last_name",
                                         "middle_initial",
                                         "preferred_name",
                                         "address_1",
                                         "address_2",
                                         "city",
                                         "state",
                                         "zipcode",
                                         "home_phone",
                                         "work_phone",
                                         "cell_phone",
                                         "email_address",
                                         "sex",
                                         "birth_date",
                                         "status",
                                         "patient_status",
                                         "responsible_party",
                                         "preferred_dentist",
                                         "preferred_hygienist",
                                         "first_visit_date",
                                         "last_date_seen",
                                         "chart_id",
                                         "date_entered",
                                         NULL};
static const char *const es_appointment[] = {
    "appointment_id", "patient_id",          "start_time",        "end_time",
    "location_id",    "appointment_type_id", "appointment_notes", "confirmation_status",
    "arrival_status", "classification",      "date_appointed",    NULL};
static const char *const es_services[] = {"appt_id",      "tooth",    "surface",
                                          "service_code", "ada_code", NULL};
static const char *const dx_patient[] = {
    "patient_id",    "first_name", "last_name", "birth_date", "address_line1",
    "address_line2", "city",       "state",     "zipcode",    "home_phone",
    "mobile_phone",  "email",      NULL};
static const char *const dx_appointment[] = {"appointment_id",   "patient_id",  "patient_name",
                                             "appointment_date", "start_hour",  "start_minute",
                                             "length",           "provider_id", "operatory_id",
                                             "status_id",        "note",        NULL};
static const char *const dx_ledger[] = {"Date",    "Entry Date", "Name",    "Tooth",
                                        "Surface", "Check #",    "Code",    "Description",
                                        "Amount",  "Prov",       "Balance", NULL};
static const char *const sd_patient[] = {
    "PatId",        "PatFname",   "PatMname",    "PatLname",    "PatAddress",
    "PatCity",      "PatState",   "PatZip",      "PatHphone",   "PatWphone",
    "PatCellPhone", "PatEmail",   "PatGender",   "PatBirthday", "PatFirstVisit",
    "PatLastVisit", "PatChartId", "PatNickname", NULL};
static const char *const sd_appointment[] = {
    "ApptPatId",    "ApptDate",     "ApptTime",      "ApptAdacode1",
    "ApptAdacode2", "ApptAdacode3", "ApptAdacode4",  "ApptAdacode5",
    "ApptAdacode6", "ApptAdadesc",  "ApptOperatory", "ApptTimeUnits",
    "ApptName",     "ApptChartId",  "ApptDentist",   "ApptTooth1",
    "ApptTooth2",   "ApptTooth3",   "ApptTooth4",    "ApptTooth5",
    "ApptTooth6",   "ApptSurface1", "ApptSurface2",  "ApptSurface3",
    "ApptSurface4", "ApptSurface5", "ApptSurface6",  NULL};
static const char *const sd_transaction[] = {
    "TransDate",   "TransPatId",   "TransPatName", "TransDr",   "TransCode",   "TransCodeType",
    "TransProd",   "TransCharges", "TransProdAdj", "TransCash", "TransChecks", "TransCredit",
    "TransPayAdj", "TransTooth",   "TransSurface", NULL};

struct sample {
    const char *file;           /* under samples/pms */
    const char *template;       /* built-in template id */
    long rows;                  /* data rows */
    long skipped;               /* rows a skip rule takes */
    long routed;                /* rows routed to the companion template */
    const char *const *columns; /* the shape's columns in pms-exports.md, or NULL (generic) */
    const char *status_column;  /* a column whose codes must all appear, or NULL */
    const char *codes;          /* those codes, comma-separated */
};

static const struct sample samples[] = {
    {"opendental-appointments-raw.csv", "opendental-appointments", 18, 6, 0, od_appointment,
     "AptStatus", "0,1,2,3,4,5,6,7,8"},
    {"opendental-appointments-human.csv", "opendental-appointments", 18, 6, 0, od_appointment,
     "AptStatus", "None,Scheduled,Complete,UnschedList,ASAP,Broken,Planned,PtNote,PtNoteCompleted"},
    /* Three clinics and "no clinic" (0): every ClinicNum appears. */
    {"opendental-appointments-clinics.csv", "opendental-appointments", 12, 0, 0, od_appointment,
     "ClinicNum", "0,1,2,3"},
    {"opendental-procedures-raw.csv", "opendental-procedures", 16, 2, 0, od_procedure, "ProcStatus",
     "1,2,3,4,5,6,7,8"},
    {"opendental-procedures-human.csv", "opendental-procedures", 16, 2, 0, od_procedure,
     "ProcStatus", "TP,C,EC,EO,R,D,Cn,TPi"},
    {"opendental-payments-raw.csv", "opendental-payments", 10, 0, 0, od_payment, NULL, NULL},
    {"opendental-payments-human.csv", "opendental-payments", 10, 0, 0, od_payment, NULL, NULL},
    {"opendental-patients-raw.csv", "opendental-patients", 14, 0, 0, od_patient, "PatStatus",
     "0,1,2,3,4,5,6"},
    {"opendental-patients-human.csv", "opendental-patients", 14, 0, 0, od_patient, "PatStatus",
     "Patient,NonPatient,Inactive,Archived,Deleted,Deceased,Prospective"},
    {"dentrix-patients.csv", "dentrix-patients", 8, 0, 0, dx_patient, NULL, NULL},
    {"dentrix-appointments.csv", "dentrix-appointments", 10, 0, 0, dx_appointment, NULL, NULL},
    {"dentrix-ledger.txt", "dentrix-ledger-treatments", 12, 0, 6, dx_ledger, "Code", "Pay,Ins,Adj"},
    {"dentrix-ledger.txt", "dentrix-ledger-financial", 12, 0, 6, dx_ledger, "Code", "Pay,Ins,Adj"},
    {"eaglesoft-patients.csv", "eaglesoft-patients", 10, 0, 0, es_patient, NULL, NULL},
    {"eaglesoft-appointments.csv", "eaglesoft-appointments", 10, 0, 0, es_appointment, NULL, NULL},
    {"eaglesoft-services.csv", "eaglesoft-services", 10, 0, 0, es_services, NULL, NULL},
    {"softdent-patients.txt", "softdent-patients", 10, 0, 0, sd_patient, NULL, NULL},
    {"softdent-appointments.txt", "softdent-appointments", 10, 0, 0, sd_appointment, NULL, NULL},
    {"softdent-transactions.txt", "softdent-transactions-treatments", 16, 0, 10, sd_transaction,
     NULL, NULL},
    {"softdent-transactions.txt", "softdent-transactions-financial", 16, 0, 6, sd_transaction, NULL,
     NULL},
    {"generic-appointments.csv", "generic-appointments", 16, 0, 0, NULL, "status",
     "scheduled,confirmed,completed,cancelled,no show,unscheduled,planned,tentative"},
    {"generic-treatments.csv", "generic-treatments", 12, 0, 0, NULL, "status",
     "planned,completed,existing,referred,declined,cancelled"},
    {"generic-financial.csv", "generic-financial", 10, 0, 0, NULL, "kind",
     "payment,refund,adjustment,charge"},
    /* Columns the templates do not list, bound by synonym. */
    {"uk-patients.csv", "generic-patients", 8, 0, 0, NULL, NULL, NULL},
    {"dentrix-appointments-status.csv", "dentrix-appointments", 10, 0, 0, NULL, "Appt Status",
     "Scheduled,Confirmed,Complete,Broken,Cancelled"},
};

static long header_index(const struct ds_row *h, const char *name)
{
    for (size_t j = 0; j < h->nfields; j++) {
        if (strcmp(h->fields[j], name) == 0) {
            return (long)j;
        }
    }
    return -1;
}

/* A recognition name or one of its aliases, compared like header names. */
static int header_has(const struct ds_template *t, const struct ds_row *h, const char *name)
{
    const char *const *aliases = ds_template_header_aliases(t, name);
    char a[128];
    char b[128];

    for (size_t j = 0; j < h->nfields; j++) {
        const char *syn =
            ds_synonym_field(ds_template_import_type(t), h->fields[j], h->lens[j], NULL);

        ds_norm_header(h->fields[j], h->lens[j], a, sizeof(a));
        ds_norm_header(name, strlen(name), b, sizeof(b));
        if (strcmp(a, b) == 0 || (syn != NULL && strcmp(syn, name) == 0)) {
            return 1; /* the name, or a synonym of the canonical field it is */
        }
        for (const char *const *al = aliases; al != NULL && *al != NULL; al++) {
            ds_norm_header(*al, strlen(*al), b, sizeof(b));
            if (strcmp(a, b) == 0) {
                return 1;
            }
        }
    }
    return 0;
}

static void check_sample(const struct sample *s, const struct ds_tz *tz)
{
    struct ds_template *t = NULL;
    struct ds_template *companion = NULL;
    struct ds_mapper *m = NULL;
    struct ds_mapper *cm = NULL;
    struct ds_reader *r = NULL;
    struct ds_norm_opts o;
    struct ds_error err;
    struct ds_mapped out;
    struct ds_row row;
    char path[4096];
    char seen[64][32];
    size_t nseen = 0;
    const char *src = getenv("DS_TEST_SRCDIR");
    const struct ds_row *h;
    long rows = 0;
    long skipped = 0;
    long routed = 0;
    long scol = -1;
    int rc;

    memset(&o, 0, sizeof(o));
    o.tz = tz;
    snprintf(path, sizeof(path), "%s/samples/pms/%s", src != NULL ? src : ".", s->file);
    assert_int_equal(ds_template_find(NULL, s->template, &t, &err), 0);
    rc = ds_read_open(path, NULL, &r, &err);
    if (rc != 0) {
        fail_msg("%s: %s", s->file, err.msg);
    }
    h = ds_read_header(r);
    /* The header carries every column the template's shape lists. */
    for (const char *const *c = ds_template_required_headers(t); *c != NULL; c++) {
        if (!header_has(t, h, *c)) {
            fail_msg("%s: no column %s", s->file, *c);
        }
    }
    for (const char *const *c = ds_template_optional_headers(t); *c != NULL; c++) {
        if (strncmp(s->template, "generic", 7) != 0 && s->columns != NULL &&
            header_index(h, *c) < 0) {
            fail_msg("%s: no column %s", s->file, *c);
        }
    }
    /* ... and every column pms-exports.md lists for the shape, as written. */
    for (const char *const *c = s->columns; c != NULL && *c != NULL; c++) {
        if (header_index(h, *c) < 0) {
            fail_msg("%s: no column %s (pms-exports.md)", s->file, *c);
        }
    }
    if (s->status_column != NULL) {
        scol = header_index(h, s->status_column);
        assert_true(scol >= 0);
    }
    rc = ds_map_new(t, h, &m, &err);
    if (rc != 0) {
        fail_msg("%s: %s: %s", s->file, err.field, err.msg);
    }
    ds_map_set_options(m, &o);
    if (ds_map_wants_date_votes(m)) { /* date_order auto: the columns vote, as in ingest */
        struct ds_reader *vr = NULL;

        assert_int_equal(ds_read_open(path, NULL, &vr, &err), 0);
        while (ds_read_next_row(vr, &row, &err) == 1) {
            ds_map_date_vote(m, &row);
        }
        ds_read_close(&vr);
        ds_map_date_decide(m);
    }
    while ((rc = ds_read_next_row(r, &row, &err)) == 1) {
        rows++;
        if (scol >= 0 && (size_t)scol < row.nfields && nseen < 64) {
            snprintf(seen[nseen++], sizeof(seen[0]), "%s", row.fields[scol]);
        }
        assert_int_equal(ds_map_row(m, &row, &out), 0);
        if (out.route != NULL) {
            routed++;
            if (cm == NULL) {
                assert_int_equal(ds_template_find(NULL, out.route, &companion, &err), 0);
                assert_int_equal(ds_map_new(companion, h, &cm, &err), 0);
                ds_map_set_options(cm, &o);
                ds_map_set_routing(cm, 0); /* as ingest: the file's template decides */
            }
            ds_mapped_close(&out);
            assert_int_equal(ds_map_row(cm, &row, &out), 0);
            assert_null(out.route);
        }
        if (out.skipped) {
            skipped++;
        }
        else if (!out.valid) {
            fail_msg("%s row %ld: %s", s->file, row.row, out.error);
        }
        else {
            assert_true(out.key[0] != '\0');
        }
        ds_mapped_close(&out);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(rows, s->rows);
    assert_int_equal(skipped, s->skipped);
    assert_int_equal(routed, s->routed);
    if (s->codes != NULL) {
        char codes[256];
        char *save = NULL;

        snprintf(codes, sizeof(codes), "%s", s->codes);
        for (char *c = strtok_r(codes, ",", &save); c != NULL; c = strtok_r(NULL, ",", &save)) {
            int found = 0;

            for (size_t i = 0; i < nseen && !found; i++) {
                found = strcmp(seen[i], c) == 0;
            }
            if (!found) {
                fail_msg("%s: status %s does not appear", s->file, c);
            }
        }
    }
    ds_map_free(&m);
    ds_map_free(&cm);
    ds_read_close(&r);
    ds_template_free(&t);
    ds_template_free(&companion);
}

static void test_every_sample_maps(void **state)
{
    struct ds_tz *tz = NULL;

    (void)state;
    assert_int_equal(ds_tz_load("America/Chicago", &tz, NULL), 0);
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        check_sample(&samples[i], tz);
    }
    ds_tz_free(&tz);
}

/* The calendar sample (samples/pms/calendar-appointments.ics) with the
 * built-in ics-appointments: the template is detected for the calendar's
 * header, and each event's record is what the calendar says, in UTC. */
static void test_calendar_sample(void **state)
{
    static const struct {
        const char *key;
        const char *record;
    } want[] = {
        {"ext:ics-tz-1@clinic.example",
         "{\"end_at\":\"2027-06-15T09:45:00Z\",\"external_id\":\"ics-tz-1@clinic.example\","
         "\"notes\":\"Check-up\\nBring the new X-rays\",\"operatory\":\"Op 3\","
         "\"patient_email\":\"robert.okafor1@example.com\",\"provider\":\"dr.lee@clinic.example\","
         "\"start_at\":\"2027-06-15T09:00:00Z\",\"status\":\"confirmed\"}"},
        {"ext:ics-utc-2@clinic.example",
         "{\"end_at\":\"2027-06-16T15:00:00Z\",\"external_id\":\"ics-utc-2@clinic.example\","
         "\"notes\":\"Filling\",\"operatory\":\"Op 1\",\"patient_phone\":\"+14155550114\","
         "\"provider\":\"dr.lee@clinic.example\",\"start_at\":\"2027-06-16T14:30:00Z\","
         "\"status\":\"tentative\"}"},
        {"ext:ics-cxl-3@clinic.example",
         "{\"end_at\":\"2027-06-17T14:00:00Z\",\"external_id\":\"ics-cxl-3@clinic.example\","
         "\"notes\":\"Extraction\",\"operatory\":\"Op 2\","
         "\"patient_email\":\"zoe.schmidt3@example.com\",\"provider\":\"dr.lee@clinic.example\","
         "\"start_at\":\"2027-06-17T13:00:00Z\",\"status\":\"cancelled\"}"},
        {"ext:ics-sum-4@clinic.example",
         "{\"end_at\":\"2027-06-18T19:15:00Z\",\"external_id\":\"ics-sum-4@clinic.example\","
         "\"notes\":\"Crown prep - Patient ID: 1005\",\"operatory\":\"Op 3\","
         "\"patient_external_id\":\"1005\",\"provider\":\"dr.patel@clinic.example\","
         "\"start_at\":\"2027-06-18T18:30:00Z\",\"status\":\"confirmed\"}"},
        {"ext:ics-series-5@clinic.example/20270107T220000Z",
         "{\"end_at\":\"2027-01-08T15:45:00Z\","
         "\"external_id\":\"ics-series-5@clinic.example/20270107T220000Z\","
         "\"notes\":\"Hygiene recall\\nMoved by one day\",\"operatory\":\"Hyg 1\","
         "\"patient_email\":\"maria.nakamura4@example.org\",\"provider\":\"hyg.kim@clinic."
         "example\","
         "\"start_at\":\"2027-01-08T15:00:00Z\",\"status\":\"confirmed\"}"},
    };
    struct ds_template **all = NULL;
    struct ds_template *t = NULL;
    struct ds_mapper *m = NULL;
    struct ds_reader *r = NULL;
    struct ds_read_hints hints;
    struct ds_error err;
    struct ds_mapped out;
    struct ds_row row;
    struct ds_detection det;
    char path[4096];
    const char *src = getenv("DS_TEST_SRCDIR");
    size_t nall = 0;
    size_t found = 0;
    long series = 0;
    int rc;

    (void)state;
    memset(&hints, 0, sizeof(hints));
    /* The series starts on 2026-12-07: a window from 2026-11-01 to (at
     * least) the end of 2027 holds its 13 occurrences of 2026 and 2027,
     * whatever today is. */
    {
        time_t now = time(NULL);
        long today = (long)(now / 86400);
        long from = 20758;  /* 2026-11-01 in days since 1970 */
        long until = 21183; /* 2027-12-31 */

        hints.window_days_back = (int)(today - from > 1 ? today - from : 1);
        hints.window_days_ahead = (int)(until - today > 1 ? until - today : 1);
    }
    snprintf(path, sizeof(path), "%s/samples/pms/calendar-appointments.ics",
             src != NULL ? src : ".");
    assert_int_equal(ds_read_open(path, &hints, &r, &err), 0);
    assert_int_equal(ds_template_list(NULL, &all, &nall, &err), 0);
    assert_int_equal(ds_detect_template(all, nall, "appointments", ds_read_header(r), &det), 0);
    assert_true(det.matched);
    assert_string_equal(ds_template_id(det.best[0].t), "ics-appointments");
    ds_template_list_free(&all, nall);
    assert_int_equal(ds_template_find(NULL, "ics-appointments", &t, &err), 0);
    assert_int_equal(ds_map_new(t, ds_read_header(r), &m, &err), 0);
    while ((rc = ds_read_next_row(r, &row, &err)) == 1) {
        int matched = 0;

        assert_int_equal(ds_map_row(m, &row, &out), 0);
        if (!out.valid) {
            fail_msg("row %ld: %s", row.row, out.error);
        }
        for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
            if (strcmp(out.key, want[i].key) == 0) {
                assert_string_equal(out.record_json, want[i].record);
                found++;
                matched = 1;
            }
        }
        if (!matched) {
            /* An occurrence of the series: its own id, Maria's e-mail. */
            assert_true(strncmp(out.key, "ext:ics-series-5@clinic.example/", 32) == 0);
            assert_non_null(strstr(out.record_json, "\"patient_email\":\"maria.nakamura4@"));
            assert_non_null(strstr(out.record_json, "\"status\":\"scheduled\""));
            /* (a run after 2027 also sees later occurrences) */
            series += strcmp(out.key + 32, "20280101") < 0;
        }
        ds_mapped_close(&out);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(found, 5);
    /* 2026-12-07 to 2027-12-07 monthly, less the changed 2027-01-07. */
    assert_int_equal(series, 12);
    ds_map_free(&m);
    ds_read_close(&r);
    ds_template_free(&t);
}

/* Maps one row of a small in-memory file with a built-in template. */
static void map_one(const char *tid, const char *const *hdr, const char *const *vals, size_t n,
                    const struct ds_norm_opts *o, struct ds_mapped *out)
{
    struct ds_template *t = NULL;
    struct ds_mapper *m = NULL;
    struct ds_error err;
    struct ds_row h;
    struct ds_row r;
    size_t hl[32];
    size_t vl[32];

    for (size_t i = 0; i < n; i++) {
        hl[i] = strlen(hdr[i]);
        vl[i] = strlen(vals[i]);
    }
    memset(&h, 0, sizeof(h));
    memset(&r, 0, sizeof(r));
    h.nfields = r.nfields = n;
    h.fields = hdr;
    h.lens = hl;
    r.fields = vals;
    r.lens = vl;
    r.row = 1;
    h.raw = r.raw = "";
    assert_int_equal(ds_template_find(NULL, tid, &t, &err), 0);
    assert_int_equal(ds_map_new(t, &h, &m, &err), 0);
    ds_map_set_options(m, o);
    assert_int_equal(ds_map_row(m, &r, out), 0);
    ds_map_free(&m);
    ds_template_free(&t);
}

static void test_wire_records(void **state)
{
    static const char *const ah[] = {"appointment_id", "patient_id", "start", "duration", "status"};
    static const char *const av[] = {"A1", "1001", "2024-03-27 10:45", "45", "Kept"};
    static const char *const nh[] = {"appointment_id", "start", "duration", "status"};
    static const char *const nv[] = {"A1", "2024-03-27 10:45", "45", "Kept"};
    static const char *const dh[] = {"appointment_id",   "patient_id", "patient_name",
                                     "appointment_date", "start_hour", "start_minute",
                                     "length",           "status_id"};
    static const char *const dv[] = {"7",  "1001", "OKAFOR, ROBERT", "03/10/2024", "2",
                                     "30", "60",   "Scheduled"};
    static const char *const th[] = {"patient_id", "code",         "tooth", "surface",
                                     "fee",        "service_date", "status"};
    static const char *const tv[] = {"1001", "d2392", "#3", "dom", "$1,234.50", "3/27/2024", "C"};
    static const char *const fh[] = {"patient_id", "date", "amount", "kind"};
    static const char *const fv[] = {"1001", "2024-03-27", "(50.00)", ""};
    struct ds_tz *tz = NULL;
    struct ds_norm_opts o;
    struct ds_mapped out;
    struct ds_mapped again;

    (void)state;
    assert_int_equal(ds_tz_load("America/Chicago", &tz, NULL), 0);
    memset(&o, 0, sizeof(o));
    o.tz = tz;
    /* Its own id and no patient reference: the cloud would reject it. */
    map_one("generic-appointments", nh, nv, 4, &o, &out);
    assert_false(out.valid);
    assert_string_equal(out.error_field, "record");
    ds_mapped_close(&out);
    map_one("generic-appointments", ah, av, 5, &o, &out);
    assert_true(out.valid);
    assert_string_equal(out.record_json,
                        "{\"duration_minutes\":45,\"external_id\":\"A1\",\"patient_external_id\":"
                        "\"1001\",\"start_at\":\"2024-03-27T15:45:00Z\",\"status\":\"completed\"}");
    assert_string_equal(out.key, "ext:A1");
    ds_mapped_close(&out);
    /* Dentrix: date + hour + minute, in the spring-forward gap; Last, First. */
    map_one("dentrix-appointments", dh, dv, 8, &o, &out);
    assert_true(out.valid);
    assert_non_null(strstr(out.record_json, "\"start_at\":\"2024-03-10T08:30:00Z\""));
    assert_non_null(strstr(out.record_json, "\"patient_last_name\":\"Okafor\""));
    assert_non_null(strstr(out.record_json, "\"patient_first_name\":\"Robert\""));
    assert_non_null(strstr(out.record_json, "\"duration_minutes\":60"));
    ds_mapped_close(&out);
    /* Without a status the cloud would reject it (the rule book): invalid. */
    map_one("dentrix-appointments", dh, dv, 7, &o, &out);
    assert_false(out.valid);
    assert_string_equal(out.error, "status: required");
    ds_mapped_close(&out);
    map_one("generic-treatments", th, tv, 7, &o, &out);
    assert_true(out.valid);
    assert_string_equal(out.record_json,
                        "{\"fee_cents\":123450,\"patient_external_id\":\"1001\",\"procedure_code\":"
                        "\"D2392\",\"service_date\":\"2024-03-27\",\"status\":\"completed\","
                        "\"surface\":\"MOD\",\"tooth\":\"3\"}");
    assert_true(strncmp(out.key, "h:", 2) == 0);
    map_one("generic-treatments", th, tv, 7, &o, &again);
    assert_string_equal(out.key, again.key);
    assert_string_equal(out.fingerprint, again.fingerprint);
    ds_mapped_close(&again);
    ds_mapped_close(&out);
    map_one("generic-financial", fh, fv, 4, &o, &out);
    assert_true(out.valid);
    assert_string_equal(out.record_json,
                        "{\"amount_cents\":-5000,\"date\":\"2024-03-27\",\"kind\":\"payment\","
                        "\"patient_external_id\":\"1001\"}");
    ds_mapped_close(&out);
    ds_tz_free(&tz);
}

/* pick: the first column holding an amount other than 0 gives the amount,
 * its name the kind and the method (SoftDent transactions). */
static void test_pick_nonzero_column(void **state)
{
    static const char *const h[] = {"TransDate", "TransPatId",  "TransCode",  "TransProd",
                                    "TransCash", "TransChecks", "TransPayAdj"};
    static const char *const check[] = {"03/05/2024", "2005", "PAY", "0.00", "0.00", "41.50", ""};
    static const char *const adj[] = {"03/06/2024", "2005", "ADJ", "0", "0", "0.00", "(12.00)"};
    static const char *const none[] = {"03/07/2024", "2005", "PAY", "0", "0.00", "0.00", "0"};
    struct ds_mapped out;

    (void)state;
    map_one("softdent-transactions-financial", h, check, 7, NULL, &out);
    assert_true(out.valid);
    assert_string_equal(
        out.record_json,
        "{\"amount_cents\":4150,\"date\":\"2024-03-05\",\"kind\":\"payment\","
        "\"method\":\"check\",\"patient_external_id\":\"2005\",\"reference\":\"PAY\"}");
    ds_mapped_close(&out);
    map_one("softdent-transactions-financial", h, adj, 7, NULL, &out);
    assert_true(out.valid);
    assert_non_null(strstr(out.record_json, "\"amount_cents\":-1200"));
    assert_non_null(strstr(out.record_json, "\"kind\":\"adjustment\""));
    assert_non_null(strstr(out.record_json, "\"method\":\"other\""));
    ds_mapped_close(&out);
    /* No amount at all: the required amount is missing, nothing is guessed. */
    map_one("softdent-transactions-financial", h, none, 7, NULL, &out);
    assert_false(out.valid);
    assert_string_equal(out.error, "amount_cents: required");
    ds_mapped_close(&out);
}

static void test_unknown_status_is_an_error(void **state)
{
    static const char *const ah[] = {"appointment_id", "patient_id", "start", "status"};
    static const char *const av[] = {"A1", "1001", "2024-03-27 10:45", "Lunch break"};
    struct ds_mapped out;

    (void)state;
    map_one("generic-appointments", ah, av, 4, NULL, &out);
    assert_false(out.valid);
    assert_string_equal(out.error, "status: unknown value");
    assert_string_equal(out.error_field, "status");
    assert_null(strstr(out.error, "Lunch"));
    ds_mapped_close(&out);
}

/* The worked example of docs/templates.md gives the record it shows. */
static void test_docs_worked_example(void **state)
{
    static const char tpl[] =
        "{\"id\": \"acme-visits\", \"import_type\": \"appointments\","
        " \"recognition\": {\"required\": [\"Visit No\", \"When\", \"Time\"],"
        " \"optional\": [\"Patient\", \"Mins\", \"State\", \"Chair\"]},"
        " \"dialect\": {\"delimiter\": \";\", \"date_order\": \"DMY\"},"
        " \"rules\": [{\"skip\": true, \"columns\": [\"State\"], \"values\": [\"Notiz\"],"
        " \"reason\": \"a note, not a visit\"}],"
        " \"fields\": {\"external_id\": {\"columns\": [\"Visit No\"], \"required\": true},"
        " \"patient_last_name\": {\"columns\": [\"Patient\"], \"transform\": \"name\","
        " \"split\": \"last_first\", \"part\": \"last\"},"
        " \"patient_first_name\": {\"columns\": [\"Patient\"], \"transform\": \"name\","
        " \"split\": \"last_first\", \"part\": \"first\"},"
        " \"start_at\": {\"date\": [\"When\"], \"time\": [\"Time\"], \"required\": true},"
        " \"duration_minutes\": {\"columns\": [\"Mins\"], \"transform\": \"duration\"},"
        " \"status\": {\"columns\": [\"State\"], \"transform\": \"appointment_status\","
        " \"map\": {\"Erledigt\": \"completed\", \"Geplant\": \"scheduled\"}},"
        " \"operatory\": {\"columns\": [\"Chair\"]}}}";
    static const char *const hdr[] = {"Visit No", "Patient", "When", "Time",
                                      "Mins",     "State",   "Chair"};
    static const char *const val[] = {"V-17", "Okafor, Robert", "27.03.2024", "10:45",
                                      "45",   "Erledigt",       "2"};
    static const char *const note[] = {"V-18", "", "27.03.2024", "12:00", "", "Notiz", ""};
    struct ds_template *t = NULL;
    struct ds_mapper *m = NULL;
    struct ds_tz *tz = NULL;
    struct ds_norm_opts o;
    struct ds_mapped out;
    struct ds_error err;
    struct ds_row h;
    struct ds_row r;
    size_t hl[7];
    size_t vl[7];

    (void)state;
    assert_int_equal(ds_template_parse(tpl, strlen(tpl), "docs", &t, &err), 0);
    assert_int_equal(ds_tz_load("Europe/Berlin", &tz, NULL), 0);
    memset(&o, 0, sizeof(o));
    o.tz = tz;
    memset(&h, 0, sizeof(h));
    memset(&r, 0, sizeof(r));
    for (size_t i = 0; i < 7; i++) {
        hl[i] = strlen(hdr[i]);
        vl[i] = strlen(val[i]);
    }
    h.nfields = r.nfields = 7;
    h.fields = hdr;
    h.lens = hl;
    r.fields = val;
    r.lens = vl;
    h.raw = r.raw = "";
    assert_int_equal(ds_map_new(t, &h, &m, &err), 0);
    ds_map_set_options(m, &o);
    assert_int_equal(ds_map_row(m, &r, &out), 0);
    assert_true(out.valid);
    assert_string_equal(out.record_json,
                        "{\"duration_minutes\":45,\"external_id\":\"V-17\",\"operatory\":\"2\","
                        "\"patient_first_name\":\"Robert\",\"patient_last_name\":\"Okafor\","
                        "\"start_at\":\"2024-03-27T09:45:00Z\",\"status\":\"completed\"}");
    assert_string_equal(out.key, "ext:V-17");
    ds_mapped_close(&out);
    for (size_t i = 0; i < 7; i++) {
        vl[i] = strlen(note[i]);
    }
    r.fields = note;
    assert_int_equal(ds_map_row(m, &r, &out), 0);
    assert_true(out.skipped);
    assert_string_equal(out.skip_reason, "a note, not a visit");
    ds_mapped_close(&out);
    ds_map_free(&m);
    ds_template_free(&t);
    ds_tz_free(&tz);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_sample_maps),
        cmocka_unit_test(test_calendar_sample),
        cmocka_unit_test(test_wire_records),
        cmocka_unit_test(test_pick_nonzero_column),
        cmocka_unit_test(test_unknown_status_is_an_error),
        cmocka_unit_test(test_docs_worked_example),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
