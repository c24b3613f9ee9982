/*
 * normalize.c — value normalizers (see normalize.h for the contract).
 *
 * Each normalizer is a small, strict parser: it accepts the forms listed in
 * normalize.h and nothing else, because a silently guessed value is worse
 * than a row marked invalid with its reason. The reasons are fixed phrases
 * so that no patient value can reach a log or a status line through them.
 *
 * All parsing is byte-wise ASCII: no locale is consulted, so the same input
 * gives the same canonical value (and the same key and fingerprint) on every
 * machine.
 */
#include "agent/map/normalize.h"

#include "agent/core/error.h"

#include <string.h>

#define TOKEN_MAX 32 /* longest gender or status word, normalized */

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static unsigned char to_lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static unsigned char to_upper(unsigned char c)
{
    return c >= 'a' && c <= 'z' ? (unsigned char)(c - 32) : c;
}

void ds__norm_trim_some(const char **p, size_t *len)
{
    const unsigned char *s = (const unsigned char *)*p;
    size_t n = *len;

    for (;;) {
        if (n >= 1 && is_space(s[0])) {
            s++;
            n--;
        }
        else if (n >= 2 && s[0] == 0xc2 && s[1] == 0xa0) {
            s += 2;
            n -= 2;
        }
        else {
            break;
        }
    }
    for (;;) {
        if (n >= 1 && is_space(s[n - 1])) {
            n--;
        }
        else if (n >= 2 && s[n - 2] == 0xc2 && s[n - 1] == 0xa0) {
            n -= 2;
        }
        else {
            break;
        }
    }
    *p = (const char *)s;
    *len = n;
}

/* ------------------------------------------------------------------------ */
/* Text                                                                     */

/* Appends in[0..len) with each byte passed through map (NULL: as is). */
static int append_mapped(struct ds_buf *out, const char *in, size_t len,
                         unsigned char (*map)(unsigned char))
{
    size_t start = out->len;
    int rc;

    rc = ds_buf_append(out, in, len);
    if (rc != 0 || map == NULL) {
        return rc;
    }
    for (size_t i = start; i < out->len; i++) {
        out->data[i] = (char)map((unsigned char)out->data[i]);
    }
    return 0;
}

static int text_with(const char *in, size_t len, struct ds_buf *out,
                     unsigned char (*map)(unsigned char))
{
    int rc;

    ds_norm_trim(&in, &len);
    if (len == 0) {
        return DS_NORM_ABSENT;
    }
    rc = append_mapped(out, in, len, map);
    return rc != 0 ? rc : DS_NORM_PRESENT;
}

int ds_norm_text(const char *in, size_t len, struct ds_buf *out, const char **problem)
{
    (void)problem;
    return text_with(in, len, out, NULL);
}

int ds_norm_upper(const char *in, size_t len, struct ds_buf *out, const char **problem)
{
    (void)problem;
    return text_with(in, len, out, to_upper);
}

int ds_norm_lower(const char *in, size_t len, struct ds_buf *out, const char **problem)
{
    (void)problem;
    return text_with(in, len, out, to_lower);
}

/* ------------------------------------------------------------------------ */
/* Dates                                                                    */

/* Reads between min and max digits at s[*i]. Returns the number or -1. */
static long read_number(const char *s, size_t len, size_t *i, size_t min, size_t max)
{
    size_t start = *i;
    long v = 0;

    while (*i < len && *i - start < max && is_digit((unsigned char)s[*i])) {
        v = v * 10 + (s[*i] - '0');
        (*i)++;
    }
    if (*i - start < min || (*i < len && is_digit((unsigned char)s[*i]))) {
        return -1;
    }
    return v;
}

static int days_in_month(long y, long m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) {
        return 29;
    }
    return days[m - 1];
}

/* Splits a date into y, m, d. 0 on success, -1 for a form not accepted. */
static int parse_date(const char *s, size_t len, long *y, long *m, long *d)
{
    size_t i = 0;
    long a;
    long b;
    long c;
    char sep;

    a = read_number(s, len, &i, 1, 4);
    if (a < 0 || i >= len || (s[i] != '-' && s[i] != '/')) {
        return -1;
    }
    sep = s[i];
    if (i == 4) {
        /* YYYY-MM-DD or YYYY/MM/DD */
        i++;
        b = read_number(s, len, &i, 1, 2);
        if (b < 0 || i >= len || s[i] != sep) {
            return -1;
        }
        i++;
        c = read_number(s, len, &i, 1, 2);
        *y = a;
        *m = b;
        *d = c;
    }
    else if (i <= 2 && sep == '/') {
        /* MM/DD/YYYY or M/D/YYYY */
        i++;
        b = read_number(s, len, &i, 1, 2);
        if (b < 0 || i >= len || s[i] != '/') {
            return -1;
        }
        i++;
        c = read_number(s, len, &i, 4, 4);
        *y = c;
        *m = a;
        *d = b;
    }
    else {
        return -1;
    }
    if (c < 0 || i != len) {
        return -1;
    }
    return 0;
}

