/*
 * tz.c — a small TZif reader and local-to-UTC conversion (tz.h).
 *
 * A TZif file (RFC 8536) holds transition times, each selecting a local
 * time type (UTC offset, DST flag), and — from version 2 — a 64-bit copy
 * of the data plus a footer: a POSIX TZ string ("CST6CDT,M3.2.0,M11.1.0")
 * that rules the times after the last transition. We read the 64-bit
 * section when there is one, and evaluate the footer past the table. The
 * file is hostile input like any other: every count is bounded and checked
 * against the bytes there are.
 */
#include "agent/map/tz.h"

#include "agent/core/alloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TZ_MAX_BYTES (256 * 1024)
#define TZ_MAX_TRANSITIONS 4096
#define TZ_MAX_TYPES 256
#define TZ_NAME_MAX 128

/* One POSIX rule date: Jn (1-365, no leap day), n (0-365) or Mm.w.d. */
struct rule_date {
    char kind;    /* 'J', 'N' or 'M' */
    int n;        /* day for J and N */
    int m, w, d;  /* month, week (1-5, 5 = last), weekday (0 = Sunday) for M */
    int32_t time; /* seconds after local midnight (may be negative or > 24 h) */
};

struct posix_tz {
    int valid;   /* a usable footer */
    int32_t std; /* standard UTC offset, east positive */
    int32_t dst; /* daylight UTC offset */
    int has_dst; /* a daylight rule exists */
    struct rule_date start, end;
};

struct ds_tz {
    char name[TZ_NAME_MAX];
    size_t ntrans;      /* transitions */
    int64_t *trans;     /* owned: their UTC times, ascending */
    int32_t *trans_off; /* owned: the UTC offset from each transition on */
    int32_t first_off;  /* before the first transition */
    struct posix_tz footer;
};

/* ---- loading ------------------------------------------------------------- */

static int64_t be64(const unsigned char *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++) {
        v = (v << 8) | p[i];
    }
    return (int64_t)v;
}

static int32_t be32(const unsigned char *p)
{
    return (int32_t)(((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) |
                     (uint32_t)p[3]);
}

struct header {
    uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
};

static int read_header(const unsigned char *p, size_t len, struct header *h)
{
    if (len < 44 || memcmp(p, "TZif", 4) != 0) {
        return -1;
    }
    h->isutcnt = (uint32_t)be32(p + 20);
    h->isstdcnt = (uint32_t)be32(p + 24);
    h->leapcnt = (uint32_t)be32(p + 28);
    h->timecnt = (uint32_t)be32(p + 32);
    h->typecnt = (uint32_t)be32(p + 36);
    h->charcnt = (uint32_t)be32(p + 40);
    if (h->timecnt > TZ_MAX_TRANSITIONS || h->typecnt == 0 || h->typecnt > TZ_MAX_TYPES ||
        h->charcnt > 4096 || h->leapcnt > 1024 || h->isutcnt > TZ_MAX_TYPES ||
        h->isstdcnt > TZ_MAX_TYPES) {
        return -1;
    }
    return 0;
}

/* Size of the data block after a header with time values of tsize bytes. */
static size_t block_size(const struct header *h, size_t tsize)
{
    return h->timecnt * tsize + h->timecnt + h->typecnt * 6 + h->charcnt +
           h->leapcnt * (tsize + 4) + h->isstdcnt + h->isutcnt;
}

/* Reads a number of [+-]hh[:mm[:ss]] into seconds; POSIX offsets are west
 * positive, so the caller negates. Returns the characters used or 0. */
static size_t posix_hms(const char *s, int32_t *out, int maxh)
{
    size_t i = 0;
    int sign = 1;
    long part[3] = {0, 0, 0};
    int np = 0;

    if (s[i] == '+' || s[i] == '-') {
        sign = s[i] == '-' ? -1 : 1;
        i++;
    }
    while (np < 3) {
        size_t start = i;

        while (s[i] >= '0' && s[i] <= '9' && i - start < 3) {
            part[np] = part[np] * 10 + (s[i] - '0');
            i++;
        }
        if (i == start) {
            return 0;
        }
        np++;
        if (s[i] != ':') {
            break;
        }
        i++;
    }
    if (part[0] > maxh || part[1] > 59 || part[2] > 59) {
        return 0;
    }
    *out = (int32_t)(sign * (part[0] * 3600 + part[1] * 60 + part[2]));
    return i;
}

/* Skips a zone abbreviation: letters, or <...>. */
static size_t posix_name(const char *s)
{
    size_t i = 0;

    if (s[0] == '<') {
        while (s[i] != '\0' && s[i] != '>') {
            i++;
        }
        return s[i] == '>' && i >= 4 ? i + 1 : 0;
    }
    while ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')) {
        i++;
    }
    return i >= 3 ? i : 0;
}

