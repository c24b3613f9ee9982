/*
 * daemon.c — the wiring of `dentsync run`.
 *
 *   watch --settled--> pending list --uv_queue_work--> ingest (worker thread)
 *                                                         |
 *   uploader <----------------- kick ---------------------+
 *
 * struct ds_agent owns everything but what the runtime (runtime.h) starts
 * for it — the lock, the queue, the loop and the uploader — and nothing
 * here is global. Stopping (SIGINT/SIGTERM, or a stop from the service
 * manager: agent/os/os_service.h) closes the watcher, asks a
 * running ingest to stop at its next commit (its partial job is cleared by
 * recovery at the next start), aborts uploads in flight (re-sent after the
 * next start, which the cloud's replay rule makes safe) and lets the loop
 * end when the last handle closed.
 */
#include "agent/service/daemon.h"

#include "agent/core/alloc.h"
#include "agent/service/control.h"
#include "agent/service/dispose.h"
#include "agent/core/clock.h"
#include "agent/core/buf.h"
#include "agent/core/fsafe.h"
#include "agent/core/hash.h"
#include "agent/core/log.h"
#include "agent/core/notify.h"
#include "agent/os/os_fs.h"
#include "agent/os/os_proc.h"
#include "agent/os/os_service.h"
#include "agent/service/ingest.h"
#include "agent/service/runtime.h"
#include "agent/upload/upload.h"
#include "agent/watch/watch.h"
#include "agent/web/web.h"
#include "state/store_admin.h"
#include "state/store_ingest.h"
#include "state/store_status.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct pending {
    struct ds_ingest_task task; /* what to ingest */
    struct pending *next;       /* FIFO */
};

struct ds_agent {
    struct ds_runtime *rt;       /* borrow: the lock, the queue, the loop, the uploader */
    const struct ds_config *cfg; /* borrow */
    struct ds_watch *watch;      /* owned */
    uv_signal_t stop_sig[DS_OS_STOP_SIGNALS_MAX]; /* stop requests (agent/os/os_proc.h) */
    int nstop;                                    /* of them started */
    uv_signal_t sighup;                           /* reload request, where there is one */
    uv_async_t service_stop;    /* a stop from the service manager (os_service.h) */
    uv_timer_t queue_poll;      /* looks for files an admin's retry put back */
    int64_t retry_gen;          /* the queue's retry generation last seen */
    double next_purge;          /* when retention runs next (wall clock) */
    double next_sweep;          /* when the disposal sweep runs next (wall clock) */
    double next_age_alarm;      /* when the age alarm may speak again */
    struct ds_control *control; /* the control socket; owned */
    struct ds_web *web;         /* the status page ([web]); owned, may be NULL */
    uv_timer_t notify_tick;     /* systemd: WATCHDOG=1 and STATUS= (notify.h) */
    int reload;                 /* stopping to start again with a new config */
    uv_work_t work;             /* the ingest in progress */
    struct pending *current;    /* its task; NULL when idle */
    struct pending *queue;      /* waiting, oldest first */
    struct pending *full;       /* the ingest that found no space; ingest pauses */
    unsigned long long full_at; /* free bytes in state_dir when it paused */
    int stopping;               /* a stop was requested */
};

static void start_next_ingest(struct ds_agent *a);
static void resume_if_space(struct ds_agent *a);

static int same_file(const struct pending *p, const char *folder, const char *path)
{
    return strcmp(p->task.folder->name, folder) == 0 && strcmp(p->task.path, path) == 0;
}

static int in_hand(const struct ds_agent *a, const char *folder, const char *path)
{
    if (a->current != NULL && same_file(a->current, folder, path)) {
        return 1;
    }
    if (a->full != NULL && same_file(a->full, folder, path)) {
        return 1;
    }
    for (const struct pending *p = a->queue; p != NULL; p = p->next) {
        if (same_file(p, folder, path)) {
            return 1;
        }
    }
    return 0;
}

