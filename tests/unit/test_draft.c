/*
 * test_draft.c — drafting a template for an export no template reads
 * (agent/map/draft.c): an unknown software's header is mapped by synonyms
 * and word hints, the rest listed as unmapped, the date order comes from
 * the rows; the draft parses as a template, binds to the header and maps
 * every row without an error; writing it never replaces a file. The
 * status page's mapping screen: each guess has a score, a template id a
 * person types is checked, a person's choice becomes a template the loader
 * takes (and bad choices are refused with the reason), a save is atomic and
 * replaces only when asked, and a saved template waits in the cloud outbox.
 */
#include "agent/map/draft.h"

#include "agent/map/detect.h"
#include "agent/map/map.h"
#include "agent/os/os_fs.h"
#include "agent/upload/upload.h"
#include "config/config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char csv[] = "Client Ref,Given,Family,Born,Cell,Fav Colour\n"
                          "C-1001,Ada,Lovelace,25/12/1980,202-555-0143,blue\n"
                          "C-1002,Alan,Turing,03/06/1975,202-555-0178,green\n";

static char dir[64];
static char path[128];

static int setup(void **state)
{
    FILE *f;

    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/ds-draft-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        return -1;
    }
    snprintf(path, sizeof(path), "%s/clinic.csv", dir);
    f = fopen(path, "w");
    if (f == NULL) {
        return -1;
    }
    fputs(csv, f);
    fclose(f);
    return 0;
}

static int teardown(void **state)
{
    char p[160];

    (void)state;
    unlink(path);
    snprintf(p, sizeof(p), "%s/clinic-pms.json", dir);
    unlink(p);
    rmdir(dir);
    return 0;
}

static void test_guess(void **state)
{
    (void)state;
    assert_string_equal(ds_draft_guess("patients", "First Name", 10, NULL), "first_name");
    assert_string_equal(ds_draft_guess("patients", "Given", 5, NULL), "first_name");
    assert_string_equal(ds_draft_guess("patients", "Family", 6, NULL), "last_name");
    assert_string_equal(ds_draft_guess("patients", "Born", 4, NULL), "date_of_birth");
    assert_string_equal(ds_draft_guess("patients", "Client Ref", 10, NULL), "external_id");
    assert_string_equal(ds_draft_guess("patients", "Client Birth Date", 17, NULL), "date_of_birth");
    assert_null(ds_draft_guess("patients", "Fav Colour", 10, NULL));
    /* The word hints are the draft's only: ingest's synonyms do not know them. */
    assert_null(ds_synonym_field("patients", "Given", 5, NULL));
}

