/*
 * normalize_date.c — dates, times of day and local instants (normalize.h).
 *
 * A date is read as a short list of tokens — digit runs and letter runs
 * between separators ('/', '-', '.', ',', ' ') — so that one parser covers
 * the ISO, the US, the European and the spelt-out month forms. The order of
 * an all-numeric d/d/y date is never guessed per value: it comes from the
 * options (the practice's date_order, or what ingest inferred from the
 * whole column with ds_norm_date_vote). A value that does not fit the order
 * in force is invalid; the caller's suggestion says which order would fit.
 *
 * Times are HH:MM[:SS[.fff]] with an optional AM/PM (A, P, a.m., p.m.), or
 * 3-4 digits (930, 1430) read as 24-hour HMM. Everything is byte-wise ASCII
 * and locale-free.
 */
#include "agent/map/normalize.h"

#include "agent/core/error.h"
#include "agent/map/tz.h"

#include <string.h>

#define DATE_TOKENS_MAX 4 /* a weekday, then day, month and year */
#define PIVOT_DEFAULT 30

struct token {
    const char *p; /* start */
    size_t n;      /* length */
    int digits;    /* 1: all digits, 0: all letters */
    long v;        /* the number (digits) or the month 1-12 (letters), else 0 */
};

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static int days_in_month(long y, long m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) {
        return 29;
    }
    return days[m - 1];
}

/* The date of a day number since 1970-01-01. */
static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    int64_t era;
    int64_t doe;
    int64_t yoe;
    int64_t doy;
    int64_t mp;
    int64_t yy;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    yy = yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yy + (*m <= 2));
}

/* The month named by a letter run (English, full or 3-4 letters, "Sept"),
 * or 0. */
static int month_name(const char *p, size_t n)
{
    static const char *const names[] = {"january",   "february", "march",    "april",
                                        "may",       "june",     "july",     "august",
                                        "september", "october",  "november", "december"};
    char w[12];

    if (n < 3 || n >= sizeof(w)) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        w[i] = (char)lower((unsigned char)p[i]);
    }
    w[n] = '\0';
    if (strcmp(w, "sept") == 0) {
        return 9;
    }
    for (int i = 0; i < 12; i++) {
        if (strncmp(names[i], w, n) == 0 && (n == 3 || n == strlen(names[i]))) {
            return i + 1;
        }
    }
    return 0;
}

static int weekday_name(const char *p, size_t n)
{
    static const char *const names[] = {"monday", "tuesday",  "wednesday", "thursday",
                                        "friday", "saturday", "sunday"};
    char w[12];

    if (n < 3 || n >= sizeof(w)) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        w[i] = (char)lower((unsigned char)p[i]);
    }
    w[n] = '\0';
    for (int i = 0; i < 7; i++) {
        if (strncmp(names[i], w, n) == 0 && (n == 3 || n == strlen(names[i]))) {
            return 1;
        }
    }
    return 0;
}

static int is_date_sep(unsigned char c)
{
    return c == '/' || c == '-' || c == '.' || c == ',' || c == ' ';
}

/* Reads up to three date tokens (after an optional weekday) from s; *end
 * receives where the date stopped. Returns the number of tokens or -1. */
static int tokenize(const char *s, size_t len, struct token *t, size_t *end)
{
    size_t i = 0;
    int n = 0;
    int seps = 0;

    /* The shape nearly every export writes — three runs of digits, one
     * separator between them ("03/04/2024", "2024-03-04 09:15") — read
     * in one go, with the tokens and the end the loop below gives it.
     * Anything else (letters, longer separators, a run of more than eight
     * digits) goes to the loop from the start. */
    for (int k = 0; k < 3 && len >= 5 && is_digit((unsigned char)s[0]); k++) {
        size_t start = i;
        long v = 0;

        while (i < len && i - start < 8 && is_digit((unsigned char)s[i])) {
            v = v * 10 + (s[i] - '0');
            i++;
        }
        if (i == start || (i < len && is_digit((unsigned char)s[i]))) {
            break;
        }
        t[k].p = s + start;
        t[k].n = i - start;
        t[k].digits = 1;
        t[k].v = v;
        if (k == 2) {
            *end = i;
            return 3;
        }
        if (i + 1 >= len || !is_date_sep((unsigned char)s[i]) ||
            !is_digit((unsigned char)s[i + 1])) {
            break;
        }
        i++;
    }
    i = 0;

    while (i < len && n < 3) {
        size_t start = i;

        if (is_digit((unsigned char)s[i])) {
            long v = 0;

            while (i < len && is_digit((unsigned char)s[i])) {
                if (i - start >= 8) {
                    return -1;
                }
                v = v * 10 + (s[i] - '0');
                i++;
            }
            t[n].p = s + start;
            t[n].n = i - start;
            t[n].digits = 1;
            t[n].v = v;
            n++;
        }
        else if (is_alpha((unsigned char)s[i])) {
            while (i < len && is_alpha((unsigned char)s[i])) {
                i++;
            }
            if (n == 0 && seps == 0 && weekday_name(s + start, i - start)) {
                /* A leading weekday: skip it. */
            }
            else {
                t[n].p = s + start;
                t[n].n = i - start;
                t[n].digits = 0;
                t[n].v = month_name(s + start, i - start);
                if (t[n].v == 0) {
                    return -1;
                }
                n++;
            }
        }
        else {
            return -1;
        }
        if (n == 3) {
            break;
        }
        start = i;
        while (i < len && is_date_sep((unsigned char)s[i]) && i - start < 3) {
            i++;
        }
        if (i == start && i < len) {
            return -1; /* tokens must be separated */
        }
        seps++;
    }
    *end = i;
    return n;
}

