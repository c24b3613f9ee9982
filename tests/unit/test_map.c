/*
 * test_map.c — the normalizers (accepted and refused forms), and the
 * patients mapper: column binding, record JSON, keys, fingerprints, and
 * error messages that never repeat the value they complain about.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agent/core/buf.h"
#include "agent/core/alloc.h"
#include "agent/map/map.h"
#include "agent/map/normalize.h"
#include "agent/map/tz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Normalizers                                                              */

struct norm_case {
    const char *transform; /* template transform name */
    const char *in;        /* input */
    int rc;                /* DS_NORM_PRESENT, DS_NORM_ABSENT or DS_EINVAL */
    const char *want;      /* output when present, problem when invalid */
};

static const struct norm_case cases[] = {
    {"text", "  Ann  ", DS_NORM_PRESENT, "Ann"},
    {"text", "\xc2\xa0 O'Brien\t\xc2\xa0", DS_NORM_PRESENT, "O'Brien"},
    {"text", "Line one\nline two", DS_NORM_PRESENT, "Line one\nline two"},
    {"text", "", DS_NORM_ABSENT, NULL},
    {"text", " \t\r\n ", DS_NORM_ABSENT, NULL},
    {"upper", " ma ", DS_NORM_PRESENT, "MA"},
    {"upper", "", DS_NORM_ABSENT, NULL},
    {"lower", "AbC\xc3\x89", DS_NORM_PRESENT, "abc\xc3\x89"},

    {"date", "1985-03-07", DS_NORM_PRESENT, "1985-03-07"},
    {"date", "03/07/1985", DS_NORM_PRESENT, "1985-03-07"},
    {"date", "3/7/1985", DS_NORM_PRESENT, "1985-03-07"},
    {"date", "12/31/1999", DS_NORM_PRESENT, "1999-12-31"},
    {"date", "1985/03/07", DS_NORM_PRESENT, "1985-03-07"},
    {"date", " 2024-02-29 ", DS_NORM_PRESENT, "2024-02-29"},
    {"date", "2000-02-29", DS_NORM_PRESENT, "2000-02-29"},
    {"date", "0001-01-01", DS_NORM_ABSENT, NULL},
    {"date", "0000-00-00", DS_NORM_ABSENT, NULL},
    {"date", "", DS_NORM_ABSENT, NULL},
    {"date", "2023-02-29", DS_EINVAL, "not a valid date"},
    {"date", "1900-02-29", DS_EINVAL, "not a valid date"},
    {"date", "02/30/1990", DS_EINVAL, "not a valid date"},
    {"date", "04/31/1990", DS_EINVAL, "not a valid date"},
    {"date", "13/01/1990", DS_EINVAL, "not a valid date"},
    {"date", "1990-00-10", DS_EINVAL, "not a valid date"},
    {"date", "1990-01-00", DS_EINVAL, "not a valid date"},
    {"date", "03/07/85", DS_EINVAL, "not a valid date"},
    {"date", "85-03-07", DS_EINVAL, "not a valid date"},
    {"date", "03-07-1985", DS_EINVAL, "not a valid date"},
    {"date", "1985/03-07", DS_EINVAL, "not a valid date"},
    {"date", "07.03.1985", DS_EINVAL, "not a valid date"},
    {"date", "1985-03-07 10:00:00", DS_EINVAL, "not a valid date"},
    {"date", "19850307", DS_EINVAL, "not a valid date"},
    {"date", "1799-12-31", DS_EINVAL, "not a valid date"},
    {"date", "0001-01-02", DS_EINVAL, "not a valid date"},
    {"date", "yesterday", DS_EINVAL, "not a valid date"},

    {"email", " Ann.Lee@Example.COM ", DS_NORM_PRESENT, "ann.lee@example.com"},
    {"email", "a+tag@mail.example.org", DS_NORM_PRESENT, "a+tag@mail.example.org"},
    {"email", "", DS_NORM_ABSENT, NULL},
    {"email", "ann.example.com", DS_EINVAL, "not a valid address"},
    {"email", "ann@example", DS_EINVAL, "not a valid address"},
    {"email", "ann@@example.com", DS_EINVAL, "not a valid address"},
    {"email", "a@b@example.com", DS_EINVAL, "not a valid address"},
    {"email", "@example.com", DS_EINVAL, "not a valid address"},
    {"email", "ann lee@example.com", DS_EINVAL, "not a valid address"},
    {"email", "ann@.example", DS_EINVAL, "not a valid address"},
    {"email", "ann@example.", DS_EINVAL, "not a valid address"},
    {"email", "ann@example..com", DS_EINVAL, "not a valid address"},

    {"phone", "(312) 555-0147", DS_NORM_PRESENT, "+13125550147"},
    {"phone", "312.555.0147", DS_NORM_PRESENT, "+13125550147"},
    {"phone", "3125550147", DS_NORM_PRESENT, "+13125550147"},
    {"phone", "1-312-555-0147", DS_NORM_PRESENT, "+13125550147"},
    {"phone", "+1 (312) 555-0147", DS_NORM_PRESENT, "+13125550147"},
    {"phone", "+44 20 7946 0958", DS_NORM_PRESENT, "+442079460958"},
    {"phone", "+12345678", DS_NORM_PRESENT, "+12345678"},
    {"phone", "", DS_NORM_ABSENT, NULL},
    {"phone", "555-0147", DS_EINVAL, "not a valid phone number"},
    {"phone", "+1234567", DS_EINVAL, "not a valid phone number"},
    {"phone", "+1234567890123456", DS_EINVAL, "not a valid phone number"},
    {"phone", "23125550147", DS_EINVAL, "not a valid phone number"},
    {"phone", "312-555-0147 x12", DS_EINVAL, "not a valid phone number"},
    {"phone", "312+555+0147", DS_EINVAL, "not a valid phone number"},
    {"phone", "call me", DS_EINVAL, "not a valid phone number"},

    {"gender", "M", DS_NORM_PRESENT, "male"},
    {"gender", "male", DS_NORM_PRESENT, "male"},
    {"gender", "f", DS_NORM_PRESENT, "female"},
    {"gender", " FEMALE ", DS_NORM_PRESENT, "female"},
    {"gender", "O", DS_NORM_PRESENT, "other"},
    {"gender", "Other", DS_NORM_PRESENT, "other"},
    {"gender", "X", DS_NORM_PRESENT, "other"},
    {"gender", "U", DS_NORM_PRESENT, "unknown"},
    {"gender", "Unknown", DS_NORM_PRESENT, "unknown"},
    {"gender", "", DS_NORM_ABSENT, NULL},
    {"gender", "Q", DS_EINVAL, "unknown value"},
    {"gender", "2", DS_EINVAL, "unknown value"},

    {"status", "Active", DS_NORM_PRESENT, "active"},
    {"status", "inactive", DS_NORM_PRESENT, "inactive"},
    {"status", "ARCHIVED", DS_NORM_PRESENT, "archived"},
    {"status", "Deceased", DS_NORM_PRESENT, "deceased"},
    {"status", "prospect", DS_NORM_PRESENT, "prospect"},
    {"status", "Patient", DS_NORM_PRESENT, "active"},
    {"status", "NonPatient", DS_NORM_PRESENT, "inactive"},
    {"status", "Non-Patient", DS_NORM_PRESENT, "inactive"},
    {"status", "Deleted", DS_NORM_PRESENT, "archived"},
    {"status", "Prospective", DS_NORM_PRESENT, "prospect"},
    {"status", "", DS_NORM_ABSENT, NULL},
    {"status", "Moved away", DS_EINVAL, "unknown value"},
    {"status", "3", DS_EINVAL, "unknown value"},
};

