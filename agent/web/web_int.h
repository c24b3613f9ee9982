/*
 * web_int.h — what the status page's files share: the server and a
 * connection (web.c), the API handlers (api.c), child processes (child.c).
 * Not for use outside agent/web/.
 */
#ifndef DS_WEB_WEB_INT_H
#define DS_WEB_WEB_INT_H

#include "agent/core/buf.h"
#include "agent/core/hash.h"
#include "agent/web/auth.h"
#include "agent/web/http.h"
#include "agent/web/web.h"

#include <jansson.h>
#include <limits.h>
#include <stdint.h>

#define DS_WEB_MAX_HEAD 16384    /* request line and headers */
#define DS_WEB_MAX_BODY 65536    /* a POST body but a dropped file */
#define DS_WEB_MAX_CONNS 64      /* open connections; more are closed at once */
#define DS_WEB_IDLE_SECONDS 30.0 /* a connection that sends nothing this long is closed */
#define DS_WEB_UPLOADS 16        /* dropped files waiting for a confirm */
#define DS_WEB_UPLOAD_TTL 3600.0 /* seconds one waits before it is removed */

struct ds__web_child;

/* A file dropped on the page, previewed, waiting for the person's confirm. */
struct ds__web_upload {
    char id[DS_UUID_LEN];       /* "" when the slot is free */
    char path[PATH_MAX];        /* in state_dir/web-uploads, 0600 */
    char name[256];             /* its original base name, made safe */
    char folder[128];           /* the folder it was previewed for */
    char sid[DS_WEB_TOKEN_HEX]; /* the session that dropped it: the only one that may use it */
    double at;                  /* when it came */
};

struct ds_web {
    uv_loop_t *loop;             /* borrow */
    const struct ds_config *cfg; /* borrow */
    struct ds_store *store;      /* borrow: the loop thread's connection */
    struct ds_control_ops ops;   /* the agent's sync-now and status */
    struct ds_web_auth *auth;    /* sessions, links, CSRF; owned */
    uv_tcp_t server;             /* listening */
    uv_timer_t sweep;            /* closes idle connections, expires uploads */
    int open_handles;            /* server + sweep + connections not closed yet */
    int closing;                 /* ds_web_free was called */
    char cookie[32];             /* the session cookie's name, "dentsync_PORT" */
    char origin[96];             /* "http://ADDRESS:PORT" */
    char exe[PATH_MAX];          /* this binary, for `preview` and `errors` children */
    char upload_dir[3072];       /* state_dir/web-uploads */
    struct ds__web_conn *conns;  /* open connections */
    size_t nconns;
    struct ds__web_upload uploads[DS_WEB_UPLOADS];
    char rbuf[65536]; /* every read lands here first, then in a request */
};

struct ds__web_conn {
    uv_tcp_t tcp;                /* the client */
    struct ds_web *w;            /* owner */
    struct ds__web_conn *next;   /* in w->conns */
    struct ds__web_conn **prevp; /* where we are linked from */
    struct ds_buf in;            /* the request: head then body, capped */
    struct ds_http_request req;  /* parsed head (points into in) */
    int have_head;               /* req is valid */
    size_t need;                 /* head + body bytes of the whole request */
    double last;                 /* last activity, for the idle sweep */
    char sid[DS_WEB_TOKEN_HEX];  /* this request's live session, "" if none */
    int rights;                  /* its DS_WEB_READ or DS_WEB_FULL, 0 if none */
    char peer[DS_WEB_ADDR];      /* the client's address, for the login throttle */
    struct ds_buf out;           /* the answer being written */
    uv_write_t wr;               /* its write */
    int answered;                /* an answer is on its way: read no more */
    int busy;                    /* a child works for this request */
    int refs;                    /* tcp handle + a child; freed at 0 */
    struct ds__web_child *child; /* the child at work, or NULL */
};

/* ---- web.c ---------------------------------------------------------------- */

/* Answers and closes the connection. headers: extra header lines, each
 * ending in CRLF, or NULL. Every answer is no-store. */
void ds__web_respond(struct ds__web_conn *c, int status, const char *ctype, const char *headers,
                     const char *body, size_t len);

/* Answers with doc as JSON (steals doc; NULL answers 500). */
void ds__web_json(struct ds__web_conn *c, int status, json_t *doc);

/* Answers {"error":{"code":code,"message":message}}. */
void ds__web_error(struct ds__web_conn *c, int status, const char *code, const char *message);