/* A year token: 4 digits as is, 2 digits through the pivot. */
static long year_of(const struct ds_norm_opts *o, const struct token *t)
{
    int pivot = o != NULL && o->year_pivot > 0 ? o->year_pivot : PIVOT_DEFAULT;

    if (!t->digits) {
        return -1;
    }
    if (t->n == 4) {
        return t->v;
    }
    if (t->n == 2) {
        return t->v < pivot ? 2000 + t->v : 1900 + t->v;
    }
    return -1;
}

/* Excel's day number (1900 system, with its phantom 1900-02-29). */
static int from_serial(const char *s, size_t len, struct ds_norm_dt *dt)
{
    size_t i = 0;
    long days = 0;
    double frac = 0;
    double scale = 0.1;
    long secs;
    int64_t z;

    while (i < len && is_digit((unsigned char)s[i])) {
        days = days * 10 + (s[i] - '0');
        i++;
    }
    if (i == 0 || i > 5) {
        return -1;
    }
    if (i < len) {
        if (s[i] != '.' || i + 1 == len) {
            return -1;
        }
        for (i++; i < len; i++) {
            if (!is_digit((unsigned char)s[i]) || scale < 1e-9) {
                return -1;
            }
            frac += (s[i] - '0') * scale;
            scale /= 10;
        }
    }
    if (days < 1 || days == 60) {
        return -1;
    }
    /* 1899-12-30 is day 0 from day 61 on; before the phantom day, 1899-12-31. */
    z = ds_tz_days_from_civil(1899, 12, days < 60 ? 31 : 30) + days;
    civil_from_days(z, &dt->y, &dt->mo, &dt->d);
    secs = (long)(frac * 86400.0 + 0.5);
    if (secs >= 86400) {
        secs = 86399;
    }
    dt->h = (int)(secs / 3600);
    dt->mi = (int)(secs / 60 % 60);
    dt->s = (int)(secs % 60);
    dt->has_time = frac > 0;
    return 0;
}

/* The number of leading digits of s[0..len). */
static size_t span_digits(const char *s, size_t len)
{
    size_t i = 0;

    while (i < len && is_digit((unsigned char)s[i])) {
        i++;
    }
    return i;
}

/* Trims ASCII white space and U+00A0. */
static void trim(const char **p, size_t *len)
{
    ds_norm_trim(p, len);
}

