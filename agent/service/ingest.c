/*
 * ingest.c — runs off the loop thread; see ingest.h for the contract.
 *
 * What a file can end as here:
 *   duplicate    its sha256 was taken before (ds_store_file_add decides);
 *   held again   the held file it was, with only its mtime changed: its
 *                row is kept (ds_store_file_add), nothing else happens;
 *   quarantined  unreadable, a pinned template missing or of another
 *                type, header without a required column, or malformed in the
 *                middle: nothing of it is kept staged, and the reason (code +
 *                message without patient data) is recorded;
 *   held         no template scored above the detection threshold
 *                (NO_TEMPLATE), or a full snapshot lost more keys than
 *                max_missing_percent allows (SNAPSHOT_SANITY): it waits for
 *                an admin's `dentsync retry`, nothing of it staged;
 *   staged       every data row is an item (valid, invalid with its reason,
 *                duplicate within the file, skipped by a template rule, or
 *                unchanged since it was last synced) and the valid ones —
 *                with a deletion row per vanished key of a full snapshot —
 *                are cut into batches.
 *
 * Routing: when the file's template has route rules, each template they
 * name (of another import type) gets a job of its own on the file. The
 * file's template decides where every row goes (ds_map_rule); each job is
 * staged in a pass of its own over the file, mapping its own rows with its
 * own template and keeping the others as `skipped` ("routed to T"), so
 * every job holds rows 1..N and the delta and the snapshot check work per
 * import type. The jobs go `uploading` together, in one transaction.
 *
 * Workbooks (docs/config.md, "sheet"): a folder's `sheet = NAME` reads that
 * sheet; without it, the first sheet whose header a template of the
 * folder's type matches (agent/map/detect_sheet.h); with `sheet = *` every
 * sheet whose header a template of any type matches is a pass and a job of
 * its own, reading its own sheet with its own template (its rows numbered
 * 1..N in its sheet). Each sheet passed over is logged (SHEET_SKIPPED) with
 * the file's and the sheet's names and why.
 */
#include "agent/service/ingest.h"

#include "agent/core/alloc.h"
#include "agent/core/buf.h"
#include "agent/core/crash.h"
#include "agent/core/fsafe.h"
#include "agent/core/log.h"
#include "agent/map/detect.h"
#include "agent/map/detect_sheet.h"
#include "agent/map/map.h"
#include "agent/map/tz.h"
#include "agent/read/read.h"
#include "config/template.h"
#include "state/store_admin.h"
#include "state/store_delta.h"
#include "state/store_ingest.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Rows per transaction while staging. These commits do not fsync (the job
 * stays `staging` until ds_store_job_staged, which does), so they can be
 * large; the loop's own connection waits for each, so not too large. */
#define ROWS_PER_COMMIT 20000

/* One job of the file: the folder's import type first, then one per
 * template a route rule of the first one names. */
struct pass {
    const struct ds_template *tpl; /* borrow (the caller's, or owned) */
    struct ds_template *owned;     /* a route target found by its id, or NULL */
    struct ds_mapper *mapper;      /* owned */
    char job_id[DS_UUID_LEN];
    long rows;                  /* data rows read in this pass */
    struct ds_read_hints hints; /* how its rows are read (the sheet) */
};

/* The jobs of one file, and which of them the current pass stages. */
struct passes {
    struct pass p[DS_INGEST_MAX_JOBS];
    size_t n;            /* jobs */
    size_t cur;          /* the pass being staged */
    int sheets;          /* 1: each pass reads a sheet of its own (sheet = *), not a route */
    char aged_before[9]; /* the reader's: occurrences before it left the window */
};

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');

    return slash != NULL ? slash + 1 : path;
}

/* Records the refusal of the file; the task then reports success with the
 * quarantined flag, since the file reached a final state. */
static int quarantine(struct ds_ingest_task *t, struct ds_store *st, const char *code)
{
    char reason[512];
    int rc;

    ds_str_copy(t->err.file, sizeof(t->err.file), base_name(t->path));
    ds_error_format(&t->err, reason, sizeof(reason));
    rc = ds_store_file_quarantine(st, t->file_id, code, reason);
    if (rc == 0) {
        t->quarantined = 1;
    }
    return rc;
}

/*
 * Opens the file once, without following a link and without blocking on a
 * FIFO, and checks through the descriptor that it is the file that settled
 * (or was recorded): a regular file with the same device, inode, size and
 * mtime. Everything after reads this descriptor, never the name again.
 * A file whose name now leads elsewhere (swapped, a link, gone) is not
 * read: DS_EBUSY, so the watcher settles what is there now. A recorded
 * file (a retry, a recovery) that became a link or another kind of file is
 * refused for good (NOT_REGULAR_FILE); *done is set then.
 */
