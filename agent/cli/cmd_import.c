/*
 * cmd_import.c — `dentsync import FILE [--type T] [--folder NAME]`: one
 * file, staged and uploaded now, in the foreground, with its progress.
 *
 * The file takes the settings (practice, import type, template) of a
 * configured folder: the one --folder names, else the folder it lies in,
 * else the one folder of type T (or the only folder). Then:
 *
 *   - when an agent runs (its control socket answers), the file is handed
 *     to it ("import" on the socket: it goes first in line) and this
 *     process follows it in the queue, read-only: one writer, one truth;
 *   - otherwise this process does the agent's work itself, started as
 *     `dentsync run` starts (agent/service/runtime.h: the agent's lock,
 *     the queue's damage check — a damaged queue is refused, untouched —
 *     recovery, the disposal sweep), ingest on a worker thread, and the
 *     uploader on the runtime's loop until the file's job completes (it
 *     sends whatever else waits in the queue too, as the agent would).
 *
 * Progress comes from the queue in both cases: rows staged so far, then
 * rows answered by the cloud out of the job's rows, with a rate and an
 * ETA. On a terminal one line redrawn in place with a bar; otherwise plain
 * lines, at most one a second. Counts, codes and names only.
 *
 * A file outside its folder is the person's own: it is never moved,
 * deleted or quarantined (dispose.c), whatever the folder's `after`.
 */
#include "agent/cli/commands.h"
#include "agent/cli/out.h"

#include "agent/core/alloc.h"
#include "agent/service/control.h"
#include "agent/core/clock.h"
#include "agent/core/log.h"
#include "agent/service/dispose.h"
#include "agent/service/ingest.h"
#include "agent/service/runtime.h"
#include "agent/os/os_fs.h"
#include "agent/upload/upload.h"
#include "config/config.h"
#include "state/store_admin.h"
#include "state/store_status.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#define TICK_MS 250
#define IDLE_TICKS 8 /* the agent idle this many ticks without the file: it was not taken */

struct import {
    const struct ds_config *cfg;         /* borrow */
    const struct ds_folder_conf *folder; /* borrow: the settings the file takes */
    char path[PATH_MAX];                 /* the file, absolute */
    int64_t after_id;                    /* files above this id are new */
    int tty;                             /* stdout is a terminal */
    int finished;                        /* the outcome is known: exit code in rc */
    int rc;                              /* DS_EXIT_* */
    int idle_ticks;                      /* ticks with the agent idle and no file row */
    int phase;                           /* 0 waiting, 1 staging, 2 uploading */
    double phase_at;                     /* when the phase began */
    long phase_base;                     /* rows done when it began */
    double printed_at;                   /* last plain line */
    long printed_done;                   /* its count */

    /* without an agent: this process does the work, on the runtime */
    struct ds_runtime rt; /* the lock, the queue (read-write), the loop, the uploader */
    uv_timer_t tick;
    uv_signal_t sigint, sigterm;
    uv_work_t work;
    struct ds_ingest_task task; /* the ingest of the file */
    int ingest_running;
};

static void usage(FILE *out)
{
    fprintf(out, "usage: dentsync import [-c FILE] FILE [--type TYPE] [--folder NAME]\n\n"
                 "Stages and uploads one export file now, showing its progress; through the\n"
                 "running agent when there is one, else by itself under the agent's lock.\n"
                 "The file takes the settings of the folder --folder names, else of the\n"
                 "folder it lies in, else of the one folder of import type TYPE.\n"
                 "Exit 0 once its job completed (rows that failed are counted: dentsync job\n"
                 "ID), 1 when it was held, refused or could not be sent, 2 usage, 3 config.\n");
}

/* ---- which folder's settings ------------------------------------------------ */

static int same_dir(const char *a, const char *b)
{
    char ra[PATH_MAX];
    char rb[PATH_MAX];

    return ds_os_realpath(a, ra, sizeof(ra)) == 0 && ds_os_realpath(b, rb, sizeof(rb)) == 0 &&
           strcmp(ra, rb) == 0;
}

