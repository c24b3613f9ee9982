/*
 * test_config.c — the INI loader: defaults, every key, and that every
 * problem is reported with its file and line.
 */
#include "config/config.h"
#include "agent/os/os_fs.h"
#include "tests/unit/scratch.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct fixture {
    char dir[256];   /* temporary directory */
    char conf[300];  /* the config file written by the test */
    char token[300]; /* a token file, private */
    char exports[300];
};

/* Writes the token into f->token: private (0600; on Windows a DACL for its
 * owner), or made the ordinary way, which others may read (0644 under the
 * usual umask; on Windows, where the C library's mode bits say nothing of
 * it, a file of wine's Z: drive or one inheriting a folder's rights). */
static void write_token(const struct fixture *f, int private_file)
{
    static const char token[] = "dsk_test_token\n";
    FILE *fp;
    int fd;

    ds_os_unlink(f->token);
    if (private_file) {
        fd = ds_os_create_private(f->token, DS_OS_TRUNC);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, token, sizeof(token) - 1), (int)(sizeof(token) - 1));
        close(fd);
        return;
    }
    fp = fopen(f->token, "w");
    assert_non_null(fp);
    fputs(token, fp);
    fclose(fp);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    assert_int_equal(ds_test_mkdtemp("ds-test-config", f->dir, sizeof(f->dir)), 0);
    snprintf(f->conf, sizeof(f->conf), "%s/dentsync.conf", f->dir);
    snprintf(f->token, sizeof(f->token), "%s/main.token", f->dir);
    snprintf(f->exports, sizeof(f->exports), "%s/exports", f->dir);
    assert_int_equal(ds_os_mkdir(f->exports, 0), 0);
    write_token(f, 1);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    ds_test_rmtree(f->dir);
    free(f);
    return 0;
}

