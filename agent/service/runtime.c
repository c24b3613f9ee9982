/*
 * runtime.c — the start-up sequence and the orderly shutdown shared by
 * `dentsync run` and `dentsync import` without a running agent
 * (runtime.h). There is one way to start working on a queue, so no
 * command writes to a queue that `dentsync run` would refuse: the lock,
 * the damage check before recovery's first write, and the sweep come in
 * the same order for both.
 */
#include "agent/service/runtime.h"

#include "agent/core/log.h"
#include "agent/service/dispose.h"
#include "agent/upload/http.h"
#include "state/store_admin.h"

#include "agent/os/os_fs.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Takes the state directory's lock (state_dir/agent.lock, ds_os_lock_file):
 * one process doing the agent's work per queue. *fd receives the descriptor.
 * DS_EBUSY, with err naming the directory, when another one holds it. */
static int lock_state(const struct ds_config *cfg, int *fd, struct ds_error *err)
{
    char path[4096];
    int lfd;
    int e;

    *fd = -1;
    e = ds_os_mkdir(cfg->state_dir, 1);
    if (e != 0) {
        return ds_error_set(err, DS_EIO, "cannot create state_dir %s: %s", cfg->state_dir,
                            strerror(e));
    }
    if (snprintf(path, sizeof(path), "%s/agent.lock", cfg->state_dir) >= (int)sizeof(path)) {
        return ds_error_set(err, DS_ETOOBIG, "state_dir is too long");
    }
    lfd = ds_os_lock_file(path);
    if (lfd < 0 && errno == EBUSY) {
        return ds_error_set(err, DS_EBUSY,
                            "another dentsync is already running on the state directory %s",
                            cfg->state_dir);
    }
    if (lfd < 0) {
        return ds_error_set(err, DS_EIO, "cannot open %s: %s", path, strerror(errno));
    }
    *fd = lfd;
    return 0;
}

/* Whether the lock rt holds is state_dir's: the same file, however the
 * directory is spelled. */
static int holds_lock_of(const struct ds_runtime *rt, const char *state_dir)
{
    char path[4096];

    if (snprintf(path, sizeof(path), "%s/agent.lock", state_dir) >= (int)sizeof(path)) {
        return 0;
    }
    return ds_os_same_file(rt->lock_fd, path);
}

/* Creates the state directory (readable by the agent's group) if it is
 * missing, and reads the installation's agent id from state_dir/agent-id,
 * creating it (private) on first use. */
static int prepare_state(const struct ds_config *cfg, char agent_id[DS_UUID_LEN],
                         struct ds_error *err)
{
    char path[4096];
    char buf[64];
    ssize_t n;
    int fd;
    int e;

    e = ds_os_mkdir(cfg->state_dir, 1);
    if (e != 0) {
        return ds_error_set(err, DS_EIO, "cannot create state_dir %s: %s", cfg->state_dir,
                            strerror(e));
    }
    snprintf(path, sizeof(path), "%s/agent-id", cfg->state_dir);
    fd = ds_os_open_read(path);
    if (fd >= 0) {
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n >= 36) {
            memcpy(agent_id, buf, 36);
            agent_id[36] = '\0';
            return 0;
        }
    }
    if (ds_uuid_v4(agent_id) != 0) {
        return ds_error_set(err, DS_EIO, "cannot make an agent id");
    }
    fd = ds_os_create_private(path, DS_OS_TRUNC);
    if (fd < 0 || write(fd, agent_id, 36) != 36 || ds_os_fsync(fd) != 0) {
        if (fd >= 0) {
            close(fd);
        }
        return ds_error_set(err, DS_EIO, "cannot write %s: %s", path, strerror(errno));
    }
    close(fd);
    return 0;
}

/* Opens the queue, refuses it when damaged, then lets recovery write. */
static int open_queue(struct ds_runtime *rt, struct ds_error *err)
{
    char queue[4096];
    int restaged = 0;
    int requeued = 0;
    int rc;

    rc = ds_config_queue_path(rt->cfg, queue, sizeof(queue));
    if (rc != 0) {
        return ds_error_set(err, rc, "state_dir is too long");
    }
    rc = ds_store_open(queue, &rt->store, err);
    if (rc == 0) {
        rc = ds_store_check(rt->store, err);
    }
    if (rc != 0) {
        return rc;
    }
    rc = ds_store_recover(rt->store, &restaged, &requeued);
    if (rc != 0) {
        return ds_error_set(err, rc, "cannot recover the queue at start");
    }
    if (restaged > 0 || requeued > 0) {
        ds_log_info("RECOVERY",
                    "recovery: %d interrupted ingest(s) to redo, %d batch(es) to resend", restaged,
                    requeued);
    }
    return 0;
}