int ds_norm_parse_time(const char *in, size_t len, int *h, int *mi, int *s, const char **problem)
{
    size_t i = 0;
    long hh = 0;
    long mm = 0;
    long ss = 0;
    size_t nd = 0;
    int ampm = 0; /* 1 AM, 2 PM */

    trim(&in, &len);
    if (len == 0) {
        return DS_NORM_ABSENT;
    }
    while (i < len && is_digit((unsigned char)in[i]) && nd < 4) {
        hh = hh * 10 + (in[i] - '0');
        i++;
        nd++;
    }
    if (nd == 0 || (i < len && is_digit((unsigned char)in[i]))) {
        goto bad;
    }
    if (nd >= 3) {
        /* HMM or HHMM, 24-hour */
        mm = hh % 100;
        hh /= 100;
    }
    else if (i < len && (in[i] == ':' || in[i] == '.')) {
        char sep = in[i];
        size_t start;

        i++;
        start = i;
        while (i < len && is_digit((unsigned char)in[i]) && i - start < 2) {
            mm = mm * 10 + (in[i] - '0');
            i++;
        }
        if (i - start != 2) {
            goto bad;
        }
        if (i < len && in[i] == sep) {
            i++;
            start = i;
            while (i < len && is_digit((unsigned char)in[i]) && i - start < 2) {
                ss = ss * 10 + (in[i] - '0');
                i++;
            }
            if (i - start != 2) {
                goto bad;
            }
            if (i < len && (in[i] == '.' || in[i] == ',')) {
                /* fractions of a second: dropped */
                i++;
                start = i;
                while (i < len && is_digit((unsigned char)in[i]) && i - start < 9) {
                    i++;
                }
                if (i == start) {
                    goto bad;
                }
            }
        }
    }
    else if (i == len) {
        goto bad; /* a bare 1-2 digit number is not a time */
    }
    while (i < len && in[i] == ' ') {
        i++;
    }
    if (i < len) {
        unsigned char c = lower((unsigned char)in[i]);

        if (c != 'a' && c != 'p') {
            goto bad;
        }
        ampm = c == 'a' ? 1 : 2;
        i++;
        if (i < len && in[i] == '.') {
            i++;
        }
        if (i < len && lower((unsigned char)in[i]) == 'm') {
            i++;
            if (i < len && in[i] == '.') {
                i++;
            }
        }
        if (i != len) {
            goto bad;
        }
    }
    if (ampm != 0) {
        if (hh < 1 || hh > 12 || nd >= 3) {
            goto bad;
        }
        hh = hh % 12 + (ampm == 2 ? 12 : 0);
    }
    if (hh > 23 || mm > 59 || ss > 59) {
        goto bad;
    }
    *h = (int)hh;
    *mi = (int)mm;
    *s = (int)ss;
    return DS_NORM_PRESENT;
bad:
    *problem = "not a valid time of day";
    return DS_EINVAL;
}

/* Orders three numeric tokens into y, m, d by the order in force. */
static int numeric_ymd(const struct ds_norm_opts *o, const struct token *t, long *y, long *m,
                       long *d)
{
    enum ds_date_order order = o != NULL ? o->date_order : DS_DATE_AUTO;

    if (t[0].n == 4) {
        *y = t[0].v;
        *m = t[1].v;
        *d = t[2].v;
        return t[1].n <= 2 && t[2].n <= 2 ? 0 : -1;
    }
    if (t[0].n > 2 || t[1].n > 2) {
        return -1;
    }
    if (order == DS_DATE_YMD) {
        *y = year_of(o, &t[0]);
        *m = t[1].v;
        *d = t[2].v;
        return t[2].n <= 2 ? 0 : -1;
    }
    *y = year_of(o, &t[2]);
    if (order == DS_DATE_DMY) {
        *d = t[0].v;
        *m = t[1].v;
    }
    else {
        *m = t[0].v;
        *d = t[1].v;
    }
    return 0;
}

int ds_norm_parse_date(const struct ds_norm_opts *o, const char *in, size_t len,
                       struct ds_norm_dt *dt, const char **problem)
{
    struct token t[DATE_TOKENS_MAX];
    size_t end = 0;
    size_t sd;
    long y = -1;
    long m = -1;
    long d = -1;
    int n;
    int rc;

