/*
 * linkcheck.c — proves the libraries cross-built for Windows
 * (installer/win-deps.sh) link statically into one .exe and work there:
 * one small real call into each, checked, run under wine by
 * `make windows-linkcheck`. Prints one line per library and
 * "N passed, N failed"; exits 1 if any failed. A library missing from the
 * cache (its build failed) counts as failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* HAVE_<LIB> for each library the cache has (tests/win/linkcheck.sh). */
#ifdef HAVE_LIBUV
#include <uv.h>
#endif
#ifdef HAVE_LIBCURL
#include <curl/curl.h>
#endif
#ifdef HAVE_SQLITE3
#include <sqlite3.h>
#endif
#ifdef HAVE_JANSSON
#include <jansson.h>
#endif
#ifdef HAVE_LIBCSV
#include <csv.h>
#endif
#ifdef HAVE_INIH
#include <ini.h>
#endif
#ifdef HAVE_ZLIB
#include <zlib.h>
#endif
#ifdef HAVE_LIBZIP
#include <zip.h>
#endif
#ifdef HAVE_EXPAT
#include <expat.h>
#endif
#ifdef HAVE_FREEXL
#include <freexl.h>
#include <iconv.h>
#endif
#ifdef HAVE_TRE
#include <tre/tre.h>
#endif
#ifdef HAVE_CMOCKA
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#endif
#ifdef HAVE_LIBICAL
#include <libical/ical.h>
#endif

static int passed;
static int failed;

static void check(const char *lib, int ok, const char *detail)
{
    printf("%-8s %s %s\n", ok ? "ok" : "FAIL", lib, detail != NULL ? detail : "");
    if (ok) {
        passed++;
    }
    else {
        failed++;
    }
}

#ifdef HAVE_LIBUV
static void idle_cb(uv_idle_t *idle)
{
    int *count = idle->data;
    if (++*count == 3) {
        uv_idle_stop(idle);
    }
}

static void check_uv(void)
{
    uv_loop_t loop;
    uv_idle_t idle;
    int count = 0;
    int ok = uv_loop_init(&loop) == 0;

    if (ok) {
        uv_idle_init(&loop, &idle);
        idle.data = &count;
        uv_idle_start(&idle, idle_cb);
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_close((uv_handle_t *)&idle, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
        ok = count == 3 && uv_loop_close(&loop) == 0;
    }
    check("libuv", ok, uv_version_string());
}
#endif

#ifdef HAVE_LIBCURL
static void check_curl(void)
{
    const curl_version_info_data *v = NULL;
    char detail[200];
    int https = 0;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    v = curl_version_info(CURLVERSION_NOW);
    for (const char *const *p = v->protocols; *p != NULL; p++) {
        if (strcmp(*p, "https") == 0) {
            https = 1;
        }
    }
    snprintf(detail, sizeof(detail), "%s, TLS %s", v->version,
             v->ssl_version != NULL ? v->ssl_version : "none");
    check("libcurl",
          https && (v->features & CURL_VERSION_SSL) && v->ssl_version != NULL &&
              strstr(v->ssl_version, "Schannel") != NULL,
          detail);
    curl_global_cleanup();
}
#endif

#ifdef HAVE_SQLITE3
static void check_sqlite(void)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int ok = sqlite3_open(":memory:", &db) == SQLITE_OK &&
             sqlite3_prepare_v2(db, "SELECT sqlite_version(), json_extract('{\"a\":42}', '$.a')",
                                -1, &st, NULL) == SQLITE_OK &&
             sqlite3_step(st) == SQLITE_ROW &&
             strcmp((const char *)sqlite3_column_text(st, 0), sqlite3_libversion()) == 0 &&
             sqlite3_column_int(st, 1) == 42;
    sqlite3_finalize(st);
    sqlite3_close(db);
    check("sqlite3", ok, sqlite3_libversion());
}
#endif

#ifdef HAVE_JANSSON
static void check_jansson(void)
{
    json_t *o = json_pack("{s:i, s:s}", "a", 1, "b", "x");
    char *s = o != NULL ? json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
    check("jansson", s != NULL && strcmp(s, "{\"a\":1,\"b\":\"x\"}") == 0, JANSSON_VERSION);
    free(s);
    json_decref(o);
}
#endif

#ifdef HAVE_LIBCSV
static void csv_field(void *s, size_t len, void *data)
{
    (void)s;
    (void)len;
    ++*(int *)data;
}

