/*
 * iconv.c — iconv over Windows code pages (see iconv.h), and libcharset's
 * locale_charset() (localcharset.h). Each conversion goes through UTF-16:
 * the input into wide characters, then out of them.
 */
#include "iconv.h"
#include "localcharset.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>

#define CP_UTF16LE 1200
#define CP_UTF16BE 1201 /* not a code page MultiByteToWideChar knows: swapped here */

struct conv {
    UINT from;
    UINT to;
};

static int name_is(const char *name, size_t len, const char *want)
{
    return len == strlen(want) && _strnicmp(name, want, len) == 0;
}

/* The code page of an iconv name, or 0 if unknown. */
static UINT codepage(const char *name)
{
    size_t len = strcspn(name, "/");
    static const char *const prefixes[] = {"CP", "WINDOWS-"};
    static const struct {
        const char *name;
        UINT cp;
    } names[] = {
        {"UTF-8", CP_UTF8},       {"UTF8", CP_UTF8},       {"UTF-16LE", CP_UTF16LE},
        {"UTF-16BE", CP_UTF16BE}, {"UCS-2LE", CP_UTF16LE}, {"ASCII", 20127},
        {"US-ASCII", 20127},      {"LATIN1", 28591},       {"MACINTOSH", 10000},
        {"ISO-8859-1", 28591},    {"ISO-8859-2", 28592},   {"ISO-8859-3", 28593},
        {"ISO-8859-4", 28594},    {"ISO-8859-5", 28595},   {"ISO-8859-6", 28596},
        {"ISO-8859-7", 28597},    {"ISO-8859-8", 28598},   {"ISO-8859-9", 28599},
        {"ISO-8859-13", 28603},   {"ISO-8859-15", 28605},
    };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (name_is(name, len, names[i].name)) {
            return names[i].cp;
        }
    }
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        size_t plen = strlen(prefixes[i]);
        if (len > plen && len - plen <= 5 && _strnicmp(name, prefixes[i], plen) == 0) {
            UINT cp = 0;
            for (size_t j = plen; j < len; j++) {
                if (name[j] < '0' || name[j] > '9') {
                    return 0;
                }
                cp = cp * 10 + (UINT)(name[j] - '0');
            }
            return IsValidCodePage(cp) || cp == CP_UTF16LE || cp == CP_UTF16BE ? cp : 0;
        }
    }
    return 0;
}

iconv_t iconv_open(const char *tocode, const char *fromcode)
{
    UINT to = codepage(tocode);
    UINT from = codepage(fromcode);
    struct conv *c = NULL;

    if (to == 0 || from == 0) {
        errno = EINVAL;
        return (iconv_t)-1;
    }
    c = malloc(sizeof(*c));
    if (c == NULL) {
        errno = ENOMEM;
        return (iconv_t)-1;
    }
    c->from = from;
    c->to = to;
    return c;
}

int iconv_close(iconv_t cd)
{
    free(cd);
    return 0;
}

/* Why MultiByteToWideChar failed, as an iconv errno. */
static int to_wide_errno(UINT cp, const char *in, int len)
{
    /* A sequence cut at the end of the input rather than a wrong one. */
    if (cp == CP_UTF8 && MultiByteToWideChar(cp, MB_ERR_INVALID_CHARS, in, len - 1, NULL, 0) > 0) {
        return EINVAL;
    }
    return EILSEQ;
}

/* How many leading bytes of in (len) end on a whole character of UTF-8:
 * a sequence cut by the end of the input is left for the next call. */
static int utf8_whole(const unsigned char *in, int len)
{
    int lead = len;
    int need;

    while (lead > 0 && len - lead < 4 && (in[lead - 1] & 0xC0) == 0x80) {
        lead--;
    }
    if (lead == 0) {
        return len; /* only continuation bytes: MultiByteToWideChar says EILSEQ */
    }
    lead--;
    need = in[lead] >= 0xF0 ? 4 : in[lead] >= 0xE0 ? 3 : in[lead] >= 0xC0 ? 2 : 1;
    return len - lead < need ? lead : len;
}

/* How many bytes of the input code page the first n wide characters came
 * from. */
static size_t in_bytes(UINT from, const WCHAR *wide, int n)
{
    if (from == CP_UTF16LE || from == CP_UTF16BE) {
        return (size_t)n * 2;
    }
    return n > 0 ? (size_t)WideCharToMultiByte(from, 0, wide, n, NULL, 0, NULL, NULL) : 0;
}

/* The bytes the first n wide characters make in code page to. */
static int out_bytes(UINT to, const WCHAR *wide, int n)
{
    if (to == CP_UTF16LE || to == CP_UTF16BE) {
        return n * 2;
    }
    return n > 0 ? WideCharToMultiByte(to, to == CP_UTF8 ? WC_ERR_INVALID_CHARS : 0, wide, n, NULL,
                                       0, NULL, NULL)
                 : 0;
}

/* Converts what the input holds of whole characters, as much of it as the
 * output takes: E2BIG when the output is full, EINVAL when a character is
 * cut by the end of the input (what was converted before it stays
 * converted, as iconv(3) says), EILSEQ at a byte sequence that is not
 * text in the input's code page. */