int ds_norm_date(const char *in, size_t len, struct ds_buf *out, const char **problem)
{
    long y;
    long m;
    long d;
    int rc;

    ds_norm_trim(&in, &len);
    if (len == 0) {
        return DS_NORM_ABSENT;
    }
    if (parse_date(in, len, &y, &m, &d) != 0) {
        *problem = "not a valid date";
        return DS_EINVAL;
    }
    if ((y == 1 && m == 1 && d == 1) || (y == 0 && m == 0 && d == 0)) {
        return DS_NORM_ABSENT;
    }
    if (y < 1800 || y > 2199 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m)) {
        *problem = "not a valid date";
        return DS_EINVAL;
    }
    rc = ds__norm_put_date(out, y, m, d, NULL);
    return rc != 0 ? rc : DS_NORM_PRESENT;
}

/* ------------------------------------------------------------------------ */
/* E-mail and phone                                                         */

int ds_norm_email(const char *in, size_t len, struct ds_buf *out, const char **problem)
{
    size_t at = len;
    size_t ats = 0;
    const char *dom;
    size_t dlen;
    int rc;

    ds_norm_trim(&in, &len);
    if (len == 0) {
        return DS_NORM_ABSENT;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];

        if (c <= 0x20 || c == 0x7f) {
            goto bad;
        }
        if (c == '@') {
            at = i;
            ats++;
        }
    }
    if (ats != 1 || at == 0 || len > 254) {
        goto bad;
    }
    dom = in + at + 1;
    dlen = len - at - 1;
    if (dlen < 3 || dom[0] == '.' || dom[dlen - 1] == '.' || memchr(dom, '.', dlen) == NULL) {
        goto bad;
    }
    for (size_t i = 0; i + 1 < dlen; i++) {
        if (dom[i] == '.' && dom[i + 1] == '.') {
            goto bad;
        }
    }
    rc = append_mapped(out, in, len, to_lower);
    return rc != 0 ? rc : DS_NORM_PRESENT;
bad:
    *problem = "not a valid address";
    return DS_EINVAL;
}

int ds_norm_phone(const char *in, size_t len, struct ds_buf *out, const char **problem)
{
    char digits[16];
    size_t nd = 0;
    size_t i = 0;
    int plus = 0;
    int rc;

    ds_norm_trim(&in, &len);
    if (len == 0) {
        return DS_NORM_ABSENT;
    }
    if (in[0] == '+') {
        plus = 1;
        i = 1;
    }
    for (; i < len; i++) {
        unsigned char c = (unsigned char)in[i];

        if (is_digit(c)) {
            if (nd == sizeof(digits) - 1) {
                goto bad;
            }
            digits[nd++] = (char)c;
        }
        else if (c != ' ' && c != '(' && c != ')' && c != '-' && c != '.' && c != '/') {
            goto bad;
        }
    }
    digits[nd] = '\0';
    if ((plus && nd >= 8 && nd <= 15) || (!plus && nd == 11 && digits[0] == '1')) {
        rc = ds_buf_append(out, "+", 1);
        rc = rc != 0 ? rc : ds_buf_append(out, digits, nd);
    }
    else if (!plus && nd == 10) {
        rc = ds_buf_append(out, "+1", 2);
        rc = rc != 0 ? rc : ds_buf_append(out, digits, nd);
    }
    else {
        goto bad;
    }
    return rc != 0 ? rc : DS_NORM_PRESENT;
bad:
    *problem = "not a valid phone number";
    return DS_EINVAL;
}

/* ------------------------------------------------------------------------ */
/* Coded values                                                             */

struct code {
    const char *from; /* normalized spelling */
    const char *to;   /* canonical value */
};

static const struct code genders[] = {
    {"m", "male"},      {"male", "male"}, {"f", "female"},  {"female", "female"},   {"o", "other"},
    {"other", "other"}, {"x", "other"},   {"u", "unknown"}, {"unknown", "unknown"}, {NULL, NULL},
};

static const struct code statuses[] = {
    {"active", "active"},        {"inactive", "inactive"},
    {"archived", "archived"},    {"deceased", "deceased"},
    {"prospect", "prospect"},    {"patient", "active"},
    {"nonpatient", "inactive"},  {"deleted", "archived"},
    {"prospective", "prospect"}, {NULL, NULL},
};

