/*
 * test_proto.c — the wire protocol's shared facts (proto/) as
 * docs/protocol.md states them: the Batch-Digest lines of its example, the
 * key and id syntax, the spelling of an error code, and the limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agent/core/hash.h"
#include "proto/proto.h"

#include <stdio.h>
#include <string.h>

static void update(void *h, const void *p, size_t n)
{
    ds_sha256_update(h, p, n);
}

/* docs/protocol.md: rows 1 and 2 with keys ext:E1, ext:E2 hash the 2 lines
 * "1\text:E1\t<fp1>\n2\text:E2\t<fp2>\n"; a NULL part hashes as empty. */
static void test_digest_lines(void **state)
{
    static const char fp1[] = "1111111111111111111111111111111111111111111111111111111111111111";
    static const char fp2[] = "2222222222222222222222222222222222222222222222222222222222222222";
    struct ds_sha256 *h = ds_sha256_new();
    char want[DS_SHA256_HEX];
    char got[DS_SHA256_HEX];
    char text[200];

    (void)state;
    assert_non_null(h);
    snprintf(text, sizeof(text), "1\text:E1\t%s\n2\text:E2\t%s\n", fp1, fp2);
    assert_int_equal(ds_sha256_hex(text, strlen(text), want), 0);
    ds_proto_digest_row(update, h, 1, "ext:E1", fp1);
    ds_proto_digest_row(update, h, 2, "ext:E2", fp2);
    ds_sha256_final(h, got);
    assert_string_equal(got, want);

    assert_int_equal(ds_sha256_hex("70000\th:ab\tdelete\n31\t\t\n", 23, want), 0);
    ds_proto_digest_row(update, h, 70000, DS_PROTO_KEY_HASH "ab", "delete");
    ds_proto_digest_row(update, h, 31, NULL, NULL);
    ds_sha256_final(h, got);
    assert_string_equal(got, want);
    ds_sha256_free(&h);
}

static void test_keys(void **state)
{
    char longest[DS_PROTO_KEY_MAX + 2];

    (void)state;
    assert_true(ds_proto_key_valid("ext:5001", 8));
    assert_true(ds_proto_key_valid("h:ab", 4));
    assert_true(ds_proto_key_valid("x", 1));
    assert_false(ds_proto_key_valid("", 0));
    assert_false(ds_proto_key_valid("ext:a\tb", 7));
    assert_false(ds_proto_key_valid("ext:a\rb", 7));
    assert_false(ds_proto_key_valid("ext:a\nb", 7));
    memset(longest, 'k', sizeof(longest));
    longest[DS_PROTO_KEY_MAX] = '\0';
    assert_true(ds_proto_key_valid(longest, DS_PROTO_KEY_MAX));
    longest[DS_PROTO_KEY_MAX] = 'k';
    longest[DS_PROTO_KEY_MAX + 1] = '\0';
    assert_false(ds_proto_key_valid(longest, DS_PROTO_KEY_MAX + 1));
}

static void test_uuids(void **state)
{
    char out[DS_PROTO_UUID_LEN];
    char mine[DS_UUID_LEN];

    (void)state;
    assert_true(ds_proto_uuid_parse("0B5D4E6A-1C2D-4E3F-8A9B-0C1D2E3F4A5B", out));
    assert_string_equal(out, "0b5d4e6a-1c2d-4e3f-8a9b-0c1d2e3f4a5b");
    assert_true(ds_proto_uuid_parse("0b5d4e6a-1c2d-4e3f-8a9b-0c1d2e3f4a5b", NULL));
    assert_false(ds_proto_uuid_parse("0b5d4e6a1c2d-4e3f-8a9b-0c1d2e3f4a5b-", NULL));
    assert_false(ds_proto_uuid_parse("0b5d4e6a-1c2d-4e3f-8a9b-0c1d2e3f4a5", NULL));
    assert_false(ds_proto_uuid_parse("0b5d4e6a-1c2d-4e3f-8a9b-0c1d2e3f4a5bb", NULL));
    assert_false(ds_proto_uuid_parse("0b5d4e6a-1c2d-4e3f-8a9b-0c1d2e3f4a5g", NULL));
    assert_false(ds_proto_uuid_parse(NULL, NULL));
    /* The agent's job ids are what the cloud parses, unchanged. */
    assert_int_equal(ds_uuid_v4(mine), 0);
    assert_true(ds_proto_uuid_parse(mine, out));
    assert_string_equal(out, mine);
}

static void test_codes(void **state)
{
    char longest[DS_PROTO_CODE_MAX + 1];

    (void)state;
    assert_true(ds_proto_code_valid("BAD_DIGEST", 10));
    assert_true(ds_proto_code_valid("HTTP_413", 8));
    assert_false(ds_proto_code_valid("", 0));
    assert_false(ds_proto_code_valid("bad_digest", 10));
    assert_false(ds_proto_code_valid("BAD DIGEST", 10));
    assert_false(ds_proto_code_valid("BAD-DIGEST", 10));
    memset(longest, 'A', sizeof(longest));
    assert_true(ds_proto_code_valid(longest, DS_PROTO_CODE_MAX));
    assert_false(ds_proto_code_valid(longest, DS_PROTO_CODE_MAX + 1));
}

/* The limits docs/protocol.md gives. */
static void test_limits(void **state)
{
    (void)state;
    assert_int_equal(DS_PROTO_MAX_BODY, 33554432);
    assert_int_equal(DS_PROTO_MAX_BATCH_ROWS, 10000);
    assert_int_equal(DS_PROTO_KEY_MAX, 512);
    assert_int_equal(DS_PROTO_UUID_LEN, 37);
    assert_string_equal(DS_PROTO_KEY_EXT, "ext:");
    assert_string_equal(DS_PROTO_KEY_HASH, "h:");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_digest_lines), cmocka_unit_test(test_keys),
        cmocka_unit_test(test_uuids),        cmocka_unit_test(test_codes),
        cmocka_unit_test(test_limits),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