static int open_file(struct ds_ingest_task *t, struct ds_store *st, int *fd, int *done)
{
    struct ds_file_id id;
    int why = 0;

    ds_crash_pause("ingest_before_open");
    *fd = ds_fsafe_open_file(t->path, 0, &id, &why);
    if (*fd < 0 && t->file_id != 0 && (why == DS_FSAFE_LINK || why == DS_FSAFE_NOT_FILE)) {
        ds_error_set(&t->err, DS_EINVAL, "the file is now %s; it is neither followed nor read",
                     ds_fsafe_why_text(why));
        *done = 1;
        return quarantine(t, st, "NOT_REGULAR_FILE");
    }
    if (*fd < 0) {
        return why == DS_FSAFE_ERROR && t->file_id != 0 ? DS_EIO : DS_EBUSY;
    }
    if (id.size != t->size || id.mtime_ns != t->mtime_ns ||
        (t->ino != 0 && (id.dev != t->dev || id.ino != t->ino))) {
        return DS_EBUSY;
    }
    t->dev = id.dev;
    t->ino = id.ino;
    return 0;
}

/*
 * Hashes what the descriptor holds, and checks it did not change while
 * hashed. A new file is recorded under that hash; a recorded one (a retry,
 * a recovery) must still hash as recorded, else the bytes are not those
 * the queue took: FILE_CHANGED, and *done is set. The jobs carry t->sha256,
 * the hash of the bytes they stage.
 */
static int record_file(struct ds_ingest_task *t, struct ds_store *st, int fd, int *done)
{
    struct ds_file_id id;
    char hex[DS_SHA256_HEX];
    char state[24];
    int64_t held_id = 0;
    int rc;

    rc = ds_sha256_fd(fd, hex);
    if (rc != 0) {
        return ds_error_set(&t->err, rc, "cannot read the file to hash it");
    }
    if (ds_fsafe_fd_id(fd, &id) != 0 || id.size != t->size || id.mtime_ns != t->mtime_ns) {
        return DS_EBUSY;
    }
    if (t->file_id != 0) {
        if (strcmp(hex, t->sha256) != 0) {
            ds_error_set(&t->err, DS_EINVAL,
                         "the file's content is no longer what was recorded; it is not read");
            *done = 1;
            return quarantine(t, st, "FILE_CHANGED");
        }
        return 0;
    }
    memcpy(t->sha256, hex, sizeof(hex));
    /* A held file that settles again unchanged (ds_store_file_add keeps its
     * row): nothing new to say of it. */
    if (ds_store_file_find(st, t->path, &held_id, state, sizeof(state)) != 0 ||
        strcmp(state, "held") != 0) {
        held_id = 0;
    }
    rc = ds_store_file_add(st, t->folder->name, t->path, t->size, t->mtime_ns, t->sha256,
                           &t->file_id, &t->duplicate);
    if (rc == 0 && held_id != 0 && t->file_id == held_id) {
        t->held_again = 1;
    }
    return rc;
}

/* After staging: the file must still have the size and mtime it had when
 * hashed, or what was staged may not be the bytes the hash names (it was
 * written to in place while read): FILE_CHANGED, and *done is set. */
static int still_as_hashed(struct ds_ingest_task *t, struct ds_store *st, int fd, int *done)
{
    struct ds_file_id id;

    if (ds_fsafe_fd_id(fd, &id) == 0 && id.size == t->size && id.mtime_ns == t->mtime_ns) {
        return 0;
    }
    ds_error_set(&t->err, DS_EINVAL, "the file was written to while it was read");
    *done = 1;
    return quarantine(t, st, "FILE_CHANGED");
}

/* The normalizer options of the folder's practice: its time zone (the
 * system's when not set; the template's time_zone wins over both), phone
 * region and date order. */
static int practice_options(struct ds_ingest_task *t, const struct ds_template *tpl,
                            struct ds_norm_opts *o, struct ds_tz **tz)
{
    const struct ds_practice_conf *p = ds_config_practice(t->cfg, t->folder->practice);
    const char *zone = tpl != NULL ? ds_template_time_zone(tpl) : NULL;
    int rc;

    memset(o, 0, sizeof(*o));
    rc = ds_tz_load(zone != NULL ? zone : p != NULL ? p->timezone : NULL, tz, &t->err);
    if (rc != 0) {
        return rc;
    }
    o->tz = *tz;
    if (p != NULL) {
        memcpy(o->phone_region, p->phone_region, sizeof(o->phone_region));
        o->date_order = strcmp(p->date_order, "DMY") == 0   ? DS_DATE_DMY
                        : strcmp(p->date_order, "YMD") == 0 ? DS_DATE_YMD
                        : strcmp(p->date_order, "MDY") == 0 ? DS_DATE_MDY
                                                            : DS_DATE_AUTO;
    }
    return 0;
}

/*
 * The delta of a staged job: rows synced before with the same fingerprint
 * become `unchanged`; for a folder of full snapshots, a deletion row is
 * added for every key synced before and absent now — unless more than
 * max_missing_percent of them vanished at once, which looks like a
 * truncated export: then the file is held for an admin and nothing of it
 * stays staged (an admin's retry lets the next ingest of it through). A
 * calendar's occurrence that fell behind the reader's window (aged_before)
 * is not a deletion: the appointment took place, it only is not read again.
 */
