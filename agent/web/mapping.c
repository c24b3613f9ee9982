/*
 * mapping.c — the status page's mapping screen: a file held because no
 * template reads it (NO_TEMPLATE) is mapped column by
 * column by a person, previewed as they choose, and saved as a template
 * (docs/web.md, "Mapping a file no template reads").
 *
 *   GET  /api/mapping?file=ID          the draft `dentsync templates --json
 *                                      new` makes of the file (a child), the
 *                                      canonical fields and statuses per type
 *   POST /api/mapping/preview?file=ID  body: the choice (JSON); the template
 *                                      it stands for previewed on the file
 *                                      by `dentsync preview --template-file`
 *                                      (a child): the one preview code path
 *   POST /api/mapping/save?file=ID     body: the choice with its id; the
 *                                      template saved into template_dir,
 *                                      queued for the cloud, the file retried
 *
 * Each takes ?upload=ID instead of ?file=ID for a file dropped on the
 * Import page (the upload id its preview answered, found as its import
 * finds it): saving then imports the file into the folder it was dropped
 * for, as "Import into FOLDER" does, instead of a retry.
 *
 * A choice becomes a template in one place, ds_draft_from_choice
 * (agent/map/draft.c), checked by the template loader. The file is read
 * only by the children, as every dropped file is. Answers hold the file's
 * values: no-store (web.c), full sessions only, never logged.
 */
#include "agent/web/web_int.h"

#include "agent/core/alloc.h"
#include "agent/core/fsafe.h"
#include "agent/core/log.h"
#include "agent/map/canon.h"
#include "agent/map/draft.h"
#include "agent/os/os_fs.h"
#include "agent/upload/upload.h"
#include "config/template.h"
#include "state/store_admin.h"
#include "state/store_status.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DRAFT_MAX_OUT ((size_t)4 * 1024 * 1024)   /* templates --json new */
#define PREVIEW_MAX_OUT ((size_t)8 * 1024 * 1024) /* a preview's JSON lines */
#define PREVIEW_ID "mapping-preview"              /* the id a previewed choice gets */

static int is(const struct ds__web_conn *c, const char *method, const char *path)
{
    return strcmp(c->req.method, method) == 0 && c->req.path_len == strlen(path) &&
           memcmp(c->req.path, path, c->req.path_len) == 0;
}

int ds__web_mapping_route(const struct ds__web_conn *c)
{
    return is(c, "GET", "/api/mapping") || is(c, "POST", "/api/mapping/preview") ||
           is(c, "POST", "/api/mapping/save");
}

/* The file the request maps: a held file (?file=ID) or a file dropped on
 * the Import page (?upload=ID). */
struct held {
    int64_t id;                   /* the held file asked for; 0 for a dropped one */
    int found;                    /* it is held */
    char upload[DS_UUID_LEN + 8]; /* the dropped file's upload id, "" for a held file */
    char path[PATH_MAX];          /* where it is */
    char name[256];               /* its name, as the page shows it */
    char folder[128];             /* its folder */
    char reason_code[64];         /* why it is held ("" for a dropped file) */
};

static int on_held(void *ctx, const struct ds_file_row *f)
{
    struct held *h = ctx;

    if (f->id == h->id) {
        const char *base = strrchr(f->path, '/');

        h->found = 1;
        ds_str_copy(h->path, sizeof(h->path), f->path);
        ds_str_copy(h->name, sizeof(h->name), base != NULL ? base + 1 : f->path);
        ds_str_copy(h->folder, sizeof(h->folder), f->folder);
        ds_str_copy(h->reason_code, sizeof(h->reason_code),
                    f->reason_code != NULL ? f->reason_code : "");
    }
    return 0;
}

/* The dropped file of c's request (?upload=ID), found as the Import
 * page's own import finds it, and its folder, or NULL (answered). A
 * folder whose files are read with one template only would never use the
 * template saved here: refused before the person maps anything. */
