/*
 * map_synonym.c — after the template, the synonyms (map_int.h,
 * agent/map/synonyms.h): every canonical field the template left unbound
 * takes the one remaining column whose header name is one of its
 * synonyms. A column a field or a rule of the template reads is never
 * taken again; a field two remaining columns name is left unbound and
 * noted, never guessed. start_at takes one date-time column, or a date
 * column and a time column together.
 */
#include "agent/map/map_int.h"

#include "agent/core/alloc.h"
#include "agent/core/jsonw.h"
#include "agent/map/canon.h"
#include "agent/map/synonyms.h"

#include <string.h>

/* The remaining columns naming one canonical field, per role. */
struct cand {
    int n[3];
    long col[3][2];
};

static void mark(unsigned char *used, size_t nh, long c)
{
    if (c >= 0 && (size_t)c < nh) {
        used[c] = 1;
    }
}

static long field_index(const struct ds_mapper *m, const char *name)
{
    for (size_t i = 0; i < m->nfields; i++) {
        if (strcmp(m->fields[i].name, name) == 0) {
            return (long)i;
        }
    }
    return -1;
}

static void note_ambiguous(struct ds_mapper *m, const char *field, const long col[2])
{
    m->ambig[m->nambig].field = field;
    m->ambig[m->nambig].col[0] = col[0];
    m->ambig[m->nambig].col[1] = col[1];
    m->nambig++;
}

/* The columns a field takes from its candidates: *col (and *tcol for a
 * date + time start_at), or -1; 1 when it is ambiguous. */
static int choose(const struct cand *c, int instant, long *col, long *tcol)
{
    *col = *tcol = -1;
    if (c->n[DS_SYN_WHOLE] > 1) {
        return 1;
    }
    if (c->n[DS_SYN_WHOLE] == 1) {
        *col = c->col[DS_SYN_WHOLE][0];
        return 0;
    }
    if (!instant) {
        return 0;
    }
    if (c->n[DS_SYN_DATE] > 1 || c->n[DS_SYN_TIME] > 1) {
        return 1;
    }
    if (c->n[DS_SYN_DATE] == 1) {
        *col = c->col[DS_SYN_DATE][0];
        *tcol = c->n[DS_SYN_TIME] == 1 ? c->col[DS_SYN_TIME][0] : -1;
    }
    else if (c->n[DS_SYN_TIME] == 1) {
        *col = c->col[DS_SYN_TIME][0]; /* "Start Time" alone: a whole instant */
    }
    return 0;
}

/* The columns of an ambiguous choice, for the note. */
static const long *ambiguous_cols(const struct cand *c)
{
    if (c->n[DS_SYN_WHOLE] > 1) {
        return c->col[DS_SYN_WHOLE];
    }
    return c->n[DS_SYN_DATE] > 1 ? c->col[DS_SYN_DATE] : c->col[DS_SYN_TIME];
}

