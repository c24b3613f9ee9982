/*
 * cmd_doctor.c — `dentsync doctor`: checks everything a working agent
 * needs, one line each, "OK" or "FAIL" with the fix:
 *
 *   the configuration; each folder readable (and writable where its
 *   after-delivery action moves or deletes files); the state directory
 *   writable with safe permissions, and the queue's mode; free disk space;
 *   each token file's mode; then against the cloud: the host name resolves,
 *   GET /v1/health answers over a verified connection, each practice's
 *   token is accepted by an authenticated call, and the clocks agree (the
 *   answer's Date header).
 *
 * Exit code 0 when every check passed, 1 when one failed, 3 when the
 * configuration itself is invalid (its problems are listed, nothing else
 * can be checked). Tokens are sent to the cloud, never printed.
 */
#include "agent/cli/commands.h"

#include "agent/service/control.h"
#include "agent/upload/http.h"
#include "agent/upload/probe.h"
#include "config/config.h"
#include "agent/os/os_cc.h"
#include "agent/os/os_fs.h"
#include "agent/os/os_service.h"
#include "agent/os/os_text.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* Below this, the queue may run out of room for a large export. */
#define DOCTOR_MIN_FREE_MB 256
/* Clocks further apart than this make the cloud's times and TLS wrong. */
#define DOCTOR_MAX_SKEW_SECONDS 60.0
/* A job id no agent ever makes: an authenticated GET of it answers 404
 * when the token is accepted, 401 when it is not. */
#define DOCTOR_PROBE_JOB "/v1/jobs/00000000-0000-4000-8000-000000000000"

struct doctor {
    int failed; /* checks that failed */
    int passed; /* checks that passed */
};

static void ok(struct doctor *d, const char *fmt, ...) DS_PRINTF(2, 3);
static void fail(struct doctor *d, const char *fmt, ...) DS_PRINTF(2, 3);
static void warn(const char *fmt, ...) DS_PRINTF(1, 2);

/* A finding that is no failure yet: the check passes, the line says why
 * it may not stay so. */
