/*
 * test_os_service.c — the identifier of the service's own account
 * (agent/os/os_service_sid.c): the derivation Windows uses, checked
 * against an identifier Windows publishes, on Linux and under wine (each
 * with its own SHA-1: libcrypto, CNG).
 */
#include "agent/os/os_service.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

/* NT SERVICE\TrustedInstaller, as every Windows shows it (icacls on
 * C:\Windows\System32). */
#define TRUSTED_INSTALLER "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464"

static void test_published_sid(void **state)
{
    char sid[80];

    (void)state;
    assert_int_equal(os_service_sid_of("TrustedInstaller", sid, sizeof(sid)), 0);
    assert_string_equal(sid, TRUSTED_INSTALLER);
    /* The name is taken in upper case, as the service manager does. */
    assert_int_equal(os_service_sid_of("trustedinstaller", sid, sizeof(sid)), 0);
    assert_string_equal(sid, TRUSTED_INSTALLER);
}

static void test_agent_sid(void **state)
{
    char sid[80];
    char again[80];

    (void)state;
    /* The value the installer's documentation gives (docs/windows.md). */
    assert_int_equal(os_service_sid_of("dentsync", sid, sizeof(sid)), 0);
    assert_string_equal(sid, "S-1-5-80-2777325632-1440457152-1258685467-3603544819-3408474565");
    assert_int_equal(os_service_sid_of("DentSync", again, sizeof(again)), 0);
    assert_string_equal(sid, again);
    /* The service's own, where there is one, is that one. */
    if (os_service_sid() != NULL) {
        assert_string_equal(os_service_sid(), sid);
    }
}

static void test_refusals(void **state)
{
    char sid[80];
    char small[20];

    (void)state;
    assert_int_equal(os_service_sid_of("", sid, sizeof(sid)), -1);
    assert_int_equal(os_service_sid_of("d\xc3\xa9ntsync", sid, sizeof(sid)), -1);
    assert_int_equal(os_service_sid_of("dentsync", small, sizeof(small)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_published_sid),
        cmocka_unit_test(test_agent_sid),
        cmocka_unit_test(test_refusals),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