static void test_draft_maps_unknown_export(void **state)
{
    struct ds_template **list = NULL;
    struct ds_template *t = NULL;
    struct ds_reader *r = NULL;
    struct ds_mapper *m = NULL;
    struct ds_detection det;
    struct ds_error err;
    struct ds_row row;
    json_t *draft = NULL;
    char *text;
    size_t n = 0;
    int rows = 0;

    (void)state;
    ds_error_clear(&err);
    assert_int_equal(ds_template_list(NULL, &list, &n, &err), 0);
    assert_int_equal(ds_read_open(path, NULL, &r, &err), 0);
    memset(&det, 0, sizeof(det));
    assert_int_equal(ds_detect_any_type(list, n, ds_read_header(r), &det), 0);
    assert_false(det.matched); /* no template knows this export */
    assert_int_equal(ds_template_draft(r, list, n, NULL, "clinic-pms", &draft, &err), 0);
    ds_read_close(&r);
    assert_string_equal(json_string_value(json_object_get(draft, "import_type")), "patients");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(draft, "dialect"), "date_order")), "DMY");
    assert_non_null(strstr(json_string_value(json_object_get(draft, "description")),
                           "Unmapped columns: Fav Colour"));
    text = json_dumps(draft, 0);
    assert_int_equal(ds_template_parse(text, strlen(text), "draft", &t, &err), 0);
    free(text);
    assert_int_equal(ds_template_nfields(t), 5);

    assert_int_equal(ds_read_open(path, NULL, &r, &err), 0);
    assert_int_equal(ds_map_new(t, ds_read_header(r), &m, &err), 0);
    while (ds_read_next_row(r, &row, &err) == 1) {
        struct ds_mapped out;

        memset(&out, 0, sizeof(out));
        assert_int_equal(ds_map_row(m, &row, &out), 0);
        if (!out.valid) {
            fail_msg("row %d invalid: %s", rows + 1, out.error);
        }
        ds_mapped_close(&out);
        rows++;
    }
    assert_int_equal(rows, 2);
    ds_map_free(&m);
    ds_read_close(&r);
    ds_template_free(&t);

    /* Written 0644 (whatever the umask leaves) and never over an existing file. */
    umask(022);
    {
        char p[160];
        struct stat sb;
        int dfd = open(dir, O_RDONLY | O_DIRECTORY);

        assert_true(dfd >= 0);
        assert_int_equal(ds_draft_write_at(dfd, "clinic-pms.json", draft, &err), 0);
        snprintf(p, sizeof(p), "%s/clinic-pms.json", dir);
        assert_int_equal(stat(p, &sb), 0);
        assert_int_equal(sb.st_mode & 0777, 0644);
        assert_int_equal(ds_draft_write_at(dfd, "clinic-pms.json", draft, &err), DS_EEXIST);
        assert_int_equal(ds_template_find(dir, "clinic-pms", &t, &err), 0);
        ds_template_free(&t);
        close(dfd);
    }
    json_decref(draft);
    ds_template_list_free(&list, n);
}

static void test_guess_scores(void **state)
{
    int score = -1;

    (void)state;
    assert_string_equal(ds_draft_guess_scored("patients", "First Name", 10, NULL, &score),
                        "first_name");
    assert_int_equal(score, DS_DRAFT_SCORE_WHOLE);
    assert_string_equal(ds_draft_guess_scored("patients", "Client Birth Date", 17, NULL, &score),
                        "date_of_birth");
    assert_int_equal(score, DS_DRAFT_SCORE_WORDS);
    assert_string_equal(ds_draft_guess_scored("patients", "Home Zip", 8, NULL, &score),
                        "postal_code");
    assert_int_equal(score, DS_DRAFT_SCORE_WORD);
    assert_string_equal(ds_draft_guess_scored("patients", "Given", 5, NULL, &score), "first_name");
    assert_int_equal(score, DS_DRAFT_SCORE_HINT);
    assert_null(ds_draft_guess_scored("patients", "Fav Colour", 10, NULL, &score));
    assert_int_equal(score, 0);
}

static void test_id_valid(void **state)
{
    char long_id[70];

    (void)state;
    assert_true(ds_draft_id_valid("kartei-patients"));
    assert_true(ds_draft_id_valid("a"));
    assert_true(ds_draft_id_valid("2027-visits"));
    assert_false(ds_draft_id_valid(""));
    assert_false(ds_draft_id_valid(NULL));
    assert_false(ds_draft_id_valid("../evil"));
    assert_false(ds_draft_id_valid("a/b"));
    assert_false(ds_draft_id_valid("a\\b"));
    assert_false(ds_draft_id_valid(".hidden"));
    assert_false(ds_draft_id_valid("-rf"));
    assert_false(ds_draft_id_valid("Upper"));
    assert_false(ds_draft_id_valid("under_score"));
    assert_false(ds_draft_id_valid("dot.json"));
    memset(long_id, 'a', 65);
    long_id[65] = '\0';
    assert_false(ds_draft_id_valid(long_id));
    long_id[64] = '\0';
    assert_true(ds_draft_id_valid(long_id));
}