static void test_normalizers(void **state)
{
    struct ds_buf out;

    (void)state;
    ds_buf_init(&out, 1024);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct norm_case *c = &cases[i];
        ds_norm_fn fn = ds_norm_lookup(c->transform);
        const char *problem = NULL;
        int rc;

        assert_non_null(fn);
        ds_buf_reset(&out);
        rc = fn(c->in, strlen(c->in), &out, &problem);
        if (rc != c->rc) {
            fail_msg("case %zu (%s): rc %d, want %d", i, c->transform, rc, c->rc);
        }
        if (rc == DS_NORM_PRESENT) {
            assert_string_equal(out.data, c->want);
        }
        else if (rc == DS_NORM_ABSENT) {
            assert_int_equal(out.len, 0);
        }
        else {
            assert_string_equal(problem, c->want);
            /* The problem never repeats the value. */
            assert_null(strstr(problem, c->in));
        }
    }
    ds_buf_close(&out);
    assert_null(ds_norm_lookup("rot13"));
    assert_null(ds_norm_lookup(NULL));
}

static void test_header_key_and_fold(void **state)
{
    struct ds_buf out;
    char key[32];

    (void)state;
    assert_int_equal(ds_norm_header("First_Name", 10, key, sizeof(key)), 9);
    assert_string_equal(key, "firstname");
    ds_norm_header(" Date of - Birth ", 17, key, sizeof(key));
    assert_string_equal(key, "dateofbirth");
    assert_int_equal(ds_norm_header("abcdef", 6, key, 4), 6);
    assert_string_equal(key, "abc");
    ds_buf_init(&out, 64);
    assert_int_equal(ds_norm_fold("JOS\xc3\x89 Zo\xc3\xab \xc3\x97 \xc3\x9e", 16, &out), 0);
    assert_string_equal(out.data, "jos\xc3\xa9 zo\xc3\xab \xc3\x97 \xc3\xbe");
    ds_buf_close(&out);
    assert_true(ds_norm_utf8_valid("Zo\xc3\xab", 4));
    assert_false(ds_norm_utf8_valid("Zo\xc3", 3));
    assert_false(ds_norm_utf8_valid("a\0b", 3));
}

/* ------------------------------------------------------------------------ */
/* Mapper fixtures                                                          */

/* A row built by hand, as a reader would hand it over. */
struct fake_row {
    struct ds_row row;
    size_t lens[32];
};

static void fake_row(struct fake_row *f, const char *const *fields, size_t n)
{
    assert_true(n <= 32);
    for (size_t i = 0; i < n; i++) {
        f->lens[i] = strlen(fields[i]);
    }
    f->row.nfields = n;
    f->row.fields = fields;
    f->row.lens = f->lens;
    f->row.row = 1;
    f->row.line = 2;
    f->row.error = DS_READ_ROW_OK;
    f->row.error_field = 0;
    f->row.error_msg = "";
    f->row.raw = "";
    f->row.raw_len = 0;
    f->row.utf8_checked = 0; /* a hand-made row: the mapper checks its UTF-8 */
}

static const char *const header[] = {
    "Patient ID", "First Name", "Last Name", "DOB",    "Gender", "Email",
    "Mobile",     "Home Phone", "Zip",       "Status", "Notes",
};
#define NCOL (sizeof(header) / sizeof(header[0]))

struct fixture {
    struct ds_template *t;
    struct ds_mapper *m;
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    struct fake_row h;

