/*
 * detect_sheet.h — which sheets of a workbook (XLSX, XLS) a file is read
 * from (docs/config.md, "sheet").
 *
 * A folder's `sheet` option, or `dentsync preview --sheet`, says it:
 *   a name   that sheet (the reader's sheet hint; no choice here);
 *   none     the first sheet whose header a template of the import type
 *            matches, else the first sheet (which then holds the file
 *            with the usual NO_TEMPLATE reason);
 *   "*"      every sheet, each its own source of rows with its own
 *            template, detected among the templates of every import type.
 *            A file makes one job per import type, so a sheet whose type an
 *            earlier sheet already took is skipped.
 * Nothing is skipped silently: each sheet passed over is reported to the
 * caller's callback with the sheet's name and why, never a value from it.
 */
#ifndef DS_MAP_DETECT_SHEET_H
#define DS_MAP_DETECT_SHEET_H

#include "agent/core/error.h"
#include "agent/read/read.h"

#include <stddef.h>

struct ds_template;

#define DS_SHEETS_MAX 4 /* sheets read from one file: one per import type */

/* One sheet chosen. */
struct ds_sheet_choice {
    int index;                     /* 1-based position, or 0: not a workbook (no hint) */
    char name[128];                /* the sheet's name ("" when index is 0) */
    const struct ds_template *tpl; /* borrow (the list): the detected template, or NULL */
    double score;                  /* its detection score */
};

/* Told about each sheet passed over: its name and why (no values). */
typedef void (*ds_sheet_skip_fn)(void *arg, const char *sheet, const char *reason);

/* Is s the option value that reads every sheet ("*")? */
int ds_sheet_all(const char *s);

/* Chooses the sheets of the file fd is open on (borrowed; path names it in
 * errors), for the option sheet (NULL: the default rule, "*": every sheet;
 * a name is not chosen here), scoring the templates of list (borrowed;
 * the choices borrow from it) against each sheet's header; import_type is
 * the folder's (the default rule only). base carries the other hints.
 * A file that is no workbook gives one choice with index 0. *n is how many
 * choices (at least 1, except with "*" when no sheet matches: 0). skip may
 * be NULL. Errors as for ds_read_open. */
int ds_detect_sheets(int fd, const char *path, const char *sheet, const struct ds_read_hints *base,
                     struct ds_template *const *list, size_t nlist, const char *import_type,
                     struct ds_sheet_choice out[DS_SHEETS_MAX], size_t *n, ds_sheet_skip_fn skip,
                     void *arg, struct ds_error *err);

#endif