static int delta(struct ds_ingest_task *t, struct ds_store *st, const char *job_id,
                 const char *import_type, const char *aged_before, long *deletions, int *held)
{
    struct ds_snapshot_check c;
    char reason[256];
    long unchanged = 0;
    int retries = 0;
    int rc;

    *deletions = 0;
    rc = ds_store_job_mark_unchanged(st, job_id, &unchanged);
    if (rc != 0) {
        return rc;
    }
    t->unchanged += unchanged;
    t->valid -= unchanged;
    if (!t->folder->snapshot_full) {
        return 0;
    }
    rc = ds_store_file_admin_retries(st, t->file_id, &retries);
    if (rc == 0) {
        rc = ds_store_job_snapshot(st, job_id, t->rows, t->folder->max_missing_percent, retries > 0,
                                   aged_before, &c);
    }
    if (rc != 0) {
        return rc;
    }
    if (c.shrank) {
        snprintf(reason, sizeof(reason),
                 "full snapshot: %ld of the %ld %s keys synced before are missing, more than "
                 "max_missing_percent (%d%%); `dentsync retry` sends the deletions",
                 c.missing, c.synced, import_type, t->folder->max_missing_percent);
        rc = ds_store_file_hold(st, t->file_id, DS_HOLD_SNAPSHOT, reason);
        *held = rc == 0;
        return rc;
    }
    *deletions = c.deletions;
    t->deletions += c.deletions;
    return 0;
}

/* Where templates come from, in rising precedence: the practice's saved in
 * the cloud (pulled by the uploader into state_dir/cloud-templates/), then
 * the admin's template_dir. */
static void template_dirs(const struct ds_ingest_task *t, char *cloud, size_t size,
                          const char *dirs[2])
{
    if (ds_config_cloud_templates_dir(t->cfg, t->folder->practice, cloud, size) != 0) {
        cloud[0] = '\0';
    }
    dirs[0] = cloud[0] != '\0' ? cloud : NULL;
    dirs[1] = t->cfg->template_dir;
}

/*
 * The template of the file: the folder's pinned one, or (template = auto,
 * or none given) the best of every template of the folder's import type
 * scored against the header (agent/map/detect.h). Templates come from
 * the built-in set, the practice's templates saved in the cloud (pulled by
 * the uploader into state_dir/cloud-templates/) and the admin's
 * template_dir, each later source replacing an earlier one's template of
 * the same id. A folder with import_type auto scores the templates of
 * every type and the file takes the best one's type (ds_detect_any_type).
 * When none scores above the threshold the file is held (NO_TEMPLATE)
 * with the closest templates and the columns none of them knows — header
 * names, never values —, when two types tie (auto) it is held
 * (AMBIGUOUS_TYPE) with the candidates and their scores, and *held is
 * set. *use borrows from *tpl or *list, which the caller frees.
 */
static int choose_template(struct ds_ingest_task *t, struct ds_store *st,
                           const struct ds_row *header, struct ds_template **tpl,
                           struct ds_template ***list, size_t *nlist,
                           const struct ds_template **use, int *held)
{
    struct ds_detection d;
    char reason[768];
    char cloud[4096];
    const char *dirs[2];
    const char *id = t->folder->template_id;
    int rc;

    template_dirs(t, cloud, sizeof(cloud), dirs);
    if (id != NULL && strcmp(id, "auto") != 0) {
        rc = ds_template_find_in(dirs, 2, id, tpl, &t->err);
        if (rc != 0) {
            return quarantine(t, st, "TEMPLATE_NOT_FOUND");
        }
        if (!ds_detect_type_is_auto(t->folder->import_type) &&
            strcmp(ds_template_import_type(*tpl), t->folder->import_type) != 0) {
            ds_error_set(&t->err, DS_EINVAL, "template %s imports %s, the folder expects %s", id,
                         ds_template_import_type(*tpl), t->folder->import_type);
            return quarantine(t, st, "TEMPLATE_TYPE");
        }
        *use = *tpl;
        return 0;
    }
    rc = ds_template_list_in(dirs, 2, list, nlist, &t->err);
    if (rc == 0 && ds_detect_type_is_auto(t->folder->import_type)) {
        rc = ds_detect_any_type(*list, *nlist, header, &d);
    }
    else if (rc == 0) {
        rc = ds_detect_template(*list, *nlist, t->folder->import_type, header, &d);
    }
    if (rc != 0) {
        return rc;
    }
    if (!d.matched) {
        ds_detect_explain(&d, reason, sizeof(reason));
        if (d.any_type) {
            /* Template ids, import types and scores: no value of the file. */
            ds_log_warn(d.ambiguous ? "TYPE_AMBIGUOUS" : "TYPE_UNKNOWN", "%s: import_type auto: %s",
                        base_name(t->path), reason);
        }
        rc = ds_store_file_hold(st, t->file_id,
                                d.ambiguous ? DS_HOLD_AMBIGUOUS_TYPE : DS_HOLD_NO_TEMPLATE, reason);
        *held = rc == 0;
        return rc;
    }
    ds_log_info("TEMPLATE_DETECTED", "%s: template %s (%s, score %.0f)", base_name(t->path),
                ds_template_id(d.best[0].t), ds_template_import_type(d.best[0].t), d.best[0].score);
    *use = d.best[0].t;
    return 0;
}

/*
 * The jobs a routed file makes: one pass per template a route rule of the
 * file's template names, each bound to the header with its route rules
 * off (the file's template decides). A target that cannot be found, or
 * whose import type is the file's or another target's (one job per type),
 * quarantines the file (ROUTE_TEMPLATE); one that cannot read the header
 * too (MAPPING_ERROR). *done is set when the file was quarantined.
 */