int ds__map_bind_synonyms(struct ds_mapper *m, char *const *hkeys, struct ds_error *err)
{
    const char *const *canon = ds_map_canonical_fields(m->import_type);
    size_t nc = 0;
    unsigned char *used = NULL;
    struct cand *cands = NULL;
    int rc = 0;

    while (canon[nc] != NULL) {
        nc++;
    }
    used = ds_calloc(m->nheader + 1, 1);
    cands = ds_calloc(nc + 1, sizeof(*cands));
    m->ambig = ds_calloc(nc + 1, sizeof(*m->ambig));
    if (used == NULL || cands == NULL || m->ambig == NULL) {
        rc = ds_error_set(err, DS_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < m->nfields; i++) {
        const struct map_field *f = &m->fields[i];

        mark(used, m->nheader, f->col);
        mark(used, m->nheader, f->tcol);
        mark(used, m->nheader, f->hcol);
        mark(used, m->nheader, f->mcol);
        for (const long *c = f->cols; c != NULL && *c >= 0; c++) {
            mark(used, m->nheader, *c);
        }
    }
    for (size_t i = 0; i < m->nrules; i++) {
        mark(used, m->nheader, m->rules[i].col);
    }
    for (size_t j = 0; j < m->nheader; j++) {
        enum ds_syn_role role = DS_SYN_WHOLE;
        const char *field;
        size_t k = 0;

        if (used[j]) {
            continue;
        }
        field = ds_synonym_field(m->import_type, m->header[j], strlen(m->header[j]), &role);
        while (field != NULL && k < nc && strcmp(canon[k], field) != 0) {
            k++;
        }
        if (field == NULL || k == nc) {
            continue;
        }
        if (cands[k].n[role] < 2) {
            cands[k].col[role][cands[k].n[role]] = (long)j;
        }
        cands[k].n[role]++;
    }
    for (size_t k = 0; k < nc; k++) {
        long fi = field_index(m, canon[k]);
        int instant = strcmp(canon[k], "start_at") == 0;
        struct map_field *f;
        long col;
        long tcol;

        if (fi >= 0) {
            f = &m->fields[fi];
            /* Bound, or read in a way a synonym cannot stand in for. */
            if (f->col >= 0 || f->pick != PICK_HEADER || f->combined || f->split != 0) {
                continue;
            }
        }
        if (choose(&cands[k], instant, &col, &tcol)) {
            note_ambiguous(m, canon[k], ambiguous_cols(&cands[k]));
            continue;
        }
        if (col < 0) {
            continue;
        }
        if (fi < 0) {
            const char *cols[2] = {m->header[col], NULL};
            struct ds_template_field tf;

            memset(&tf, 0, sizeof(tf));
            tf.name = canon[k];
            tf.columns = cols;
            tf.transform = ds_synonym_transform(m->import_type, canon[k]);
            fi = (long)m->nfields++;
            rc = ds__map_bind_field(m, (size_t)fi, &tf, hkeys, err);
            if (rc != 0) {
                goto out;
            }
        }
        f = &m->fields[fi];
        f->col = col;
        if (tcol >= 0) {
            f->tcol = tcol;
            f->combined = 1;
            f->dated = 1;
        }
        f->by = DS_MAP_BY_SYNONYM;
    }
out:
    ds_free(used);
    ds_free(cands);
    return rc;
}

size_t ds_map_nfields(const struct ds_mapper *m)
{
    return m->nfields;
}

const char *ds_map_field_name(const struct ds_mapper *m, size_t i)
{
    return i < m->nfields ? m->fields[i].name : NULL;
}

long ds_map_field_time_column(const struct ds_mapper *m, size_t i)
{
    return i < m->nfields ? m->fields[i].tcol : -1;
}

int ds_map_field_bound_by(const struct ds_mapper *m, size_t i)
{
    return i < m->nfields ? m->fields[i].by : DS_MAP_UNBOUND;
}

size_t ds_map_nambiguous(const struct ds_mapper *m)
{
    return m->nambig;
}

const char *ds_map_ambiguous(const struct ds_mapper *m, size_t k, long *col1, long *col2)
{
    if (k >= m->nambig) {
        return NULL;
    }
    *col1 = m->ambig[k].col[0];
    *col2 = m->ambig[k].col[1];
    return m->ambig[k].field;
}

static int put_str(struct ds_buf *b, const char *s)
{
    return ds_jsonw_text(b, s, strlen(s));
}

static int put_lit(struct ds_buf *b, const char *s)
{
    return ds_buf_append(b, s, strlen(s));
}

int ds_map_binding_json(const struct ds_mapper *m, char **out)
{
    struct ds_buf b;
    int rc = 0;
    int first = 1;

    *out = NULL;
    ds_buf_init(&b, MAP_JSON_MAX);
    rc = put_lit(&b, "{\"fields\":[");
    for (size_t i = 0; i < m->nfields && rc == 0; i++) {
        const struct map_field *f = &m->fields[i];

        if (f->col < 0 || (size_t)f->col >= m->nheader) {
            continue;
        }
        rc = put_lit(&b, first ? "{\"field\":" : ",{\"field\":");
        first = 0;
        rc = rc != 0 ? rc : put_str(&b, f->name);
        rc = rc != 0 ? rc : put_lit(&b, ",\"column\":");
        rc = rc != 0 ? rc : put_str(&b, m->header[f->col]);
        if (rc == 0 && f->tcol >= 0 && (size_t)f->tcol < m->nheader) {
            rc = put_lit(&b, ",\"time_column\":");
            rc = rc != 0 ? rc : put_str(&b, m->header[f->tcol]);
        }
        rc = rc != 0 ? rc
                     : put_lit(&b, f->by == DS_MAP_BY_SYNONYM ? ",\"by\":\"synonym\"}"
                                                              : ",\"by\":\"template\"}");
    }
    rc = rc != 0 ? rc : put_lit(&b, "],\"ambiguous\":[");
    for (size_t k = 0; k < m->nambig && rc == 0; k++) {
        rc = put_lit(&b, k > 0 ? ",{\"field\":" : "{\"field\":");
        rc = rc != 0 ? rc : put_str(&b, m->ambig[k].field);
        rc = rc != 0 ? rc : put_lit(&b, ",\"columns\":[");
        rc = rc != 0 ? rc : put_str(&b, m->header[m->ambig[k].col[0]]);
        rc = rc != 0 ? rc : put_lit(&b, ",");
        rc = rc != 0 ? rc : put_str(&b, m->header[m->ambig[k].col[1]]);
        rc = rc != 0 ? rc : put_lit(&b, "]}");
    }
    rc = rc != 0 ? rc : put_lit(&b, "]}");
    if (rc != 0) {
        ds_buf_close(&b);
        return DS_ENOMEM;
    }
    *out = ds_buf_steal(&b);
    return *out != NULL ? 0 : DS_ENOMEM;
}