static void write_conf(const struct fixture *f, const char *text)
{
    FILE *fp = fopen(f->conf, "w");

    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

/* Loads f->conf with the text, where @TOKEN@ and @EXPORTS@ stand for the
 * token path and the exports path; returns what was reported. */
static char *load(const struct fixture *f, const char *tmpl, struct ds_config **cfg, int *rc)
{
    char text[4096];
    size_t n = 0;
    char *report;
    FILE *errs = ds_test_capture_open();

    assert_non_null(errs);
    for (const char *p = tmpl; *p != '\0' && n < sizeof(text) - 200;) {
        if (strncmp(p, "@TOKEN@", 7) == 0) {
            n += (size_t)snprintf(text + n, sizeof(text) - n, "%s", f->token);
            p += 7;
        }
        else if (strncmp(p, "@EXPORTS@", 9) == 0) {
            n += (size_t)snprintf(text + n, sizeof(text) - n, "%s", f->exports);
            p += 9;
        }
        else {
            text[n++] = *p++;
        }
    }
    text[n] = '\0';
    write_conf(f, text);
    *rc = ds_config_load(f->conf, cfg, errs);
    report = ds_test_capture_text(errs);
    assert_non_null(report);
    return report;
}

static const char *const good = "[agent]\n"
                                "state_dir = /tmp/state\n"
                                "settle_seconds = 0.25\n"
                                "rescan_seconds = 2\n"
                                "log_level = debug\n"
                                "\n"
                                "[cloud]\n"
                                "url = http://127.0.0.1:8080\n"
                                "batch_rows = 7\n"
                                "\n"
                                "[practice main]\n"
                                "token_file = @TOKEN@\n"
                                "timezone = America/Chicago\n"
                                "\n"
                                "[folder patients]\n"
                                "path = @EXPORTS@\n"
                                "practice = main\n"
                                "import_type = patients\n"
                                "template = generic-patients\n";

static void test_good_config(void **state)
{
    struct fixture *f = *state;
    struct ds_config *cfg = NULL;
    char token[64];
    int rc;
    char *report = load(f, good, &cfg, &rc);

    assert_int_equal(rc, 0);
    assert_string_equal(report, "");
    assert_non_null(cfg);
    assert_string_equal(cfg->state_dir, "/tmp/state");
    assert_true(cfg->settle_seconds > 0.249 && cfg->settle_seconds < 0.251);
    assert_int_equal(cfg->batch_rows, 7);
    assert_int_equal(cfg->log_level, 3);
    assert_int_equal(cfg->retention_days, 30); /* default */
    assert_int_equal(cfg->npractices, 1);
    assert_string_equal(cfg->practices[0].timezone, "America/Chicago");
    assert_int_equal(cfg->practices[0].line, 11);
    assert_int_equal(cfg->nfolders, 1);
    assert_string_equal(cfg->folders[0].practice, "main");
    assert_int_equal(cfg->folders[0].line, 15);
    assert_string_equal(cfg->practices[0].phone_region, "US"); /* default */
    assert_string_equal(cfg->practices[0].date_order, "auto"); /* default */
    assert_int_equal(cfg->folders[0].snapshot_full, 0);
    assert_int_equal(cfg->folders[0].max_missing_percent, 5);
    assert_int_equal(ds_config_read_token(&cfg->practices[0], token, sizeof(token), NULL), 0);
    assert_string_equal(token, "dsk_test_token");
    ds_config_free(&cfg);
    assert_null(cfg);
    free(report);
}

/* A configuration saved by Notepad: a UTF-8 byte order mark first and
 * CRLF line ends. Read as the same configuration, with nothing of the \r
 * left in a value (a path, a name) and the same line numbers. */
static void test_bom_and_crlf(void **state)
{
    struct fixture *f = *state;
    struct ds_config *cfg = NULL;
    char tmpl[2048] = "\xEF\xBB\xBF";
    size_t n = 3;
    int rc;
    char *report;

    for (const char *p = good; *p != '\0' && n < sizeof(tmpl) - 3; p++) {
        if (*p == '\n') {
            tmpl[n++] = '\r';
        }
        tmpl[n++] = *p;
    }
    tmpl[n] = '\0';
    report = load(f, tmpl, &cfg, &rc);
    assert_string_equal(report, "");
    assert_int_equal(rc, 0);
    assert_non_null(cfg);
    assert_string_equal(cfg->state_dir, "/tmp/state");
    assert_int_equal(cfg->batch_rows, 7);
    assert_int_equal(cfg->log_level, 3);
    assert_string_equal(cfg->practices[0].name, "main");
    assert_string_equal(cfg->practices[0].timezone, "America/Chicago");
    assert_string_equal(cfg->practices[0].token_file, f->token);
    assert_int_equal(cfg->practices[0].line, 11);
    assert_string_equal(cfg->folders[0].name, "patients");
    assert_string_equal(cfg->folders[0].path, f->exports);
    assert_string_equal(cfg->folders[0].template_id, "generic-patients");
    assert_int_equal(cfg->folders[0].line, 15);
    ds_config_free(&cfg);
    free(report);

    /* A problem is still reported on its own line. */
    memcpy(tmpl + 3, "[agnet]\r\n", 9);
    report = load(f, tmpl, &cfg, &rc);
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(report, "dentsync.conf:1: unknown section [agnet]"));
    ds_config_free(&cfg);
    free(report);
}

static void test_sync_keys(void **state)
{
    struct fixture *f = *state;
    struct ds_config *cfg = NULL;
    int rc;
    char *report = load(f,
                        "[agent]\nstate_dir = /tmp/s\n"
                        "[cloud]\nurl = https://cloud.example.com\nmax_batch_kb = 64\n"
                        "proxy = http://proxy.example.com:3128\nheartbeat_seconds = 0\n"
                        "[practice main]\ntoken_file = @TOKEN@\n"
                        "[folder a]\npath = @EXPORTS@\npractice = main\nimport_type = patients\n"
                        "include = *.csv,*.txt\nexclude = *backup*\nafter = move\n"
                        "network = yes\n",
                        &cfg, &rc);

    assert_int_equal(rc, 0);
    assert_string_equal(report, "");
    assert_int_equal(cfg->max_batch_bytes, 64 * 1024);
    assert_string_equal(cfg->proxy, "http://proxy.example.com:3128");
    assert_true(cfg->heartbeat_seconds == 0.0);
    assert_string_equal(cfg->folders[0].include, "*.csv,*.txt");
    assert_string_equal(cfg->folders[0].exclude, "*backup*");
    assert_int_equal(cfg->folders[0].after, DS_AFTER_MOVE);
    assert_int_equal(cfg->folders[0].network, DS_NETWORK_YES);
    ds_config_free(&cfg);
    free(report);
    report = load(f,
                  "[agent]\nstate_dir = /tmp/s\n[cloud]\nurl = https://c.example.com\n"
                  "[practice main]\ntoken_file = @TOKEN@\n"
                  "[folder a]\npath = @EXPORTS@\npractice = main\nimport_type = patients\n"
                  "after = shred\nnetwork = maybe\n",
                  &cfg, &rc);
    assert_int_equal(rc, DS_ECONFIG);
    assert_non_null(strstr(report, ":11: after: expected leave, move or delete"));
    assert_non_null(strstr(report, ":12: network: expected auto, yes or no"));
    free(report);
}

