/*
 * ingest.c — runs off the loop thread; see ingest.h for the contract.
 *
 * What a file can end as here:
 *   duplicate    its sha256 was taken before (ds_store_file_add decides);
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
 */
#include "agent/ingest.h"

#include "agent/core/buf.h"
#include "agent/core/crash.h"
#include "agent/core/log.h"
#include "agent/map/detect.h"
#include "agent/map/map.h"
#include "agent/map/tz.h"
#include "agent/read/read.h"
#include "config/template.h"
#include "state/store.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* Rows per transaction while staging. These commits do not fsync (the job
 * stays `staging` until ds_store_job_staged, which does), so they can be
 * large; the loop's own connection waits for each, so not too large. */
#define ROWS_PER_COMMIT 20000

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

static int record_file(struct ds_ingest_task *t, struct ds_store *st)
{
    struct stat sb;
    int rc;

    rc = ds_sha256_file(t->path, t->sha256);
    if (rc != 0) {
        return ds_error_set(&t->err, rc, "cannot read the file to hash it");
    }
    if (stat(t->path, &sb) != 0 || (int64_t)sb.st_size != t->size ||
        (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec != t->mtime_ns) {
        return DS_EBUSY;
    }
    return ds_store_file_add(st, t->folder->name, t->path, t->size, t->mtime_ns, t->sha256,
                             &t->file_id, &t->duplicate);
}

/* The normalizer options of the folder's practice: its time zone (the
 * system's when not set), phone region and date order. */
static int practice_options(struct ds_ingest_task *t, struct ds_norm_opts *o, struct ds_tz **tz)
{
    const struct ds_practice_conf *p = ds_config_practice(t->cfg, t->folder->practice);
    int rc;

    memset(o, 0, sizeof(*o));
    rc = ds_tz_load(p != NULL ? p->timezone : NULL, tz, &t->err);
    if (rc != 0) {
        return rc;
    }
    o->tz = *tz;
    if (p != NULL) {
        memcpy(o->phone_region, p->phone_region, sizeof(o->phone_region));
        o->date_order = strcmp(p->date_order, "DMY") == 0   ? DS_DATE_DMY
                        : strcmp(p->date_order, "YMD") == 0 ? DS_DATE_YMD
                                                            : DS_DATE_MDY;
    }
    return 0;
}

/*
 * The delta of a staged job: rows synced before with the same fingerprint
 * become `unchanged`; for a folder of full snapshots, a deletion row is
 * added for every key synced before and absent now — unless more than
 * max_missing_percent of them vanished at once, which looks like a
 * truncated export: then the file is held for an admin and nothing of it
 * stays staged (an admin's retry lets the next ingest of it through).
 */
static int delta(struct ds_ingest_task *t, struct ds_store *st, int *held)
{
    struct ds_snapshot_check c;
    char reason[256];
    int retries = 0;
    int rc;

    rc = ds_store_job_mark_unchanged(st, t->job_id, &t->unchanged);
    if (rc != 0) {
        return rc;
    }
    t->valid -= t->unchanged;
    if (!t->folder->snapshot_full) {
        return 0;
    }
    rc = ds_store_file_admin_retries(st, t->file_id, &retries);
    if (rc == 0) {
        rc = ds_store_job_snapshot(st, t->job_id, t->rows, t->folder->max_missing_percent,
                                   retries > 0, &c);
    }
    if (rc != 0) {
        return rc;
    }
    if (c.shrank) {
        snprintf(reason, sizeof(reason),
                 "full snapshot: %ld of the %ld keys synced before are missing, more than "
                 "max_missing_percent (%d%%); `dentsync retry` sends the deletions",
                 c.missing, c.synced, t->folder->max_missing_percent);
        rc = ds_store_file_hold(st, t->file_id, DS_HOLD_SNAPSHOT, reason);
        *held = rc == 0;
        return rc;
    }
    t->deletions = c.deletions;
    return 0;
}

/*
 * The template of the file: the folder's pinned one, or (template = auto,
 * or none given) the best of every template of the folder's import type
 * scored against the header (agent/map/detect.h). Templates come from
 * the built-in set, the practice's templates saved in the cloud (pulled by
 * the uploader into state_dir/cloud-templates/) and the admin's
 * template_dir, each later source replacing an earlier one's template of
 * the same id. When none scores above
 * the threshold the file is held (NO_TEMPLATE) with the closest templates
 * and the columns none of them knows — header names, never values — and
 * *held is set. *use borrows from *tpl or *list, which the caller frees.
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

    if (ds_config_cloud_templates_dir(t->cfg, t->folder->practice, cloud, sizeof(cloud)) != 0) {
        cloud[0] = '\0';
    }
    dirs[0] = cloud[0] != '\0' ? cloud : NULL; /* the practice's, saved in the cloud */
    dirs[1] = t->cfg->template_dir;            /* the admin's own win over them */
    if (id != NULL && strcmp(id, "auto") != 0) {
        rc = ds_template_find_in(dirs, 2, id, tpl, &t->err);
        if (rc != 0) {
            return quarantine(t, st, "TEMPLATE_NOT_FOUND");
        }
        if (strcmp(ds_template_import_type(*tpl), t->folder->import_type) != 0) {
            ds_error_set(&t->err, DS_EINVAL, "template %s imports %s, the folder expects %s", id,
                         ds_template_import_type(*tpl), t->folder->import_type);
            return quarantine(t, st, "TEMPLATE_TYPE");
        }
        *use = *tpl;
        return 0;
    }
    rc = ds_template_list_in(dirs, 2, list, nlist, &t->err);
    if (rc == 0) {
        rc = ds_detect_template(*list, *nlist, t->folder->import_type, header, &d);
    }
    if (rc != 0) {
        return rc;
    }
    if (!d.matched) {
        ds_detect_explain(&d, reason, sizeof(reason));
        rc = ds_store_file_hold(st, t->file_id, DS_HOLD_NO_TEMPLATE, reason);
        *held = rc == 0;
        return rc;
    }
    ds_log_info("%s: template %s (score %.0f)", base_name(t->path), ds_template_id(d.best[0].t),
                d.best[0].score);
    *use = d.best[0].t;
    return 0;
}

