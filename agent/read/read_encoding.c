/*
 * read_encoding.c — the text source under the CSV and ICS readers: a file's
 * bytes, in whatever encoding the practice software wrote, handed over as
 * UTF-8 in blocks.
 *
 * Without a hint the encoding is sniffed from the first block:
 *   EF BB BF                 UTF-8 with a byte order mark (then strict);
 *   FF FE / FE FF            UTF-16LE / UTF-16BE with a BOM (Excel's
 *                            "Unicode text"), converted with iconv;
 *   NUL in every other byte  UTF-16 without a BOM, by where the NULs are;
 *   anything else            UTF-8, which turns into Windows-1252 at the
 *                            first byte that is not UTF-8, provided all the
 *                            text before it was ASCII (the two agree on
 *                            ASCII, so nothing decoded so far changes).
 * UTF-8 text seen before an invalid byte means the file mixes encodings:
 * that is an error at the byte's offset rather than a guess. A hint always
 * wins: "utf-8" (strict), "utf-16" (by BOM, else little-endian), "utf-16le",
 * "utf-16be", "windows-1252"/"cp1252", "latin1"/"iso-8859-1", or any name
 * iconv knows.
 *
 * Windows-1252 and Latin-1 are decoded with a table (every byte has a
 * meaning, so they cannot fail); the five bytes Windows-1252 leaves
 * undefined become the C1 code points of the same value, as in Latin-1.
 *
 * Invariants: what read returns is always whole, valid UTF-8 sequences
 * (NUL bytes included: the readers decide about those); after a failure the
 * source stays failed.
 */
#include "agent/read/read_int.h"

#include "agent/core/alloc.h"
#include "agent/core/fsafe.h"

#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SRC_BLOCK ((size_t)64 * 1024) /* raw bytes read at a time */

enum src_kind {
    SRC_UTF8 = 0, /* checked and copied */
    SRC_ICONV,    /* converted by iconv */
    SRC_CP1252,   /* table */
    SRC_LATIN1,   /* table */
};

struct ds__read_src {
    int fd;             /* the open file */
    int kind;           /* enum src_kind */
    int may_switch;     /* sniffed UTF-8 that may still turn into windows-1252 */
    int nonascii;       /* non-ASCII UTF-8 was handed over */
    int hinted;         /* the encoding came from a hint */
    iconv_t cd;         /* SRC_ICONV: the converter, else (iconv_t)-1 */
    unsigned char *in;  /* owned: SRC_BLOCK raw bytes */
    size_t ilen;        /* bytes in in */
    size_t ipos;        /* next byte to decode */
    int eof;            /* read() reported the end */
    long long base;     /* file offset of in[0] */
    const char *what;   /* the problem that stopped the source, or NULL */
    int what_code;      /* its DS_E* code */
    long long what_off; /* its file offset */
    char name[32];      /* the encoding's name, for the dialect */
};

/* Windows-1252 0x80..0x9F; the undefined ones map to themselves. */
static const unsigned short cp1252_c1[32] = {
    0x20ac, 0x0081, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008d, 0x017d, 0x008f, 0x0090, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022,
    0x2013, 0x2014, 0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0x009d, 0x017e, 0x0178,
};

/* The valid prefix of p[0..n); sets *nonascii when it holds non-ASCII. */
static size_t utf8_prefix(const unsigned char *p, size_t n, int *nonascii)
{
    size_t i = 0;

    while (i < n) {
        unsigned char b = p[i];
        unsigned char lo = 0x80;
        unsigned char hi = 0xbf;
        size_t k;

        if (n - i >= 8) {
            uint64_t w;

            memcpy(&w, p + i, 8);
            if ((w & 0x8080808080808080ULL) == 0) {
                i += 8;
                continue;
            }
        }
        if (b < 0x80) {
            i++;
            continue;
        }
        if (b >= 0xc2 && b <= 0xdf) {
            k = 1;
        }
        else if (b >= 0xe0 && b <= 0xef) {
            k = 2;
            lo = b == 0xe0 ? 0xa0 : 0x80;
            hi = b == 0xed ? 0x9f : 0xbf;
        }
        else if (b >= 0xf0 && b <= 0xf4) {
            k = 3;
            lo = b == 0xf0 ? 0x90 : 0x80;
            hi = b == 0xf4 ? 0x8f : 0xbf;
        }
        else {
            return i;
        }
        if (n - i <= k || p[i + 1] < lo || p[i + 1] > hi) {
            return i;
        }
        for (size_t j = 2; j <= k; j++) {
            if ((p[i + j] & 0xc0) != 0x80) {
                return i;
            }
        }
        *nonascii = 1;
        i += k + 1;
    }
    return n;
}

size_t ds__read_utf8_valid(const unsigned char *p, size_t n)
{
    int nonascii = 0;

    return utf8_prefix(p, n, &nonascii);
}