static const struct ds_folder_conf *dropped_file(struct ds__web_conn *c, struct held *h)
{
    const struct ds__web_upload *u = ds__web_upload_find(c->w, h->upload, c->sid);
    const struct ds_folder_conf *f;

    if (u == NULL) {
        ds__web_error(c, 404, "NOT_FOUND", "the dropped file is gone; drop it again");
        return NULL;
    }
    f = ds__web_upload_folder(c, u);
    if (f == NULL) {
        return NULL;
    }
    if (f->template_id != NULL && strcmp(f->template_id, "auto") != 0) {
        ds__web_error(c, 409, "FIXED_TEMPLATE",
                      "the folder reads its files with one template only: drop the file for a "
                      "folder whose template is auto to map it");
        return NULL;
    }
    ds_str_copy(h->path, sizeof(h->path), u->path);
    ds_str_copy(h->name, sizeof(h->name), u->name);
    ds_str_copy(h->folder, sizeof(h->folder), u->folder);
    return f;
}

/* The file of c's request and its folder, or NULL (answered). */
static const struct ds_folder_conf *held_file(struct ds__web_conn *c, struct held *h)
{
    const struct ds_folder_conf *f;
    char text[32];
    char *end = NULL;

    memset(h, 0, sizeof(*h));
    if (ds__web_param(c, "upload", h->upload, sizeof(h->upload)) == 0) {
        return dropped_file(c, h);
    }
    h->upload[0] = '\0';
    if (ds__web_param(c, "file", text, sizeof(text)) != 0) {
        ds__web_error(c, 400, "BAD_REQUEST", "which file? (file or upload)");
        return NULL;
    }
    h->id = strtoll(text, &end, 10);
    if (end == text || *end != '\0' ||
        ds_store_files_in_state(c->w->store, "held", on_held, h) != 0 || !h->found) {
        ds__web_error(c, 404, "NOT_FOUND", "no such held file");
        return NULL;
    }
    /* Held as ambiguous, the file has templates already: a new one would
     * tie with them again. */
    if (strcmp(h->reason_code, "NO_TEMPLATE") != 0) {
        ds__web_error(c, 409, "NOT_UNMAPPED",
                      "the file is held for another reason than a missing template");
        return NULL;
    }
    f = ds_config_folder(c->w->cfg, h->folder);
    if (f == NULL) {
        ds__web_error(c, 404, "NOT_FOUND", "the file's folder is no longer configured");
    }
    return f;
}

/* The templates a folder's files are detected among: the practice's
 * pulled from the cloud, then template_dir (and the built-in ones). */
static int folder_templates(const struct ds_config *cfg, const struct ds_folder_conf *f,
                            struct ds_template ***list, size_t *n, char *cloud, size_t size,
                            const char *dirs[2], struct ds_error *err)
{
    dirs[0] = ds_config_cloud_templates_dir(cfg, f->practice, cloud, size) == 0 ? cloud : NULL;
    dirs[1] = cfg->template_dir;
    return list != NULL ? ds_template_list_in(dirs, 2, list, n, err) : 0;
}

/* ---- the screen's start ---------------------------------------------------- */

static json_t *string_list(const char *const *l)
{
    json_t *a = json_array();

    for (size_t i = 0; l != NULL && l[i] != NULL; i++) {
        json_array_append_new(a, json_string(l[i]));
    }
    return a;
}