/* Reads and stages every row inside the open job. */
static int stage_rows(struct ds_ingest_task *t, struct ds_store *st, struct ds_reader *reader,
                      struct ds_mapper *mapper)
{
    struct ds_mapped m;
    struct ds_row row;
    const char *stored = NULL;
    const char *status;
    const char *error;
    int rc;

    memset(&m, 0, sizeof(m));
    rc = ds_store_tx_begin(st);
    while (rc == 0) {
        rc = ds_read_next_row(reader, &row, &t->err);
        if (rc <= 0) {
            break;
        }
        rc = ds_map_row(mapper, &row, &m);
        if (rc != 0) {
            break;
        }
        status = m.valid ? DS_ITEM_VALID : DS_ITEM_INVALID;
        error = m.valid ? NULL : m.error;
        if (m.skipped) {
            /* A template rule says the row is not data of this type: kept,
             * counted and shown with the rule's reason. */
            status = DS_ITEM_SKIPPED;
            error = m.skip_reason != NULL ? m.skip_reason : "skip rule";
        }
        else if (m.route != NULL) {
            /* Until one job per import type is staged, a routed row is kept
             * as invalid with the reason, so none is lost. */
            ds_str_copy(m.error, sizeof(m.error), "record: routed to another import type");
        }
        if (m.valid && m.key[0] == '\0') {
            /* The mapper promises a key for every valid record; hold it to
             * that rather than stage a row nothing can identify. */
            m.valid = 0;
            ds_str_copy(m.error, sizeof(m.error), "record: no identity key");
        }
        rc = ds_store_item_add(st, t->job_id, row.row, m.key[0] != '\0' ? m.key : NULL,
                               m.valid ? m.fingerprint : NULL, status, m.record_json, m.raw_json,
                               error, &stored);
        ds_mapped_close(&m);
        if (rc != 0) {
            break;
        }
        t->rows++;
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
        if (t->rows % ROWS_PER_COMMIT == 0) {
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

int ds_ingest_run(struct ds_ingest_task *t)
{
    struct ds_store *st = NULL;
    struct ds_template *tpl = NULL;
    struct ds_template **list = NULL;
    const struct ds_template *use = NULL;
    size_t nlist = 0;
    struct ds_reader *reader = NULL;
    struct ds_mapper *mapper = NULL;
    struct ds_tz *tz = NULL;
    struct ds_norm_opts opts;
    char queue[4096];
    int held = 0;
    int rc;

    ds_error_clear(&t->err);
    rc = ds_config_queue_path(t->cfg, queue, sizeof(queue));
    if (rc == 0) {
        rc = ds_store_open(queue, &st, &t->err);
    }
    if (rc != 0) {
        goto out;
    }
    ds_store_set_budget(st, (int64_t)t->cfg->max_queue_mb * 1024 * 1024);
    if (t->file_id == 0) {
        rc = record_file(t, st);
        if (rc != 0 || t->duplicate || ds_store_file_held(st, t->file_id) == 1) {
            goto out;
        }
    }

    rc = ds_read_open(t->path, NULL, &reader, &t->err);
    if (rc != 0) {
        rc = quarantine(t, st, rc == DS_EIO ? "READ_ERROR" : "PARSE_ERROR");
        goto out;
    }
    rc = choose_template(t, st, ds_read_header(reader), &tpl, &list, &nlist, &use, &held);
    if (rc != 0 || held || use == NULL) {
        goto out;
    }
    rc = ds_map_new(use, ds_read_header(reader), &mapper, &t->err);
    if (rc != 0) {
        rc = quarantine(t, st, "MAPPING_ERROR");
        goto out;
    }
    rc = practice_options(t, &opts, &tz);
    if (rc != 0) {
        rc = quarantine(t, st, "TIMEZONE");
        goto out;
    }
    ds_map_set_options(mapper, &opts);
    rc = ds_uuid_v4(t->job_id);
    if (rc == 0) {
        rc = ds_store_job_begin(st, t->file_id, t->job_id, t->folder->practice,
                                t->folder->import_type, ds_template_id(use), base_name(t->path),
                                t->sha256);
    }
    if (rc != 0) {
        goto out;
    }
    rc = stage_rows(t, st, reader, mapper);
    if (rc == DS_EPARSE || rc == DS_ETOOBIG || rc == DS_EIO) {
        rc = quarantine(t, st, rc == DS_EIO ? "READ_ERROR" : "PARSE_ERROR");
        goto out;
    }
    if (rc == DS_EINVAL || rc == DS_EEXIST) {
        /* The queue refused a row: a bug, not a reason to retry forever. */
        ds_error_set(&t->err, rc, "the queue refused row %ld: %s", t->rows + 1, ds_strerror(rc));
        rc = quarantine(t, st, "STAGE_ERROR");
        goto out;
    }
    if (rc != 0) {
        goto out;
    }
    rc = delta(t, st, &held);
    if (rc != 0 || held) {
        goto out;
    }
    ds_crash_point("after_stage_commit");
    rc = ds_store_job_staged(st, t->job_id, t->rows + t->deletions, t->cfg->batch_rows);
out:
    if (rc == DS_EFULL) {
        /* Nothing of the file is kept half-staged: the daemon undoes the
         * job and ingests the file again once there is space. */
        ds_error_set(&t->err, rc,
                     "no space left for the queue in %s (DISK_FULL); ingest is paused and "
                     "resumes by itself once there is space",
                     t->cfg->state_dir);
    }
    ds_map_free(&mapper);
    ds_tz_free(&tz);
    ds_read_close(&reader);
    ds_template_free(&tpl);
    ds_template_list_free(&list, nlist);
    ds_store_close(&st);
    t->rc = rc;
    return rc;
}