static void check_csv(void)
{
    struct csv_parser p;
    const char line[] = "a,\"b,c\",d\n";
    int fields = 0;
    int ok = csv_init(&p, CSV_STRICT) == 0 &&
             csv_parse(&p, line, sizeof(line) - 1, csv_field, NULL, &fields) == sizeof(line) - 1 &&
             csv_fini(&p, csv_field, NULL, &fields) == 0 && fields == 3;
    csv_free(&p);
    check("libcsv", ok, NULL);
}
#endif

#ifdef HAVE_INIH
static int ini_entry(void *user, const char *section, const char *name, const char *value)
{
    if (strcmp(section, "s") == 0 && strcmp(name, "k") == 0 && strcmp(value, "v") == 0) {
        ++*(int *)user;
    }
    return 1;
}

static void check_inih(void)
{
    int found = 0;
    check("inih", ini_parse_string("[s]\nk = v\n", ini_entry, &found) == 0 && found == 1, NULL);
}
#endif

#ifdef HAVE_ZLIB
static void check_zlib(void)
{
    const char text[] = "dentsync dentsync dentsync dentsync";
    unsigned char packed[128];
    char back[sizeof(text)];
    uLongf plen = sizeof(packed);
    uLongf blen = sizeof(back);
    int ok = compress(packed, &plen, (const Bytef *)text, sizeof(text)) == Z_OK &&
             uncompress((Bytef *)back, &blen, packed, plen) == Z_OK && blen == sizeof(text) &&
             memcmp(back, text, sizeof(text)) == 0;
    check("zlib", ok, zlibVersion());
}
#endif

#ifdef HAVE_LIBZIP
static void check_libzip(void)
{
    zip_error_t err;
    zip_source_t *src = NULL;
    zip_t *za = NULL;
    const char text[] = "hello";
    int ok = 0;

    /* A zip with one deflated entry, written and read back in memory. */
    zip_error_init(&err);
    src = zip_source_buffer_create(NULL, 0, 0, &err);
    if (src != NULL) {
        zip_source_keep(src);
        za = zip_open_from_source(src, ZIP_TRUNCATE, &err);
    }
    if (za != NULL) {
        zip_source_t *file = zip_source_buffer(za, text, sizeof(text), 0);
        if (file != NULL && zip_file_add(za, "a.txt", file, 0) < 0) {
            zip_source_free(file);
            file = NULL;
        }
        ok = file != NULL && zip_close(za) == 0;
        if (!ok) {
            zip_discard(za);
        }
        za = NULL;
    }
    if (ok) {
        char back[sizeof(text)] = {0};
        zip_file_t *f = NULL;
        /* zip_discard() below drops the reference this open takes over. */
        zip_source_keep(src);
        za = zip_open_from_source(src, ZIP_RDONLY, &err);
        f = za != NULL ? zip_fopen(za, "a.txt", 0) : NULL;
        ok = f != NULL && zip_fread(f, back, sizeof(back)) == (zip_int64_t)sizeof(text) &&
             memcmp(back, text, sizeof(text)) == 0;
        if (f != NULL) {
            zip_fclose(f);
        }
        if (za != NULL) {
            zip_discard(za);
        }
    }
    zip_source_free(src);
    zip_error_fini(&err);
    check("libzip", ok, zip_libzip_version());
}
#endif

#ifdef HAVE_EXPAT
static void xml_start(void *data, const XML_Char *name, const XML_Char **attrs)
{
    (void)attrs;
    if (strcmp(name, "b") == 0) {
        ++*(int *)data;
    }
}

static void check_expat(void)
{
    const char doc[] = "<a><b/><b x='1'/></a>";
    XML_Parser p = XML_ParserCreate("UTF-8");
    int count = 0;
    int ok = p != NULL;

    if (ok) {
        XML_SetUserData(p, &count);
        XML_SetStartElementHandler(p, xml_start);
        ok = XML_Parse(p, doc, (int)strlen(doc), 1) == XML_STATUS_OK && count == 2;
        XML_ParserFree(p);
    }
    check("expat", ok, XML_ExpatVersion());
}
#endif

