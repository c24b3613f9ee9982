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

#endif
