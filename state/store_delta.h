/*
 * store_delta.h — what was synced before: the delta and the full-snapshot
 * check of a staging job, and an admin's resync (store_delta.c).
 */
#ifndef DS_STATE_STORE_DELTA_H
#define DS_STATE_STORE_DELTA_H

#include "state/store.h"

/* Valid items of a staging job whose key was synced before (same practice
 * and import type) with the same fingerprint become `unchanged`: decided
 * locally, never uploaded. One statement; *unchanged (may be NULL)
 * receives the count. Call after the last item is added, before
 * ds_store_job_staged. DS_EINVAL unless the job is staging. */
int ds_store_job_mark_unchanged(struct ds_store *st, const char *job_id, long *unchanged);

/* The full-snapshot check of a staging job whose rows 1..data_rows are all
 * added. synced: keys synced before for the job's practice and import type;
 * missing: those that no item of the job carries (an invalid row's key
 * counts as present). aged_before (YYYYMMDD, or NULL or ""): a calendar
 * read only returns the occurrences of a recurring event inside a window
 * that moves with the days, so a key ending in "/" and an occurrence dated
 * before that day (YYYYMMDD, YYYYMMDDTHHMMSS or YYYYMMDDTHHMMSSZ, as
 * agent/read/read_ics.c writes an EVENT-ID) left the window rather than the
 * calendar: it counts neither as synced nor as missing, and is never a
 * deletion. When missing is more than max_missing_percent of
 * synced and allow_shrink is 0, *shrank is 1 and nothing changes (the
 * caller holds the file, DS_HOLD_SNAPSHOT). Otherwise one deletion item per
 * missing key is added, rows data_rows + 1, + 2, ... in key order: status
 * valid, fingerprint "delete", no record, op delete. */
struct ds_snapshot_check {
    long synced;    /* keys synced before */
    long missing;   /* of them, absent from the file */
    long deletions; /* deletion rows added (0 when shrank) */
    int shrank;     /* 1: too many keys vanished; nothing was added */
};
int ds_store_job_snapshot(struct ds_store *st, const char *job_id, long data_rows,
                          int max_missing_percent, int allow_shrink, const char *aged_before,
                          struct ds_snapshot_check *out);

/* Whether key was synced for (practice, import_type): 1 and its
 * fingerprint in fingerprint (may be NULL), 0 if not, negative on error.
 * Read-only (preview counts unchanged rows with it). */
int ds_store_synced_get(struct ds_store *st, const char *practice, const char *import_type,
                        const char *key, char fingerprint[DS_SHA256_HEX]);

/* The number of keys synced for (practice, import_type). */
int ds_store_synced_count(struct ds_store *st, const char *practice, const char *import_type,
                          long *count);

/* An admin's resync: forgets every key synced for the practice (and the
 * import type, or all types when NULL), so the next snapshot is sent in
 * full — to repair a cloud that diverged. *forgotten (may be NULL)
 * receives how many; event `resync` with the import type as its code. */
int ds_store_synced_forget(struct ds_store *st, const char *practice, const char *import_type,
                           long *forgotten);

#endif
