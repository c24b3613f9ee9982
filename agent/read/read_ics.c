/*
 * read_ics.c — the iCalendar (ICS) reader: each VEVENT is a row, on
 * libical.
 *
 * The calendar is not parsed as a whole (libical would build every event
 * in memory): the text source hands over UTF-8 lines, which are unfolded,
 * and the reader cuts the calendar into its components itself. VTIMEZONE
 * definitions are parsed and kept (capped in number and size) to resolve
 * TZID parameters; each VEVENT's text (capped) is parsed on its own with
 * libical when it is complete, turned into one row or, if it recurs, into
 * one row per occurrence in the window, and freed. VTODO, VJOURNAL and
 * other components are skipped with a notice.
 *
 * Row fields (the header is fixed): UID, RECURRENCE-ID (the occurrence's
 * original start for an expanded or overriding occurrence, else empty),
 * DTSTART, DTEND, SUMMARY, DESCRIPTION, LOCATION, STATUS, ORGANIZER and
 * ATTENDEE (every attendee, "; " between them; "mailto:" left out), then
 * three columns derived from them for the mapper: EVENT-ID (the UID, and
 * for an occurrence of a recurring event or a changed occurrence "/" and
 * its RECURRENCE-ID in the compact form 20240327T154500Z, so that each
 * occurrence is its own appointment and a change replaces the occurrence
 * it changes; when that is longer than 64 characters or not printable
 * ASCII, "ics-" and 32 hex digits of the UID's SHA-256 stand for the UID),
 * ATTENDEE-EMAIL (the first mailto: attendee who is not the organizer) and
 * ATTENDEE-TEL (the first tel: attendee, without "tel:"). Times
 * are ISO 8601: an all-day date as YYYY-MM-DD; a time in UTC or with a
 * TZID (from the calendar's VTIMEZONE, else the system's zone database)
 * converted to UTC as YYYY-MM-DDTHH:MM:SSZ; a floating time (no zone) as
 * local YYYY-MM-DDTHH:MM:SS, for the practice's time zone to apply. A
 * missing DTEND comes from DURATION when there is one.
 *
 * Recurrence is expanded to the occurrences that start from
 * window_days_back days ago up to window_days_ahead days ahead (365 each by
 * default), at most ICS_MAX_OCCURRENCES per event: the set is DTSTART and
 * the RRULE's occurrences merged in time order with the RDATEs (a time
 * both give comes once), less the EXDATEs; every recurring event gets a
 * notice with how many occurrences were returned and that the others lie
 * outside the window. An occurrence changed in the calendar comes as its
 * own VEVENT with the series' UID and a RECURRENCE-ID: that VEVENT is the
 * occurrence's one row, and the series leaves the occurrence out. As the
 * change may come before or after its series, the calendar is read twice:
 * a first pass only collects the UID and RECURRENCE-ID of each changed
 * occurrence (at most ICS_MAX_OVERRIDES, compared as UTC times), the second
 * one returns the rows. A RANGE=THISANDFUTURE change replaces only its own
 * occurrence.
 *
 * A VEVENT without a usable DTSTART, an unknown TZID, and text libical
 * could not parse are noticed; an event cut by the end of the file is an
 * error naming the line. A VEVENT over a cap is one row with ds_row.error,
 * and reading goes on after its END: a property longer than DS_READ_MAX_FIELD
 * (FIELD_TOO_LONG, with the fields before it), a line longer than
 * ICS_MAX_LINE (read to its end without keeping more; FIELD_TOO_LONG naming
 * the field when the property is one, else ROW_TOO_LARGE) or an event
 * longer than ICS_MAX_EVENT (ROW_TOO_LARGE); these two give no fields, as
 * libical never sees the event. A VTIMEZONE over a cap stops the file.
 */
#include "agent/read/read_int.h"

#include "agent/core/ascii.h"
#include "agent/core/alloc.h"
#include "agent/core/buf.h"
#include "agent/core/hash.h"
#include "agent/os/os_cc.h"
#include "agent/os/os_fs.h"

#include <libical/ical.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define ICS_BLOCK ((size_t)64 * 1024)            /* decoded bytes read at a time */
#define ICS_MAX_LINE ((size_t)1024 * 1024)       /* an unfolded line */
#define ICS_MAX_EVENT ((size_t)1024 * 1024)      /* the text of one VEVENT */
#define ICS_MAX_TZ_BYTES ((size_t)1024 * 1024)   /* all VTIMEZONE text together */
#define ICS_MAX_TZ 256                           /* VTIMEZONE components */
#define ICS_MAX_OCCURRENCES 5000                 /* occurrences of one recurring event */
#define ICS_ROW_MAX ((size_t)4 * 1024 * 1024)    /* bytes of one row's fields */
#define ICS_RAW_MAX ((size_t)64 * 1024)          /* bytes of the raw text kept */
#define ICS_NFIELDS 13                           /* fields of a row */
#define ICS_NREAD 10                             /* of them, read from the event as they are */
#define ICS_EXT_MAX 64                           /* an EVENT-ID kept as it is */
#define ICS_DEFAULT_DAYS 365                     /* the window either side of today */
#define ICS_MAX_OVERRIDES 65536                  /* changed occurrences remembered */
#define ICS_MAX_OVERRIDE_BYTES ((size_t)8 << 20) /* their keys together */

static const char *const ics_header[ICS_NFIELDS] = {
    "UID",    "RECURRENCE-ID", "DTSTART",  "DTEND",    "SUMMARY",        "DESCRIPTION",  "LOCATION",
    "STATUS", "ORGANIZER",     "ATTENDEE", "EVENT-ID", "ATTENDEE-EMAIL", "ATTENDEE-TEL",
};

