/*
 * detect.c — scores templates against a header row (detect.h has the rule).
 *
 * Header names are folded once (ds_norm_header); each template's names are
 * folded as they are compared. A header of at most DS_READ_MAX_FIELDS
 * columns and a few dozen templates of a few dozen names each: a plain
 * nested loop, well under a millisecond.
 */
#include "agent/map/detect.h"

#include "agent/core/alloc.h"
#include "agent/map/canon.h"
#include "agent/map/normalize.h"
#include "agent/map/synonyms.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_KEY 256 /* a folded name; longer names are cut (and so never match) */

/* The header, folded. */
struct folded {
    size_t n;
    const char *const *raw; /* borrow: the header's own names */
    char (*key)[NAME_MAX_KEY];
    unsigned char *known; /* per column: some candidate knows it */
    unsigned char *mine;  /* per column: the template being scored knows it */
    const char **syn[4];  /* per import type (types[]) and column: the canonical
                             field its name is a synonym of, or NULL */
};

static const char *const types[4] = {"patients", "appointments", "treatments", "financial"};

static const char *const *syn_of(struct folded *h, const char *import_type)
{
    for (size_t k = 0; k < 4; k++) {
        if (strcmp(types[k], import_type) == 0) {
            return h->syn[k];
        }
    }
    return NULL;
}

/* 1 if name is a canonical field of import_type. */
static int canonical(const char *import_type, const char *name)
{
    const char *const *c = ds_map_canonical_fields(import_type);

    while (c != NULL && *c != NULL && strcmp(*c, name) != 0) {
        c++;
    }
    return c != NULL && *c != NULL;
}

/* Marks the columns whose name is a synonym of canonical field name;
 * returns 1 when there is one, else 0. */
static int mark_synonyms(struct folded *h, const char *const *syn, const char *name)
{
    int found = 0;

    for (size_t j = 0; syn != NULL && j < h->n; j++) {
        if (syn[j] != NULL && strcmp(syn[j], name) == 0) {
            h->mine[j] = 1;
            found = 1;
        }
    }
    return found;
}

static void fold(const char *s, char key[NAME_MAX_KEY])
{
    size_t need = ds_norm_header(s, strlen(s), key, NAME_MAX_KEY);

    if (need >= NAME_MAX_KEY) {
        key[0] = '\0';
    }
}

/* Marks the header columns named `name`; returns 2 for an exact match, 1
 * for a folded one, 0 for none. */
static int mark(struct folded *h, const char *name)
{
    char k[NAME_MAX_KEY];
    int best = 0;

    fold(name, k);
    if (k[0] == '\0') {
        return 0;
    }
    for (size_t j = 0; j < h->n; j++) {
        if (h->key[j][0] != '\0' && strcmp(h->key[j], k) == 0) {
            h->mine[j] = 1;
            if (strcmp(h->raw[j], name) == 0) {
                best = 2;
            }
            else if (best == 0) {
                best = 1;
            }
        }
    }
    return best;
}

static int mark_list(struct folded *h, const char *const *names)
{
    int best = 0;

    for (const char *const *p = names; p != NULL && *p != NULL; p++) {
        int m = mark(h, *p);

        if (m > best) {
            best = m;
        }
    }
    return best;
}

/* The template's field called name, or NULL. */
static const struct ds_template_field *field_named(const struct ds_template *t, const char *name)
{
    for (size_t i = 0; i < ds_template_nfields(t); i++) {
        const struct ds_template_field *f = ds_template_field(t, i);

        if (strcmp(f->name, name) == 0) {
            return f;
        }
    }
    return NULL;
}

/* Whether recognition name r is present: 0, 1 (folded) or 2 (exact). */
static int recognised(struct folded *h, const struct ds_template *t, const char *r)
{
    const struct ds_template_field *f = field_named(t, r);
    int best = mark(h, r);
    int m = mark_list(h, ds_template_header_aliases(t, r));

    if (m > best) {
        best = m;
    }
    if (f != NULL) {
        m = mark_list(h, f->columns);
        if (m > best) {
            best = m;
        }
    }
    /* A canonical field is also there when a column is one of its synonyms:
     * the mapper binds it (map_synonym.c). So is a recognition name one of
     * whose aliases is a canonical field ("start": ["start_at", ...]). */
    if (canonical(ds_template_import_type(t), r) &&
        mark_synonyms(h, syn_of(h, ds_template_import_type(t)), r) && best == 0) {
        best = 1;
    }
    for (const char *const *a = ds_template_header_aliases(t, r); a != NULL && *a != NULL; a++) {
        if (canonical(ds_template_import_type(t), *a) &&
            mark_synonyms(h, syn_of(h, ds_template_import_type(t)), *a) && best == 0) {
            best = 1;
        }
    }
    return best;
}

