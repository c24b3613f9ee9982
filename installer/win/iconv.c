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
        {"UTF-8", CP_UTF8},      {"UTF8", CP_UTF8},     {"UTF-16LE", CP_UTF16LE},
        {"UCS-2LE", CP_UTF16LE}, {"ASCII", 20127},      {"US-ASCII", 20127},
        {"LATIN1", 28591},       {"MACINTOSH", 10000},  {"ISO-8859-1", 28591},
        {"ISO-8859-2", 28592},   {"ISO-8859-3", 28593}, {"ISO-8859-4", 28594},
        {"ISO-8859-5", 28595},   {"ISO-8859-6", 28596}, {"ISO-8859-7", 28597},
        {"ISO-8859-8", 28598},   {"ISO-8859-9", 28599}, {"ISO-8859-13", 28603},
        {"ISO-8859-15", 28605},
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
            return IsValidCodePage(cp) || cp == CP_UTF16LE ? cp : 0;
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

size_t iconv(iconv_t cd, char **inbuf, size_t *inbytesleft, char **outbuf, size_t *outbytesleft)
{
    const struct conv *c = cd;
    WCHAR *wide = NULL;
    int nwide = 0;
    int nout = 0;
    int len = 0;
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
    if (c->from == CP_UTF16LE) {
        if (len % 2 != 0) {
            errno = EINVAL;
            return rc;
        }
        nwide = len / 2;
        wide = malloc((size_t)len);
        if (wide == NULL) {
            errno = ENOMEM;
            return rc;
        }
        memcpy(wide, *inbuf, (size_t)len);
    }
    else {
        DWORD flags = c->from == CP_UTF8 ? MB_ERR_INVALID_CHARS : 0;
        nwide = MultiByteToWideChar(c->from, flags, *inbuf, len, NULL, 0);
        if (nwide <= 0) {
            errno = to_wide_errno(c->from, *inbuf, len);
            return rc;
        }
        wide = malloc((size_t)nwide * sizeof(WCHAR));
        if (wide == NULL) {
            errno = ENOMEM;
            return rc;
        }
        MultiByteToWideChar(c->from, flags, *inbuf, len, wide, nwide);
    }

    /* Out of UTF-16. */
    if (c->to == CP_UTF16LE) {
        nout = nwide * 2;
        if ((size_t)nout > *outbytesleft) {
            errno = E2BIG;
            goto out;
        }
        memcpy(*outbuf, wide, (size_t)nout);
    }
    else {
        DWORD flags = c->to == CP_UTF8 ? WC_ERR_INVALID_CHARS : 0;
        nout = WideCharToMultiByte(c->to, flags, wide, nwide, NULL, 0, NULL, NULL);
        if (nout <= 0) {
            errno = EILSEQ;
            goto out;
        }
        if ((size_t)nout > *outbytesleft) {
            errno = E2BIG;
            goto out;
        }
        WideCharToMultiByte(c->to, flags, wide, nwide, *outbuf, nout, NULL, NULL);
    }
    *inbuf += len;
    *inbytesleft = 0;
    *outbuf += nout;
    *outbytesleft -= (size_t)nout;
    rc = 0;
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
