/*
 * dispose.c — after-delivery and quarantine moves (see dispose.h).
 *
 * Moves are rename(2) within the file system, followed by an fsync of both
 * directories, so a power cut leaves the file in exactly one of the two
 * places. A destination name that is taken gets the file's queue id as a
 * suffix. The .error.txt is written to a temporary name, fsynced and
 * renamed, and holds the reason code and message recorded by the queue:
 * a file name, row, field and the kind of problem, never a value.
 */
#include "agent/service/dispose.h"

#include "agent/core/buf.h"
#include "agent/core/log.h"
#include "state/store_status.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct ctx {
    const struct ds_config *cfg; /* borrow */
    struct ds_store *st;         /* borrow */
};

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');

    return slash != NULL ? slash + 1 : path;
}

/* Still the file that was read? */
static int unchanged(const struct ds_file_row *f)
{
    struct stat sb;

    return stat(f->path, &sb) == 0 && (int64_t)sb.st_size == f->size &&
           (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec == f->mtime_ns;
}

static void fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

static void parent_of(const char *path, char *buf, size_t size)
{
    const char *slash = strrchr(path, '/');

    if (slash == NULL) {
        ds_str_copy(buf, size, ".");
        return;
    }
    snprintf(buf, size, "%.*s", (int)(slash - path), path);
}

/* dir, or folder/default_sub when dir is NULL. */
static void target_dir(const struct ds_folder_conf *folder, const char *dir, const char *sub,
                       char *buf, size_t size)
{
    if (dir != NULL) {
        ds_str_copy(buf, size, dir);
    }
    else {
        snprintf(buf, size, "%s/%s", folder->path, sub);
    }
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

/* Renames f into dir; the final path is written into dest. 0, or an errno. */
static int move_into(const struct ds_file_row *f, const char *dir, char *dest, size_t size)
{
    char from_dir[4096];
    struct stat sb;

    if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
        return errno;
    }
    if (snprintf(dest, size, "%s/%s", dir, base_name(f->path)) >= (int)size) {
        return ENAMETOOLONG;
    }
    if (lstat(dest, &sb) == 0 && snprintf(dest, size, "%s/%s.%lld", dir, base_name(f->path),
                                          (long long)f->id) >= (int)size) {
        return ENAMETOOLONG;
    }
    if (rename(f->path, dest) != 0) {
        return errno;
    }
    parent_of(f->path, from_dir, sizeof(from_dir));
    fsync_dir(from_dir);
    fsync_dir(dir);
    return 0;
}

/* NAME.error.txt beside the quarantined file, written whole or not at all. */
static void write_reason(const struct ds_file_row *f, const char *dest)
{
    char path[4200];
    char tmp[4300];
    FILE *fp;
    int fd;

    if (snprintf(path, sizeof(path), "%s.error.txt", dest) >= (int)sizeof(path) ||
        snprintf(tmp, sizeof(tmp), "%s.error.txt.tmp", dest) >= (int)sizeof(tmp)) {
        return;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
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
    fsync(fd);
    fclose(fp);
    if (rename(tmp, path) != 0) {
        unlink(tmp);
    }
}

static int quarantine_one(void *arg, const struct ds_file_row *f)
{
    struct ctx *c = arg;
    const struct ds_folder_conf *folder = ds_config_folder(c->cfg, f->folder);
    char dir[4096];
    char dest[4400];
    int e;

    if (folder == NULL || !in_folder(folder, f->path) || !unchanged(f)) {
        return 0;
    }
    target_dir(folder, folder->quarantine_dir, "quarantine", dir, sizeof(dir));
    e = move_into(f, dir, dest, sizeof(dest));
    if (e != 0) {
        ds_log_warn("QUARANTINE_MOVE_FAILED",
                    "%s: quarantined but left in place (%s); it is not taken again until it "
                    "changes",
                    f->path, strerror(e));
        return 0;
    }
    write_reason(f, dest);
    ds_log_info("FILE_QUARANTINE_MOVED", "%s: moved to %s with its reason", f->path, dest);
    ds_store_event(c->st, "file_quarantine_moved", f->id, NULL, 0, f->reason_code, NULL);
    return 0;
}

static int deliver_one(void *arg, const struct ds_file_row *f)
{
    struct ctx *c = arg;
    const struct ds_folder_conf *folder = ds_config_folder(c->cfg, f->folder);
    char dir[4096];
    char dest[4400];
    int e;

    if (folder == NULL || folder->after == DS_AFTER_LEAVE || strcmp(f->state, "done") != 0 ||
        !in_folder(folder, f->path) || !unchanged(f)) {
        return 0;
    }
    if (folder->after == DS_AFTER_DELETE) {
        if (unlink(f->path) != 0) {
            ds_log_warn("FILE_DISPOSE_FAILED", "%s: delivered, but cannot delete it: %s", f->path,
                        strerror(errno));
            return 0;
        }
        parent_of(f->path, dir, sizeof(dir));
        fsync_dir(dir);
        ds_log_info("FILE_DELETED", "%s: delivered and deleted", f->path);
        ds_store_event(c->st, "file_deleted", f->id, NULL, 0, NULL, NULL);
        return 0;
    }
    target_dir(folder, folder->processed_dir, "processed", dir, sizeof(dir));
    e = move_into(f, dir, dest, sizeof(dest));
    if (e != 0) {
        ds_log_warn("FILE_DISPOSE_FAILED", "%s: delivered, but cannot move it to %s: %s", f->path,
                    dir, strerror(e));
        return 0;
    }
    ds_log_info("FILE_MOVED", "%s: delivered and moved to %s", f->path, dest);
    ds_store_event(c->st, "file_moved", f->id, NULL, 0, NULL, NULL);
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

void ds_dispose_job(struct ds_store *st, const struct ds_config *cfg, const char *job_id)
{
    struct ctx c = {cfg, st};

    ds_store_file_of_job(st, job_id, deliver_one, &c);
}

void ds_dispose_quarantined(struct ds_store *st, const struct ds_config *cfg, int64_t file_id)
{
    struct id_ctx ic = {{cfg, st}, file_id};

    ds_store_files_in_state(st, "quarantined", quarantine_if_id, &ic);
}

void ds_dispose_sweep(struct ds_store *st, const struct ds_config *cfg)
{
    struct ctx c = {cfg, st};

    ds_store_files_in_state(st, "done", deliver_one, &c);
    ds_store_files_in_state(st, "quarantined", quarantine_one, &c);
}