/* The request's body and its length. */
const char *ds__web_body(const struct ds__web_conn *c, size_t *len);

/* Drops a connection's reference; frees it at zero. */
void ds__web_conn_unref(struct ds__web_conn *c);

/* ---- api.c ---------------------------------------------------------------- */

/* Answers an /api/ request of a logged-in session (CSRF and rights checked
 * already, before the body was read). */
void ds__web_api(struct ds__web_conn *c);

/* 1 when the route of c's request changes the queue or the folders, so
 * needs a DS_WEB_FULL session. */
int ds__web_api_writes(const struct ds__web_conn *c);

/* Removes the dropped files not imported: all of them (all = 1) or those
 * older than DS_WEB_UPLOAD_TTL. */
void ds__web_uploads_expire(struct ds_web *w, double now, int all);

/* The dropped file of upload id id (as the Import page names it) that
 * session sid dropped, or NULL: gone, expired, never there or another
 * session's. */
struct ds__web_upload *ds__web_upload_find(struct ds_web *w, const char *id, const char *sid);

/* The folder u was dropped for, if it is still configured and takes a file
 * of u's name; else NULL, answered (404, 422). */
const struct ds_folder_conf *ds__web_upload_folder(struct ds__web_conn *c,
                                                   const struct ds__web_upload *u);

/* Copies u into folder f as "Import into FOLDER" does: 0600, under a
 * hidden .part name, fsynced, then named (u's name, or one with the time
 * before it if that is taken; never over a file). name: the name given. */
int ds__web_upload_copy(const struct ds__web_upload *u, const struct ds_folder_conf *f, char *name,
                        size_t size, struct ds_error *err);

/* ds__web_upload_copy, then the upload is dropped and a sync asked for:
 * the import of a dropped file, from the Import page or the mapping
 * screen. */
int ds__web_upload_import(struct ds_web *w, struct ds__web_upload *u,
                          const struct ds_folder_conf *f, char *name, size_t size,
                          struct ds_error *err);

/* The query parameter name of c's request, decoded, into out. 0 or -1. */
int ds__web_param(const struct ds__web_conn *c, const char *name, char *out, size_t size);

/* The first line a failed child wrote (stderr, else stdout), at most 600
 * bytes. new: ds_free. */
char *ds__web_child_message(const struct ds_buf *out, const struct ds_buf *err);

/* Parses the JSON lines of `dentsync preview --json` into one document:
 * {"head":…, "rows":[…], "summary":…, "errors":[…]}. new, or NULL. */
json_t *ds__web_preview_doc(const struct ds_buf *out);

/* ---- mapping.c ------------------------------------------------------------ */

/* 1 when c's request is one of the mapping screen's routes (all of them
 * need a DS_WEB_FULL session: they show a held file's values or save). */
int ds__web_mapping_route(const struct ds__web_conn *c);

/* Answers a mapping screen's request. */
void ds__web_mapping(struct ds__web_conn *c);

/* Saves the template a person's choice (body, JSON) stands for, for the
 * held file's folder f: into template_dir (atomically; an id that exists
 * already, built in, pulled from the cloud or in template_dir, only when
 * the choice says overwrite) and into the outbox of f's practice for the
 * cloud. *id: the template's id. DS_EEXIST, DS_EINVAL, DS_EPARSE,
 * DS_ETOOBIG, DS_ECONFIG (no template_dir), DS_EIO with err. */
int ds__web_mapping_save(const struct ds_config *cfg, const struct ds_folder_conf *f,
                         const char *body, size_t len, char *id, size_t size, struct ds_error *err);

/* ---- child.c -------------------------------------------------------------- */

/* When a child ends: its exit status (-1 if killed or timed out) and what
 * it wrote on stdout and stderr (borrowed during the call). */
typedef void (*ds__web_child_cb)(struct ds__web_conn *c, int status, const struct ds_buf *out,
                                 const struct ds_buf *err);

/* Runs this binary with args (NULL-terminated, without argv[0]) for
 * connection c: stdout kept up to max_out bytes, stderr up to 4 KiB,
 * killed after timeout_ms. cb runs once, on the loop, when it has ended
 * and both pipes are closed. Takes a reference on c. */
int ds__web_child_run(struct ds__web_conn *c, const char *const *args, size_t max_out,
                      uint64_t timeout_ms, ds__web_child_cb cb);

/* Kills the child of c, if any (its callback still runs). */
void ds__web_child_kill(struct ds__web_conn *c);

#endif