#ifdef HAVE_FREEXL
static void check_freexl(void)
{
    /* freexl's code page text goes through this iconv. */
    iconv_t cd = iconv_open("UTF-8", "CP1252");
    char in[] = "caf\xe9 \x80";
    char out[16] = {0};
    char *ip = in;
    char *op = out;
    size_t il = strlen(in);
    size_t ol = sizeof(out) - 1;
    int ok = cd != (iconv_t)-1 && iconv(cd, &ip, &il, &op, &ol) == 0 &&
             strcmp(out, "caf\xc3\xa9 \xe2\x82\xac") == 0;
    const void *handle = NULL;

    if (cd != (iconv_t)-1) {
        iconv_close(cd);
    }
    /* A file that is not there: the call must fail cleanly. */
    ok = ok && freexl_open("no-such-file.xls", &handle) != FREEXL_OK;
    check("freexl", ok, freexl_version());
}
#endif

#ifdef HAVE_LIBICAL
static void check_libical(void)
{
    const char ics[] = "BEGIN:VEVENT\r\nUID:1\r\nDTSTART:20260102T030405Z\r\n"
                       "SUMMARY:check\r\nEND:VEVENT\r\n";
    icalcomponent *c = icalcomponent_new_from_string(ics);
    int ok = 0;

    if (c != NULL) {
        struct icaltimetype t = icalcomponent_get_dtstart(c);
        ok = t.year == 2026 && t.month == 1 && t.day == 2 && t.hour == 3 &&
             strcmp(icalcomponent_get_summary(c), "check") == 0;
        icalcomponent_free(c);
    }
    check("libical", ok, ICAL_VERSION);
}
#endif

#ifdef HAVE_TRE
/* POSIX extended syntax, as a template's pattern: a match, its group, a
 * miss, and a bad pattern refused. */
static void check_tre(void)
{
    regex_t re;
    regmatch_t m[2];
    regex_t bad;
    int ok = tre_regcomp(&re, "^([A-Z]+)-[0-9]{3}$", REG_EXTENDED) == 0;

    if (ok) {
        ok = tre_regexec(&re, "ABC-123", 2, m, 0) == 0 && m[1].rm_so == 0 && m[1].rm_eo == 3 &&
             tre_regexec(&re, "abc-123", 0, NULL, 0) == REG_NOMATCH;
        tre_regfree(&re);
    }
    ok = ok && tre_regcomp(&bad, "a(b", REG_EXTENDED) != 0;
    check("tre", ok, "0.8.0");
}
#endif

#ifdef HAVE_CMOCKA
static void cmocka_case(void **state)
{
    (void)state;
    assert_int_equal(2 + 2, 4);
}

/* One test run through cmocka's runner (its output goes to the console). */
static void check_cmocka(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(cmocka_case)};

    check("cmocka", cmocka_run_group_tests_name("linkcheck", tests, NULL, NULL) == 0, NULL);
}
#endif

int main(void)
{
#ifdef HAVE_LIBUV
    check_uv();
#else
    check("libuv", 0, "not in the cache");
#endif
#ifdef HAVE_LIBCURL
    check_curl();
#else
    check("libcurl", 0, "not in the cache");
#endif
#ifdef HAVE_SQLITE3
    check_sqlite();
#else
    check("sqlite3", 0, "not in the cache");
#endif
#ifdef HAVE_JANSSON
    check_jansson();
#else
    check("jansson", 0, "not in the cache");
#endif
#ifdef HAVE_LIBCSV
    check_csv();
#else
    check("libcsv", 0, "not in the cache");
#endif
#ifdef HAVE_INIH
    check_inih();
#else
    check("inih", 0, "not in the cache");
#endif
#ifdef HAVE_ZLIB
    check_zlib();
#else
    check("zlib", 0, "not in the cache");
#endif
#ifdef HAVE_LIBZIP
    check_libzip();
#else
    check("libzip", 0, "not in the cache");
#endif
#ifdef HAVE_EXPAT
    check_expat();
#else
    check("expat", 0, "not in the cache");
#endif
#ifdef HAVE_FREEXL
    check_freexl();
#else
    check("freexl", 0, "not in the cache");
#endif
#ifdef HAVE_TRE
    check_tre();
#else
    check("tre", 0, "not in the cache");
#endif
#ifdef HAVE_CMOCKA
    check_cmocka();
#else
    check("cmocka", 0, "not in the cache");
#endif
#ifdef HAVE_LIBICAL
    check_libical();
#else
    check("libical", 0, "not in the cache");
#endif
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