static const struct ds_folder_conf *pick_folder(const struct ds_config *cfg, const char *path,
                                                const char *type, const char *name)
{
    const struct ds_folder_conf *only = NULL;
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    size_t n = 0;

    if (name != NULL) {
        only = ds_config_folder(cfg, name);
        if (only == NULL) {
            fprintf(stderr, "dentsync import: no [folder %s] in %s\n", name, cfg->path);
        }
        else if (type != NULL && strcmp(only->import_type, type) != 0) {
            fprintf(stderr, "dentsync import: folder %s imports %s, not %s\n", name,
                    only->import_type, type);
            only = NULL;
        }
        return only;
    }
    snprintf(dir, sizeof(dir), "%.*s", slash != NULL ? (int)(slash - path) : 1, path);
    for (size_t i = 0; i < cfg->nfolders; i++) {
        const struct ds_folder_conf *f = &cfg->folders[i];

        if ((type == NULL || strcmp(f->import_type, type) == 0) && same_dir(f->path, dir)) {
            return f;
        }
    }
    for (size_t i = 0; i < cfg->nfolders; i++) {
        if (type == NULL || strcmp(cfg->folders[i].import_type, type) == 0) {
            only = &cfg->folders[i];
            n++;
        }
    }
    if (n == 1) {
        return only;
    }
    if (n == 0) {
        fprintf(stderr, "dentsync import: no folder of %s imports %s\n", cfg->path,
                type != NULL ? type : "anything");
        return NULL;
    }
    fprintf(stderr, "dentsync import: %zu folders import %s; choose one with --folder NAME:", n,
            type != NULL ? type : "files");
    for (size_t i = 0; i < cfg->nfolders; i++) {
        if (type == NULL || strcmp(cfg->folders[i].import_type, type) == 0) {
            fprintf(stderr, " %s", cfg->folders[i].name);
        }
    }
    fprintf(stderr, "\n");
    return NULL;
}

/* ---- progress --------------------------------------------------------------- */