static size_t posix_number(const char *s, int *v, int max)
{
    size_t i = 0;

    *v = 0;
    while (s[i] >= '0' && s[i] <= '9' && i < 4) {
        *v = *v * 10 + (s[i] - '0');
        i++;
    }
    return i > 0 && *v <= max ? i : 0;
}

static size_t posix_rule(const char *s, struct rule_date *r)
{
    size_t i = 0;
    size_t k;

    r->time = 7200;
    if (s[0] == 'M') {
        r->kind = 'M';
        i = 1;
        k = posix_number(s + i, &r->m, 12);
        if (k == 0 || r->m < 1 || s[i + k] != '.') {
            return 0;
        }
        i += k + 1;
        k = posix_number(s + i, &r->w, 5);
        if (k == 0 || r->w < 1 || s[i + k] != '.') {
            return 0;
        }
        i += k + 1;
        k = posix_number(s + i, &r->d, 6);
        if (k == 0) {
            return 0;
        }
        i += k;
    }
    else if (s[0] == 'J') {
        r->kind = 'J';
        k = posix_number(s + 1, &r->n, 365);
        if (k == 0 || r->n < 1) {
            return 0;
        }
        i = 1 + k;
    }
    else {
        r->kind = 'N';
        k = posix_number(s, &r->n, 365);
        if (k == 0) {
            return 0;
        }
        i = k;
    }
    if (s[i] == '/') {
        k = posix_hms(s + i + 1, &r->time, 167);
        if (k == 0) {
            return 0;
        }
        i += 1 + k;
    }
    return i;
}

/* Parses a NUL-terminated POSIX TZ string into p (p->valid on success). */
static void posix_parse(const char *s, struct posix_tz *p)
{
    size_t i;
    size_t k;
    int32_t off;

    memset(p, 0, sizeof(*p));
    i = posix_name(s);
    if (i == 0) {
        return;
    }
    k = posix_hms(s + i, &off, 24);
    if (k == 0) {
        return;
    }
    i += k;
    p->std = -off;
    if (s[i] == '\0') {
        p->valid = 1;
        return;
    }
    k = posix_name(s + i);
    if (k == 0) {
        return;
    }
    i += k;
    p->dst = p->std + 3600;
    if (s[i] != ',' && s[i] != '\0') {
        k = posix_hms(s + i, &off, 24);
        if (k == 0) {
            return;
        }
        i += k;
        p->dst = -off;
    }
    if (s[i] != ',') {
        return; /* a DST zone without rules: not supported, use the table only */
    }
    k = posix_rule(s + i + 1, &p->start);
    if (k == 0) {
        return;
    }
    i += 1 + k;
    if (s[i] != ',') {
        return;
    }
    k = posix_rule(s + i + 1, &p->end);
    if (k == 0 || s[i + 1 + k] != '\0') {
        return;
    }
    p->has_dst = 1;
    p->valid = 1;
}

