/*
 * api.c — the status page's JSON API (docs/web.md lists every route).
 *
 * Reads come from the loop thread's queue connection through the same
 * store functions `dentsync status`, `jobs` and `job` use, so the page and
 * the command line never disagree; what only the running agent knows
 * (requests in flight, paused practices) comes from the status callback
 * the control socket answers with. The actions are the ones of the command
 * line: sync-now is the control socket's, retry calls the store as
 * `dentsync retry` does, a dropped file is previewed by `dentsync preview
 * --json` and its errors CSV written by `dentsync errors`, each run as a
 * child process. Importing a dropped file copies it (0600) into its
 * folder under a name the watcher skips, then renames it: from there it
 * travels the folder's pipeline like any export, to PostgreSQL.
 *
 * Every answer here may hold patient data (a preview, an errors CSV): all
 * are no-store (web.c), and none of it is logged.
 */
#include "agent/web/web_int.h"

#include "agent/core/alloc.h"
#include "agent/core/clock.h"
#include "agent/core/fsafe.h"
#include "agent/core/log.h"
#include "agent/map/map.h"
#include "agent/os/os_fs.h"
#include "agent/watch/watch.h"
#include "state/store_admin.h"
#include "state/store_status.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PREVIEW_MAX_OUT ((size_t)8 * 1024 * 1024) /* a preview's JSON lines */
#define CSV_MAX ((size_t)64 * 1024 * 1024)        /* an errors CSV served */
#define JOBS_SHOWN 50                             /* the history's default length */
#define FAILED_ROWS_SHOWN 200                     /* failed rows listed on a job's page */