struct ics_reader {
    struct ds_reader *r;           /* borrow: for the dialect and notices */
    struct ds__read_src *src;      /* owned: the decoded text */
    char *path;                    /* owned: for error reports */
    unsigned char *block;          /* owned: ICS_BLOCK decoded bytes */
    size_t blen;                   /* bytes in block */
    size_t bpos;                   /* next byte */
    int eof;                       /* the source has no more */
    long next_line;                /* physical line of the next byte */
    struct ds_buf line;            /* the current unfolded line */
    int line_over;                 /* it was longer than ICS_MAX_LINE: cut */
    int peek_over;                 /* the same for peek */
    int event_over;                /* the collected component was cut at a cap */
    size_t over_field;             /* the row field of the line that cut it, or 0 */
    int cut_ready;                 /* next_event has a cut VEVENT as the next row */
    int row_err;                   /* enum ds_read_row_error of the row being returned */
    size_t row_err_field;          /* its field */
    char row_err_msg[96];          /* its message */
    long line_no;                  /* physical line where it starts */
    int have_peek;                 /* peek holds the next physical line */
    struct ds_buf peek;            /* the physical line after the current one */
    long peek_no;                  /* its line */
    struct ds_buf event;           /* text of the component being collected */
    long event_line;               /* line of its BEGIN */
    icalcomponent *zones;          /* owned: a VCALENDAR holding the VTIMEZONEs */
    size_t ntz;                    /* VTIMEZONEs kept */
    size_t tz_bytes;               /* their text together */
    icalcomponent *cur;            /* owned: the event being expanded, or NULL */
    icalrecur_iterator *it;        /* owned: its recurrence iterator */
    int recurs;                    /* it has an RRULE or RDATE (and is no override) */
    int rr_have;                   /* rr_next holds the rule's next occurrence */
    int rr_done;                   /* the rule (or the lone DTSTART) has no more */
    struct icaltimetype rr_next;   /* the rule's next occurrence */
    struct icaltimetype *rdates;   /* owned: its RDATEs, sorted */
    size_t nrdates;                /* how many */
    size_t rdate_pos;              /* the next one to merge */
    int scanning;                  /* the first pass: only overrides are looked at */
    struct ds_buf ovr;             /* "UID\tRECURRENCE-ID" of each override, NUL after each */
    size_t *ovr_off;               /* owned: where each key starts, sorted after the scan */
    size_t novr;                   /* keys */
    int ovr_full;                  /* more overrides than could be kept */
    struct icaltimetype start;     /* its DTSTART (with zone) */
    struct icaldurationtype dur;   /* DTEND - DTSTART */
    int has_end;                   /* it has an end */
    long occ;                      /* occurrences returned for it */
    long cur_line;                 /* line of its BEGIN:VEVENT */
    struct icaltimetype from;      /* the window's first day */
    struct icaltimetype until;     /* the window's last day */
    size_t n;                      /* fields of the row */
    struct ds_buf cells;           /* the row's fields */
    struct ds_buf raw;             /* the event's text, capped */
    size_t offs[ICS_NFIELDS];      /* field offsets */
    size_t lens[ICS_NFIELDS];      /* field lengths */
    const char *ptrs[ICS_NFIELDS]; /* field pointers of the returned row */
    size_t hlens[ICS_NFIELDS];     /* header field lengths */
    long nrows;                    /* rows returned */
    int failed;                    /* the error that stopped reading, or 0 */
};

static int ics_next(void *impl, struct ds_row *row, struct ds_error *err);
static void ics_close(void *impl);

static void ics_notice(struct ics_reader *c, int kind, long line, long row, const char *fmt, ...)
    DS_PRINTF(5, 6);

/* A notice, except in the first pass (the second one says it again). */
static void ics_notice(struct ics_reader *c, int kind, long line, long row, const char *fmt, ...)
{
    char msg[128];
    va_list ap;

    if (c->scanning) {
        return;
    }
    va_start(ap, fmt);
    /* A false positive of the analyzer (va_start is right above). NOLINTNEXTLINE */
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ds__read_notice(c->r, kind, line, row, "%s", msg);
}

static const struct ds__read_ops ics_ops = {
    .next = ics_next,
    .close = ics_close,
};

/* ------------------------------------------------------------------------ */
/* Lines                                                                    */

/* Reads the next physical line (without its CR/LF) into b. 1, 0 at the
 * end, or an error. */
static int phys_line(struct ics_reader *c, struct ds_buf *b, int *over, long *no,
                     struct ds_error *err)
{
    int any = 0;
    int rc;

    ds_buf_reset(b);
    *over = 0;
    *no = c->next_line;
    for (;;) {
        const unsigned char *p;
        const unsigned char *nl;
        size_t n;

        if (c->bpos == c->blen) {
            ssize_t k;

            if (c->eof) {
                return any ? 1 : 0;
            }
            k = ds__read_src_read(c->src, c->block, ICS_BLOCK);
            if (k < 0) {
                return ds__read_fail(err, (int)k, c->path, c->nrows + 1, NULL,
                                     "%s at line %ld (byte offset %lld)", ds__read_src_what(c->src),
                                     c->next_line, ds__read_src_offset(c->src));
            }
            c->blen = (size_t)k;
            c->bpos = 0;
            c->eof = k == 0;
            continue;
        }
        any = 1;
        p = c->block + c->bpos;
        n = c->blen - c->bpos;
        nl = memchr(p, '\n', n);
        if (nl != NULL) {
            n = (size_t)(nl - p);
        }
        rc = *over ? 0 : ds_buf_append(b, p, n);
        if (rc == DS_ETOOBIG) {
            *over = 1; /* the rest of the line is read, not kept */
        }
        else if (rc != 0) {
            return ds__read_fail(err, rc, c->path, c->nrows + 1, NULL, "out of memory");
        }
        c->bpos += n;
        if (nl != NULL) {
            c->bpos++;
            c->next_line++;
            if (b->len > 0 && b->data[b->len - 1] == '\r') {
                b->data[--b->len] = '\0';
            }
            return 1;
        }
    }
}

/* The next unfolded content line into c->line. 1, 0 at the end, or error.
 * A line longer than ICS_MAX_LINE is read to its end and kept cut, with
 * line_over set. */
