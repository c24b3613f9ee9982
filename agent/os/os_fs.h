/*
 * os_fs.h — the file system, as the agent needs it, on each platform.
 *
 * Everything the agent asks of the file system that POSIX and Windows do
 * differently goes through this header: os_fs_posix.c is the Linux half,
 * os_fs_win.c the Windows half (as libuv splits unix/ from win/). Callers
 * include nothing else for files: no open flags, no struct stat, no
 * mkdir modes, no platform test.
 *
 * Files are plain int descriptors on both sides, so read(), write() and
 * close() work on them as they are: on Windows each is a C runtime
 * descriptor made from the checked HANDLE (_open_osfhandle), and this
 * layer gets the HANDLE back when it needs it (_get_osfhandle).
 *
 * Export folders are hostile: whoever can write into one can plant a link,
 * a FIFO or a directory under any name and swap one for another at any
 * instant. So a name is opened exactly once, a link in its last component
 * is never followed (O_NOFOLLOW; on Windows FILE_FLAG_OPEN_REPARSE_POINT
 * and a refused reparse point), what was opened is checked through the
 * descriptor, and reads, hashes and writes then go through descriptors
 * only. Inside a folder the agent writes to, every create, rename and
 * delete is relative to the folder's open descriptor.
 *
 * Files holding patient data or tokens are created private: 0600 on POSIX,
 * on Windows a protected DACL granting only the owner (the service
 * account), SYSTEM and Administrators.
 *
 * Return conventions: descriptors are >= 0 or -1; calls that say "an
 * errno" return 0 or a positive errno value (Windows errors are mapped to
 * the nearest errno; a file another process holds open against us is
 * EBUSY).
 */
#ifndef DS_OS_FS_H
#define DS_OS_FS_H

#include <stddef.h>
#include <stdint.h>

/* What identifies the contents of a file at one instant. */
struct ds_file_id {
    int64_t dev;      /* device (Windows: the volume serial number) */
    int64_t ino;      /* inode (Windows: the file index) */
    int64_t size;     /* bytes */
    int64_t mtime_ns; /* last modification, ns since the epoch */
};

/* Why an open was refused (ds_os_open_file, ds_os_subdir, ...). */
enum ds_fsafe_why {
    DS_FSAFE_OK = 0,
    DS_FSAFE_GONE = 1,      /* no such name */
    DS_FSAFE_LINK = 2,      /* a symbolic link (Windows: any reparse point) */
    DS_FSAFE_NOT_FILE = 3,  /* not a regular file (FIFO, device, directory, ...) */
    DS_FSAFE_NOT_DIR = 4,   /* not a directory */
    DS_FSAFE_NOT_OWNER = 5, /* a directory owned by another user, or open to others */
    DS_FSAFE_ERROR = 6,     /* another failure (permissions, I/O) */
    DS_FSAFE_BUSY = 7,      /* the writer still holds it (Windows sharing or lock
                               violation): not settled yet, try again later */
};

/* ---- link-proof access to folders others can write into ------------------- */

/* Opens a regular file for reading without following a link in its last
 * component and without blocking on a FIFO; *id (may be NULL) gets what
 * the descriptor says of it. follow = 1 follows links (a path a person
 * names on the command line). Returns the descriptor (not inherited by
 * children), or -1 with *why (may be NULL) set; DS_FSAFE_BUSY when the
 * writer's sharing mode denies reading. */
int ds_os_open_file(const char *path, int follow, struct ds_file_id *id, int *why);

/* What the descriptor says of the file fd is open on. 0, or -1. */
int ds_os_fd_id(int fd, struct ds_file_id *id);

/* What path's last component is, without following it: 0 and *id set for
 * a regular file, else -1 with *why set. */
int ds_os_stat_file(const char *path, struct ds_file_id *id, int *why);

/* What path names (links followed, as for a file a person names): 0 and
 * *id set for a regular file, else -1. */
int ds_os_stat_follow(const char *path, struct ds_file_id *id);

/* A new descriptor of the file fd is open on, with an offset of its own;
 * the same file, never a new lookup of a name. -1 on failure. */
int ds_os_reopen(int fd);

/* A path that opens the file fd is open on, for a library that only takes
 * a path; valid while fd is open in this process. On Windows the file is
 * pinned under that path until the process ends (no one can rename or
 * delete it), and "" comes back when the path no longer leads to fd's
 * file. */
void ds_os_fd_path(int fd, char *buf, size_t size);