static const char *iso(double t, char *buf, size_t size)
{
    time_t s = (time_t)t;
    struct tm tm;

    if (t <= 0 || gmtime_r(&s, &tm) == NULL) {
        return NULL;
    }
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

int ds__web_param(const struct ds__web_conn *c, const char *name, char *out, size_t size)
{
    return ds_http_param(c->req.query, c->req.query_len, name, out, size);
}

static int param(const struct ds__web_conn *c, const char *name, char *out, size_t size)
{
    return ds__web_param(c, name, out, size);
}

/* A field of the POST body, sent as x-www-form-urlencoded. */
static int form(const struct ds__web_conn *c, const char *name, char *out, size_t size)
{
    size_t n = 0;
    const char *b = ds__web_body(c, &n);

    return ds_http_param(b, n, name, out, size);
}

/* ---- reads -------------------------------------------------------------- */

static void session(struct ds__web_conn *c)
{
    char csrf[DS_WEB_TOKEN_HEX];
    json_t *folders = json_array();

    if (ds_web_auth_session(c->w->auth, c->sid, ds_clock_now(), csrf) != 0) {
        json_decref(folders);
        ds__web_error(c, 401, "LOGIN", "the session ended: log in again");
        return;
    }
    for (size_t i = 0; i < c->w->cfg->nfolders; i++) {
        const struct ds_folder_conf *f = &c->w->cfg->folders[i];

        json_array_append_new(folders,
                              json_pack("{s:s, s:s, s:s, s:s}", "name", f->name, "practice",
                                        f->practice, "import_type", f->import_type, "template",
                                        f->template_id != NULL ? f->template_id : "auto"));
    }
    /* write: whether the page offers the actions that change the queue. */
    ds__web_json(c, 200,
                 json_pack("{s:s, s:o, s:I, s:b}", "csrf", csrf, "folders", folders,
                           "max_upload_kb", (json_int_t)c->w->cfg->web_max_upload_kb, "write",
                           c->rights == DS_WEB_FULL));
    memset(csrf, 0, sizeof(csrf));
}

/* The agent's own view: the members the control socket's status answers. */
static json_t *agent_status(struct ds_web *w)
{
    struct ds_buf b;
    json_t *doc = NULL;

    ds_buf_init(&b, DS_CONTROL_MAX_ANSWER);
    if (ds_buf_append(&b, "{", 1) == 0 && w->ops.status(w->ops.ctx, &b) == 0) {
        if (b.data[b.len - 1] == ',') {
            b.len--;
        }
        if (ds_buf_append(&b, "}", 1) == 0) {
            doc = json_loadb(b.data, b.len, 0, NULL);
        }
    }
    ds_buf_close(&b);
    return doc;
}

static int on_batch(void *ctx, const struct ds_batch_status *b)
{
    json_t *list = ctx;
    char when[32];

    if (json_array_size(list) >= 100) {
        return 0;
    }
    json_array_append_new(
        list, json_pack("{s:s, s:I, s:s, s:s?, s:s?, s:I, s:i, s:s?, s:s?}", "job", b->job_id,
                        "seq", (json_int_t)b->seq, "state", b->state, "folder", b->folder,
                        "practice", b->practice, "rows", (json_int_t)b->nrows, "attempts",
                        b->attempts, "next_attempt_at", iso(b->next_attempt_at, when, sizeof(when)),
                        "last_error_code", b->last_error_code));
    return 0;
}

static int on_file(void *ctx, const struct ds_file_row *f)
{
    json_t *list = ctx;
    const char *base = strrchr(f->path, '/');

    json_array_append_new(list,
                          json_pack("{s:I, s:s, s:s, s:s, s:s, s:s?, s:s?}", "id",
                                    (json_int_t)f->id, "state", f->state, "folder", f->folder,
                                    "path", f->path, "name", base != NULL ? base + 1 : f->path,
                                    "reason_code", f->reason_code, "reason", f->reason));
    return 0;
}

static json_t *practice_of(json_t *agent, const char *name)
{
    size_t i;
    json_t *p;

    json_array_foreach(json_object_get(agent, "practices"), i, p)
    {
        const char *n = json_string_value(json_object_get(p, "name"));

        if (n != NULL && strcmp(n, name) == 0) {
            return p;
        }
    }
    return NULL;
}

static void overview(struct ds__web_conn *c)
{
    struct ds_web *w = c->w;
    const struct ds_config *cfg = w->cfg;
    double now = ds_clock_now();
    double stale = (double)cfg->stale_hours * 3600.0;
    struct ds_queue_stats qs;
    json_t *agent = agent_status(w);
    json_t *doc;
    json_t *folders = json_array();
    json_t *practices = json_array();
    json_t *batches = json_array();
    json_t *held = json_array();
    json_t *quarantined = json_array();
    char a[32];
    char b[32];
    int stale_any = 0;
    int paused_any = 0;
    int rc = 0;

    memset(&qs, 0, sizeof(qs));
    for (size_t i = 0; i < cfg->nfolders && rc == 0; i++) {
        const struct ds_folder_conf *f = &cfg->folders[i];
        struct ds_folder_status fs;
        const char *base;
        int is_stale;

        memset(&fs, 0, sizeof(fs));
        rc = ds_store_folder_status(w->store, f->name, &fs);
        /* As `dentsync status`: from the last sync, or from the first file
         * seen when nothing was ever synced. */
        is_stale = fs.last_synced_at > 0 ? now - fs.last_synced_at > stale
                                         : fs.last_seen_at > 0 && now - fs.last_seen_at > stale;
        stale_any |= is_stale;
        base = strrchr(fs.last_file, '/');
        base = base != NULL ? base + 1 : fs.last_file;
        json_array_append_new(
            folders,
            json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s?, s:s?, s:b, s:I, s:I, s:I, s:I}", "name",
                      f->name, "practice", f->practice, "import_type", f->import_type, "path",
                      f->path, "last_file", base[0] != '\0' ? base : NULL, "last_seen_at",
                      iso(fs.last_seen_at, a, sizeof(a)), "last_synced_at",
                      iso(fs.last_synced_at, b, sizeof(b)), "stale", is_stale, "files_waiting",
                      (json_int_t)fs.files_waiting, "rows_pending", (json_int_t)fs.rows_pending,
                      "held", (json_int_t)fs.held, "quarantined", (json_int_t)fs.quarantined));
    }
    for (size_t i = 0; i < cfg->npractices; i++) {
        json_t *p = practice_of(agent, cfg->practices[i].name);
        int paused = json_is_true(json_object_get(p, "paused"));
        const char *code = json_string_value(json_object_get(p, "code"));

        paused_any |= paused;
        json_array_append_new(practices, json_pack("{s:s, s:b, s:s?}", "name",
                                                   cfg->practices[i].name, "paused", paused, "code",
                                                   paused && code != NULL && code[0] != '\0' ? code
                                                   : paused ? "PAUSED"
                                                            : NULL));
    }
    if (rc == 0) {
        rc = ds_store_queue_stats(w->store, &qs);
    }
    if (rc == 0) {
        rc = ds_store_batches_waiting(w->store, on_batch, batches);
    }
    if (rc == 0) {
        rc = ds_store_files_in_state(w->store, "held", on_file, held);
    }
    if (rc == 0) {
        rc = ds_store_files_in_state(w->store, "quarantined", on_file, quarantined);
    }
    if (rc != 0) {
        json_decref(agent);
        json_decref(folders);
        json_decref(practices);
        json_decref(batches);
        json_decref(held);
        json_decref(quarantined);
        ds__web_error(c, 500, "QUEUE", "cannot read the queue");
        return;
    }
    doc =
        json_pack("{s:s, s:i, s:o, s:o, s:o, s:{s:I, s:I, s:s?}, s:o, s:o, s:o, s:b, s:b}", "now",
                  iso(now, a, sizeof(a)), "stale_hours", cfg->stale_hours, "agent",
                  agent != NULL ? agent : json_object(), "folders", folders, "practices", practices,
                  "queue", "pending_rows", (json_int_t)qs.pending_rows, "jobs_uploading",
                  (json_int_t)qs.jobs_uploading, "oldest_pending_at",
                  iso(qs.oldest_pending_at, b, sizeof(b)), "batches", batches, "held", held,
                  "quarantined", quarantined, "stale", stale_any, "in_cloud",
                  !stale_any && !paused_any && qs.pending_rows == 0 && json_array_size(held) == 0);
    ds__web_json(c, 200, doc);
}

/* How far a job is: rows decided (locally or by the cloud) over its rows. */
static int progress(const struct ds_job_row *j)
{
    const struct ds_item_counts *k = &j->counts;
    long open = k->valid + k->sent;

    if (strncmp(j->state, "completed", 9) == 0) {
        return 100;
    }
    if (strcmp(j->state, "staging") == 0 || k->total <= 0) {
        return 0;
    }
    return (int)((k->total - open) * 100 / k->total);
}

