/*
 * os_fs_posix.c — the file system on Linux (see os_fs.h).
 *
 * A file is opened with O_NOFOLLOW (a link in the last component fails
 * with ELOOP) and O_NONBLOCK (a FIFO does not wait for a writer), then
 * O_NONBLOCK is cleared and fstat decides what was opened. Inside a
 * directory the agent writes to, everything is relative to the directory's
 * descriptor (openat, renameat, unlinkat), so renaming or replacing a
 * parent on the way cannot send a write elsewhere. A second reader of a
 * file opens /proc/self/fd/N: the kernel resolves that to the inode fd
 * holds, not to whatever the name now points at. Nothing here ever says
 * DS_FSAFE_BUSY or EBUSY for a held file: POSIX has no mandatory sharing
 * modes, the watcher's settling (size and mtime unchanged) covers a writer.
 */
#include "agent/os/os_fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <unistd.h>

static void set_why(int *why, int v)
{
    if (why != NULL) {
        *why = v;
    }
}

static int why_of_errno(int e)
{
    if (e == ENOENT) {
        return DS_FSAFE_GONE;
    }
    if (e == ELOOP) {
        return DS_FSAFE_LINK;
    }
    if (e == ENOTDIR) {
        return DS_FSAFE_NOT_DIR;
    }
    return DS_FSAFE_ERROR;
}

static void id_of(const struct stat *sb, struct ds_file_id *id)
{
    id->dev = (int64_t)sb->st_dev;
    id->ino = (int64_t)sb->st_ino;
    id->size = (int64_t)sb->st_size;
    id->mtime_ns = (int64_t)sb->st_mtim.tv_sec * 1000000000 + sb->st_mtim.tv_nsec;
}

int ds_os_fd_id(int fd, struct ds_file_id *id)
{
    struct stat sb;

    if (fstat(fd, &sb) != 0) {
        return -1;
    }
    id_of(&sb, id);
    return 0;
}

int ds_os_open_file(const char *path, int follow, struct ds_file_id *id, int *why)
{
    struct stat sb;
    int flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | (follow ? 0 : O_NOFOLLOW);
    int fd = open(path, flags);

    set_why(why, DS_FSAFE_OK);
    if (fd < 0) {
        set_why(why, why_of_errno(errno));
        return -1;
    }
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) ||
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0) {
        set_why(why, DS_FSAFE_NOT_FILE);
        close(fd);
        return -1;
    }
    if (id != NULL) {
        id_of(&sb, id);
    }
    return fd;
}

int ds_os_stat_file(const char *path, struct ds_file_id *id, int *why)
{
    struct stat sb;

    if (lstat(path, &sb) != 0) {
        set_why(why, why_of_errno(errno));
        return -1;
    }
    if (!S_ISREG(sb.st_mode)) {
        set_why(why, S_ISLNK(sb.st_mode) ? DS_FSAFE_LINK : DS_FSAFE_NOT_FILE);
        return -1;
    }
    id_of(&sb, id);
    set_why(why, DS_FSAFE_OK);
    return 0;
}

int ds_os_stat_follow(const char *path, struct ds_file_id *id)
{
    struct stat sb;

    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        return -1;
    }
    id_of(&sb, id);
    return 0;
}

void ds_os_fd_path(int fd, char *buf, size_t size)
{
    snprintf(buf, size, "/proc/self/fd/%d", fd);
}

int ds_os_reopen(int fd)
{
    struct stat a;
    struct stat b;
    char path[64];
    int nfd;

    ds_os_fd_path(fd, path, sizeof(path));
    nfd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (nfd < 0) {
        return -1;
    }
    if (fstat(fd, &a) != 0 || fstat(nfd, &b) != 0 || a.st_dev != b.st_dev || a.st_ino != b.st_ino ||
        !S_ISREG(b.st_mode) || fcntl(nfd, F_SETFL, fcntl(nfd, F_GETFL) & ~O_NONBLOCK) != 0) {
        close(nfd);
        return -1;
    }
    return nfd;
}

int ds_os_open_dir(const char *path, int follow, int *why)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW));
    struct stat sb;

    if (fd < 0) {
        int e = errno;

        set_why(why,
                lstat(path, &sb) == 0 && S_ISLNK(sb.st_mode) ? DS_FSAFE_LINK : why_of_errno(e));
        return -1;
    }
    set_why(why, DS_FSAFE_OK);
    return fd;
}

