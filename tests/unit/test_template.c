/*
 * test_template.c — template loading: the built-in generic-patients
 * template, the checks on a template's JSON (each complaint names its JSON
 * path and origin), the lookup order (template_dir, then built-ins), and
 * which missing template directory is worth a warning.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agent/core/log.h"
#include "config/template.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A small valid template; tests break one part of it at a time. */
#define TPL_HEAD                                                                                   \
    "{\"id\":\"t1\",\"name\":\"Test\",\"import_type\":\"patients\","                               \
    "\"recognition\":{\"required\":[\"Last Name\"]},"

static const char good[] =
    TPL_HEAD "\"fields\":{\"last_name\":{\"columns\":[\"Last Name\",\"LName\"],\"required\":true},"
             "\"external_id\":{\"columns\":[\"ID\"],\"transform\":\"text\"},"
             "\"date_of_birth\":{\"columns\":[\"DOB\"],\"transform\":\"date\"}}}";

/* Parses s; expects code and, for failures, err.field == path. */
static void expect_parse(const char *s, int code, const char *path)
{
    struct ds_template *t = NULL;
    struct ds_error err;

    ds_error_clear(&err);
    assert_int_equal(ds_template_parse(s, strlen(s), "test.json", &t, &err), code);
    if (code == 0) {
        assert_non_null(t);
        ds_template_free(&t);
        return;
    }
    assert_null(t);
    assert_int_equal(err.code, code);
    assert_string_equal(err.file, "test.json");
    if (path != NULL) {
        assert_string_equal(err.field, path);
    }
    assert_true(err.msg[0] != '\0');
}

static int has_column(const struct ds_template_field *f, const char *name)
{
    for (const char *const *c = f->columns; *c != NULL; c++) {
        if (strcmp(*c, name) == 0) {
            return 1;
        }
    }
    return 0;
}

static void test_builtin_generic_patients(void **state)
{
    static const char *const canon[] = {
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
    };
    struct ds_template *t = NULL;
    struct ds_error err;
    const struct ds_template_field *f;

    (void)state;
    assert_int_equal(ds_template_find(NULL, "generic-patients", &t, &err), 0);
    assert_string_equal(ds_template_id(t), "generic-patients");
    assert_string_equal(ds_template_import_type(t), "patients");
    assert_int_equal(ds_template_nfields(t), 22);
    for (size_t i = 0; i < 22; i++) {
        f = ds_template_field(t, i);
        assert_string_equal(f->name, canon[i]);
        assert_non_null(f->transform);
        assert_non_null(f->columns[0]);
        /* The canonical name itself is always an alias. */
        assert_string_equal(f->columns[0], canon[i]);
    }
    assert_null(ds_template_field(t, 22));
    f = ds_template_field(t, 1);
    assert_true(f->required);
    assert_true(has_column(f, "First Name"));
    f = ds_template_field(t, 5);
    assert_string_equal(f->transform, "date");
    assert_true(has_column(f, "DOB"));
    assert_true(has_column(f, "Birthdate"));
    f = ds_template_field(t, 8);
    assert_string_equal(f->transform, "phone");
    assert_true(has_column(f, "Mobile"));
    assert_true(has_column(f, "Cell Phone"));
    assert_true(has_column(ds_template_field(t, 15), "Zip"));
    assert_false(ds_template_field(t, 0)->required);
    ds_template_free(&t);
    assert_null(t);
    ds_template_free(&t);
}

static void test_parse_good(void **state)
{
    struct ds_template *t = NULL;
    const struct ds_template_field *f;

    (void)state;
    assert_int_equal(ds_template_parse(good, strlen(good), "test.json", &t, NULL), 0);
    assert_string_equal(ds_template_id(t), "t1");
    /* Canonical order, whatever the order in the document. */
    assert_int_equal(ds_template_nfields(t), 3);
    f = ds_template_field(t, 0);
    assert_string_equal(f->name, "external_id");
    f = ds_template_field(t, 1);
    assert_string_equal(f->name, "last_name");
    assert_string_equal(f->transform, "text"); /* the default */
    assert_true(f->required);
    assert_string_equal(f->columns[0], "Last Name");
    assert_string_equal(f->columns[1], "LName");
    assert_null(f->columns[2]);
    f = ds_template_field(t, 2);
    assert_string_equal(f->name, "date_of_birth");
    assert_false(f->required);
    ds_template_free(&t);
}

