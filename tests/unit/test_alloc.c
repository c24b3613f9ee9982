/*
 * test_alloc.c — allocation failure, one allocation at a time: each
 * scenario runs again and again, the Nth allocation of the agent (ds_malloc
 * and the others) and its libraries (SQLite, jansson, libuv, libcurl)
 * failing in run N, until a run completes without reaching N. Every run
 * must end in a return code, never a crash (the ASan build runs this too),
 * and give back every block it took.
 *
 * The libraries that take no allocator (libcsv, inih, libzip, expat,
 * freexl, libical) are not covered: see agent/core/alloc.h.
 */
#include "agent/core/alloc.h"
#include "agent/core/buf.h"
#include "agent/core/error.h"
#include "agent/map/map.h"
#include "agent/upload/http.h"
#include "config/template.h"
#include "state/store_ingest.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#define MAX_RUNS 20000

/* A scenario: 0 or a negative DS_E code. */
typedef int (*scenario_fn)(void *ctx);

/* Runs fn with no failure first (so lazy global set-up is done), then with
 * the 1st, 2nd, ... allocation failing until a run reaches none. With
 * DS_FAIL_ALLOC=N in the environment, only the run where the Nth fails (to
 * reproduce one under a debugger). */
static void torture(const char *name, scenario_fn fn, void *ctx)
{
    const char *only = getenv("DS_FAIL_ALLOC");
    long first = 1;
    long last = MAX_RUNS - 1;
    long runs = 0;
    long failures = 0;
    long baseline;

    if (only != NULL && *only != '\0') {
        first = strtol(only, NULL, 10);
        last = first;
    }
    ds_alloc_fail_at(0, 0);
    assert_int_equal(fn(ctx), 0);
    baseline = ds_alloc_live();
    for (long n = first; n <= last; n++) {
        int rc;

        ds_alloc_fail_at(n, 0);
        rc = fn(ctx);
        ds_alloc_fail_at(0, 0);
        runs++;
        if (rc != 0) {
            failures++;
            assert_true(rc < 0);
        }
        if (ds_alloc_live() != baseline) {
            fail_msg("%s: allocation %ld failing leaves %ld block(s) behind", name, n,
                     ds_alloc_live() - baseline);
        }
        if (rc == 0 && ds_alloc_count() < n) {
            break; /* the run never reached allocation n: all were tried */
        }
    }
    assert_true(runs < MAX_RUNS - 1 || first == last);
    printf("# %s: %ld runs, %ld ended with an error\n", name, runs, failures);
}

/* --- the agent's own allocations ------------------------------------------ */

/* ds_malloc and the others count, fail when armed and are freed by ds_free. */
static void test_own(void **state)
{
    long live = ds_alloc_live();
    char *s;
    void *p;

    (void)state;
    ds_alloc_fail_at(1, 0);
    assert_null(ds_malloc(16));
    assert_true(ds_alloc_failed());
    s = ds_strdup("kept");
    assert_non_null(s);
    assert_int_equal(ds_alloc_count(), 2);
    assert_int_equal(ds_alloc_live(), live + 1);
    p = ds_realloc(s, 64);
    assert_non_null(p);
    assert_string_equal(p, "kept");
    assert_int_equal(ds_alloc_live(), live + 1);
    ds_free(p);
    assert_int_equal(ds_alloc_live(), live);

    ds_alloc_fail_at(2, 0);
    p = ds_calloc(4, 8);
    assert_non_null(p);
    assert_null(ds_strndup("abc", 2));
    s = ds_strndup("abc", 2);
    assert_string_equal(s, "ab");
    ds_free(s);
    ds_free(p);
    ds_alloc_fail_at(0, 0);
    assert_int_equal(ds_alloc_live(), live);
}

/* A buffer grown, its text handed over and freed. */
static int buf_scenario(void *arg)
{
    struct ds_buf b;
    char *s = NULL;
    int rc = 0;

    (void)arg;
    ds_buf_init(&b, 1 << 20);
    for (int i = 0; i < 200 && rc == 0; i++) {
        rc = ds_buf_printf(&b, "%d,", i);
    }
    if (rc == 0) {
        s = ds_buf_steal(&b);
        rc = s != NULL ? 0 : DS_ENOMEM;
    }
    ds_free(s);
    ds_buf_close(&b);
    return rc;
}

static void test_buf(void **state)
{
    (void)state;
    torture("buffer grown and stolen", buf_scenario, NULL);
}

/* --- SQLite: a queue opened (migrations), a file recorded, closed -------- */

struct store_ctx {
    char dir[64];
    char path[128];
    int run;
};

static void remove_queue(const char *path)
{
    char p[160];

    unlink(path);
    snprintf(p, sizeof(p), "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", path);
    unlink(p);
}

