/*
 * jsonw.c — JSON strings written the way jansson writes them (jsonw.h).
 *
 * Runs of bytes that need no escape are copied in one append; multi-byte
 * UTF-8 sequences are checked with the rules of jansson's utf8_iterate, so a
 * string jansson would refuse to dump is refused here too.
 */
#include "agent/core/jsonw.h"

#include "agent/core/error.h"

/* The length of the valid UTF-8 sequence at s (first byte >= 0x80), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned long cp;
    size_t k;

    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        k = 1;
        cp = s[0] & 0x1fu;
    }
    else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        k = 2;
        cp = s[0] & 0x0fu;
    }
    else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        k = 3;
        cp = s[0] & 0x07u;
    }
    else {
        return 0;
    }
    if (n <= k) {
        return 0;
    }
    for (size_t j = 1; j <= k; j++) {
        if ((s[j] & 0xc0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (s[j] & 0x3fu);
    }
    if ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff)) {
        return 0;
    }
    return k + 1;
}

int ds_jsonw_string(struct ds_buf *b, const char *str, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *s = (const unsigned char *)str;
    size_t run = 0; /* start of the bytes not yet appended */
    size_t i = 0;
    int rc;

    rc = ds_buf_append(b, "\"", 1);
    while (rc == 0 && i < n) {
        unsigned char c = s[i];
        char esc[6] = {'\\', 'u', '0', '0', 0, 0};
        size_t elen = 2;

        if (c >= 0x80) {
            size_t k = utf8_seq(s + i, n - i);

            if (k == 0) {
                return DS_EINVAL;
            }
            i += k;
            continue;
        }
        if (c >= 0x20 && c != '"' && c != '\\') {
            i++;
            continue;
        }
        switch (c) {
        case '"':
        case '\\':
            esc[1] = (char)c;
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            elen = 6;
            break;
        }
        rc = ds_buf_append(b, s + run, i - run);
        if (rc == 0) {
            rc = ds_buf_append(b, esc, elen);
        }
        i++;
        run = i;
    }
    if (rc == 0) {
        rc = ds_buf_append(b, s + run, i - run);
    }
    if (rc == 0) {
        rc = ds_buf_append(b, "\"", 1);
    }
    return rc;
}
