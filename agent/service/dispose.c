/*
 * dispose.c — after-delivery and quarantine moves (see dispose.h).
 *
 * Moves are rename(2) within the file system, followed by an fsync of both
 * directories, so a power cut leaves the file in exactly one of the two
 * places. A destination name that is taken gets the file's queue id as a
 * suffix. The .error.txt is written to a temporary name, fsynced and
 * renamed, and holds the reason code and message recorded by the queue:
 * a file name, row, field and the kind of problem, never a value.
 *
 * Whoever can write into the export folder could plant a link where the
 * agent writes (the quarantine folder, or NAME.error.txt.tmp inside it) to
 * make it overwrite a file of its own, such as the queue. So the agent
 * makes these folders itself (0700), refuses one that is a link, not a
 * directory or another user's (DISPOSE_DIR_UNSAFE: the file stays where it
 * is, nothing is written), and does every create, rename and unlink
 * relative to the open folders' descriptors, creating files exclusively
 * and never following a link (agent/core/fsafe.h).
 *
 * On Windows a program that still has a delivered export open (without
 * FILE_SHARE_DELETE) makes its move or delete fail with EBUSY: that is
 * said once, when the job completes (FILE_DISPOSE_BUSY), and the sweep
 * tries again quietly until the file is let go.
 *
 * What is moved aside is patient data at rest: the sweep deletes the files
 * of both folders (exports and their reasons alike) once they are older
 * than retention_days by their modification time, relative to the folder's
 * descriptor. Only regular files the agent's user owns are deleted; a link,
 * a folder or another user's file is left as it is, and a folder that is a
 * link or another user's is not entered. The log says how many, and which
 * names, never what they hold.
 */
#include "agent/service/dispose.h"

#include "agent/core/buf.h"
#include "agent/core/clock.h"
#include "agent/core/fsafe.h"
#include "agent/core/log.h"
#include "agent/os/os_fs.h"
#include "state/store_status.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define SECONDS_PER_DAY 86400.0

struct ctx {
    const struct ds_config *cfg; /* borrow */
    struct ds_store *st;         /* borrow */
    int sweep;                   /* 1 in the sweep: a file still held is not said again */
    int busy;                    /* delivered files still held by another program */
};

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');

    return slash != NULL ? slash + 1 : path;
}

/* Still the file that was read? It is looked at inside the open export
 * folder without following a link. */
static int unchanged(int from, const struct ds_file_row *f)
{
    struct ds_file_id id;

    return ds_fsafe_stat_at(from, base_name(f->path), &id) == 0 && id.size == f->size &&
           id.mtime_ns == f->mtime_ns;
}

static void parent_of(const char *path, char *buf, size_t size)
{
    const char *slash = strrchr(path, '/');

    if (slash == NULL) {
        ds_str_copy(buf, size, ".");
        return;
    }
    snprintf(buf, size, "%.*s", slash == path ? 1 : (int)(slash - path), path);
}

/* Whether path lies directly in the folder. A file given to `dentsync
 * import` from elsewhere is the person's own: never moved or deleted. */
static int in_folder(const struct ds_folder_conf *folder, const char *path)
{
    size_t n = strlen(folder->path);
    const char *slash = strrchr(path, '/');

    size_t m;

    if (slash == NULL) {
        return 0;
    }
    m = (size_t)(slash - path);
    while (n > 1 && folder->path[n - 1] == '/') {
        n--;
    }
    while (m > 1 && path[m - 1] == '/') {
        m--;
    }
    return m == n && strncmp(path, folder->path, n) == 0;
}

/*
 * Opens the folder a file is moved into: dir (an admin's setting), or
 * default_sub inside the export folder. Its last component is opened
 * inside its parent's descriptor without following a link, created 0700
 * when absent, and refused when it is a link, not a directory, or another
 * user's (ds_fsafe_subdir). Returns the descriptor, or -1 with *why set.
 */
static int open_target(int from, const char *dir, const char *default_sub, int *why)
{
    char parent[4096];
    int pfd;
    int fd;

    if (dir == NULL) {
        return ds_fsafe_subdir(from, default_sub, why);
    }
    parent_of(dir, parent, sizeof(parent));
    pfd = ds_os_open_dir(parent, 1, why);
    if (pfd < 0) {
        *why = DS_FSAFE_ERROR;
        return -1;
    }
    fd = ds_fsafe_subdir(pfd, base_name(dir), why);
    close(pfd);
    return fd;
}