/* A job as the page shows it; cfg (may be NULL) gives the folder's fixed
 * location. */
static json_t *job_json(const struct ds_job_row *j, const struct ds_config *cfg)
{
    const struct ds_item_counts *k = &j->counts;
    const struct ds_folder_conf *f =
        cfg != NULL && j->folder != NULL ? ds_config_folder(cfg, j->folder) : NULL;
    char a[32];
    char b[32];
    char where[400];

    ds_map_location_text(j->location_column, f != NULL ? f->location : NULL, where, sizeof(where));
    return json_pack(
        "{s:s, s:s?, s:s, s:s, s:s?, s:s, s:s, s:I, s:s?, s:s?, s:i, s:{s:I, s:I, s:I, s:I, s:I, "
        "s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}, s:I, s:s?}",
        "id", j->id, "folder", j->folder, "practice", j->practice, "import_type", j->import_type,
        "template", j->template_id, "filename", j->filename, "state", j->state, "total_rows",
        (json_int_t)j->total_rows, "created_at", iso(j->created_at, a, sizeof(a)), "completed_at",
        iso(j->completed_at, b, sizeof(b)), "progress", progress(j), "rows", "total",
        (json_int_t)k->total, "created", (json_int_t)k->created, "updated", (json_int_t)k->updated,
        "unchanged", (json_int_t)k->unchanged, "deleted", (json_int_t)k->deleted, "duplicate",
        (json_int_t)k->duplicate, "invalid", (json_int_t)k->invalid, "skipped",
        (json_int_t)k->skipped, "conflict", (json_int_t)k->conflict, "needs_review",
        (json_int_t)k->needs_review, "rejected", (json_int_t)k->rejected, "waiting",
        (json_int_t)k->valid + k->sent, "sent", (json_int_t)k->sent, "failed",
        (json_int_t)k->invalid + k->conflict + k->needs_review + k->rejected, "location",
        where[0] != '\0' ? where : NULL);
}

struct jobs_ctx {
    json_t *list;
    const struct ds_config *cfg; /* borrow */
};

static int on_job(void *ctx, const struct ds_job_row *j)
{
    struct jobs_ctx *c = ctx;

    json_array_append_new(c->list, job_json(j, c->cfg));
    return 0;
}

static void jobs(struct ds__web_conn *c)
{
    char text[16];
    long limit = JOBS_SHOWN;
    json_t *list = json_array();
    struct jobs_ctx jc = {list, c->w->cfg};

    if (param(c, "limit", text, sizeof(text)) == 0) {
        limit = strtol(text, NULL, 10);
        limit = limit > 0 && limit <= 1000 ? limit : JOBS_SHOWN;
    }
    if (ds_store_jobs_list(c->w->store, limit, on_job, &jc) != 0) {
        json_decref(list);
        ds__web_error(c, 500, "QUEUE", "cannot read the queue");
        return;
    }
    ds__web_json(c, 200, json_pack("{s:o}", "jobs", list));
}

/* What to do about a group of rows that did not go through. */
static const char *suggestion(const char *status, const char *code, const char *message)
{
    const char *m = message != NULL ? message : "";

    if (strcmp(status, "duplicate") == 0) {
        return "The same record is twice in the file; the first row was taken. Nothing to do "
               "unless the export itself is wrong.";
    }
    if (strcmp(status, "conflict") == 0) {
        return "The cloud found a conflict with a record it holds (e.g. a double-booked chair). "
               "Resolve it in the cloud application.";
    }
    if (strcmp(status, "needs_review") == 0) {
        return "Several patients in the cloud match this row. Pick the right one in the cloud's "
               "review list.";
    }
    if (strcmp(status, "rejected") == 0) {
        return "The cloud refused these rows. Fix the cause it names, then press \"Retry "
               "rejected\" (or export the rows again).";
    }
    if (strstr(m, "required") != NULL) {
        return "A value the record needs is empty. Fill it in the practice software and export "
               "again; the errors CSV lists the rows.";
    }
    if (strstr(m, "unknown value") != NULL) {
        return "A value the template does not know. Add it to the field's map in your copy of "
               "the template (docs/templates.md), or fix it in the practice software.";
    }
    if (strstr(m, "date") != NULL) {
        return "A date that does not read. If days and months are swapped, set date_order in the "
               "practice's section of the configuration; otherwise fix it in the practice "
               "software.";
    }
    if (strstr(m, "phone") != NULL) {
        return "A phone number that does not read. Check the number, or phone_region in the "
               "practice's section of the configuration.";
    }
    (void)code;
    return "Fix the value in the practice software and export again; download the errors CSV "
           "to see each row with its original columns.";
}

struct job_ctx {
    json_t *doc;                 /* the job */
    const struct ds_config *cfg; /* borrow */
    char id[DS_UUID_LEN];
    long rows; /* failed rows listed */
};

static int on_job_detail(void *ctx, const struct ds_job_row *j)
{
    struct job_ctx *k = ctx;

    snprintf(k->id, sizeof(k->id), "%s", j->id);
    k->doc = job_json(j, k->cfg);
    return k->doc != NULL ? 0 : DS_ENOMEM;
}