static int on_known(void *ctx, const struct ds_folder_conf *folder, const char *path, int64_t size,
                    int64_t mtime_ns)
{
    struct ds_agent *a = ctx;
    int known;

    if (in_hand(a, folder->name, path)) {
        return 1;
    }
    known = ds_store_file_known(a->rt->store, folder->name, path, size, mtime_ns);
    /* On a queue error, do not settle: the next scan asks again. */
    return known != 0;
}

/* id: the file as settled or recorded; ingest reads it only while it is
 * still that file. */
static int enqueue(struct ds_agent *a, const struct ds_folder_conf *folder, const char *path,
                   const struct ds_file_id *id, int64_t file_id, const char *sha256)
{
    struct pending *p = ds_calloc(1, sizeof(*p));
    struct pending **tail;

    if (p == NULL) {
        return DS_ENOMEM;
    }
    ds_runtime_task(a->rt, &p->task, folder, path, id);
    p->task.file_id = file_id;
    if (sha256 != NULL) {
        snprintf(p->task.sha256, sizeof(p->task.sha256), "%s", sha256);
    }
    for (tail = &a->queue; *tail != NULL; tail = &(*tail)->next) {
    }
    *tail = p;
    return 0;
}

static void on_settled(void *ctx, const struct ds_folder_conf *folder, const char *path,
                       const struct ds_file_id *id)
{
    struct ds_agent *a = ctx;

    if (a->stopping || in_hand(a, folder->name, path)) {
        return;
    }
    ds_log_info("FILE_SETTLED", "folder %s: %s settled (%lld bytes)", folder->name, path,
                (long long)id->size);
    if (enqueue(a, folder, path, id, 0, NULL) == 0) {
        start_next_ingest(a);
    }
}

/* Files recorded `detected` by an earlier run that stopped before staging
 * them (or whose staging recovery undid) are ingested first. */
static int on_detected(void *ctx, const struct ds_file_info *f)
{
    struct ds_agent *a = ctx;
    const struct ds_folder_conf *folder = ds_config_folder(a->cfg, f->folder);
    struct ds_file_id id = {0, 0, 0, 0};
    int why = 0;

    if (folder == NULL) {
        ds_log_warn("FOLDER_GONE",
                    "file %lld: its folder %s is no longer configured; left as it is",
                    (long long)f->id, f->folder);
        return 0;
    }
    if (in_hand(a, f->folder, f->path)) {
        return 0;
    }
    /* Not followed if it is a link now: ingest refuses what is no longer a
     * regular file (NOT_REGULAR_FILE), and reads only the file it opened. */
    if (ds_fsafe_stat_file(f->path, &id, &why) != 0 && why != DS_FSAFE_LINK &&
        why != DS_FSAFE_NOT_FILE) {
        ds_log_warn("FILE_GONE", "file %lld: %s is gone; left as it is", (long long)f->id, f->path);
        return 0;
    }
    return enqueue(a, folder, f->path, &id, f->id, f->sha256);
}

static void ingest_work(uv_work_t *w)
{
    struct ds_agent *a = w->data;

    ds_ingest_run(&a->current->task);
}

/* Ingest may leave a file `held` (disk budget, no template, a shrunken
 * snapshot) rather than staged: the queue knows, and says why. */
struct held_ctx {
    int64_t id;
    struct ds_ingest_task *t;
};

static int held_reason(void *arg, const struct ds_file_row *f)
{
    struct held_ctx *h = arg;

    if (f->id == h->id) {
        h->t->held = 1;
        ds_str_copy(h->t->held_code, sizeof(h->t->held_code),
                    f->reason_code != NULL ? f->reason_code : "HELD");
    }
    return 0;
}

