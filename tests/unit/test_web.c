/*
 * test_web.c — the status page's request parser (agent/web/http.c) and
 * its sessions, one-time links and CSRF tokens (agent/web/auth.c).
 *
 * The parser must take what browsers and curl send, byte by byte as well
 * as at once, and refuse with the right status what could make a body's
 * length ambiguous or run past its bounds. The auth checks: a link logs in
 * once and only before it expires, a secret only when it matches, a
 * session ends when unused, and a CSRF token belongs to its session only.
 */
#include "agent/core/error.h"
#include "agent/web/auth.h"
#include "agent/web/http.h"
#include "agent/web/web_int.h"
#include "config/config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int parse(const char *text, struct ds_http_request *req, int *status)
{
    return ds_http_parse(text, strlen(text), 8192, req, status);
}

static void assert_refused(const char *text, int want)
{
    struct ds_http_request req;
    int status = 0;

    assert_int_equal(parse(text, &req, &status), -1);
    assert_int_equal(status, want);
}

static void test_parse_get(void **state)
{
    const char *text = "GET /api/job?id=abc%2Ddef&x=1 HTTP/1.1\r\nHost: 127.0.0.1:8765\r\n"
                       "Cookie: a=1; dentsync_session=s3cr3t ; b=2\r\nX-Empty:\r\n\r\n";
    struct ds_http_request req;
    char out[64];
    size_t n = 0;
    const char *v;
    int status = 0;

    (void)state;
    assert_int_equal(parse(text, &req, &status), 1);
    assert_string_equal(req.method, "GET");
    assert_int_equal(req.minor, 1);
    assert_int_equal(req.path_len, 8);
    assert_memory_equal(req.path, "/api/job", 8);
    assert_int_equal(req.query_len, strlen("id=abc%2Ddef&x=1"));
    assert_int_equal(req.head_len, strlen(text));
    assert_int_equal(req.content_length, -1);
    v = ds_http_header(&req, "HOST", &n);
    assert_non_null(v);
    assert_int_equal(n, strlen("127.0.0.1:8765"));
    v = ds_http_header(&req, "x-empty", &n);
    assert_non_null(v);
    assert_int_equal(n, 0);
    assert_null(ds_http_header(&req, "x-missing", NULL));
    assert_int_equal(ds_http_param(req.query, req.query_len, "id", out, sizeof(out)), 0);
    assert_string_equal(out, "abc-def");
    assert_int_equal(ds_http_param(req.query, req.query_len, "x", out, sizeof(out)), 0);
    assert_string_equal(out, "1");
    assert_int_equal(ds_http_param(req.query, req.query_len, "i", out, sizeof(out)), DS_ENOTFOUND);
    v = ds_http_header(&req, "cookie", &n);
    assert_int_equal(ds_http_cookie(v, n, "dentsync_session", out, sizeof(out)), 0);
    assert_string_equal(out, "s3cr3t");
    assert_int_equal(ds_http_cookie(v, n, "dentsync", out, sizeof(out)), DS_ENOTFOUND);
    assert_int_equal(ds_http_cookie(v, n, "dentsync_session", out, 4), DS_ETOOBIG);
}

/* Fed one byte more at a time, the head is incomplete until its last byte. */
static void test_parse_incremental(void **state)
{
    const char *text = "POST /api/import HTTP/1.1\r\nHost: localhost:8765\r\n"
                       "Content-Length: 12\r\nX-CSRF-Token: t\r\n\r\nupload=abcde";
    size_t head = strlen(text) - 12;
    struct ds_http_request req;
    int status = 0;

    (void)state;
    for (size_t n = 0; n < head; n++) {
        assert_int_equal(ds_http_parse(text, n, 8192, &req, &status), 0);
    }
    assert_int_equal(ds_http_parse(text, head, 8192, &req, &status), 1);
    assert_int_equal(req.head_len, head);
    assert_int_equal(req.content_length, 12);
    assert_string_equal(req.method, "POST");
}