static int on_group(void *ctx, const struct ds_error_group *g)
{
    struct job_ctx *k = ctx;
    char field[64];
    char sug[512];

    ds_map_message_field(g->message, field, sizeof(field));
    if (strcmp(g->status, "invalid") == 0) {
        ds_map_suggest_status(g->status, g->code, g->message, sug, sizeof(sug));
    }
    else {
        ds_str_copy(sug, sizeof(sug), suggestion(g->status, g->code, g->message));
    }
    json_array_append_new(json_object_get(k->doc, "errors"),
                          json_pack("{s:s, s:s?, s:s, s:s?, s:I, s:I, s:s}", "status", g->status,
                                    "code", g->code, "field", field, "message", g->message, "rows",
                                    (json_int_t)g->count, "first_row", (json_int_t)g->first_row,
                                    "suggestion", sug));
    return 0;
}

static int on_failed(void *ctx, const struct ds_failed_row *r)
{
    struct job_ctx *k = ctx;
    json_t *errs;
    json_t *e;
    size_t i;
    char sug[512];

    if (k->rows >= FAILED_ROWS_SHOWN) {
        return 1; /* enough for a page: the CSV has them all */
    }
    k->rows++;
    errs = r->errors_json != NULL ? json_loads(r->errors_json, 0, NULL) : NULL;
    if (!json_is_array(errs) || json_array_size(errs) == 0) {
        json_decref(errs);
        errs = json_array();
        if (r->error_code != NULL || r->error != NULL) {
            char field[64];

            ds_map_message_field(r->error, field, sizeof(field));
            json_array_append_new(errs, json_pack("{s:s, s:s?, s:s?}", "field", field, "code",
                                                  r->error_code, "message", r->error));
        }
    }
    json_array_foreach(errs, i, e)
    {
        ds_map_suggest_status(r->status, json_string_value(json_object_get(e, "code")),
                              json_string_value(json_object_get(e, "message")), sug, sizeof(sug));
        json_object_set_new(e, "suggestion", json_string(sug));
    }
    json_array_append_new(json_object_get(k->doc, "failed_rows"),
                          json_pack("{s:I, s:s, s:s?, s:s?, s:o}", "row", (json_int_t)r->row,
                                    "status", r->status, "code", r->error_code, "error", r->error,
                                    "errors", errs));
    return 0;
}

static void job(struct ds__web_conn *c)
{
    struct job_ctx k;
    struct ds_batch_counts bc;
    char id[64];
    int rc;

    memset(&k, 0, sizeof(k));
    k.cfg = c->w->cfg;
    if (param(c, "id", id, sizeof(id)) != 0) {
        ds__web_error(c, 400, "BAD_REQUEST", "which job? (id)");
        return;
    }
    rc = ds_store_job_show(c->w->store, id, on_job_detail, &k);
    if (rc == DS_ENOTFOUND || rc == DS_EINVAL) {
        json_decref(k.doc);
        ds__web_error(c, 404, "NOT_FOUND", "no such job in the queue");
        return;
    }
    if (rc == 0) {
        json_object_set_new(k.doc, "errors", json_array());
        json_object_set_new(k.doc, "failed_rows", json_array());
        rc = ds_store_job_batch_counts(c->w->store, k.id, &bc);
    }
    if (rc == 0) {
        json_object_set_new(k.doc, "batches",
                            json_pack("{s:I, s:I, s:I, s:I, s:I}", "pending",
                                      (json_int_t)bc.pending, "in_flight", (json_int_t)bc.in_flight,
                                      "retry_wait", (json_int_t)bc.retry_wait, "acked",
                                      (json_int_t)bc.acked, "rejected", (json_int_t)bc.rejected));
        rc = ds_store_job_errors(c->w->store, k.id, 50, on_group, &k);
    }
    if (rc == 0) {
        rc = ds_store_job_failed_rows(c->w->store, k.id, on_failed, &k);
        rc = rc == 1 ? 0 : rc;
    }
    if (rc != 0) {
        json_decref(k.doc);
        ds__web_error(c, 500, "QUEUE", "cannot read the queue");
        return;
    }
    ds__web_json(c, 200, k.doc);
}

static void files(struct ds__web_conn *c)
{
    json_t *held = json_array();
    json_t *quarantined = json_array();
    int rc = ds_store_files_in_state(c->w->store, "held", on_file, held);

    if (rc == 0) {
        rc = ds_store_files_in_state(c->w->store, "quarantined", on_file, quarantined);
    }
    if (rc != 0) {
        json_decref(held);
        json_decref(quarantined);
        ds__web_error(c, 500, "QUEUE", "cannot read the queue");
        return;
    }
    ds__web_json(c, 200, json_pack("{s:o, s:o}", "held", held, "quarantined", quarantined));
}

/* ---- the errors CSV ------------------------------------------------------ */

char *ds__web_child_message(const struct ds_buf *out, const struct ds_buf *err)
{
    const struct ds_buf *b = err->len > 0 ? err : out;
    char *m = ds_strndup(b->data != NULL ? b->data : "", 600);

    if (m != NULL) {
        m[strcspn(m, "\n")] = '\0';
    }
    return m;
}

static char *child_message(const struct ds_buf *out, const struct ds_buf *err)
{
    return ds__web_child_message(out, err);
}

