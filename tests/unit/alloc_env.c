/*
 * alloc_env.c — linked into every unit test binary: with DS_UNIT_FAIL_ALLOC=N
 * in the environment, the binary runs with its libraries (libuv, jansson,
 * SQLite, libcurl) on the counting allocator of agent/core/alloc.h and the
 * Nth allocation failing (N = 0: counting only). At exit it prints one line
 * on stderr,
 *
 *   # alloc: C allocation(s), failure at N hit|not reached
 *
 * which tests/tools/alloc-loop.sh reads to know when a binary has been
 * failed at every allocation it makes. Without the variable it does
 * nothing.
 *
 * A constructor, because each library takes its allocator once, before its
 * first allocation, and the tests' own main() must not have to know.
 * test_alloc.c sets the allocator up itself and is not looped.
 */
#include "agent/core/alloc.h"

#include <stdio.h>
#include <stdlib.h>

static long fail_at = -1;

static void report(void)
{
    fprintf(stderr, "# alloc: %ld allocation(s), failure at %ld %s\n", ds_alloc_count(), fail_at,
            ds_alloc_failed() ? "hit" : "not reached");
}

__attribute__((constructor)) static void fail_alloc_from_env(void)
{
    const char *v = getenv("DS_UNIT_FAIL_ALLOC");
    char *end = NULL;
    long n;

    if (v == NULL || *v == '\0') {
        return;
    }
    n = strtol(v, &end, 10);
    if (*end != '\0' || n < 0 || ds_alloc_install() != 0) {
        fprintf(stderr, "# alloc: DS_UNIT_FAIL_ALLOC=%s unusable\n", v);
        exit(2);
    }
    fail_at = n;
    ds_alloc_fail_at(n, 0);
    atexit(report);
}