static void test_columns(void **state)
{
    const char *names[] = {"Bkg Ref", "Appt Date", "Start Time", "Booking Ref"};
    size_t lens[] = {7, 9, 10, 11};
    struct ds_row h;
    json_t *cols;
    json_t *g;

    (void)state;
    memset(&h, 0, sizeof(h));
    h.nfields = 4;
    h.fields = names;
    h.lens = lens;
    h.raw = "";
    cols = ds_draft_columns(&h);
    assert_non_null(cols);
    assert_int_equal(json_array_size(cols), 4);
    g = json_object_get(json_object_get(json_array_get(cols, 0), "guesses"), "appointments");
    assert_string_equal(json_string_value(json_object_get(g, "field")), "external_id");
    assert_int_equal(json_integer_value(json_object_get(g, "score")), DS_DRAFT_SCORE_HINT);
    g = json_object_get(json_object_get(json_array_get(cols, 1), "guesses"), "appointments");
    assert_string_equal(json_string_value(json_object_get(g, "field")), "start_at/date");
    g = json_object_get(json_object_get(json_array_get(cols, 2), "guesses"), "appointments");
    assert_string_equal(json_string_value(json_object_get(g, "field")), "start_at/time");
    /* A field a column before took already is no guess, as in a draft. */
    assert_true(json_is_null(
        json_object_get(json_object_get(json_array_get(cols, 3), "guesses"), "appointments")));
    json_decref(cols);
}

static json_t *choose(struct ds_template **list, size_t n, const char *body, int *overwrite,
                      struct ds_error *err, int *rc)
{
    json_t *t = NULL;

    ds_error_clear(err);
    *rc = ds_draft_from_choice(body, strlen(body), list, n, "preview-id", &t, overwrite, err);
    return t;
}