static int next_line(struct ics_reader *c, struct ds_error *err)
{
    int rc;

    if (!c->have_peek) {
        rc = phys_line(c, &c->peek, &c->peek_over, &c->peek_no, err);
        if (rc <= 0) {
            return rc;
        }
    }
    c->have_peek = 0;
    ds_buf_reset(&c->line);
    c->line_over = c->peek_over;
    rc = ds_buf_append(&c->line, c->peek.data != NULL ? c->peek.data : "", c->peek.len);
    c->line_no = c->peek_no;
    for (;;) {
        if (rc == DS_ETOOBIG) {
            c->line_over = 1;
        }
        else if (rc != 0) {
            return ds__read_fail(err, rc, c->path, c->nrows + 1, NULL, "out of memory");
        }
        rc = phys_line(c, &c->peek, &c->peek_over, &c->peek_no, err);
        if (rc < 0) {
            return rc;
        }
        if (rc == 0) {
            return 1;
        }
        if (c->peek.len == 0 || (c->peek.data[0] != ' ' && c->peek.data[0] != '\t')) {
            c->have_peek = 1;
            return 1;
        }
        c->line_over |= c->peek_over;
        rc = c->line_over ? 0 : ds_buf_append(&c->line, c->peek.data + 1, c->peek.len - 1);
    }
}

/* "BEGIN:NAME" / "END:NAME" (case-insensitive): the name, or NULL. */
static const char *marker(const struct ds_buf *line, const char *what)
{
    size_t k = strlen(what);

    if (line->len > k && strncasecmp(line->data, what, k) == 0) {
        return line->data + k;
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Values                                                                   */

static int put_field(struct ics_reader *c, const char *s)
{
    size_t len = s != NULL ? strlen(s) : 0;
    int rc;

    if (len > (size_t)DS_READ_MAX_FIELD) {
        return DS_ETOOBIG;
    }
    c->offs[c->n] = c->cells.len;
    c->lens[c->n] = len;
    rc = ds_buf_append(&c->cells, s != NULL ? s : "", len);
    if (rc == 0) {
        rc = ds_buf_append(&c->cells, "", 1);
    }
    if (rc == 0) {
        c->n++;
    }
    return rc;
}

/* A time as ISO text (see the top of the file) into out. */
static void iso_time(struct icaltimetype t, char *out, size_t size)
{
    if (icaltime_is_null_time(t)) {
        out[0] = '\0';
        return;
    }
    if (t.is_date) {
        snprintf(out, size, "%04d-%02d-%02d", t.year, t.month, t.day);
        return;
    }
    if (icaltime_get_timezone(t) != NULL) {
        t = icaltime_convert_to_zone(t, icaltimezone_get_utc_timezone());
        snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02dZ", t.year, t.month, t.day, t.hour,
                 t.minute, t.second);
        return;
    }
    snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d", t.year, t.month, t.day, t.hour, t.minute,
             t.second);
}

void ds_read_setup(void)
{
    const char *dir = ds_os_zoneinfo_dir();

    if (dir != NULL) {
        set_zone_directory(dir); /* libical 3.0 names it so */
    }
}

/* The property's time with its TZID resolved. *unknown is set when the
 * TZID names no zone this reader knows. */
static struct icaltimetype prop_time(struct ics_reader *c, icalproperty *p, int *unknown)
{
    struct icaltimetype t = icalproperty_get_dtstart(p);
    const char *tzid = icalproperty_get_parameter_as_string(p, "TZID");
    icaltimezone *z;

    switch (icalproperty_isa(p)) {
    case ICAL_DTEND_PROPERTY:
        t = icalproperty_get_dtend(p);
        break;
    case ICAL_RECURRENCEID_PROPERTY:
        t = icalproperty_get_recurrenceid(p);
        break;
    case ICAL_EXDATE_PROPERTY:
        t = icalproperty_get_exdate(p);
        break;
    case ICAL_RDATE_PROPERTY: {
        struct icaldatetimeperiodtype dp = icalproperty_get_rdate(p);

        t = !icaltime_is_null_time(dp.time) ? dp.time : dp.period.start;
        break;
    }
    default:
        break;
    }
    if (tzid == NULL || t.is_date || icaltime_is_utc(t)) {
        return t;
    }
    z = icalcomponent_get_timezone(c->zones, tzid);
    if (z == NULL) {
        z = icaltimezone_get_builtin_timezone(tzid);
    }
    if (z == NULL) {
        *unknown = 1;
        return t;
    }
    return icaltime_set_timezone(&t, z);
}

/* Fills the row's fields for the occurrence starting at start. */
/* Marks the row being made as cut at a cap. */
static void row_cut(struct ics_reader *c, int error, size_t field)
{
    c->row_err = error;
    c->row_err_field = field;
    ds__read_row_msg(c->row_err_msg, sizeof(c->row_err_msg), error, field, ICS_ROW_MAX);
}

/* EVENT-ID (see the top of the file) of the event uid's occurrence whose
 * RECURRENCE-ID is rid (ISO text, "" when it has none) into out. */
static int event_id(const char *uid, const char *rid, char *out, size_t size)
{
    char compact[48];
    size_t k = 0;
    int plain = 1;
    int rc;

    for (const char *p = rid; *p != '\0' && k + 1 < sizeof(compact); p++) {
        if (*p != '-' && *p != ':') {
            compact[k++] = *p;
        }
    }
    compact[k] = '\0';
    for (const unsigned char *p = (const unsigned char *)uid; *p != '\0'; p++) {
        plain &= *p > 0x20 && *p < 0x7f;
    }
    if (plain && strlen(uid) + (k > 0 ? k + 1 : 0) <= ICS_EXT_MAX) {
        snprintf(out, size, "%s%s%s", uid, k > 0 ? "/" : "", compact);
        return 0;
    }
    {
        char hex[DS_SHA256_HEX];

        rc = ds_sha256_hex(uid, strlen(uid), hex);
        if (rc != 0) {
            return rc;
        }
        snprintf(out, size, "ics-%.32s%s%s", hex, k > 0 ? "/" : "", compact);
    }
    return 0;
}