static void test_parse_errors(void **state)
{
    (void)state;
    /* Malformed JSON is a parse error; everything else is EINVAL. */
    expect_parse("{\"id\":", DS_EPARSE, NULL);
    expect_parse("[]", DS_EINVAL, "");
    expect_parse("{\"id\":\"a\",\"id\":\"b\"}", DS_EPARSE, NULL);
    expect_parse(TPL_HEAD "\"fields\":{\"shoe_size\":{\"columns\":[\"Shoe\"]}}}", DS_EINVAL,
                 "fields.shoe_size");
    expect_parse(TPL_HEAD
                 "\"fields\":{\"last_name\":{\"columns\":[\"L\"],\"transform\":\"rot13\"}}}",
                 DS_EINVAL, "fields.last_name.transform");
    expect_parse(TPL_HEAD "\"fields\":{\"last_name\":{\"columns\":[\"L\"],\"transform\":7}}}",
                 DS_EINVAL, "fields.last_name.transform");
    expect_parse(TPL_HEAD "\"fields\":{\"last_name\":{\"transform\":\"text\"}}}", DS_EINVAL,
                 "fields.last_name.columns");
    expect_parse(TPL_HEAD "\"fields\":{\"last_name\":{\"columns\":[]}}}", DS_EINVAL,
                 "fields.last_name.columns");
    expect_parse(TPL_HEAD "\"fields\":{\"last_name\":{\"columns\":[\"L\",3]}}}", DS_EINVAL,
                 "fields.last_name.columns[1]");
    expect_parse(TPL_HEAD "\"fields\":{\"last_name\":{\"columns\":[\"L\"],\"colums\":[]}}}",
                 DS_EINVAL, "fields.last_name.colums");
    expect_parse(TPL_HEAD "\"fields\":{\"last_name\":{\"columns\":[\"L\"],\"required\":\"yes\"}}}",
                 DS_EINVAL, "fields.last_name.required");
    expect_parse(TPL_HEAD "\"fields\":{}}", DS_EINVAL, "fields");
    expect_parse(TPL_HEAD "\"fields\":{\"last_name\":[\"L\"]}}", DS_EINVAL, "fields.last_name");
    expect_parse("{\"id\":\"t\",\"import_type\":\"horses\",\"recognition\":{\"required\":[\"a\"]},"
                 "\"fields\":{\"last_name\":{\"columns\":[\"L\"]}}}",
                 DS_EINVAL, "import_type");
    expect_parse("{\"id\":\"a/b\",\"import_type\":\"patients\"}", DS_EINVAL, "id");
    expect_parse("{\"import_type\":\"patients\"}", DS_EINVAL, "id");
    expect_parse("{\"id\":\"t\",\"import_type\":\"patients\",\"fields\":{}}", DS_EINVAL,
                 "recognition");
    expect_parse("{\"id\":\"t\",\"import_type\":\"patients\",\"recognition\":{\"required\":[]}}",
                 DS_EINVAL, "recognition.required");
    expect_parse("{\"id\":\"t\",\"import_type\":\"patients\",\"recognition\":{\"required\":[\"a\"],"
                 "\"optional\":[\"\"]}}",
                 DS_EINVAL, "recognition.optional[0]");
    expect_parse("{\"id\":\"t\",\"import_type\":\"patients\",\"detect\":1}", DS_EINVAL, "detect");
    /* pick: one of four words, never with a split name or a combined instant. */
    expect_parse(TPL_HEAD "\"fields\":{\"last_name\":{\"columns\":[\"L\"],\"pick\":\"any\"}}}",
                 DS_EINVAL, "fields.last_name.pick");
    expect_parse(TPL_HEAD "\"fields\":{\"last_name\":{\"columns\":[\"L\"],\"pick\":\"value\","
                          "\"split\":\"last_first\",\"part\":\"last\"}}}",
                 DS_EINVAL, "fields.last_name.pick");
    expect_parse(TPL_HEAD
                 "\"fields\":{\"last_name\":{\"columns\":[\"L\",\"M\"],\"pick\":\"value\"}}}",
                 0, NULL);
    /* extract: a valid expression with exactly one group; join: a short
     * separator, not with pick. */
    expect_parse(TPL_HEAD
                 "\"fields\":{\"last_name\":{\"columns\":[\"L\"],\"extract\":\"([a-z]+\"}}}",
                 DS_EINVAL, "fields.last_name.extract");
    expect_parse(TPL_HEAD
                 "\"fields\":{\"last_name\":{\"columns\":[\"L\"],\"extract\":\"[a-z]+\"}}}",
                 DS_EINVAL, "fields.last_name.extract");
    expect_parse(TPL_HEAD
                 "\"fields\":{\"last_name\":{\"columns\":[\"L\"],\"extract\":\"(a)(b)\"}}}",
                 DS_EINVAL, "fields.last_name.extract");
    expect_parse(TPL_HEAD
                 "\"fields\":{\"last_name\":{\"columns\":[\"L\"],\"extract\":\"x([a-z]+)\"}}}",
                 0, NULL);
    expect_parse(TPL_HEAD
                 "\"fields\":{\"last_name\":{\"columns\":[\"L\"],\"join\":\"123456789\"}}}",
                 DS_EINVAL, "fields.last_name.join");
    expect_parse(TPL_HEAD "\"fields\":{\"last_name\":{\"columns\":[\"L\"],\"join\":\" \","
                          "\"pick\":\"value\"}}}",
                 DS_EINVAL, "fields.last_name.join");
    expect_parse(TPL_HEAD "\"fields\":{\"last_name\":{\"columns\":[\"L\",\"M\"],\"join\":\" \"}}}",
                 0, NULL);
    expect_parse(good, 0, NULL);
}