static int code_lookup(const struct code *table, const char *in, size_t len, struct ds_buf *out,
                       const char **problem)
{
    char key[TOKEN_MAX];
    int rc;

    ds_norm_trim(&in, &len);
    if (len == 0) {
        return DS_NORM_ABSENT;
    }
    if (ds_norm_header(in, len, key, sizeof(key)) < sizeof(key)) {
        for (const struct code *c = table; c->from != NULL; c++) {
            if (strcmp(key, c->from) == 0) {
                rc = ds_buf_append_str(out, c->to);
                return rc != 0 ? rc : DS_NORM_PRESENT;
            }
        }
    }
    *problem = "unknown value";
    return DS_EINVAL;
}

int ds_norm_gender(const char *in, size_t len, struct ds_buf *out, const char **problem)
{
    return code_lookup(genders, in, len, out, problem);
}

int ds_norm_status(const char *in, size_t len, struct ds_buf *out, const char **problem)
{
    return code_lookup(statuses, in, len, out, problem);
}

/* ------------------------------------------------------------------------ */
/* Lookup, header keys, folding, UTF-8                                      */

ds_norm_fn ds_norm_lookup(const char *transform)
{
    static const struct {
        const char *name;
        ds_norm_fn fn;
    } fns[] = {
        {"text", ds_norm_text},   {"date", ds_norm_date},     {"email", ds_norm_email},
        {"phone", ds_norm_phone}, {"gender", ds_norm_gender}, {"status", ds_norm_status},
        {"upper", ds_norm_upper}, {"lower", ds_norm_lower},
    };

    if (transform == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
        if (strcmp(transform, fns[i].name) == 0) {
            return fns[i].fn;
        }
    }
    return NULL;
}

size_t ds_norm_header(const char *in, size_t len, char *out, size_t size)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];

        if (c == ' ' || c == '\t' || c == '_' || c == '-') {
            continue;
        }
        if (n + 1 < size) {
            out[n] = (char)to_lower(c);
        }
        n++;
    }
    if (size > 0) {
        out[n < size ? n : size - 1] = '\0';
    }
    return n;
}

int ds_norm_fold(const char *in, size_t len, struct ds_buf *out)
{
    size_t start = out->len;
    int rc;

    rc = ds_buf_append(out, in, len);
    if (rc != 0) {
        return rc;
    }
    for (size_t i = start; i < out->len; i++) {
        unsigned char c = (unsigned char)out->data[i];

        if (c >= 'A' && c <= 'Z') {
            out->data[i] = (char)(c + 32);
        }
        else if (c == 0xc3 && i + 1 < out->len) {
            unsigned char c2 = (unsigned char)out->data[i + 1];

            /* U+00C0-U+00DE but U+00D7 (multiplication sign): +0x20. */
            if (c2 >= 0x80 && c2 <= 0x9e && c2 != 0x97) {
                out->data[i + 1] = (char)(c2 + 0x20);
            }
            i++;
        }
    }
    return 0;
}

int ds_norm_utf8_valid(const char *p, size_t n)
{
    const unsigned char *s = (const unsigned char *)p;
    size_t i = 0;

    /* Most values are ASCII without a NUL: eight bytes at a time, then the
     * bytes left one by one in a loop that tests nothing else. The general
     * loop below takes over from the first byte outside 1-0x7f. */
    for (; n - i >= 8; i += 8) {
        uint64_t w;

        memcpy(&w, s + i, 8);
        if ((w & 0x8080808080808080u) != 0 ||
            ((w - 0x0101010101010101u) & ~w & 0x8080808080808080u) != 0) {
            break;
        }
    }
    while (i < n && (unsigned char)(s[i] - 1) < 0x7f) {
        i++;
    }
    while (i < n) {
        unsigned char b = s[i];
        unsigned long cp;
        size_t k;

        /* Eight ASCII bytes, none of them NUL, at a time: most text. */
        if (n - i >= 8) {
            uint64_t w;

            memcpy(&w, s + i, 8);
            if ((w & 0x8080808080808080u) == 0 &&
                ((w - 0x0101010101010101u) & ~w & 0x8080808080808080u) == 0) {
                i += 8;
                continue;
            }
        }

        if (b == 0) {
            return 0;
        }
        if (b < 0x80) {
            i++;
            continue;
        }
        if (b >= 0xc2 && b <= 0xdf) {
            k = 1;
            cp = b & 0x1fu;
        }
        else if (b >= 0xe0 && b <= 0xef) {
            k = 2;
            cp = b & 0x0fu;
        }
        else if (b >= 0xf0 && b <= 0xf4) {
            k = 3;
            cp = b & 0x07u;
        }
        else {
            return 0;
        }
        if (n - i <= k) {
            return 0;
        }
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80) {
                return 0;
            }
            cp = (cp << 6) | (s[i + j] & 0x3fu);
        }
        if ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff)) {
            return 0;
        }
        i += k + 1;
    }
    return 1;
}