static void note_held(struct ds_agent *a, struct ds_ingest_task *t)
{
    struct held_ctx h = {t->file_id, t};

    if (ds_store_file_held(a->rt->store, t->file_id) == 1) {
        ds_store_files_in_state(a->rt->store, "held", held_reason, &h);
    }
}

static void report(const struct ds_ingest_task *t)
{
    char msg[600];

    if (t->rc == DS_EBUSY) {
        ds_log_info("FILE_CHANGED", "%s: changed while being read; it will settle again", t->path);
    }
    else if (t->rc == DS_ESTOP) {
        ds_log_info("INGEST_STOPPED", "%s: ingest stopped; it resumes at the next start", t->path);
    }
    else if (t->rc != 0) {
        ds_log_error("INGEST_FAILED", "%s: ingest failed: %s", t->path,
                     ds_error_format(&t->err, msg, sizeof(msg)));
    }
    else if (t->held_again) {
        ds_log_debug("FILE_STILL_HELD", "%s: the held file again, unchanged; it still waits",
                     t->path);
    }
    else if (t->duplicate) {
        ds_log_info("FILE_DUPLICATE", "%s: same content as a file taken before; not imported again",
                    t->path);
    }
    else if (t->held) {
        ds_log_warn("FILE_HELD", "%s: held for an admin (%s); `dentsync retry` takes it up again",
                    t->path, t->held_code);
    }
    else if (t->quarantined) {
        ds_log_error("FILE_QUARANTINED", "%s: quarantined: %s", t->path,
                     ds_error_format(&t->err, msg, sizeof(msg)));
    }
    else {
        ds_log_info("JOB_STAGED",
                    "%s: job %s staged %ld rows (%ld valid, %ld invalid, %ld duplicate)", t->path,
                    t->job_id, t->rows, t->valid, t->invalid, t->duplicates);
        for (int k = 1; k < t->njobs; k++) {
            ds_log_info("JOB_STAGED", "%s: rows routed to job %s (%s)", t->path, t->job_ids[k],
                        t->job_types[k]);
        }
    }
}

static void shutdown_if_idle(struct ds_agent *a);

/* systemd's watchdog and status line: counts only, never patient data. */
static void on_notify_tick(uv_timer_t *t)
{
    struct ds_agent *a = t->data;
    struct ds_queue_stats qs;

    memset(&qs, 0, sizeof(qs));
    if (ds_store_queue_stats(a->rt->store, &qs) != 0) {
        qs.pending_rows = -1;
    }
    ds_notify_printf("WATCHDOG=1\nSTATUS=%zu folder(s); %ld row(s) waiting in %ld job(s); "
                     "%zu request(s) in flight; %lu retries; ingest %s",
                     a->cfg->nfolders, qs.pending_rows, qs.jobs_uploading,
                     ds_upload_in_flight(a->rt->up), ds_upload_retries(a->rt->up),
                     a->current != NULL ? "busy" : "idle");
}

/* Starts the tick at half the watchdog interval (every 30 s without one)
 * when systemd listens; nothing otherwise. */
static void notify_start(struct ds_agent *a)
{
    uint64_t usec = ds_notify_watchdog_usec();
    uint64_t ms = usec > 0 ? usec / 2000 : 30000;

    ds_notify("READY=1\nSTATUS=running");
    if (getenv("NOTIFY_SOCKET") == NULL) {
        return;
    }
    uv_timer_init(&a->rt->loop, &a->notify_tick);
    a->notify_tick.data = a;
    uv_timer_start(&a->notify_tick, on_notify_tick, 0, ms > 0 ? ms : 1);
}

/* Files the queue holds `detected` — left by an earlier run, or put back by
 * an admin's retry — are taken up. */
static void take_detected(struct ds_agent *a)
{
    if (a->stopping) {
        return;
    }
    if (ds_store_files_detected(a->rt->store, on_detected, a) < 0) {
        ds_log_error("QUEUE_ERROR", "cannot read the queue's pending files; trying again later");
    }
    start_next_ingest(a);
}