static void test_from_choice(void **state)
{
    struct ds_template **list = NULL;
    struct ds_template *t = NULL;
    struct ds_error err;
    json_t *doc;
    json_t *f;
    char *text;
    size_t n = 0;
    int overwrite = -1;
    int rc;

    (void)state;
    assert_int_equal(ds_template_list(NULL, &list, &n, &err), 0);
    doc = choose(list, n,
                 "{\"import_type\":\"appointments\",\"id\":\"acme-visits\",\"columns\":["
                 "{\"column\":\"Visit No\",\"field\":\"external_id\"},"
                 "{\"column\":\"When\",\"field\":\"start_at/date\"},"
                 "{\"column\":\"Time\",\"field\":\"start_at/time\"},"
                 "{\"column\":\"State\",\"field\":\"status\"},"
                 "{\"column\":\"Mood\",\"field\":\"ignore\"}],"
                 "\"date_order\":\"DMY\",\"time_zone\":\"Europe/Berlin\","
                 "\"status_map\":{\"Erledigt\":\"completed\",\"Offen\":\"\"},\"overwrite\":true}",
                 &overwrite, &err, &rc);
    if (rc != 0) {
        fail_msg("%s", err.msg);
    }
    assert_int_equal(overwrite, 1);
    assert_string_equal(json_string_value(json_object_get(doc, "id")), "acme-visits");
    assert_string_equal(json_string_value(json_object_get(doc, "time_zone")), "Europe/Berlin");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(doc, "dialect"), "date_order")), "DMY");
    f = json_object_get(json_object_get(doc, "fields"), "start_at");
    assert_string_equal(json_string_value(json_array_get(json_object_get(f, "date"), 0)), "When");
    assert_string_equal(json_string_value(json_array_get(json_object_get(f, "time"), 0)), "Time");
    f = json_object_get(json_object_get(doc, "fields"), "status");
    assert_string_equal(json_string_value(json_object_get(json_object_get(f, "map"), "Erledigt")),
                        "completed");
    assert_null(json_object_get(json_object_get(f, "map"), "Offen")); /* empty: as written */
    assert_string_equal(json_string_value(json_object_get(f, "transform")), "appointment_status");
    assert_string_equal(json_string_value(json_array_get(
                            json_object_get(json_object_get(doc, "recognition"), "optional"), 0)),
                        "Mood");
    /* The loader takes it, with its time zone. */
    text = json_dumps(doc, 0);
    assert_int_equal(ds_template_parse(text, strlen(text), "choice", &t, &err), 0);
    assert_string_equal(ds_template_time_zone(t), "Europe/Berlin");
    ds_template_free(&t);
    free(text);
    json_decref(doc);

    /* A date column alone is the start's date and time; no id: the default. */
    doc = choose(list, n,
                 "{\"import_type\":\"appointments\",\"columns\":["
                 "{\"column\":\"When\",\"field\":\"start_at/date\"}]}",
                 NULL, &err, &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(json_string_value(json_object_get(doc, "id")), "preview-id");
    f = json_object_get(json_object_get(doc, "fields"), "start_at");
    assert_string_equal(json_string_value(json_object_get(f, "transform")), "datetime");
    assert_non_null(json_object_get(f, "columns"));
    json_decref(doc);

    /* Refused, each with its reason. */
    {
        static const struct {
            const char *body;
            int rc;
            const char *msg;
        } bad[] = {
            {"not json", DS_EPARSE, "not a JSON object"},
            {"[]", DS_EPARSE, "not a JSON object"},
            {"{\"import_type\":\"cats\",\"columns\":[]}", DS_EINVAL, "import_type"},
            {"{\"import_type\":\"patients\",\"columns\":[]}", DS_EINVAL, "columns"},
            {"{\"import_type\":\"patients\",\"colums\":[]}", DS_EINVAL, "unknown key colums"},
            {"{\"import_type\":\"patients\",\"columns\":[{\"column\":\"A\",\"field\":\"shoe\"}]}",
             DS_EINVAL, "shoe is not a field of patients"},
            {"{\"import_type\":\"patients\",\"columns\":[{\"column\":\"A\",\"field\":\"email\"},"
             "{\"column\":\"B\",\"field\":\"email\"}]}",
             DS_EINVAL, "email is chosen for two columns"},
            {"{\"import_type\":\"patients\",\"columns\":[{\"column\":\"A\",\"field\":\"ignore\"}]}",
             DS_EINVAL, "at least one column"},
            {"{\"import_type\":\"patients\",\"id\":\"../x\",\"columns\":[{\"column\":\"A\","
             "\"field\":\"email\"}]}",
             DS_EINVAL, "id:"},
            {"{\"import_type\":\"patients\",\"time_zone\":\"../../etc/passwd\",\"columns\":[{"
             "\"column\":\"A\",\"field\":\"email\"}]}",
             DS_EINVAL, "IANA zone"},
            {"{\"import_type\":\"patients\",\"date_order\":\"DDMM\",\"columns\":[{"
             "\"column\":\"A\",\"field\":\"email\"}]}",
             DS_EINVAL, "date_order"},
            {"{\"import_type\":\"appointments\",\"columns\":[{\"column\":\"T\",\"field\":"
             "\"start_at/time\"}]}",
             DS_EINVAL, "needs a date column"},
            {"{\"import_type\":\"patients\",\"columns\":[{\"column\":\"A\",\"field\":"
             "\"email/date\"}]}",
             DS_EINVAL, "not a field"},
            {"{\"import_type\":\"patients\",\"overwrite\":\"yes\",\"columns\":[{\"column\":\"A\","
             "\"field\":\"email\"}]}",
             DS_EINVAL, "overwrite"},
            {"{\"import_type\":\"patients\",\"import_type\":\"patients\",\"columns\":[]}",
             DS_EPARSE, "not a JSON object"},
        };

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            doc = choose(list, n, bad[i].body, NULL, &err, &rc);
            assert_null(doc);
            if (rc != bad[i].rc || strstr(err.msg, bad[i].msg) == NULL) {
                fail_msg("%s: rc %d, '%s' (expected %d, '%s')", bad[i].body, rc, err.msg, bad[i].rc,
                         bad[i].msg);
            }
        }
    }
    ds_template_list_free(&list, n);
}

