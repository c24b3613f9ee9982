/*
 * alloc.h — the allocation-failure test mode: every allocation the agent's
 * libraries make (libuv, jansson, SQLite, libcurl) goes through one counting
 * allocator that can fail the Nth request, as SQLite's and curl's own
 * torture tests do.
 *
 * ds_alloc_install must run first thing in main(), before any library
 * allocates and before any thread exists: each library takes its allocator
 * once, at initialisation. Then ds_alloc_fail_at(n) arms a failure;
 * ds_alloc_live tells whether what was allocated through it was freed.
 *
 * The counters are process-wide (atomics): the allocator of a library is
 * process-wide too, and SQLite and libuv's thread pool allocate on other
 * threads. This is the one mutable global state the agent has, and only a
 * test turns it on: tests/unit/test_alloc.c scenario by scenario, and
 * tests/unit/alloc_env.c (DS_UNIT_FAIL_ALLOC=N) in every unit test binary,
 * which `make alloc-loop` runs with N = 1, 2, … (tests/tools/alloc-loop.sh).
 *
 * Not routed: the agent's own malloc calls, and libcsv, inih, libzip,
 * expat, freexl and libical, which call malloc directly or take no
 * allocator process-wide.
 */
#ifndef DS_CORE_ALLOC_H
#define DS_CORE_ALLOC_H

/* Routes libuv, jansson, SQLite and libcurl through the counting allocator
 * (which passes everything through until a failure is armed). Call once,
 * before anything else; 0 or DS_EINVAL (too late: a library was set up). */
int ds_alloc_install(void);

/* ds_alloc_install, then ds_alloc_fail_at(N) when the environment variable
 * DS_FAIL_ALLOC is N (one allocation fails) or N+ (N and every later one).
 * Returns 0 when the variable is unset. */
int ds_alloc_install_from_env(void);

/* Resets the count; the nth allocation from now fails (1-based), and every
 * one after it too when persistent. n = 0 disarms. */
void ds_alloc_fail_at(long n, int persistent);

/* Allocations made since the last ds_alloc_fail_at. */
long ds_alloc_count(void);

/* Whether an allocation failed on purpose since the last ds_alloc_fail_at. */
int ds_alloc_failed(void);

/* Blocks allocated through the counting allocator and not freed yet. */
long ds_alloc_live(void);

#endif