static void on_errors_done(struct ds__web_conn *c, int status, const struct ds_buf *out,
                           const struct ds_buf *err)
{
    char path[PATH_MAX];
    char headers[128];
    struct ds_buf csv;
    char chunk[65536];
    ssize_t n;
    int fd;

    /* The CSV's path was stashed in the answer buffer by errors_csv(). */
    snprintf(path, sizeof(path), "%s", c->out.data != NULL ? c->out.data : "");
    if (status != 0) {
        char *m = child_message(out, err);

        ds_os_unlink(path);
        ds__web_error(c, 500, "ERRORS_CSV", m != NULL ? m : "dentsync errors failed");
        ds_free(m);
        return;
    }
    ds_buf_init(&csv, CSV_MAX);
    fd = ds_os_open_read(path);
    while (fd >= 0) {
        n = read(fd, chunk, sizeof(chunk));
        if (n <= 0 || ds_buf_append(&csv, chunk, (size_t)n) != 0) {
            break;
        }
    }
    if (fd >= 0) {
        close(fd);
    }
    ds_os_unlink(path);
    snprintf(headers, sizeof(headers),
             "Content-Disposition: attachment; filename=\"errors.csv\"\r\n");
    ds__web_respond(c, 200, "text/csv; charset=utf-8", headers, csv.data != NULL ? csv.data : "",
                    csv.len);
    ds_buf_close(&csv);
}

static void errors_csv(struct ds__web_conn *c)
{
    char id[64];
    char name[DS_UUID_LEN];
    char path[PATH_MAX];
    const char *args[] = {"errors", "-c", c->w->cfg->path, id, "--csv", path, NULL};

    if (param(c, "id", id, sizeof(id)) != 0 || id[0] == '-' || ds_uuid_v4(name) != 0) {
        ds__web_error(c, 400, "BAD_REQUEST", "which job? (id)");
        return;
    }
    snprintf(path, sizeof(path), "%s/%s.csv", c->w->upload_dir, name);
    ds_buf_reset(&c->out);
    ds_buf_append_str(&c->out, path);
    if (ds__web_child_run(c, args, 4096, 120000, on_errors_done) != 0) {
        ds__web_error(c, 503, "BUSY", "cannot start `dentsync errors`");
    }
}

/* ---- actions ------------------------------------------------------------- */

static void sync_now(struct ds__web_conn *c)
{
    ds_log_info("WEB_ACTION", "web: sync-now");
    c->w->ops.sync_now(c->w->ops.ctx);
    ds__web_json(c, 200, json_pack("{s:b}", "ok", 1));
}

static void retry_file(struct ds__web_conn *c)
{
    char text[32];
    char *end = NULL;
    long long id;
    int rc;

    if (form(c, "id", text, sizeof(text)) != 0) {
        ds__web_error(c, 400, "BAD_REQUEST", "which file? (id)");
        return;
    }
    id = strtoll(text, &end, 10);
    rc = end != text && *end == '\0' ? ds_store_file_retry(c->w->store, id) : DS_ENOTFOUND;
    if (rc == DS_ENOTFOUND) {
        ds__web_error(c, 404, "NOT_FOUND", "no such file in the queue");
        return;
    }
    if (rc == DS_EINVAL) {
        ds__web_error(c, 409, "NOT_HELD", "the file is not held; nothing to retry");
        return;
    }
    if (rc != 0) {
        ds__web_error(c, 500, "QUEUE", "cannot change the queue");
        return;
    }
    ds_log_info("WEB_ACTION", "web: retry of file %lld", id);
    c->w->ops.sync_now(c->w->ops.ctx);
    ds__web_json(c, 200, json_pack("{s:b}", "ok", 1));
}

static int on_job_id(void *ctx, const struct ds_job_row *j)
{
    snprintf(ctx, DS_UUID_LEN, "%s", j->id);
    return 0;
}

static void retry_job(struct ds__web_conn *c)
{
    char id[64];
    char full[DS_UUID_LEN];
    long n = 0;
    long completed = 0;
    int rc;

    if (form(c, "id", id, sizeof(id)) != 0) {
        ds__web_error(c, 400, "BAD_REQUEST", "which job? (id)");
        return;
    }
    rc = ds_store_job_show(c->w->store, id, on_job_id, full);
    if (rc == 0) {
        rc = ds_store_batches_retry_rejected(c->w->store, full, &n, &completed);
    }
    if (rc == DS_ENOTFOUND || rc == DS_EINVAL) {
        ds__web_error(c, 404, "NOT_FOUND", "no such job in the queue");
        return;
    }
    if (rc != 0) {
        ds__web_error(c, 500, "QUEUE", "cannot change the queue");
        return;
    }
    ds_log_info("WEB_ACTION", "web: retry of %ld rejected batch(es) of job %s", n, full);
    c->w->ops.sync_now(c->w->ops.ctx);
    ds__web_json(c, 200,
                 json_pack("{s:b, s:I, s:I}", "ok", 1, "batches", (json_int_t)n, "left_completed",
                           (json_int_t)completed));
}

/* ---- drag and drop: preview, then import ---------------------------------- */

/* The base name a person gave, kept to letters, digits and ._- (others
 * become _), never hidden, at most 120 bytes. */
