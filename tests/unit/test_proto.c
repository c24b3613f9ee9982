/*
 * test_proto.c — the wire protocol's shared facts (proto/) as
 * docs/protocol.md states them: the Batch-Digest lines of its example, the
 * key and id syntax, the spelling of an error code, and the limits; the
 * rule book of records (proto/rules.h) that the agent and the cloud share.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agent/core/hash.h"
#include "proto/proto.h"
#include "proto/rules.h"

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

/* check_record on the fields given as name, value pairs (NULL-ended). */
static int record_ok(const char *type, const char *const *pairs, const char **field)
{
    const struct ds_rules_type *t = ds_rules_type(type);
    const char *v[DS_RULES_MAX_FIELDS];
    char msg[256];

    assert_non_null(t);
    memset(v, 0, sizeof(v));
    for (; pairs[0] != NULL; pairs += 2) {
        int i = ds_rules_field_index(t, pairs[0]);

        assert_true(i >= 0);
        v[i] = pairs[1];
    }
    return ds_rules_check_record(t, v, field, msg, sizeof(msg));
}

static void test_rules(void **state)
{
    static const char *const only_ext[] = {"external_id",      "A1", "start_at", "x", "status", "x",
                                           "duration_minutes", "1",  NULL};
    static const char *const by_name[] = {"patient_last_name",
                                          "Okafor",
                                          "patient_first_name",
                                          "Robert",
                                          "date",
                                          "x",
                                          "amount_cents",
                                          "1",
                                          "kind",
                                          "x",
                                          NULL};
    static const char *const last_only[] = {
        "patient_last_name", "Okafor", "date", "x", "amount_cents", "1", "kind", "x", NULL};
    static const char *const by_appt[] = {
        "appointment_external_id", "8801", "procedure_code", "x", "status", "x", NULL};
    static const char *const no_status[] = {"patient_external_id", "1", "procedure_code", "x",
                                            NULL};
    const struct ds_rules_type *t = ds_rules_type("treatments");
    const char *field = NULL;
    char msg[128];

    (void)state;
    assert_null(ds_rules_type("invoices"));
    /* A record's own id is no patient reference. */
    assert_int_equal(record_ok("appointments", only_ext, &field), -1);
    assert_string_equal(field, "record");
    /* Last + first name is (name-only); the last name alone is not. */
    assert_int_equal(record_ok("financial", by_name, &field), 0);
    assert_int_equal(record_ok("financial", last_only, &field), -1);
    /* A treatment may name its appointment instead. */
    assert_int_equal(record_ok("treatments", by_appt, &field), 0);
    assert_int_equal(record_ok("treatments", no_status, &field), -1);
    assert_string_equal(field, "status");
    /* Values: code lists, CDT syntax, ranges, dates. */
    assert_int_equal(ds_rules_check_text(&t->fields[ds_rules_field_index(t, "status")], "planned",
                                         7, msg, sizeof(msg)),
                     0);
    assert_int_equal(ds_rules_check_text(&t->fields[ds_rules_field_index(t, "status")], "done", 4,
                                         msg, sizeof(msg)),
                     -1);
    assert_string_equal(msg, "not a canonical value");
    assert_int_equal(ds_rules_check_text(&t->fields[ds_rules_field_index(t, "procedure_code")],
                                         "D012", 4, msg, sizeof(msg)),
                     -1);
    assert_int_equal(
        ds_rules_check_int(&t->fields[ds_rules_field_index(t, "fee_cents")], -1, msg, sizeof(msg)),
        -1);
    assert_int_equal(ds_rules_check_text(&t->fields[ds_rules_field_index(t, "service_date")],
                                         "2023-02-29", 10, msg, sizeof(msg)),
                     -1);
}

/* A text field of the rule book is tested for its length only, whatever
 * its bytes: the mapper leaves such a field's test to its own length check
 * (map.c, rule_sure). Every text field of every type, at its limit with
 * bytes no other kind would take, and one byte over it. */
static void test_rules_text_length_only(void **state)
{
    static char buf[20002];
    char msg[128];
    size_t ntext = 0;

    (void)state;
    memset(buf, '\x01', sizeof(buf));
    for (size_t t = 0; t < DS_RULES_NTYPES; t++) {
        for (const struct ds_rules_field *f = ds_rules_types[t].fields; f->name != NULL; f++) {
            if (f->kind != DS_RULES_TEXT) {
                continue;
            }
            assert_true(f->max + 1 < sizeof(buf));
            ntext++;
            assert_int_equal(ds_rules_check_text(f, buf, f->max, msg, sizeof(msg)), 0);
            assert_int_equal(ds_rules_check_text(f, "@ +x", 4, msg, sizeof(msg)), 0);
            assert_int_not_equal(ds_rules_check_text(f, buf, f->max + 1, msg, sizeof(msg)), 0);
            assert_non_null(strstr(msg, "longer than"));
        }
    }
    assert_true(ntext > 10);
}

/* The field indexes check_record keeps per type give, call after call and
 * whichever type comes first, the answers of a type outside the table
 * (looked up each time). */
static void test_rules_repeat(void **state)
{
    static const char *const names[] = {"patients", "appointments", "treatments", "financial"};
    const char *field = NULL;
    char msg[256];

    (void)state;
    for (int round = 0; round < 3; round++) {
        for (size_t n = 0; n < sizeof(names) / sizeof(names[0]); n++) {
            const struct ds_rules_type *t = ds_rules_type(names[n]);
            struct ds_rules_type copy = *t;
            const char *v[DS_RULES_MAX_FIELDS];

            memset(v, 0, sizeof(v));
            /* Every field but one set, for each field in turn. */
            for (int skip = -1; t->fields[skip + 1].name != NULL; skip++) {
                const char *f1 = NULL;
                const char *f2 = NULL;
                int want;

                for (int i = 0; t->fields[i].name != NULL; i++) {
                    v[i] = i == skip
                               ? NULL
                               : (t->fields[i].kind == DS_RULES_INSTANT ? "2024-01-02T10:00:00Z"
                                                                        : "1");
                }
                if (round == 1 && ds_rules_field_index(t, "end_at") >= 0) {
                    v[ds_rules_field_index(t, "end_at")] = NULL;
                }
                if (n > 0) {
                    want = ds_rules_check_record(&copy, v, &f1, msg, sizeof(msg));
                }
                else { /* the patients' rule is the table's own entry's */
#define SET(name) (v[ds_rules_field_index(t, name)] != NULL)
                    want = SET("external_id") || SET("email") || SET("phone_mobile") ||
                                   SET("phone_home") || SET("phone_work") ||
                                   (SET("last_name") && SET("first_name") && SET("date_of_birth"))
                               ? 0
                               : -1;
#undef SET
                    f1 = "record";
                }
                assert_int_equal(ds_rules_check_record(t, v, &f2, msg, sizeof(msg)), want);
                assert_string_equal(f2, f1);
            }
            /* Nothing set: refused the same way. */
            memset(v, 0, sizeof(v));
            assert_int_equal(ds_rules_check_record(t, v, &field, msg, sizeof(msg)), -1);
            assert_string_equal(field, "record");
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_digest_lines), cmocka_unit_test(test_keys),
        cmocka_unit_test(test_uuids),        cmocka_unit_test(test_codes),
        cmocka_unit_test(test_limits),       cmocka_unit_test(test_rules),
        cmocka_unit_test(test_rules_repeat), cmocka_unit_test(test_rules_text_length_only),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