/* Plain http only to this machine, judged by the URL's host. */
static void test_cloud_url_host(void **state)
{
    static const char *const ok_urls[] = {
        "https://cloud.example.com", "https://cloud.example.com:8443/base",
        "http://127.0.0.1:8080",     "http://127.1.2.3",
        "http://localhost:8080/",    "http://[::1]:8080",
    };
    static const char *const bad_urls[] = {
        "http://127.evil.example/",
        "http://localhost:80@evil.example/",
        "http://[::1]@evil.example/",
        "http://localhost.evil.example",
        "http://127.0.0.1.evil.example:80",
        "http://user@127.0.0.1:80",
        "http://128.0.0.1",
        "http://127.0.0.1:port",
        "ftp://127.0.0.1",
        "https:///nohost",
    };
    struct fixture *f = *state;
    struct ds_config *cfg = NULL;
    char text[512];
    int rc;

    for (size_t i = 0;
         i < sizeof(ok_urls) / sizeof(ok_urls[0]) + sizeof(bad_urls) / sizeof(bad_urls[0]); i++) {
        int want_ok = i < sizeof(ok_urls) / sizeof(ok_urls[0]);
        const char *url = want_ok ? ok_urls[i] : bad_urls[i - sizeof(ok_urls) / sizeof(ok_urls[0])];
        char *report;

        snprintf(text, sizeof(text),
                 "[agent]\nstate_dir = /tmp/s\n[cloud]\nurl = %s\n[practice main]\n"
                 "token_file = @TOKEN@\n[folder a]\npath = @EXPORTS@\npractice = main\n"
                 "import_type = patients\n",
                 url);
        report = load(f, text, &cfg, &rc);
        if (want_ok) {
            assert_int_equal(rc, 0);
        }
        else {
            assert_int_equal(rc, DS_ECONFIG);
            assert_non_null(strstr(report, "url must be https://"));
        }
        ds_config_free(&cfg);
        free(report);
    }
}

static void test_every_error_has_its_line(void **state)
{
    struct fixture *f = *state;
    struct ds_config *cfg = NULL;
    int rc;
    char *report = load(f,
                        "[agent]\n"                        /* 1 */
                        "state_dir = /tmp/state\n"         /* 2 */
                        "settle_seconds = soon\n"          /* 3 */
                        "colour = blue\n"                  /* 4 */
                        "this line is not ini\n"           /* 5 */
                        "[cloud]\n"                        /* 6 */
                        "url = http://cloud.example.com\n" /* 7 */
                        "[practice main]\n"                /* 8 */
                        "token_file = @TOKEN@\n"           /* 9 */
                        "[folder patients]\n"              /* 10 */
                        "path = @EXPORTS@\n"               /* 11 */
                        "practice = other\n"               /* 12 */
                        "import_type = invoices\n"         /* 13 */
                        "[mystery]\n"                      /* 14 */
                        "x = 1\n",                         /* 15 */
                        &cfg, &rc);
    char expect[1024];

    assert_int_equal(rc, DS_ECONFIG);
    assert_null(cfg);
    snprintf(expect, sizeof(expect), "%s:3: settle_seconds: expected a number", f->conf);
    assert_non_null(strstr(report, expect));
    snprintf(expect, sizeof(expect), "%s:4: unknown key 'colour' in [agent]", f->conf);
    assert_non_null(strstr(report, expect));
    /* Far from every key: no suggestion. */
    assert_null(strstr(report, "'colour' in [agent]; did you mean"));
    snprintf(expect, sizeof(expect), "%s:5: expected 'key = value'", f->conf);
    assert_non_null(strstr(report, expect));
    snprintf(expect, sizeof(expect), "%s:7: [cloud] url must be https://", f->conf);
    assert_non_null(strstr(report, expect));
    snprintf(expect, sizeof(expect), "%s:10: [folder patients]: no [practice other] section",
             f->conf);
    assert_non_null(strstr(report, expect));
    snprintf(expect, sizeof(expect), "%s:10: [folder patients]: import_type must be", f->conf);
    assert_non_null(strstr(report, expect));
    snprintf(expect, sizeof(expect), "%s:14: unknown section [mystery]", f->conf);
    assert_non_null(strstr(report, expect));
    free(report);
}