static void on_draft_done(struct ds__web_conn *c, int status, const struct ds_buf *out,
                          const struct ds_buf *err)
{
    const struct ds_folder_conf *f;
    const struct ds_practice_conf *pc;
    const char *const *types = ds_draft_types();
    struct held h;
    json_t *doc = NULL;
    json_t *fields = json_object();
    json_t *statuses = json_object();

    f = held_file(c, &h);
    if (f == NULL) {
        json_decref(fields);
        json_decref(statuses);
        return;
    }
    if (status == 0 && out->data != NULL) {
        doc = json_loadb(out->data, out->len, 0, NULL);
    }
    if (!json_is_object(doc)) {
        char *m = status >= 0 ? ds__web_child_message(out, err)
                              : ds_strdup("reading the file took too long");

        json_decref(doc);
        json_decref(fields);
        json_decref(statuses);
        ds__web_json(c, 422,
                     json_pack("{s:{s:s, s:s}}", "error", "code", "DRAFT", "message",
                               m != NULL && m[0] != '\0' ? m : "the file cannot be read"));
        ds_free(m);
        return;
    }
    for (size_t i = 0; types[i] != NULL; i++) {
        json_object_set_new(fields, types[i], string_list(ds_map_canonical_fields(types[i])));
        json_object_set_new(statuses, types[i], string_list(ds_draft_statuses(types[i])));
    }
    pc = ds_config_practice(c->w->cfg, f->practice);
    /* A dropped file is named by its upload id, a held one by its id. */
    json_object_set_new(doc, "file",
                        h.upload[0] != '\0'
                            ? json_pack("{s:s, s:s, s:s, s:n}", "upload", h.upload, "name", h.name,
                                        "folder", f->name, "reason_code")
                            : json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)h.id, "name",
                                        h.name, "folder", f->name, "reason_code", h.reason_code));
    json_object_set_new(doc, "folder_type", json_string(f->import_type));
    json_object_set_new(doc, "practice_time_zone",
                        pc != NULL && pc->timezone != NULL ? json_string(pc->timezone)
                                                           : json_null());
    json_object_set_new(doc, "fields", fields);
    json_object_set_new(doc, "statuses", statuses);
    json_object_set_new(doc, "template_dir", json_boolean(c->w->cfg->template_dir != NULL));
    ds__web_json(c, 200, doc);
}

static void start(struct ds__web_conn *c)
{
    const struct ds_folder_conf *f;
    struct held h;
    int fixed;

    f = held_file(c, &h);
    if (f == NULL) {
        return;
    }
    /* A folder of one type drafts for that type; auto lets the draft tell. */
    fixed = f->import_type != NULL && strcmp(f->import_type, "auto") != 0;
    {
        const char *typed[] = {"templates",    "-c",  c->w->cfg->path, "--json", "--type",
                               f->import_type, "new", h.path,          NULL};
        const char *any[] = {"templates", "-c", c->w->cfg->path, "--json", "new", h.path, NULL};

        if (ds__web_child_run(c, fixed ? typed : any, DRAFT_MAX_OUT, 60000, on_draft_done) != 0) {
            ds__web_error(c, 503, "BUSY", "cannot start `dentsync templates new`");
        }
    }
}

/* ---- preview of a choice ---------------------------------------------------- */

static void on_preview_done(struct ds__web_conn *c, int status, const struct ds_buf *out,
                            const struct ds_buf *err)
{
    char path[PATH_MAX];
    json_t *doc;

    /* The draft's path was stashed in the answer buffer by preview(). */
    snprintf(path, sizeof(path), "%s", c->out.data != NULL ? c->out.data : "");
    if (path[0] != '\0') {
        ds_os_unlink(path);
    }
    doc = status == 0 ? ds__web_preview_doc(out) : NULL;
    if (doc == NULL || json_is_null(json_object_get(doc, "summary"))) {
        char *m = status >= 0 ? ds__web_child_message(out, err)
                              : ds_strdup("the preview took too long or grew too large");

        json_decref(doc);
        ds__web_json(
            c, 422,
            json_pack("{s:{s:s, s:s}}", "error", "code", "PREVIEW", "message",
                      m != NULL && m[0] != '\0' ? m : "the template cannot read the file"));
        ds_free(m);
        return;
    }
    ds__web_json(c, 200, doc);
}