/* Retention: once an hour strips the patient data of rows acknowledged
 * retention_days ago (and of the settled rows of jobs idle that long) and
 * gives free pages back; while the queue is over its disk budget, on every
 * tick, since that is what releases held files. Once a day the disposal
 * sweep deletes what quarantine/ and processed/ kept past retention_days. */
#define SWEEP_SECONDS 86400.0

static void maybe_purge(struct ds_agent *a, double now)
{
    int64_t size = 0;
    long purged = 0;
    int over = a->cfg->max_queue_mb > 0 && ds_store_size(a->rt->store, &size) == 0 &&
               size > (int64_t)a->cfg->max_queue_mb * 1024 * 1024;

    if (!over && now < a->next_purge) {
        return;
    }
    a->next_purge = now + 3600.0;
    if (a->next_sweep == 0.0) {
        a->next_sweep = now + SWEEP_SECONDS; /* start-up ran it (runtime.c) */
    }
    else if (now >= a->next_sweep || (a->rt->dispose_busy > 0 && !over)) {
        /* A delivered file another program still held open is tried
         * again hourly rather than the next day. */
        a->next_sweep = now + SWEEP_SECONDS;
        a->rt->dispose_busy = ds_dispose_sweep(a->rt->store, a->cfg);
    }
    if (ds_store_purge(a->rt->store, now, a->cfg->retention_days, &purged) != 0) {
        ds_log_error("PURGE_FAILED", "retention: the purge failed; it runs again within the hour");
    }
    else if (purged > 0) {
        ds_log_info("QUEUE_PURGED",
                    "retention: %ld settled row(s) kept only as key and fingerprint", purged);
    }
}

/* Retries have no limit; instead, data waiting longer than an hour raises
 * an alarm in the log and the audit trail, once an hour while it lasts. */
#define AGE_ALARM_SECONDS 3600.0

static void age_alarm(struct ds_agent *a, double now)
{
    struct ds_queue_stats qs;
    char hours[32];

    if (now < a->next_age_alarm || ds_store_queue_stats(a->rt->store, &qs) != 0 ||
        qs.oldest_pending_at <= 0 || now - qs.oldest_pending_at < AGE_ALARM_SECONDS) {
        return;
    }
    a->next_age_alarm = now + AGE_ALARM_SECONDS;
    snprintf(hours, sizeof(hours), "%.1f", (now - qs.oldest_pending_at) / 3600.0);
    ds_log_warn("AGE_ALARM",
                "queue: the oldest data has waited %s hours to reach the cloud (%ld row(s) "
                "pending); see `dentsync status`",
                hours, qs.pending_rows);
    ds_store_event(a->rt->store, "age_alarm", 0, NULL, 0, NULL, hours);
}

/* Each rescan period: retention, the age alarm, and files an admin's retry (or the disk
 * budget) put back in line, noticed by the queue's retry generation. */
static void on_queue_poll(uv_timer_t *t)
{
    struct ds_agent *a = t->data;
    int64_t gen = 0;

    if (a->stopping) {
        return;
    }
    maybe_purge(a, ds_clock_now());
    age_alarm(a, ds_clock_now());
    resume_if_space(a);
    if (ds_store_retry_generation(a->rt->store, &gen) == 0 && gen != a->retry_gen) {
        a->retry_gen = gen;
        ds_log_info("RETRY_NOTICED",
                    "queue: an admin's retry or freed space; taking up waiting work");
        take_detected(a);
        ds_upload_kick(a->rt->up);
    }
}

static void control_sync_now(void *ctx)
{
    struct ds_agent *a = ctx;

    if (a->stopping) {
        return;
    }
    ds_watch_rescan(a->watch);
    take_detected(a);
    ds_upload_sync_now(a->rt->up);
}

/* `dentsync import`: the file goes first in line, with its folder's
 * settings; the person at the terminal follows it in the queue. */