/* The cloud completed a job: what the folder wants done with its file. */
static void on_job_done(void *ctx, const char *job_id)
{
    struct ds_runtime *rt = ctx;

    rt->dispose_busy += ds_dispose_job(rt->store, rt->cfg, job_id);
}

void ds_runtime_init(struct ds_runtime *rt)
{
    memset(rt, 0, sizeof(*rt));
    rt->lock_fd = -1;
    atomic_init(&rt->stop, 0);
}

int ds_runtime_start(struct ds_runtime *rt, const struct ds_config *cfg, struct ds_error *err)
{
    int rc = 0;

    rt->cfg = cfg;
    atomic_store(&rt->stop, 0);
    if (rt->lock_fd < 0) {
        rc = lock_state(cfg, &rt->lock_fd, err);
    }
    else if (!holds_lock_of(rt, cfg->state_dir)) {
        rc = ds_error_set(err, DS_EINVAL,
                          "state_dir %s is not the directory this process holds locked; "
                          "restart to move it",
                          cfg->state_dir);
    }
    if (rc == 0 && !rt->http) {
        rc = ds_http_global_init() == 0 ? 0 : ds_error_set(err, DS_EIO, "cannot set up libcurl");
        rt->http = rc == 0;
    }
    if (rc == 0) {
        rc = prepare_state(cfg, rt->agent_id, err);
    }
    if (rc == 0) {
        rc = open_queue(rt, err);
    }
    if (rc != 0) {
        goto out;
    }
    rt->dispose_busy = ds_dispose_sweep(rt->store, cfg);
    ds_store_set_budget(rt->store, (int64_t)cfg->max_queue_mb * 1024 * 1024);
    rc = uv_loop_init(&rt->loop);
    if (rc != 0) {
        rc = ds_error_set(err, DS_ENOMEM, "cannot start the event loop: %s", uv_strerror(rc));
        goto out;
    }
    rt->loop_open = 1;
    rc = ds_upload_new(&rt->loop, cfg, rt->store, rt->agent_id, on_job_done, rt, &rt->up, err);
out:
    if (rc != 0) {
        ds_runtime_end(rt);
    }
    return rc;
}

void ds_runtime_task(struct ds_runtime *rt, struct ds_ingest_task *t,
                     const struct ds_folder_conf *folder, const char *path,
                     const struct ds_file_id *id)
{
    t->cfg = rt->cfg;
    t->folder = folder;
    snprintf(t->path, sizeof(t->path), "%s", path);
    t->size = id->size;
    t->mtime_ns = id->mtime_ns;
    t->dev = id->dev;
    t->ino = id->ino;
    t->stop = &rt->stop;
}

void ds_runtime_stop(struct ds_runtime *rt)
{
    ds_upload_free(&rt->up);
}

void ds_runtime_end(struct ds_runtime *rt)
{
    ds_runtime_stop(rt);
    if (rt->loop_open) {
        uv_run(&rt->loop, UV_RUN_DEFAULT);
        uv_loop_close(&rt->loop);
        rt->loop_open = 0;
    }
    ds_store_close(&rt->store);
}

void ds_runtime_close(struct ds_runtime *rt)
{
    ds_runtime_end(rt);
    if (rt->lock_fd >= 0) {
        close(rt->lock_fd); /* the lock goes with it */
        rt->lock_fd = -1;
    }
    if (rt->http) {
        ds_http_global_cleanup();
        rt->http = 0;
    }
}

int ds_runtime_reload_ok(const struct ds_runtime *rt, const struct ds_config *next)
{
    if (rt->lock_fd < 0 || holds_lock_of(rt, next->state_dir)) {
        return 1;
    }
    ds_log_warn("STATE_DIR_CHANGED",
                "%s moves state_dir to %s: a running agent keeps its queue, lock and control "
                "socket in %s; still running with the previous configuration (restart the "
                "service to move state_dir)",
                next->path, next->state_dir, rt->cfg != NULL ? rt->cfg->state_dir : "?");
    return 0;
}
