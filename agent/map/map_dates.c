/*
 * map_dates.c — date-order voting (map.h, "Date order"): with date_order
 * auto, each date column's d/d/y values vote for DD/MM or MM/DD before the
 * file is mapped, and ds_map_date_decide fixes the order of each column and
 * the hint its failed dates carry. ds_map_date_unchanged tells a caller
 * that decided before the votes (preview, mapping while the rows vote)
 * whether they changed anything: decide and it share field_decision, so
 * they cannot disagree.
 */
#include "agent/map/map_int.h"

#include "agent/map/normalize.h"

#include <stdio.h>
#include <string.h>

int ds_map_wants_date_votes(const struct ds_mapper *m)
{
    if (!m->auto_order) {
        return 0;
    }
    for (size_t i = 0; i < m->nfields; i++) {
        if (m->fields[i].dated && m->fields[i].col >= 0) {
            return 1;
        }
    }
    return 0;
}

int ds_map_date_vote(struct ds_mapper *m, const struct ds_row *row)
{
    /* Every row of the file comes here: only the few dated fields (listed
     * by ds_map_new) are looked at, unless there are too many to list. */
    size_t n = m->nvoters <= MAP_VOTERS ? m->nvoters : m->nfields;
    int kinds = 0;

    for (size_t k = 0; k < n; k++) {
        struct map_field *f = &m->fields[m->nvoters <= MAP_VOTERS ? m->voters[k] : k];

        if (f->dated && f->col >= 0 && (size_t)f->col < row->nfields) {
            long dmy = f->votes.dmy_only;
            long mdy = f->votes.mdy_only;

            ds_norm_date_vote(&f->votes, row->fields[f->col], row->lens[f->col]);
            kinds |= (f->votes.dmy_only != dmy) | (f->votes.mdy_only != mdy) << 1;
        }
    }
    kinds &= ~m->vote_kinds;
    m->vote_kinds |= kinds;
    return kinds != 0;
}

/* The order a set of votes tells: DMY or MDY when only that one reads some
 * values, else AUTO (nothing decisive, or both: inconsistent). */
static enum ds_date_order votes_tell(const struct ds_date_votes *v)
{
    if (v->dmy_only > 0 && v->mdy_only == 0) {
        return DS_DATE_DMY;
    }
    if (v->mdy_only > 0 && v->dmy_only == 0) {
        return DS_DATE_MDY;
    }
    return DS_DATE_AUTO;
}

/* What the file's date columns together tell (see ds_map_date_decide). */
static enum ds_date_order file_tells(const struct ds_mapper *m)
{
    struct ds_date_votes all;

    memset(&all, 0, sizeof(all));
    for (size_t i = 0; i < m->nfields; i++) {
        if (m->fields[i].dated) {
            all.seen += m->fields[i].votes.seen;
            all.dmy_only += m->fields[i].votes.dmy_only;
            all.mdy_only += m->fields[i].votes.mdy_only;
        }
    }
    return votes_tell(&all);
}

enum { HINT_NONE, HINT_DMY, HINT_MDY };

/* The order field f takes from its votes (its own order when the order is
 * not auto), and which hint its failed dates get: HINT_*. */
static int field_decision(const struct ds_mapper *m, const struct map_field *f,
                          enum ds_date_order file_order, enum ds_date_order *order)
{
    enum ds_date_order in_force;

    *order = f->order;
    if (m->auto_order) {
        *order = votes_tell(&f->votes);
        if (*order == DS_DATE_AUTO && f->votes.dmy_only == 0 && f->votes.mdy_only == 0) {
            *order = file_order;
        }
        if (*order == DS_DATE_AUTO) {
            *order = DS_DATE_MDY;
        }
    }
    in_force = *order != 0 ? *order : m->opts.date_order;
    if (in_force != DS_DATE_DMY && in_force != DS_DATE_YMD && f->votes.dmy_only > 0) {
        return HINT_DMY;
    }
    if (in_force == DS_DATE_DMY && f->votes.mdy_only > 0) {
        return HINT_MDY;
    }
    return HINT_NONE;
}

/*
 * Decides the order of each date column from its votes, when the order is
 * auto: a column whose values read only one way takes that way; a column
 * that cannot tell (every value fits both) takes what the file's date
 * columns together tell; a column that reads both ways (inconsistent) is
 * not guessed: it stays MDY, and its failures say how many rows only read
 * as DD/MM/YYYY. Whatever the order, a column with values only the other
 * order reads gets that hint for its failed rows.
 */
void ds_map_date_decide(struct ds_mapper *m)
{
    enum ds_date_order file_order = file_tells(m);

    for (size_t i = 0; i < m->nfields; i++) {
        struct map_field *f = &m->fields[i];
        enum ds_date_order order;
        int hint;

        if (!f->dated) {
            continue;
        }
        hint = field_decision(m, f, file_order, &order);
        f->order = order;
        f->hint[0] = '\0';
        if (hint == HINT_DMY) {
            snprintf(f->hint, sizeof(f->hint),
                     "does not fit MM/DD/YYYY; %ld rows in this column only read as DD/MM/YYYY "
                     "\xe2\x80\x94 set date_order = DMY",
                     f->votes.dmy_only);
        }
        else if (hint == HINT_MDY) {
            snprintf(f->hint, sizeof(f->hint),
                     "does not fit DD/MM/YYYY; %ld rows in this column only read as MM/DD/YYYY "
                     "\xe2\x80\x94 set date_order = MDY",
                     f->votes.mdy_only);
        }
    }
}

int ds_map_date_unchanged(const struct ds_mapper *m)
{
    enum ds_date_order file_order = file_tells(m);

    for (size_t i = 0; i < m->nfields; i++) {
        const struct map_field *f = &m->fields[i];
        enum ds_date_order order;

        if (f->dated &&
            (field_decision(m, f, file_order, &order) != HINT_NONE || order != f->order)) {
            return 0;
        }
    }
    return 1;
}

enum ds_date_order ds_map_field_date_order(const struct ds_mapper *m, size_t i)
{
    if (i >= m->nfields || !m->fields[i].dated) {
        return DS_DATE_AUTO;
    }
    return m->fields[i].order != 0 ? m->fields[i].order : m->opts.date_order;
}

const struct ds_date_votes *ds_map_field_date_votes(const struct ds_mapper *m, size_t i)
{
    return i < m->nfields && m->fields[i].dated ? &m->fields[i].votes : NULL;
}
