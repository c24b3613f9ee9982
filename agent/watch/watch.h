/*
 * watch.h — notices files in the export folders and tells when each one has
 * settled (is complete).
 *
 * File-system events (uv_fs_event) are only hints that make it quick; the
 * periodic full rescan, which also runs at start, is what guarantees that
 * every file is seen (network shares deliver no events and libuv drops
 * inotify overflows silently). A file has settled when its size and mtime
 * stay unchanged for settle_seconds and it opens for reading. Temporary and
 * lock names (`~$*`, `*.tmp`, `*.part`, hidden files) are ignored, and so
 * are names outside the folder's include patterns or inside its exclude
 * ones. A folder on a network file system (CIFS/SMB, NFS, FUSE by statfs,
 * or `network = yes`) gets no event watch at all: it relies on rescans.
 *
 * Settling is tracked in memory only: after a restart a file settles again,
 * which costs settle_seconds and is otherwise harmless.
 */
#ifndef DS_WATCH_WATCH_H
#define DS_WATCH_WATCH_H

#include "agent/core/error.h"
#include "agent/core/fsafe.h"
#include "config/config.h"

#include <stdint.h>
#include <uv.h>

struct ds_watch; /* opaque */

/* Whether the owner has taken this exact file (path, size, mtime) already;
 * non-zero means "known: do not settle it again". */
typedef int (*ds_watch_known_cb)(void *ctx, const struct ds_folder_conf *folder, const char *path,
                                 int64_t size, int64_t mtime_ns);

/* A file has settled: id is what the last look saw of it (device, inode,
 * size, mtime); a file whose inode changed under its name settles anew.
 * path and id are borrowed for the call. */
typedef void (*ds_watch_settled_cb)(void *ctx, const struct ds_folder_conf *folder,
                                    const char *path, const struct ds_file_id *id);

/* Starts watching every folder of cfg (borrowed for the watcher's life).
 * new: free with ds_watch_free. A folder that cannot be watched for events
 * is still rescanned; only a failure to start the timers is an error. */
int ds_watch_new(uv_loop_t *loop, const struct ds_config *cfg, ds_watch_known_cb known,
                 ds_watch_settled_cb settled, void *ctx, struct ds_watch **out,
                 struct ds_error *err);

/* Rescans every folder now. */
void ds_watch_rescan(struct ds_watch *w);

/* Whether name is a temporary or lock file that is never taken. */
int ds_watch_ignored(const char *name);

/* Whether the folder takes a file of this name: not ignored, matching its
 * include patterns (if any) and none of its exclude patterns. */
int ds_watch_wanted(const struct ds_folder_conf *folder, const char *name);

/* Stops and closes every handle; memory is released once libuv has closed
 * them, so run the loop afterwards. NULL-safe; sets *w to NULL. */
void ds_watch_free(struct ds_watch **w);

#endif