static int control_import(void *ctx, const char *folder_name, const char *path, char *msg,
                          size_t size)
{
    struct ds_agent *a = ctx;
    const struct ds_folder_conf *folder = ds_config_folder(a->cfg, folder_name);
    const char *why = NULL;
    struct pending *p;
    struct ds_file_id id;
    int refused = 0;

    if (a->stopping) {
        snprintf(msg, size, "the agent is stopping");
        return DS_EBUSY;
    }
    if (folder == NULL) {
        snprintf(msg, size, "no [folder %s] in the agent's configuration", folder_name);
        return DS_EINVAL;
    }
    if (path[0] != '/') {
        why = "not an absolute path";
    }
    else if (ds_fsafe_stat_file(path, &id, &refused) != 0 &&
             (refused == DS_FSAFE_LINK || refused == DS_FSAFE_NOT_FILE)) {
        why = refused == DS_FSAFE_LINK ? "a symbolic link (name the file itself)"
                                       : "not a regular file";
    }
    else if (refused != DS_FSAFE_OK || access(path, R_OK) != 0) {
        why = strerror(errno);
    }
    if (why != NULL) {
        char who[300];

        ds_os_whoami(who, sizeof(who));
        snprintf(msg, size, "the agent (%s) cannot read %s: %s", who, path, why);
        return DS_EIO;
    }
    if (in_hand(a, folder->name, path)) {
        return 0;
    }
    if (enqueue(a, folder, path, &id, 0, NULL) != 0) {
        snprintf(msg, size, "out of memory");
        return DS_ENOMEM;
    }
    /* enqueue appended it: move it to the head of the line. */
    if (a->queue != NULL && a->queue->next != NULL) {
        struct pending **pp = &a->queue;

        while ((*pp)->next != NULL) {
            pp = &(*pp)->next;
        }
        p = *pp;
        *pp = NULL;
        p->next = a->queue;
        a->queue = p;
    }
    ds_log_info("IMPORT_REQUESTED", "import: %s with the settings of folder %s", path,
                folder->name);
    start_next_ingest(a);
    return 0;
}

static int control_status(void *ctx, struct ds_buf *b)
{
    struct ds_agent *a = ctx;
    size_t queued = 0;
    int rc;

    for (const struct pending *p = a->queue; p != NULL; p = p->next) {
        queued++;
    }
    rc = ds_buf_printf(b,
                       "\"pid\":%ld,\"stopping\":%s,\"ingest_busy\":%s,\"ingest_queued\":%zu,"
                       "\"ingest_paused\":%s,",
                       (long)getpid(), a->stopping ? "true" : "false",
                       a->current != NULL ? "true" : "false", queued,
                       a->full != NULL ? "\"DISK_FULL\"" : "null");
    if (rc == 0 && a->rt->up != NULL) {
        rc = ds_upload_status_json(a->rt->up, b);
    }
    return rc;
}

/* Free bytes in the state directory, 0 when it cannot be told. */
static unsigned long long free_bytes(const struct ds_agent *a)
{
    return ds_os_disk_free(a->cfg->state_dir);
}

/* The queue could not grow (DISK_FULL): ingest pauses with that task kept
 * aside, uploads go on (an answer that cannot be recorded is asked again,
 * which the replay rule makes safe). Each tick looks whether space came
 * back; then the task's half-staged job is undone and the file ingested
 * again from the start. */
#define FULL_RESUME_BYTES (256ULL * 1024)