    memset(dt, 0, sizeof(*dt));
    trim(&in, &len);
    if (len == 0) {
        return DS_NORM_ABSENT;
    }
    sd = span_digits(in, len);
    /* Pure digits: YYYYMMDD or an Excel serial. */
    if (len == 8 && sd == 8) {
        memset(t, 0, sizeof(t));
        for (int k = 0; k < 8; k++) {
            long v = in[k] - '0';

            if (k < 4) {
                y = (y < 0 ? 0 : y) * 10 + v;
            }
            else if (k < 6) {
                m = (m < 0 ? 0 : m) * 10 + v;
            }
            else {
                d = (d < 0 ? 0 : d) * 10 + v;
            }
        }
        goto check;
    }
    if (sd >= 4 && sd <= 5 && (sd == len || in[sd] == '.')) {
        if (from_serial(in, len, dt) != 0) {
            goto bad;
        }
        y = dt->y;
        m = dt->mo;
        d = dt->d;
        if (y < 1800 || y > 2199) {
            goto bad;
        }
        return DS_NORM_PRESENT;
    }
    n = tokenize(in, len, t, &end);
    if (n != 3) {
        goto bad;
    }
    if (!t[0].digits || !t[1].digits || !t[2].digits) {
        /* Month names: Mon D Y, D Mon Y or Y Mon D. */
        if (!t[0].digits && t[1].digits && t[2].digits) {
            m = t[0].v;
            d = t[1].n <= 2 ? t[1].v : -1;
            y = year_of(o, &t[2]);
        }
        else if (t[0].digits && !t[1].digits && t[2].digits) {
            m = t[1].v;
            if (t[0].n == 4) {
                y = t[0].v;
                d = t[2].n <= 2 ? t[2].v : -1;
            }
            else {
                d = t[0].n <= 2 ? t[0].v : -1;
                y = year_of(o, &t[2]);
            }
        }
        else {
            goto bad;
        }
    }
    else if (numeric_ymd(o, t, &y, &m, &d) != 0) {
        goto bad;
    }
    /* A time may follow the date after 'T' or white space. */
    if (end < len) {
        size_t i = end;

        if (in[i] == 'T') {
            i++;
        }
        else if (in[i] == ' ') {
            while (i < len && in[i] == ' ') {
                i++;
            }
        }
        else {
            goto bad;
        }
        /* A trailing 'Z' or +00:00 is not accepted: instants with a zone
         * are the readers' business, and text times are local. */
        rc = ds_norm_parse_time(in + i, len - i, &dt->h, &dt->mi, &dt->s, problem);
        if (rc != DS_NORM_PRESENT) {
            goto bad;
        }
        dt->has_time = 1;
    }
check:
    if ((y == 1 && m == 1 && d == 1) || (y == 0 && m == 0 && d == 0) ||
        (y == 1899 && m == 12 && d == 30)) {
        memset(dt, 0, sizeof(*dt));
        return DS_NORM_ABSENT;
    }
    if (y < 1800 || y > 2199 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m)) {
        goto bad;
    }
    dt->y = (int)y;
    dt->mo = (int)m;
    dt->d = (int)d;
    return DS_NORM_PRESENT;
bad:
    memset(dt, 0, sizeof(*dt));
    *problem = "not a valid date";
    return DS_EINVAL;
}

/* Two digits of v (0-99) at t. */
static size_t put2(char *t, long v)
{
    t[0] = (char)('0' + v / 10);
    t[1] = (char)('0' + v % 10);
    return 2;
}

int ds__norm_put_date(struct ds_buf *out, long y, long m, long d, const int *hms)
{
    char t[6 * DS_FMT_INT_MAX];
    size_t n;

    if (y < 0 || y > 9999 || m < 0 || m > 99 || d < 0 || d > 99 ||
        (hms != NULL &&
         (hms[0] < 0 || hms[0] > 99 || hms[1] < 0 || hms[1] > 99 || hms[2] < 0 || hms[2] > 99))) {
        /* Out of the normalizers' ranges: printf's form, the slow way. */
        n = ds_fmt_int(t, y, 4);
        t[n++] = '-';
        n += ds_fmt_int(t + n, m, 2);
        t[n++] = '-';
        n += ds_fmt_int(t + n, d, 2);
        if (hms != NULL) {
            t[n++] = 'T';
            n += ds_fmt_int(t + n, hms[0], 2);
            t[n++] = ':';
            n += ds_fmt_int(t + n, hms[1], 2);
            t[n++] = ':';
            n += ds_fmt_int(t + n, hms[2], 2);
            t[n++] = 'Z';
        }
        return ds_buf_append(out, t, n);
    }
    n = put2(t, y / 100);
    n += put2(t + n, y % 100);
    t[n++] = '-';
    n += put2(t + n, m);
    t[n++] = '-';
    n += put2(t + n, d);
    if (hms != NULL) {
        t[n++] = 'T';
        n += put2(t + n, hms[0]);
        t[n++] = ':';
        n += put2(t + n, hms[1]);
        t[n++] = ':';
        n += put2(t + n, hms[2]);
        t[n++] = 'Z';
    }
    return ds_buf_append(out, t, n);
}

int ds_norm_date_opt(const struct ds_norm_opts *o, const char *in, size_t len, struct ds_buf *out,
                     const char **problem)
{
    struct ds_norm_dt dt;
    int rc = ds_norm_parse_date(o, in, len, &dt, problem);

    if (rc != DS_NORM_PRESENT) {
        return rc;
    }
    rc = ds__norm_put_date(out, dt.y, dt.mo, dt.d, NULL);
    return rc != 0 ? rc : DS_NORM_PRESENT;
}

