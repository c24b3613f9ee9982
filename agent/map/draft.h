/*
 * draft.h — a first template for an export no template reads
 * (docs/templates.md, "Drafting a template"): every column gets the
 * canonical field its header name most likely stands for, the rest are
 * listed as unmapped, and a few data rows tell the date order.
 *
 * A column's field is, in this order: the synonym its whole header name is
 * (agent/map/synonyms.h), the synonym one of its words or two adjacent
 * words are, or a looser word hint ("Given" -> first_name, "Born" ->
 * date_of_birth, "Ref" -> external_id) that is only ever offered in a
 * draft for a person to check, never bound by ingest. A field takes the
 * first column that names it.
 *
 * The data rows read are only voted on for the date order; none of their
 * values goes into the draft.
 */
#ifndef DS_MAP_DRAFT_H
#define DS_MAP_DRAFT_H

#include "agent/core/error.h"
#include "agent/map/synonyms.h"
#include "agent/read/read.h"
#include "config/template.h"

#include <jansson.h>
#include <stddef.h>

#define DS_DRAFT_ROWS 200 /* data rows read for the date order, at most */

/* How sure a guess is, 0 to 100: the column's whole name is a synonym of
 * the field, two adjacent words of it are, one word is, or a looser word
 * hint (drafts only) says it. */
#define DS_DRAFT_SCORE_WHOLE 100
#define DS_DRAFT_SCORE_WORDS 80
#define DS_DRAFT_SCORE_WORD 60
#define DS_DRAFT_SCORE_HINT 40

#define DS_DRAFT_ID_MAX 64        /* a template id a person types, bytes */
#define DS_DRAFT_CHOICE_MAX 65536 /* a mapping screen's choice, bytes of JSON */
#define DS_DRAFT_COLUMNS_MAX 256  /* columns of one choice */
#define DS_DRAFT_MAP_MAX 64       /* codes of one status map */

/* The draft for the export r reads (its header; then up to DS_DRAFT_ROWS
 * rows). import_type NULL: the type of the template that scores best, else
 * the type whose synonyms name most columns. id: the template id (checked
 * by the caller). list: every template, for detection and the required
 * fields of the type's generic template. new: *out, a template JSON object
 * ds_template_parse accepts. DS_EINVAL (unknown type, nothing mapped),
 * DS_ENOMEM, a reader error. */
int ds_template_draft(struct ds_reader *r, struct ds_template *const *list, size_t n,
                      const char *import_type, const char *id, json_t **out, struct ds_error *err);

/* Writes template t as name (<id>.json) inside the opened directory
 * dirfd: created 0644 exclusively, never replacing a file (DS_EEXIST),
 * never through a link; synced before it returns. DS_EIO, DS_ENOMEM. */
int ds_draft_write_at(int dirfd, const char *name, const json_t *t, struct ds_error *err);

/* The guessed canonical field of import_type for header name in[0..len),
 * or NULL; *role as ds_synonym_field. borrow (static). */
const char *ds_draft_guess(const char *import_type, const char *in, size_t len,
                           enum ds_syn_role *role);

/* ds_draft_guess with how sure it is (*score, DS_DRAFT_SCORE_*; 0 when
 * there is no guess). role and score may be NULL. */
const char *ds_draft_guess_scored(const char *import_type, const char *in, size_t len,
                                  enum ds_syn_role *role, int *score);

/* ---- the status page's mapping screen (docs/web.md, "Mapping") ---------- */

/* 1 when id may name a template a person saves from the page: 1 to
 * DS_DRAFT_ID_MAX of a-z, 0-9 and -, not starting with - (so never a path,
 * a hidden file or an option). */
int ds_draft_id_valid(const char *id);

/* The import types, NULL-terminated. borrow (static). */
const char *const *ds_draft_types(void);

/* The canonical status values of import_type, NULL-terminated, or NULL
 * for a type without a status. borrow (static). */
const char *const *ds_draft_statuses(const char *import_type);

/* For each column of header h, the draft's guess in each import type:
 * [{"column":NAME,"guesses":{"patients":{"field":F,"score":S}|null,...}}],
 * F being a canonical field, or "start_at/date" and "start_at/time" for the
 * two halves of an appointment's start; a field a column before it took
 * already is null, as in a draft. Header names only. new: json_decref. */
json_t *ds_draft_columns(const struct ds_row *h);

/* Parses a person's choice (outside input, at most DS_DRAFT_CHOICE_MAX
 * bytes of JSON):
 *   {"import_type":T, "columns":[{"column":NAME,"field":F|"ignore"},...],
 *    "id":ID, "name":TEXT, "date_order":"auto"|"MDY"|"DMY"|"YMD",
 *    "time_zone":ZONE, "status_map":{CODE:STATUS,...}, "overwrite":BOOL}
 * (all but import_type and columns optional; id defaults to default_id)
 * and builds the template it stands for, as a draft is built: each chosen
 * column read with the transform the type's generic template reads the
 * field with, the chosen columns as recognition.required, the ignored ones
 * as optional. The result is checked by the template loader. new: *out.
 * *overwrite (may be NULL): the choice's overwrite. DS_EPARSE, DS_EINVAL,
 * DS_ETOOBIG with err, DS_ENOMEM. */
int ds_draft_from_choice(const char *body, size_t len, struct ds_template *const *list, size_t n,
                         const char *default_id, json_t **out, int *overwrite,
                         struct ds_error *err);

/* Saves template t as <id>.json inside the opened directory dirfd,
 * atomically: written to a hidden temporary name created exclusively
 * (never through a link), fsynced, renamed over the name, the directory
 * fsynced. replace = 0 refuses an existing <id>.json (DS_EEXIST).
 * DS_EINVAL (id), DS_EIO, DS_ENOMEM. */
int ds_draft_save_at(int dirfd, const char *id, const json_t *t, int replace, struct ds_error *err);

#endif