static int route_targets(struct ds_ingest_task *t, struct ds_store *st, struct passes *ps,
                         const struct ds_row *header, int *done)
{
    const struct ds_template *first = ps->p[0].tpl;
    char cloud[4096];
    const char *dirs[2];
    int rc;

    template_dirs(t, cloud, sizeof(cloud), dirs);
    for (size_t i = 0; i < ds_template_nrules(first); i++) {
        const struct ds_template_rule *r = ds_template_rule(first, i);
        struct pass *p;
        size_t k;

        if (r->kind != DS_RULE_ROUTE) {
            continue;
        }
        for (k = 1; k < ps->n && strcmp(ds_template_id(ps->p[k].tpl), r->target) != 0; k++) {
        }
        if (k < ps->n) {
            continue; /* another rule to the same template */
        }
        if (ps->n == DS_INGEST_MAX_JOBS) {
            ds_error_set(&t->err, DS_EINVAL, "template %s routes to more than %d templates",
                         ds_template_id(first), DS_INGEST_MAX_JOBS - 1);
            *done = 1;
            return quarantine(t, st, "ROUTE_TEMPLATE");
        }
        p = &ps->p[ps->n];
        rc = ds_template_find_in(dirs, 2, r->target, &p->owned, &t->err);
        if (rc != 0) {
            ds_error_set(&t->err, rc, "template %s routes rows to template %s, which is not found",
                         ds_template_id(first), r->target);
            *done = 1;
            return quarantine(t, st, "ROUTE_TEMPLATE");
        }
        p->tpl = p->owned;
        ps->n++;
        for (k = 0; k + 1 < ps->n; k++) {
            if (strcmp(ds_template_import_type(ps->p[k].tpl), ds_template_import_type(p->tpl)) ==
                0) {
                ds_error_set(&t->err, DS_EINVAL,
                             "template %s routes rows to template %s, of import type %s, which "
                             "the file has a job of already (one job per import type)",
                             ds_template_id(first), r->target, ds_template_import_type(p->tpl));
                *done = 1;
                return quarantine(t, st, "ROUTE_TEMPLATE");
            }
        }
        rc = ds_map_new(p->tpl, header, &p->mapper, &t->err);
        if (rc != 0) {
            *done = 1;
            return quarantine(t, st, "MAPPING_ERROR");
        }
        ds_map_set_routing(p->mapper, 0);
    }
    return 0;
}

/* The pass whose job a row of a file of several jobs belongs to: the file's
 * template decides (its first matching rule; a skip rule keeps the row in
 * the first job, skipped there). *why is the reason a sibling job gives the
 * row: the skip rule's, or NULL for "routed to <type>". */
static size_t row_owner(const struct passes *ps, const struct ds_row *row, const char **why)
{
    const struct ds_template_rule *r = ds_map_rule(ps->p[0].mapper, row);

    *why = NULL;
    if (r == NULL) {
        return 0;
    }
    if (r->kind == DS_RULE_SKIP) {
        *why = r->reason != NULL ? r->reason : "skip rule";
        return 0;
    }
    for (size_t k = 1; k < ps->n; k++) {
        if (strcmp(ds_template_id(ps->p[k].tpl), r->target) == 0) {
            return k;
        }
    }
    return 0; /* every target has its pass (route_targets) */
}

/* A row that belongs to a sibling job: `skipped` in this one, with the
 * reason and nothing of the row (its own job holds it). */
static int stage_elsewhere(const struct passes *ps, struct ds_store *st, long row, size_t owner,
                           const char *why)
{
    char reason[64];

    if (why == NULL) {
        snprintf(reason, sizeof(reason), "routed to %s", ds_template_import_type(ps->p[owner].tpl));
        why = reason;
    }
    return ds_store_item_add(st, ps->p[ps->cur].job_id, row, NULL, NULL, DS_ITEM_SKIPPED, NULL,
                             NULL, why, NULL);
}