static int store_scenario(void *arg)
{
    struct store_ctx *c = arg;
    struct ds_store *st = NULL;
    struct ds_error err;
    int64_t id = 0;
    int dup = 0;
    int rc;

    snprintf(c->path, sizeof(c->path), "%s/q%d.db", c->dir, c->run++);
    rc = ds_store_open(c->path, &st, &err);
    if (rc != 0) {
        goto out;
    }
    rc = ds_store_file_add(st, "inbox", "/tmp/export.csv", 10, 1, "ab", &id, &dup);
out:
    ds_store_close(&st);
    remove_queue(c->path);
    return rc;
}

static void test_store(void **state)
{
    struct store_ctx c;

    (void)state;
    memset(&c, 0, sizeof(c));
    snprintf(c.dir, sizeof(c.dir), "/tmp/test_alloc.XXXXXX");
    assert_non_null(mkdtemp(c.dir));
    torture("store open + file add", store_scenario, &c);
    rmdir(c.dir);
}

/* --- jansson: a template parsed and freed --------------------------------- */

static const char template_json[] =
    "{\"id\":\"t1\",\"name\":\"T\",\"import_type\":\"patients\","
    "\"recognition\":{\"required\":[\"First Name\",\"Last Name\"]},"
    "\"fields\":{\"first_name\":{\"columns\":[\"First Name\"],\"transform\":\"text\"},"
    "\"last_name\":{\"columns\":[\"Last Name\"],\"transform\":\"text\"},"
    "\"external_id\":{\"columns\":[\"ID\"],\"transform\":\"text\"}}}";

static int template_scenario(void *arg)
{
    struct ds_template *t = NULL;
    struct ds_error err;
    int rc;

    (void)arg;
    rc = ds_template_parse(template_json, sizeof(template_json) - 1, "test", &t, &err);
    ds_template_free(&t);
    return rc;
}

static void test_template(void **state)
{
    (void)state;
    torture("template parse", template_scenario, NULL);
}

/* --- the mapper: a template bound to a header, a row mapped ---------------- */

static int map_scenario(void *arg)
{
    static const char *const hnames[] = {"ID", "First Name", "Last Name"};
    static const size_t hlens[] = {2, 10, 9};
    static const char *const vals[] = {"7", "Ann", "Lee"};
    static const size_t vlens[] = {1, 3, 3};
    struct ds_row header = {.nfields = 3, .fields = hnames, .lens = hlens};
    struct ds_row row = {.nfields = 3, .fields = vals, .lens = vlens, .row = 1, .line = 2};
    struct ds_template *t = NULL;
    struct ds_mapper *m = NULL;
    struct ds_mapped out;
    struct ds_error err;
    int rc;

    (void)arg;
    memset(&out, 0, sizeof(out));
    rc = ds_template_parse(template_json, sizeof(template_json) - 1, "test", &t, &err);
    if (rc == 0) {
        rc = ds_map_new(t, &header, &m, &err);
    }
    if (rc == 0) {
        rc = ds_map_row(m, &row, &out);
    }
    if (rc == 0 && (!out.valid || strcmp(out.key, "ext:7") != 0 || out.record_json == NULL)) {
        rc = DS_EINVAL;
    }
    ds_mapped_close(&out);
    ds_map_free(&m);
    ds_template_free(&t);
    return rc;
}

static void test_map(void **state)
{
    (void)state;
    torture("mapper bound and one row mapped", map_scenario, NULL);
}

/* --- libuv and libcurl: the HTTP client on a loop, made and freed ----------- */

static int http_scenario(void *arg)
{
    struct ds_http_options opt;
    struct ds_http *h = NULL;
    uv_loop_t *loop = arg;
    int rc;

    memset(&opt, 0, sizeof(opt));
    opt.timeout_seconds = 1;
    opt.connect_timeout_seconds = 1;
    rc = ds_http_new(loop, &opt, &h);
    ds_http_free(&h);
    uv_run(loop, UV_RUN_DEFAULT);
    return rc;
}

/* The loop is made outside the failing runs: libuv 1.44 aborts in the
 * uv_loop_init after one whose allocation failed (uv_signal_init). */
static void test_http(void **state)
{
    uv_loop_t loop;

    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    torture("http client on a loop", http_scenario, &loop);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_own),      cmocka_unit_test(test_buf), cmocka_unit_test(test_store),
        cmocka_unit_test(test_template), cmocka_unit_test(test_map), cmocka_unit_test(test_http),
    };

    /* First, before any library allocates. */
    if (ds_alloc_install() != 0 || ds_http_global_init() != 0) {
        fprintf(stderr, "test_alloc: cannot install the counting allocator\n");
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
