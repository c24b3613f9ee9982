/*
 * alloc.c — the counting allocator of the allocation-failure test mode (see
 * alloc.h). The one file that includes the headers of four libraries: it is
 * the place that hands each of them the same allocator.
 *
 * Blocks come from the C library's malloc; SQLite's xSize asks
 * malloc_usable_size. A failed request changes nothing and returns NULL,
 * exactly as malloc would.
 */
#include "agent/core/alloc.h"

#include "agent/core/error.h"
#include "agent/os/os_proc.h"

#include <curl/curl.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static long fail_at;   /* the request that fails, 0: none */
static int persistent; /* every request after it fails too */
static long count;     /* requests since ds_alloc_fail_at */
static int failed;     /* a request failed on purpose */
static long live;      /* blocks not freed */
static int routed;     /* ds_alloc_install ran: the agent's own blocks are counted too */

/* 1 when this request must fail. */
static int must_fail(void)
{
    long n = __atomic_add_fetch(&count, 1, __ATOMIC_SEQ_CST);
    long at = __atomic_load_n(&fail_at, __ATOMIC_SEQ_CST);

    if (at > 0 && (n == at || (n > at && __atomic_load_n(&persistent, __ATOMIC_SEQ_CST)))) {
        __atomic_store_n(&failed, 1, __ATOMIC_SEQ_CST);
        return 1;
    }
    return 0;
}

static void *ds_alloc_malloc(size_t n)
{
    void *p;

    if (must_fail()) {
        return NULL;
    }
    p = malloc(n);
    if (p != NULL) {
        __atomic_add_fetch(&live, 1, __ATOMIC_SEQ_CST);
    }
    return p;
}

static void *ds_alloc_calloc(size_t k, size_t n)
{
    void *p;

    if (must_fail()) {
        return NULL;
    }
    p = calloc(k, n);
    if (p != NULL) {
        __atomic_add_fetch(&live, 1, __ATOMIC_SEQ_CST);
    }
    return p;
}

static void *ds_alloc_realloc(void *old, size_t n)
{
    void *p;

    if (old == NULL) {
        return ds_alloc_malloc(n);
    }
    if (n == 0) {
        /* libuv and curl never ask this; keep the block as realloc might. */
        return old;
    }
    if (must_fail()) {
        return NULL;
    }
    p = realloc(old, n);
    return p;
}

static void ds_alloc_free(void *p)
{
    if (p != NULL) {
        __atomic_sub_fetch(&live, 1, __ATOMIC_SEQ_CST);
        free(p);
    }
}

static char *ds_alloc_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = ds_alloc_malloc(n);

    if (p != NULL) {
        memcpy(p, s, n);
    }
    return p;
}

/* SQLite's view of the same allocator. */
static void *sq_malloc(int n)
{
    return ds_alloc_malloc((size_t)n);
}

static void sq_free(void *p)
{
    ds_alloc_free(p);
}

static void *sq_realloc(void *p, int n)
{
    return ds_alloc_realloc(p, (size_t)n);
}

static int sq_size(void *p)
{
    return p != NULL ? (int)ds_os_alloc_size(p) : 0;
}

static int sq_roundup(int n)
{
    return (n + 7) & ~7;
}

static int sq_init(void *ctx)
{
    (void)ctx;
    return SQLITE_OK;
}

static void sq_shutdown(void *ctx)
{
    (void)ctx;
}

int ds_alloc_install(void)
{
    static const sqlite3_mem_methods methods = {
        sq_malloc, sq_free, sq_realloc, sq_size, sq_roundup, sq_init, sq_shutdown, NULL,
    };
    int rc = DS_EINVAL;

    if (uv_replace_allocator(ds_alloc_malloc, ds_alloc_realloc, ds_alloc_calloc, ds_alloc_free) !=
        0) {
        goto out;
    }
    json_set_alloc_funcs(ds_alloc_malloc, ds_alloc_free);
    if (sqlite3_config(SQLITE_CONFIG_MALLOC, &methods) != SQLITE_OK) {
        goto out;
    }
    if (curl_global_init_mem(CURL_GLOBAL_DEFAULT, ds_alloc_malloc, ds_alloc_free, ds_alloc_realloc,
                             ds_alloc_strdup, ds_alloc_calloc) != CURLE_OK) {
        goto out;
    }
    __atomic_store_n(&routed, 1, __ATOMIC_SEQ_CST);
    rc = 0;
out:
    return rc;
}

void ds_alloc_fail_at(long n, int always)
{
    __atomic_store_n(&fail_at, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&count, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&failed, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&persistent, always, __ATOMIC_SEQ_CST);
    __atomic_store_n(&fail_at, n, __ATOMIC_SEQ_CST);
}

long ds_alloc_count(void)
{
    return __atomic_load_n(&count, __ATOMIC_SEQ_CST);
}

int ds_alloc_failed(void)
{
    return __atomic_load_n(&failed, __ATOMIC_SEQ_CST);
}

long ds_alloc_live(void)
{
    return __atomic_load_n(&live, __ATOMIC_SEQ_CST);
}

/* ---- the agent's own allocations ------------------------------------------ */

void *ds_malloc(size_t n)
{
    return __atomic_load_n(&routed, __ATOMIC_RELAXED) ? ds_alloc_malloc(n) : malloc(n);
}

void *ds_calloc(size_t k, size_t n)
{
    return __atomic_load_n(&routed, __ATOMIC_RELAXED) ? ds_alloc_calloc(k, n) : calloc(k, n);
}

void *ds_realloc(void *p, size_t n)
{
    return __atomic_load_n(&routed, __ATOMIC_RELAXED) ? ds_alloc_realloc(p, n) : realloc(p, n);
}

char *ds_strdup(const char *s)
{
    return __atomic_load_n(&routed, __ATOMIC_RELAXED) ? ds_alloc_strdup(s) : strdup(s);
}

char *ds_strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *p = ds_malloc(len + 1);

    if (p != NULL) {
        memcpy(p, s, len);
        p[len] = '\0';
    }
    return p;
}

void ds_free(void *p)
{
    if (__atomic_load_n(&routed, __ATOMIC_RELAXED)) {
        ds_alloc_free(p);
    }
    else {
        free(p);
    }
}

void ds_alloc_json_free(void *p)
{
    json_free_t fn = NULL;

    json_get_alloc_funcs(NULL, &fn);
    if (fn != NULL) {
        fn(p);
    }
}
