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
 *   -  (no value) left unbound           -  (no pointer) not read
 *
 * Values are only ever bound, never formatted into the SQL text.
 *
 * The item insert of staging (ds_store_item_add) uses a cached slot but
 * binds and steps by hand: it runs once per row read, and the format walk
 * would cost on each.
 */
#include "state/store_int.h"

#include "agent/core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int stmt_bind(sqlite3_stmt *s, const char *in, va_list *ap)
{
    int64_t v;
    long l;
    int src = SQLITE_OK;

    for (int i = 1; in != NULL && in[i - 1] != '\0' && src == SQLITE_OK; i++) {
        switch (in[i - 1]) {
        case 't':
            src = ds__store_bind_text(s, i, va_arg(*ap, const char *));
            break;
        case 'i':
            src = sqlite3_bind_int64(s, i, va_arg(*ap, int64_t));
            break;
        case 'l':
            src = sqlite3_bind_int64(s, i, va_arg(*ap, long));
            break;
        case 'n':
            src = sqlite3_bind_int(s, i, va_arg(*ap, int));
            break;
        case 'd':
            src = sqlite3_bind_double(s, i, va_arg(*ap, double));
            break;
        case 'I':
            v = va_arg(*ap, int64_t);
            if (v != 0) {
                src = sqlite3_bind_int64(s, i, v);
            }
            break;
        case 'L':
            l = va_arg(*ap, long);
            if (l != 0) {
                src = sqlite3_bind_int64(s, i, l);
            }
            break;
        case '-':
            break;
        default:
            return SQLITE_MISUSE;
        }
    }
    return src;
}

static int stmt_cols(sqlite3_stmt *s, const char *out, va_list *ap)
{
    const char **text;
    const char *value;
    char *buf;
    size_t size;
    int64_t *i64;
    long *l;
    int *n;
    double *d;
    int rc = 0;
    int c;

    if (out != NULL && (int)strlen(out) != sqlite3_column_count(s)) {
        /* A format that does not match its SQL: a bug, not a queue to trust. */
        ds_log_error("STORE_ERROR", "store: %d column(s) read as \"%s\"", sqlite3_column_count(s),
                     out);
        return DS_EINVAL;
    }
    for (int i = 0; out != NULL && out[i] != '\0'; i++) {
        switch (out[i]) {
        case 't':
            buf = va_arg(*ap, char *);
            size = va_arg(*ap, size_t);
            if (buf != NULL) {
                c = ds__store_copy(buf, size, (const char *)sqlite3_column_text(s, i));
                rc = rc != 0 ? rc : c;
            }
            break;
        case 'c':
            buf = va_arg(*ap, char *);
            size = va_arg(*ap, size_t);
            value = (const char *)sqlite3_column_text(s, i);
            if (buf != NULL && size > 0) {
                snprintf(buf, size, "%s", value != NULL ? value : "");
            }
            break;
        case '-':
            break;
        case 's':
            text = va_arg(*ap, const char **);
            if (text != NULL) {
                *text = (const char *)sqlite3_column_text(s, i);
            }
            break;
        case 'i':
            i64 = va_arg(*ap, int64_t *);
            if (i64 != NULL) {
                *i64 = sqlite3_column_int64(s, i);
            }
            break;
        case 'l':
            l = va_arg(*ap, long *);
            if (l != NULL) {
                *l = (long)sqlite3_column_int64(s, i);
            }
            break;
        case 'n':
            n = va_arg(*ap, int *);
            if (n != NULL) {
                *n = sqlite3_column_int(s, i);
            }
            break;
        case 'd':
            d = va_arg(*ap, double *);
            if (d != NULL) {
                *d = sqlite3_column_double(s, i);
            }
            break;
        default:
            return DS_EINVAL;
        }
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

int ds__store_row(struct ds_store *st, enum ds__store_q q, const char *sql, const char *what,
                  const char *in, const char *out, ...)
{
    sqlite3_stmt *s = NULL;
    va_list ap;
    int rc;

    va_start(ap, out);
    rc = stmt_vprep(st, q, sql, what, &s, in, &ap);
    if (rc == 0) {
        rc = ds__store_step(st, s, what);
    }
    if (rc == 1) {
        rc = stmt_cols(s, out, &ap);
    }
    else if (rc == 0) {
        rc = DS_ENOTFOUND;
    }
    va_end(ap);
    ds__store_done(q, &s);
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

int ds__store_end(struct ds_store *st, int rc)
{
    if (rc == 0) {
        return ds__store_commit(st);
    }
    ds__store_rollback(st);
    return rc;
}
