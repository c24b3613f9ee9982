/*
 * fsafe.h — file system calls on a folder others can write into.
 *
 * An export folder is hostile: whoever can write into it can plant a
 * symbolic link, a FIFO or a directory under any name, and swap one for
 * another at any instant. Every call here opens a name exactly once, never
 * follows a link in its last component, and checks what it got through the
 * descriptor (fstat), so a name cannot be redirected between the check and
 * the use. Reads, hashes and writes then go through descriptors only.
 *
 * This is the one place with the POSIX calls that make this so (openat,
 * O_NOFOLLOW, renameat, unlinkat, /proc/self/fd); a port replaces this file.
 */
#ifndef DS_CORE_FSAFE_H
#define DS_CORE_FSAFE_H

#include <stddef.h>
#include <stdint.h>

/* What identifies the contents of a file at one instant. */
struct ds_file_id {
    int64_t dev;      /* device */
    int64_t ino;      /* inode */
    int64_t size;     /* bytes */
    int64_t mtime_ns; /* last modification, ns since the epoch */
};

/* Why an open was refused (ds_fsafe_open_file, ds_fsafe_subdir). */
enum ds_fsafe_why {
    DS_FSAFE_OK = 0,
    DS_FSAFE_GONE = 1,      /* no such name */
    DS_FSAFE_LINK = 2,      /* a symbolic link */
    DS_FSAFE_NOT_FILE = 3,  /* not a regular file (FIFO, device, directory, ...) */
    DS_FSAFE_NOT_DIR = 4,   /* not a directory */
    DS_FSAFE_NOT_OWNER = 5, /* a directory owned by another user, or open to others */
    DS_FSAFE_ERROR = 6,     /* another failure (permissions, I/O) */
};

/* A word for why ("a symbolic link", ...), for messages. Never NULL. */
const char *ds_fsafe_why_text(int why);

/* Opens a regular file for reading without following a link in its last
 * component and without blocking on a FIFO; *id (may be NULL) gets what
 * fstat says of the descriptor. follow = 1 follows links (a path a person
 * names on the command line). Returns the descriptor (close-on-exec), or
 * -1 with *why (may be NULL) set. */
int ds_fsafe_open_file(const char *path, int follow, struct ds_file_id *id, int *why);

/* What fstat says of fd. 0, or -1. */
int ds_fsafe_fd_id(int fd, struct ds_file_id *id);

/* Whether two identities are the same file with the same size and mtime. */
int ds_fsafe_same(const struct ds_file_id *a, const struct ds_file_id *b);

/* What lstat says of path (a link is described, not followed): 0 and *id
 * set for a regular file, else -1 with *why set. */
int ds_fsafe_stat_file(const char *path, struct ds_file_id *id, int *why);

/* A new descriptor of the file fd is open on, with an offset of its own
 * (readers that run side by side do not move each other's position). It is
 * the same inode, never a new lookup of a name. -1 on failure. */
int ds_fsafe_reopen(int fd);

/* A path that opens the file fd is open on, for a library that only takes
 * a path (the XLS parser); valid while fd is open in this process. */
void ds_fsafe_fd_path(int fd, char *buf, size_t size);

/* Opens the directory path without following a link in its last
 * component. Returns the descriptor, or -1 with *why set. */
int ds_fsafe_open_dir(const char *path, int *why);

/* Opens the directory name inside dirfd for the agent's own files,
 * creating it (0700) when absent: refused when it is a link, not a
 * directory, owned by another user, or writable by others. Returns the
 * descriptor, or -1 with *why set. */
int ds_fsafe_subdir(int dirfd, const char *name, int *why);

/* Creates name inside dirfd for writing (0600), exclusively and without
 * following links; a stale entry of that name (a temporary file a crash
 * left, or a planted link) is removed first: unlinkat removes a link
 * itself, never what it points to. Returns the descriptor, or -1. */
int ds_fsafe_create(int dirfd, const char *name);

/* Whether name exists inside dirfd, or as a path of its own when dirfd is
 * -1 (a link counts; it is not followed). */
int ds_fsafe_exists(int dirfd, const char *name);

/* Calls fn(dirfd, name, ctx) for each regular file inside dirfd that the
 * agent's user owns and last modified before cutoff (seconds since the
 * epoch); entries are looked at without following links, and anything
 * else is passed over. 0, or an errno when dirfd cannot be listed. */
int ds_fsafe_each_old(int dirfd, double cutoff, void (*fn)(int dirfd, const char *name, void *ctx),
                      void *ctx);

/* What lstat says of name inside dirfd; 0 for a regular file, else -1. */
int ds_fsafe_stat_at(int dirfd, const char *name, struct ds_file_id *id);

/* renameat(from_dir, from, to_dir, to). 0, or an errno. */
int ds_fsafe_rename(int from_dir, const char *from, int to_dir, const char *to);

/* unlinkat(dirfd, name). 0, or an errno. */
int ds_fsafe_unlink(int dirfd, const char *name);

/* fsync(dirfd), for a rename or an unlink to last. */
void ds_fsafe_sync_dir(int dirfd);

#endif