/* Renames f from the export folder (from) into the folder to, under its
 * name or, when that is taken, its name with the queue id as a suffix;
 * the name given is written into name. 0, or an errno. */
static int move_into(int from, int to, const struct ds_file_row *f, char *name, size_t size)
{
    int e;

    if (snprintf(name, size, "%s", base_name(f->path)) >= (int)size) {
        return ENAMETOOLONG;
    }
    if (ds_fsafe_exists(to, name) &&
        snprintf(name, size, "%s.%lld", base_name(f->path), (long long)f->id) >= (int)size) {
        return ENAMETOOLONG;
    }
    e = ds_fsafe_rename(from, base_name(f->path), to, name);
    if (e != 0) {
        return e;
    }
    ds_fsafe_sync_dir(from);
    ds_fsafe_sync_dir(to);
    return 0;
}

/* NAME.error.txt beside the quarantined file, written whole or not at all,
 * inside the quarantine folder's descriptor: the temporary name is created
 * exclusively (a planted entry of that name is removed, never followed). */
static void write_reason(int to, const struct ds_file_row *f, const char *dest)
{
    char name[400];
    char tmp[420];
    FILE *fp;
    int fd;

    if (snprintf(name, sizeof(name), "%s.error.txt", dest) >= (int)sizeof(name) ||
        snprintf(tmp, sizeof(tmp), "%s.error.txt.tmp", dest) >= (int)sizeof(tmp)) {
        return;
    }
    fd = ds_fsafe_create(to, tmp);
    if (fd < 0) {
        return;
    }
    fp = fdopen(fd, "w");
    if (fp == NULL) {
        close(fd);
        return;
    }
    fprintf(fp,
            "dentsync could not import this file.\n\n"
            "file:   %s\n"
            "code:   %s\n"
            "reason: %s\n\n"
            "Fix the export (or the folder's template) and drop the file into the folder "
            "again.\n",
            base_name(f->path), f->reason_code != NULL ? f->reason_code : "UNKNOWN",
            f->reason != NULL ? f->reason : "(none recorded)");
    fflush(fp);
    ds_os_fsync(fd);
    fclose(fp);
    if (ds_fsafe_rename(to, tmp, to, name) != 0) {
        ds_fsafe_unlink(to, tmp);
    }
    ds_fsafe_sync_dir(to);
}

/* A folder the agent would move into that it must not use: the file stays
 * where it is, nothing is written, and the log and the audit trail say why
 * (DISPOSE_DIR_UNSAFE). */
static void refuse_target(struct ctx *c, const struct ds_file_row *f, const char *what, int why)
{
    ds_log_error("DISPOSE_DIR_UNSAFE",
                 "%s: left in place: its %s folder is %s; nothing is written there until an "
                 "admin replaces it",
                 f->path, what, ds_fsafe_why_text(why));
    ds_store_event(c->st, "dispose_dir_unsafe", f->id, NULL, 0, "DISPOSE_DIR_UNSAFE", what);
}

/* Opens the export folder f lies in, without following a link; says why
 * under code when it cannot. */
static int open_source(const struct ds_folder_conf *folder, const struct ds_file_row *f,
                       const char *code)
{
    int why = 0;
    int fd = ds_fsafe_open_dir(folder->path, &why);

    if (fd < 0) {
        ds_log_warn(code, "%s: left in place: its folder cannot be opened (%s)", f->path,
                    ds_fsafe_why_text(why));
    }
    return fd;
}

/*
 * Moves f from the export folder (from) into the folder `what`
 * ("quarantine", "processed"; dir is the admin's setting or NULL): 0 with
 * *to open on that folder and the name given in dest; -1 when the folder is
 * refused (and said so); or an errno.
 */
static int move_aside(struct ctx *c, int from, const struct ds_file_row *f, const char *dir,
                      const char *what, int *to, char *dest, size_t size)
{
    int why = 0;

    *to = open_target(from, dir, what, &why);
    if (*to < 0 && why != DS_FSAFE_ERROR && why != DS_FSAFE_GONE) {
        refuse_target(c, f, what, why);
        return -1;
    }
    return *to < 0 ? EACCES : move_into(from, *to, f, dest, size);
}

