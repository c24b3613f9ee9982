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
#include "agent/map/normalize.h"

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
};

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
    for (size_t j = 0; j < h.n; j++) {
        fold(h.raw[j], h.key[j]);
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
    return rc;
}

void ds_detect_explain(const struct ds_detection *d, char *buf, size_t size)
{
    size_t len = 0;
    char part[160];

    if (size == 0) {
        return;
    }
    buf[0] = '\0';
    append(buf, size, &len, "no template matches the header; closest: ");
    for (size_t i = 0; i < d->nbest; i++) {
        snprintf(part, sizeof(part), "%s%s (score %.0f%s)", i > 0 ? ", " : "",
                 ds_template_id(d->best[i].t), d->best[i].score,
                 d->best[i].required_missing > 0 ? ", required columns missing" : "");
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