static void safe_name(const char *in, char *out, size_t size)
{
    const char *base = strrchr(in, '/');
    size_t n = 0;

    base = base != NULL ? base + 1 : in;
    for (const char *p = base; *p != '\0' && n + 1 < size && n < 120; p++) {
        unsigned char ch = (unsigned char)*p;
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 ch == '.' || ch == '-' || ch == '_';

        out[n] = *p;
        if (!ok || (n == 0 && ch == '.')) {
            out[n] = '_';
        }
        n++;
    }
    out[n] = '\0';
    if (n == 0) {
        snprintf(out, size, "dropped.csv");
    }
}

struct ds__web_upload *ds__web_upload_find(struct ds_web *w, const char *id, const char *sid)
{
    /* The upload id is in the mapping screen's URL, so in the browser's
     * history: the session id is what keeps another session off it. */
    for (size_t i = 0; i < DS_WEB_UPLOADS; i++) {
        if (w->uploads[i].id[0] != '\0' && strcmp(w->uploads[i].id, id) == 0) {
            return sid[0] != '\0' && ds_web_auth_same(w->uploads[i].sid, sid) ? &w->uploads[i]
                                                                              : NULL;
        }
    }
    return NULL;
}

static void upload_drop(struct ds__web_upload *u)
{
    ds_os_unlink(u->path);
    memset(u, 0, sizeof(*u));
}

void ds__web_uploads_expire(struct ds_web *w, double now, int all)
{
    if (all) {
        char path[PATH_MAX + 300];
        DIR *dir;

        /* Also what a run before this one left (named by upload id). */
        for (size_t i = 0; i < DS_WEB_UPLOADS; i++) {
            if (w->uploads[i].id[0] != '\0') {
                upload_drop(&w->uploads[i]);
            }
        }
        dir = opendir(w->upload_dir);
        while (dir != NULL) {
            struct dirent *e = readdir(dir);

            if (e == NULL) {
                break;
            }
            if (e->d_name[0] != '.' && snprintf(path, sizeof(path), "%s/%s", w->upload_dir,
                                                e->d_name) < (int)sizeof(path)) {
                ds_os_unlink(path);
            }
        }
        if (dir != NULL) {
            closedir(dir);
        }
        return;
    }
    for (size_t i = 0; i < DS_WEB_UPLOADS; i++) {
        if (w->uploads[i].id[0] != '\0' && now - w->uploads[i].at > DS_WEB_UPLOAD_TTL) {
            upload_drop(&w->uploads[i]);
        }
    }
}

json_t *ds__web_preview_doc(const struct ds_buf *out)
{
    json_t *doc = json_pack("{s:n, s:[], s:n, s:[]}", "head", "rows", "summary", "errors");
    const char *p = out->data != NULL ? out->data : "";

    while (doc != NULL && *p != '\0') {
        const char *nl = strchr(p, '\n');
        size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);
        json_t *line = json_loadb(p, n, 0, NULL);

        if (line == NULL) {
            json_decref(doc);
            return NULL;
        }
        if (json_object_get(line, "summary") != NULL) {
            json_object_set(doc, "summary", json_object_get(line, "summary"));
            json_object_set(doc, "errors", json_object_get(line, "errors"));
            json_decref(line);
        }
        else if (json_object_get(line, "row") != NULL) {
            json_array_append_new(json_object_get(doc, "rows"), line);
        }
        else {
            json_object_del(line, "file"); /* our upload's path: not the person's business */
            json_object_set_new(doc, "head", line);
        }
        p += n;
        p += *p == '\n';
    }
    return doc;
}

static void on_preview_done(struct ds__web_conn *c, int status, const struct ds_buf *out,
                            const struct ds_buf *err)
{
    struct ds__web_upload *u = NULL;
    const struct ds_folder_conf *f;
    char id[DS_UUID_LEN];
    json_t *doc;
    int mappable;

    /* The upload id was stashed in the request's query area by preview(). */
    snprintf(id, sizeof(id), "%s", c->out.data != NULL ? c->out.data : "");
    u = ds__web_upload_find(c->w, id, c->sid);
    if (u == NULL) {
        ds__web_error(c, 410, "GONE", "the dropped file is gone; drop it again");
        return;
    }
    doc = status == 0 ? ds__web_preview_doc(out) : NULL;
    if (doc == NULL || json_is_null(json_object_get(doc, "summary"))) {
        char *m = status >= 0 ? child_message(out, err)
                              : ds_strdup("the preview took too long or grew too large");

        json_decref(doc);
        /* No template read it, most likely: in a folder that detects its
         * templates, the file is kept for the mapping screen (its upload
         * id in the answer); elsewhere nothing can come of it. */
        f = ds_config_folder(c->w->cfg, u->folder);
        mappable = status >= 0 && f != NULL &&
                   (f->template_id == NULL || strcmp(f->template_id, "auto") == 0);
        doc = json_pack("{s:{s:s, s:s}}", "error", "code", "PREVIEW", "message",
                        m != NULL && m[0] != '\0' ? m : "the file cannot be read");
        if (mappable) {
            json_object_set_new(doc, "upload", json_string(u->id));
            json_object_set_new(doc, "name", json_string(u->name));
            json_object_set_new(doc, "folder", json_string(u->folder));
        }
        else {
            upload_drop(u);
        }
        ds__web_json(c, 422, doc);
        ds_free(m);
        return;
    }
    json_object_set_new(doc, "upload", json_string(u->id));
    json_object_set_new(doc, "name", json_string(u->name));
    json_object_set_new(doc, "folder", json_string(u->folder));
    ds__web_json(c, 200, doc);
}