/* Opens the directory path; follow = 0 refuses a link in its last
 * component. Returns the descriptor, or -1 with *why set. */
int ds_os_open_dir(const char *path, int follow, int *why);

/* Opens the directory name inside dirfd for the agent's own files,
 * creating it (private) when absent: refused when it is a link, not a
 * directory, owned by another user, or writable by others. Returns the
 * descriptor, or -1 with *why set. */
int ds_os_subdir(int dirfd, const char *name, int *why);

/* Creates name inside dirfd for writing, private, exclusively and without
 * following links; a stale entry of that name (a temporary file a crash
 * left, or a planted link) is removed first, the link itself, never what
 * it points to. Returns the descriptor, or -1. */
int ds_os_create_at(int dirfd, const char *name);

/* Creates name inside dirfd for writing, readable by all (0644; on
 * Windows the inherited permissions), exclusively and without following
 * links: nothing in place is ever removed or replaced (a template a person
 * saves). Returns the descriptor, or -1 with errno set (EEXIST when the
 * name is taken). */
int ds_os_create_new_at(int dirfd, const char *name);

/* Whether name exists inside dirfd, or as a path of its own when dirfd is
 * -1 (a link counts; it is not followed). */
int ds_os_exists(int dirfd, const char *name);

/* Calls fn(dirfd, name, ctx) for each regular file inside dirfd that the
 * agent's user owns and last modified before cutoff (seconds since the
 * epoch); entries are looked at without following links, and anything
 * else is passed over. 0, or an errno when dirfd cannot be listed. */
int ds_os_each_old(int dirfd, double cutoff, void (*fn)(int dirfd, const char *name, void *ctx),
                   void *ctx);

/* What name inside dirfd is, not followed: 0 for a regular file (and *id
 * set), else -1. */
int ds_os_stat_at(int dirfd, const char *name, struct ds_file_id *id);

/* Renames from (inside from_dir) to to (inside to_dir), replacing to.
 * 0, or an errno: EBUSY when another process holds the file open against
 * being moved (Windows), which a caller treats as "later". */
int ds_os_rename_at(int from_dir, const char *from, int to_dir, const char *to);

/* Deletes name inside dirfd (a link itself). 0, or an errno (EBUSY as for
 * ds_os_rename_at). */
int ds_os_unlink_at(int dirfd, const char *name);

/* Makes a rename or a delete inside dirfd last (fsync of the directory;
 * on Windows the metadata is written through already). */
void ds_os_sync_dir(int dirfd);

/* ---- the agent's own files, by path ----------------------------------------- */

/* ds_os_create_private's flags. */
#define DS_OS_EXCL 1   /* fail with EEXIST when the name is taken */
#define DS_OS_TRUNC 2  /* empty an existing file */
#define DS_OS_APPEND 4 /* every write goes to the end */

/* Opens path for writing, creating it private (0600; on Windows a DACL
 * granting only the owner, SYSTEM, Administrators and the service
 * account) when absent. The
 * one way the agent creates a file holding patient data or a token.
 * Returns the descriptor (not inherited by children), or -1 with errno
 * set. */
int ds_os_create_private(const char *path, int flags);

/* Whether the file fd is open on is private: 1 when no one but its owner
 * (and on Windows SYSTEM, Administrators and the service account) may read
 * or write it, 0 when
 * others may, -1 when it cannot be told. */
int ds_os_fd_private(int fd);

/* Whether path (the queue's folder, the queue) keeps others out: on
 * Linux no access for others and no write for the group (the agent's
 * group may read: 0750, 0640); on Windows a DACL granting no one but the
 * accounts ds_os_fd_private accepts. 1 yes, 0 no, -1 cannot be told
 * (errno). *mode gets the mode bits on Linux, 0 on Windows. */
int ds_os_path_private(const char *path, unsigned *mode);

/* Makes path a regular file the agent's group may read (0640; on Windows
 * the owner-only DACL of ds_os_create_private stays), creating it empty
 * when absent, exclusively and without following a link; an existing
 * file is given the mode. 0, or -1 with *why DS_FSAFE_LINK (a link),
 * DS_FSAFE_NOT_FILE (not a regular file) or DS_FSAFE_ERROR, and errno. */
int ds_os_create_shared(const char *path, int *why);

/* Gives path the mode of ds_os_create_shared when it is a regular file
 * (a link or anything else is left alone; nothing on Windows). */
void ds_os_share_file(const char *path);