static void resume_if_space(struct ds_agent *a)
{
    struct pending *p = a->full;
    unsigned long long now = free_bytes(a);
    struct ds_file_id id;

    if (p == NULL || a->current != NULL || a->stopping || now < a->full_at + FULL_RESUME_BYTES) {
        return;
    }
    if (p->task.file_id != 0 && ds_store_file_unstage(a->rt->store, p->task.file_id) != 0) {
        a->full_at = now;
        return;
    }
    ds_log_info("INGEST_RESUMED", "ingest resumes: %llu KiB free in %s", now / 1024,
                a->cfg->state_dir);
    a->full = NULL;
    id.dev = p->task.dev;
    id.ino = p->task.ino;
    id.size = p->task.size;
    id.mtime_ns = p->task.mtime_ns;
    if (enqueue(a, p->task.folder, p->task.path, &id, p->task.file_id,
                p->task.file_id != 0 ? p->task.sha256 : NULL) == 0) {
        ds_free(p);
    }
    else {
        a->full = p;
    }
    start_next_ingest(a);
}

static int control_web_link(void *ctx, int full, char *buf, size_t size)
{
    struct ds_agent *a = ctx;

    return a->web != NULL ? ds_web_link(a->web, full, buf, size) : DS_ENOTFOUND;
}

static void ingest_done(uv_work_t *w, int status)
{
    struct ds_agent *a = w->data;
    struct pending *done = a->current;

    (void)status;
    a->current = NULL;
    if (done->task.rc == 0 && done->task.file_id != 0 && !done->task.duplicate &&
        !done->task.quarantined && !done->task.held_again) {
        note_held(a, &done->task);
    }
    report(&done->task);
    if (done->task.rc == DS_EFULL && !a->stopping && a->full == NULL) {
        a->full = done;
        a->full_at = free_bytes(a);
        ds_upload_kick(a->rt->up);
        return;
    }
    if (done->task.rc == 0 && done->task.quarantined) {
        ds_dispose_quarantined(a->rt->store, a->cfg, done->task.file_id);
    }
    ds_free(done);
    if (a->stopping) {
        shutdown_if_idle(a);
        return;
    }
    ds_upload_kick(a->rt->up);
    start_next_ingest(a);
}

static void start_next_ingest(struct ds_agent *a)
{
    int rc;

    if (a->current != NULL || a->queue == NULL || a->stopping || a->full != NULL) {
        return;
    }
    a->current = a->queue;
    a->queue = a->queue->next;
    a->current->next = NULL;
    a->work.data = a;
    rc = uv_queue_work(&a->rt->loop, &a->work, ingest_work, ingest_done);
    if (rc != 0) {
        ds_log_error("INGEST_FAILED", "cannot start ingest: %s", uv_strerror(rc));
        ds_free(a->current);
        a->current = NULL;
    }
}

/* Closes what is left once no ingest runs. */
/* Forgets the files waiting for an ingest, and the one held back by a full
 * disk: at shutdown they are taken again from the queue or a rescan. */
static void drop_pending(struct ds_agent *a)
{
    while (a->queue != NULL) {
        struct pending *p = a->queue;

        a->queue = p->next;
        ds_free(p);
    }
    ds_free(a->full);
    a->full = NULL;
}

/* Closes the signal handles (once). */
static void close_signals(struct ds_agent *a)
{
    for (int i = 0; i < a->nstop; i++) {
        if (!uv_is_closing((uv_handle_t *)&a->stop_sig[i])) {
            uv_close((uv_handle_t *)&a->stop_sig[i], NULL);
        }
    }
    if (a->sighup.loop != NULL && !uv_is_closing((uv_handle_t *)&a->sighup)) {
        uv_close((uv_handle_t *)&a->sighup, NULL);
    }
    if (a->service_stop.loop != NULL && !uv_is_closing((uv_handle_t *)&a->service_stop)) {
        os_service_on_stop(NULL, NULL);
        uv_close((uv_handle_t *)&a->service_stop, NULL);
    }
}

