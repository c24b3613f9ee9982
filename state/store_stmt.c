/*
 * store_stmt.c — the one way the store runs a statement.
 *
 * Every query of the store is the same sequence: prepare (or reuse the
 * cached statement of its slot), bind its parameters, step, read the
 * columns of a row, reset. The functions here do that sequence once, so
 * that a query says only its SQL, its parameters and its columns, and a
 * SQLite failure always takes the same path (ds__store_fail: a DS_E code,
 * the message logged without values).
 *
 * Parameters and columns are given as a format, one letter per parameter
 * (?1, ?2, ...) or column (0, 1, ...), followed by the values:
 *
 *   bind                                 column (a NULL pointer skips it)
 *   t  const char *  (NULL binds NULL)   t  char *buf, size_t size: a copy
 *   i  int64_t                                (DS_ETOOBIG if it does not fit)
 *                                        c  char *buf, size_t size: a copy cut
 *                                           to fit, "" for NULL (for display)
 *   l  long                              s  const char **: borrowed until reset
 *   n  int                               i  int64_t *
 *   d  double                            l  long *
 *   I  int64_t, 0 binds NULL             n  int *
 *   L  long, 0 binds NULL                d  double *
 *   p  const int64_t *: the value read   m  char **: a new copy (ds_free),
 *      at bind time (a cursor)              NULL for NULL (DS_ENOMEM)
 *   -  (no value) left unbound           -  (no pointer) not read
 *
 * Values are only ever bound, never formatted into the SQL text.
 *
 * The item insert of staging (ds_store_item_add) uses a cached slot but
 * binds and steps by hand: it runs once per row read, and the format walk
 * would cost on each.
 */
#include "state/store_int.h"

#include "agent/core/alloc.h"
#include "agent/core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The integer of a bind letter i, I, l, L or p, read from ap as the type the
 * letter names (long and int64_t differ in size on some targets). */
static int64_t stmt_arg_int(char f, va_list *ap)
{
    if (f == 'p') {
        return *va_arg(*ap, const int64_t *);
    }
    if (f == 'l' || f == 'L') {
        return va_arg(*ap, long);
    }
    return va_arg(*ap, int64_t);
}

/* Binds parameter i from the next value of ap, as the letter f says. */
static int stmt_bind_one(sqlite3_stmt *s, int i, char f, va_list *ap)
{
    int64_t v;

    switch (f) {
    case 't':
        return ds__store_bind_text(s, i, va_arg(*ap, const char *));
    case 'n':
        return sqlite3_bind_int(s, i, va_arg(*ap, int));
    case 'd':
        return sqlite3_bind_double(s, i, va_arg(*ap, double));
    case 'i':
    case 'I':
    case 'l':
    case 'L':
    case 'p':
        v = stmt_arg_int(f, ap);
        /* I and L leave 0 unbound: NULL. */
        return v == 0 && (f == 'I' || f == 'L') ? SQLITE_OK : sqlite3_bind_int64(s, i, v);
    case '-':
        return SQLITE_OK;
    default:
        return SQLITE_MISUSE;
    }
}

static int stmt_bind(sqlite3_stmt *s, const char *in, va_list *ap)
{
    int src = SQLITE_OK;

    for (int i = 1; in != NULL && in[i - 1] != '\0' && src == SQLITE_OK; i++) {
        src = stmt_bind_one(s, i, in[i - 1], ap);
    }
    return src;
}

/* Stores value through the next pointer of ap, of type `type *`, unless it
 * is NULL. A type cannot be put in parentheses, hence the NOLINT. */
#define STMT_SET(ap, type, value)                                                                  \
    do {                                                                                           \
        type *to_ = va_arg(*(ap), type *); /* NOLINT(bugprone-macro-parentheses) */                \
        if (to_ != NULL) {                                                                         \
            *to_ = (value);                                                                        \
        }                                                                                          \
    } while (0)