int ds_os_subdir(int dirfd, const char *name, int *why)
{
    struct stat sb;
    int fd;

    if (mkdirat(dirfd, name, 0700) != 0 && errno != EEXIST) {
        set_why(why, why_of_errno(errno));
        return -1;
    }
    fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        /* Linux says ENOTDIR for a link as for a file: look at which. */
        int e = errno;

        set_why(why, fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(sb.st_mode)
                         ? DS_FSAFE_LINK
                         : why_of_errno(e));
        return -1;
    }
    if (fstat(fd, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        set_why(why, DS_FSAFE_NOT_DIR);
        close(fd);
        return -1;
    }
    if (sb.st_uid != geteuid() || (sb.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        set_why(why, DS_FSAFE_NOT_OWNER);
        close(fd);
        return -1;
    }
    set_why(why, DS_FSAFE_OK);
    return fd;
}

int ds_os_create_at(int dirfd, const char *name)
{
    if (unlinkat(dirfd, name, 0) != 0 && errno != ENOENT) {
        return -1;
    }
    return openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
}

int ds_os_create_new_at(int dirfd, const char *name)
{
    return openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
}

int ds_os_exists(int dirfd, const char *name)
{
    struct stat sb;

    return fstatat(dirfd >= 0 ? dirfd : AT_FDCWD, name, &sb, AT_SYMLINK_NOFOLLOW) == 0;
}

int ds_os_each_old(int dirfd, double cutoff, void (*fn)(int dirfd, const char *name, void *ctx),
                   void *ctx)
{
    struct dirent *e;
    struct stat sb;
    int fd = dup(dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    int err = errno;

    if (d == NULL) {
        if (fd >= 0) {
            close(fd);
        }
        return err;
    }
    while ((e = readdir(d)) != NULL) {
        if (fstatat(dirfd, e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(sb.st_mode) ||
            sb.st_uid != geteuid() ||
            (double)sb.st_mtim.tv_sec + (double)sb.st_mtim.tv_nsec / 1e9 >= cutoff) {
            continue;
        }
        fn(dirfd, e->d_name, ctx);
    }
    closedir(d);
    return 0;
}

int ds_os_stat_at(int dirfd, const char *name, struct ds_file_id *id)
{
    struct stat sb;

    if (fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(sb.st_mode)) {
        return -1;
    }
    id_of(&sb, id);
    return 0;
}

int ds_os_rename_at(int from_dir, const char *from, int to_dir, const char *to)
{
    return renameat(from_dir, from, to_dir, to) == 0 ? 0 : errno;
}

int ds_os_unlink_at(int dirfd, const char *name)
{
    return unlinkat(dirfd, name, 0) == 0 ? 0 : errno;
}

void ds_os_sync_dir(int dirfd)
{
    if (dirfd >= 0) {
        fsync(dirfd);
    }
}

/* ---- the agent's own files, by path ----------------------------------------- */

int ds_os_create_private(const char *path, int flags)
{
    int oflags = O_WRONLY | O_CREAT | O_CLOEXEC;

    if (flags & DS_OS_EXCL) {
        oflags |= O_EXCL;
    }
    if (flags & DS_OS_TRUNC) {
        oflags |= O_TRUNC;
    }
    if (flags & DS_OS_APPEND) {
        oflags |= O_APPEND;
    }
    return open(path, oflags, 0600);
}

int ds_os_fd_private(int fd)
{
    struct stat sb;

    if (fstat(fd, &sb) != 0) {
        return -1;
    }
    return (sb.st_mode & 077) == 0;
}

#define SHARED_FILE_MODE 0640

int ds_os_create_shared(const char *path, int *why)
{
    struct stat sb;
    int fd;
    int e;

    *why = DS_FSAFE_ERROR;
    if (lstat(path, &sb) == 0) {
        if (S_ISLNK(sb.st_mode)) {
            *why = DS_FSAFE_LINK;
            errno = ELOOP;
            return -1;
        }
        if (!S_ISREG(sb.st_mode)) {
            *why = DS_FSAFE_NOT_FILE;
            errno = EINVAL;
            return -1;
        }
        if ((sb.st_mode & 0777) != SHARED_FILE_MODE && chmod(path, SHARED_FILE_MODE) != 0) {
            return -1;
        }
        *why = DS_FSAFE_OK;
        return 0;
    }
    if (errno != ENOENT) {
        return -1;
    }
    fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 && errno == EEXIST) {
        return ds_os_create_shared(path, why); /* created by another opener meanwhile */
    }
    if (fd < 0) {
        return -1;
    }
    /* Created 0600 (the umask may only narrow it), then given to the group. */
    if (fchmod(fd, SHARED_FILE_MODE) != 0) {
        e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    close(fd);
    *why = DS_FSAFE_OK;
    return 0;
}

void ds_os_share_file(const char *path)
{
    struct stat sb;

    if (lstat(path, &sb) == 0 && S_ISREG(sb.st_mode) && (sb.st_mode & 0777) != SHARED_FILE_MODE) {
        chmod(path, SHARED_FILE_MODE);
    }
}

int ds_os_open_read(const char *path)
{
    return open(path, O_RDONLY | O_CLOEXEC);
}

int ds_os_mkdir(const char *path, int shared)
{
    return mkdir(path, shared ? 0750 : 0700) == 0 || errno == EEXIST ? 0 : errno;
}

int ds_os_path_private(const char *path, unsigned *mode)
{
    struct stat sb;

    *mode = 0;
    if (stat(path, &sb) != 0) {
        return -1;
    }
    *mode = (unsigned)(sb.st_mode & 07777);
    return (sb.st_mode & (S_ISDIR(sb.st_mode) ? 0027 : 0037)) == 0;
}

int ds_os_secure_dir(const char *path)
{
    struct stat sb;

    if (stat(path, &sb) != 0) {
        return errno;
    }
    return S_ISDIR(sb.st_mode) ? 0 : ENOTDIR;
}

int ds_os_pread(int fd, void *buf, size_t size, int64_t off, size_t *got)
{
    ssize_t n = pread(fd, buf, size, (off_t)off);

    *got = n > 0 ? (size_t)n : 0;
    return n < 0 ? -1 : 0;
}

int ds_os_fsync(int fd)
{
    return fsync(fd) == 0 ? 0 : -1;
}

/* fsync of the directory path lies in. */
static void sync_parent(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    int fd;

    if (slash == NULL) {
        snprintf(dir, sizeof(dir), ".");
    }
    else if (snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path) >=
             (int)sizeof(dir)) {
        return;
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int ds_os_rename(const char *from, const char *to, int replace)
{
    if (replace) {
        if (rename(from, to) != 0) {
            return errno;
        }
    }
    else {
        /* link, not rename: an existing file of that name is never replaced. */
        if (link(from, to) != 0) {
            return errno;
        }
        unlink(from);
    }
    sync_parent(to);
    return 0;
}

int ds_os_realpath(const char *path, char *buf, size_t size)
{
    char full[PATH_MAX];

    if (realpath(path, full) == NULL) {
        return -1;
    }
    if (strlen(full) >= size) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, full, strlen(full) + 1);
    return 0;
}

int ds_os_unlink(const char *path)
{
    return unlink(path) == 0 ? 0 : errno;
}

int ds_os_lock_file(const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

    if (fd < 0) {
        return -1;
    }
    /* flock locks belong to the open file description: a second open of
     * the same file, even in this process, is refused. */
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        errno = EBUSY;
        return -1;
    }
    return fd;
}

int ds_os_same_file(int fd, const char *path)
{
    struct stat held;
    struct stat other;

    return fstat(fd, &held) == 0 && stat(path, &other) == 0 && held.st_dev == other.st_dev &&
           held.st_ino == other.st_ino;
}

/* ---- where things are -------------------------------------------------------- */

unsigned long long ds_os_disk_free(const char *path)
{
    struct statvfs sv;

    if (statvfs(path, &sv) != 0) {
        return 0;
    }
    return (unsigned long long)sv.f_bavail * sv.f_frsize;
}

/* Network file systems by their statfs magic (linux/magic.h). */
#define MAGIC_NFS 0x6969
#define MAGIC_SMB 0x517B
#define MAGIC_CIFS 0xFF534D42
#define MAGIC_SMB2 0xFE534D42
#define MAGIC_CEPH 0x00C36400
#define MAGIC_AFS 0x5346414F

int ds_os_path_kind(const char *path)
{
    struct statfs sf;
    unsigned long t;

    if (statfs(path, &sf) != 0) {
        return DS_OS_PATH_UNKNOWN;
    }
    t = (unsigned long)sf.f_type & 0xFFFFFFFFUL;
    if (t == MAGIC_NFS || t == MAGIC_SMB || t == MAGIC_CIFS || t == MAGIC_SMB2 || t == MAGIC_CEPH ||
        t == MAGIC_AFS) {
        return DS_OS_PATH_SHARE;
    }
    return DS_OS_PATH_LOCAL;
}

const char *ds_os_network_fs(const char *path)
{
    struct statfs sf;

    if (statfs(path, &sf) != 0) {
        return NULL;
    }
    switch ((unsigned long)sf.f_type) {
    case 0xFF534D42UL:
        return "cifs";
    case 0xFE534D42UL:
        return "smb2";
    case 0x517BUL:
        return "smb";
    case 0x6969UL:
        return "nfs";
    case 0x65735546UL:
        return "fuse";
    default:
        return NULL;
    }
}

const char *ds_os_default_path(int kind)
{
    switch (kind) {
    case DS_OS_CONFIG_DIR:
        return "/etc/dentsync";
    case DS_OS_CONFIG_FILE:
        return "/etc/dentsync/dentsync.conf";
    case DS_OS_STATE_DIR:
    default:
        return "/var/lib/dentsync";
    }
}

const char *ds_os_zoneinfo_dir(void)
{
    return NULL;
}