/* Fills the row of the current event's occurrence; a field over the cap
 * cuts the row (row_err) before it. 0 or DS_ENOMEM. */
static int fill_row(struct ics_reader *c, struct icaltimetype start, struct icaltimetype end,
                    struct icaltimetype rid)
{
    icalcomponent *e = c->cur;
    struct ds_buf att;
    icalproperty *p;
    char ts[3][48];
    const char *vals[ICS_NFIELDS];
    const char *org = NULL;
    const char *email = NULL;
    const char *tel = NULL;
    char eid[ICS_EXT_MAX + 48];
    int att_over = 0;
    int rc = 0;

    c->n = 0;
    c->row_err = 0;
    ds_buf_reset(&c->cells);
    ds_buf_init(&att, (size_t)DS_READ_MAX_FIELD);
    iso_time(start, ts[0], sizeof(ts[0]));
    iso_time(end, ts[1], sizeof(ts[1]));
    iso_time(rid, ts[2], sizeof(ts[2]));
    p = icalcomponent_get_first_property(e, ICAL_ORGANIZER_PROPERTY);
    if (p != NULL) {
        org = icalproperty_get_organizer(p);
    }
    if (org != NULL && strncasecmp(org, "mailto:", 7) == 0) {
        org += 7;
    }
    for (p = icalcomponent_get_first_property(e, ICAL_ATTENDEE_PROPERTY); p != NULL && rc == 0;
         p = icalcomponent_get_next_property(e, ICAL_ATTENDEE_PROPERTY)) {
        const char *a = icalproperty_get_attendee(p);

        if (a == NULL) {
            continue;
        }
        if (strncasecmp(a, "mailto:", 7) == 0) {
            a += 7;
            if (email == NULL && (org == NULL || strcasecmp(a, org) != 0)) {
                email = a;
            }
        }
        else if (tel == NULL && strncasecmp(a, "tel:", 4) == 0) {
            tel = a + 4;
        }
        rc = ds_buf_printf(&att, "%s%s", att.len > 0 ? "; " : "", a);
    }
    if (rc == DS_ETOOBIG) {
        att_over = 1;
        rc = 0;
    }
    if (rc != 0) {
        goto out;
    }
    p = icalcomponent_get_first_property(e, ICAL_STATUS_PROPERTY);
    vals[0] = icalcomponent_get_uid(e);
    vals[1] = ts[2];
    vals[2] = ts[0];
    vals[3] = ts[1];
    vals[4] = icalcomponent_get_summary(e);
    vals[5] = icalcomponent_get_description(e);
    vals[6] = icalcomponent_get_location(e);
    vals[7] = p != NULL ? icalproperty_get_value_as_string(p) : "";
    vals[8] = org;
    vals[9] = att.data;
    vals[10] = "";
    if (vals[0] != NULL && vals[0][0] != '\0') {
        rc = event_id(vals[0], ts[2], eid, sizeof(eid));
        if (rc != 0) {
            goto out;
        }
        vals[10] = eid;
    }
    vals[11] = email;
    vals[12] = tel;
    for (size_t i = 0; i < ICS_NFIELDS; i++) {
        if ((i == ICS_NREAD - 1 && att_over) ||
            (vals[i] != NULL && strlen(vals[i]) > (size_t)DS_READ_MAX_FIELD)) {
            row_cut(c, DS_READ_ROW_FIELD_TOO_LONG, i + 1);
            break;
        }
        rc = put_field(c, vals[i]);
        if (rc == DS_ETOOBIG) {
            row_cut(c, DS_READ_ROW_TOO_LARGE, i + 1);
            rc = 0;
            break;
        }
        if (rc != 0) {
            break;
        }
    }
out:
    ds_buf_close(&att);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Events                                                                   */

static void drop_event(struct ics_reader *c)
{
    if (c->it != NULL) {
        icalrecur_iterator_free(c->it);
        c->it = NULL;
    }
    ds_free(c->rdates);
    c->rdates = NULL;
    c->nrdates = 0;
    c->rdate_pos = 0;
    c->recurs = 0;
    c->rr_have = 0;
    c->rr_done = 0;
    if (c->cur != NULL) {
        icalcomponent_free(c->cur);
        c->cur = NULL;
    }
}

/* The key of an occurrence: "UID\tRECURRENCE-ID" (the time as ISO). */
static void occurrence_key(const char *uid, struct icaltimetype t, char *out, size_t size)
{
    char ts[48];

    iso_time(t, ts, sizeof(ts));
    snprintf(out, size, "%s\t%s", uid, ts);
}

/* First pass: remembers the occurrence the VEVENT e (with a
 * RECURRENCE-ID) changes, so that its series leaves it out. */
static void remember_override(struct ics_reader *c, icalcomponent *e)
{
    icalproperty *p = icalcomponent_get_first_property(e, ICAL_RECURRENCEID_PROPERTY);
    const char *uid = icalcomponent_get_uid(e);
    char key[1024];
    size_t at = c->ovr.len;
    int unknown = 0;

    if (p == NULL || uid == NULL || uid[0] == '\0') {
        return;
    }
    occurrence_key(uid, prop_time(c, p, &unknown), key, sizeof(key));
    if (c->novr >= ICS_MAX_OVERRIDES || ds_buf_append(&c->ovr, key, strlen(key) + 1) != 0) {
        c->ovr_full = 1;
        return;
    }
    c->ovr_off[c->novr++] = at;
}

/* Moves off[i] down the max-heap of the n first offsets, ordered by the
 * keys they point at in base. */
static void ovr_sift(size_t *off, size_t n, size_t i, const char *base)
{
    for (;;) {
        size_t big = i;
        size_t l = 2 * i + 1;
        size_t r = l + 1;
        size_t t;

        if (l < n && strcmp(base + off[l], base + off[big]) > 0) {
            big = l;
        }
        if (r < n && strcmp(base + off[r], base + off[big]) > 0) {
            big = r;
        }
        if (big == i) {
            return;
        }
        t = off[i];
        off[i] = off[big];
        off[big] = t;
        i = big;
    }
}

/* Sorts n key offsets into base by their keys: a heap sort, in place and
 * without a comparator context (qsort_r is not in every C library). */
static void ovr_sort(size_t *off, size_t n, const char *base)
{
    size_t t;

    for (size_t i = n / 2; i-- > 0;) {
        ovr_sift(off, n, i, base);
    }
    while (n > 1) {
        n--;
        t = off[0];
        off[0] = off[n];
        off[n] = t;
        ovr_sift(off, n, 0, base);
    }
}

/* Is the occurrence of the current event at t changed by another VEVENT? */
static int overridden(struct ics_reader *c, struct icaltimetype t)
{
    const char *uid = icalcomponent_get_uid(c->cur);
    char key[1024];
    size_t lo = 0;
    size_t hi = c->novr;

    if (c->novr == 0 || uid == NULL) {
        return 0;
    }
    occurrence_key(uid, t, key, sizeof(key));
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = strcmp(key, c->ovr.data + c->ovr_off[mid]);

        if (cmp == 0) {
            return 1;
        }
        if (cmp < 0) {
            hi = mid;
        }
        else {
            lo = mid + 1;
        }
    }
    return 0;
}