/* Maps one row of the current pass's own and adds its item; counts it. */
static int stage_own(struct ds_ingest_task *t, struct ds_store *st, struct pass *p,
                     const struct ds_row *row, struct ds_mapped *m)
{
    const char *stored = NULL;
    const char *status;
    const char *error;
    int rc;

    rc = ds_map_row(p->mapper, row, m);
    if (rc != 0) {
        return rc;
    }
    status = m->valid ? DS_ITEM_VALID : DS_ITEM_INVALID;
    error = m->valid ? NULL : m->error;
    if (m->skipped) {
        /* A template rule says the row is not data of this type: kept,
         * counted and shown with the rule's reason. */
        status = DS_ITEM_SKIPPED;
        error = m->skip_reason != NULL ? m->skip_reason : "skip rule";
    }
    else if (m->route != NULL) {
        /* Only a route rule whose target has no job of its own gets here,
         * which route_targets rules out; kept invalid, not lost. */
        ds_map_add_error(m, "record", "routed to another import type");
    }
    if (m->valid && m->key[0] == '\0') {
        /* The mapper promises a key for every valid record; hold it to
         * that rather than stage a row nothing can identify. */
        ds_map_add_error(m, "record", "no identity key");
    }
    if (!m->skipped) {
        status = m->valid ? DS_ITEM_VALID : DS_ITEM_INVALID;
        error = m->valid ? NULL : m->error;
    }
    rc = ds_store_item_add(st, p->job_id, row->row, m->key[0] != '\0' ? m->key : NULL,
                           m->valid ? m->fingerprint : NULL, status, m->record_json, m->raw_json,
                           error, &stored);
    if (rc == 0 && row->error != 0 && stored != NULL && strcmp(stored, DS_ITEM_INVALID) == 0) {
        rc = ds_store_item_set_code(st, p->job_id, row->row, ds_read_row_error_code(row->error));
    }
    if (rc == 0 && stored != NULL && strcmp(stored, DS_ITEM_INVALID) == 0) {
        /* Every problem of the row, not only the first (items.errors). */
        char *errors = NULL;

        rc = ds_map_errors_json(m, &errors);
        if (rc == 0) {
            rc = ds_store_item_set_errors(st, p->job_id, row->row,
                                          m->nerrors > 0 ? m->errors[0].code : NULL, errors);
        }
        ds_free(errors);
    }
    ds_mapped_close(m);
    if (rc != 0) {
        return rc;
    }
    if (stored != NULL && strcmp(stored, DS_ITEM_DUPLICATE) == 0) {
        t->duplicates++;
    }
    else if (stored != NULL && strcmp(stored, DS_ITEM_INVALID) == 0) {
        t->invalid++;
    }
    else if (stored != NULL && strcmp(stored, DS_ITEM_SKIPPED) == 0) {
        t->skipped++;
    }
    else {
        t->valid++;
    }
    return 0;
}

/* Reads and stages every row inside the open job of the current pass: its
 * own rows mapped, a sibling job's rows (a file of several) skipped. */
static int stage_rows(struct ds_ingest_task *t, struct ds_store *st, struct ds_reader *reader,
                      struct passes *ps)
{
    struct pass *p = &ps->p[ps->cur];
    struct ds_mapped m;
    struct ds_row row;
    const char *why = NULL;
    size_t owner = ps->cur;
    int rc;

    memset(&m, 0, sizeof(m));
    rc = ds_store_tx_begin(st);
    while (rc == 0) {
        rc = ds_read_next_row(reader, &row, &t->err);
        if (rc <= 0) {
            break;
        }
        if (ps->n > 1 && !ps->sheets) {
            owner = row_owner(ps, &row, &why);
        }
        rc = owner == ps->cur ? stage_own(t, st, p, &row, &m)
                              : stage_elsewhere(ps, st, row.row, owner, why);
        if (rc != 0) {
            break;
        }
        p->rows++;
        if (p->rows % ROWS_PER_COMMIT == 0) {
            if (t->stop != NULL && atomic_load(t->stop)) {
                rc = DS_ESTOP;
                break;
            }
            rc = ds_store_tx_commit(st);
            if (rc == 0) {
                ds_crash_point("after_stage_commit");
                rc = ds_store_tx_begin(st);
            }
        }
    }
    if (rc != 0) {
        ds_store_tx_rollback(st);
        return rc;
    }
    return ds_store_tx_commit(st);
}

/* date_order = auto: every row of the file votes before any is mapped, so
 * each date column is read in the order its whole column tells
 * (ds_map_date_decide). One more read of the file, only when a mapper
 * reads dates in the order auto. */
static int infer_date_order(struct ds_ingest_task *t, int fd, struct passes *ps)
{
    struct ds_reader *r = NULL;
    struct ds_row row;
    long n = 0;
    int need = 0;
    int rc = 0;

    for (size_t k = 0; k < ps->n; k++) {
        need |= ds_map_wants_date_votes(ps->p[k].mapper);
    }
    if (!need) {
        return 0;
    }
    /* One read for every pass of one file; one per pass of its own sheet. */
    for (size_t s = 0; s < (ps->sheets ? ps->n : 1) && rc == 0; s++) {
        rc = ds_read_open_fd(fd, t->path, &ps->p[s].hints, &r, &t->err);
        while (rc == 0) {
            rc = ds_read_next_row(r, &row, &t->err);
            if (rc <= 0) {
                break;
            }
            rc = 0;
            for (size_t k = 0; k < ps->n; k++) {
                if (!ps->sheets || k == s) {
                    ds_map_date_vote(ps->p[k].mapper, &row);
                }
            }
            if (++n % ROWS_PER_COMMIT == 0 && t->stop != NULL && atomic_load(t->stop)) {
                rc = DS_ESTOP;
            }
        }
        ds_read_close(&r);
    }
    if (rc != 0) {
        return rc;
    }
    for (size_t k = 0; k < ps->n; k++) {
        ds_map_date_decide(ps->p[k].mapper);
    }
    return 0;
}

/* Keeps with the job how its template bound to the header: which column
 * feeds which field, by the template or by synonym (header and field
 * names only); and the names of its raw rows and records, which the queue
 * then keeps as their values alone (docs/states.md, "Item"). */