static void preview(struct ds__web_conn *c)
{
    struct ds_web *w = c->w;
    struct ds__web_upload *u = NULL;
    const struct ds_folder_conf *f;
    char folder[128];
    char name[512];
    char raw[512];
    size_t n = 0;
    const char *body = ds__web_body(c, &n);
    const char *h;
    size_t hn = 0;
    int fd;

    f = param(c, "folder", folder, sizeof(folder)) == 0 ? ds_config_folder(w->cfg, folder) : NULL;
    if (f == NULL) {
        ds__web_error(c, 400, "BAD_REQUEST", "which folder? (folder)");
        return;
    }
    if (n == 0) {
        ds__web_error(c, 400, "EMPTY", "the file is empty");
        return;
    }
    h = ds_http_header(&c->req, "x-filename", &hn);
    snprintf(raw, sizeof(raw), "%.*s", h != NULL ? (int)(hn < 500 ? hn : 500) : 0,
             h != NULL ? h : "");
    {
        /* X-Filename is the percent-encoded name alone: decoded as the
         * value of a parameter. */
        char kv[520];

        snprintf(kv, sizeof(kv), "n=%s", raw);
        if (ds_http_param(kv, strlen(kv), "n", name, sizeof(name)) != 0 || name[0] == '\0') {
            snprintf(name, sizeof(name), "dropped.csv");
        }
    }
    for (size_t i = 0; i < DS_WEB_UPLOADS && u == NULL; i++) {
        if (w->uploads[i].id[0] == '\0') {
            u = &w->uploads[i];
        }
    }
    if (u == NULL) {
        /* Full: the oldest one goes. */
        u = &w->uploads[0];
        for (size_t i = 1; i < DS_WEB_UPLOADS; i++) {
            if (w->uploads[i].at < u->at) {
                u = &w->uploads[i];
            }
        }
        upload_drop(u);
    }
    if (ds_uuid_v4(u->id) != 0) {
        memset(u, 0, sizeof(*u));
        ds__web_error(c, 500, "INTERNAL", "no random source");
        return;
    }
    safe_name(name, u->name, sizeof(u->name));
    ds_str_copy(u->folder, sizeof(u->folder), f->name);
    ds_str_copy(u->sid, sizeof(u->sid), c->sid);
    u->at = ds_clock_now();
    {
        const char *ext = strrchr(u->name, '.');

        snprintf(u->path, sizeof(u->path), "%s/%s%s", w->upload_dir, u->id, ext != NULL ? ext : "");
    }
    fd = ds_os_create_private(u->path, DS_OS_EXCL);
    if (fd < 0 || ds_fsafe_write_all(fd, body, n) != 0 || ds_os_fsync(fd) != 0) {
        if (fd >= 0) {
            close(fd);
        }
        upload_drop(u);
        ds__web_error(c, 500, "IO", "cannot keep the dropped file");
        return;
    }
    close(fd);
    {
        /* --folder: the folder's type, template and practice, as its files get. */
        const char *args[] = {"preview", "-c",     w->cfg->path, "--folder",
                              f->name,   "--json", u->path,      NULL};

        /* The upload id travels to the callback in the answer buffer,
         * unused until the answer is built. */
        ds_buf_reset(&c->out);
        ds_buf_append_str(&c->out, u->id);
        if (ds__web_child_run(c, args, PREVIEW_MAX_OUT, 60000, on_preview_done) != 0) {
            upload_drop(u);
            ds__web_error(c, 503, "BUSY", "cannot start `dentsync preview`");
        }
    }
}

/* Copies src into dir as name, 0600: written under a hidden .part name
 * the watcher skips, fsynced, renamed, the directory fsynced. */
static int copy_into(const char *src, const char *dir, const char *name, struct ds_error *err)
{
    char tmp[PATH_MAX];
    char dst[PATH_MAX];
    char buf[65536];
    ssize_t n;
    int in = -1;
    int out = -1;
    int rc = 0;
    int e;

    if (snprintf(tmp, sizeof(tmp), "%s/.%s.part", dir, name) >= (int)sizeof(tmp) ||
        snprintf(dst, sizeof(dst), "%s/%s", dir, name) >= (int)sizeof(dst)) {
        return ds_error_set(err, DS_ETOOBIG, "the folder's path is too long");
    }
    in = ds_os_open_read(src);
    out = ds_os_create_private(tmp, DS_OS_EXCL);
    if (in < 0 || out < 0) {
        rc = ds_error_set(err, DS_EIO, "cannot write into the folder: %s", strerror(errno));
        goto out;
    }
    for (;;) {
        n = read(in, buf, sizeof(buf));
        if (n <= 0) {
            break;
        }
        if (ds_fsafe_write_all(out, buf, (size_t)n) != 0) {
            rc = ds_error_set(err, DS_EIO, "cannot write into the folder: %s", strerror(errno));
            goto out;
        }
    }
    if (n < 0 || ds_os_fsync(out) != 0) {
        rc = ds_error_set(err, DS_EIO, "cannot write into the folder: %s", strerror(errno));
        goto out;
    }
    close(out);
    out = -1;
    /* An existing file of that name is never replaced; the folder is
     * synced once the name is there. */
    e = ds_os_rename(tmp, dst, 0);
    if (e != 0) {
        rc = ds_error_set(err, e == EEXIST ? DS_EEXIST : DS_EIO, "cannot name it %s: %s", name,
                          strerror(e));
        goto out;
    }
    tmp[0] = '\0';
out:
    if (in >= 0) {
        close(in);
    }
    if (out >= 0) {
        close(out);
    }
    if (rc != 0 && tmp[0] != '\0') {
        ds_os_unlink(tmp);
    }
    return rc;
}

