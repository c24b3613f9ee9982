/*
 * alloc.h — the allocation-failure test mode: every allocation the agent
 * makes, its own (ds_malloc and the others below) and its libraries'
 * (libuv, jansson, SQLite, libcurl), goes through one counting allocator
 * that can fail the Nth request, as SQLite's and curl's own torture tests
 * do.
 *
 * Only tests install it: tests/unit/test_alloc.c scenario by scenario, and
 * tests/unit/alloc_env.c (DS_UNIT_FAIL_ALLOC=N) in every unit test binary,
 * which `make alloc-loop` runs with N = 1, 2, … (tests/tools/alloc-loop.sh).
 * ds_alloc_install must run before any library allocates and before any
 * thread exists: each library takes its allocator once, at initialisation.
 * Then ds_alloc_fail_at(n) arms a failure; ds_alloc_live tells whether what
 * was allocated through it was freed. The dentsync binary never installs
 * it: there ds_malloc and the others are the C library's.
 *
 * The counters are process-wide (atomics): the allocator of a library is
 * process-wide too, and SQLite and libuv's thread pool allocate on other
 * threads. This is the one mutable global state the agent has, and only a
 * test turns it on.
 *
 * A block is freed by the allocator that made it: ds_free for ds_malloc,
 * ds_calloc, ds_realloc, ds_strdup and ds_strndup (and for what a ds_
 * function hands over as "free with ds_free", such as ds_buf_steal);
 * ds_alloc_json_free for text jansson allocated (json_dumps); sqlite3_free,
 * libuv's and libcurl's own calls for theirs; free() for what the C library
 * allocated (open_memstream).
 *
 * Not routed: libcsv, inih, libzip, expat, freexl and libical, which call
 * malloc directly or take no allocator process-wide.
 */
#ifndef DS_CORE_ALLOC_H
#define DS_CORE_ALLOC_H

#include <stddef.h>

/* Routes libuv, jansson, SQLite, libcurl and the ds_ functions below
 * through the counting allocator (which passes everything through until a
 * failure is armed). Call once, before anything else; 0 or DS_EINVAL (too
 * late: a library was set up). */
int ds_alloc_install(void);

/* Resets the count; the nth allocation from now fails (1-based), and every
 * one after it too when persistent. n = 0 disarms. */
void ds_alloc_fail_at(long n, int persistent);

/* Allocations made since the last ds_alloc_fail_at. */
long ds_alloc_count(void);

/* Whether an allocation failed on purpose since the last ds_alloc_fail_at. */
int ds_alloc_failed(void);

/* Blocks allocated through the counting allocator and not freed yet. */
long ds_alloc_live(void);

/* The agent's own allocations: malloc, calloc, realloc, strdup and strndup
 * (at most n bytes of s), counted and failed with the libraries' once
 * ds_alloc_install ran. new: free with ds_free. */
void *ds_malloc(size_t n);
void *ds_calloc(size_t k, size_t n);
void *ds_realloc(void *p, size_t n);
char *ds_strdup(const char *s);
char *ds_strndup(const char *s, size_t n);

/* Frees a block of the functions above; NULL-safe. */
void ds_free(void *p);

/* Frees text jansson allocated (json_dumps) with jansson's own free
 * function; NULL-safe. */
void ds_alloc_json_free(void *p);

#endif