/* Copies column i as the letter f says into the next pointer(s) of ap: 0,
 * DS_ETOOBIG (t: the text did not fit), DS_ENOMEM (m) or DS_EINVAL (an
 * unknown letter). */
static int stmt_col(sqlite3_stmt *s, int i, char f, va_list *ap)
{
    const char *text = NULL;
    char *buf = NULL;
    size_t size = 0;

    if (f == 't' || f == 'c') {
        buf = va_arg(*ap, char *);
        size = va_arg(*ap, size_t);
    }
    switch (f) {
    case 't':
        return buf != NULL ? ds__store_copy(buf, size, (const char *)sqlite3_column_text(s, i)) : 0;
    case 'c':
        text = (const char *)sqlite3_column_text(s, i);
        if (buf != NULL && size > 0) {
            snprintf(buf, size, "%s", text != NULL ? text : "");
        }
        return 0;
    case 'm':
        text = (const char *)sqlite3_column_text(s, i);
        buf = text != NULL ? ds_strdup(text) : NULL;
        STMT_SET(ap, char *, buf);
        return text != NULL && buf == NULL ? DS_ENOMEM : 0;
    case 's':
        STMT_SET(ap, const char *, (const char *)sqlite3_column_text(s, i));
        return 0;
    case 'i':
        STMT_SET(ap, int64_t, sqlite3_column_int64(s, i));
        return 0;
    case 'l':
        STMT_SET(ap, long, (long)sqlite3_column_int64(s, i));
        return 0;
    case 'n':
        STMT_SET(ap, int, sqlite3_column_int(s, i));
        return 0;
    case 'd':
        STMT_SET(ap, double, sqlite3_column_double(s, i));
        return 0;
    case '-':
        return 0;
    default:
        return DS_EINVAL;
    }
}

#undef STMT_SET

static int stmt_cols(sqlite3_stmt *s, const char *out, va_list *ap)
{
    int rc = 0;
    int c;

    if (out != NULL && (int)strlen(out) != sqlite3_column_count(s)) {
        /* A format that does not match its SQL: a bug, not a queue to trust. */
        ds_log_error("STORE_ERROR", "store: %d column(s) read as \"%s\"", sqlite3_column_count(s),
                     out);
        return DS_EINVAL;
    }
    for (int i = 0; out != NULL && out[i] != '\0'; i++) {
        c = stmt_col(s, i, out[i], ap);
        if (c == DS_EINVAL) {
            return c;
        }
        /* The first failure is the one returned; the other columns are read. */
        rc = rc != 0 ? rc : c;
    }
    return rc;
}

static int stmt_vprep(struct ds_store *st, enum ds__store_q q, const char *sql, const char *what,
                      sqlite3_stmt **out, const char *in, va_list *ap)
{
    sqlite3_stmt *s = NULL;
    int src;
    int rc;

    *out = NULL;
    if (q == DS__Q_ONCE) {
        src = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
        if (src != SQLITE_OK) {
            return ds__store_fail(st, src, what);
        }
    }
    else {
        rc = ds__store_stmt(st, q, sql, &s);
        if (rc != 0) {
            return rc;
        }
    }
    src = stmt_bind(s, in, ap);
    if (src != SQLITE_OK) {
        rc = ds__store_fail(st, src, what);
        ds__store_done(q, &s);
        return rc;
    }
    *out = s;
    return 0;
}

int ds__store_prep(struct ds_store *st, enum ds__store_q q, const char *sql, const char *what,
                   sqlite3_stmt **out, const char *in, ...)
{
    va_list ap;
    int rc;

    va_start(ap, in);
    rc = stmt_vprep(st, q, sql, what, out, in, &ap);
    va_end(ap);
    return rc;
}

int ds__store_bind(struct ds_store *st, sqlite3_stmt *s, const char *what, const char *in, ...)
{
    va_list ap;
    int src;

    sqlite3_reset(s);
    va_start(ap, in);
    src = stmt_bind(s, in, &ap);
    va_end(ap);
    if (src != SQLITE_OK) {
        return ds__store_fail(st, src, what);
    }
    return 0;
}