int ds_tz_parse(const unsigned char *data, size_t len, const char *name, struct ds_tz **out)
{
    struct ds_tz *tz = NULL;
    struct header h;
    const unsigned char *p = data;
    const unsigned char *types;
    size_t tsize = 4;
    size_t need;
    int32_t offs[TZ_MAX_TYPES] = {0};
    uint8_t isdst[TZ_MAX_TYPES] = {0};
    int rc = DS_EPARSE;

    *out = NULL;
    if (data == NULL || len > TZ_MAX_BYTES || read_header(p, len, &h) != 0) {
        goto out;
    }
    need = 44 + block_size(&h, 4);
    if (need > len) {
        goto out;
    }
    if (p[4] >= '2') {
        /* Skip the 32-bit block and read the 64-bit one. */
        p += need;
        len -= need;
        if (read_header(p, len, &h) != 0) {
            goto out;
        }
        tsize = 8;
        need = 44 + block_size(&h, 8);
        if (need > len) {
            goto out;
        }
    }
    tz = ds_calloc(1, sizeof(*tz));
    if (tz == NULL) {
        rc = DS_ENOMEM;
        goto out;
    }
    snprintf(tz->name, sizeof(tz->name), "%s", name != NULL ? name : "");
    tz->ntrans = h.timecnt;
    tz->trans = ds_calloc(h.timecnt + 1, sizeof(*tz->trans));
    tz->trans_off = ds_calloc(h.timecnt + 1, sizeof(*tz->trans_off));
    if (tz->trans == NULL || tz->trans_off == NULL) {
        rc = DS_ENOMEM;
        goto out;
    }
    types = p + 44 + h.timecnt * tsize + h.timecnt;
    for (uint32_t i = 0; i < h.typecnt; i++) {
        offs[i] = be32(types + i * 6);
        isdst[i] = types[i * 6 + 4];
        if (offs[i] < -26 * 3600 || offs[i] > 26 * 3600) {
            goto out;
        }
    }
    for (uint32_t i = 0; i < h.timecnt; i++) {
        const unsigned char *t = p + 44 + i * tsize;
        uint8_t idx = p[44 + h.timecnt * tsize + i];

        tz->trans[i] = tsize == 8 ? be64(t) : be32(t);
        if (idx >= h.typecnt || (i > 0 && tz->trans[i] <= tz->trans[i - 1])) {
            goto out;
        }
        tz->trans_off[i] = offs[idx];
    }
    /* Before the first transition: the first standard-time type (RFC 8536
     * says type 0; they agree in practice). */
    tz->first_off = offs[0];
    for (uint32_t i = 0; i < h.typecnt; i++) {
        if (!isdst[i]) {
            tz->first_off = offs[i];
            break;
        }
    }
    if (tsize == 8 && len > need + 1 && p[need] == '\n') {
        char footer[128];
        size_t n = 0;

        for (size_t i = need + 1; i < len && p[i] != '\n' && n + 1 < sizeof(footer); i++) {
            footer[n++] = (char)p[i];
        }
        footer[n] = '\0';
        posix_parse(footer, &tz->footer);
    }
    *out = tz;
    tz = NULL;
    rc = 0;
out:
    ds_tz_free(&tz);
    return rc;
}

/* 1 if name is a plausible zone name: [A-Za-z0-9_+-] parts joined by '/',
 * no part starting with '.'. */
static int name_ok(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n >= TZ_NAME_MAX || name[0] == '/' || strstr(name, "..") != NULL) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = name[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '+' || c == '-' || c == '/' || c == '.')) {
            return 0;
        }
    }
    return 1;
}

int ds_tz_load(const char *name, struct ds_tz **out, struct ds_error *err)
{
    char path[512];
    unsigned char *data = NULL;
    FILE *f = NULL;
    size_t n;
    int rc = 0;

    *out = NULL;
    if (name == NULL || name[0] == '\0') {
        snprintf(path, sizeof(path), "/etc/localtime");
        name = "localtime";
    }
    else if (!name_ok(name)) {
        rc = ds_error_set(err, DS_EINVAL, "not a time zone name");
        goto out;
    }
    else {
        snprintf(path, sizeof(path), "%s/%s", DS_TZ_DIR, name);
    }
    f = fopen(path, "rbe");
    if (f == NULL) {
        rc = ds_error_set(err, errno == ENOENT ? DS_ENOTFOUND : DS_EIO,
                          "time zone %s: cannot open %s", name, path);
        goto out;
    }
    data = ds_malloc(TZ_MAX_BYTES);
    if (data == NULL) {
        rc = ds_error_set(err, DS_ENOMEM, "out of memory");
        goto out;
    }
    n = fread(data, 1, TZ_MAX_BYTES, f);
    rc = ds_tz_parse(data, n, name, out);
    if (rc != 0) {
        ds_error_set(err, rc, "time zone %s: %s is not a usable TZif file", name, path);
    }
out:
    if (f != NULL) {
        fclose(f);
    }
    ds_free(data);
    return rc;
}

