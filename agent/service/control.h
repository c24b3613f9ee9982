/*
 * control.h — the running agent's control socket, and the client the CLI
 * uses to talk to it.
 *
 * The agent listens on state_dir/control.sock (a unix stream socket, mode
 * 0660: the service user and the dentsync group); on Windows on a named
 * pipe, \\.\pipe\dentsync-HASH of the state directory, which only its
 * owner, the administrators and LocalSystem may write to
 * (agent/os/os_net.h). A client sends one line, a command, and reads one
 * line back, a JSON object, then the agent closes the connection:
 *
 *   sync-now   rescan every folder, take up files waiting in the queue
 *              (`detected` again after a retry), and end every backoff and
 *              pause now                       -> {"ok":true}
 *   status     what only the running agent knows: requests in flight,
 *              retries, practices paused, ingest busy and queued
 *                                              -> {"ok":true, ...}
 *   import\tFOLDER\tPATH
 *              stage the file at PATH (absolute) next, with the settings
 *              of [folder FOLDER] (practice, import type, template), then upload
 *              it as any other (`dentsync import`); only from root or the
 *              agent's own user (SO_PEERCRED), as it writes to the queue
 *                                              -> {"ok":true} or
 *                                                 {"ok":false,"error":"..."}
 *   reload     read the configuration file again and, when it is valid
 *              and keeps state_dir, start again with it (what SIGHUP does
 *              on POSIX; Windows has no such signal); only from root or
 *              the agent's own user
 *                                              -> {"ok":true} or
 *                                                 {"ok":false,"error":"..."}
 *   web-link   a one-time login link of the status page (docs/web.md),
 *              whose session has the asker's rights here: full for root
 *              and the agent's own user, read-only (no import, no retry)
 *              for anyone else         -> {"ok":true,"url":"...",
 *                                          "read_only":true|false}
 *
 * Anything else answers {"ok":false,"error":"unknown command"}. The answers
 * carry counts, codes and names from the config: never patient data. An
 * answer grows with the config (a status names every practice) up to
 * DS_CONTROL_MAX_ANSWER bytes; past that the agent answers
 * {"ok":false,"error":"..."}, never a cut line.
 */
#ifndef DS_CONTROL_H
#define DS_CONTROL_H

#include "agent/core/buf.h"
#include "agent/core/error.h"
#include "config/config.h"

#include <stddef.h>
#include <uv.h>

#define DS_CONTROL_MAX_ANSWER ((size_t)1024 * 1024) /* bytes, the newline included */

/* What the control server asks of its owner. */
struct ds_control_ops {
    void (*sync_now)(void *ctx);
    /* Appends the status members (without braces, each followed by a
     * comma) as JSON to b. 0, or DS_ETOOBIG past b's cap, DS_ENOMEM. */
    int (*status)(void *ctx, struct ds_buf *b);
    /* Queues path for staging, next, with folder's settings; 0, or
     * non-zero with a message (no patient data) in msg. */
    int (*import)(void *ctx, const char *folder, const char *path, char *msg, size_t size);
    /* Writes a one-time login link of the status page into buf; non-zero
     * when there is none (the page is off). full: the asker is root or the
     * service's user, and its session may do what they may over this
     * socket (import); otherwise it is read-only. May be NULL. */
    int (*web_link)(void *ctx, int full, char *buf, size_t size);
    /* Reloads the configuration (see reload above): 0, or non-zero with a
     * message (no patient data) in msg. May be NULL. */
    int (*reload)(void *ctx, char *msg, size_t size);
    void *ctx;
};

struct ds_control; /* opaque */

/* Listens on the socket in cfg->state_dir (replacing a stale one). new:
 * free with ds_control_free. */
int ds_control_new(uv_loop_t *loop, const struct ds_config *cfg, const struct ds_control_ops *ops,
                   struct ds_control **out, struct ds_error *err);

/* Closes the socket and its connections (run the loop afterwards);
 * removes the socket file. NULL-safe. */
void ds_control_free(struct ds_control **c);

/* The client: sends command to the agent running with state_dir and
 * appends its one-line answer (without the newline) to answer, whose cap
 * should be DS_CONTROL_MAX_ANSWER. DS_ENOTFOUND when no agent listens (not
 * running), DS_ETOOBIG when the answer passes answer's cap, DS_EIO on other
 * failures. Waits at most timeout_ms for each read. */
int ds_control_request(const char *state_dir, const char *command, struct ds_buf *answer,
                       int timeout_ms);

struct json_t; /* jansson's */

/* ds_control_request, the answer parsed: *doc (new: json_decref) is the
 * answer's object when 0 is returned, else NULL. DS_EIO when the answer is
 * not JSON. doc may be NULL to learn only whether the agent answers. */
int ds_control_ask(const char *state_dir, const char *command, int timeout_ms, struct json_t **doc);

#endif