/* Is t one of the event's EXDATEs? */
static int excluded(struct ics_reader *c, struct icaltimetype t)
{
    for (icalproperty *p = icalcomponent_get_first_property(c->cur, ICAL_EXDATE_PROPERTY);
         p != NULL; p = icalcomponent_get_next_property(c->cur, ICAL_EXDATE_PROPERTY)) {
        int unknown = 0;
        struct icaltimetype x = prop_time(c, p, &unknown);

        if ((x.is_date || t.is_date) ? icaltime_compare_date_only(x, t) == 0
                                     : icaltime_compare(x, t) == 0) {
            return 1;
        }
    }
    return 0;
}

static int rdate_cmp(const void *a, const void *b)
{
    return icaltime_compare(*(const struct icaltimetype *)a, *(const struct icaltimetype *)b);
}

/* Collects the current event's RDATEs, sorted, into c->rdates. Returns 1
 * when some were left out (over the limit or out of memory), else 0. */
static int take_rdates(struct ics_reader *c)
{
    size_t cap = 0;
    int cut = 0;

    for (icalproperty *p = icalcomponent_get_first_property(c->cur, ICAL_RDATE_PROPERTY); p != NULL;
         p = icalcomponent_get_next_property(c->cur, ICAL_RDATE_PROPERTY)) {
        int unknown = 0;
        struct icaltimetype t = prop_time(c, p, &unknown);

        if (icaltime_is_null_time(t) || !icaltime_is_valid_time(t)) {
            continue;
        }
        if (c->nrdates == cap) {
            struct icaltimetype *more;

            if (cap >= ICS_MAX_OCCURRENCES) {
                cut = 1;
                break;
            }
            cap = cap == 0 ? 16 : cap * 2;
            more = ds_realloc(c->rdates, cap * sizeof(*more));
            if (more == NULL) {
                cut = 1;
                break;
            }
            c->rdates = more;
        }
        c->rdates[c->nrdates++] = t;
    }
    if (c->nrdates > 1) {
        qsort(c->rdates, c->nrdates, sizeof(*c->rdates), rdate_cmp);
    }
    return cut;
}

/* Takes the parsed VEVENT e (steals it): sets up c->cur, and the iterator
 * when it recurs. 1 when it yields rows, 0 when it was skipped. */
static int take_event(struct ics_reader *c, icalcomponent *e)
{
    icalproperty *ps = icalcomponent_get_first_property(e, ICAL_DTSTART_PROPERTY);
    icalproperty *pe = icalcomponent_get_first_property(e, ICAL_DTEND_PROPERTY);
    icalproperty *rr = icalcomponent_get_first_property(e, ICAL_RRULE_PROPERTY);
    int unknown = 0;
    struct icaltimetype end;

    if (c->scanning) {
        remember_override(c, e);
        icalcomponent_free(e);
        return 0;
    }
    c->cur = e;
    c->occ = 0;
    c->cur_line = c->event_line;
    if (ps == NULL) {
        ics_notice(c, DS_READ_NOTICE_SKIPPED, c->cur_line, 0, "VEVENT without DTSTART skipped");
        drop_event(c);
        return 0;
    }
    c->start = prop_time(c, ps, &unknown);
    if (icaltime_is_null_time(c->start) || !icaltime_is_valid_time(c->start)) {
        ics_notice(c, DS_READ_NOTICE_SKIPPED, c->cur_line, 0,
                   "VEVENT with an unreadable DTSTART skipped");
        drop_event(c);
        return 0;
    }
    c->has_end = 0;
    if (pe != NULL) {
        end = prop_time(c, pe, &unknown);
        c->has_end = !icaltime_is_null_time(end);
        if (c->has_end) {
            c->dur = icaltime_subtract(end, c->start);
        }
    }
    else if (icalcomponent_get_first_property(e, ICAL_DURATION_PROPERTY) != NULL) {
        c->dur = icalcomponent_get_duration(e);
        c->has_end = !icaldurationtype_is_bad_duration(c->dur);
    }
    if (unknown) {
        ics_notice(c, DS_READ_NOTICE_SKIPPED, c->cur_line, 0,
                   "unknown TZID: times of this VEVENT kept as local times");
    }
    if (icalcomponent_count_errors(e) > 0) {
        ics_notice(c, DS_READ_NOTICE_SKIPPED, c->cur_line, 0,
                   "VEVENT has properties libical could not parse (left out)");
    }
    if (icalcomponent_get_first_property(e, ICAL_RECURRENCEID_PROPERTY) != NULL) {
        return 1; /* a changed occurrence: one row, whatever else it carries */
    }
    c->recurs = rr != NULL || icalcomponent_get_first_property(e, ICAL_RDATE_PROPERTY) != NULL;
    if (take_rdates(c) != 0) {
        ics_notice(c, DS_READ_NOTICE_SKIPPED, c->cur_line, 0,
                   "RDATE: more dates than the limit, the rest left out");
    }
    if (rr != NULL) {
        struct icalrecurrencetype rule = icalproperty_get_rrule(rr);

        c->it = icalrecur_iterator_new(rule, c->start);
        if (c->it == NULL) {
            ics_notice(c, DS_READ_NOTICE_SKIPPED, c->cur_line, 0,
                       "RRULE cannot be expanded: only the first occurrence returned");
        }
        else if (rule.count == 0 && icaltime_compare(c->start, c->from) < 0) {
            struct icaltimetype from = c->from;

            from.is_date = c->start.is_date;
            if (!c->start.is_date) {
                from.hour = c->start.hour;
                from.minute = c->start.minute;
                from.second = c->start.second;
                from.zone = c->start.zone;
            }
            (void)icalrecur_iterator_set_start(c->it, from);
        }
    }
    return 1;
}