    if (fx == NULL || ds_template_find(NULL, "generic-patients", &fx->t, NULL) != 0) {
        free(fx);
        return -1;
    }
    fake_row(&h, header, NCOL);
    h.row.row = 0;
    if (ds_map_new(fx->t, &h.row, &fx->m, NULL) != 0) {
        ds_template_free(&fx->t);
        free(fx);
        return -1;
    }
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;

    ds_map_free(&fx->m);
    assert_null(fx->m);
    ds_map_free(&fx->m);
    ds_template_free(&fx->t);
    free(fx);
    return 0;
}

/* Maps a row of NCOL values. */
static void map(void **state, const char *const *values, struct ds_mapped *out)
{
    struct fixture *fx = *state;
    struct fake_row r;

    fake_row(&r, values, NCOL);
    assert_int_equal(ds_map_row(fx->m, &r.row, out), 0);
}

static void test_record_json_exact(void **state)
{
    static const char *const v[NCOL] = {
        "1001",           " Ann ", "Lee",   "3/7/1985", "F", "Ann.Lee@Example.com",
        "(312) 555-0147", "",      "02139", "Patient",  "",
    };
    struct ds_mapped out;
    char fp[DS_SHA256_HEX];

    map(state, v, &out);
    assert_true(out.valid);
    assert_string_equal(out.error, "");
    assert_string_equal(out.key, "ext:1001");
    assert_string_equal(out.record_json,
                        "{\"date_of_birth\":\"1985-03-07\",\"email\":\"ann.lee@example.com\","
                        "\"external_id\":\"1001\",\"first_name\":\"Ann\",\"gender\":\"female\","
                        "\"last_name\":\"Lee\",\"phone_mobile\":\"+13125550147\","
                        "\"postal_code\":\"02139\",\"status\":\"active\"}");
    assert_string_equal(out.raw_json,
                        "{\"Patient ID\":\"1001\",\"First Name\":\" Ann \",\"Last Name\":\"Lee\","
                        "\"DOB\":\"3/7/1985\",\"Gender\":\"F\",\"Email\":\"Ann.Lee@Example.com\","
                        "\"Mobile\":\"(312) 555-0147\",\"Home Phone\":\"\",\"Zip\":\"02139\","
                        "\"Status\":\"Patient\",\"Notes\":\"\"}");
    assert_int_equal(ds_sha256_hex(out.record_json, strlen(out.record_json), fp), 0);
    assert_string_equal(out.fingerprint, fp);
    ds_mapped_close(&out);
    assert_null(out.record_json);
    assert_null(out.raw_json);
    ds_mapped_close(&out);
    ds_mapped_close(NULL);
}

/* A value that is not UTF-8 is the row's error when nothing checked it
 * before (utf8_checked 0, as every reader but the checked CSV text). */
static void test_invalid_utf8_value(void **state)
{
    static const char *const v[NCOL] = {
        "1003", "Zo\xc3", "Lee", "", "", "", "", "", "", "", "",
    };
    struct ds_mapped out;

    map(state, v, &out);
    assert_false(out.valid);
    assert_string_equal(out.error, "first_name: not valid UTF-8");
    ds_mapped_close(&out);
}

static void test_unicode_and_newline_values(void **state)
{
    static const char *const v[NCOL] = {
        "1002", "Zo\xc3\xab", "O'Brien", "", "", "", "", "", "", "", "Line \"one\"\nline two",
    };
    struct ds_mapped out;

    map(state, v, &out);
    assert_true(out.valid);
    assert_string_equal(out.record_json, "{\"external_id\":\"1002\",\"first_name\":\"Zo\xc3\xab\","
                                         "\"last_name\":\"O'Brien\","
                                         "\"notes\":\"Line \\\"one\\\"\\nline two\"}");
    ds_mapped_close(&out);
}

/* ------------------------------------------------------------------------ */
/* Keys                                                                     */

static void test_key_external_id(void **state)
{
    static const char *const ok[NCOL] = {"  A-17/x ", "Ann", "Lee", "", "", "", "", "", "", "", ""};
    static const char *const spaced[NCOL] = {"A 17", "Ann", "Lee", "", "", "", "", "", "", "", ""};
    static const char *const ctl[NCOL] = {"A\x01", "Ann", "Lee", "", "", "", "", "", "", "", ""};
    char long_id[66];
    const char *too_long[NCOL] = {long_id, "Ann", "Lee", "", "", "", "", "", "", "", ""};
    struct ds_mapped out;

    map(state, ok, &out);
    assert_true(out.valid);
    assert_string_equal(out.key, "ext:A-17/x");
    ds_mapped_close(&out);
    map(state, spaced, &out);
    assert_true(out.valid);
    assert_string_equal(out.key, "ext:A 17");
    ds_mapped_close(&out);
    map(state, ctl, &out);
    assert_false(out.valid);
    assert_string_equal(out.key, "");
    assert_null(out.record_json);
    assert_string_equal(out.fingerprint, "");
    assert_non_null(strstr(out.error, "external_id: "));
    ds_mapped_close(&out);
    memset(long_id, '7', 64);
    long_id[64] = '\0';
    map(state, too_long, &out);
    assert_true(out.valid);
    ds_mapped_close(&out);
    long_id[64] = '7';
    long_id[65] = '\0';
    map(state, too_long, &out);
    assert_false(out.valid);
    assert_string_equal(out.error,
                        "external_id: not a valid identifier (at most 64 printable characters)");
    assert_null(strstr(out.error, long_id));
    assert_non_null(out.raw_json);
    ds_mapped_close(&out);
}