/* A temporary template_dir; removed with everything in it. */
struct tdir {
    char path[64];
    char file[128];
};

static void tdir_put(struct tdir *d, const char *name, const char *json)
{
    FILE *f;

    snprintf(d->file, sizeof(d->file), "%s/%s", d->path, name);
    f = fopen(d->file, "w");
    assert_non_null(f);
    fputs(json, f);
    fclose(f);
}

static void test_find_dir_override(void **state)
{
    static const char mine[] =
        "{\"id\":\"generic-patients\",\"name\":\"Ours\",\"import_type\":\"patients\","
        "\"recognition\":{\"required\":[\"Surname\"]},"
        "\"fields\":{\"last_name\":{\"columns\":[\"Surname\"],\"required\":true}}}";
    static const char wrong_id[] =
        "{\"id\":\"other\",\"import_type\":\"patients\",\"recognition\":{\"required\":[\"S\"]},"
        "\"fields\":{\"last_name\":{\"columns\":[\"S\"]}}}";
    struct ds_template *t = NULL;
    struct ds_error err;
    struct tdir d;

    (void)state;
    snprintf(d.path, sizeof(d.path), "/tmp/ds-test-tpl-XXXXXX");
    assert_non_null(mkdtemp(d.path));
    /* Nothing in the directory: the built-in one. */
    assert_int_equal(ds_template_find(d.path, "generic-patients", &t, &err), 0);
    assert_int_equal(ds_template_nfields(t), 22);
    ds_template_free(&t);
    /* An admin's template of the same id wins. */
    tdir_put(&d, "generic-patients.json", mine);
    assert_int_equal(ds_template_find(d.path, "generic-patients", &t, &err), 0);
    assert_int_equal(ds_template_nfields(t), 1);
    assert_string_equal(ds_template_field(t, 0)->columns[0], "Surname");
    ds_template_free(&t);
    unlink(d.file);
    /* A file whose id is not its name is refused. */
    tdir_put(&d, "mine.json", wrong_id);
    ds_error_clear(&err);
    assert_int_equal(ds_template_find(d.path, "mine", &t, &err), DS_EINVAL);
    assert_string_equal(err.field, "id");
    assert_string_equal(err.file, d.file);
    unlink(d.file);
    /* A broken admin file is reported, not silently replaced. */
    tdir_put(&d, "generic-patients.json", "{broken");
    assert_int_equal(ds_template_find(d.path, "generic-patients", &t, &err), DS_EPARSE);
    assert_string_equal(err.file, d.file);
    assert_null(t);
    unlink(d.file);
    rmdir(d.path);
}

static void test_find_bad_ids(void **state)
{
    static const char *const bad[] = {
        "../generic-patients", "a/b", "..", "", ".hidden", "x\\y", "generic-patients/",
    };
    struct ds_template *t = NULL;
    struct ds_error err;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ds_error_clear(&err);
        assert_int_equal(ds_template_find("/tmp", bad[i], &t, &err), DS_EINVAL);
        assert_string_equal(err.field, "id");
        assert_null(t);
    }
    assert_int_equal(ds_template_find(NULL, "no-such-template", &t, &err), DS_ENOTFOUND);
    assert_null(t);
}