/* The next start of the recurrence set: the earlier of the rule's next
 * occurrence (DTSTART alone when there is no RRULE) and the next RDATE,
 * a time both give once. A null time at the end. */
static struct icaltimetype next_candidate(struct ics_reader *c)
{
    struct icaltimetype t;
    int cmp;

    if (!c->rr_have && !c->rr_done) {
        if (c->it != NULL) {
            c->rr_next = icalrecur_iterator_next(c->it);
        }
        else {
            c->rr_next = c->start;
        }
        c->rr_have = !icaltime_is_null_time(c->rr_next);
        c->rr_done = !c->rr_have || c->it == NULL;
    }
    if (!c->rr_have && c->rdate_pos >= c->nrdates) {
        return icaltime_null_time();
    }
    if (!c->rr_have) {
        return c->rdates[c->rdate_pos++];
    }
    if (c->rdate_pos >= c->nrdates) {
        c->rr_have = 0;
        return c->rr_next;
    }
    cmp = icaltime_compare(c->rr_next, c->rdates[c->rdate_pos]);
    if (cmp < 0) {
        c->rr_have = 0;
        return c->rr_next;
    }
    t = c->rdates[c->rdate_pos++];
    if (cmp == 0) {
        c->rr_have = 0;
    }
    return t;
}

/* The next occurrence of the current event into the row. 1, or 0 when the
 * event has no more. */
static int next_occurrence(struct ics_reader *c, struct ds_error *err)
{
    struct icaltimetype t;
    struct icaltimetype none = icaltime_null_time();
    struct icaltimetype rid = none;
    icalproperty *p;
    int unknown = 0;
    int rc;

    if (!c->recurs) {
        if (c->occ > 0) {
            return 0;
        }
        t = c->start;
        p = icalcomponent_get_first_property(c->cur, ICAL_RECURRENCEID_PROPERTY);
        if (p != NULL) {
            rid = prop_time(c, p, &unknown);
        }
    }
    else {
        for (;;) {
            t = next_candidate(c);
            if (icaltime_is_null_time(t) || icaltime_compare_date_only(t, c->until) > 0 ||
                c->occ >= ICS_MAX_OCCURRENCES) {
                ics_notice(c, DS_READ_NOTICE_SKIPPED, c->cur_line, 0,
                           "recurring event: %ld occurrence(s) in the window returned, %s", c->occ,
                           c->occ >= ICS_MAX_OCCURRENCES ? "more cut at the limit"
                                                         : "others lie outside it");
                return 0;
            }
            if (icaltime_compare_date_only(t, c->from) < 0 || excluded(c, t) || overridden(c, t)) {
                continue;
            }
            break;
        }
        rid = t;
    }
    rc = fill_row(c, t, c->has_end ? icaltime_add(t, c->dur) : none, rid);
    if (rc != 0) {
        return ds__read_fail(err, rc, c->path, c->nrows + 1, NULL, "out of memory");
    }
    c->occ++;
    return 1;
}

/* The row field (1-based) of the property on the line, or 0. */
static size_t line_field(const struct ds_buf *line)
{
    size_t k = 0;

    while (k < line->len && line->data[k] != ':' && line->data[k] != ';') {
        k++;
    }
    for (size_t i = 0; i < ICS_NREAD; i++) {
        if (strlen(ics_header[i]) == k && strncasecmp(line->data, ics_header[i], k) == 0) {
            return i + 1;
        }
    }
    return 0;
}

/* Collects the component that begins at the current line up to its END
 * into c->event. With cut set, a line or component over its cap sets
 * event_over (and over_field) and the rest of the component is read up to
 * its END without being kept; without it, that is an error. */
static int collect(struct ics_reader *c, const char *name, size_t cap, int cut,
                   struct ds_error *err)
{
    size_t nlen = strlen(name);
    int depth = 0;
    int rc;

    ds_buf_reset(&c->event);
    c->event_line = c->line_no;
    c->event_over = 0;
    c->over_field = 0;
    for (;;) {
        const char *m;

        if (!c->event_over && (c->line_over || c->event.len + c->line.len + 2 > cap)) {
            if (!cut && c->line_over) {
                return ds__read_fail(err, DS_ETOOBIG, c->path, c->nrows + 1, NULL,
                                     "line %ld is longer than the limit", c->line_no);
            }
            if (!cut) {
                return ds__read_fail(err, DS_ETOOBIG, c->path, c->nrows + 1, NULL,
                                     "the %s starting at line %ld is larger than the limit", name,
                                     c->event_line);
            }
            c->event_over = 1;
            c->over_field = c->line_over ? line_field(&c->line) : 0;
        }
        if (!c->event_over) {
            rc = ds_buf_append(&c->event, c->line.data, c->line.len);
            if (rc == 0) {
                rc = ds_buf_append(&c->event, "\r\n", 2);
            }
            if (rc != 0) {
                return ds__read_fail(err, rc, c->path, c->nrows + 1, NULL, "out of memory");
            }
        }
        if (marker(&c->line, "BEGIN:") != NULL) {
            depth++;
        }
        m = marker(&c->line, "END:");
        if (m != NULL) {
            depth--;
            if (depth == 0) {
                if (strncasecmp(m, name, nlen) != 0) {
                    return ds__read_fail(err, DS_EPARSE, c->path, c->nrows + 1, NULL,
                                         "END at line %ld does not close the %s of line %ld",
                                         c->line_no, name, c->event_line);
                }
                return 0;
            }
        }
        rc = next_line(c, err);
        if (rc < 0) {
            return rc;
        }
        if (rc == 0) {
            return ds__read_fail(err, DS_EPARSE, c->path, c->nrows + 1, NULL,
                                 "the file ends inside the %s that starts at line %ld", name,
                                 c->event_line);
        }
    }
}