void ds_tz_free(struct ds_tz **tz)
{
    if (tz == NULL || *tz == NULL) {
        return;
    }
    ds_free((*tz)->trans);
    ds_free((*tz)->trans_off);
    ds_free(*tz);
    *tz = NULL;
}

/* ---- conversion ---------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (tz.h). */
int64_t ds_tz_days_from_civil(int64_t y, int64_t m, int64_t d)
{
    int64_t era;
    int64_t yoe;
    int64_t doy;
    int64_t doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* The local time (seconds since the epoch on the local clock) at which a
 * rule date falls in year y. */
static int64_t rule_local(const struct rule_date *r, int64_t y)
{
    int64_t day;

    if (r->kind == 'J') {
        day = ds_tz_days_from_civil(y, 1, 1) + r->n - 1 + (is_leap(y) && r->n >= 60 ? 1 : 0);
    }
    else if (r->kind == 'N') {
        day = ds_tz_days_from_civil(y, 1, 1) + r->n;
    }
    else {
        static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        int64_t first = ds_tz_days_from_civil(y, r->m, 1);
        int wd = (int)((first % 7 + 7 + 4) % 7); /* 1970-01-01 was a Thursday */
        int64_t dim = mdays[r->m - 1] + (r->m == 2 && is_leap(y) ? 1 : 0);
        int64_t d = (r->d - wd + 7) % 7 + (int64_t)(r->w - 1) * 7;

        while (d >= dim) {
            d -= 7;
        }
        day = first + d;
    }
    return day * 86400 + r->time;
}

static int footer_offset(const struct posix_tz *p, int64_t utc)
{
    int64_t y;
    int64_t days = utc >= 0 ? utc / 86400 : (utc - 86399) / 86400;
    int64_t start;
    int64_t end;

    if (!p->has_dst) {
        return p->std;
    }
    /* The year of utc, close enough: rule dates are far from new year. */
    y = 1970 + days / 365;
    while (ds_tz_days_from_civil(y, 1, 1) > days) {
        y--;
    }
    while (ds_tz_days_from_civil(y + 1, 1, 1) <= days) {
        y++;
    }
    start = rule_local(&p->start, y) - p->std;
    end = rule_local(&p->end, y) - p->dst;
    if (start < end) {
        return utc >= start && utc < end ? p->dst : p->std;
    }
    return utc >= end && utc < start ? p->std : p->dst;
}

int ds_tz_offset_at(const struct ds_tz *tz, int64_t utc)
{
    size_t lo = 0;
    size_t hi;

    if (tz->ntrans == 0 || utc < tz->trans[0]) {
        if (tz->ntrans == 0 && tz->footer.valid) {
            return footer_offset(&tz->footer, utc);
        }
        return tz->first_off;
    }
    if (utc >= tz->trans[tz->ntrans - 1] && tz->footer.valid) {
        return footer_offset(&tz->footer, utc);
    }
    hi = tz->ntrans;
    /* the last transition <= utc */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;

        if (tz->trans[mid] <= utc) {
            lo = mid;
        }
        else {
            hi = mid;
        }
    }
    return tz->trans_off[lo];
}

int ds_tz_local_to_utc(const struct ds_tz *tz, int64_t local, int64_t *utc, int *kind)
{
    /* The offsets in force a day either side cover any single transition. */
    int before = ds_tz_offset_at(tz, local - 86400);
    int after = ds_tz_offset_at(tz, local + 86400);
    int ok_before = ds_tz_offset_at(tz, local - before) == before;
    int ok_after = ds_tz_offset_at(tz, local - after) == after;

    if (ok_before && ok_after && before != after) {
        /* Overlap: the first occurrence is the one with the larger offset. */
        *utc = local - (before > after ? before : after);
        if (kind != NULL) {
            *kind = DS_TZ_OVERLAP;
        }
        return 0;
    }
    if (ok_before || ok_after) {
        *utc = local - (ok_before ? before : after);
        if (kind != NULL) {
            *kind = DS_TZ_NORMAL;
        }
        return 0;
    }
    /* Gap: read with the offset before the change. */
    *utc = local - before;
    if (kind != NULL) {
        *kind = DS_TZ_GAP;
    }
    return 0;
}