const struct ds_folder_conf *ds__web_upload_folder(struct ds__web_conn *c,
                                                   const struct ds__web_upload *u)
{
    const struct ds_folder_conf *f = ds_config_folder(c->w->cfg, u->folder);

    if (f == NULL) {
        ds__web_error(c, 404, "NOT_FOUND", "the folder is no longer configured");
        return NULL;
    }
    if (!ds_watch_wanted(f, u->name)) {
        ds__web_error(c, 422, "NOT_TAKEN",
                      "the folder does not take a file of this name (its include or exclude "
                      "patterns); rename the file and drop it again");
        return NULL;
    }
    return f;
}

int ds__web_upload_copy(const struct ds__web_upload *u, const struct ds_folder_conf *f, char *name,
                        size_t size, struct ds_error *err)
{
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    int rc = DS_EEXIST;

    /* The dropped name if it is free, else one with the time before it. */
    localtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
    for (int i = 0; i < 10 && rc == DS_EEXIST; i++) {
        if (i == 0) {
            snprintf(name, size, "%s", u->name);
        }
        else {
            snprintf(name, size, "web-%s-%d-%s", stamp, i, u->name);
        }
        rc = copy_into(u->path, f->path, name, err);
    }
    return rc;
}

int ds__web_upload_import(struct ds_web *w, struct ds__web_upload *u,
                          const struct ds_folder_conf *f, char *name, size_t size,
                          struct ds_error *err)
{
    int rc = ds__web_upload_copy(u, f, name, size, err);

    if (rc != 0) {
        return rc;
    }
    ds_log_info("WEB_ACTION", "web: a dropped file was copied into folder %s", f->name);
    upload_drop(u);
    w->ops.sync_now(w->ops.ctx);
    return 0;
}

static void import(struct ds__web_conn *c)
{
    struct ds_web *w = c->w;
    struct ds__web_upload *u;
    const struct ds_folder_conf *f;
    struct ds_error err;
    char id[DS_UUID_LEN + 8];
    char name[300];

    ds_error_clear(&err);
    u = form(c, "upload", id, sizeof(id)) == 0 ? ds__web_upload_find(w, id, c->sid) : NULL;
    if (u == NULL) {
        ds__web_error(c, 404, "NOT_FOUND", "the dropped file is gone; drop it again");
        return;
    }
    f = ds__web_upload_folder(c, u);
    if (f == NULL) {
        return;
    }
    if (ds__web_upload_import(w, u, f, name, sizeof(name), &err) != 0) {
        ds__web_error(c, 500, "IMPORT", err.msg[0] != '\0' ? err.msg : "cannot copy the file");
        return;
    }
    ds__web_json(c, 200, json_pack("{s:b, s:s, s:s}", "ok", 1, "folder", f->name, "name", name));
}

/* ---- routes -------------------------------------------------------------- */

static int is(const struct ds__web_conn *c, const char *method, const char *path)
{
    return strcmp(c->req.method, method) == 0 && c->req.path_len == strlen(path) &&
           memcmp(c->req.path, path, c->req.path_len) == 0;
}

int ds__web_api_writes(const struct ds__web_conn *c)
{
    /* Sync now is not among them: the control socket grants it to the
     * dentsync group too. A preview keeps the dropped file in the state
     * directory, and leads only to an import. */
    return is(c, "POST", "/api/retry-file") || is(c, "POST", "/api/retry-job") ||
           is(c, "POST", "/api/preview") || is(c, "POST", "/api/import") ||
           ds__web_mapping_route(c);
}

void ds__web_api(struct ds__web_conn *c)
{
    if (is(c, "GET", "/api/session")) {
        session(c);
    }
    else if (is(c, "GET", "/api/overview")) {
        overview(c);
    }
    else if (is(c, "GET", "/api/jobs")) {
        jobs(c);
    }
    else if (is(c, "GET", "/api/job")) {
        job(c);
    }
    else if (is(c, "GET", "/api/job/errors.csv")) {
        errors_csv(c);
    }
    else if (is(c, "GET", "/api/files")) {
        files(c);
    }
    else if (is(c, "POST", "/api/sync-now")) {
        sync_now(c);
    }
    else if (is(c, "POST", "/api/retry-file")) {
        retry_file(c);
    }
    else if (is(c, "POST", "/api/retry-job")) {
        retry_job(c);
    }
    else if (is(c, "POST", "/api/preview")) {
        preview(c);
    }
    else if (is(c, "POST", "/api/import")) {
        import(c);
    }
    else if (ds__web_mapping_route(c)) {
        ds__web_mapping(c);
    }
    else {
        ds__web_error(c, 404, "NOT_FOUND", "no such API route");
    }
}