/* Moves the undecoded bytes to the front and reads more. */
static int src_fill(struct ds__read_src *s)
{
    size_t keep = s->ilen - s->ipos;
    ssize_t k;

    memmove(s->in, s->in + s->ipos, keep);
    s->base += (long long)s->ipos;
    s->ipos = 0;
    s->ilen = keep;
    while (!s->eof && s->ilen < SRC_BLOCK) {
        k = read(s->fd, s->in + s->ilen, SRC_BLOCK - s->ilen);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k < 0) {
            return DS_EIO;
        }
        if (k == 0) {
            s->eof = 1;
            break;
        }
        s->ilen += (size_t)k;
    }
    return 0;
}

static ssize_t src_stop(struct ds__read_src *s, int code, const char *what)
{
    s->what = what;
    s->what_code = code;
    s->what_off = s->base + (long long)s->ipos;
    return code;
}

/* Encodes code point cp (< 0x10000) as UTF-8 into q; returns the length. */
static size_t put_utf8(unsigned char *q, unsigned cp)
{
    if (cp < 0x80) {
        q[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        q[0] = (unsigned char)(0xc0 | (cp >> 6));
        q[1] = (unsigned char)(0x80 | (cp & 0x3f));
        return 2;
    }
    q[0] = (unsigned char)(0xe0 | (cp >> 12));
    q[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
    q[2] = (unsigned char)(0x80 | (cp & 0x3f));
    return 3;
}

static size_t decode_table(struct ds__read_src *s, unsigned char *buf, size_t cap)
{
    size_t out = 0;

    while (s->ipos < s->ilen && cap - out >= 3) {
        unsigned char b = s->in[s->ipos++];
        unsigned cp = b;

        if (b >= 0x80 && b < 0xa0 && s->kind == SRC_CP1252) {
            cp = cp1252_c1[b - 0x80];
        }
        out += put_utf8(buf + out, cp);
    }
    return out;
}

ssize_t ds__read_src_read(struct ds__read_src *s, unsigned char *buf, size_t cap)
{
    for (;;) {
        size_t avail;

        if (s->what != NULL) {
            return s->what_code;
        }
        avail = s->ilen - s->ipos;
        if (avail < 4 && !s->eof) {
            if (src_fill(s) != 0) {
                return src_stop(s, DS_EIO, "cannot read the file");
            }
            continue;
        }
        if (avail == 0) {
            return 0;
        }
        if (s->kind == SRC_UTF8) {
            size_t n = avail < cap ? avail : cap;
            size_t v = utf8_prefix(s->in + s->ipos, n, &s->nonascii);

            if (v > 0) {
                memcpy(buf, s->in + s->ipos, v);
                s->ipos += v;
                return (ssize_t)v;
            }
            if (s->may_switch && !s->nonascii) {
                s->kind = SRC_CP1252;
                snprintf(s->name, sizeof(s->name), "windows-1252");
                continue;
            }
            return src_stop(s, DS_EPARSE,
                            s->may_switch ? "not valid UTF-8 (and UTF-8 text came before)"
                                          : "not valid UTF-8");
        }
        if (s->kind == SRC_CP1252 || s->kind == SRC_LATIN1) {
            return (ssize_t)decode_table(s, buf, cap);
        }
        {
            char *ip = (char *)s->in + s->ipos;
            char *op = (char *)buf;
            size_t ileft = avail;
            size_t oleft = cap;
            size_t r = iconv(s->cd, &ip, &ileft, &op, &oleft);
            int e = errno;
            size_t made = cap - oleft;

            s->ipos += avail - ileft;
            if (r != (size_t)-1 || e == E2BIG) {
                if (made > 0) {
                    return (ssize_t)made;
                }
                continue;
            }
            if (made > 0) {
                return (ssize_t)made;
            }
            if (e == EINVAL && !s->eof) {
                if (src_fill(s) != 0) {
                    return src_stop(s, DS_EIO, "cannot read the file");
                }
                continue;
            }
            return src_stop(s, DS_EPARSE,
                            e == EINVAL ? "text cut in the middle of a character at the end"
                                        : "not valid in the file's encoding");
        }
    }
}

/* Lower-case name without '-' and '_' into out. */
static void norm_name(const char *in, char *out, size_t size)
{
    size_t j = 0;

    for (size_t i = 0; in[i] != '\0' && j + 1 < size; i++) {
        char ch = in[i];

        if (ch == '-' || ch == '_' || ch == ' ') {
            continue;
        }
        out[j++] = (char)(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
    }
    out[j] = '\0';
}

/* UTF-16 without a BOM: ASCII text has a NUL in every other byte. Returns
 * "UTF-16LE", "UTF-16BE" or NULL. */
static const char *sniff_utf16(const unsigned char *p, size_t n)
{
    size_t pairs = (n < 512 ? n : 512) / 2;
    size_t ze = 0;
    size_t zo = 0;

    if (pairs < 2) {
        return NULL;
    }
    for (size_t i = 0; i < pairs; i++) {
        ze += p[2 * i] == 0;
        zo += p[2 * i + 1] == 0;
    }
    if (zo * 10 >= pairs * 7 && ze * 10 <= pairs) {
        return "UTF-16LE";
    }
    if (ze * 10 >= pairs * 7 && zo * 10 <= pairs) {
        return "UTF-16BE";
    }
    return NULL;
}

/* Chooses the decoder from the hint or the first block. */
static int src_choose(struct ds__read_src *s, const char *hint, struct ds_error *err,
                      const char *path)
{
    static const unsigned char bom8[] = {0xef, 0xbb, 0xbf};
    const unsigned char *p = s->in;
    int le_bom = s->ilen >= 2 && p[0] == 0xff && p[1] == 0xfe;
    int be_bom = s->ilen >= 2 && p[0] == 0xfe && p[1] == 0xff;
    int u8_bom = s->ilen >= 3 && memcmp(p, bom8, 3) == 0;
    const char *from = NULL;
    char n[32];

    s->hinted = hint != NULL;
    if (hint == NULL) {
        from = sniff_utf16(p, s->ilen);
        if (u8_bom) {
            s->ipos = 3;
            snprintf(s->name, sizeof(s->name), "utf-8-bom");
        }
        else if (le_bom || be_bom) {
            s->ipos = 2;
            from = le_bom ? "UTF-16LE" : "UTF-16BE";
        }
        else if (from == NULL) {
            s->may_switch = 1;
            snprintf(s->name, sizeof(s->name), "utf-8");
        }
    }
    else {
        norm_name(hint, n, sizeof(n));
        snprintf(s->name, sizeof(s->name), "%s", hint);
        if (strcmp(n, "utf8") == 0) {
            s->ipos = u8_bom ? 3 : 0;
        }
        else if (strcmp(n, "utf16") == 0 || strcmp(n, "utf16le") == 0 ||
                 strcmp(n, "utf16be") == 0) {
            int be = strcmp(n, "utf16be") == 0 || (strcmp(n, "utf16") == 0 && be_bom);

            from = be ? "UTF-16BE" : "UTF-16LE";
            s->ipos = (be && be_bom) || (!be && le_bom) ? 2 : 0;
        }
        else if (strcmp(n, "windows1252") == 0 || strcmp(n, "cp1252") == 0) {
            s->kind = SRC_CP1252;
        }
        else if (strcmp(n, "latin1") == 0 || strcmp(n, "iso88591") == 0) {
            s->kind = SRC_LATIN1;
        }
        else {
            from = hint;
        }
    }
    if (from == NULL) {
        return 0;
    }
    s->cd = iconv_open("UTF-8", from);
    if (s->cd == (iconv_t)-1) {
        return ds__read_fail(err, DS_EINVAL, path, 0, "encoding", "encoding not known");
    }
    s->kind = SRC_ICONV;
    if (hint == NULL) {
        snprintf(s->name, sizeof(s->name), "%s",
                 le_bom || strcmp(from, "UTF-16LE") == 0 ? "utf-16le" : "utf-16be");
    }
    return 0;
}

int ds__read_src_open(int fd, const char *path, const char *encoding, struct ds__read_src **out,
                      struct ds_error *err)
{
    struct ds__read_src *s = NULL;
    int rc = 0;

    *out = NULL;
    s = ds_calloc(1, sizeof(*s));
    if (s == NULL) {
        rc = ds__read_fail(err, DS_ENOMEM, path, 0, NULL, "out of memory");
        goto out;
    }
    s->fd = -1;
    s->cd = (iconv_t)-1;
    s->in = ds_malloc(SRC_BLOCK);
    if (s->in == NULL) {
        rc = ds__read_fail(err, DS_ENOMEM, path, 0, NULL, "out of memory");
        goto out;
    }
    s->fd = ds_fsafe_reopen(fd);
    if (s->fd < 0) {
        rc = ds__read_fail(err, DS_EIO, path, 0, NULL, "cannot open the file");
        goto out;
    }
    if (src_fill(s) != 0) {
        rc = ds__read_fail(err, DS_EIO, path, 0, NULL, "cannot read the file");
        goto out;
    }
    rc = src_choose(s, encoding, err, path);
    if (rc != 0) {
        goto out;
    }
    *out = s;
    s = NULL;
out:
    ds__read_src_close(&s);
    return rc;
}

const char *ds__read_src_what(const struct ds__read_src *s)
{
    return s->what != NULL ? s->what : "";
}

long long ds__read_src_offset(const struct ds__read_src *s)
{
    return s->what != NULL ? s->what_off : s->base + (long long)s->ipos;
}

const char *ds__read_src_encoding(const struct ds__read_src *s, int *hinted)
{
    if (hinted != NULL) {
        *hinted = s->hinted;
    }
    return s->name;
}

int ds__read_src_checked(const struct ds__read_src *s)
{
    return s->kind != SRC_ICONV;
}

void ds__read_src_close(struct ds__read_src **s)
{
    if (s == NULL || *s == NULL) {
        return;
    }
    if ((*s)->cd != (iconv_t)-1) {
        iconv_close((*s)->cd);
    }
    if ((*s)->fd >= 0) {
        close((*s)->fd);
    }
    ds_free((*s)->in);
    ds_free(*s);
    *s = NULL;
}