static const char *eta_text(double seconds, char *buf, size_t size)
{
    long s = seconds > 0 && seconds < 360000 ? (long)(seconds + 0.5) : -1;

    if (s < 0) {
        snprintf(buf, size, "--:--");
    }
    else if (s >= 3600) {
        snprintf(buf, size, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    }
    else {
        snprintf(buf, size, "%ld:%02ld", s / 60, s % 60);
    }
    return buf;
}

/* One progress report: redrawn in place on a terminal, a plain line at
 * most every second (and at each new phase) otherwise. */
static void show(struct import *im, int phase, long done, long total, const char *retrying)
{
    double now = ds_clock_now();
    double rate;
    char eta[32];
    char bar[31];
    int fill;

    if (phase != im->phase) {
        im->phase = phase;
        im->phase_at = now;
        im->phase_base = done;
        im->printed_at = 0;
    }
    rate = now - im->phase_at > 0.2 ? (double)(done - im->phase_base) / (now - im->phase_at) : 0;
    if (im->tty) {
        if (phase == 0) {
            printf("\r\033[Kwaiting for the agent to take the file");
        }
        else if (phase == 1) {
            printf("\r\033[Kstaging    %ld rows read  %.0f rows/s", done, rate);
        }
        else {
            fill = total > 0 ? (int)(30 * done / total) : 30;
            memset(bar, '#', (size_t)fill);
            memset(bar + fill, '.', (size_t)(30 - fill));
            bar[30] = '\0';
            printf("\r\033[Kuploading  [%s] %ld/%ld rows  %.0f rows/s  ETA %s%s%s", bar, done,
                   total, rate,
                   eta_text(rate > 0 ? (double)(total - done) / rate : -1, eta, sizeof(eta)),
                   retrying[0] != '\0' ? "  retrying: " : "", retrying);
        }
        fflush(stdout);
        return;
    }
    if (im->printed_at > 0 && (now - im->printed_at < 1.0 || done == im->printed_done)) {
        return;
    }
    im->printed_at = now;
    im->printed_done = done;
    if (phase == 0) {
        printf("import: waiting for the agent to take the file\n");
    }
    else if (phase == 1) {
        printf("import: staging: %ld rows read, %.0f rows/s\n", done, rate);
    }
    else {
        printf("import: uploading: %ld of %ld rows answered (%ld%%), %.0f rows/s, ETA %s%s%s\n",
               done, total, total > 0 ? done * 100 / total : 100, rate,
               eta_text(rate > 0 ? (double)(total - done) / rate : -1, eta, sizeof(eta)),
               retrying[0] != '\0' ? ", retrying: " : "", retrying);
    }
    fflush(stdout);
}

static void finish(struct import *im, int rc)
{
    im->finished = 1;
    im->rc = rc;
    if (im->tty) {
        printf("\r\033[K");
        fflush(stdout);
    }
}

static void summary(struct import *im, const struct ds_file_progress *fp)
{
    const struct ds_item_counts *c = &fp->items;
    long failed = c->invalid + c->conflict + c->needs_review + c->rejected;

    finish(im, DS_EXIT_OK);
    printf("import: job %s %s: %ld rows: %ld created, %ld updated, %ld unchanged, %ld failed, "
           "%ld duplicate, %ld skipped\n",
           fp->job_id, fp->job_state, c->total, c->created, c->updated, c->unchanged, failed,
           c->duplicate, c->skipped);
    if (failed > 0) {
        printf("import: the rows that failed and why: dentsync job %.8s\n", fp->job_id);
    }
}

/* Looks at the file in the queue and reports. agent_idle: the agent (or
 * this process) has no ingest running or waiting; paused_code: non-empty
 * when the cloud refused the practice's token. */
static void step(struct import *im, struct ds_store *st, int agent_idle, const char *paused_code)
{
    struct ds_file_progress fp;
    long pending;
    int rc;

    rc = ds_store_file_progress(st, im->folder->name, im->path, im->after_id, &fp);
    if (rc == DS_ENOTFOUND) {
        if (agent_idle && ++im->idle_ticks >= IDLE_TICKS) {
            finish(im, DS_EXIT_RUNTIME);
            fprintf(stderr, "dentsync import: the file was not taken (it changed while it was "
                            "read, or the queue failed: see the agent's log)\n");
            return;
        }
        show(im, 0, 0, 0, "");
        return;
    }
    if (rc != 0) {
        finish(im, DS_EXIT_RUNTIME);
        fprintf(stderr, "dentsync import: cannot read the queue (%s)\n", ds_strerror(rc));
        return;
    }
    if (strcmp(fp.state, "duplicate") == 0) {
        finish(im, DS_EXIT_OK);
        printf("import: same content as a file taken before; nothing to send again\n");
        return;
    }
    if (strcmp(fp.state, "held") == 0 || strcmp(fp.state, "quarantined") == 0) {
        finish(im, DS_EXIT_RUNTIME);
        fprintf(stderr, "dentsync import: %s %s (%s): %s\n", im->path, fp.state,
                fp.reason_code[0] != '\0' ? fp.reason_code : "-", fp.reason);
        if (strcmp(fp.state, "held") == 0) {
            fprintf(stderr, "dentsync import: fix the cause, then `dentsync retry %s`\n", im->path);
        }
        return;
    }
    if (strncmp(fp.job_state, "completed", 9) == 0) {
        summary(im, &fp);
        return;
    }
    if (fp.job_id[0] == '\0' || strcmp(fp.job_state, "staging") == 0) {
        show(im, 1, fp.items.total, 0, "");
        return;
    }
    pending = fp.items.valid + fp.items.sent;
    if (paused_code != NULL && paused_code[0] != '\0') {
        finish(im, DS_EXIT_RUNTIME);
        fprintf(stderr,
                "dentsync import: the cloud refused the token of practice %s (%s); the "
                "file's %ld rows wait in the queue and go when it is fixed (docs/operations.md, "
                "Rotating a token)\n",
                im->folder->practice, paused_code, pending);
        return;
    }
    if (fp.batches.rejected > 0 &&
        fp.batches.pending + fp.batches.in_flight + fp.batches.retry_wait == 0) {
        finish(im, DS_EXIT_RUNTIME);
        fprintf(stderr,
                "dentsync import: the cloud rejected %ld batch(es) of job %s (%s); fix the "
                "cause, then `dentsync retry %s`\n",
                fp.batches.rejected, fp.job_id, fp.last_error_code, fp.job_id);
        return;
    }
    show(im, 2, fp.items.total - pending, fp.items.total, fp.last_error_code);
}

/* ---- through the running agent ---------------------------------------------- */

/* The agent's status: whether it has ingest work, and the practice's pause. */
static int agent_state(const struct import *im, int *idle, char *code, size_t size)
{
    json_t *doc;
    json_t *p;
    size_t i;
    int rc;

    *idle = 0;
    code[0] = '\0';
    rc = ds_control_ask(im->cfg->state_dir, "status", 3000, &doc);
    if (rc != 0) {
        return rc;
    }
    *idle = !json_is_true(json_object_get(doc, "ingest_busy")) &&
            json_integer_value(json_object_get(doc, "ingest_queued")) == 0;
    json_array_foreach(json_object_get(doc, "practices"), i, p)
    {
        const char *n = json_string_value(json_object_get(p, "name"));
        const char *k = json_string_value(json_object_get(p, "code"));

        if (n != NULL && strcmp(n, im->folder->practice) == 0 &&
            json_is_true(json_object_get(p, "paused"))) {
            snprintf(code, size, "%s", k != NULL && k[0] != '\0' ? k : "PAUSED");
        }
    }
    json_decref(doc);
    return 0;
}

static int through_agent(struct import *im, const char *queue)
{
    struct ds_store *st = NULL;
    struct ds_error err;
    struct timespec ts = {0, TICK_MS * 1000000L};
    char request[PATH_MAX + 300];
    char code[64];
    char msg[600];
    json_t *doc;
    int idle;
    int rc;

    ds_error_clear(&err);
    rc = ds_store_open_readonly(queue, &st, &err);
    if (rc == 0) {
        rc = ds_store_files_last_id(st, &im->after_id);
    }
    if (rc != 0) {
        fprintf(stderr, "dentsync import: %s\n", ds_error_format(&err, msg, sizeof(msg)));
        ds_store_close(&st);
        return DS_EXIT_RUNTIME;
    }
    snprintf(request, sizeof(request), "import\t%s\t%s", im->folder->name, im->path);
    rc = ds_control_ask(im->cfg->state_dir, request, 5000, &doc);
    if (doc == NULL || !json_is_true(json_object_get(doc, "ok"))) {
        const char *e = json_string_value(json_object_get(doc, "error"));

        fprintf(stderr, "dentsync import: the agent refused the file: %s\n",
                e != NULL ? e : ds_strerror(rc != 0 ? rc : DS_EIO));
        if (e != NULL && strstr(e, "cannot read") != NULL) {
            fprintf(stderr, "dentsync import: put it where the service can read it (an export "
                            "folder), or stop the service and import it as root\n");
        }
        json_decref(doc);
        ds_store_close(&st);
        return DS_EXIT_RUNTIME;
    }
    json_decref(doc);
    printf("import: %s handed to the running agent (folder %s, %s)\n", im->path, im->folder->name,
           im->folder->import_type);
    fflush(stdout);
    while (!im->finished) {
        if (agent_state(im, &idle, code, sizeof(code)) != 0) {
            finish(im, DS_EXIT_RUNTIME);
            fprintf(stderr, "dentsync import: the agent stopped answering; it takes the file up "
                            "again at its next start\n");
            break;
        }
        step(im, st, idle, code);
        if (!im->finished) {
            nanosleep(&ts, NULL);
        }
    }
    ds_store_close(&st);
    return im->rc;
}

/* ---- alone: this process does the agent's work ------------------------------ */

static void alone_close(struct import *im)
{
    ds_runtime_stop(&im->rt);
    if (!uv_is_closing((uv_handle_t *)&im->tick)) {
        uv_close((uv_handle_t *)&im->tick, NULL);
        uv_close((uv_handle_t *)&im->sigint, NULL);
        uv_close((uv_handle_t *)&im->sigterm, NULL);
    }
}

static void on_tick(uv_timer_t *t)
{
    struct import *im = t->data;
    char code[64];

    code[0] = '\0';
    if (im->rt.up != NULL) {
        ds_upload_practice_paused(im->rt.up, im->folder->practice, code, sizeof(code));
    }
    step(im, im->rt.store, !im->ingest_running, code);
    if (im->finished) {
        alone_close(im);
    }
}

static void on_stop_signal(uv_signal_t *s, int signum)
{
    struct import *im = s->data;

    (void)signum;
    atomic_store(&im->rt.stop, 1);
    finish(im, DS_EXIT_RUNTIME);
    fprintf(stderr, "dentsync import: interrupted; what was staged stays in the queue and the "
                    "agent sends it when it runs\n");
    alone_close(im);
}

static void ingest_work(uv_work_t *w)
{
    struct import *im = w->data;

    ds_ingest_run(&im->task);
}

static void ingest_done(uv_work_t *w, int status)
{
    struct import *im = w->data;
    char msg[600];

    (void)status;
    im->ingest_running = 0;
    if (im->finished) {
        return;
    }
    if (im->task.rc != 0) {
        finish(im, DS_EXIT_RUNTIME);
        fprintf(stderr, "dentsync import: %s was not staged: %s\n", im->path,
                im->task.rc == DS_EBUSY ? "it changed while it was read; try again"
                                        : ds_error_format(&im->task.err, msg, sizeof(msg)));
        alone_close(im);
        return;
    }
    if (im->task.quarantined) {
        ds_log_error("FILE_QUARANTINED", "%s: quarantined: %s", im->path,
                     ds_error_format(&im->task.err, msg, sizeof(msg)));
        ds_dispose_quarantined(im->rt.store, im->cfg, im->task.file_id);
    }
    else if (im->task.duplicate) {
        ds_log_info("FILE_DUPLICATE", "%s: same content as a file taken before; not imported again",
                    im->path);
    }
    else if (im->task.job_id[0] != '\0') {
        ds_log_info("JOB_STAGED",
                    "%s: job %s staged %ld rows (%ld valid, %ld invalid, %ld duplicate)", im->path,
                    im->task.job_id, im->task.rows, im->task.valid, im->task.invalid,
                    im->task.duplicates);
    }
    ds_upload_kick(im->rt.up);
}

/* Starts the runtime as `dentsync run` does — the agent's lock, the
 * queue's damage check, recovery, the sweep — then ingests the file and
 * uploads until its job completes. */
static int alone(struct import *im, const struct ds_file_id *id)
{
    struct ds_runtime *rt = &im->rt;
    struct ds_error err;
    int rc;

    ds_error_clear(&err);
    ds_runtime_init(rt);
    rc = ds_runtime_start(rt, im->cfg, &err);
    if (rc == DS_EBUSY && rt->lock_fd < 0) {
        fprintf(stderr,
                "dentsync import: an agent holds %s but does not answer on its control "
                "socket; try again in a moment\n",
                im->cfg->state_dir);
        return DS_EXIT_RUNTIME;
    }
    if (rc == 0) {
        rc = ds_store_files_last_id(rt->store, &im->after_id);
    }
    if (rc != 0) {
        rc = ds_out_queue_failed("import", im->cfg, rc, &err);
        goto out;
    }
    printf("import: %s (folder %s, %s); no agent runs, so this command sends it\n", im->path,
           im->folder->name, im->folder->import_type);
    fflush(stdout);
    ds_runtime_task(rt, &im->task, im->folder, im->path, id);
    im->work.data = im;
    uv_timer_init(&rt->loop, &im->tick);
    im->tick.data = im;
    uv_signal_init(&rt->loop, &im->sigint);
    uv_signal_init(&rt->loop, &im->sigterm);
    im->sigint.data = im;
    im->sigterm.data = im;
    uv_signal_start(&im->sigint, on_stop_signal, SIGINT);
    uv_signal_start(&im->sigterm, on_stop_signal, SIGTERM);
    im->ingest_running = 1;
    if (uv_queue_work(&rt->loop, &im->work, ingest_work, ingest_done) != 0) {
        im->ingest_running = 0;
        finish(im, DS_EXIT_RUNTIME);
        fprintf(stderr, "dentsync import: cannot start the ingest\n");
        alone_close(im);
    }
    else {
        uv_timer_start(&im->tick, on_tick, TICK_MS, TICK_MS);
        ds_upload_kick(rt->up);
    }
    uv_run(&rt->loop, UV_RUN_DEFAULT);
    rc = im->rc;
out:
    ds_runtime_close(rt);
    return rc;
}

int ds_cmd_import(const char *config_path, int argc, char **argv)
{
    static const struct option longopts[] = {{"type", required_argument, NULL, 't'},
                                             {"folder", required_argument, NULL, 'f'},
                                             {NULL, 0, NULL, 0}};
    struct ds_config *cfg = NULL;
    struct import *im = NULL;
    const char *type = NULL;
    const char *folder = NULL;
    char queue[4096];
    struct ds_file_id id;
    int opt;
    int rc;

    optind = 1;
    for (;;) {
        opt = getopt_long(argc, argv, "", longopts, NULL);
        if (opt == -1) {
            break;
        }
        if (opt == 't') {
            type = optarg;
        }
        else if (opt == 'f') {
            folder = optarg;
        }
        else {
            usage(stderr);
            return DS_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        return DS_EXIT_USAGE;
    }
    im = ds_calloc(1, sizeof(*im));
    if (im == NULL) {
        return DS_EXIT_RUNTIME;
    }
    errno = 0;
    if (ds_os_realpath(argv[optind], im->path, sizeof(im->path)) != 0 ||
        ds_os_stat_follow(im->path, &id) != 0) {
        fprintf(stderr, "dentsync import: %s: %s\n", argv[optind],
                errno != 0 ? strerror(errno) : "not a regular file");
        ds_free(im);
        return DS_EXIT_RUNTIME;
    }
    if (strpbrk(im->path, "\t\n\r") != NULL) {
        fprintf(stderr, "dentsync import: a file name with a tab or a newline; rename it\n");
        ds_free(im);
        return DS_EXIT_USAGE;
    }
    if (ds_config_load(config_path, &cfg, stderr) != 0) {
        ds_free(im);
        return DS_EXIT_CONFIG;
    }
    im->cfg = cfg;
    im->tty = isatty(STDOUT_FILENO);
    im->folder = pick_folder(cfg, im->path, type, folder);
    rc = ds_config_queue_path(cfg, queue, sizeof(queue));
    if (im->folder == NULL || rc != 0) {
        rc = im->folder == NULL ? DS_EXIT_USAGE : DS_EXIT_CONFIG;
        goto out;
    }
    /* The agent's own log lines would break the bar on a terminal: there,
     * warnings and errors only. */
    ds_log_set_level(im->tty && cfg->log_level > DS_LOG_WARN ? DS_LOG_WARN
                                                             : (enum ds_log_level)cfg->log_level);
    rc = ds_control_ask(cfg->state_dir, "status", 3000, NULL);
    if (rc == DS_ENOTFOUND) {
        rc = alone(im, &id);
    }
    else {
        rc = through_agent(im, queue);
    }
out:
    ds_config_free(&cfg);
    ds_free(im);
    return rc;
}