static void test_key_name_dob(void **state)
{
    /* sha256("patients\x1fname_dob\x1fo'brien\x1fjos\xc3\xa9\x1f" "1985-03-07"), from
     * another implementation. */
    static const char *const want =
        "h:18b9802d11530b975f227e476dee950947ad81efbd8a91566427a9eb160b7ddf";
    static const char *const a[NCOL] = {
        "", "JOS\xc3\x89", "O'Brien", "03/07/1985", "M", "jose@example.org", "", "", "", "", "",
    };
    static const char *const b[NCOL] = {
        "", " jos\xc3\xa9", "O'BRIEN ", "1985-03-07", "", "", "3125550147", "", "", "", "",
    };
    static const char *const bad_dob[NCOL] = {
        "", "Jose", "O'Brien", "02/30/1985", "", "jose@example.org", "", "", "", "", "",
    };
    struct ds_mapped out;
    char hex[DS_SHA256_HEX];
    const char input[] = "patients\x1f"
                         "name_dob\x1f"
                         "o'brien\x1f"
                         "jos\xc3\xa9\x1f"
                         "1985-03-07";

    assert_int_equal(ds_sha256_hex(input, sizeof(input) - 1, hex), 0);
    assert_string_equal(want + 2, hex);
    map(state, a, &out);
    assert_true(out.valid);
    assert_string_equal(out.key, want);
    ds_mapped_close(&out);
    /* Same person written differently: same key. */
    map(state, b, &out);
    assert_true(out.valid);
    assert_string_equal(out.key, want);
    ds_mapped_close(&out);
    /* A present but invalid date: the key cannot be told (the e-mail would
     * give another patient's identity). */
    map(state, bad_dob, &out);
    assert_false(out.valid);
    assert_string_equal(out.key, "");
    assert_string_equal(out.error, "date_of_birth: not a valid date");
    assert_null(strstr(out.error, "02/30/1985"));
    ds_mapped_close(&out);
}

static void test_key_email_phone_none(void **state)
{
    static const char *const email[NCOL] = {
        "", "Ann", "Lee", "", "", "Ann@Example.com", "3125550147", "", "", "", "",
    };
    static const char *const mobile_first[NCOL] = {
        "", "Ann", "Lee", "", "", "", "(312) 555-0147", "617 555 0199", "", "", "",
    };
    static const char *const home_only[NCOL] = {
        "", "Ann", "Lee", "", "", "", "", "312.555.0147", "", "", "",
    };
    static const char *const none[NCOL] = {"", "Ann", "Lee", "", "", "", "", "", "", "", ""};
    struct ds_mapped out;

    map(state, email, &out);
    assert_true(out.valid);
    assert_string_equal(out.key,
                        "h:80e78dc2d5b2fbfaa650e3c54550a363810ec940af9e197c35d5749f44a005d4");
    ds_mapped_close(&out);
    map(state, mobile_first, &out);
    assert_true(out.valid);
    assert_string_equal(out.key,
                        "h:7cfde79f959bb8f6de0e2b21813a439e7f726238643ffe63f2b0699dc98c2cf1");
    ds_mapped_close(&out);
    map(state, home_only, &out);
    assert_true(out.valid);
    assert_string_equal(out.key,
                        "h:7cfde79f959bb8f6de0e2b21813a439e7f726238643ffe63f2b0699dc98c2cf1");
    ds_mapped_close(&out);
    map(state, none, &out);
    assert_false(out.valid);
    assert_string_equal(out.key, "");
    assert_null(out.record_json);
    assert_string_equal(out.error, "record: no match key (external_id, email, phone, or "
                                   "last_name + first_name + date_of_birth)");
    ds_mapped_close(&out);
}

struct hook_calls {
    int n;
    char key[DS_MAP_KEY_MAX];
};

static void record_key(void *ctx, const char *key)
{
    struct hook_calls *c = ctx;

    c->n++;
    snprintf(c->key, sizeof(c->key), "%s", key);
}

/* The key hook sees each row's key once, as ds_map_row returns it, before
 * the row is finished (a row with a key may still be invalid); a row
 * without one calls nothing; a NULL hook is none. */
static void test_key_hook(void **state)
{
    static const char *const ok[NCOL] = {"A-17", "Ann", "Lee", "", "", "", "", "", "", "", ""};
    static const char *const bad_mail[NCOL] = {"A-18", "Ann", "Lee", "", "", "not-mail",
                                               "",     "",    "",    "", ""};
    static const char *const none[NCOL] = {"", "Ann", "Lee", "", "", "", "", "", "", "", ""};
    struct fixture *fx = *state;
    struct hook_calls c;
    struct ds_mapped out;

    memset(&c, 0, sizeof(c));
    ds_map_set_key_hook(fx->m, record_key, &c);
    map(state, ok, &out);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.key, "ext:A-17");
    assert_string_equal(out.key, c.key);
    ds_mapped_close(&out);
    map(state, bad_mail, &out);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.key, "ext:A-18");
    assert_false(out.valid);
    ds_mapped_close(&out);
    map(state, none, &out);
    assert_int_equal(c.n, 2);
    assert_false(out.valid);
    ds_mapped_close(&out);
    ds_map_set_key_hook(fx->m, NULL, NULL);
    map(state, ok, &out);
    assert_int_equal(c.n, 2);
    assert_true(out.valid);
    ds_mapped_close(&out);
}

/* ds_map_row clears what the row before left in out (after its
 * ds_mapped_close): a valid row after an invalid one has no error. */