static void preview(struct ds__web_conn *c)
{
    struct ds_web *w = c->w;
    const struct ds_folder_conf *f;
    struct ds_template **list = NULL;
    struct ds_error err;
    struct held h;
    const char *dirs[2];
    char cloud[PATH_MAX];
    char path[PATH_MAX];
    char uuid[DS_UUID_LEN];
    json_t *t = NULL;
    char *text = NULL;
    size_t nlist = 0;
    size_t n = 0;
    const char *body = ds__web_body(c, &n);
    int fd;
    int rc;

    f = held_file(c, &h);
    if (f == NULL) {
        return;
    }
    ds_error_clear(&err);
    rc = folder_templates(w->cfg, f, &list, &nlist, cloud, sizeof(cloud), dirs, &err);
    if (rc == 0) {
        rc = ds_draft_from_choice(body, n, list, nlist, PREVIEW_ID, &t, NULL, &err);
    }
    ds_template_list_free(&list, nlist);
    if (rc != 0) {
        ds__web_error(c, 422, "MAPPING", err.msg[0] != '\0' ? err.msg : ds_strerror(rc));
        return;
    }
    text = json_dumps(t, JSON_COMPACT);
    json_decref(t);
    if (text == NULL || ds_uuid_v4(uuid) != 0 ||
        snprintf(path, sizeof(path), "%s/%s.json", w->upload_dir, uuid) >= (int)sizeof(path)) {
        free(text);
        ds__web_error(c, 500, "INTERNAL", "cannot keep the draft");
        return;
    }
    fd = ds_os_create_private(path, DS_OS_EXCL);
    rc = fd >= 0 && ds_fsafe_write_all(fd, text, strlen(text)) == 0 ? 0 : DS_EIO;
    free(text);
    if (fd >= 0) {
        close(fd);
    }
    if (rc != 0) {
        ds_os_unlink(path);
        ds__web_error(c, 500, "IO", "cannot keep the draft");
        return;
    }
    {
        const char *args[] = {"preview",         "-c", w->cfg->path, "--folder", f->name, "--json",
                              "--template-file", path, h.path,       NULL};

        ds_buf_reset(&c->out);
        ds_buf_append_str(&c->out, path);
        if (ds__web_child_run(c, args, PREVIEW_MAX_OUT, 60000, on_preview_done) != 0) {
            ds_os_unlink(path);
            ds__web_error(c, 503, "BUSY", "cannot start `dentsync preview`");
        }
    }
}

/* ---- saving ------------------------------------------------------------------ */

int ds__web_mapping_save(const struct ds_config *cfg, const struct ds_folder_conf *f,
                         const char *body, size_t len, char *id, size_t size, struct ds_error *err)
{
    struct ds_template **list = NULL;
    struct ds_template *old = NULL;
    const char *dirs[2];
    char cloud[PATH_MAX];
    const char *type;
    json_t *t = NULL;
    char *text = NULL;
    size_t nlist = 0;
    int overwrite = 0;
    int dfd = -1;
    int why = 0;
    int rc;

    id[0] = '\0';
    if (cfg->template_dir == NULL) {
        return ds_error_set(err, DS_ECONFIG,
                            "no template_dir in the configuration: nowhere to save a template");
    }
    rc = folder_templates(cfg, f, &list, &nlist, cloud, sizeof(cloud), dirs, err);
    if (rc == 0) {
        rc = ds_draft_from_choice(body, len, list, nlist, NULL, &t, &overwrite, err);
    }
    ds_template_list_free(&list, nlist);
    if (rc != 0) {
        goto out;
    }
    ds_str_copy(id, size, json_string_value(json_object_get(t, "id")));
    type = json_string_value(json_object_get(t, "import_type"));
    if (f->import_type != NULL && strcmp(f->import_type, "auto") != 0 &&
        strcmp(f->import_type, type) != 0) {
        rc = ds_error_set(err, DS_EINVAL,
                          "folder %s imports %s: a template of %s would not be used for its files",
                          f->name, f->import_type, type);
        goto out;
    }
    /* Built in, pulled from the cloud or the admin's: replaced only when
     * the person said so. */
    if (ds_template_find_in(dirs, 2, id, &old, NULL) == 0 && !overwrite) {
        rc = ds_error_set(err, DS_EEXIST,
                          "a template %s exists already: choose another id, or replace it", id);
        goto out;
    }
    dfd = ds_os_open_dir(cfg->template_dir, 1, &why);
    if (dfd < 0) {
        rc = ds_error_set(err, DS_EIO, "template_dir %s: cannot open it", cfg->template_dir);
        goto out;
    }
    /* The outbox first: a crash between the two leaves a template on its
     * way to the cloud, which the next pull brings back to this PC too;
     * the other order could leave one that never reaches the cloud. */
    text = json_dumps(t, JSON_COMPACT);
    rc = text != NULL ? ds_upload_template_outbox(cfg, f->practice, text, err)
                      : ds_error_set(err, DS_ENOMEM, "out of memory");
    if (rc == 0) {
        rc = ds_draft_save_at(dfd, id, t, 1, err);
    }
out:
    if (dfd >= 0) {
        close(dfd);
    }
    free(text);
    ds_template_free(&old);
    json_decref(t);
    return rc;
}