static int record_binding(struct ds_store *st, const struct pass *p)
{
    char *binding = NULL;
    char *columns = NULL;
    char *fields = NULL;
    int rc = ds_map_binding_json(p->mapper, &binding);

    if (rc == 0) {
        rc = ds_store_job_set_binding(st, p->job_id, binding);
    }
    if (rc == 0) {
        ds_map_set_outputs(p->mapper,
                           DS_MAP_RAW | DS_MAP_RECORD | DS_MAP_RAW_VALUES | DS_MAP_RECORD_VALUES);
        rc = ds_map_raw_columns_json(p->mapper, &columns);
    }
    if (rc == 0) {
        rc = ds_map_record_fields_json(p->mapper, &fields);
    }
    if (rc == 0) {
        rc = ds_store_job_set_columns(st, p->job_id, columns, fields);
    }
    ds_free(binding);
    ds_free(columns);
    ds_free(fields);
    return rc;
}

/* Begins the jobs of every pass: the first on the file, the others routed
 * from it. */
static int begin_jobs(struct ds_ingest_task *t, struct ds_store *st, struct passes *ps)
{
    int rc = 0;

    for (size_t k = 0; k < ps->n && rc == 0; k++) {
        struct pass *p = &ps->p[k];

        rc = ds_uuid_v4(p->job_id);
        if (rc == 0 && k == 0) {
            /* The template's type: the folder's, or with import_type auto
             * the one detection chose. */
            rc = ds_store_job_begin(st, t->file_id, p->job_id, t->folder->practice,
                                    ds_template_import_type(p->tpl), ds_template_id(p->tpl),
                                    base_name(t->path), t->sha256);
        }
        else if (rc == 0) {
            rc = ds_store_job_begin_routed(st, ps->p[0].job_id, p->job_id,
                                           ds_template_import_type(p->tpl), ds_template_id(p->tpl));
        }
        if (rc == 0) {
            rc = record_binding(st, p);
        }
        if (rc == 0) {
            ds_str_copy(t->job_ids[k], sizeof(t->job_ids[k]), p->job_id);
            ds_str_copy(t->job_types[k], sizeof(t->job_types[k]), ds_template_import_type(p->tpl));
        }
    }
    if (rc == 0) {
        t->njobs = (int)ps->n;
        ds_str_copy(t->job_id, sizeof(t->job_id), ps->p[0].job_id);
    }
    return rc;
}

/* Stages every pass, each over the file from its start (the first one
 * reads on from the header already read). A pass that reads another number
 * of rows than the first means the file changed under us: quarantined. */
static int stage_passes(struct ds_ingest_task *t, struct ds_store *st, int fd,
                        struct ds_reader **reader, struct passes *ps, int *done)
{
    int rc = 0;

    t->rows = 0;
    for (ps->cur = 0; ps->cur < ps->n; ps->cur++) {
        if (ps->cur > 0 || ps->sheets) {
            ds_read_close(reader);
            rc = ds_read_open_fd(fd, t->path, &ps->p[ps->cur].hints, reader, &t->err);
            if (rc != 0) {
                break;
            }
            ds_crash_point("routed_pass_begin");
        }
        rc = stage_rows(t, st, *reader, ps);
        if (rc != 0) {
            break;
        }
        if (ps->sheets) {
            t->rows += ps->p[ps->cur].rows;
        }
        else if (ps->p[ps->cur].rows != ps->p[0].rows) {
            ds_error_set(&t->err, DS_EINVAL,
                         "the file changed while it was read: %ld data rows, then %ld",
                         ps->p[0].rows, ps->p[ps->cur].rows);
            *done = 1;
            return quarantine(t, st, "FILE_CHANGED");
        }
    }
    if (!ps->sheets) {
        t->rows = ps->p[0].rows;
    }
    return rc;
}

/* The delta of every job, then every job staged: one job by itself (a
 * durable commit), several in one transaction, so they go `uploading`
 * together or not at all. */
static int finish_jobs(struct ds_ingest_task *t, struct ds_store *st, struct passes *ps, int *held)
{
    long deletions[DS_INGEST_MAX_JOBS];
    int rc = 0;

    for (size_t k = 0; k < ps->n && rc == 0 && !*held; k++) {
        rc = delta(t, st, ps->p[k].job_id, ds_template_import_type(ps->p[k].tpl), ps->aged_before,
                   &deletions[k], held);
    }
    if (rc != 0 || *held) {
        return rc;
    }
    ds_crash_point("after_stage_commit");
    if (ps->n == 1) {
        return ds_store_job_staged(st, ps->p[0].job_id, ps->p[0].rows + deletions[0],
                                   t->cfg->batch_rows);
    }
    rc = ds_store_tx_begin(st);
    for (size_t k = 0; k < ps->n && rc == 0; k++) {
        rc = ds_store_job_staged(st, ps->p[k].job_id, ps->p[k].rows + deletions[k],
                                 t->cfg->batch_rows);
        if (rc == 0) {
            ds_crash_point("routed_job_staged");
        }
    }
    if (rc != 0) {
        ds_store_tx_rollback(st);
        return rc;
    }
    return ds_store_tx_commit(st);
}

/* A sheet passed over: logged with the file's and the sheet's names. */
static void sheet_skipped(void *arg, const char *sheet, const char *reason)
{
    const struct ds_ingest_task *t = arg;

    ds_log_info("SHEET_SKIPPED", "%s: sheet '%s' skipped: %s", base_name(t->path), sheet, reason);
}

/* Is the reader on a workbook? */
static int is_workbook(const struct ds_reader *r)
{
    const char *f = ds_read_dialect(r)->format;

    return strcmp(f, "xlsx") == 0 || strcmp(f, "xls") == 0;
}