static void test_mapped_cleared(void **state)
{
    static const char *const ok[NCOL] = {"A-17", "Ann", "Lee", "", "", "", "", "", "", "", ""};
    static const char *const none[NCOL] = {"", "Ann", "Lee", "", "", "", "", "", "", "", ""};
    struct ds_mapped out;

    memset(&out, 0x5a, sizeof(out));
    out.record_json = NULL;
    out.raw_json = NULL;
    map(state, none, &out);
    assert_false(out.valid);
    assert_string_equal(out.key, "");
    assert_string_equal(out.fingerprint, "");
    assert_false(out.skipped);
    assert_null(out.route);
    assert_int_equal(out.nerrors, 1);
    ds_mapped_close(&out);
    assert_string_equal(out.error, "");
    assert_string_equal(out.error_field, "");
    assert_int_equal(out.nerrors, 0);
    assert_null(out.record_json);
    map(state, ok, &out);
    assert_true(out.valid);
    assert_string_equal(out.error, "");
    assert_string_equal(out.error_field, "");
    assert_int_equal(out.nerrors, 0);
    assert_null(out.skip_reason);
    ds_mapped_close(&out);
}

/* ------------------------------------------------------------------------ */
/* Fingerprints, errors, binding                                            */

static void test_fingerprint(void **state)
{
    static const char *const a[NCOL] = {
        "1001",         "Ann", "Lee", "03/07/1985", "F", "ANN@EXAMPLE.COM",
        "312.555.0147", "",    "",    "Active",     "",
    };
    static const char *const b[NCOL] = {
        " 1001",          "Ann ", "Lee", "1985-03-07", "female", "ann@example.com",
        "(312) 555-0147", "",     "",    "active",     "",
    };
    static const char *const c[NCOL] = {
        "1001",         "Ann", "Lee", "03/07/1985", "F", "ANN@EXAMPLE.COM",
        "312.555.0147", "",    "",    "Inactive",   "",
    };
    struct ds_mapped x;
    struct ds_mapped y;

    map(state, a, &x);
    map(state, b, &y);
    assert_true(x.valid && y.valid);
    assert_string_equal(x.record_json, y.record_json);
    assert_string_equal(x.fingerprint, y.fingerprint);
    assert_int_equal(strlen(x.fingerprint), 64);
    ds_mapped_close(&y);
    map(state, c, &y);
    assert_true(y.valid);
    assert_string_equal(x.key, y.key);
    assert_string_not_equal(x.fingerprint, y.fingerprint);
    ds_mapped_close(&x);
    ds_mapped_close(&y);
}

static void test_errors_never_hold_values(void **state)
{
    static const struct {
        size_t col;
        const char *value;
        const char *error;
    } bad[] = {
        {4, "Zorro", "gender: unknown value"},
        {3, "1985-02-30", "date_of_birth: not a valid date"},
        {5, "zorro-at-example.com", "email: not a valid address"},
        {6, "555-ZORRO", "phone_mobile: not a valid phone number"},
        {7, "+1 zorro", "phone_home: not a valid phone number"},
        {9, "Zorro", "status: unknown value"},
        {9, "Patient Zorro", "status: unknown value"},
    };
    struct ds_mapped out;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *v[NCOL] = {"1001", "Ann", "Lee", "", "", "", "", "", "", "", ""};

        v[bad[i].col] = bad[i].value;
        map(state, v, &out);
        assert_false(out.valid);
        assert_string_equal(out.error, bad[i].error);
        assert_null(strstr(out.error, bad[i].value));
        assert_null(strstr(out.error, "Zorro"));
        assert_null(strstr(out.error, "zorro"));
        /* The key is still known: the external id is sound. */
        assert_string_equal(out.key, "ext:1001");
        assert_null(out.record_json);
        assert_non_null(strstr(out.raw_json, bad[i].value));
        ds_mapped_close(&out);
    }
}

static void test_first_error_wins_and_required(void **state)
{
    static const char *const two_bad[NCOL] = {
        "1001", "Ann", "Lee", "31/12/1985", "Q", "", "", "", "", "", "",
    };
    static const char *const no_first[NCOL] = {"1001", " ", "Lee", "", "", "", "", "", "", "", ""};
    struct ds_mapped out;

    map(state, two_bad, &out);
    assert_string_equal(out.error, "date_of_birth: not a valid date");
    ds_mapped_close(&out);
    map(state, no_first, &out);
    assert_false(out.valid);
    assert_string_equal(out.error, "first_name: required");
    ds_mapped_close(&out);
}

/* Every problem of a row is reported, in field order, each with its field
 * and code; error / error_field stay the first; the JSON holds no value. */