static int quarantine_one(void *arg, const struct ds_file_row *f)
{
    struct ctx *c = arg;
    const struct ds_folder_conf *folder = ds_config_folder(c->cfg, f->folder);
    char dest[300];
    int from = -1;
    int to = -1;
    int e;

    if (folder == NULL || !in_folder(folder, f->path)) {
        return 0;
    }
    from = open_source(folder, f, "QUARANTINE_MOVE_FAILED");
    if (from < 0 || !unchanged(from, f)) {
        goto out;
    }
    e = move_aside(c, from, f, folder->quarantine_dir, "quarantine", &to, dest, sizeof(dest));
    if (e > 0) {
        ds_log_warn("QUARANTINE_MOVE_FAILED",
                    "%s: quarantined but left in place (%s); it is not taken again until it "
                    "changes",
                    f->path, strerror(e));
    }
    if (e != 0) {
        goto out;
    }
    write_reason(to, f, dest);
    ds_log_info("FILE_QUARANTINE_MOVED", "%s: moved to the quarantine folder as %s with its reason",
                f->path, dest);
    ds_store_event(c->st, "file_quarantine_moved", f->id, NULL, 0, f->reason_code, NULL);
out:
    if (to >= 0) {
        close(to);
    }
    if (from >= 0) {
        close(from);
    }
    return 0;
}

/* A delivered file another program holds open against a move or delete:
 * counted for a sooner sweep, said once (not again by the sweep). */
static void held_open(struct ctx *c, const struct ds_file_row *f)
{
    c->busy++;
    if (!c->sweep) {
        ds_log_warn("FILE_DISPOSE_BUSY",
                    "%s: delivered, but another program still has it open; it is moved or "
                    "deleted once it is let go",
                    f->path);
    }
}

static int deliver_one(void *arg, const struct ds_file_row *f)
{
    struct ctx *c = arg;
    const struct ds_folder_conf *folder = ds_config_folder(c->cfg, f->folder);
    char dest[300];
    int from = -1;
    int to = -1;
    int e;

    if (folder == NULL || folder->after == DS_AFTER_LEAVE || strcmp(f->state, "done") != 0 ||
        !in_folder(folder, f->path)) {
        return 0;
    }
    from = open_source(folder, f, "FILE_DISPOSE_FAILED");
    if (from < 0 || !unchanged(from, f)) {
        goto out;
    }
    if (folder->after == DS_AFTER_DELETE) {
        e = ds_fsafe_unlink(from, base_name(f->path));
        if (e == EBUSY) {
            held_open(c, f);
            goto out;
        }
        if (e != 0) {
            ds_log_warn("FILE_DISPOSE_FAILED", "%s: delivered, but cannot delete it: %s", f->path,
                        strerror(e));
            goto out;
        }
        ds_fsafe_sync_dir(from);
        ds_log_info("FILE_DELETED", "%s: delivered and deleted", f->path);
        ds_store_event(c->st, "file_deleted", f->id, NULL, 0, NULL, NULL);
        goto out;
    }
    e = move_aside(c, from, f, folder->processed_dir, "processed", &to, dest, sizeof(dest));
    if (e == EBUSY) {
        held_open(c, f);
    }
    else if (e > 0) {
        ds_log_warn("FILE_DISPOSE_FAILED", "%s: delivered, but cannot move it aside: %s", f->path,
                    strerror(e));
    }
    if (e != 0) {
        goto out;
    }
    ds_log_info("FILE_MOVED", "%s: delivered and moved to the processed folder as %s", f->path,
                dest);
    ds_store_event(c->st, "file_moved", f->id, NULL, 0, NULL, NULL);
out:
    if (to >= 0) {
        close(to);
    }
    if (from >= 0) {
        close(from);
    }
    return 0;
}

static int quarantine_if_id(void *arg, const struct ds_file_row *f);

struct id_ctx {
    struct ctx c;
    int64_t id;
};

static int quarantine_if_id(void *arg, const struct ds_file_row *f)
{
    struct id_ctx *ic = arg;

    return f->id == ic->id ? quarantine_one(&ic->c, f) : 0;
}

