/*
 * test_draft.c — drafting a template for an export no template reads
 * (agent/map/draft.c): an unknown software's header is mapped by synonyms
 * and word hints, the rest listed as unmapped, the date order comes from
 * the rows; the draft parses as a template, binds to the header and maps
 * every row without an error; writing it never replaces a file.
 */
#include "agent/map/draft.h"

#include "agent/map/detect.h"
#include "agent/map/map.h"
#include "agent/os/os_fs.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_guess),
        cmocka_unit_test(test_draft_maps_unknown_export),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
