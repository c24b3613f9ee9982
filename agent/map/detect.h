/*
 * detect.h — which template reads a file: every template is scored against
 * the header row, the best one above a threshold wins (DESIGN.md,
 * "Templates").
 *
 * A header name matches a template name exactly or in the ds_norm_header
 * form (case, spaces, '_' and '-' ignored). A template's recognition name is
 * satisfied by the name itself, by one of its recognition aliases, or — for
 * a recognition name that is a canonical field of the template — by any of
 * that field's columns. The score (0 to 100) weighs
 *
 *   50  the share of required recognition names present,
 *   20  the share of optional ones present,
 *   30  the share of the header's columns the template knows (a recognition
 *       name or alias, or a column of one of its fields),
 *
 * and a template that lacks a required name never wins. Ties go to the
 * template with more exact (byte-equal) matches, then to the smaller id, so
 * the choice is stable.
 *
 * Nothing here looks at data rows: header names only, never patient data.
 */
#ifndef DS_MAP_DETECT_H
#define DS_MAP_DETECT_H

#include "agent/read/read.h"
#include "config/template.h"

#include <stddef.h>

#define DS_DETECT_THRESHOLD 50.0 /* the lowest winning score */
#define DS_DETECT_KEEP 3         /* candidates kept, best first */

struct ds_detect_score {
    const struct ds_template *t; /* borrow (the caller's list) */
    double score;                /* 0 to 100 */
    int required_missing;        /* required recognition names absent */
    int exact;                   /* matches that were byte-equal */
};

struct ds_detection {
    struct ds_detect_score best[DS_DETECT_KEEP]; /* the closest templates, best first */
    size_t nbest;                                /* how many of best are set */
    int matched;                                 /* 1: best[0] wins */
    char unmatched[512]; /* header columns no candidate knows, ", "-separated,
                            "..." when cut; column names only, and none at
                            all when no column is known (see known) */
    size_t known;        /* header columns some candidate knows */
    size_t columns;      /* header columns */
    int any_type;        /* scored across every import type (import_type auto) */
    int ambiguous;       /* any_type: templates of two import types tie for best */
};

/* Scores every template of list (of import_type when it is not NULL)
 * against header. out->matched says whether best[0] is above
 * DS_DETECT_THRESHOLD with every required name. DS_ENOMEM. */
int ds_detect_template(struct ds_template *const *list, size_t n, const char *import_type,
                       const struct ds_row *header, struct ds_detection *out);

/* import_type = auto: every template of every import type is scored, and
 * the file takes the import type of the best one. When a template of
 * another import type ties with it (same score, every required name
 * present) the file could be either: out->matched is 0 and out->ambiguous
 * 1 — unless the two route rows to each other (a ledger read by a pair of
 * templates: either one makes the same jobs). DS_ENOMEM. */
int ds_detect_any_type(struct ds_template *const *list, size_t n, const struct ds_row *header,
                       struct ds_detection *out);

/* 1 if the folder setting import_type means "every type" (auto). */
int ds_detect_type_is_auto(const char *import_type);

/* A message for a person when nothing matched: the closest templates with
 * their scores and the unmatched columns, into buf (no values). */
void ds_detect_explain(const struct ds_detection *d, char *buf, size_t size);

#endif
