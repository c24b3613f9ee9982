/*
 * test_os_mem.c — the platform's large zeroed tables (agent/os/os_mem.h):
 * zeroed, writable to their last byte, refused when too large; and where
 * the platform asks for huge pages (Linux), placed for them, given back
 * whole, and counted eligible by the kernel (/proc/self/smaps).
 */
#include "agent/os/os_mem.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

static void check_zeroed_and_writable(size_t n)
{
    unsigned char *p = ds_os_table_alloc(n);
    size_t nonzero = 0;

    assert_non_null(p);
    for (size_t i = 0; i < n; i++) {
        nonzero += p[i] != 0;
    }
    assert_int_equal(nonzero, 0);
    memset(p, 0xa5, n);
    assert_int_equal(p[0], 0xa5);
    assert_int_equal(p[n - 1], 0xa5);
    ds_os_table_free(p, n);
}

static void test_sizes(void **state)
{
    (void)state;
    check_zeroed_and_writable(1);
    check_zeroed_and_writable(4096 + 3);
    check_zeroed_and_writable((size_t)1 << 20);        /* the preview's first key set */
    check_zeroed_and_writable(((size_t)8 << 20) + 16); /* over huge pages, not a multiple */
}

static void test_refused(void **state)
{
    (void)state;
    assert_null(ds_os_table_alloc(0));
    assert_null(ds_os_table_alloc(SIZE_MAX));
    assert_null(ds_os_table_alloc(SIZE_MAX - 4096));
    ds_os_table_free(NULL, 1 << 20);
}

/* The bytes of the process's private anonymous mappings, from
 * /proc/self/maps, or -1 when that cannot be read. */
static long long anon_bytes(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    long long sum = 0;

    if (f == NULL) {
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        unsigned long lo;
        unsigned long hi;
        unsigned long off;
        char perms[8];
        char dev[16];
        unsigned long inode;

        if (sscanf(line, "%lx-%lx %7s %lx %15s %lu", &lo, &hi, perms, &off, &dev[0], &inode) == 6 &&
            inode == 0 && perms[3] == 'p') {
            sum += (long long)(hi - lo);
        }
    }
    fclose(f);
    return sum;
}

/* The kernel's view of the mapping that holds p: its "THPeligible" line
 * from /proc/self/smaps, or -1 when that cannot be read. */
static int thp_eligible(const void *p)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    char line[256];
    int in = 0;
    int v = -1;

    if (f == NULL) {
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        unsigned long lo;
        unsigned long hi;

        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) { /* a mapping's first line */
            in = (uintptr_t)p >= lo && (uintptr_t)p < hi;
        }
        else if (in && sscanf(line, "THPeligible: %d", &v) == 1) {
            break;
        }
    }
    fclose(f);
    return in ? v : -1;
}

/* Where tables are placed for huge pages: on a 2 MiB boundary, cut out
 * of a larger mapping whose ends are given back at once; freeing leaves
 * nothing of it (64 rounds that each left an end behind would add up to
 * 128 MiB of mappings); and the kernel counts a large table eligible for
 * huge pages when it offers them. */
static void test_huge_pages(void **state)
{
    FILE *f;
    char mode[128] = "";
    size_t n = (size_t)8 << 20;
    long long before;
    long long after;
    void *p;
    int v;

    (void)state;
    if (!ds_os_table_huge_pages()) {
        print_message("skipped: this platform does not ask for huge pages\n");
        skip();
    }
    before = anon_bytes();
    for (int i = 0; i < 64; i++) {
        p = ds_os_table_alloc((size_t)3 << 20);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % ((uintptr_t)2 << 20), 0);
        memset(p, 1, (size_t)3 << 20);
        ds_os_table_free(p, (size_t)3 << 20);
    }
    after = anon_bytes();
    if (before < 0 || after < 0) {
        print_message("skipped: no /proc/self/maps to count the mappings\n");
        skip();
    }
    assert_true(after - before < (8LL << 20));

    f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (f == NULL || fgets(mode, sizeof(mode), f) == NULL || strstr(mode, "[never]") != NULL) {
        if (f != NULL) {
            fclose(f);
        }
        print_message("skipped: no transparent huge pages on this system\n");
        skip();
    }
    fclose(f);
    p = ds_os_table_alloc(n);
    assert_non_null(p);
    v = thp_eligible(p);
    ds_os_table_free(p, n);
    if (v < 0) {
        print_message("skipped: /proc/self/smaps has no THPeligible line\n");
        skip();
    }
    assert_int_equal(v, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_huge_pages),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