/* Opens path for reading (not inherited by children). -1 with errno. */
int ds_os_open_read(const char *path);

/* Creates the directory path when it is absent: private (0700, owner-only
 * DACL) or, with shared = 1, readable by the agent's group (0750; on
 * Windows the inherited permissions). 0 when created or when the name
 * exists already (what it is, its opener finds out), or an errno. */
int ds_os_mkdir(const char *path, int shared);

/* Makes the existing directory path the agent's own: on Windows
 * Administrators become its owner and its DACL the private one (SYSTEM,
 * Administrators, the owner and the service account, inherited by what is
 * made in it), replacing what it inherited: `dentsync setup` does it to
 * the installer's data folder, which %ProgramData% would otherwise let
 * every user add files to; a link there is refused (ELOOP), and so is a
 * folder holding an entry another user owns (EPERM: planted before, its
 * owner could still change it). On Linux the package gives /etc/dentsync
 * its modes and nothing is looked at or changed but that path is a
 * directory (a link to one is followed). 0, or an errno (ENOTDIR not a
 * directory, ENOENT absent). */
int ds_os_secure_dir(const char *path);

/* Reads up to size bytes at offset off of fd without moving its offset;
 * *got is how many (0 at the end). 0, or -1. */
int ds_os_pread(int fd, void *buf, size_t size, int64_t off, size_t *got);

/* Writes fd's data through to the disk. 0, or -1. */
int ds_os_fsync(int fd);

/* Renames from to to, durably (the directory synced; on Windows
 * MOVEFILE_WRITE_THROUGH). replace = 0 never replaces an existing to
 * (EEXIST) and leaves no trace of from on success. 0, or an errno. */
int ds_os_rename(const char *from, const char *to, int replace);

/* The absolute path of path with every link resolved, into buf. 0, or -1
 * with errno set. */
int ds_os_realpath(const char *path, char *buf, size_t size);

/* Deletes path. 0, or an errno (ENOENT when absent). */
int ds_os_unlink(const char *path);

/* Takes an exclusive lock on path (created private when absent) for as
 * long as the returned descriptor stays open: flock on POSIX, LockFileEx
 * on Windows. -1 with errno EBUSY when another descriptor holds it, even
 * in the same process; -1 with another errno when it cannot be opened. */
int ds_os_lock_file(const char *path);

/* Whether path names the file fd is open on, however it is spelled. */
int ds_os_same_file(int fd, const char *path);

/* ---- where things are -------------------------------------------------------- */

/* Free bytes for an unprivileged writer on the file system of path, 0 when
 * it cannot be told. */
unsigned long long ds_os_disk_free(const char *path);

/* What kind of place a path is (ds_os_path_kind). */
enum ds_os_path_kind {
    DS_OS_PATH_LOCAL = 0,  /* a local disk */
    DS_OS_PATH_SHARE = 1,  /* a network share named as such (NFS, SMB, \\server\share) */
    DS_OS_PATH_MAPPED = 2, /* Windows: a drive letter mapped to a share, which a service
                              running under another account does not see */
    DS_OS_PATH_UNKNOWN = 3 /* cannot be told (absent, no permission) */
};

/* What kind of place path is (an enum ds_os_path_kind). */
int ds_os_path_kind(const char *path);

/* The kind of network file system path is on, for a message ("cifs",
 * "smb2", "nfs", "fuse"; on Windows "smb" or "smb, mapped drive"), or
 * NULL for a local one or one that cannot be told. Change notifications
 * are not to be trusted there. */
const char *ds_os_network_fs(const char *path);

/* The platform's default places (ds_os_default_path). */
enum ds_os_default {
    DS_OS_CONFIG_DIR = 0,  /* /etc/dentsync, %ProgramData%\dentsync */
    DS_OS_CONFIG_FILE = 1, /* dentsync.conf in it */
    DS_OS_STATE_DIR = 2,   /* /var/lib/dentsync, %ProgramData%\dentsync\state */
};

/* The default path of kind (an enum ds_os_default). Never NULL; static
 * storage, the same string on every call. */
const char *ds_os_default_path(int kind);

/* Where the calendar reader's time zones (libical's zoneinfo: zones.tab
 * and one VTIMEZONE file per zone) are: on Windows the zoneinfo folder
 * beside the program, which the installer ships (libical would look
 * where it was built); NULL on Linux, where libical reads the system's
 * /usr/share/zoneinfo. Static storage. */
const char *ds_os_zoneinfo_dir(void);

#endif