size_t iconv(iconv_t cd, char **inbuf, size_t *inbytesleft, char **outbuf, size_t *outbytesleft)
{
    const struct conv *c = cd;
    WCHAR *wide = NULL;
    int nwide = 0;
    int nout = 0;
    int len = 0;
    int whole = 0;
    int cut = 0;
    int bad = 0;
    size_t used;
    size_t rc = (size_t)-1;

    if (inbuf == NULL || *inbuf == NULL) {
        return 0; /* no shift state to reset or flush */
    }
    if (*inbytesleft == 0) {
        return 0;
    }
    if (*inbytesleft > INT_MAX / 2 || outbuf == NULL || *outbuf == NULL) {
        errno = EINVAL;
        return rc;
    }
    len = (int)*inbytesleft;

    /* Into UTF-16. */
    if (c->from == CP_UTF16LE || c->from == CP_UTF16BE) {
        const unsigned char *p = (const unsigned char *)*inbuf;

        nwide = len / 2;
        wide = malloc((size_t)(nwide > 0 ? nwide : 1) * sizeof(WCHAR));
        if (wide == NULL) {
            errno = ENOMEM;
            return rc;
        }
        for (int i = 0; i < nwide; i++) {
            wide[i] = c->from == CP_UTF16LE ? (WCHAR)(p[2 * i] | (p[2 * i + 1] << 8))
                                            : (WCHAR)((p[2 * i] << 8) | p[2 * i + 1]);
        }
        cut = len % 2 != 0;
        /* A high surrogate at the end waits for its pair. */
        if (nwide > 0 && wide[nwide - 1] >= 0xD800 && wide[nwide - 1] <= 0xDBFF) {
            nwide--;
            cut = 1;
        }
    }
    else {
        DWORD flags = c->from == CP_UTF8 ? MB_ERR_INVALID_CHARS : 0;

        whole = c->from == CP_UTF8 ? utf8_whole((const unsigned char *)*inbuf, len) : len;
        cut = whole < len;
        if (whole > 0) {
            nwide = MultiByteToWideChar(c->from, flags, *inbuf, whole, NULL, 0);
            if (nwide <= 0) {
                errno = to_wide_errno(c->from, *inbuf, whole);
                return rc;
            }
        }
        wide = malloc((size_t)(nwide > 0 ? nwide : 1) * sizeof(WCHAR));
        if (wide == NULL) {
            errno = ENOMEM;
            return rc;
        }
        if (whole > 0) {
            MultiByteToWideChar(c->from, flags, *inbuf, whole, wide, nwide);
        }
    }

    /* A lone surrogate ends what is converted: the characters before it
     * are, then EILSEQ. */
    for (int i = 0; i < nwide; i++) {
        int high = wide[i] >= 0xD800 && wide[i] <= 0xDBFF;
        int low = wide[i] >= 0xDC00 && wide[i] <= 0xDFFF;

        if (high && i + 1 < nwide && wide[i + 1] >= 0xDC00 && wide[i + 1] <= 0xDFFF) {
            i++;
        }
        else if (high || low) {
            nwide = i;
            bad = 1;
            cut = 0;
            break;
        }
    }

    /* Out of UTF-16: as many wide characters as fit (a pair kept whole). */
    nout = out_bytes(c->to, wide, nwide);
    if (nwide > 0 && nout <= 0) {
        errno = EILSEQ;
        goto out;
    }
    while (nwide > 0 && (size_t)nout > *outbytesleft) {
        int less = (int)((long long)nwide * (long long)*outbytesleft / nout);

        nwide = less < nwide ? less : nwide - 1;
        if (nwide > 0 && wide[nwide - 1] >= 0xD800 && wide[nwide - 1] <= 0xDBFF) {
            nwide--;
        }
        nout = out_bytes(c->to, wide, nwide);
        cut = 0;
        bad = 0;
    }
    if (c->to == CP_UTF16LE || c->to == CP_UTF16BE) {
        unsigned char *o = (unsigned char *)*outbuf;

        for (int i = 0; i < nwide; i++) {
            o[2 * i + (c->to == CP_UTF16LE ? 0 : 1)] = (unsigned char)(wide[i] & 0xFF);
            o[2 * i + (c->to == CP_UTF16LE ? 1 : 0)] = (unsigned char)(wide[i] >> 8);
        }
    }
    else if (nwide > 0) {
        WideCharToMultiByte(c->to, c->to == CP_UTF8 ? WC_ERR_INVALID_CHARS : 0, wide, nwide,
                            *outbuf, nout, NULL, NULL);
    }
    used = in_bytes(c->from, wide, nwide);
    *inbuf += used;
    *inbytesleft -= used;
    *outbuf += nout;
    *outbytesleft -= (size_t)nout;
    if (*inbytesleft == 0) {
        rc = 0;
    }
    else if (bad) {
        errno = EILSEQ;
    }
    else if (cut) {
        errno = EINVAL;
    }
    else {
        errno = E2BIG;
    }
out:
    free(wide);
    return rc;
}

const char *locale_charset(void)
{
    static char name[16];
    snprintf(name, sizeof(name), "CP%u", (unsigned)GetACP());
    return name;
}
