/*
 * store_ingest.h — files and staging: what the watcher records and what the
 * ingest thread stages (store_ingest.c, store_route.c, store_rowerr.c).
 * Each ingest runs on its own connection (store.h).
 */
#ifndef DS_STATE_STORE_INGEST_H
#define DS_STATE_STORE_INGEST_H

#include "state/store.h"

/* ---- files -------------------------------------------------------------- */

/* Whether a file with this folder, path, size and mtime was already taken
 * (any state). 1 yes, 0 no, negative on error. The watcher uses it to skip
 * files it has settled before without hashing them again. */
int ds_store_file_known(struct ds_store *st, const char *folder, const char *path, int64_t size,
                        int64_t mtime_ns);

/* Records a settled file. If another file with the same sha256 was taken
 * before (in any state but `quarantined`), the new row is `duplicate` (final)
 * and *duplicate is set to 1; otherwise it is `detected` (or `held` with
 * DS_HOLD_DISK_BUDGET when the connection has a budget, ds_store_set_budget,
 * and the queue is over it: ds_store_file_held says), *duplicate is 0.
 * *file_id receives the new row's id. Writes a `file_seen` or
 * `file_duplicate` event. */
int ds_store_file_add(struct ds_store *st, const char *folder, const char *path, int64_t size,
                      int64_t mtime_ns, const char *sha256, int64_t *file_id, int *duplicate);

/* A file that cannot be ingested (unreadable, no header, no template, ...).
 * `quarantined` (final) with the reason: a code and a message without patient
 * data. Any job of the file in `staging` is deleted with its items. */
int ds_store_file_quarantine(struct ds_store *st, int64_t file_id, const char *code,
                             const char *reason);

/* The state of a file by id: writes its name into state (size >= 16). */
int ds_store_file_state(struct ds_store *st, int64_t file_id, char *state, size_t size);

/* Files in state `detected`, oldest first: calls cb for each; a non-zero
 * return from cb stops the walk and is returned. */
struct ds_file_info {
    int64_t id;
    const char *folder; /* borrow, valid during the callback */
    const char *path;
    const char *sha256;
    const char *state;
};
typedef int (*ds_store_file_cb)(void *ctx, const struct ds_file_info *f);
int ds_store_files_detected(struct ds_store *st, ds_store_file_cb cb, void *ctx);

/* ---- staging (ingest thread) -------------------------------------------- */

/* Creates job job_id (a UUID chosen by the agent) for file_id in state
 * `staging`; the file goes `detected` -> `staging`. Writes `job_created`. */
int ds_store_job_begin(struct ds_store *st, int64_t file_id, const char *job_id,
                       const char *practice, const char *import_type, const char *template_id,
                       const char *filename, const char *sha256);

/* Records how the job's template bound to the file's header: the JSON of
 * ds_map_binding_json (header and field names only, never values), shown
 * by `dentsync job`. DS_ENOTFOUND when there is no such job. */
int ds_store_job_set_binding(struct ds_store *st, const char *job_id, const char *binding);

/* Keeps the names of the job's compact rows: raw_columns for the items
 * whose raw is the array of their values (ds_map_raw_columns_json),
 * record_fields for those whose record is (ds_map_record_fields_json);
 * either may be NULL. Set before the job's first item, while it is
 * staging: DS_ENOTFOUND for no such job, DS_EINVAL otherwise. The store
 * hands such rows out as the objects again (ds_store_batch_send,
 * ds_store_job_failed_rows). */
int ds_store_job_set_columns(struct ds_store *st, const char *job_id, const char *raw_columns,
                             const char *record_fields);

/* The job's binding into buf (size bytes): 0, DS_ENOTFOUND (no such job, or
 * a job staged before bindings were kept: buf is ""), DS_ETOOBIG when cut. */
int ds_store_job_binding(struct ds_store *st, const char *job_id, char *buf, size_t size);

/* One more job on the file of first_job_id (still `staging`) for the rows
 * its template routes to another import type (store_route.c): same file,
 * practice, file name and sha256, state `staging`. DS_EEXIST when the file
 * has a job of that import type already. Stage the file's jobs with
 * ds_store_job_staged inside one ds_store_tx_begin ... ds_store_tx_commit,
 * so they go `uploading` together. Writes `job_created`. */
int ds_store_job_begin_routed(struct ds_store *st, const char *first_job_id, const char *job_id,
                              const char *import_type, const char *template_id);

/* Item status names (docs/states.md). */
#define DS_ITEM_VALID "valid"
#define DS_ITEM_INVALID "invalid"
#define DS_ITEM_DUPLICATE "duplicate"
#define DS_ITEM_SKIPPED "skipped"     /* a template rule: not data of this type (store_delta.c) */
#define DS_ITEM_UNCHANGED "unchanged" /* synced before with the same fingerprint */

/* Adds data row `row` of a staging job. status is DS_ITEM_VALID,
 * DS_ITEM_INVALID (with error) or DS_ITEM_SKIPPED (error is the rule's
 * reason, no patient data; never uploaded). A valid item whose key is already held by
 * another valid item of the same job is stored as DS_ITEM_DUPLICATE
 * instead (the first one wins) and *stored_status says so (may be NULL).
 * record, fingerprint and error may be NULL. raw may be NULL. While one
 * connection adds a job's items, no other connection may add items to that
 * job (the connection remembers the keys it added; one that takes over a
 * job with items already in it looks every key up). */
int ds_store_item_add(struct ds_store *st, const char *job_id, long row, const char *key,
                      const char *fingerprint, const char *status, const char *record_json,
                      const char *raw_json, const char *error, const char **stored_status);

/* Gives invalid item `row` of a job the error code of a row the reader cut
 * at a cap ("FIELD_TOO_LONG", ...; store_rowerr.c). Rare: the statement is
 * not cached. DS_ENOTFOUND when there is no such invalid item. */
int ds_store_item_set_code(struct ds_store *st, const char *job_id, long row, const char *code);

/* Gives invalid item `row` of a job all its problems: errors_json, a JSON
 * array of {"field","code","message"} (ds_map_errors_json; never a value),
 * and the first one's code as its error_code when it has none yet.
 * DS_ENOTFOUND when there is no such invalid item. */
int ds_store_item_set_errors(struct ds_store *st, const char *job_id, long row, const char *code,
                             const char *errors_json);

/* Ends staging: records total_rows, cuts the job's valid items into batches
 * of at most batch_rows rows in row order (seq 1, 2, ...; each with its
 * Batch-Digest, see below), sets the job `uploading` and the file `staged`.
 * A job with no valid item still gets no batch and is ready to complete.
 * One transaction. The file stays `staging` while another job of it (rows
 * routed to another import type) is still staging. */
int ds_store_job_staged(struct ds_store *st, const char *job_id, long total_rows, int batch_rows);

#endif
