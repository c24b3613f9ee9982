/*
 * jsonw.c — JSON strings written the way jansson writes them (jsonw.h).
 *
 * Room for the worst case (6 bytes a byte, and the quotes) is reserved
 * once, then the bytes are written in place: plain ASCII is copied as is,
 * multi-byte UTF-8 sequences are checked with the rules of jansson's
 * utf8_iterate, so a string jansson would refuse to dump is refused here
 * too (or, for text shown to people, each bad byte written as U+FFFD).
 */
#include "agent/core/jsonw.h"

#include "agent/core/error.h"

#include <stdint.h>
#include <string.h>

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

/* The quoted string; invalid UTF-8 refused (lossy 0) or written as U+FFFD. */
static int write_string(struct ds_buf *b, const char *str, size_t n, int lossy)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    char *o;
    int rc;

    if (n > (SIZE_MAX - 2) / 6) {
        return DS_ETOOBIG;
    }
    rc = ds_buf_reserve(b, 6 * n + 2);
    if (rc != 0) {
        return rc;
    }
    o = b->data + b->len;
    *o++ = '"';
    while (i < n) {
        unsigned char c = s[i];

        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            *o++ = (char)c;
            i++;
            continue;
        }
        if (c >= 0x80) {
            size_t k = utf8_seq(s + i, n - i);

            if (k == 0 && lossy) {
                memcpy(o, "\xef\xbf\xbd", 3); /* U+FFFD, in place of the byte */
                o += 3;
                i++;
                continue;
            }
            if (k == 0) {
                b->data[b->len] = '\0'; /* nothing of the string is kept */
                return DS_EINVAL;
            }
            memcpy(o, s + i, k);
            o += k;
            i += k;
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"':
        case '\\':
            *o++ = (char)c;
            break;
        case '\b':
            *o++ = 'b';
            break;
        case '\f':
            *o++ = 'f';
            break;
        case '\n':
            *o++ = 'n';
            break;
        case '\r':
            *o++ = 'r';
            break;
        case '\t':
            *o++ = 't';
            break;
        default:
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
            break;
        }
        i++;
    }
    *o++ = '"';
    *o = '\0';
    b->len = (size_t)(o - b->data);
    return 0;
}

int ds_jsonw_string(struct ds_buf *b, const char *s, size_t n)
{
    return write_string(b, s, n, 0);
}

int ds_jsonw_text(struct ds_buf *b, const char *s, size_t n)
{
    return write_string(b, s, n, 1);
}

int ds_jsonw_str(struct ds_buf *b, const char *s)
{
    return s == NULL ? ds_buf_append(b, "null", 4) : write_string(b, s, strlen(s), 1);
}

/* The length of the JSON number at s (-?digits, then .digits, then an
 * exponent), or 0. */
static size_t number_length(const char *s)
{
    size_t i = s[0] == '-';
    size_t d = i;

    while (s[i] >= '0' && s[i] <= '9') {
        i++;
    }
    if (i == d) {
        return 0;
    }
    if (s[i] == '.') {
        d = ++i;
        while (s[i] >= '0' && s[i] <= '9') {
            i++;
        }
        if (i == d) {
            return 0;
        }
    }
    if (s[i] == 'e' || s[i] == 'E') {
        i += s[i + 1] == '+' || s[i + 1] == '-' ? 2 : 1;
        d = i;
        while (s[i] >= '0' && s[i] <= '9') {
            i++;
        }
        if (i == d) {
            return 0;
        }
    }
    return i;
}

/* The length of the element at s of a flat array (a string, a number or
 * null), or 0 when it is none of them. *kind: 's', 'n' (number) or 0 (null). */
static size_t array_element(const char *s, int *kind)
{
    size_t i = 1;

    *kind = s[0] == '"' ? 's' : s[0] == 'n' ? 0 : 'n';
    if (*kind == 0) {
        return strncmp(s, "null", 4) == 0 ? 4 : 0;
    }
    if (*kind == 'n') {
        return number_length(s);
    }
    while (s[i] != '"') {
        if (s[i] == '\\' && s[i + 1] != '\0') {
            i++;
        }
        else if ((unsigned char)s[i] < 0x20) {
            return 0; /* the NUL at the end, or a control character JSON has escaped */
        }
        i++;
    }
    return i + 1;
}

/* The next element of the array at *p: its start and length, *p moved past
 * it and its separator. 1 for an element, 0 at the end, -1 when malformed. */
static int array_next(const char **p, const char **elem, size_t *len, int *kind)
{
    const char *s = *p;

    if (*s == ']') {
        return s[1] == '\0' ? 0 : -1;
    }
    *len = array_element(s, kind);
    if (*len == 0 || (s[*len] != ',' && s[*len] != ']') || (s[*len] == ',' && s[*len + 1] == ']')) {
        return -1;
    }
    *elem = s;
    *p = s + *len + (s[*len] == ',');
    return 1;
}

int ds_jsonw_zip(struct ds_buf *b, const char *names, const char *values, int flags)
{
    const char *np = names + 1;
    const char *vp = values + 1;
    size_t mark = b->len;
    int rc;

    if (names[0] != '[' || values[0] != '[') {
        return DS_EPARSE;
    }
    rc = ds_buf_append(b, "{", 1);
    for (size_t written = 0; rc == 0;) {
        const char *n = NULL;
        const char *v = NULL;
        size_t nlen = 0;
        size_t vlen = 0;
        int nkind = 0;
        int vkind = 0;
        int more = array_next(&vp, &v, &vlen, &vkind);

        if (more == 0) {
            /* the names left over must still be well formed */
            while ((more = array_next(&np, &n, &nlen, &nkind)) == 1 && nkind == 's') {
            }
            rc = more == 0 ? ds_buf_append(b, "}", 1) : DS_EPARSE;
            break;
        }
        if (more < 0 || array_next(&np, &n, &nlen, &nkind) != 1 || nkind != 's') {
            rc = DS_EPARSE;
            break;
        }
        if (vkind == 0 && (flags & DS_JSONW_ZIP_PRESENT) != 0) {
            continue; /* an absent field */
        }
        if (written++ > 0) {
            rc = ds_buf_append(b, ",", 1);
        }
        if (rc == 0) {
            rc = ds_buf_append(b, n, nlen);
        }
        if (rc == 0) {
            rc = ds_buf_append(b, ":", 1);
        }
        if (rc == 0) {
            rc = ds_buf_append(b, v, vlen);
        }
    }
    if (rc != 0) {
        b->len = mark;
        if (b->data != NULL) {
            b->data[mark] = '\0';
        }
    }
    return rc;
}

int ds_jsonw_fwrite(FILE *out, const char *s, size_t n)
{
    struct ds_buf b;
    int rc;

    ds_buf_init(&b, n <= (SIZE_MAX - 2) / 6 ? 6 * n + 2 : SIZE_MAX);
    rc = write_string(&b, s, n, 1);
    if (rc == 0 && fwrite(b.data, 1, b.len, out) != b.len) {
        rc = DS_EIO;
    }
    ds_buf_close(&b);
    return rc;
}

int ds_jsonw_fputs(FILE *out, const char *s)
{
    if (s == NULL) {
        return fputs("null", out) < 0 ? DS_EIO : 0;
    }
    return ds_jsonw_fwrite(out, s, strlen(s));
}