static void test_parse_refusals(void **state)
{
    char big[9000];
    size_t n;

    (void)state;
    /* Framing that could be read two ways. */
    assert_refused("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", 501);
    assert_refused("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
                   400);
    assert_refused("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -5\r\n\r\n", 400);
    assert_refused("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5x\r\n\r\n", 400);
    assert_refused("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9999999999999999\r\n\r\n", 400);
    assert_refused("GET / HTTP/1.1\nHost: h\r\n\r\n", 400);
    assert_refused("GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n", 400);
    assert_refused("GET / HTTP/1.1\r\nHost: h\rX\r\n\r\n", 400);
    assert_refused("GET / HTTP/1.1\r\nBad Name: h\r\n\r\n", 400);
    assert_refused("GET / HTTP/1.1\r\nHost: a\x01z\r\n\r\n", 400);
    /* The request line. */
    assert_refused("GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    assert_refused("GET http://x/ HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    assert_refused("GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505);
    assert_refused("GET / HTTP/1.2\r\nHost: h\r\n\r\n", 505);
    assert_refused("GET / FTP/1.1\r\nHost: h\r\n\r\n", 400);
    assert_refused("LONGMETHOD / HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    assert_refused(" / HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    assert_refused("GET / HTTP/1.1\r\n\r\n", 400); /* HTTP/1.1 needs Host */
    /* Bounds: a long target, a head that does not end, too many headers. */
    memset(big, 'a', sizeof(big));
    memcpy(big, "GET /", 5);
    memcpy(big + 3000, " HTTP/1.1\r\nHost: h\r\n\r\n", 23);
    big[3023] = '\0';
    assert_refused(big, 414);
    memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
    memset(big + 19, 'a', sizeof(big) - 20);
    big[sizeof(big) - 1] = '\0';
    assert_refused(big, 431);
    n = (size_t)snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nHost: h\r\n");
    for (int i = 0; i < DS_HTTP_MAX_HEADERS; i++) {
        n += (size_t)snprintf(big + n, sizeof(big) - n, "X-A: b\r\n");
    }
    snprintf(big + n, sizeof(big) - n, "\r\n");
    assert_refused(big, 431);
}

static void test_parse_http10_and_params(void **state)
{
    struct ds_http_request req;
    char out[16];
    int status = 0;

    (void)state;
    assert_int_equal(parse("GET /x HTTP/1.0\r\n\r\n", &req, &status), 1);
    assert_int_equal(req.minor, 0);
    assert_int_equal(req.query_len, 0);
    /* Forms: '+' is a space, escapes decode, bad escapes and NULs are refused. */
    assert_int_equal(ds_http_param("a=x+y%21&b=", 11, "a", out, sizeof(out)), 0);
    assert_string_equal(out, "x y!");
    assert_int_equal(ds_http_param("a=x+y%21&b=", 11, "b", out, sizeof(out)), 0);
    assert_string_equal(out, "");
    assert_int_equal(ds_http_param("a=%4", 4, "a", out, sizeof(out)), DS_EINVAL);
    assert_int_equal(ds_http_param("a=%zz", 5, "a", out, sizeof(out)), DS_EINVAL);
    assert_int_equal(ds_http_param("a=%00", 5, "a", out, sizeof(out)), DS_EINVAL);
    assert_int_equal(ds_http_param("a=0123456789abcdefXYZ", 21, "a", out, sizeof(out)), DS_ETOOBIG);
    assert_int_equal(ds_http_param("a", 1, "a", out, sizeof(out)), 0);
    assert_string_equal(out, "");
}

static void test_link_once(void **state)
{
    struct ds_web_auth *a = NULL;
    char link[DS_WEB_TOKEN_HEX];
    char sid[DS_WEB_TOKEN_HEX];
    char sid2[DS_WEB_TOKEN_HEX];
    char csrf[DS_WEB_TOKEN_HEX];
    char first;

    (void)state;
    assert_int_equal(ds_web_auth_new(NULL, &a), 0);
    assert_int_equal(ds_web_auth_link(a, 1000.0, DS_WEB_READ, link), 0);
    assert_int_equal(strlen(link), 64);
    /* A wrong token, then the right one once, then never again. */
    first = link[0];
    link[0] = first == 'a' ? 'b' : 'a';
    assert_int_equal(ds_web_auth_use_link(a, link, 1001.0, sid), DS_EINVAL);
    link[0] = first;
    assert_int_equal(ds_web_auth_use_link(a, "", 1001.0, sid), DS_EINVAL);
    assert_int_equal(ds_web_auth_use_link(a, link, 1001.0, sid), 0);
    assert_int_equal(ds_web_auth_use_link(a, link, 1002.0, sid2), DS_EINVAL);
    assert_int_equal(ds_web_auth_session(a, sid, 1003.0, csrf), 0);
    assert_int_equal(strlen(csrf), 64);
    assert_string_not_equal(csrf, sid);
    /* A link not used within its time is dead. */
    assert_int_equal(ds_web_auth_link(a, 2000.0, DS_WEB_READ, link), 0);
    assert_int_equal(ds_web_auth_use_link(a, link, 2000.0 + DS_WEB_LINK_TTL + 1, sid2), DS_EINVAL);
    /* No secret configured: no secret logs in. */
    assert_int_equal(ds_web_auth_use_secret(a, "", "127.0.0.1", 2001.0, sid2), DS_EINVAL);
    assert_int_equal(ds_web_auth_use_secret(a, "anything", "127.0.0.1", 2003.0, sid2), DS_EINVAL);
    ds_web_auth_free(&a);
    assert_null(a);
    ds_web_auth_free(&a);
}

static void test_secret_session_csrf(void **state)
{
    struct ds_web_auth *a = NULL;
    char s1[DS_WEB_TOKEN_HEX];
    char s2[DS_WEB_TOKEN_HEX];
    char c1[DS_WEB_TOKEN_HEX];
    char c2[DS_WEB_TOKEN_HEX];

    (void)state;
    assert_int_equal(ds_web_auth_new("correct horse", &a), 0);
    assert_int_equal(ds_web_auth_use_secret(a, "correct hors", "127.0.0.1", 8.0, s1), DS_EINVAL);
    assert_int_equal(ds_web_auth_use_secret(a, "correct horse!", "127.0.0.1", 9.0, s1), DS_EINVAL);
    assert_int_equal(ds_web_auth_use_secret(a, "correct horse", "127.0.0.1", 10.0, s1), 0);
    assert_int_equal(ds_web_auth_use_secret(a, "correct horse", "127.0.0.1", 10.0, s2), 0);
    assert_string_not_equal(s1, s2);
    assert_int_equal(ds_web_auth_session(a, s1, 11.0, c1), 0);
    assert_int_equal(ds_web_auth_session(a, s2, 11.0, c2), 0);
    assert_string_not_equal(c1, c2);
    /* A CSRF token holds for its own session only. */
    assert_int_equal(ds_web_auth_check_csrf(a, s1, c1, 12.0), 0);
    assert_int_equal(ds_web_auth_check_csrf(a, s1, c2, 12.0), DS_EINVAL);
    assert_int_equal(ds_web_auth_check_csrf(a, s1, "", 12.0), DS_EINVAL);
    assert_int_equal(ds_web_auth_check_csrf(a, s1, NULL, 12.0), DS_EINVAL);
    assert_int_equal(ds_web_auth_check_csrf(a, "nosuch", c1, 12.0), DS_EINVAL);
    assert_int_equal(ds_web_auth_check_csrf(a, "", "", 12.0), DS_EINVAL);
    /* Use keeps a session alive; idleness ends it. */
    assert_int_equal(ds_web_auth_session(a, s1, 11.0 + DS_WEB_SESSION_IDLE - 1, NULL), 0);
    assert_int_equal(ds_web_auth_session(a, s2, 11.0 + DS_WEB_SESSION_IDLE, NULL), DS_ENOTFOUND);
    assert_int_equal(ds_web_auth_check_csrf(a, s2, c2, 12.0 + DS_WEB_SESSION_IDLE), DS_EINVAL);
    assert_int_equal(ds_web_auth_session(a, s1, 10.0 + 2 * DS_WEB_SESSION_IDLE - 1, NULL), 0);
    /* A logout ends it at once. */
    ds_web_auth_end(a, s1);
    assert_int_equal(ds_web_auth_session(a, s1, 10.0 + 2 * DS_WEB_SESSION_IDLE, NULL),
                     DS_ENOTFOUND);
    ds_web_auth_free(&a);
}

/* More sessions than slots: the one unused longest goes, the others stay. */
static void test_session_eviction(void **state)
{
    struct ds_web_auth *a = NULL;
    char sids[DS_WEB_SESSIONS + 1][DS_WEB_TOKEN_HEX];

    (void)state;
    assert_int_equal(ds_web_auth_new("s3cret-s3cret", &a), 0);
    for (int i = 0; i <= DS_WEB_SESSIONS; i++) {
        assert_int_equal(ds_web_auth_use_secret(a, "s3cret-s3cret", "::1", 100.0 + i, sids[i]), 0);
    }
    assert_int_equal(ds_web_auth_session(a, sids[0], 200.0, NULL), DS_ENOTFOUND);
    for (int i = 1; i <= DS_WEB_SESSIONS; i++) {
        assert_int_equal(ds_web_auth_session(a, sids[i], 200.0, NULL), 0);
    }
    ds_web_auth_free(&a);
}

/* A session has the rights of its link; the secret's session has them all. */
static void test_rights(void **state)
{
    struct ds_web_auth *a = NULL;
    char link[DS_WEB_TOKEN_HEX];
    char ro[DS_WEB_TOKEN_HEX];
    char rw[DS_WEB_TOKEN_HEX];
    char sec[DS_WEB_TOKEN_HEX];

    (void)state;
    assert_int_equal(ds_web_auth_new("s3cret-s3cret", &a), 0);
    assert_int_equal(ds_web_auth_link(a, 10.0, DS_WEB_READ, link), 0);
    assert_int_equal(ds_web_auth_use_link(a, link, 11.0, ro), 0);
    assert_int_equal(ds_web_auth_link(a, 10.0, DS_WEB_FULL, link), 0);
    assert_int_equal(ds_web_auth_use_link(a, link, 11.0, rw), 0);
    /* Anything but DS_WEB_FULL is read-only. */
    assert_int_equal(ds_web_auth_link(a, 10.0, 0, link), 0);
    assert_int_equal(ds_web_auth_use_link(a, link, 11.0, sec), 0);
    assert_int_equal(ds_web_auth_rights(a, sec, 12.0), DS_WEB_READ);
    assert_int_equal(ds_web_auth_use_secret(a, "s3cret-s3cret", "127.0.0.1", 11.0, sec), 0);
    assert_int_equal(ds_web_auth_rights(a, ro, 12.0), DS_WEB_READ);
    assert_int_equal(ds_web_auth_rights(a, rw, 12.0), DS_WEB_FULL);
    assert_int_equal(ds_web_auth_rights(a, sec, 12.0), DS_WEB_FULL);
    assert_int_equal(ds_web_auth_rights(a, "", 12.0), DS_ENOTFOUND);
    assert_int_equal(ds_web_auth_rights(a, rw, 12.0 + DS_WEB_SESSION_IDLE), DS_ENOTFOUND);
    ds_web_auth_free(&a);
}

/* A wrong secret makes its own client wait, not another. */
static void test_guesses_per_client(void **state)
{
    struct ds_web_auth *a = NULL;
    char sid[DS_WEB_TOKEN_HEX];
    char addr[DS_WEB_ADDR];

    (void)state;
    assert_int_equal(ds_web_auth_new("s3cret-s3cret", &a), 0);
    assert_int_equal(ds_web_auth_may_guess(a, "127.0.0.2", 10.0), 0);
    assert_int_equal(ds_web_auth_use_secret(a, "wrong", "127.0.0.2", 10.0, sid), DS_EINVAL);
    assert_int_equal(ds_web_auth_may_guess(a, "127.0.0.2", 10.5), DS_EBUSY);
    /* While it waits, even the right secret from it is not compared. */
    assert_int_equal(ds_web_auth_use_secret(a, "s3cret-s3cret", "127.0.0.2", 10.5, sid), DS_EBUSY);
    /* Another address logs in meanwhile. */
    assert_int_equal(ds_web_auth_may_guess(a, "127.0.0.1", 10.5), 0);
    assert_int_equal(ds_web_auth_use_secret(a, "s3cret-s3cret", "127.0.0.1", 10.5, sid), 0);
    /* After its wait, the first one may again. */
    assert_int_equal(
        ds_web_auth_use_secret(a, "s3cret-s3cret", "127.0.0.2", 10.0 + DS_WEB_GUESS_WAIT, sid), 0);
    /* More guessing addresses than the table holds: a new one is still
     * free to try, and the table keeps the newest waits. */
    for (int i = 0; i < DS_WEB_CLIENTS + 8; i++) {
        snprintf(addr, sizeof(addr), "127.1.0.%d", i);
        assert_int_equal(ds_web_auth_use_secret(a, "wrong", addr, 20.0 + i * 0.01, sid), DS_EINVAL);
    }
    assert_int_equal(ds_web_auth_may_guess(a, addr, 20.9), DS_EBUSY);
    assert_int_equal(ds_web_auth_use_secret(a, "s3cret-s3cret", "127.0.0.1", 20.9, sid), 0);
    ds_web_auth_free(&a);
}

/* The mapping screen's save (agent/web/mapping.c), outside the loop: the
 * template lands in template_dir and in the cloud outbox of the folder's
 * practice; an id taken (built in, or saved before) only with overwrite;
 * a template of another type than the folder's, a bad id or choice, no
 * template_dir: refused, nothing written. */
static void test_mapping_save(void **state)
{
    static const char choice[] =
        "{\"import_type\":\"patients\",\"id\":\"kartei-patients\",\"columns\":["
        "{\"column\":\"Kartei Nr\",\"field\":\"external_id\"},"
        "{\"column\":\"Farbe\",\"field\":\"ignore\"}]}";
    char top[64];
    char tdir[128];
    char p[256];
    char id[80];
    struct ds_config cfg;
    struct ds_practice_conf pc;
    struct ds_folder_conf f;
    struct ds_error err;
    struct stat sb;
    const char *body;

    (void)state;
    snprintf(top, sizeof(top), "/tmp/ds-web-map-XXXXXX");
    assert_non_null(mkdtemp(top));
    snprintf(tdir, sizeof(tdir), "%s/templates", top);
    assert_int_equal(mkdir(tdir, 0755), 0);
    memset(&cfg, 0, sizeof(cfg));
    memset(&pc, 0, sizeof(pc));
    memset(&f, 0, sizeof(f));
    pc.name = "main";
    cfg.practices = &pc;
    cfg.npractices = 1;
    cfg.state_dir = top;
    f.name = "auto";
    f.practice = "main";
    f.import_type = "patients";

    /* No template_dir: nowhere to save. */
    assert_int_equal(ds__web_mapping_save(&cfg, &f, choice, strlen(choice), id, sizeof(id), &err),
                     DS_ECONFIG);
    cfg.template_dir = tdir;

    ds_error_clear(&err);
    assert_int_equal(ds__web_mapping_save(&cfg, &f, choice, strlen(choice), id, sizeof(id), &err),
                     0);
    assert_string_equal(id, "kartei-patients");
    snprintf(p, sizeof(p), "%s/kartei-patients.json", tdir);
    assert_int_equal(stat(p, &sb), 0);
    snprintf(p, sizeof(p), "%s/template-outbox/main/kartei-patients.json", top);
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);

    /* Taken now: refused, unless the choice says to replace it. */
    assert_int_equal(ds__web_mapping_save(&cfg, &f, choice, strlen(choice), id, sizeof(id), &err),
                     DS_EEXIST);
    body = "{\"import_type\":\"patients\",\"id\":\"kartei-patients\",\"overwrite\":true,"
           "\"columns\":[{\"column\":\"Kartei Nr\",\"field\":\"external_id\"}]}";
    assert_int_equal(ds__web_mapping_save(&cfg, &f, body, strlen(body), id, sizeof(id), &err), 0);
    /* A built-in id is taken too. */
    body = "{\"import_type\":\"patients\",\"id\":\"generic-patients\","
           "\"columns\":[{\"column\":\"Kartei Nr\",\"field\":\"external_id\"}]}";
    assert_int_equal(ds__web_mapping_save(&cfg, &f, body, strlen(body), id, sizeof(id), &err),
                     DS_EEXIST);
    /* Another type than the folder's, a path for an id: refused, nothing written. */
    body = "{\"import_type\":\"financial\",\"id\":\"acme-pay\","
           "\"columns\":[{\"column\":\"Paid\",\"field\":\"amount_cents\"}]}";
    assert_int_equal(ds__web_mapping_save(&cfg, &f, body, strlen(body), id, sizeof(id), &err),
                     DS_EINVAL);
    snprintf(p, sizeof(p), "%s/acme-pay.json", tdir);
    assert_int_equal(stat(p, &sb), -1);
    body = "{\"import_type\":\"patients\",\"id\":\"../../etc/x\","
           "\"columns\":[{\"column\":\"Kartei Nr\",\"field\":\"external_id\"}]}";
    assert_int_equal(ds__web_mapping_save(&cfg, &f, body, strlen(body), id, sizeof(id), &err),
                     DS_EINVAL);
    body = "{\"import_type\":";
    assert_int_equal(ds__web_mapping_save(&cfg, &f, body, strlen(body), id, sizeof(id), &err),
                     DS_EPARSE);

    snprintf(p, sizeof(p), "%s/kartei-patients.json", tdir);
    unlink(p);
    rmdir(tdir);
    snprintf(p, sizeof(p), "%s/template-outbox/main/kartei-patients.json", top);
    unlink(p);
    snprintf(p, sizeof(p), "%s/template-outbox/main", top);
    rmdir(p);
    snprintf(p, sizeof(p), "%s/template-outbox", top);
    rmdir(p);
    rmdir(top);
}

/* A dropped file is found by its whole upload id, for the session that
 * dropped it only, and copied into its
 * folder as "Import into FOLDER" does, for the Import page and the mapping
 * screen alike: 0600, never over a file, no .part left. */
static void test_upload_find_copy(void **state)
{
    static const char text[] = "Ref Q7,Post Q7\nU-1,u@example.com\n";
    struct ds_web *w = calloc(1, sizeof(*w));
    struct ds__web_upload *u;
    struct ds_folder_conf f;
    struct ds_error err;
    struct stat sb;
    char top[64];
    char dir[128];
    char p[512];
    char name[300];
    char got[64];
    char sid[DS_WEB_TOKEN_HEX];
    FILE *fp;

    (void)state;
    assert_non_null(w);
    snprintf(top, sizeof(top), "/tmp/ds-web-up-XXXXXX");
    assert_non_null(mkdtemp(top));
    snprintf(dir, sizeof(dir), "%s/folder", top);
    assert_int_equal(mkdir(dir, 0755), 0);
    u = &w->uploads[3];
    snprintf(u->id, sizeof(u->id), "0b7c1e4a-95f2-4c3e-8d6b-2f1a9e0c7d55");
    snprintf(u->path, sizeof(u->path), "%s/upload.csv", top);
    snprintf(u->name, sizeof(u->name), "dropped.csv");
    fp = fopen(u->path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);

    snprintf(u->sid, sizeof(u->sid), "%064d", 1);
    snprintf(sid, sizeof(sid), "%064d", 1);
    assert_ptr_equal(ds__web_upload_find(w, "0b7c1e4a-95f2-4c3e-8d6b-2f1a9e0c7d55", sid), u);
    assert_null(ds__web_upload_find(w, "0b7c1e4a-95f2-4c3e-8d6b-2f1a9e0c7d5", sid));
    assert_null(ds__web_upload_find(w, "0b7c1e4a-95f2-4c3e-8d6b-2f1a9e0c7d55/..", sid));
    assert_null(ds__web_upload_find(w, "", sid)); /* never a free slot */
    /* Another session, even a full one, does not get it. */
    snprintf(sid, sizeof(sid), "%064d", 2);
    assert_null(ds__web_upload_find(w, "0b7c1e4a-95f2-4c3e-8d6b-2f1a9e0c7d55", sid));
    assert_null(ds__web_upload_find(w, "0b7c1e4a-95f2-4c3e-8d6b-2f1a9e0c7d55", ""));

    memset(&f, 0, sizeof(f));
    f.name = "auto";
    f.path = dir;
    ds_error_clear(&err);
    assert_int_equal(ds__web_upload_copy(u, &f, name, sizeof(name), &err), 0);
    assert_string_equal(name, "dropped.csv");
    snprintf(p, sizeof(p), "%s/dropped.csv", dir);
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    fp = fopen(p, "r");
    assert_non_null(fp);
    assert_non_null(fgets(got, sizeof(got), fp));
    fclose(fp);
    assert_string_equal(got, "Ref Q7,Post Q7\n");
    snprintf(p, sizeof(p), "%s/.dropped.csv.part", dir);
    assert_int_equal(stat(p, &sb), -1);

    /* The name is taken now: the copy gets another, the first stays. */
    assert_int_equal(ds__web_upload_copy(u, &f, name, sizeof(name), &err), 0);
    assert_int_equal(strncmp(name, "web-", 4), 0);
    assert_non_null(strstr(name, "-1-dropped.csv"));
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    assert_int_equal(unlink(p), 0);
    snprintf(p, sizeof(p), "%s/dropped.csv", dir);
    assert_int_equal(unlink(p), 0);

    /* A folder that is gone: an error, nothing half written. */
    rmdir(dir);
    assert_int_not_equal(ds__web_upload_copy(u, &f, name, sizeof(name), &err), 0);

    unlink(u->path);
    rmdir(top);
    free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_get),          cmocka_unit_test(test_parse_incremental),
        cmocka_unit_test(test_parse_refusals),     cmocka_unit_test(test_parse_http10_and_params),
        cmocka_unit_test(test_link_once),          cmocka_unit_test(test_secret_session_csrf),
        cmocka_unit_test(test_session_eviction),   cmocka_unit_test(test_rights),
        cmocka_unit_test(test_guesses_per_client), cmocka_unit_test(test_mapping_save),
        cmocka_unit_test(test_upload_find_copy),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