int ds__store_step(struct ds_store *st, sqlite3_stmt *s, const char *what)
{
    int src = sqlite3_step(s);

    if (src == SQLITE_ROW) {
        return 1;
    }
    if (src == SQLITE_DONE) {
        return 0;
    }
    return ds__store_fail(st, src, what);
}

int ds__store_cols(sqlite3_stmt *s, const char *out, ...)
{
    va_list ap;
    int rc;

    va_start(ap, out);
    rc = stmt_cols(s, out, &ap);
    va_end(ap);
    return rc;
}

void ds__store_done(enum ds__store_q q, sqlite3_stmt **s)
{
    if (s == NULL || *s == NULL) {
        return;
    }
    if (q == DS__Q_ONCE) {
        sqlite3_finalize(*s);
    }
    else {
        ds__store_reset(*s);
    }
    *s = NULL;
}

/* ds__store_row with the values and pointers in ap. */
static int stmt_vrow(struct ds_store *st, enum ds__store_q q, const char *sql, const char *what,
                     const char *in, const char *out, va_list *ap)
{
    sqlite3_stmt *s = NULL;
    int rc;

    rc = stmt_vprep(st, q, sql, what, &s, in, ap);
    if (rc == 0) {
        rc = ds__store_step(st, s, what);
    }
    if (rc == 1) {
        rc = stmt_cols(s, out, ap);
    }
    else if (rc == 0) {
        rc = DS_ENOTFOUND;
    }
    ds__store_done(q, &s);
    return rc;
}

int ds__store_row(struct ds_store *st, enum ds__store_q q, const char *sql, const char *what,
                  const char *in, const char *out, ...)
{
    va_list ap;
    int rc;

    va_start(ap, out);
    rc = stmt_vrow(st, q, sql, what, in, out, &ap);
    va_end(ap);
    return rc;
}

int ds__store_next(struct ds_store *st, sqlite3_stmt *s, const char *what, const char *out, ...)
{
    va_list ap;
    int rc;

    rc = ds__store_step(st, s, what);
    if (rc == 1) {
        va_start(ap, out);
        rc = stmt_cols(s, out, &ap);
        va_end(ap);
        rc = rc != 0 ? rc : 1;
    }
    return rc;
}

int ds__store_each(struct ds_store *st, enum ds__store_q q, const char *sql, const char *what,
                   ds__store_each_cb cb, void *ctx, const char *in, const char *out, ...)
{
    va_list ap;
    va_list again;
    int rc = 0;

    va_start(ap, out);
    while (rc == 0) {
        va_copy(again, ap);
        rc = stmt_vrow(st, q, sql, what, in, out, &again);
        va_end(again);
        if (rc == DS_ENOTFOUND) {
            rc = 0;
            break;
        }
        if (rc == 0) {
            rc = cb(st, ctx);
        }
    }
    va_end(ap);
    return rc;
}

int ds__store_exec(struct ds_store *st, enum ds__store_q q, const char *sql, const char *what,
                   const char *in, ...)
{
    sqlite3_stmt *s = NULL;
    va_list ap;
    int rc;

    va_start(ap, in);
    rc = stmt_vprep(st, q, sql, what, &s, in, &ap);
    va_end(ap);
    if (rc == 0) {
        rc = ds__store_run(st, s, what);
    }
    ds__store_done(q, &s);
    return rc;
}

int ds__store_then_event(struct ds_store *st, int rc, const char *kind, int64_t file_id,
                         const char *job_id, long seq, const char *code, const char *detail)
{
    return rc == 0 ? ds__store_event(st, kind, file_id, job_id, seq, code, detail) : rc;
}

int ds__store_end(struct ds_store *st, int rc)
{
    if (rc == 0) {
        return ds__store_commit(st);
    }
    ds__store_rollback(st);
    return rc;
}
