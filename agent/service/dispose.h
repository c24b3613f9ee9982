/*
 * dispose.h — what happens to an export file once the queue is done with
 * it: after delivery (leave, move to processed_dir, delete) and after a
 * refusal (move to quarantine_dir with NAME.error.txt beside it).
 *
 * A file is touched only while it is still exactly what was read: same
 * path, size and mtime as recorded. A newer export written under the same
 * name is never moved or deleted by mistake. Every action is idempotent and
 * the queue's state is final before it runs, so a crash in between is
 * mended by the sweep at the next start.
 */
#ifndef DS_DISPOSE_H
#define DS_DISPOSE_H

#include "config/config.h"
#include "state/store.h"

/* After-delivery for the file of a completed job (a file in state `done`).
 * Returns 1 when another program still holds the file open against a move
 * or delete (said once, FILE_DISPOSE_BUSY), else 0. */
int ds_dispose_job(struct ds_store *st, const struct ds_config *cfg, const char *job_id);

/* Moves a refused file aside with its reason, or leaves it in place (and
 * says so) when the folder is read-only. */
void ds_dispose_quarantined(struct ds_store *st, const struct ds_config *cfg, int64_t file_id);

/* At start and then daily: after-delivery for every `done` file still in
 * place, and quarantine for every `quarantined` one, in case a crash came
 * between the queue's record and the file system's change; then
 * ds_dispose_expire. Returns how many delivered files another program
 * still holds open against a move or delete (Windows): the caller sweeps
 * again sooner. Those were said once, when their job completed; the
 * sweep's further tries are quiet. */
int ds_dispose_sweep(struct ds_store *st, const struct ds_config *cfg);

/* Deletes from every folder's quarantine and processed folders (when they
 * exist) the regular files of the agent's user last modified more than
 * retention_days before now (seconds since the epoch), never following a
 * link. */
void ds_dispose_expire(struct ds_store *st, const struct ds_config *cfg, double now);

#endif
