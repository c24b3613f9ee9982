/*
 * fsafe.h — file system calls on a folder others can write into.
 *
 * The names the watcher, the readers and the after-delivery moves use for
 * the platform layer's link-proof calls (agent/os/os_fs.h, where the rules
 * are written down): each ds_fsafe_ call is the ds_os_ call of the same
 * name. What stays here is what is the same on every platform.
 */
#ifndef DS_CORE_FSAFE_H
#define DS_CORE_FSAFE_H

#include "agent/os/os_fs.h"

#include <stddef.h>

/* A word for why ("a symbolic link", ...), for messages. Never NULL. */
const char *ds_fsafe_why_text(int why);

/* Whether two identities are the same file with the same size and mtime. */
int ds_fsafe_same(const struct ds_file_id *a, const struct ds_file_id *b);

/* Writes the n bytes at p to fd, again after a short write or EINTR: 0,
 * or -1 with errno (EIO when the system wrote nothing and said no more). */
int ds_fsafe_write_all(int fd, const void *p, size_t n);

/* ds_os_open_file. */
static inline int ds_fsafe_open_file(const char *path, int follow, struct ds_file_id *id, int *why)
{
    return ds_os_open_file(path, follow, id, why);
}

/* ds_os_fd_id. */
static inline int ds_fsafe_fd_id(int fd, struct ds_file_id *id)
{
    return ds_os_fd_id(fd, id);
}

/* ds_os_stat_file. */
static inline int ds_fsafe_stat_file(const char *path, struct ds_file_id *id, int *why)
{
    return ds_os_stat_file(path, id, why);
}

/* ds_os_reopen. */
static inline int ds_fsafe_reopen(int fd)
{
    return ds_os_reopen(fd);
}

/* ds_os_fd_path. */
static inline void ds_fsafe_fd_path(int fd, char *buf, size_t size)
{
    ds_os_fd_path(fd, buf, size);
}

/* ds_os_open_dir, never following a link in the last component. */
static inline int ds_fsafe_open_dir(const char *path, int *why)
{
    return ds_os_open_dir(path, 0, why);
}

/* ds_os_subdir. */
static inline int ds_fsafe_subdir(int dirfd, const char *name, int *why)
{
    return ds_os_subdir(dirfd, name, why);
}

/* ds_os_create_at. */
static inline int ds_fsafe_create(int dirfd, const char *name)
{
    return ds_os_create_at(dirfd, name);
}

/* ds_os_create_new_at. */
static inline int ds_fsafe_create_new(int dirfd, const char *name)
{
    return ds_os_create_new_at(dirfd, name);
}

/* ds_os_exists. */
static inline int ds_fsafe_exists(int dirfd, const char *name)
{
    return ds_os_exists(dirfd, name);
}

/* ds_os_each_old. */
static inline int ds_fsafe_each_old(int dirfd, double cutoff,
                                    void (*fn)(int dirfd, const char *name, void *ctx), void *ctx)
{
    return ds_os_each_old(dirfd, cutoff, fn, ctx);
}

/* ds_os_stat_at. */
static inline int ds_fsafe_stat_at(int dirfd, const char *name, struct ds_file_id *id)
{
    return ds_os_stat_at(dirfd, name, id);
}

/* ds_os_rename_at. */
static inline int ds_fsafe_rename(int from_dir, const char *from, int to_dir, const char *to)
{
    return ds_os_rename_at(from_dir, from, to_dir, to);
}

/* ds_os_unlink_at. */
static inline int ds_fsafe_unlink(int dirfd, const char *name)
{
    return ds_os_unlink_at(dirfd, name);
}

/* ds_os_sync_dir. */
static inline void ds_fsafe_sync_dir(int dirfd)
{
    ds_os_sync_dir(dirfd);
}

#endif