/* Reads components until a VEVENT that yields rows is current. 1, 0 at
 * the end of the file, or an error. */
static int next_event(struct ics_reader *c, struct ds_error *err)
{
    for (;;) {
        const char *name;
        icalcomponent *comp;
        int rc = next_line(c, err);

        if (rc <= 0) {
            return rc;
        }
        name = marker(&c->line, "BEGIN:");
        if (name == NULL || strcasecmp(name, "VCALENDAR") == 0) {
            continue;
        }
        if (strcasecmp(name, "VTIMEZONE") == 0) {
            rc = collect(c, "VTIMEZONE", ICS_MAX_TZ_BYTES, 0, err);
            if (rc != 0) {
                return rc;
            }
            c->tz_bytes += c->event.len;
            if (c->ntz >= ICS_MAX_TZ || c->tz_bytes > ICS_MAX_TZ_BYTES) {
                return ds__read_fail(err, DS_ETOOBIG, c->path, c->nrows + 1, NULL,
                                     "too many time zones (VTIMEZONE at line %ld)", c->event_line);
            }
            comp = icalparser_parse_string(c->event.data);
            if (comp != NULL && icalcomponent_isa(comp) == ICAL_VTIMEZONE_COMPONENT) {
                icalcomponent_add_component(c->zones, comp);
                c->ntz++;
            }
            else {
                if (comp != NULL) {
                    icalcomponent_free(comp);
                }
                ics_notice(c, DS_READ_NOTICE_SKIPPED, c->event_line, 0,
                           "VTIMEZONE libical could not parse skipped");
            }
            continue;
        }
        if (strcasecmp(name, "VEVENT") != 0) {
            char what[32];

            snprintf(what, sizeof(what), "%.24s", name);
            rc = collect(c, what, ICS_MAX_EVENT, 1, err);
            if (rc != 0) {
                return rc;
            }
            ics_notice(c, DS_READ_NOTICE_SKIPPED, c->event_line, 0,
                       "%s component skipped (only VEVENTs are rows)", what);
            continue;
        }
        rc = collect(c, "VEVENT", ICS_MAX_EVENT, 1, err);
        if (rc != 0) {
            return rc;
        }
        if (c->event_over && c->scanning) {
            continue;
        }
        if (c->event_over) {
            /* Over a cap before libical saw it: one row with the error and
             * no fields, the text up to the cap as its raw text. */
            ds_buf_reset(&c->raw);
            (void)ds_buf_append(&c->raw, c->event.data != NULL ? c->event.data : "",
                                c->event.len < ICS_RAW_MAX ? c->event.len : ICS_RAW_MAX);
            c->n = 0;
            c->cur_line = c->event_line;
            if (c->over_field != 0) {
                row_cut(c, DS_READ_ROW_FIELD_TOO_LONG, c->over_field);
            }
            else {
                row_cut(c, DS_READ_ROW_TOO_LARGE, 0);
                snprintf(c->row_err_msg, sizeof(c->row_err_msg),
                         "the VEVENT is larger than the limit of %zu bytes", ICS_MAX_EVENT);
            }
            c->cut_ready = 1;
            return 1;
        }
        if (c->scanning && ds_ascii_casestr(c->event.data, "RECURRENCE-ID") == NULL) {
            continue;
        }
        comp = icalparser_parse_string(c->event.data);
        if (comp == NULL || icalcomponent_isa(comp) != ICAL_VEVENT_COMPONENT) {
            if (comp != NULL) {
                icalcomponent_free(comp);
            }
            ics_notice(c, DS_READ_NOTICE_SKIPPED, c->event_line, 0,
                       "VEVENT libical could not parse skipped");
            continue;
        }
        ds_buf_reset(&c->raw);
        (void)ds_buf_append(&c->raw, c->event.data,
                            c->event.len < ICS_RAW_MAX ? c->event.len : ICS_RAW_MAX);
        if (take_event(c, comp)) {
            return 1;
        }
    }
}

/* The first pass: reads the whole calendar once for the occurrences that
 * other VEVENTs change (their UID and RECURRENCE-ID), then starts again at
 * the top. An error met here is left for the second pass to report at its
 * place. */
static int scan_overrides(struct ics_reader *c, int fd, const char *encoding, struct ds_error *err)
{
    struct ds_error ignored;

    c->scanning = 1;
    while (next_event(c, &ignored) == 1) {
        drop_event(c);
    }
    c->scanning = 0;
    drop_event(c);
    if (c->novr > 1) {
        ovr_sort(c->ovr_off, c->novr, c->ovr.data);
    }
    ds__read_src_close(&c->src);
    c->blen = 0;
    c->bpos = 0;
    c->eof = 0;
    c->next_line = 1;
    c->have_peek = 0;
    ds_buf_reset(&c->line);
    ds_buf_reset(&c->peek);
    ds_buf_reset(&c->event);
    ds_buf_reset(&c->raw);
    icalcomponent_free(c->zones);
    c->ntz = 0;
    c->tz_bytes = 0;
    c->zones = icalcomponent_new(ICAL_VCALENDAR_COMPONENT);
    if (c->zones == NULL) {
        return ds__read_fail(err, DS_ENOMEM, c->path, 0, NULL, "out of memory");
    }
    if (c->ovr_full) {
        ics_notice(c, DS_READ_NOTICE_SKIPPED, 0, 0,
                   "more than %d changed occurrences: the rest may also come with their series",
                   ICS_MAX_OVERRIDES);
    }
    return ds__read_src_open(fd, c->path, encoding, &c->src, err);
}

