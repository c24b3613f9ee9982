/*
 * upload.h — delivers staged jobs to the cloud API (docs/protocol.md).
 *
 * For each job the queue holds in state `uploading`, the uploader opens the
 * job in the cloud (POST /v1/jobs), sends its batches (PUT .../batches/N,
 * gzip, with the Batch-Digest computed from the queue), writes each answer
 * back to the queue, and completes the job (POST .../complete) once every
 * batch is acknowledged or rejected. At most max_in_flight requests run at
 * once. Every outcome is classified once:
 *
 *   OK      2xx                          -> recorded in the queue
 *   RETRY   no answer, 408, 429, 5xx     -> exponential backoff with jitter,
 *                                           at least Retry-After
 *   AUTH    401, 403                     -> that practice pauses (others go
 *                                           on); its token is re-read and
 *                                           tried again periodically
 *   SPLIT   413, or a body over the cap  -> the batch is replaced by its halves
 *   REJECT  any other 4xx                -> the batch is rejected with the
 *                                           server's code, kept for an admin
 *
 * The queue is the only memory that matters: the uploader keeps nothing a
 * crash could lose, only which requests are in flight and when to try again.
 */
#ifndef DS_UPLOAD_UPLOAD_H
#define DS_UPLOAD_UPLOAD_H

#include "agent/core/buf.h"
#include "agent/core/error.h"
#include "config/config.h"
#include "state/store.h"

#include <uv.h>

struct ds_uploader; /* opaque */

/* Told, on the loop, when a job has completed in the cloud and the queue
 * recorded it. */
typedef void (*ds_upload_done_cb)(void *ctx, const char *job_id);

/* new: free with ds_upload_free. Borrows loop, cfg and store (the loop
 * thread's connection) for its whole life; reads each practice's token.
 * agent_id is this installation's id, sent with every job (copied). done
 * may be NULL. */
int ds_upload_new(uv_loop_t *loop, const struct ds_config *cfg, struct ds_store *store,
                  const char *agent_id, ds_upload_done_cb done, void *done_ctx,
                  struct ds_uploader **out, struct ds_error *err);

/* Whether the cloud refused this practice's token (401/403): its uploads
 * wait, and its token file is re-read and tried every pause_probe_seconds.
 * Writes the refusal's code into code (may be NULL) when paused. */
int ds_upload_practice_paused(const struct ds_uploader *up, const char *practice, char *code,
                              size_t size);

/* Looks at the queue and starts whatever can be sent now; arms a timer for
 * the next retry. Cheap to call often: after ingest, on a timer, on demand. */
void ds_upload_kick(struct ds_uploader *up);

/* Ends every backoff and pause now: the batches waiting for a retry become
 * due, paused practices are probed, and the queue is looked at again. */
void ds_upload_sync_now(struct ds_uploader *up);

/* Appends the uploader's state as JSON members (no braces, each followed by
 * a comma) to b: requests in flight, retries, and each practice with whether
 * it is paused. 0, DS_ETOOBIG past b's cap, DS_ENOMEM. */
int ds_upload_status_json(const struct ds_uploader *up, struct ds_buf *b);

/* Requests in flight. */
size_t ds_upload_in_flight(const struct ds_uploader *up);

/* Total number of retries scheduled since start (for tests and status). */
unsigned long ds_upload_retries(const struct ds_uploader *up);

/* Aborts requests in flight (their batches stay in_flight in the queue and
 * are re-sent after the next start: the cloud's replay rule makes that
 * safe) and closes handles. Run the loop afterwards. NULL-safe. */
void ds_upload_free(struct ds_uploader **up);

/* Puts template_json (a checked template document) in the outbox of
 * practice: state_dir/template-outbox/<practice>/<id>.json, the body of
 * PUT /v1/templates/{id}, written 0600 and atomically, replacing an
 * earlier one of the id. The uploader sends it at start, hourly and at
 * every sync-now (ds_upload_sync_now) until the cloud takes or refuses it.
 * Needs no running uploader. DS_EINVAL, DS_ETOOBIG, DS_EIO, DS_ENOMEM. */
int ds_upload_template_outbox(const struct ds_config *cfg, const char *practice,
                              const char *template_json, struct ds_error *err);

#endif
