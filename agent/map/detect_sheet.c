/*
 * detect_sheet.c — the sheets of a workbook a file is read from
 * (detect_sheet.h has the rules).
 *
 * Each sheet is opened by its position (ds_read_hints.sheet_index), its
 * header scored like a file's (ds_detect_template), and closed: only one
 * reader is open at a time. A sheet passed over is reported at once with
 * "*"; with the default rule the sheets before the chosen one are reported
 * once it is chosen, and none when no sheet matches (the file is then held
 * for the first sheet, whose reason names the closest templates).
 */
#include "agent/map/detect_sheet.h"

#include "agent/map/detect.h"
#include "config/template.h"

#include <stdio.h>
#include <string.h>

#define SHEET_SCAN_MAX 1024 /* sheets looked at, as many as an XLSX may hold */
#define SHEET_NAMES 32      /* names of passed-over sheets kept for the default rule */

static const char *const all_types[] = {"patients", "appointments", "treatments", "financial",
                                        NULL};

int ds_sheet_all(const char *s)
{
    return s != NULL && strcmp(s, "*") == 0;
}

/* The best matching template of the header among import_type's (NULL:
 * every type's), or NULL; *why says why none matched. */
static const struct ds_template *best_of(struct ds_template *const *list, size_t nlist,
                                         const char *import_type, const struct ds_row *header,
                                         double *score, const char **why)
{
    const struct ds_template *best = NULL;
    struct ds_detection d;

    *score = 0;
    *why = "no template matches its header";
    if (import_type != NULL && ds_detect_type_is_auto(import_type)) {
        import_type = NULL; /* a folder of import_type auto: every type */
    }
    for (const char *const *t = all_types; *t != NULL; t++) {
        const char *type = import_type != NULL ? import_type : *t;

        if (ds_detect_template(list, nlist, type, header, &d) == 0 && d.matched &&
            (best == NULL || d.best[0].score > *score)) {
            best = d.best[0].t;
            *score = d.best[0].score;
        }
        if (import_type != NULL) {
            break;
        }
    }
    if (best == NULL && header->nfields == 0) {
        *why = "it is empty";
    }
    return best;
}

int ds_detect_sheets(int fd, const char *path, const char *sheet, const struct ds_read_hints *base,
                     struct ds_template *const *list, size_t nlist, const char *import_type,
                     struct ds_sheet_choice out[DS_SHEETS_MAX], size_t *n, ds_sheet_skip_fn skip,
                     void *arg, struct ds_error *err)
{
    char passed[SHEET_NAMES][128];
    const char *why_passed[SHEET_NAMES];
    size_t npassed = 0;
    int all = ds_sheet_all(sheet);
    char first[128] = "";
    int rc = 0;

    *n = 0;
    memset(out, 0, sizeof(*out) * DS_SHEETS_MAX);
    for (int k = 1; k <= SHEET_SCAN_MAX; k++) {
        struct ds_read_hints h;
        struct ds_reader *r = NULL;
        const struct ds_read_dialect *dl;
        const struct ds_template *tpl;
        const char *why = NULL;
        double score = 0;

        if (base != NULL) {
            h = *base;
        }
        else {
            memset(&h, 0, sizeof(h));
        }
        h.sheet = NULL;
        h.sheet_index = k;
        rc = ds_read_open_fd(fd, path, &h, &r, err);
        if (rc == DS_ENOTFOUND && k > 1) {
            rc = 0; /* past the last sheet */
            break;
        }
        if (rc == DS_EPARSE && k > 1) {
            /* A sheet that cannot be framed (no header) is passed over;
             * the first one's error is the file's. */
            char name[32];

            snprintf(name, sizeof(name), "#%d", k);
            if (skip != NULL && all) {
                skip(arg, name, "it cannot be read (no header)");
            }
            else if (!all && npassed < SHEET_NAMES) {
                snprintf(passed[npassed], sizeof(passed[0]), "%s", name);
                why_passed[npassed++] = "it cannot be read (no header)";
            }
            rc = 0;
            continue;
        }
        if (rc != 0) {
            return rc;
        }
        dl = ds_read_dialect(r);
        if (strcmp(dl->format, "xlsx") != 0 && strcmp(dl->format, "xls") != 0) {
            ds_read_close(&r);
            out[0].index = 0;
            *n = 1;
            return 0;
        }
        if (k == 1) {
            snprintf(first, sizeof(first), "%s", dl->sheet);
        }
        tpl = best_of(list, nlist, all ? NULL : import_type, ds_read_header(r), &score, &why);
        if (tpl != NULL && all) {
            for (size_t i = 0; i < *n; i++) {
                if (strcmp(ds_template_import_type(out[i].tpl), ds_template_import_type(tpl)) ==
                    0) {
                    why = "an earlier sheet has the rows of its import type (one job per type)";
                    tpl = NULL;
                    break;
                }
            }
            if (tpl != NULL && *n == DS_SHEETS_MAX) {
                why = "more sheets match than a file may have jobs";
                tpl = NULL;
            }
        }
        if (tpl != NULL) {
            out[*n].index = k;
            snprintf(out[*n].name, sizeof(out[*n].name), "%s", dl->sheet);
            out[*n].tpl = tpl;
            out[*n].score = score;
            (*n)++;
        }
        else if (all) {
            if (skip != NULL) {
                skip(arg, dl->sheet, why);
            }
        }
        else if (npassed < SHEET_NAMES) {
            snprintf(passed[npassed], sizeof(passed[0]), "%s", dl->sheet);
            why_passed[npassed++] = why;
        }
        ds_read_close(&r);
        if (tpl != NULL && !all) {
            for (size_t i = 0; i < npassed && skip != NULL; i++) {
                skip(arg, passed[i], why_passed[i]);
            }
            return 0;
        }
    }
    if (!all) {
        /* No sheet matches: the first one, held as a file would be. */
        out[0].index = 1;
        snprintf(out[0].name, sizeof(out[0].name), "%s", first);
        *n = 1;
    }
    return rc;
}