/* The default rule (no `sheet` option, template auto): when the first
 * sheet's header matches no template but a later sheet's does, *reader is
 * reopened on that sheet, and base says so for the passes. */
static int first_matching_sheet(struct ds_ingest_task *t, int fd, struct ds_read_hints *base,
                                struct ds_reader **reader)
{
    struct ds_sheet_choice ch[DS_SHEETS_MAX];
    struct ds_template **list = NULL;
    char cloud[4096];
    const char *dirs[2];
    size_t nlist = 0;
    size_t n = 0;
    int rc;

    template_dirs(t, cloud, sizeof(cloud), dirs);
    rc = ds_template_list_in(dirs, 2, &list, &nlist, &t->err);
    if (rc == 0) {
        rc = ds_detect_sheets(fd, t->path, NULL, base, list, nlist, t->folder->import_type, ch, &n,
                              sheet_skipped, t, &t->err);
    }
    ds_template_list_free(&list, nlist);
    if (rc == 0 && n > 0 && ch[0].index > 1) {
        base->sheet_index = ch[0].index;
        ds_read_close(reader);
        rc = ds_read_open_fd(fd, t->path, base, reader, &t->err);
    }
    return rc;
}

/* The rank of an import type in a file's jobs: patients before the types
 * that refer to them, appointments before the treatments that may name
 * one. */
static int type_rank(const struct ds_template *t)
{
    static const char *const order[] = {"patients", "appointments", "treatments", "financial"};
    const char *type = ds_template_import_type(t);

    for (int i = 0; i < 4; i++) {
        if (strcmp(order[i], type) == 0) {
            return i;
        }
    }
    return 4;
}

/* sheet = *: a pass per sheet a template matches, each with that template
 * and its own mapper, patients first (a file's jobs are sent in order:
 * ds_store_batch_next); *held when none matches (NO_TEMPLATE). */
static int every_sheet(struct ds_ingest_task *t, struct ds_store *st, int fd,
                       const struct ds_read_hints *base, struct passes *ps,
                       struct ds_template ***list, size_t *nlist, int *held, int *done)
{
    struct ds_sheet_choice ch[DS_SHEETS_MAX];
    char cloud[4096];
    const char *dirs[2];
    size_t n = 0;
    int rc;

    template_dirs(t, cloud, sizeof(cloud), dirs);
    rc = ds_template_list_in(dirs, 2, list, nlist, &t->err);
    if (rc == 0) {
        rc = ds_detect_sheets(fd, t->path, "*", base, *list, *nlist, NULL, ch, &n, sheet_skipped, t,
                              &t->err);
    }
    if (rc != 0) {
        return rc;
    }
    if (n == 0) {
        rc = ds_store_file_hold(st, t->file_id, DS_HOLD_NO_TEMPLATE,
                                "sheet = *: no sheet's header matches a template");
        *held = rc == 0;
        return rc;
    }
    for (size_t k = 1; k < n; k++) {
        for (size_t j = k; j > 0 && type_rank(ch[j].tpl) < type_rank(ch[j - 1].tpl); j--) {
            struct ds_sheet_choice c = ch[j];

            ch[j] = ch[j - 1];
            ch[j - 1] = c;
        }
    }
    ps->sheets = 1;
    for (size_t k = 0; k < n && rc == 0; k++) {
        struct ds_reader *r = NULL;

        ps->p[k].tpl = ch[k].tpl;
        ps->p[k].hints = *base;
        ps->p[k].hints.sheet = NULL;
        ps->p[k].hints.sheet_index = ch[k].index;
        ps->n = k + 1;
        ds_log_info("TEMPLATE_DETECTED", "%s: sheet '%s': template %s (score %.0f)",
                    base_name(t->path), ch[k].name, ds_template_id(ch[k].tpl), ch[k].score);
        rc = ds_read_open_fd(fd, t->path, &ps->p[k].hints, &r, &t->err);
        if (rc == 0) {
            rc = ds_map_new(ch[k].tpl, ds_read_header(r), &ps->p[k].mapper, &t->err);
            if (rc == DS_EINVAL) {
                ds_read_close(&r);
                *done = 1;
                return quarantine(t, st, "MAPPING_ERROR");
            }
        }
        ds_read_close(&r);
    }
    return rc;
}