/* ------------------------------------------------------------------------ */
/* The reader's operations                                                  */

/* The UTC day of t as YYYYMMDD, the form an EVENT-ID's occurrence starts
 * with. */
static void aged_before(time_t t, char out[9])
{
    struct icaltimetype day = icaltime_from_timet_with_zone(t, 1, NULL);

    snprintf(out, 9, "%04u%02u%02u", (unsigned)day.year % 10000u, (unsigned)day.month % 100u,
             (unsigned)day.day % 100u);
}

int ds__read_ics_open(int fd, const char *path, const struct ds_read_hints *hints,
                      struct ds_reader *r, struct ds_error *err)
{
    struct ics_reader *c = NULL;
    int back =
        hints != NULL && hints->window_days_back > 0 ? hints->window_days_back : ICS_DEFAULT_DAYS;
    int ahead =
        hints != NULL && hints->window_days_ahead > 0 ? hints->window_days_ahead : ICS_DEFAULT_DAYS;
    int hinted = 0;
    time_t now = time(NULL);
    int rc;

    c = ds_calloc(1, sizeof(*c));
    if (c == NULL) {
        rc = ds__read_fail(err, DS_ENOMEM, path, 0, NULL, "out of memory");
        goto out;
    }
    c->r = r;
    c->next_line = 1;
    ds_buf_init(&c->line, ICS_MAX_LINE);
    ds_buf_init(&c->peek, ICS_MAX_LINE);
    ds_buf_init(&c->event, ICS_MAX_EVENT + ICS_MAX_TZ_BYTES);
    ds_buf_init(&c->cells, ICS_ROW_MAX);
    ds_buf_init(&c->raw, ICS_RAW_MAX);
    ds_buf_init(&c->ovr, ICS_MAX_OVERRIDE_BYTES);
    c->path = ds_strdup(path);
    c->block = ds_malloc(ICS_BLOCK);
    c->ovr_off = ds_malloc(ICS_MAX_OVERRIDES * sizeof(*c->ovr_off));
    if (c->path == NULL || c->block == NULL || c->ovr_off == NULL) {
        rc = ds__read_fail(err, DS_ENOMEM, path, 0, NULL, "out of memory");
        goto out;
    }
    icalerror_set_errors_are_fatal(0);
    c->zones = icalcomponent_new(ICAL_VCALENDAR_COMPONENT);
    if (c->zones == NULL) {
        rc = ds__read_fail(err, DS_ENOMEM, path, 0, NULL, "out of memory");
        goto out;
    }
    c->from = icaltime_from_timet_with_zone(now - (time_t)back * 86400, 1, NULL);
    c->until = icaltime_from_timet_with_zone(now + (time_t)ahead * 86400, 1, NULL);
    /* The window's first day is compared with an occurrence's own date, in
     * its own zone: a day earlier in UTC is before it in every zone. */
    aged_before(now - (time_t)back * 86400 - 86400, r->dialect.aged_before);
    rc = ds__read_src_open(fd, path, hints != NULL ? hints->encoding : NULL, &c->src, err);
    if (rc == 0) {
        rc = scan_overrides(c, fd, hints != NULL ? hints->encoding : NULL, err);
    }
    if (rc != 0) {
        goto out;
    }
    for (size_t i = 0; i < ICS_NFIELDS; i++) {
        c->hlens[i] = strlen(ics_header[i]);
    }
    r->dialect.format = "ics";
    snprintf(r->dialect.encoding, sizeof(r->dialect.encoding), "%s",
             ds__read_src_encoding(c->src, &hinted));
    r->dialect.encoding_hint = hinted;
    r->ops = &ics_ops;
    r->impl = c;
    r->header.nfields = ICS_NFIELDS;
    r->header.fields = ics_header;
    r->header.lens = c->hlens;
    r->header.row = 0;
    r->header.line = 1;
    r->header.raw = "";
    r->header.raw_len = 0;
    c = NULL;
    rc = 0;
out:
    ics_close(c);
    return rc;
}

static int ics_next(void *impl, struct ds_row *row, struct ds_error *err)
{
    struct ics_reader *c = impl;
    int rc;

    if (c->failed != 0) {
        return ds__read_fail(err, c->failed, c->path, c->nrows + 1, NULL,
                             "reading stopped after an earlier error");
    }
    c->cut_ready = 0;
    for (;;) {
        if (c->cur != NULL) {
            rc = next_occurrence(c, err);
            if (rc != 0) {
                break;
            }
            drop_event(c);
        }
        rc = next_event(c, err);
        if (rc <= 0 || c->cut_ready) {
            break;
        }
    }
    if (rc < 0) {
        c->failed = rc;
        return rc;
    }
    if (rc == 0) {
        return 0;
    }
    c->nrows++;
    for (size_t i = 0; i < c->n; i++) {
        c->ptrs[i] = c->cells.data + c->offs[i];
    }
    row->nfields = c->n;
    row->fields = c->ptrs;
    row->lens = c->lens;
    row->row = c->nrows;
    row->line = c->cur_line;
    row->raw = c->raw.data != NULL ? c->raw.data : "";
    row->raw_len = c->raw.len;
    if (c->row_err != 0) {
        row->error = c->row_err;
        row->error_field = c->row_err_field;
        row->error_msg = c->row_err_msg;
    }
    return 1;
}

static void ics_close(void *impl)
{
    struct ics_reader *c = impl;

    if (c == NULL) {
        return;
    }
    drop_event(c);
    if (c->zones != NULL) {
        icalcomponent_free(c->zones);
    }
    ds__read_src_close(&c->src);
    ds_buf_close(&c->line);
    ds_buf_close(&c->peek);
    ds_buf_close(&c->event);
    ds_buf_close(&c->cells);
    ds_buf_close(&c->raw);
    ds_buf_close(&c->ovr);
    ds_free(c->ovr_off);
    ds_free(c->block);
    ds_free(c->path);
    ds_free(c);
}
