/*
 * config.h — the agent's configuration: one INI file (docs/config.md,
 * config/dentsync.conf is the annotated default).
 *
 *   [agent]            state_dir, log_level, settle_seconds, rescan_seconds,
 *                      retention_days, max_queue_mb, template_dir,
 *                      stale_hours, log_file, log_max_kb, log_keep
 *   [cloud]            url, ca_file, batch_rows, max_in_flight, timeout_seconds,
 *                      retry_min_seconds, retry_max_seconds
 *   [practice NAME]    token_file, timezone, phone_region, date_order
 *   [folder NAME]      path, practice, import_type, template, sheet, location,
 *                      snapshot, max_missing_percent, include, exclude, after,
 *                      processed_dir, quarantine_dir, network
 *   [web]              enabled, listen, port, secret_file, max_upload_kb
 *
 * Loading checks everything it can without touching the network and reports
 * every problem as "FILE:LINE: message", so an office manager can fix the
 * whole file in one pass.
 */
#ifndef DS_CONFIG_CONFIG_H
#define DS_CONFIG_CONFIG_H

#include "agent/core/error.h"

#include <stddef.h>
#include <stdio.h>

struct stat;

#define DS_CONFIG_ENV "DENTSYNC_CONFIG"

struct ds_practice_conf {
    char *name;           /* the NAME of [practice NAME] */
    char *token_file;     /* path of the 0600 file holding the agent token */
    char *timezone;       /* IANA time zone of the practice, e.g. America/Chicago */
    char phone_region[3]; /* ISO 3166 region for national phone numbers, "US" */
    char date_order[5];   /* "auto", "MDY", "DMY" or "YMD" */
    int line;             /* line of the section header */
};

struct ds_folder_conf {
    char *name;              /* the NAME of [folder NAME] */
    char *path;              /* the export folder watched */
    char *practice;          /* the NAME of a [practice] section */
    char *import_type;       /* patients, appointments, treatments, financial, or
                                "auto": each file's from its best template */
    char *template_id;       /* a template id, or "auto" */
    char *sheet;             /* workbooks: a sheet's name, "*" (every sheet), or NULL (the first
                                whose header a template matches, else the first) */
    char *location;          /* the fixed location of its rows (1-100 bytes), or NULL: a row's
                                own location column wins over it */
    int snapshot_full;       /* 1: snapshot = full (absent keys are deleted) */
    int max_missing_percent; /* a full snapshot missing more keys is held (default 5) */
    char *include;           /* comma-separated name patterns to take, NULL: all */
    char *exclude;           /* comma-separated name patterns to skip, NULL: none */
    int after;               /* enum ds_after: what to do with a delivered file */
    char *processed_dir;     /* where `after = move` puts files; default path/processed */
    char *quarantine_dir;    /* where refused files go; default path/quarantine */
    int network;             /* enum ds_network: rely on rescans alone? */
    int line;                /* line of the section header */
};

enum ds_after { DS_AFTER_LEAVE = 0, DS_AFTER_MOVE = 1, DS_AFTER_DELETE = 2 };
enum ds_network { DS_NETWORK_AUTO = 0, DS_NETWORK_YES = 1, DS_NETWORK_NO = 2 };

struct ds_config {
    char *path; /* the file it was read from */

    /* [agent] */
    char *state_dir;       /* holds queue.db; created 0750 */
    int log_level;         /* enum ds_log_level */
    double settle_seconds; /* a file must stay unchanged this long */
    double rescan_seconds; /* full rescan period of every folder */
    int retention_days;    /* days acknowledged rows' data stay in the queue */
    int max_queue_mb;      /* disk budget of queue.db in MiB; 0: none */
    char *template_dir;    /* an admin's own templates; may be NULL */
    int stale_hours;       /* `status` warns when a folder synced nothing this long */
    char *log_file;        /* also log to this file (rotated); may be NULL */
    int log_max_kb;        /* the log file is rotated past this size, KiB */
    int log_keep;          /* rotated log files kept (NAME.1 ... NAME.N) */

    /* [cloud] */
    char *cloud_url;                /* base URL, https (http only to loopback) */
    char *ca_file;                  /* CA bundle to verify the cloud; may be NULL */
    int batch_rows;                 /* rows per batch */
    int max_in_flight;              /* requests in flight at once */
    double timeout_seconds;         /* per request */
    double retry_min_seconds;       /* first retry delay */
    double retry_max_seconds;       /* cap on the retry delay */
    char *proxy;                    /* HTTP(S) proxy URL; NULL: the environment's */
    long max_batch_bytes;           /* cap on one batch body before compression */
    double connect_timeout_seconds; /* per connection attempt */
    double heartbeat_seconds;       /* heartbeat period; 0 turns it off */
    double pause_probe_seconds;     /* a practice paused by 401 is tried again this often */

    /* [web] (docs/web.md) */
    int web_enabled;       /* serve the local status page (default 1) */
    char *web_listen;      /* address it binds, default 127.0.0.1 */
    int web_port;          /* TCP port, default 8765 */
    char *web_secret_file; /* 0600 file holding the login secret; may be NULL */
    int web_max_upload_kb; /* largest file dropped on the page, KiB */

    struct ds_practice_conf *practices; /* owned array */
    size_t npractices;
    struct ds_folder_conf *folders; /* owned array */
    size_t nfolders;
};

/* The path to use when no -c is given: $DENTSYNC_CONFIG, else the
 * platform's default (ds_os_default_path: /etc/dentsync/dentsync.conf). */
const char *ds_config_default_path(void);

/* Reads and checks path. On success *out holds the config (new: free with
 * ds_config_free) and 0 is returned. On any problem every one of them is
 * written to errs (may be NULL) as "FILE:LINE: message\n", *out is NULL and
 * DS_ECONFIG (or DS_EIO when the file cannot be read) is returned. */
int ds_config_load(const char *path, struct ds_config **out, FILE *errs);

void ds_config_free(struct ds_config **cfg);

/* The folder called name, or NULL. borrow. */
const struct ds_folder_conf *ds_config_folder(const struct ds_config *cfg, const char *name);

/* The practice called name, or NULL. borrow. */
const struct ds_practice_conf *ds_config_practice(const struct ds_config *cfg, const char *name);

/* Reads the practice's token from its token file (first line, trimmed) into
 * buf. The file must not be readable by group or others. DS_EIO, DS_EINVAL
 * (bad mode or empty) with err. The token is never logged or printed. */
int ds_config_read_token(const struct ds_practice_conf *p, char *buf, size_t size,
                         struct ds_error *err);

/* The directory of a practice's saved templates pulled from the cloud:
 * state_dir/cloud-templates/<practice, made file-name safe>. */
/* Whether the file at path (whose stat is sb) is private, asked as the
 * token's reader asks it (ds_os_fd_private): on Windows the C library's
 * mode bits say nothing of who may read a file (every readable file shows
 * 0644), its DACL does. A file this user cannot open is judged by its mode
 * bits (a check run by an admin who is not the agent's user). */
int ds_config_file_private(const char *path, const struct stat *sb);

int ds_config_cloud_templates_dir(const struct ds_config *cfg, const char *practice, char *buf,
                                  size_t size);

/* The queue database path inside state_dir, into buf. */
int ds_config_queue_path(const struct ds_config *cfg, char *buf, size_t size);

#endif