static void test_practice_and_snapshot_keys(void **state)
{
    struct fixture *f = *state;
    struct ds_config *cfg = NULL;
    int rc;
    char expect[1024];
    char *report = load(f,
                        "[agent]\nstate_dir = /tmp/state\n[cloud]\nurl = http://127.0.0.1:1\n"
                        "[practice main]\ntoken_file = @TOKEN@\n" /* 5, 6 */
                        "phone_region = gb\ndate_order = dmy\n"   /* 7, 8 */
                        "[folder p]\npath = @EXPORTS@\npractice = main\n"
                        "import_type = patients\nsnapshot = full\n" /* 12, 13 */
                        "max_missing_percent = 12\n",               /* 14 */
                        &cfg, &rc);

    assert_int_equal(rc, 0);
    assert_string_equal(cfg->practices[0].phone_region, "GB");
    assert_string_equal(cfg->practices[0].date_order, "DMY");
    assert_int_equal(cfg->folders[0].snapshot_full, 1);
    assert_int_equal(cfg->folders[0].max_missing_percent, 12);
    ds_config_free(&cfg);
    free(report);
    report = load(f,
                  "[agent]\nstate_dir = /tmp/state\n[cloud]\nurl = http://127.0.0.1:1\n"
                  "[practice main]\ntoken_file = @TOKEN@\n"
                  "phone_region = USA\ndate_order = DDMM\n" /* 7, 8 */
                  "[folder p]\npath = @EXPORTS@\npractice = main\n"
                  "import_type = patients\nsnapshot = some\n" /* 13 */
                  "max_missing_percent = 101\n",              /* 14 */
                  &cfg, &rc);
    assert_int_equal(rc, DS_ECONFIG);
    snprintf(expect, sizeof(expect), "%s:7: phone_region", f->conf);
    assert_non_null(strstr(report, expect));
    snprintf(expect, sizeof(expect), "%s:8: date_order", f->conf);
    assert_non_null(strstr(report, expect));
    snprintf(expect, sizeof(expect), "%s:13: snapshot", f->conf);
    assert_non_null(strstr(report, expect));
    snprintf(expect, sizeof(expect), "%s:14: max_missing_percent", f->conf);
    assert_non_null(strstr(report, expect));
    free(report);
}

/* sheet: a name or "*"; "*" detects a template per sheet, so a pinned
 * template with it is refused. */
static void test_sheet_key(void **state)
{
    struct fixture *f = *state;
    struct ds_config *cfg = NULL;
    int rc;
    char expect[1024];
    char *report = load(f,
                        "[agent]\nstate_dir = /tmp/state\n[cloud]\nurl = http://127.0.0.1:1\n"
                        "[practice main]\ntoken_file = @TOKEN@\n"
                        "[folder p]\npath = @EXPORTS@\npractice = main\n"
                        "import_type = patients\nsheet = Patient List\n"
                        "[folder q]\npath = @EXPORTS@\npractice = main\n"
                        "import_type = patients\nsheet = *\ntemplate = auto\n",
                        &cfg, &rc);

    assert_int_equal(rc, 0);
    assert_string_equal(cfg->folders[0].sheet, "Patient List");
    assert_string_equal(cfg->folders[1].sheet, "*");
    ds_config_free(&cfg);
    free(report);
    report = load(f,
                  "[agent]\nstate_dir = /tmp/state\n[cloud]\nurl = http://127.0.0.1:1\n"
                  "[practice main]\ntoken_file = @TOKEN@\n"
                  "[folder p]\npath = @EXPORTS@\npractice = main\n" /* 7 */
                  "import_type = patients\nsheet = *\ntemplate = generic-patients\n",
                  &cfg, &rc);
    assert_int_equal(rc, DS_ECONFIG);
    snprintf(expect, sizeof(expect), "%s:7: [folder p]: sheet = * detects a template", f->conf);
    if (strstr(report, expect) == NULL) {
        fail_msg("%s", report);
    }
    free(report);
}