static void test_all_errors_of_a_row(void **state)
{
    static const char *const four_bad[NCOL] = {
        "1001", "Ann", "Lee", "31/12/1985", "Q", "zorro.example.com", "555-0147", "", "", "", "",
    };
    static const struct {
        const char *field;
        const char *code;
        const char *message;
    } want[] = {
        {"date_of_birth", "BAD_DATE", "date_of_birth: not a valid date"},
        {"gender", "UNKNOWN_VALUE", "gender: unknown value"},
        {"email", "BAD_EMAIL", "email: not a valid address"},
        {"phone_mobile", "BAD_PHONE", "phone_mobile: not a valid phone number"},
    };
    struct ds_mapped out;
    char *json = NULL;
    char sug[512];

    map(state, four_bad, &out);
    assert_false(out.valid);
    assert_int_equal(out.nerrors, 4);
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal(out.errors[i].field, want[i].field);
        assert_string_equal(out.errors[i].code, want[i].code);
        assert_string_equal(out.errors[i].message, want[i].message);
        ds_map_suggest(out.errors[i].field, out.errors[i].code, sug, sizeof(sug));
        assert_non_null(strstr(sug, want[i].field));
        assert_null(strstr(sug, "zorro"));
    }
    assert_string_equal(out.error, "date_of_birth: not a valid date");
    assert_string_equal(out.error_field, "date_of_birth");
    assert_int_equal(ds_map_errors_json(&out, &json), 0);
    assert_string_equal(json, "[{\"field\":\"date_of_birth\",\"code\":\"BAD_DATE\",\"message\":"
                              "\"date_of_birth: not a valid date\"},{\"field\":\"gender\",\"code\":"
                              "\"UNKNOWN_VALUE\",\"message\":\"gender: unknown value\"},{\"field\":"
                              "\"email\",\"code\":\"BAD_EMAIL\",\"message\":\"email: not a valid "
                              "address\"},{\"field\":\"phone_mobile\",\"code\":\"BAD_PHONE\","
                              "\"message\":\"phone_mobile: not a valid phone number\"}]");
    ds_free(json);
    ds_mapped_close(&out);
    assert_int_equal(out.nerrors, 0);
}

static void test_ragged_and_raw(void **state)
{
    struct fixture *fx = *state;
    static const char *const short_row[] = {"1001", "Ann"};
    static const char *const long_row[] = {"1001", "Ann", "Lee", "", "", "",
                                           "",     "",    "",    "", "", "extra"};
    struct fake_row r;
    struct ds_mapped out;

    fake_row(&r, short_row, 2);
    assert_int_equal(ds_map_row(fx->m, &r.row, &out), 0);
    assert_false(out.valid);
    assert_string_equal(out.error, "last_name: required");
    assert_string_equal(out.raw_json, "{\"Patient ID\":\"1001\",\"First Name\":\"Ann\"}");
    ds_mapped_close(&out);
    fake_row(&r, long_row, 12);
    assert_int_equal(ds_map_row(fx->m, &r.row, &out), 0);
    assert_true(out.valid);
    /* A column past the header is read by no field: not kept. */
    assert_null(strstr(out.raw_json, "extra"));
    assert_non_null(strstr(out.raw_json, ",\"Notes\":\"\"}"));
    ds_mapped_close(&out);
}

/* raw_json holds the columns the template reads, never the others: not an
 * unmapped column, not an unbound repeat or blank-named one, whichever way
 * the row is written (without a tree, through one when names could clash,
 * or cut by the reader at a cap). */
static void test_raw_only_mapped(void **state)
{
    static const char *const plain[] = {"Patient ID", "Chart Colour", "First Name",
                                        "Last Name",  "Last Name",    ""};
    static const char *const clash[] = {"Patient ID", "Chart Colour", "First Name",
                                        "Last Name",  "#6",           ""};
    static const char *const values[] = {"1001", "SECRET-A", "Ann", "Lee", "SECRET-B", "SECRET-C"};
    static const char *const want = "{\"Patient ID\":\"1001\",\"First Name\":\"Ann\","
                                    "\"Last Name\":\"Lee\"}";
    struct ds_template *t = NULL;
    struct ds_mapper *m = NULL;
    struct ds_mapped out;
    struct ds_error err;
    struct fake_row h;
    struct fake_row r;

    (void)state;
    assert_int_equal(ds_template_find(NULL, "generic-patients", &t, NULL), 0);
    for (int pass = 0; pass < 2; pass++) {
        fake_row(&h, pass == 0 ? plain : clash, 6);
        assert_int_equal(ds_map_new(t, &h.row, &m, &err), 0);
        fake_row(&r, values, 6);
        assert_int_equal(ds_map_row(m, &r.row, &out), 0);
        assert_true(out.valid);
        assert_string_equal(out.raw_json, want);
        ds_mapped_close(&out);
        /* A row cut at a cap in its second column. */
        r.row.error = DS_READ_ROW_FIELD_TOO_LONG;
        r.row.error_field = 2;
        r.row.nfields = 1;
        assert_int_equal(ds_map_row(m, &r.row, &out), 0);
        assert_false(out.valid);
        assert_string_equal(out.raw_json, "{\"Patient ID\":\"1001\",\"First Name\":\"\","
                                          "\"Last Name\":\"\"}");
        ds_mapped_close(&out);
        ds_map_free(&m);
    }
    ds_template_free(&t);
}

/* extract takes the group of its expression (absent when it does not
 * match, before the default); join puts every listed column with a value
 * together. */