static void score_one(struct folded *h, const struct ds_template *t, struct ds_detect_score *s)
{
    const char *const *req = ds_template_required_headers(t);
    const char *const *opt = ds_template_optional_headers(t);
    long nreq = 0, hreq = 0, nopt = 0, hopt = 0, cols = 0, mine = 0;
    double opt_share;

    memset(h->mine, 0, h->n);
    memset(s, 0, sizeof(*s));
    s->t = t;
    for (const char *const *p = req; p != NULL && *p != NULL; p++) {
        int m = recognised(h, t, *p);

        nreq++;
        hreq += m > 0;
        s->exact += m == 2;
    }
    for (const char *const *p = opt; p != NULL && *p != NULL; p++) {
        int m = recognised(h, t, *p);

        nopt++;
        hopt += m > 0;
        s->exact += m == 2;
    }
    /* Every column a field of the template reads is known to it too. */
    for (size_t i = 0; i < ds_template_nfields(t); i++) {
        const struct ds_template_field *f = ds_template_field(t, i);

        mark_list(h, f->columns);
        mark_list(h, f->time_columns);
        mark_list(h, f->hour_columns);
        mark_list(h, f->minute_columns);
    }
    for (size_t i = 0; i < ds_template_nrules(t); i++) {
        mark_list(h, ds_template_rule(t, i)->columns);
    }
    /* And every column the synonyms bind to a canonical field of its type. */
    {
        const char *const *syn = syn_of(h, ds_template_import_type(t));

        for (size_t j = 0; syn != NULL && j < h->n; j++) {
            h->mine[j] |= syn[j] != NULL;
        }
    }
    for (size_t j = 0; j < h->n; j++) {
        if (h->key[j][0] != '\0') {
            cols++;
            mine += h->mine[j];
        }
    }
    s->required_missing = (int)(nreq - hreq);
    opt_share = nopt > 0 ? (double)hopt / (double)nopt : (nreq > 0 ? (double)hreq / nreq : 0);
    s->score = 50.0 * (nreq > 0 ? (double)hreq / (double)nreq : 0) + 20.0 * opt_share +
               30.0 * (cols > 0 ? (double)mine / (double)cols : 0);
}

/* Whether a ranks before b. */
static int better(const struct ds_detect_score *a, const struct ds_detect_score *b)
{
    if ((a->required_missing == 0) != (b->required_missing == 0)) {
        return a->required_missing == 0;
    }
    if (a->score != b->score) {
        return a->score > b->score;
    }
    if (a->exact != b->exact) {
        return a->exact > b->exact;
    }
    return strcmp(ds_template_id(a->t), ds_template_id(b->t)) < 0;
}

static void keep(struct ds_detection *d, const struct ds_detect_score *s)
{
    size_t at = d->nbest;

    while (at > 0 && better(s, &d->best[at - 1])) {
        at--;
    }
    if (at >= DS_DETECT_KEEP) {
        return;
    }
    if (d->nbest < DS_DETECT_KEEP) {
        d->nbest++;
    }
    memmove(&d->best[at + 1], &d->best[at], (d->nbest - 1 - at) * sizeof(d->best[0]));
    d->best[at] = *s;
}

/* Appends s to buf[size] at *len, "..." when it does not fit. */
static void append(char *buf, size_t size, size_t *len, const char *s)
{
    size_t n = strlen(s);

    if (*len + n + 4 >= size) {
        if (*len + 4 < size) {
            memcpy(buf + *len, "...", 4);
            *len += 3;
        }
        *len = size; /* full: later calls add nothing */
        return;
    }
    memcpy(buf + *len, s, n + 1);
    *len += n;
}

/* A header name is short and plain: no '@' (an e-mail), not mostly digits
 * (a phone or a date). Anything else is not echoed. */
static int looks_like_name(const char *s)
{
    size_t n = strlen(s);
    size_t digits = 0;

    if (n == 0 || n > 40 || strchr(s, '@') != NULL) {
        return 0;
    }
    for (const char *c = s; *c != '\0'; c++) {
        digits += (*c >= '0' && *c <= '9') ? 1 : 0;
    }
    return digits * 2 < n;
}