/* location: a folder's fixed location, 1-100 bytes of text; none by
 * default. */
static void test_location_key(void **state)
{
    struct fixture *f = *state;
    struct ds_config *cfg = NULL;
    int rc;
    char expect[1024];
    char conf[1024];
    char *report = load(f,
                        "[agent]\nstate_dir = /tmp/state\n[cloud]\nurl = http://127.0.0.1:1\n"
                        "[practice main]\ntoken_file = @TOKEN@\n"
                        "[folder p]\npath = @EXPORTS@\npractice = main\n"
                        "import_type = appointments\nlocation = Main Street\n"
                        "[folder q]\npath = @EXPORTS@\npractice = main\n"
                        "import_type = appointments\n",
                        &cfg, &rc);

    assert_int_equal(rc, 0);
    assert_string_equal(cfg->folders[0].location, "Main Street");
    assert_null(cfg->folders[1].location);
    ds_config_free(&cfg);
    free(report);
    snprintf(conf, sizeof(conf),
             "[agent]\nstate_dir = /tmp/state\n[cloud]\nurl = http://127.0.0.1:1\n"
             "[practice main]\ntoken_file = @TOKEN@\n"
             "[folder p]\npath = @EXPORTS@\npractice = main\n" /* 7 */
             "import_type = appointments\nlocation = %0101d\n",
             0);
    report = load(f, conf, &cfg, &rc);
    assert_int_equal(rc, DS_ECONFIG);
    snprintf(expect, sizeof(expect), "%s:11: location: expected the name of a location", f->conf);
    if (strstr(report, expect) == NULL) {
        fail_msg("%s", report);
    }
    free(report);
    /* 100 bytes are the rule book's most. */
    snprintf(conf, sizeof(conf),
             "[agent]\nstate_dir = /tmp/state\n[cloud]\nurl = http://127.0.0.1:1\n"
             "[practice main]\ntoken_file = @TOKEN@\n"
             "[folder p]\npath = @EXPORTS@\npractice = main\n"
             "import_type = appointments\nlocation = %0100d\n",
             0);
    report = load(f, conf, &cfg, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(strlen(cfg->folders[0].location), 100);
    ds_config_free(&cfg);
    free(report);
}

static void test_did_you_mean(void **state)
{
    struct fixture *f = *state;
    struct ds_config *cfg = NULL;
    int rc;
    char *report = load(f,
                        "[agent]\nstate_dir = /tmp/s\nsettle_second = 1\n"
                        "[cloud]\nurl = https://c.example.com\nbatchrows = 5\n"
                        "[practice main]\ntoken_file = @TOKEN@\ntimezon = UTC\n"
                        "[folder a]\npath = @EXPORTS@\npractice = main\nimport_type = patients\n"
                        "templates = generic-patients\n",
                        &cfg, &rc);

    assert_int_equal(rc, DS_ECONFIG);
    assert_non_null(strstr(report, ":3: unknown key 'settle_second' in [agent]; did you mean "
                                   "'settle_seconds'?"));
    assert_non_null(
        strstr(report, ":6: unknown key 'batchrows' in [cloud]; did you mean 'batch_rows'?"));
    assert_non_null(strstr(report, ":9: unknown key 'timezon' in [practice main]; did you mean "
                                   "'timezone'?"));
    assert_non_null(strstr(report, ":14: unknown key 'templates' in [folder a]; did you mean "
                                   "'template'?"));
    free(report);
}

static void test_missing_required(void **state)
{
    struct fixture *f = *state;
    struct ds_config *cfg = NULL;
    int rc;
    char *report = load(f, "[agent]\nlog_level = info\n", &cfg, &rc);

    assert_int_equal(rc, DS_ECONFIG);
    assert_non_null(strstr(report, "state_dir is required"));
    assert_non_null(strstr(report, "[cloud] url is required"));
    assert_non_null(strstr(report, "no [folder NAME] section"));
    free(report);
}

static void test_token_file_mode(void **state)
{
    struct fixture *f = *state;
    struct ds_config *cfg = NULL;
    int rc;
    char *report;
    char expect[1024];

    write_token(f, 0);
    report = load(f, good, &cfg, &rc);
    assert_int_equal(rc, DS_ECONFIG);
    snprintf(expect, sizeof(expect), "%s:11: [practice main]: token_file %s is readable by others",
             f->conf, f->token);
    assert_non_null(strstr(report, expect));
    /* The token itself never appears in a report. */
    assert_null(strstr(report, "dsk_test_token"));
    free(report);
}

/* [web]: the defaults, each key, and the checks on listen and secret_file
 * (the token file stands in for a 0600 secret file). */
static void test_web_keys(void **state)
{
    struct fixture *f = *state;
    struct ds_config *cfg = NULL;
    char text[2048];
    char *report;
    int rc;

    report = load(f, good, &cfg, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(cfg->web_enabled, 1);
    assert_string_equal(cfg->web_listen, "127.0.0.1");
    assert_int_equal(cfg->web_port, 8765);
    assert_null(cfg->web_secret_file);
    assert_int_equal(cfg->web_max_upload_kb, 20480);
    ds_config_free(&cfg);
    free(report);

    snprintf(text, sizeof(text),
             "%s[web]\nenabled = no\nlisten = ::1\nport = 9000\nsecret_file = @TOKEN@\n"
             "max_upload_kb = 64\n",
             good);
    report = load(f, text, &cfg, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(cfg->web_enabled, 0);
    assert_string_equal(cfg->web_listen, "::1");
    assert_int_equal(cfg->web_port, 9000);
    assert_string_equal(cfg->web_secret_file, f->token);
    assert_int_equal(cfg->web_max_upload_kb, 64);
    ds_config_free(&cfg);
    free(report);

    /* Bad values, a typo, a name for an address, and then a non-loopback
     * address without a secret. */
    snprintf(text, sizeof(text),
             "%s[web]\nenabled = maybe\nport = 70000\nmax_upload_k = 5\nlisten = localhost\n",
             good);
    report = load(f, text, &cfg, &rc);
    assert_int_equal(rc, DS_ECONFIG);
    assert_non_null(strstr(report, "enabled: expected yes or no"));
    assert_non_null(strstr(report, "port: expected a whole number from 1 to 65535"));
    assert_non_null(strstr(report, "unknown key 'max_upload_k' in [web]; did you mean "
                                   "'max_upload_kb'?"));
    assert_non_null(strstr(report, "[web] listen must be an IP address"));
    free(report);
    snprintf(text, sizeof(text), "%s[web]\nlisten = 0.0.0.0\n", good);
    report = load(f, text, &cfg, &rc);
    assert_int_equal(rc, DS_ECONFIG);
    assert_non_null(strstr(report, "[web] listen 0.0.0.0 is not loopback: the status page has "
                                   "no TLS"));
    free(report);
    /* A secret file others may read; and a secret does not make a
     * non-loopback listen safe (plain HTTP). */
    write_token(f, 0);
    snprintf(text, sizeof(text),
             "%s[web]\nlisten = 0.0.0.0\nsecret_file = @EXPORTS@/../main.token\n", good);
    report = load(f, text, &cfg, &rc);
    assert_int_equal(rc, DS_ECONFIG);
    assert_non_null(strstr(report, "secret_file"));
    assert_non_null(strstr(report, "is readable by others (chmod 600 it)"));
    assert_non_null(strstr(report, "[web] listen 0.0.0.0 is not loopback"));
    assert_null(strstr(report, "dsk_test_token"));
    free(report);
}

static void test_unreadable_file(void **state)
{
    struct fixture *f = *state;
    struct ds_config *cfg = NULL;
    char path[512];

    snprintf(path, sizeof(path), "%s/nope.conf", f->dir);
    assert_int_equal(ds_config_load(path, &cfg, NULL), DS_EIO);
    assert_null(cfg);
}

static void test_default_path(void **state)
{
    (void)state;
    ds_test_setenv(DS_CONFIG_ENV, NULL);
    assert_string_equal(ds_config_default_path(), ds_os_default_path(DS_OS_CONFIG_FILE));
    assert_non_null(strstr(ds_config_default_path(), "dentsync.conf"));
    ds_test_setenv(DS_CONFIG_ENV, "/tmp/x.conf");
    assert_string_equal(ds_config_default_path(), "/tmp/x.conf");
    ds_test_setenv(DS_CONFIG_ENV, NULL);
}

/* What [cloud] holds when only url is given: the batch size the agent
 * sends (2,000 rows since the cloud's fixed cost per batch was measured,
 * docs/performance.md), and the shipped configuration says the same. */
static void test_cloud_defaults(void **state)
{
    struct fixture *f = *state;
    struct ds_config *cfg = NULL;
    const char *src = getenv("DS_TEST_SRCDIR");
    char tmpl[2048];
    char path[1024];
    char line[256];
    const char *cut = strstr(good, "batch_rows = 7\n");
    char *report;
    FILE *shipped;
    int in_cloud = 0;
    int shipped_rows = -1;
    int rc;

    assert_non_null(cut);
    snprintf(tmpl, sizeof(tmpl), "%.*s%s", (int)(cut - good), good,
             cut + strlen("batch_rows = 7\n"));
    report = load(f, tmpl, &cfg, &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(report, "");
    assert_int_equal(cfg->batch_rows, 2000);
    assert_int_equal(cfg->max_in_flight, 2);
    assert_int_equal(cfg->max_batch_bytes, 8L * 1024 * 1024);

    snprintf(path, sizeof(path), "%s/config/dentsync.conf", src != NULL ? src : ".");
    shipped = fopen(path, "r");
    assert_non_null(shipped);
    while (fgets(line, sizeof(line), shipped) != NULL) {
        if (line[0] == '[') {
            in_cloud = strncmp(line, "[cloud]", 7) == 0;
        }
        else if (in_cloud) {
            (void)sscanf(line, "batch_rows = %d", &shipped_rows);
        }
    }
    fclose(shipped);
    assert_int_equal(shipped_rows, cfg->batch_rows);
    ds_config_free(&cfg);
    free(report);
}

static void test_shipped_default_parses(void **state)
{
    const char *src = getenv("DS_TEST_SRCDIR");
    char path[1024];
    char *report;
    struct ds_config *cfg = NULL;
    FILE *errs = ds_test_capture_open();

    (void)state;
    assert_non_null(errs);
    snprintf(path, sizeof(path), "%s/config/dentsync.conf", src != NULL ? src : ".");
    assert_int_equal(ds_config_load(path, &cfg, errs), DS_ECONFIG);
    report = ds_test_capture_text(errs);
    assert_non_null(report);
    /* On a build machine only the environment-specific checks may fail:
     * the token file and the export folder do not exist here. */
    for (char *line = report; *line != '\0';) {
        char *end = strchr(line, '\n');

        assert_non_null(end);
        *end = '\0';
        assert_true(strstr(line, "token_file") != NULL || strstr(line, "is not a directory"));
        line = end + 1;
    }
    free(report);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_good_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bom_and_crlf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_error_has_its_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cloud_url_host, setup, teardown),
        cmocka_unit_test_setup_teardown(test_practice_and_snapshot_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sheet_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_location_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_required, setup, teardown),
        cmocka_unit_test_setup_teardown(test_did_you_mean, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_file_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_web_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unreadable_file, setup, teardown),
        cmocka_unit_test(test_default_path),
        cmocka_unit_test_setup_teardown(test_cloud_defaults, setup, teardown),
        cmocka_unit_test(test_shipped_default_parses),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