int ds_dispose_job(struct ds_store *st, const struct ds_config *cfg, const char *job_id)
{
    struct ctx c = {cfg, st, 0, 0};

    ds_store_file_of_job(st, job_id, deliver_one, &c);
    return c.busy;
}

void ds_dispose_quarantined(struct ds_store *st, const struct ds_config *cfg, int64_t file_id)
{
    struct id_ctx ic = {{cfg, st, 0, 0}, file_id};

    ds_store_files_in_state(st, "quarantined", quarantine_if_id, &ic);
}

/* ---- retention of what was moved aside ---------------------------------------- */

/* What one folder's expiry deletes and counts. */
struct expiry {
    const char *folder; /* the export folder, for the log */
    const char *what;   /* "quarantine" or "processed" */
    long n;             /* files deleted */
};

static void expire_one(int dir, const char *name, void *arg)
{
    struct expiry *x = arg;
    int err = ds_fsafe_unlink(dir, name);

    if (err != 0) {
        ds_log_warn("RETENTION_SWEEP_FAILED", "%s: cannot delete %s from its %s folder: %s",
                    x->folder, name, x->what, strerror(err));
        return;
    }
    ds_log_info("FILE_EXPIRED", "%s: %s deleted from its %s folder (past retention_days)",
                x->folder, name, x->what);
    x->n++;
}

/* Deletes, inside the open folder dir, the regular files of the agent's
 * user last modified before cutoff; a link or anything else is looked at
 * without being followed and left alone. The number deleted. */
static long expire_in(int dir, const char *folder, const char *what, double cutoff)
{
    struct expiry x = {folder, what, 0};
    int err = ds_fsafe_each_old(dir, cutoff, expire_one, &x);

    if (err != 0) {
        ds_log_warn("RETENTION_SWEEP_FAILED", "%s: cannot list its %s folder: %s", folder, what,
                    strerror(err));
        return 0;
    }
    if (x.n > 0) {
        ds_fsafe_sync_dir(dir);
    }
    return x.n;
}

/* The folder `what` of an export folder (from), when it exists: opened as
 * the moves open it, never created here. -1 when absent or refused. */
static int open_existing(int from, const char *dir, const char *what)
{
    int why = 0;

    if (!(dir == NULL ? ds_fsafe_exists(from, what) : ds_fsafe_exists(-1, dir))) {
        return -1;
    }
    return open_target(from, dir, what, &why);
}

static void expire_folder(struct ds_store *st, const struct ds_folder_conf *folder, double cutoff)
{
    static const char *const what[2] = {"quarantine", "processed"};
    const char *dirs[2] = {folder->quarantine_dir, folder->processed_dir};
    char detail[64];
    int why = 0;
    int from = ds_fsafe_open_dir(folder->path, &why);

    if (from < 0) {
        return;
    }
    for (int i = 0; i < 2; i++) {
        int to = open_existing(from, dirs[i], what[i]);
        long n;

        if (to < 0) {
            continue;
        }
        n = expire_in(to, folder->path, what[i], cutoff);
        close(to);
        if (n > 0) {
            ds_log_info("RETENTION_SWEEP",
                        "%s: %ld file(s) past retention_days deleted from its %s "
                        "folder",
                        folder->path, n, what[i]);
            snprintf(detail, sizeof(detail), "%ld file(s) from %s", n, what[i]);
            ds_store_event(st, "files_expired", 0, NULL, 0, NULL, detail);
        }
    }
    close(from);
}

void ds_dispose_expire(struct ds_store *st, const struct ds_config *cfg, double now)
{
    double cutoff = now - cfg->retention_days * SECONDS_PER_DAY;

    for (size_t i = 0; i < cfg->nfolders; i++) {
        expire_folder(st, &cfg->folders[i], cutoff);
    }
}

int ds_dispose_sweep(struct ds_store *st, const struct ds_config *cfg)
{
    struct ctx c = {cfg, st, 1, 0};

    ds_store_files_in_state(st, "done", deliver_one, &c);
    ds_store_files_in_state(st, "quarantined", quarantine_one, &c);
    ds_dispose_expire(st, cfg, ds_clock_now());
    return c.busy;
}