/* A dropped file whose template was just saved goes into its folder as
 * "Import into FOLDER" puts it there: the watcher detects it with the
 * saved template among the others, as every export. */
static void imported(struct ds__web_conn *c, const struct ds_folder_conf *f, const struct held *h,
                     const char *id, int cloud_queued)
{
    struct ds__web_upload *u = ds__web_upload_find(c->w, h->upload, c->sid);
    struct ds_error err;
    char name[300];

    ds_error_clear(&err);
    if (u == NULL || ds__web_upload_import(c->w, u, f, name, sizeof(name), &err) != 0) {
        char m[600];

        snprintf(m, sizeof(m), "template %s is saved, but the file was not imported: %s", id,
                 u == NULL ? "it is gone; drop it again" : err.msg);
        ds__web_error(c, 500, "IMPORT", m);
        return;
    }
    ds__web_json(c, 200,
                 json_pack("{s:b, s:s, s:b, s:b, s:s, s:s}", "ok", 1, "id", id, "imported", 1,
                           "cloud_queued", cloud_queued, "folder", f->name, "name", name));
}

static void save(struct ds__web_conn *c)
{
    struct ds_web *w = c->w;
    const struct ds_folder_conf *f;
    struct ds_error err;
    struct held h;
    char id[DS_DRAFT_ID_MAX + 1];
    size_t n = 0;
    const char *body = ds__web_body(c, &n);
    int rc;

    f = held_file(c, &h);
    if (f == NULL) {
        return;
    }
    ds_error_clear(&err);
    rc = ds__web_mapping_save(w->cfg, f, body, n, id, sizeof(id), &err);
    if (rc == DS_EEXIST) {
        ds__web_error(c, 409, "EXISTS", err.msg);
        return;
    }
    if (rc == DS_EINVAL || rc == DS_EPARSE || rc == DS_ETOOBIG || rc == DS_ECONFIG) {
        ds__web_error(c, 422, "MAPPING", err.msg[0] != '\0' ? err.msg : ds_strerror(rc));
        return;
    }
    if (rc != 0 && id[0] == '\0') {
        ds__web_error(c, 500, "SAVE", err.msg[0] != '\0' ? err.msg : ds_strerror(rc));
        return;
    }
    if (rc != 0) {
        /* Saved here, but not queued for the cloud: said, not hidden. */
        ds_log_warn("TEMPLATE_OUTBOX", "web: template %s saved, but not queued for the cloud: %s",
                    id, ds_strerror(rc));
    }
    ds_log_info("WEB_ACTION", "web: template %s saved from the mapping screen for folder %s", id,
                f->name);
    if (h.upload[0] != '\0') {
        imported(c, f, &h, id, err.code == 0);
        return;
    }
    rc = ds_store_file_retry(w->store, h.id);
    if (rc == 0) {
        ds_log_info("WEB_ACTION", "web: retry of file %lld with template %s", (long long)h.id, id);
    }
    w->ops.sync_now(w->ops.ctx);
    ds__web_json(c, 200,
                 json_pack("{s:b, s:s, s:b, s:b}", "ok", 1, "id", id, "retried", rc == 0,
                           "cloud_queued", err.code == 0));
}

void ds__web_mapping(struct ds__web_conn *c)
{
    if (is(c, "GET", "/api/mapping")) {
        start(c);
    }
    else if (is(c, "POST", "/api/mapping/preview")) {
        preview(c);
    }
    else {
        save(c);
    }
}
