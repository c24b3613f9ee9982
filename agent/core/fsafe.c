/*
 * fsafe.c — link-proof opens, creates and renames (see fsafe.h).
 *
 * A file is opened with O_NOFOLLOW (a link in the last component fails
 * with ELOOP) and O_NONBLOCK (a FIFO does not wait for a writer), then
 * O_NONBLOCK is cleared and fstat decides what was opened. Inside a
 * directory the agent writes to, everything is relative to the directory's
 * descriptor (openat, renameat, unlinkat), so renaming or replacing a
 * parent on the way cannot send a write elsewhere. A second reader of a
 * file opens /proc/self/fd/N: the kernel resolves that to the inode fd
 * holds, not to whatever the name now points at.
 */
#include "agent/core/fsafe.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

const char *ds_fsafe_why_text(int why)
{
    switch (why) {
    case DS_FSAFE_GONE:
        return "no such file";
    case DS_FSAFE_LINK:
        return "a symbolic link";
    case DS_FSAFE_NOT_FILE:
        return "not a regular file";
    case DS_FSAFE_NOT_DIR:
        return "not a directory";
    case DS_FSAFE_NOT_OWNER:
        return "owned by another user or writable by others";
    case DS_FSAFE_ERROR:
        return "cannot be opened";
    default:
        return "";
    }
}

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

int ds_fsafe_fd_id(int fd, struct ds_file_id *id)
{
    struct stat sb;

    if (fstat(fd, &sb) != 0) {
        return -1;
    }
    id_of(&sb, id);
    return 0;
}

int ds_fsafe_same(const struct ds_file_id *a, const struct ds_file_id *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtime_ns == b->mtime_ns;
}

int ds_fsafe_open_file(const char *path, int follow, struct ds_file_id *id, int *why)
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

int ds_fsafe_stat_file(const char *path, struct ds_file_id *id, int *why)
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

void ds_fsafe_fd_path(int fd, char *buf, size_t size)
{
    snprintf(buf, size, "/proc/self/fd/%d", fd);
}

int ds_fsafe_reopen(int fd)
{
    struct stat a;
    struct stat b;
    char path[64];
    int nfd;

    ds_fsafe_fd_path(fd, path, sizeof(path));
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

int ds_fsafe_open_dir(const char *path, int *why)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
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

int ds_fsafe_subdir(int dirfd, const char *name, int *why)
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

int ds_fsafe_create(int dirfd, const char *name)
{
    if (unlinkat(dirfd, name, 0) != 0 && errno != ENOENT) {
        return -1;
    }
    return openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
}

int ds_fsafe_exists(int dirfd, const char *name)
{
    struct stat sb;

    return fstatat(dirfd >= 0 ? dirfd : AT_FDCWD, name, &sb, AT_SYMLINK_NOFOLLOW) == 0;
}

int ds_fsafe_each_old(int dirfd, double cutoff, void (*fn)(int dirfd, const char *name, void *ctx),
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

int ds_fsafe_stat_at(int dirfd, const char *name, struct ds_file_id *id)
{
    struct stat sb;

    if (fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(sb.st_mode)) {
        return -1;
    }
    id_of(&sb, id);
    return 0;
}

int ds_fsafe_rename(int from_dir, const char *from, int to_dir, const char *to)
{
    return renameat(from_dir, from, to_dir, to) == 0 ? 0 : errno;
}

int ds_fsafe_unlink(int dirfd, const char *name)
{
    return unlinkat(dirfd, name, 0) == 0 ? 0 : errno;
}

void ds_fsafe_sync_dir(int dirfd)
{
    if (dirfd >= 0) {
        fsync(dirfd);
    }
}