/* How many lines of the log file at path carry code. */
static int log_count(const char *path, const char *code)
{
    char line[1024];
    int n = 0;
    FILE *f = fopen(path, "r");

    assert_non_null(f);
    while (fgets(line, sizeof(line), f) != NULL) {
        n += strstr(line, code) != NULL;
    }
    fclose(f);
    return n;
}

/* A template directory that does not exist (the practice's saved templates
 * before the first pull) is normal and not warned about; one that exists
 * but cannot be read (here a file where a directory should be) is. */
static void test_list_absent_dir_quiet(void **state)
{
    struct ds_template **list = NULL;
    struct ds_error err;
    char base[64];
    char absent[96];
    char notdir[96];
    char logpath[96];
    const char *dirs[2];
    size_t n = 0;
    FILE *f;

    (void)state;
    snprintf(base, sizeof(base), "/tmp/ds-test-tpl-XXXXXX");
    assert_non_null(mkdtemp(base));
    snprintf(absent, sizeof(absent), "%s/cloud-templates/main", base);
    snprintf(notdir, sizeof(notdir), "%s/not-a-dir", base);
    snprintf(logpath, sizeof(logpath), "%s/log", base);
    f = fopen(notdir, "w");
    assert_non_null(f);
    fclose(f);
    ds_log_set_level(DS_LOG_INFO);
    assert_int_equal(ds_log_open_file(logpath, 1 << 20, 1), 0);
    dirs[0] = absent;
    dirs[1] = NULL;
    ds_error_clear(&err);
    assert_int_equal(ds_template_list_in(dirs, 2, &list, &n, &err), 0);
    ds_template_list_free(&list, n);
    assert_int_equal(log_count(logpath, "TEMPLATE_DIR_UNREADABLE"), 0);
    dirs[1] = notdir;
    assert_int_equal(ds_template_list_in(dirs, 2, &list, &n, &err), 0);
    ds_template_list_free(&list, n);
    ds_log_close_file();
    assert_int_equal(log_count(logpath, "TEMPLATE_DIR_UNREADABLE"), 1);
    unlink(logpath);
    unlink(notdir);
    rmdir(base);
}

static void test_time_zone(void **state)
{
    static const char *const zones[] = {"UTC", "Europe/Berlin", "America/Argentina/Buenos_Aires",
                                        "Etc/GMT+5", NULL};
    static const char *const not_zones[] = {"",
                                            "../etc/passwd",
                                            "/etc/localtime",
                                            "Europe//Berlin",
                                            "Europe/Berlin/",
                                            "Europe/Ber lin",
                                            NULL};
    struct ds_template *t = NULL;
    struct ds_error err;
    char doc[512];

    (void)state;
    snprintf(doc, sizeof(doc),
             "{\"id\":\"tz\",\"import_type\":\"patients\",\"recognition\":{\"required\":[\"A\"]},"
             "\"fields\":{\"email\":{\"columns\":[\"A\"]}}}");
    assert_int_equal(ds_template_parse(doc, strlen(doc), "t", &t, &err), 0);
    assert_null(ds_template_time_zone(t)); /* none: the practice's zone */
    ds_template_free(&t);
    for (size_t i = 0; zones[i] != NULL; i++) {
        snprintf(
            doc, sizeof(doc),
            "{\"id\":\"tz\",\"import_type\":\"patients\",\"time_zone\":\"%s\","
            "\"recognition\":{\"required\":[\"A\"]},\"fields\":{\"email\":{\"columns\":[\"A\"]}}}",
            zones[i]);
        assert_int_equal(ds_template_parse(doc, strlen(doc), "t", &t, &err), 0);
        assert_string_equal(ds_template_time_zone(t), zones[i]);
        ds_template_free(&t);
    }
    for (size_t i = 0; not_zones[i] != NULL; i++) {
        snprintf(
            doc, sizeof(doc),
            "{\"id\":\"tz\",\"import_type\":\"patients\",\"time_zone\":\"%s\","
            "\"recognition\":{\"required\":[\"A\"]},\"fields\":{\"email\":{\"columns\":[\"A\"]}}}",
            not_zones[i]);
        assert_int_equal(ds_template_parse(doc, strlen(doc), "t", &t, &err), DS_EINVAL);
        assert_string_equal(err.field, "time_zone");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin_generic_patients),
        cmocka_unit_test(test_parse_good),
        cmocka_unit_test(test_time_zone),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_find_dir_override),
        cmocka_unit_test(test_find_bad_ids),
        cmocka_unit_test(test_list_absent_dir_quiet),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