int ds_norm_instant(const struct ds_norm_opts *o, const struct ds_norm_dt *dt, struct ds_buf *out,
                    const char **problem)
{
    int64_t local;
    int64_t utc;
    int64_t days;
    int y;
    int m;
    int d;
    int64_t secs;
    int rc;

    local =
        ds_tz_days_from_civil(dt->y, dt->mo, dt->d) * 86400 + dt->h * 3600 + dt->mi * 60 + dt->s;
    utc = local;
    if (o != NULL && o->tz != NULL) {
        rc = ds_tz_local_to_utc(o->tz, local, &utc, NULL);
        if (rc != 0) {
            *problem = "cannot be converted to UTC";
            return DS_EINVAL;
        }
    }
    days = utc >= 0 ? utc / 86400 : (utc - 86399) / 86400;
    civil_from_days(days, &y, &m, &d);
    secs = utc - days * 86400; /* days_from_civil of that date is days again */
    {
        const int hms[3] = {(int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60)};

        rc = ds__norm_put_date(out, y, m, d, hms);
    }
    return rc != 0 ? rc : DS_NORM_PRESENT;
}

int ds_norm_datetime(const struct ds_norm_opts *o, const char *in, size_t len, struct ds_buf *out,
                     const char **problem)
{
    struct ds_norm_dt dt;
    int rc = ds_norm_parse_date(o, in, len, &dt, problem);

    if (rc != DS_NORM_PRESENT) {
        return rc;
    }
    if (!dt.has_time) {
        *problem = "a date without a time of day";
        return DS_EINVAL;
    }
    return ds_norm_instant(o, &dt, out, problem);
}

int ds_norm_reader_instant(const struct ds_norm_opts *o, const char *in, size_t len,
                           struct ds_buf *out, const char **problem)
{
    struct ds_norm_opts utc = {0};
    struct ds_norm_dt dt;
    int rc;

    if (len == 20 && in[10] == 'T' && in[19] == 'Z') {
        /* Already UTC: the date and time are checked, not moved. */
        if (o != NULL) {
            utc = *o;
        }
        utc.tz = NULL;
        utc.date_order = DS_DATE_YMD;
        rc = ds_norm_parse_date(&utc, in, len - 1, &dt, problem);
        if (rc != DS_NORM_PRESENT) {
            return rc;
        }
        return ds_norm_instant(&utc, &dt, out, problem);
    }
    rc = ds_norm_parse_date(o, in, len, &dt, problem);
    if (rc != DS_NORM_PRESENT) {
        return rc;
    }
    return ds_norm_instant(o, &dt, out, problem);
}

int ds_norm_time(const struct ds_norm_opts *o, const char *in, size_t len, struct ds_buf *out,
                 const char **problem)
{
    int h = 0;
    int mi = 0;
    int s = 0;
    int rc;

    (void)o;
    rc = ds_norm_parse_time(in, len, &h, &mi, &s, problem);
    if (rc != DS_NORM_PRESENT) {
        return rc;
    }
    {
        char t[3 * DS_FMT_INT_MAX];
        size_t n = ds_fmt_int(t, h, 2);

        t[n++] = ':';
        n += ds_fmt_int(t + n, mi, 2);
        t[n++] = ':';
        n += ds_fmt_int(t + n, s, 2);
        rc = ds_buf_append(out, t, n);
    }
    return rc != 0 ? rc : DS_NORM_PRESENT;
}

void ds_norm_date_vote(struct ds_date_votes *v, const char *in, size_t len)
{
    struct token t[DATE_TOKENS_MAX];
    const char *space;
    size_t end = 0;

    trim(&in, &len);
    /* Three digits first (a year: "2024-03-02 09:15") make a first token
     * too long to vote, whatever follows: tokenizing it would count for
     * nothing. */
    if (len >= 3 && is_digit((unsigned char)in[0]) && is_digit((unsigned char)in[1]) &&
        is_digit((unsigned char)in[2])) {
        return;
    }
    /* A date-time votes with its date: "3/2/2024 9:15:00 AM". */
    space = len > 0 ? memchr(in, ' ', len) : NULL;
    if (space != NULL) {
        len = (size_t)(space - in);
    }
    if (len == 0 || tokenize(in, len, t, &end) != 3) {
        return;
    }
    if (!t[0].digits || !t[1].digits || !t[2].digits || t[0].n > 2 || t[1].n > 2 ||
        (t[2].n != 2 && t[2].n != 4)) {
        return;
    }
    if (t[0].v < 1 || t[1].v < 1 || t[0].v > 31 || t[1].v > 31) {
        return;
    }
    v->seen++;
    if (t[0].v > 12 && t[1].v <= 12) {
        v->dmy_only++;
    }
    else if (t[1].v > 12 && t[0].v <= 12) {
        v->mdy_only++;
    }
}

enum ds_date_order ds_norm_date_order_infer(const struct ds_date_votes *v)
{
    if (v->dmy_only > 0 && v->mdy_only == 0) {
        return DS_DATE_DMY;
    }
    return DS_DATE_MDY;
}