static void test_extract_and_join(void **state)
{
    static const char tpl[] =
        "{\"id\":\"x\",\"import_type\":\"appointments\","
        "\"recognition\":{\"required\":[\"Start\"]},\"fields\":{"
        "\"external_id\":{\"columns\":[\"Id\"]},"
        "\"patient_external_id\":{\"columns\":[\"Summary\"],"
        "\"extract\":\"[Pp]atient [Ii][Dd]:? *([0-9]+)\",\"default\":\"none\"},"
        "\"patient_phone\":{\"columns\":[\"Summary\"],\"extract\":\"tel ([-+0-9 ]+)\","
        "\"transform\":\"phone\"},"
        "\"start_at\":{\"columns\":[\"Start\"],\"transform\":\"instant\",\"required\":true},"
        "\"duration_minutes\":{\"columns\":[\"Mins\"],\"default\":\"30\",\"transform\":"
        "\"duration\"},"
        "\"status\":{\"columns\":[\"Status\"],\"default\":\"scheduled\"},"
        "\"notes\":{\"columns\":[\"Summary\",\"Description\"],\"join\":\" | \"}}}";
    static const struct norm_case instants[] = {
        {"instant", "2027-06-15T09:00:00Z", DS_NORM_PRESENT, "2027-06-15T09:00:00Z"},
        {"instant", "2027-06-15T09:00:00", DS_NORM_PRESENT, "2027-06-15T14:00:00Z"},
        {"instant", "2024-12-25", DS_NORM_PRESENT, "2024-12-25T06:00:00Z"},
        {"instant", "2027-02-30T09:00:00Z", DS_EINVAL, NULL},
        {"instant", "2027-06-15T25:00:00Z", DS_EINVAL, NULL},
        {"instant", "2027-06-15T09:00:00+01:00", DS_EINVAL, NULL},
        {"instant", "", DS_NORM_ABSENT, NULL},
    };
    static const char *const h[] = {"Id", "Summary", "Description", "Start", "Status", "Mins"};
    static const char *const both[] = {"A1",
                                       "Crown - Patient ID: 1005 - tel 617 555 0107",
                                       "  Bring X-rays ",
                                       "2027-06-15T09:00:00Z",
                                       "",
                                       ""};
    static const char *const none[] = {"A2", "Lunch", "", "2027-06-15T10:00:00Z", "", ""};
    static const char *const desc[] = {"A3", "", "Only this", "2027-06-15T11:00:00Z", "", ""};
    struct ds_template *t = NULL;
    struct ds_mapper *m = NULL;
    struct ds_mapped out;
    struct ds_error err;
    struct fake_row hr;
    struct fake_row r;
    struct ds_norm_opts o;
    struct ds_buf buf;
    struct ds_tz *tz = NULL;

    (void)state;
    /* The instant transform: a reader's UTC time kept, a local one in the
     * practice's zone, a date alone its local midnight; a text zone other
     * than Z refused. */
    memset(&o, 0, sizeof(o));
    assert_int_equal(ds_tz_load("America/Chicago", &tz, NULL), 0);
    o.tz = tz;
    ds_buf_init(&buf, 1024);
    for (size_t i = 0; i < sizeof(instants) / sizeof(instants[0]); i++) {
        const char *problem = NULL;
        int rc;

        ds_buf_reset(&buf);
        rc = ds_norm_lookup_opt("instant")(&o, instants[i].in, strlen(instants[i].in), &buf,
                                           &problem);
        if (rc != instants[i].rc) {
            fail_msg("instant case %zu: rc %d, want %d", i, rc, instants[i].rc);
        }
        if (rc == DS_NORM_PRESENT) {
            assert_string_equal(buf.data, instants[i].want);
        }
    }
    ds_buf_close(&buf);
    ds_tz_free(&tz);
    assert_int_equal(ds_template_parse(tpl, strlen(tpl), "test", &t, &err), 0);
    fake_row(&hr, h, 6);
    assert_int_equal(ds_map_new(t, &hr.row, &m, &err), 0);
    fake_row(&r, both, 6);
    assert_int_equal(ds_map_row(m, &r.row, &out), 0);
    if (!out.valid) {
        fail_msg("%s", out.error);
    }
    assert_string_equal(out.record_json,
                        "{\"duration_minutes\":30,\"external_id\":\"A1\","
                        "\"notes\":\"Crown - Patient ID: 1005 - tel 617 555 0107 | Bring X-rays\","
                        "\"patient_external_id\":\"1005\",\"patient_phone\":\"+16175550107\","
                        "\"start_at\":\"2027-06-15T09:00:00Z\",\"status\":\"scheduled\"}");
    ds_mapped_close(&out);
    fake_row(&r, none, 6);
    assert_int_equal(ds_map_row(m, &r.row, &out), 0);
    assert_true(out.valid);
    assert_string_equal(out.record_json,
                        "{\"duration_minutes\":30,\"external_id\":\"A2\",\"notes\":\"Lunch\","
                        "\"patient_external_id\":\"none\",\"start_at\":\"2027-06-15T10:00:00Z\","
                        "\"status\":\"scheduled\"}");
    ds_mapped_close(&out);
    fake_row(&r, desc, 6);
    assert_int_equal(ds_map_row(m, &r.row, &out), 0);
    assert_non_null(strstr(out.record_json, "\"notes\":\"Only this\""));
    ds_mapped_close(&out);
    ds_map_free(&m);
    ds_template_free(&t);
}

static void test_binding(void **state)
{
    static const char *const odd_case[] = {"FIRST_NAME", "last-name", "d o b", "Cell Phone", "x"};
    static const char *const dup[] = {"Last Name", "First Name", "Last Name", ""};
    static const char *const dup_row[] = {"Lee", "Ann", "Other", "blank-named"};
    static const char *const no_last[] = {"First Name", "DOB"};
    static const char *const row_v[] = {"Ann", "Lee", "1985-03-07", "3125550147", "y"};
    struct ds_template *t = NULL;
    struct ds_mapper *m = NULL;
    struct ds_mapped out;
    struct ds_error err;
    struct fake_row h;
    struct fake_row r;

    (void)state;
    assert_int_equal(ds_template_find(NULL, "generic-patients", &t, NULL), 0);
    /* Case, spaces, '_' and '-' do not matter. */
    fake_row(&h, odd_case, 5);
    assert_int_equal(ds_map_new(t, &h.row, &m, &err), 0);
    fake_row(&r, row_v, 5);
    assert_int_equal(ds_map_row(m, &r.row, &out), 0);
    assert_true(out.valid);
    assert_string_equal(out.record_json,
                        "{\"date_of_birth\":\"1985-03-07\",\"first_name\":\"Ann\","
                        "\"last_name\":\"Lee\",\"phone_mobile\":\"+13125550147\"}");
    ds_mapped_close(&out);
    ds_map_free(&m);
    /* Repeated and empty header names: the first column wins, and raw keeps
     * only the columns read. */
    fake_row(&h, dup, 4);
    assert_int_equal(ds_map_new(t, &h.row, &m, &err), 0);
    fake_row(&r, dup_row, 4);
    assert_int_equal(ds_map_row(m, &r.row, &out), 0);
    assert_false(out.valid); /* no key */
    assert_string_equal(out.raw_json, "{\"Last Name\":\"Lee\",\"First Name\":\"Ann\"}");
    ds_mapped_close(&out);
    ds_map_free(&m);
    /* A required field without a column. */
    fake_row(&h, no_last, 2);
    ds_error_clear(&err);
    assert_int_equal(ds_map_new(t, &h.row, &m, &err), DS_EINVAL);
    assert_null(m);
    assert_string_equal(err.field, "last_name");
    ds_template_free(&t);
}