int ds_ingest_run(struct ds_ingest_task *t)
{
    struct ds_store *st = NULL;
    struct ds_template *tpl = NULL;
    struct ds_template **list = NULL;
    const struct ds_template *use = NULL;
    size_t nlist = 0;
    struct ds_reader *reader = NULL;
    struct passes ps;
    struct ds_tz *tz = NULL;
    struct ds_norm_opts opts;
    struct ds_read_hints base;
    char queue[4096];
    int held = 0;
    int done = 0;
    int fd = -1;
    int fresh;
    int rc;

    memset(&ps, 0, sizeof(ps));
    memset(&base, 0, sizeof(base));
    ds_error_clear(&t->err);
    if (t->folder->sheet != NULL && !ds_sheet_all(t->folder->sheet)) {
        base.sheet = t->folder->sheet;
    }
    rc = ds_config_queue_path(t->cfg, queue, sizeof(queue));
    if (rc == 0) {
        rc = ds_store_open(queue, &st, &t->err);
    }
    if (rc != 0) {
        goto out;
    }
    ds_store_set_budget(st, (int64_t)t->cfg->max_queue_mb * 1024 * 1024);
    rc = open_file(t, st, &fd, &done);
    if (rc != 0 || done) {
        goto out;
    }
    fresh = t->file_id == 0;
    rc = record_file(t, st, fd, &done);
    if (rc != 0 || done || t->duplicate || (fresh && ds_store_file_held(st, t->file_id) == 1)) {
        goto out;
    }

    rc = ds_read_open_fd(fd, t->path, &base, &reader, &t->err);
    if (rc == 0 && is_workbook(reader) && t->folder->sheet == NULL &&
        (t->folder->template_id == NULL || strcmp(t->folder->template_id, "auto") == 0)) {
        rc = first_matching_sheet(t, fd, &base, &reader);
    }
    if (rc != 0) {
        rc = quarantine(t, st, rc == DS_EIO ? "READ_ERROR" : "PARSE_ERROR");
        goto out;
    }
    if (is_workbook(reader) && ds_sheet_all(t->folder->sheet)) {
        rc = every_sheet(t, st, fd, &base, &ps, &list, &nlist, &held, &done);
        if (rc == DS_EPARSE || rc == DS_ETOOBIG || rc == DS_EIO) {
            rc = quarantine(t, st, rc == DS_EIO ? "READ_ERROR" : "PARSE_ERROR");
            goto out;
        }
        if (rc != 0 || held || done) {
            goto out;
        }
    }
    else {
        rc = choose_template(t, st, ds_read_header(reader), &tpl, &list, &nlist, &use, &held);
        if (rc != 0 || held || use == NULL) {
            goto out;
        }
        ps.p[0].tpl = use;
        ps.p[0].hints = base;
        ps.n = 1;
        rc = ds_map_new(use, ds_read_header(reader), &ps.p[0].mapper, &t->err);
        if (rc != 0) {
            rc = quarantine(t, st, "MAPPING_ERROR");
            goto out;
        }
        rc = route_targets(t, st, &ps, ds_read_header(reader), &done);
        if (rc != 0 || done) {
            goto out;
        }
        for (size_t k = 1; k < ps.n; k++) {
            ps.p[k].hints = base;
        }
    }
    rc = practice_options(t, ps.n > 0 ? ps.p[0].tpl : NULL, &opts, &tz);
    if (rc != 0) {
        rc = quarantine(t, st, "TIMEZONE");
        goto out;
    }
    for (size_t k = 0; k < ps.n; k++) {
        ds_map_set_options(ps.p[k].mapper, &opts);
        if (ds_map_set_location(ps.p[k].mapper, t->folder->location, &t->err) != 0) {
            rc = quarantine(t, st, "MAPPING_ERROR");
            goto out;
        }
    }
    rc = infer_date_order(t, fd, &ps);
    if (rc == DS_EPARSE || rc == DS_ETOOBIG || rc == DS_EIO) {
        rc = quarantine(t, st, rc == DS_EIO ? "READ_ERROR" : "PARSE_ERROR");
        goto out;
    }
    if (rc != 0) {
        goto out;
    }
    rc = begin_jobs(t, st, &ps);
    if (rc != 0) {
        goto out;
    }
    rc = stage_passes(t, st, fd, &reader, &ps, &done);
    if (done) {
        goto out;
    }
    if (rc == DS_EPARSE || rc == DS_ETOOBIG || rc == DS_EIO) {
        rc = quarantine(t, st, rc == DS_EIO ? "READ_ERROR" : "PARSE_ERROR");
        goto out;
    }
    if (rc == DS_EINVAL || rc == DS_EEXIST) {
        /* The queue refused a row: a bug, not a reason to retry forever. */
        ds_error_set(&t->err, rc, "the queue refused row %ld: %s",
                     ps.p[ps.cur < ps.n ? ps.cur : 0].rows + 1, ds_strerror(rc));
        rc = quarantine(t, st, "STAGE_ERROR");
        goto out;
    }
    if (rc != 0) {
        goto out;
    }
    rc = still_as_hashed(t, st, fd, &done);
    if (rc != 0 || done) {
        goto out;
    }
    ds_str_copy(ps.aged_before, sizeof(ps.aged_before), ds_read_dialect(reader)->aged_before);
    rc = finish_jobs(t, st, &ps, &held);
out:
    if (rc == DS_EFULL) {
        /* Nothing of the file is kept half-staged: the daemon undoes its
         * jobs and ingests the file again once there is space. */
        ds_error_set(&t->err, rc,
                     "no space left for the queue in %s (DISK_FULL); ingest is paused and "
                     "resumes by itself once there is space",
                     t->cfg->state_dir);
    }
    for (size_t k = 0; k < DS_INGEST_MAX_JOBS; k++) {
        ds_map_free(&ps.p[k].mapper);
        ds_template_free(&ps.p[k].owned);
    }
    ds_tz_free(&tz);
    ds_read_close(&reader);
    ds_template_free(&tpl);
    ds_template_list_free(&list, nlist);
    ds_store_close(&st);
    if (fd >= 0) {
        close(fd);
    }
    t->rc = rc;
    return rc;
}