static void warn(const char *fmt, ...)
{
    va_list ap;

    printf("WARN  ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

static void ok(struct doctor *d, const char *fmt, ...)
{
    va_list ap;

    d->passed++;
    printf("OK    ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

static void fail(struct doctor *d, const char *fmt, ...)
{
    va_list ap;

    d->failed++;
    printf("FAIL  ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

static void check_folders(struct doctor *d, const struct ds_config *cfg)
{
    for (size_t i = 0; i < cfg->nfolders; i++) {
        const struct ds_folder_conf *f = &cfg->folders[i];
        DIR *dir = opendir(f->path);
        long files = 0;
        struct dirent *e;

        if (dir == NULL) {
            fail(d, "folder %s: %s cannot be read by this user (%s) - fix: %s", f->name, f->path,
                 strerror(errno), os_service_fix(OS_FIX_FOLDER_READ));
            continue;
        }
        for (e = readdir(dir); e != NULL; e = readdir(dir)) {
            files += e->d_name[0] != '.';
        }
        closedir(dir);
        if (ds_os_path_kind(f->path) == DS_OS_PATH_MAPPED) {
            warn("folder %s: %s is a drive letter mapped to a network share, which the "
                 "service's account does not see - fix: name the share by its UNC path "
                 "(\\\\server\\share\\folder)",
                 f->name, f->path);
        }
        if (access(f->path, R_OK | X_OK) != 0) {
            fail(d, "folder %s: %s cannot be read by this user (%s) - fix: %s", f->name, f->path,
                 strerror(errno), os_service_fix(OS_FIX_FOLDER_READ));
        }
        else if (f->after != DS_AFTER_LEAVE && access(f->path, W_OK) != 0) {
            fail(d,
                 "folder %s: %s is read-only but after = %s - fix: give the service user write "
                 "access, or set after = leave",
                 f->name, f->path, f->after == DS_AFTER_MOVE ? "move" : "delete");
        }
        else {
            ok(d, "folder %s: %s readable (%ld entr%s)", f->name, f->path, files,
               files == 1 ? "y" : "ies");
        }
    }
}

/* ", mode 0750" where files have modes (Linux), nothing where they have
 * access lists (Windows: what ds_os_path_private judged). */
static void mode_text(unsigned mode, char *buf, size_t size)
{
    if (mode != 0) {
        snprintf(buf, size, ", mode %04o", mode);
    }
    else {
        buf[0] = '\0';
    }
}

static void check_state(struct doctor *d, const struct ds_config *cfg)
{
    unsigned long long free_bytes;
    struct stat sb;
    char queue[4096];
    char how[32] = "";
    double free_mb;
    unsigned mode = 0;
    int priv;

    if (stat(cfg->state_dir, &sb) != 0) {
        fail(d, "state_dir %s: %s - fix: %s", cfg->state_dir, strerror(errno),
             os_service_fix(OS_FIX_STATE_CREATE));
        return;
    }
    if (!S_ISDIR(sb.st_mode)) {
        fail(d, "state_dir %s is not a directory - fix: point state_dir at a directory",
             cfg->state_dir);
        return;
    }
    priv = ds_os_path_private(cfg->state_dir, &mode);
    mode_text(mode, how, sizeof(how));
    if (access(cfg->state_dir, W_OK | X_OK) != 0) {
        fail(d, "state_dir %s is not writable by this user - fix: %s", cfg->state_dir,
             os_service_fix(OS_FIX_STATE_WRITE));
    }
    else if (priv < 0) {
        fail(d,
             "state_dir %s: its permissions cannot be read (%s) - fix: run doctor as the "
             "service's account or an administrator",
             cfg->state_dir, strerror(errno));
    }
    else if (priv != 1) {
        fail(d, "state_dir %s%s: others may read the queue - fix: %s", cfg->state_dir, how,
             os_service_fix(OS_FIX_STATE_PRIVATE));
    }
    else {
        ok(d, "state_dir %s: writable%s", cfg->state_dir, how);
    }
    if (ds_config_queue_path(cfg, queue, sizeof(queue)) == 0 && stat(queue, &sb) == 0) {
        priv = ds_os_path_private(queue, &mode);
        mode_text(mode, how, sizeof(how));
        if (priv < 0) {
            fail(d,
                 "queue %s: its permissions cannot be read (%s) - fix: run doctor as the "
                 "service's account or an administrator",
                 queue, strerror(errno));
        }
        else if (priv != 1) {
            fail(d, "queue %s%s: it holds patient data and others may read it - fix: %s", queue,
                 how, os_service_fix(OS_FIX_QUEUE_PRIVATE));
        }
        else {
            ok(d, "queue %s: private%s", queue, how);
        }
    }
    free_bytes = ds_os_disk_free(cfg->state_dir);
    if (free_bytes == 0) {
        fail(d, "disk: cannot read the free space of %s", cfg->state_dir);
        return;
    }
    free_mb = (double)free_bytes / (1024.0 * 1024.0);
    if (free_mb < DOCTOR_MIN_FREE_MB) {
        fail(d, "disk: only %.0f MiB free for %s - fix: free space (at least %d MiB)", free_mb,
             cfg->state_dir, DOCTOR_MIN_FREE_MB);
    }
    else {
        ok(d, "disk: %.1f GiB free for %s", free_mb / 1024.0, cfg->state_dir);
    }
}

static void check_token_files(struct doctor *d, const struct ds_config *cfg)
{
    for (size_t i = 0; i < cfg->npractices; i++) {
        const struct ds_practice_conf *p = &cfg->practices[i];
        struct stat sb;

        if (stat(p->token_file, &sb) != 0) {
            fail(d, "practice %s: token_file %s: %s - fix: write the token there (%s)", p->name,
                 p->token_file, strerror(errno), os_service_fix(OS_FIX_TOKEN_PRIVATE));
        }
        else if (!ds_config_file_private(p->token_file, &sb)) {
            fail(d, "practice %s: token_file %s is readable by others - fix: %s", p->name,
                 p->token_file, os_service_fix(OS_FIX_TOKEN_PRIVATE));
        }
        else if (access(p->token_file, R_OK) != 0) {
            fail(d, "practice %s: token_file %s is not readable by this user - fix: %s", p->name,
                 p->token_file, os_service_fix(OS_FIX_TOKEN_READ));
        }
        else {
            ok(d, "practice %s: token_file %s: readable by this user only", p->name, p->token_file);
        }
    }
}

/* The host of an http(s) URL into host[size]; 0 or DS_EINVAL. */
static int url_host(const char *url, char *host, size_t size)
{
    const char *p = strstr(url, "://");
    size_t n;

    if (p == NULL) {
        return DS_EINVAL;
    }
    p += 3;
    if (*p == '[') {
        p++;
        n = strcspn(p, "]");
    }
    else {
        n = strcspn(p, ":/?#");
    }
    if (n == 0 || n >= size) {
        return DS_EINVAL;
    }
    memcpy(host, p, n);
    host[n] = '\0';
    return 0;
}

/* Resolves host as a stream socket's peer: 0, or libuv's error. Through
 * libuv (blocking, on a loop of its own), which readies the platform's
 * sockets first where that is needed (Windows). */
static int resolve(const char *host)
{
    uv_loop_t loop;
    uv_getaddrinfo_t req;
    struct addrinfo hints;
    int rc = uv_loop_init(&loop);

    if (rc != 0) {
        return rc;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    rc = uv_getaddrinfo(&loop, &req, NULL, host, NULL, &hints);
    if (rc == 0) {
        uv_freeaddrinfo(req.addrinfo);
    }
    (void)uv_run(&loop, UV_RUN_DEFAULT);
    (void)uv_loop_close(&loop);
    return rc;
}

/* DNS, connection and TLS, the clock. 0 when the cloud answered. */
static int check_cloud(struct doctor *d, const struct ds_config *cfg)
{
    struct ds_probe_result r;
    char host[256];
    double skew;
    int gai;

    if (url_host(cfg->cloud_url, host, sizeof(host)) != 0) {
        fail(d, "cloud: cannot read the host of url %s - fix: [cloud] url", cfg->cloud_url);
        return DS_EINVAL;
    }
    if (cfg->proxy == NULL) {
        gai = resolve(host);
        if (gai != 0) {
            fail(d, "cloud DNS: %s does not resolve (%s) - fix: %s", host, uv_strerror(gai),
                 os_service_fix(OS_FIX_DNS));
            return DS_ENET;
        }
        ok(d, "cloud DNS: %s resolves", host);
    }
    if (ds_probe_get(cfg, "/v1/health", NULL, &r) != 0) {
        fail(d, "cloud: cannot make a request (out of memory?)");
        return DS_ENOMEM;
    }
    switch (r.fail) {
    case DS_PROBE_OK:
        break;
    case DS_PROBE_TLS:
        fail(d,
             "cloud TLS: %s - fix: the server's certificate is not trusted: install the CA "
             "(ca_file) or correct the url's host name",
             r.error);
        return DS_ENET;
    case DS_PROBE_DNS:
        fail(d, "cloud DNS: %s - fix: check the url, the proxy and the network", r.error);
        return DS_ENET;
    case DS_PROBE_CONNECT:
        fail(d,
             "cloud connection: %s - fix: is the url right? a firewall may block outgoing "
             "HTTPS (port 443)",
             r.error);
        return DS_ENET;
    case DS_PROBE_TIMEOUT:
        fail(d, "cloud connection: no answer in time (%s) - fix: check the network and proxy",
             r.error);
        return DS_ENET;
    default:
        fail(d, "cloud: %s - fix: check [cloud] url and proxy", r.error);
        return DS_ENET;
    }
    if (r.status != 200) {
        fail(d,
             "cloud: GET /v1/health answered %ld - fix: the url may not be the dentsync API, "
             "or the service is down",
             r.status);
        return DS_ENET;
    }
    ok(d, "cloud: %s answers GET /v1/health (%.2f s)", cfg->cloud_url, r.seconds);
    if (r.server_date <= 0) {
        ok(d, "clock: the cloud sent no Date header; not compared");
        return 0;
    }
    skew = r.local_date - r.server_date;
    if (skew > DOCTOR_MAX_SKEW_SECONDS || skew < -DOCTOR_MAX_SKEW_SECONDS) {
        fail(d,
             "clock: this machine is %.0f s %s the cloud's - fix: turn on time "
             "synchronisation (timedatectl set-ntp true)",
             skew < 0 ? -skew : skew, skew < 0 ? "behind" : "ahead of");
    }
    else {
        ok(d, "clock: within %.0f s of the cloud's", skew < 0 ? -skew : skew);
    }
    return 0;
}

static void check_tokens(struct doctor *d, const struct ds_config *cfg)
{
    for (size_t i = 0; i < cfg->npractices; i++) {
        const struct ds_practice_conf *p = &cfg->practices[i];
        struct ds_probe_result r;
        struct ds_error err;
        char token[1024];
        char msg[600];
        int rc;

        ds_error_clear(&err);
        rc = ds_config_read_token(p, token, sizeof(token), &err);
        if (rc != 0) {
            fail(d, "practice %s: cannot read the token: %s", p->name,
                 ds_error_format(&err, msg, sizeof(msg)));
            continue;
        }
        rc = ds_probe_get(cfg, DOCTOR_PROBE_JOB, token, &r);
        memset(token, 0, sizeof(token));
        if (rc != 0 || r.fail != DS_PROBE_OK) {
            fail(d, "practice %s: the token could not be checked (%s)", p->name,
                 rc != 0 ? ds_strerror(rc) : r.error);
        }
        else if (r.status == 401 || r.status == 403) {
            fail(d,
                 "practice %s: the cloud refused the token (%ld%s%s) - fix: create a new one "
                 "(dentsync-cloud token create) and write it to %s",
                 p->name, r.status, r.error_code[0] != '\0' ? " " : "", r.error_code,
                 p->token_file);
        }
        else if (r.status >= 500 || r.status == 0) {
            fail(d, "practice %s: the cloud failed to check the token (%ld %s)", p->name, r.status,
                 r.error_code);
        }
        else {
            ok(d, "practice %s: the cloud accepts the token", p->name);
        }
    }
}

int ds_cmd_doctor(const char *config_path, int argc, char **argv)
{
    struct ds_config *cfg = NULL;
    struct doctor d;
    char *problems = NULL;
    struct ds_os_memstream *ms = NULL;
    FILE *mem = NULL;
    int rc;

    (void)argv;
    if (argc > 1) {
        fprintf(stderr, "usage: dentsync doctor [-c FILE]\n");
        return DS_EXIT_USAGE;
    }
    memset(&d, 0, sizeof(d));
    mem = ds_os_memstream_open(&ms);
    rc = ds_config_load(config_path, &cfg, mem != NULL ? mem : stdout);
    problems = ds_os_memstream_finish(ms);
    if (rc != 0) {
        /* Each problem says its fix ("chmod 600 it", "did you mean"). */
        for (char *line = problems; line != NULL && *line != '\0';) {
            char *nl = strchr(line, '\n');

            if (nl != NULL) {
                *nl = '\0';
            }
            fail(&d, "config %s", line);
            line = nl != NULL ? nl + 1 : NULL;
        }
        if (d.failed == 0) {
            fail(&d, "config %s cannot be read", config_path);
        }
        printf("\nthe configuration must be fixed first (then `dentsync doctor` again)\n");
        free(problems);
        return DS_EXIT_CONFIG;
    }
    free(problems);
    ok(&d, "config %s: %zu practice(s), %zu folder(s)", config_path, cfg->npractices,
       cfg->nfolders);
    check_folders(&d, cfg);
    check_state(&d, cfg);
    check_token_files(&d, cfg);
    if (ds_http_global_init() != 0) {
        fail(&d, "cloud: cannot initialise libcurl");
    }
    else {
        if (check_cloud(&d, cfg) == 0) {
            check_tokens(&d, cfg);
        }
        ds_http_global_cleanup();
    }
    rc = ds_control_ask(cfg->state_dir, "status", 3000, NULL);
    if (rc == 0) {
        puts("INFO  agent: running");
    }
    else {
        printf("WARN  agent: not running (start it: %s)\n", os_service_fix(OS_FIX_START));
    }
    printf("\n%d check(s) passed, %d failed\n", d.passed, d.failed);
    ds_config_free(&cfg);
    return d.failed == 0 ? DS_EXIT_OK : DS_EXIT_RUNTIME;
}