int ds_detect_template(struct ds_template *const *list, size_t n, const char *import_type,
                       const struct ds_row *header, struct ds_detection *out)
{
    struct folded h;
    struct ds_detect_score s;
    size_t len = 0;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    memset(&h, 0, sizeof(h));
    h.n = header != NULL ? header->nfields : 0;
    h.raw = header != NULL ? header->fields : NULL;
    h.key = ds_calloc(h.n + 1, sizeof(*h.key));
    h.known = ds_calloc(h.n + 1, 1);
    h.mine = ds_calloc(h.n + 1, 1);
    if (h.key == NULL || h.known == NULL || h.mine == NULL) {
        rc = DS_ENOMEM;
        goto out;
    }
    for (size_t k = 0; k < 4; k++) {
        h.syn[k] = ds_calloc(h.n + 1, sizeof(*h.syn[k]));
        if (h.syn[k] == NULL) {
            rc = DS_ENOMEM;
            goto out;
        }
    }
    for (size_t j = 0; j < h.n; j++) {
        fold(h.raw[j], h.key[j]);
        for (size_t k = 0; k < 4; k++) {
            h.syn[k][j] = ds_synonym_field(types[k], h.raw[j], strlen(h.raw[j]), NULL);
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (import_type != NULL && strcmp(ds_template_import_type(list[i]), import_type) != 0) {
            continue;
        }
        score_one(&h, list[i], &s);
        for (size_t j = 0; j < h.n; j++) {
            h.known[j] |= h.mine[j];
        }
        keep(out, &s);
    }
    out->matched = out->nbest > 0 && out->best[0].required_missing == 0 &&
                   out->best[0].score >= DS_DETECT_THRESHOLD;
    for (size_t j = 0; j < h.n; j++) {
        out->known += h.known[j] ? 1 : 0;
    }
    out->columns = h.n;
    /* Column names only when the line is a header at all: if no column is
     * a name any template knows, the first line may well be data (a file
     * without a header), and its values must not reach a held reason. */
    for (size_t j = 0; j < h.n && out->known > 0; j++) {
        if (!h.known[j] && h.raw[j][0] != '\0') {
            if (len > 0) {
                append(out->unmatched, sizeof(out->unmatched), &len, ", ");
            }
            append(out->unmatched, sizeof(out->unmatched), &len,
                   looks_like_name(h.raw[j]) ? h.raw[j] : "(a column that is not a name)");
        }
    }
out:
    ds_free(h.key);
    ds_free(h.known);
    ds_free(h.mine);
    for (size_t k = 0; k < 4; k++) {
        ds_free(h.syn[k]);
    }
    return rc;
}

int ds_detect_type_is_auto(const char *import_type)
{
    return import_type != NULL && strcmp(import_type, "auto") == 0;
}

/* 1 if a route rule of a sends rows to b. */
static int routes_to(const struct ds_template *a, const struct ds_template *b)
{
    for (size_t i = 0; i < ds_template_nrules(a); i++) {
        const struct ds_template_rule *r = ds_template_rule(a, i);

        if (r->kind == DS_RULE_ROUTE && strcmp(r->target, ds_template_id(b)) == 0) {
            return 1;
        }
    }
    return 0;
}

int ds_detect_any_type(struct ds_template *const *list, size_t n, const struct ds_row *header,
                       struct ds_detection *out)
{
    int rc = ds_detect_template(list, n, NULL, header, out);
    const struct ds_detect_score *w = &out->best[0];

    out->any_type = 1;
    if (rc != 0 || !out->matched) {
        return rc;
    }
    for (size_t k = 1; k < out->nbest; k++) {
        const struct ds_detect_score *s = &out->best[k];

        if (s->required_missing > 0 || s->score < w->score - 1e-9) {
            break; /* ranked: none after it ties either */
        }
        if (strcmp(ds_template_import_type(s->t), ds_template_import_type(w->t)) != 0 &&
            !routes_to(w->t, s->t) && !routes_to(s->t, w->t)) {
            out->matched = 0;
            out->ambiguous = 1;
            break;
        }
    }
    return 0;
}

void ds_detect_explain(const struct ds_detection *d, char *buf, size_t size)
{
    size_t len = 0;
    char part[200];

    if (size == 0) {
        return;
    }
    buf[0] = '\0';
    if (d->ambiguous) {
        append(buf, size, &len,
               "templates of two import types fit the header equally; candidates: ");
        for (size_t i = 0; i < d->nbest; i++) {
            snprintf(part, sizeof(part), "%s%s (%s, score %.0f%s)", i > 0 ? ", " : "",
                     ds_template_id(d->best[i].t), ds_template_import_type(d->best[i].t),
                     d->best[i].score,
                     d->best[i].required_missing > 0 ? ", required columns missing" : "");
            append(buf, size, &len, part);
        }
        append(buf, size, &len, "; set the folder's import_type, or make one template fit better");
        return;
    }
    append(buf, size, &len, "no template matches the header; closest: ");
    for (size_t i = 0; i < d->nbest; i++) {
        if (d->any_type) {
            snprintf(part, sizeof(part), "%s%s (%s, score %.0f%s)", i > 0 ? ", " : "",
                     ds_template_id(d->best[i].t), ds_template_import_type(d->best[i].t),
                     d->best[i].score,
                     d->best[i].required_missing > 0 ? ", required columns missing" : "");
        }
        else {
            snprintf(part, sizeof(part), "%s%s (score %.0f%s)", i > 0 ? ", " : "",
                     ds_template_id(d->best[i].t), d->best[i].score,
                     d->best[i].required_missing > 0 ? ", required columns missing" : "");
        }
        append(buf, size, &len, part);
    }
    if (d->nbest == 0) {
        append(buf, size, &len, "none");
    }
    if (d->known == 0 && d->columns > 0) {
        snprintf(part, sizeof(part),
                 "; none of the %zu columns is a name any template knows (is the first line "
                 "a header?)",
                 d->columns);
        append(buf, size, &len, part);
        return;
    }
    append(buf, size, &len, "; columns no template knows: ");
    append(buf, size, &len, d->unmatched[0] != '\0' ? d->unmatched : "none");
}