static void shutdown_if_idle(struct ds_agent *a)
{
    if (a->current != NULL) {
        return; /* ingest_done comes back here */
    }
    drop_pending(a);
    ds_runtime_stop(a->rt);
    ds_control_free(&a->control);
    ds_web_free(&a->web);
    if (!uv_is_closing((uv_handle_t *)&a->queue_poll)) {
        uv_close((uv_handle_t *)&a->queue_poll, NULL);
    }
    if (a->notify_tick.loop != NULL && !uv_is_closing((uv_handle_t *)&a->notify_tick)) {
        uv_close((uv_handle_t *)&a->notify_tick, NULL);
    }
    close_signals(a);
}

static void stop(struct ds_agent *a)
{
    ds_notify(a->reload ? "RELOADING=1" : "STOPPING=1");
    a->stopping = 1;
    ds_watch_free(&a->watch);
    shutdown_if_idle(a);
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct ds_agent *a = s->data;

    if (a->stopping) {
        return;
    }
    ds_log_info("AGENT_STOPPING", "signal %d: stopping", signum);
    atomic_store(&a->rt->stop, 1);
    stop(a);
}

/* A stop from the service manager (Windows: SERVICE_CONTROL_STOP or
 * SHUTDOWN): the same clean stop as SIGTERM, on the loop's thread. */
static void on_service_stop(uv_async_t *h)
{
    struct ds_agent *a = h->data;

    if (a->stopping) {
        return;
    }
    ds_log_info("AGENT_STOPPING", "the service manager asks to stop: stopping");
    atomic_store(&a->rt->stop, 1);
    stop(a);
}

/* Called on the service manager's thread: only hands the stop over. */
static void service_stop_request(void *ctx)
{
    struct ds_agent *a = ctx;

    uv_async_send(&a->service_stop);
}

/* SIGHUP or the control endpoint's `reload` (why names which): a new
 * configuration. It is checked first; a bad one, or one that moves
 * state_dir (runtime.h), is reported and the agent goes on with the old
 * (non-zero, with why in msg). A good one stops the loop gently —
 * the ingest in progress finishes, uploads in flight are abandoned (and
 * replayed) — and ds_daemon_run returns to be called again with it. */
static int reload(struct ds_agent *a, const char *why, char *msg, size_t size)
{
    struct ds_config *next = NULL;

    if (a->stopping) {
        snprintf(msg, size, "the agent is stopping");
        return DS_EBUSY;
    }
    if (ds_config_load(a->cfg->path, &next, stderr) != 0) {
        ds_log_error("CONFIG_INVALID",
                     "%s: %s has errors (above); still running with the previous "
                     "configuration",
                     why, a->cfg->path);
        snprintf(msg, size,
                 "the configuration has errors (see the agent's log or run check-config); "
                 "still running with the previous one");
        return DS_ECONFIG;
    }
    if (!ds_runtime_reload_ok(a->rt, next)) {
        ds_config_free(&next);
        snprintf(msg, size,
                 "the new configuration needs a restart of the service (see the agent's log)");
        return DS_ECONFIG;
    }
    ds_config_free(&next);
    ds_log_info("CONFIG_RELOADED", "%s: reloading %s", why, a->cfg->path);
    ds_store_event(a->rt->store, "config_reloaded", 0, NULL, 0, NULL, NULL);
    a->reload = 1;
    stop(a);
    return 0;
}

static void on_hup(uv_signal_t *s, int signum)
{
    char msg[160];

    (void)signum;
    (void)reload(s->data, "SIGHUP", msg, sizeof(msg));
}

static int control_reload(void *ctx, char *msg, size_t size)
{
    return reload(ctx, "reload", msg, size);
}

