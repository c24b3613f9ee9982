/*
 * test_jsonw.c — the JSON the mapper writes without jansson is jansson's,
 * byte for byte: the string escaper against json_dumpb on every byte,
 * crafted UTF-8 and random strings; the record (whose sha256 is the
 * fingerprint) against jansson's sorted compact dump of the same object;
 * and the raw row's column names, including the header clashes that make
 * a later column overwrite an earlier one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agent/core/alloc.h"
#include "agent/core/buf.h"
#include "agent/core/error.h"
#include "agent/core/jsonw.h"
#include "agent/map/map.h"
#include "config/template.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Checks ds_jsonw_string on s against jansson's compact dump of it. */
static void same_as_jansson(const char *s, size_t n)
{
    json_t *j = json_stringn_nocheck(s, n);
    char want[512];
    size_t wn;
    struct ds_buf b;
    int rc;

    assert_non_null(j);
    assert_true(n < 64);
    wn = json_dumpb(j, want, sizeof(want), JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(j);
    ds_buf_init(&b, 4096);
    rc = ds_jsonw_string(&b, s, n);
    if (wn == 0) {
        /* jansson refuses to write it (not UTF-8): so must the writer. */
        assert_int_equal(rc, DS_EINVAL);
    }
    else {
        assert_int_equal(rc, 0);
        assert_int_equal(b.len, wn);
        assert_memory_equal(b.data, want, wn);
    }
    ds_buf_close(&b);
}

static void test_every_byte(void **state)
{
    (void)state;
    for (int c = 0; c < 256; c++) {
        char s[3] = {'a', (char)c, 'z'};

        same_as_jansson(s, 3);
        same_as_jansson(s + 1, 1);
    }
    same_as_jansson("", 0);
}

static void test_crafted_utf8(void **state)
{
    static const char *const cases[] = {
        "Jos\xc3\xa9 O'Brien-M\xc3\xbcller",  /* accents, apostrophe */
        "line\r\nbreak, \"quoted\" \\ a/b\t", /* escapes by name, slash as is */
        "\x7f\x1f\x01",                       /* DEL as is, controls as \u00XX */
        "\xe2\x82\xac \xf0\x9f\x98\x80",      /* 3 and 4 bytes */
        "\xf4\x8f\xbf\xbf",                   /* U+10FFFF */
        "\xf4\x90\x80\x80",                   /* past U+10FFFF */
        "\xed\xa0\x80",                       /* a surrogate */
        "\xc0\xaf",                           /* overlong */
        "\xe0\x80\xaf",                       /* overlong, 3 bytes */
        "\xf0\x80\x80\xaf",                   /* overlong, 4 bytes */
        "\xc3",                               /* cut short */
        "ab\xe2\x82",                         /* cut short at the end */
        "\x80",                               /* a lone continuation byte */
        "\xf8\x88\x80\x80\x80",               /* 5 bytes */
        "\xe2\x80\xa8\xe2\x80\xa9",           /* U+2028, U+2029: as is */
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        same_as_jansson(cases[i], strlen(cases[i]));
    }
    same_as_jansson("a\0b", 3); /* NUL: \u0000 */
}

static void test_random_strings(void **state)
{
    /* Bytes that matter to an escaper or a UTF-8 check, and plain ones. */
    static const unsigned char pool[] = {
        'a',  ' ',  '"',  '\\', '/',  '\n', '\r', '\t', '\b', '\f', 0x00, 0x01,
        0x1f, 0x7f, 0x80, 0xbf, 0xc0, 0xc2, 0xc3, 0xdf, 0xe0, 0xed, 0xef, 0xf0,
        0xf4, 0xf5, 0xa0, 0x9f, 0x90, 0x8f, 0xff, 'Z',  ',',  ':',  '{',  '}',
    };
    uint32_t seed = 12345;

    (void)state;
    for (int i = 0; i < 50000; i++) {
        char s[16];
        size_t n;

        seed = seed * 1103515245u + 12345u;
        n = (seed >> 16) % sizeof(s);
        for (size_t k = 0; k < n; k++) {
            seed = seed * 1103515245u + 12345u;
            s[k] = (char)pool[(seed >> 16) % sizeof(pool)];
        }
        same_as_jansson(s, n);
    }
}

/* Checks what one writer call appended to an empty buffer. */
static void writes(int (*w)(struct ds_buf *, const char *, size_t), const char *s, size_t n,
                   const char *want, size_t wn)
{
    struct ds_buf b;

    ds_buf_init(&b, 4096);
    assert_int_equal(w(&b, s, n), 0);
    assert_int_equal(b.len, wn);
    assert_memory_equal(b.data, want, wn);
    ds_buf_close(&b);
}

#define WRITES(w, s, want) writes(w, s, sizeof(s) - 1, want, sizeof(want) - 1)

/* The one escaping rule, spelled out (jansson's, which test_every_byte checks
 * byte by byte): \r \t and the other named escapes by name, the other
 * control characters as upper-case \u00XX, DEL and '/' as they are. */
static void test_escaping_rule(void **state)
{
    (void)state;
    WRITES(ds_jsonw_string, "a\rb", "\"a\\rb\"");
    WRITES(ds_jsonw_string, "a\tb", "\"a\\tb\"");
    WRITES(ds_jsonw_string, "\n\b\f\"\\", "\"\\n\\b\\f\\\"\\\\\"");
    WRITES(ds_jsonw_string,
           "a\x7f"
           "b",
           "\"a\x7f"
           "b\"");
    WRITES(ds_jsonw_string, "\x01\x1b\x1f\v", "\"\\u0001\\u001B\\u001F\\u000B\"");
    WRITES(ds_jsonw_string, "a\0b", "\"a\\u0000b\"");
    WRITES(ds_jsonw_string, "a/b", "\"a/b\"");
    /* The text writer escapes alike. */
    WRITES(ds_jsonw_text, "\r\t\x7f\x01", "\"\\r\\t\x7f\\u0001\"");
}

/* Text that is not UTF-8: refused by the record's writer (jansson would not
 * dump it), written with U+FFFD for each bad byte by the text writer, so a
 * message or a config name never makes invalid JSON. */
static void test_invalid_utf8(void **state)
{
    struct ds_buf b;

    (void)state;
    ds_buf_init(&b, 4096);
    assert_int_equal(ds_jsonw_string(&b, "ok", 2), 0);
    assert_int_equal(ds_jsonw_string(&b,
                                     "a\xff"
                                     "b",
                                     3),
                     DS_EINVAL);
    assert_string_equal(b.data, "\"ok\""); /* nothing of the refused string */
    ds_buf_close(&b);

    WRITES(ds_jsonw_text,
           "a\xff"
           "b",
           "\"a\xef\xbf\xbd"
           "b\"");
    WRITES(ds_jsonw_text, "caf\xe9", "\"caf\xef\xbf\xbd\""); /* Latin-1 */
    WRITES(ds_jsonw_text, "\xc3", "\"\xef\xbf\xbd\"");       /* cut short */
    WRITES(ds_jsonw_text, "\xed\xa0\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
    WRITES(ds_jsonw_text, "Jos\xc3\xa9", "\"Jos\xc3\xa9\""); /* valid: as is */

    /* Whatever the bytes, the text writer's output parses, to the same
     * string where it was valid. */
    for (int c = 0; c < 256; c++) {
        char s[3] = {'a', (char)c, 'z'};
        json_t *j;

        ds_buf_init(&b, 4096);
        assert_int_equal(ds_jsonw_text(&b, s, 3), 0);
        j = json_loadb(b.data, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        assert_non_null(j);
        if (c < 0x80) {
            assert_int_equal(json_string_length(j), 3);
            assert_memory_equal(json_string_value(j), s, 3);
        }
        json_decref(j);
        ds_buf_close(&b);
    }
}

/* A C string (NULL as null), and the same bytes written to a stream. */
static void test_cstr_and_stream(void **state)
{
    struct ds_buf b;
    char *mem = NULL;
    size_t mlen = 0;
    FILE *f;

    (void)state;
    ds_buf_init(&b, 4096);
    assert_int_equal(ds_jsonw_str(&b, "x\ty"), 0);
    assert_int_equal(ds_buf_append(&b, ",", 1), 0);
    assert_int_equal(ds_jsonw_str(&b, NULL), 0);
    assert_string_equal(b.data, "\"x\\ty\",null");
    ds_buf_close(&b);

    f = open_memstream(&mem, &mlen);
    assert_non_null(f);
    assert_int_equal(ds_jsonw_fputs(f, "x\ty"), 0);
    assert_int_equal(ds_jsonw_fwrite(f, "\r\x7f\xff", 3), 0);
    assert_int_equal(ds_jsonw_fputs(f, NULL), 0);
    fclose(f);
    assert_int_equal(mlen, strlen("\"x\\ty\"\"\\r\x7f\xef\xbf\xbd\"null"));
    assert_memory_equal(mem, "\"x\\ty\"\"\\r\x7f\xef\xbf\xbd\"null", mlen);
    free(mem);
}

/* A buffer's cap is a hard limit: DS_ETOOBIG, the buffer as it was. */
static void test_cap(void **state)
{
    struct ds_buf b;

    (void)state;
    ds_buf_init(&b, 16);
    assert_int_equal(ds_jsonw_str(&b, "ab"), 0);
    assert_int_equal(ds_jsonw_str(&b, "a long string past the cap"), DS_ETOOBIG);
    assert_int_equal(b.len, 4);
    assert_string_equal(b.data, "\"ab\"");
    ds_buf_close(&b);
}

/* A row of n fields (up to 16) from C strings. */
struct row16 {
    struct ds_row row;
    size_t lens[16];
};

static void make_row(struct row16 *r, const char *const *fields, size_t n, long no)
{
    for (size_t i = 0; i < n; i++) {
        r->lens[i] = strlen(fields[i]);
    }
    memset(&r->row, 0, sizeof(r->row));
    r->row.nfields = n;
    r->row.fields = fields;
    r->row.lens = r->lens;
    r->row.row = no;
    r->row.line = no + 1;
}

/* The raw row of `values` under `header`; as_values: whether the queue
 * keeps it as its values (no name can clash) or as the object. */
static void raw_of(const char *const *header, size_t nh, const char *const *values, size_t nv,
                   const char *want, int as_values)
{
    struct ds_template *t = NULL;
    struct ds_mapper *m = NULL;
    struct ds_mapped out;
    struct row16 h;
    struct row16 r;

    assert_int_equal(ds_template_find(NULL, "generic-patients", &t, NULL), 0);
    make_row(&h, header, nh, 0);
    assert_int_equal(ds_map_new(t, &h.row, &m, NULL), 0);
    make_row(&r, values, nv, 1);
    assert_int_equal(ds_map_row(m, &r.row, &out), 0);
    assert_string_equal(out.raw_json, want);
    ds_mapped_close(&out);
    /* As the queue keeps it: the values, which the job's names pair back
     * into the same bytes; or, where names could clash, the object. */
    {
        struct ds_buf b;
        char *names = NULL;

        ds_map_set_outputs(m, DS_MAP_RAW | DS_MAP_RECORD | DS_MAP_RAW_VALUES);
        assert_int_equal(ds_map_raw_columns_json(m, &names), 0);
        assert_int_equal(names != NULL, as_values);
        assert_int_equal(ds_map_row(m, &r.row, &out), 0);
        ds_buf_init(&b, 4096);
        if (names != NULL) {
            assert_int_equal(out.raw_json[0], '[');
            assert_int_equal(ds_jsonw_zip(&b, names, out.raw_json, 0), 0);
            assert_string_equal(b.data, want);
        }
        else {
            assert_string_equal(out.raw_json, want);
        }
        ds_buf_close(&b);
        ds_mapped_close(&out);
        ds_free(names);
    }
    ds_map_free(&m);
    ds_template_free(&t);
}

static void test_raw_names(void **state)
{
    static const char *const rep[] = {"First Name", "Last Name", "Last Name", "Last Name#3"};
    static const char *const rep_v[] = {"0", "1", "2", "3"};
    static const char *const clash[] = {"First Name", "Last Name", "#4", ""};
    static const char *const clash_v[] = {"a", "b", "c", "d"};
    static const char *const past[] = {"First Name", "Last Name", "#5"};
    static const char *const past_v[] = {"v", "x", "y", "z", "w"};
    static const char *const bad[] = {"First Name", "Last Name", "\xff", ""};
    static const char *const bad_v[] = {"\xc3(", "\"q\"\n", "\xc3(", "ok"};

    (void)state;
    /* Only the columns the template reads are kept: a repeated name (the
     * first column is read), a generated one, a header named like a column
     * past the header, a name that is not UTF-8 are not; the kept columns
     * are written the same way whether or not names could clash. */
    raw_of(rep, 4, rep_v, 4, "{\"First Name\":\"0\",\"Last Name\":\"1\"}", 1);
    raw_of(clash, 4, clash_v, 4, "{\"First Name\":\"a\",\"Last Name\":\"b\"}", 0);
    raw_of(past, 3, past_v, 5, "{\"First Name\":\"v\",\"Last Name\":\"x\"}", 0);
    /* A value that is not UTF-8 is null. */
    raw_of(bad, 4, bad_v, 4, "{\"First Name\":null,\"Last Name\":\"\\\"q\\\"\\n\"}", 1);
    /* A row shorter than the header: the values it has, under the first
     * names. */
    raw_of(rep, 4, rep_v, 1, "{\"First Name\":\"0\"}", 1);
}

/* Zipping names and values: each element copied as written, separators
 * and brackets inside strings left alone, fewer values than names; and
 * every malformed pair refused with the buffer as it was. */
static void test_zip(void **state)
{
    static const struct {
        const char *names, *values, *want;
    } ok[] = {
        {"[]", "[]", "{}"},
        {"[\"a\"]", "[]", "{}"},
        {"[\"a\",\"b\"]", "[\"1\"]", "{\"a\":\"1\"}"},
        {"[\"a\",\"b\"]", "[\"1\",null]", "{\"a\":\"1\",\"b\":null}"},
        {"[\"x,\\\"]\",\"\\\\\"]", "[\"],[\\\"\",\"\\u00E9\\\\\"]",
         "{\"x,\\\"]\":\"],[\\\"\",\"\\\\\":\"\\u00E9\\\\\"}"},
    };
    static const struct {
        const char *names, *values;
    } bad[] = {
        {"", "[]"},
        {"[]", ""},
        {"{}", "[]"},
        {"[\"a\"]", "[\"1\",\"2\"]"}, /* more values than names */
        {"[null]", "[\"1\"]"},        /* a name that is not a string */
        {"[\"a\"]", "[true]"},        /* a literal other than null */
        {"[\"a\"]", "[\"1\",]"},      /* a trailing comma */
        {"[\"a\"]", "[\"1\"] "},      /* something after the end */
        {"[\"a\"]", "[\"1"},          /* an unterminated string */
        {"[\"a\"]", "[\"1\\"},        /* ... ending in a backslash */
        {"[\"a\"]", "[\"1\""},        /* no closing bracket */
        {"[\"a\"]", "[\"\n\"]"},      /* a control character */
        {"[\"a\",]", "[\"1\"]"},      /* malformed names past the values */
        {"[\"a\"", "[]"},
        {"[\"a\"]", "[nul]"},
    };
    struct ds_buf b;

    (void)state;
    ds_buf_init(&b, 4096);
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        ds_buf_reset(&b);
        assert_int_equal(ds_buf_append(&b, "x", 1), 0);
        assert_int_equal(ds_jsonw_zip(&b, ok[i].names, ok[i].values, 0), 0);
        assert_string_equal(b.data + 1, ok[i].want);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ds_buf_reset(&b);
        assert_int_equal(ds_buf_append(&b, "x", 1), 0);
        assert_int_equal(ds_jsonw_zip(&b, bad[i].names, bad[i].values, 0), DS_EPARSE);
        assert_int_equal(b.len, 1);
        assert_string_equal(b.data, "x");
    }
    /* Numbers are copied as written; with DS_JSONW_ZIP_PRESENT a null
     * leaves its name out (a record's absent field), without it is kept. */
    {
        static const struct {
            const char *names, *values, *want;
            int flags;
        } rec[] = {
            {"[\"a\",\"b\",\"c\"]", "[null,30,\"x\"]", "{\"b\":30,\"c\":\"x\"}",
             DS_JSONW_ZIP_PRESENT},
            {"[\"a\",\"b\",\"c\"]", "[-1.5e+3,null,null]", "{\"a\":-1.5e+3}", DS_JSONW_ZIP_PRESENT},
            {"[\"a\",\"b\"]", "[null,null]", "{}", DS_JSONW_ZIP_PRESENT},
            {"[\"a\",\"b\"]", "[null,0]", "{\"a\":null,\"b\":0}", 0},
        };
        static const char *const bad_numbers[] = {"[-]", "[1.]", "[1e]", "[.5]", "[1x]", "[--1]"};

        for (size_t i = 0; i < sizeof(rec) / sizeof(rec[0]); i++) {
            ds_buf_reset(&b);
            assert_int_equal(ds_jsonw_zip(&b, rec[i].names, rec[i].values, rec[i].flags), 0);
            assert_string_equal(b.data, rec[i].want);
        }
        for (size_t i = 0; i < sizeof(bad_numbers) / sizeof(bad_numbers[0]); i++) {
            ds_buf_reset(&b);
            assert_int_equal(ds_jsonw_zip(&b, "[\"a\"]", bad_numbers[i], DS_JSONW_ZIP_PRESENT),
                             DS_EPARSE);
            assert_int_equal(b.len, 0);
        }
    }
    ds_buf_close(&b);
    /* A cap too small: refused, the buffer as it was. */
    ds_buf_init(&b, 8);
    assert_int_equal(ds_jsonw_zip(&b, "[\"name\"]", "[\"value\"]", 0), DS_ETOOBIG);
    assert_int_equal(b.len, 0);
    ds_buf_close(&b);
}

/* The record of a row with values that need escaping is jansson's sorted
 * compact dump of the same object; leaving outputs out changes nothing
 * else. */
static void test_record_is_jansson(void **state)
{
    static const char *const header[] = {"Patient ID", "First Name", "Last Name",
                                         "Notes",      "Address",    "City"};
    static const char *const values[] = {
        "A/1\\2",      "Jos\xc3\xa9 \"Pepe\"",
        "O'Brien\x01", "line one\r\nline two, \"three\"\t\xf0\x9f\x98\x80 \xe2\x80\xa8",
        "12 Elm St\\", "Z\xc3\xbcrich",
    };
    struct ds_template *t = NULL;
    struct ds_mapper *m = NULL;
    struct ds_mapped out;
    struct row16 h;
    struct row16 r;
    json_t *j;
    char *again;

    (void)state;
    assert_int_equal(ds_template_find(NULL, "generic-patients", &t, NULL), 0);
    make_row(&h, header, 6, 0);
    assert_int_equal(ds_map_new(t, &h.row, &m, NULL), 0);
    make_row(&r, values, 6, 1);
    assert_int_equal(ds_map_row(m, &r.row, &out), 0);
    assert_true(out.valid);
    assert_non_null(strstr(out.record_json, "\\r\\n"));
    j = json_loads(out.record_json, 0, NULL);
    assert_non_null(j);
    assert_true(json_object_size(j) >= 5);
    again = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(out.record_json, again);
    json_decref(j);
    ds_mapped_close(&out);
    /* Without the raw row (preview): the same record, key and fingerprint. */
    assert_int_equal(ds_map_row(m, &r.row, &out), 0);
    assert_non_null(out.raw_json);
    ds_map_set_outputs(m, DS_MAP_RECORD);
    {
        struct ds_mapped bare;

        assert_int_equal(ds_map_row(m, &r.row, &bare), 0);
        assert_null(bare.raw_json);
        assert_string_equal(bare.record_json, again);
        assert_string_equal(bare.key, out.key);
        assert_string_equal(bare.fingerprint, out.fingerprint);
        ds_mapped_close(&bare);
        /* Neither: the verdict and the key only. */
        ds_map_set_outputs(m, 0);
        assert_int_equal(ds_map_row(m, &r.row, &bare), 0);
        assert_true(bare.valid);
        assert_null(bare.raw_json);
        assert_null(bare.record_json);
        assert_string_equal(bare.fingerprint, "");
        assert_string_equal(bare.key, out.key);
        ds_mapped_close(&bare);
    }
    /* As the queue keeps it: the values in the record's order, which the
     * job's field names pair back into the same bytes, the same
     * fingerprint. */
    {
        struct ds_mapped vals;
        struct ds_buf b;
        char *fields = NULL;

        ds_map_set_outputs(m, DS_MAP_RECORD);
        assert_int_equal(ds_map_record_fields_json(m, &fields), 0);
        assert_null(fields);
        ds_map_set_outputs(m, DS_MAP_RAW | DS_MAP_RECORD | DS_MAP_RECORD_VALUES);
        assert_int_equal(ds_map_record_fields_json(m, &fields), 0);
        assert_non_null(fields);
        assert_int_equal(ds_map_row(m, &r.row, &vals), 0);
        assert_int_equal(vals.record_json[0], '[');
        assert_non_null(strstr(vals.record_json, "null")); /* fields the row lacks */
        assert_string_equal(vals.fingerprint, out.fingerprint);
        ds_buf_init(&b, 4096);
        assert_int_equal(ds_jsonw_zip(&b, fields, vals.record_json, DS_JSONW_ZIP_PRESENT), 0);
        assert_string_equal(b.data, again);
        ds_buf_close(&b);
        ds_mapped_close(&vals);
        ds_free(fields);
    }
    free(again);
    ds_mapped_close(&out);
    ds_map_free(&m);
    ds_template_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_byte),
        cmocka_unit_test(test_crafted_utf8),
        cmocka_unit_test(test_random_strings),
        cmocka_unit_test(test_escaping_rule),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_cstr_and_stream),
        cmocka_unit_test(test_cap),
        cmocka_unit_test(test_raw_names),
        cmocka_unit_test(test_zip),
        cmocka_unit_test(test_record_is_jansson),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