/* location: a column (here by synonym: Clinic) wins; the folder's fixed
 * location fills a row without one, and stands alone in a file without the
 * column; longer than the rule book's 100 bytes it is refused. */
static void test_location(void **state)
{
    static const char *const with[] = {"First Name", "Last Name", "DOB", "Clinic"};
    static const char *const without[] = {"First Name", "Last Name", "DOB"};
    static const char *const north[] = {"Ann", "Lee", "1985-03-07", "North"};
    static const char *const blank[] = {"Ann", "Lee", "1985-03-07", ""};
    struct ds_template *t = NULL;
    struct ds_mapper *m = NULL;
    struct ds_mapped out;
    struct ds_error err;
    struct fake_row h;
    struct fake_row r;
    char text[128];
    char big[102];

    (void)state;
    assert_int_equal(ds_template_find(NULL, "generic-patients", &t, NULL), 0);
    fake_row(&h, with, 4);
    /* No fixed location: the column's value, or none. */
    assert_int_equal(ds_map_new(t, &h.row, &m, &err), 0);
    assert_int_equal(ds_map_set_location(m, NULL, &err), 0);
    fake_row(&r, north, 4);
    assert_int_equal(ds_map_row(m, &r.row, &out), 0);
    assert_true(out.valid);
    assert_non_null(strstr(out.record_json, "\"location\":\"North\""));
    ds_mapped_close(&out);
    fake_row(&r, blank, 4);
    assert_int_equal(ds_map_row(m, &r.row, &out), 0);
    assert_true(out.valid);
    assert_null(strstr(out.record_json, "location"));
    ds_mapped_close(&out);
    ds_map_free(&m);
    /* A fixed location: the row's own wins, a blank takes the fixed one. */
    assert_int_equal(ds_map_new(t, &h.row, &m, &err), 0);
    assert_int_equal(ds_map_set_location(m, "Main Street", &err), 0);
    fake_row(&r, north, 4);
    assert_int_equal(ds_map_row(m, &r.row, &out), 0);
    assert_non_null(strstr(out.record_json, "\"location\":\"North\""));
    ds_mapped_close(&out);
    fake_row(&r, blank, 4);
    assert_int_equal(ds_map_row(m, &r.row, &out), 0);
    assert_non_null(strstr(out.record_json, "\"location\":\"Main Street\""));
    ds_mapped_close(&out);
    ds_map_free(&m);
    /* No column: the field is added, in the record's sorted order. */
    fake_row(&h, without, 3);
    assert_int_equal(ds_map_new(t, &h.row, &m, &err), 0);
    assert_int_equal(ds_map_set_location(m, "Main Street", &err), 0);
    fake_row(&r, north, 3);
    assert_int_equal(ds_map_row(m, &r.row, &out), 0);
    assert_true(out.valid);
    assert_string_equal(out.record_json, "{\"date_of_birth\":\"1985-03-07\",\"first_name\":\"Ann\","
                                         "\"last_name\":\"Lee\",\"location\":\"Main Street\"}");
    ds_mapped_close(&out);
    ds_map_free(&m);
    /* Too long for the rule book. */
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(ds_map_new(t, &h.row, &m, &err), 0);
    assert_int_equal(ds_map_set_location(m, big, &err), DS_EINVAL);
    big[100] = '\0';
    assert_int_equal(ds_map_set_location(m, big, &err), 0);
    ds_map_free(&m);
    ds_template_free(&t);
    /* In words, for jobs and the status page. */
    ds_map_location_text("ClinicNum", "Main Street", text, sizeof(text));
    assert_string_equal(text, "from column ClinicNum, else Main Street");
    ds_map_location_text("ClinicNum", NULL, text, sizeof(text));
    assert_string_equal(text, "from column ClinicNum");
    ds_map_location_text(NULL, "Main Street", text, sizeof(text));
    assert_string_equal(text, "Main Street");
    ds_map_location_text(NULL, "", text, sizeof(text));
    assert_string_equal(text, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalizers),
        cmocka_unit_test(test_header_key_and_fold),
        cmocka_unit_test_setup_teardown(test_record_json_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_utf8_value, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unicode_and_newline_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_external_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_all_errors_of_a_row, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_name_dob, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_email_phone_none, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_hook, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mapped_cleared, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fingerprint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors_never_hold_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_first_error_wins_and_required, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ragged_and_raw, setup, teardown),
        cmocka_unit_test(test_raw_only_mapped),
        cmocka_unit_test(test_binding),
        cmocka_unit_test(test_location),
        cmocka_unit_test(test_extract_and_join),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