int ds_daemon_run(struct ds_runtime *rt, const struct ds_config *cfg, struct ds_error *err)
{
    struct ds_agent *a = NULL;
    struct ds_control_ops ops;
    uint64_t poll_ms;
    int rc;

    a = ds_calloc(1, sizeof(*a));
    if (a == NULL) {
        return ds_error_set(err, DS_ENOMEM, "out of memory");
    }
    a->rt = rt;
    a->cfg = cfg;
    rc = ds_runtime_start(rt, cfg, err);
    if (rc != 0) {
        goto out;
    }
    {
        int sig[DS_OS_STOP_SIGNALS_MAX];
        int n = ds_os_stop_signals(sig);

        for (a->nstop = 0; a->nstop < n; a->nstop++) {
            uv_signal_init(&a->rt->loop, &a->stop_sig[a->nstop]);
            a->stop_sig[a->nstop].data = a;
            uv_signal_start(&a->stop_sig[a->nstop], on_signal, sig[a->nstop]);
        }
    }
    if (ds_os_reload_signal() != 0) {
        uv_signal_init(&a->rt->loop, &a->sighup);
        a->sighup.data = a;
        uv_signal_start(&a->sighup, on_hup, ds_os_reload_signal());
    }
    uv_async_init(&a->rt->loop, &a->service_stop, on_service_stop);
    a->service_stop.data = a;
    os_service_on_stop(service_stop_request, a);
    ds_store_retry_generation(a->rt->store, &a->retry_gen);
    rc = ds_store_files_detected(a->rt->store, on_detected, a);
    if (rc < 0) {
        ds_error_set(err, rc, "cannot read the queue's pending files");
        goto out;
    }
    maybe_purge(a, ds_clock_now());
    uv_timer_init(&a->rt->loop, &a->queue_poll);
    a->queue_poll.data = a;
    poll_ms = (uint64_t)(cfg->rescan_seconds * 1000.0);
    uv_timer_start(&a->queue_poll, on_queue_poll, poll_ms, poll_ms > 0 ? poll_ms : 1000);
    ops.sync_now = control_sync_now;
    ops.status = control_status;
    ops.import = control_import;
    ops.web_link = control_web_link;
    ops.reload = control_reload;
    ops.ctx = a;
    rc = ds_control_new(&a->rt->loop, cfg, &ops, &a->control, err);
    if (rc != 0) {
        /* The service matters more than its remote control. */
        ds_log_warn("CONTROL_UNAVAILABLE",
                    "no control socket (%s): status shows the queue only, sync-now is "
                    "unavailable",
                    err != NULL ? err->msg : ds_strerror(rc));
        rc = 0;
    }
    if (cfg->web_enabled && ds_web_new(&a->rt->loop, cfg, a->rt->store, &ops, &a->web, err) != 0) {
        ds_log_warn("WEB_UNAVAILABLE", "no status page (%s); the agent runs on without it",
                    err != NULL ? err->msg : "cannot listen");
    }
    rc = ds_watch_new(&a->rt->loop, cfg, on_known, on_settled, a, &a->watch, err);
    if (rc != 0) {
        goto out;
    }
    ds_log_info("AGENT_STARTED", "dentsync running: %zu folder(s), state in %s", cfg->nfolders,
                cfg->state_dir);
    notify_start(a);
    start_next_ingest(a);
    ds_upload_kick(a->rt->up);
    uv_run(&a->rt->loop, UV_RUN_DEFAULT);
    rc = 0;
    if (a->reload) {
        rc = DS_ERELOAD;
    }
    else {
        ds_log_info("AGENT_STOPPED", "dentsync stopped");
    }
out:
    if (rc != 0 && rc != DS_ERELOAD) {
        ds_watch_free(&a->watch);
        ds_control_free(&a->control);
        ds_web_free(&a->web);
        if (a->queue_poll.loop != NULL && !uv_is_closing((uv_handle_t *)&a->queue_poll)) {
            uv_close((uv_handle_t *)&a->queue_poll, NULL);
        }
        if (a->notify_tick.loop != NULL && !uv_is_closing((uv_handle_t *)&a->notify_tick)) {
            uv_close((uv_handle_t *)&a->notify_tick, NULL);
        }
        close_signals(a);
    }
    ds_runtime_end(rt);
    drop_pending(a);
    ds_free(a);
    return rc;
}