static void test_save_atomic(void **state)
{
    struct ds_template *t = NULL;
    struct ds_error err;
    json_t *a = json_pack("{s:s, s:s, s:{s:[s]}, s:{s:{s:[s]}}}", "id", "kartei-patients",
                          "import_type", "patients", "recognition", "required", "Kartei Nr",
                          "fields", "external_id", "columns", "Kartei Nr");
    json_t *b = json_deep_copy(a);
    char p[200];
    struct stat sb;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);

    (void)state;
    assert_true(dfd >= 0);
    json_object_set_new(b, "name", json_string("second"));
    assert_int_equal(ds_draft_save_at(dfd, "../evil", a, 0, &err), DS_EINVAL);
    assert_int_equal(ds_draft_save_at(dfd, "kartei-patients", a, 0, &err), 0);
    assert_int_equal(ds_draft_save_at(dfd, "kartei-patients", b, 0, &err), DS_EEXIST);
    assert_int_equal(ds_template_find(dir, "kartei-patients", &t, &err), 0);
    assert_string_equal(ds_template_name(t), "kartei-patients"); /* the first one stays */
    ds_template_free(&t);
    /* A temporary a crash left behind is no obstacle, and goes. */
    snprintf(p, sizeof(p), "%s/.kartei-patients.json.tmp", dir);
    close(open(p, O_WRONLY | O_CREAT | O_EXCL, 0600));
    assert_int_equal(ds_draft_save_at(dfd, "kartei-patients", b, 1, &err), 0);
    assert_int_equal(stat(p, &sb), -1);
    assert_int_equal(ds_template_find(dir, "kartei-patients", &t, &err), 0);
    assert_string_equal(ds_template_name(t), "second");
    ds_template_free(&t);
    /* A planted link at the temporary name is removed, not followed. */
    {
        char target[200];

        snprintf(target, sizeof(target), "%s/target", dir);
        close(open(target, O_WRONLY | O_CREAT | O_EXCL, 0600));
        assert_int_equal(symlink(target, p), 0);
        assert_int_equal(ds_draft_save_at(dfd, "kartei-patients", a, 1, &err), 0);
        assert_int_equal(stat(target, &sb), 0);
        assert_int_equal(sb.st_size, 0);
        unlink(target);
    }
    snprintf(p, sizeof(p), "%s/kartei-patients.json", dir);
    unlink(p);
    close(dfd);
    json_decref(a);
    json_decref(b);
}

static void test_outbox(void **state)
{
    struct ds_config cfg;
    struct ds_practice_conf pc;
    struct ds_error err;
    char p[300];
    char buf[4096];
    struct stat sb;
    json_t *doc;
    FILE *f;
    size_t n;

    (void)state;
    memset(&cfg, 0, sizeof(cfg));
    memset(&pc, 0, sizeof(pc));
    cfg.state_dir = dir;
    pc.name = "main";
    cfg.practices = &pc;
    cfg.npractices = 1;
    assert_int_equal(ds_upload_template_outbox(&cfg, "main", "{\"id\":\"x\"}", &err), DS_EINVAL);
    assert_int_equal(ds_upload_template_outbox(&cfg, "main",
                                               "{\"id\":\"kartei-patients\",\"name\":\"Kartei\","
                                               "\"import_type\":\"patients\",\"fields\":{}}",
                                               &err),
                     0);
    snprintf(p, sizeof(p), "%s/template-outbox/main/kartei-patients.json", dir);
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    f = fopen(p, "r");
    assert_non_null(f);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    doc = json_loads(buf, 0, NULL);
    assert_non_null(doc);
    /* The body of PUT /v1/templates/{id}. */
    assert_string_equal(json_string_value(json_object_get(doc, "name")), "Kartei");
    assert_string_equal(json_string_value(json_object_get(doc, "import_type")), "patients");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(doc, "mapping_config"), "id")),
        "kartei-patients");
    json_decref(doc);
    unlink(p);
    snprintf(p, sizeof(p), "%s/template-outbox/main", dir);
    rmdir(p);
    snprintf(p, sizeof(p), "%s/template-outbox", dir);
    rmdir(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_guess),        cmocka_unit_test(test_draft_maps_unknown_export),
        cmocka_unit_test(test_guess_scores), cmocka_unit_test(test_id_valid),
        cmocka_unit_test(test_columns),      cmocka_unit_test(test_from_choice),
        cmocka_unit_test(test_save_atomic),  cmocka_unit_test(test_outbox),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
