/*
 * normalize_contact.c — phone numbers with a region, and people's names
 * (normalize.h).
 *
 * Phones: a national number gets the practice region's country code (its
 * trunk prefix 0 dropped outside North America); an international one keeps
 * its own. Only the digit counts are checked, not numbering plans: a wrong
 * but well-formed number is the practice's to fix, a silently rewritten one
 * would be ours. An extension is kept after ";ext=" (RFC 3966 style), so it
 * is neither lost nor mistaken for part of the number.
 *
 * Names: case is only fixed when the value has no case information at all
 * (all upper or all lower); "McDonald", "van der Berg" and "DeLuca" as
 * typed are left alone.
 */
#include "agent/map/normalize.h"

#include "agent/core/error.h"

#include <string.h>

#define NAME_MAX_BYTES 512

struct region {
    const char *code; /* ISO 3166 alpha-2 */
    const char *cc;   /* country calling code */
    int trunk0;       /* national numbers start with a trunk 0 */
    int min, max;     /* national significant digits, without the trunk 0 */
};

static const struct region regions[] = {
    {"US", "1", 0, 10, 10}, {"CA", "1", 0, 10, 10}, {"GB", "44", 1, 9, 10},
    {"AU", "61", 1, 9, 9},  {"IE", "353", 1, 7, 9}, {"NZ", "64", 1, 8, 9},
    {"DE", "49", 1, 6, 11}, {"FR", "33", 1, 9, 9},  {NULL, NULL, 0, 0, 0},
};

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static const struct region *region_of(const struct ds_norm_opts *o)
{
    const char *code = o != NULL && o->phone_region[0] != '\0' ? o->phone_region : "US";

    for (const struct region *r = regions; r->code != NULL; r++) {
        if (strcmp(r->code, code) == 0) {
            return r;
        }
    }
    return &regions[0];
}

/* Where an extension starts ("x", "ext", "ext.", "extension", "#", ";ext="),
 * with *digits_at its first digit; len if there is none. */
static size_t find_extension(const char *s, size_t len, size_t *digits_at)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = lower((unsigned char)s[i]);
        size_t j = i;

        if (c == 'x' || c == '#') {
            j = i + 1;
        }
        else if (c == 'e' && i + 3 <= len && lower((unsigned char)s[i + 1]) == 'x' &&
                 lower((unsigned char)s[i + 2]) == 't') {
            j = i + 3;
            if (j + 6 <= len && strncmp(s + j, "ension", 6) == 0) {
                j += 6;
            }
        }
        else if (c == ';' && i + 5 <= len && strncmp(s + i, ";ext=", 5) == 0) {
            j = i + 5;
        }
        else {
            continue;
        }
        while (j < len && (s[j] == '.' || s[j] == ' ' || s[j] == ':' || s[j] == '=')) {
            j++;
        }
        *digits_at = j;
        return i;
    }
    return len;
}

/* Appends +CC then the national number's nd digits. */
static int put_intl(struct ds_buf *out, const char *cc, const char *num, size_t nd)
{
    int rc = ds_buf_append(out, "+", 1);

    rc = rc != 0 ? rc : ds_buf_append_str(out, cc);
    return rc != 0 ? rc : ds_buf_append(out, num, nd);
}

int ds_norm_phone_opt(const struct ds_norm_opts *o, const char *in, size_t len, struct ds_buf *out,
                      const char **problem)
{
    const struct region *r = region_of(o);
    char digits[20];
    char ext[12];
    size_t nd = 0;
    size_t ne = 0;
    size_t i = 0;
    size_t ext_at;
    size_t ext_digits = 0;
    int intl = 0;
    const char *num;
    int rc;

    ds_norm_trim(&in, &len);
    if (len == 0) {
        return DS_NORM_ABSENT;
    }
    ext_at = find_extension(in, len, &ext_digits);
    if (ext_at < len) {
        for (size_t j = ext_digits; j < len; j++) {
            if (!is_digit((unsigned char)in[j]) || ne + 1 >= sizeof(ext)) {
                goto bad;
            }
            ext[ne++] = in[j];
        }
        if (ne == 0) {
            goto bad;
        }
    }
    ext[ne] = '\0';
    if (in[0] == '+') {
        intl = 1;
        i = 1;
    }
    for (; i < ext_at; i++) {
        unsigned char c = (unsigned char)in[i];

        if (intl && c == '(' && i + 2 < ext_at && in[i + 1] == '0' && in[i + 2] == ')') {
            i += 2; /* +44 (0)20 ...: the trunk 0 written for national callers */
            continue;
        }
        if (is_digit(c)) {
            if (nd + 1 >= sizeof(digits)) {
                goto bad;
            }
            digits[nd++] = (char)c;
        }
        else if (c != ' ' && c != '(' && c != ')' && c != '-' && c != '.' && c != '/') {
            goto bad;
        }
    }
    digits[nd] = '\0';
    num = digits;
    if (!intl && nd > 2 && strncmp(digits, "00", 2) == 0) {
        intl = 1;
        num += 2;
        nd -= 2;
    }
    else if (!intl && strcmp(r->cc, "1") == 0 && nd > 3 && strncmp(digits, "011", 3) == 0) {
        intl = 1;
        num += 3;
        nd -= 3;
    }
    if (intl) {
        if (nd < 8 || nd > 15 || num[0] == '0') {
            goto bad;
        }
        rc = ds_buf_append(out, "+", 1);
        rc = rc != 0 ? rc : ds_buf_append(out, num, nd);
    }
    else if (!r->trunk0) {
        if (nd == (size_t)r->max + 1 && strncmp(num, r->cc, strlen(r->cc)) == 0) {
            num += strlen(r->cc);
            nd -= strlen(r->cc);
        }
        if (nd != (size_t)r->max || num[0] == '0' || num[0] == '1') {
            goto bad;
        }
        rc = put_intl(out, r->cc, num, nd);
    }
    else {
        if (nd > 0 && num[0] == '0') {
            num++;
            nd--;
        }
        if (nd < (size_t)r->min || nd > (size_t)r->max || num[0] == '0') {
            goto bad;
        }
        rc = put_intl(out, r->cc, num, nd);
    }
    if (rc == 0 && ne > 0) {
        rc = ds_buf_append(out, ";ext=", 5);
        rc = rc != 0 ? rc : ds_buf_append(out, ext, ne);
    }
    return rc != 0 ? rc : DS_NORM_PRESENT;
bad:
    *problem = "not a valid phone number";
    return DS_EINVAL;
}

/* ---- names --------------------------------------------------------------- */

/* Case of an ASCII letter or a Latin-1 letter in UTF-8 (0xC3 0x80-0xBE). */
static int is_upper_at(const unsigned char *s, size_t n, size_t i)
{
    if (s[i] >= 'A' && s[i] <= 'Z') {
        return 1;
    }
    return s[i] == 0xc3 && i + 1 < n && s[i + 1] >= 0x80 && s[i + 1] <= 0x9e && s[i + 1] != 0x97;
}

static int is_lower_at(const unsigned char *s, size_t n, size_t i)
{
    if (s[i] >= 'a' && s[i] <= 'z') {
        return 1;
    }
    return s[i] == 0xc3 && i + 1 < n && s[i + 1] >= 0xa0 && s[i + 1] <= 0xbe && s[i + 1] != 0xb7;
}

/* Sets the letter at s[i] to upper (up) or lower case; returns its width. */
static size_t set_case(unsigned char *s, size_t n, size_t i, int up)
{
    if (s[i] < 0x80) {
        if (up && s[i] >= 'a' && s[i] <= 'z') {
            s[i] = (unsigned char)(s[i] - 32);
        }
        else if (!up && s[i] >= 'A' && s[i] <= 'Z') {
            s[i] = (unsigned char)(s[i] + 32);
        }
        return 1;
    }
    if (s[i] == 0xc3 && i + 1 < n) {
        if (up && is_lower_at(s, n, i) && s[i + 1] != 0xbf) {
            s[i + 1] = (unsigned char)(s[i + 1] - 0x20);
        }
        else if (!up && is_upper_at(s, n, i)) {
            s[i + 1] = (unsigned char)(s[i + 1] + 0x20);
        }
        return 2;
    }
    return 1;
}

int ds_norm_name(const struct ds_norm_opts *o, const char *in, size_t len, struct ds_buf *out,
                 const char **problem)
{
    unsigned char *s;
    size_t start = out->len;
    size_t n;
    int has_upper = 0;
    int has_lower = 0;
    int rc;

    (void)o;
    ds_norm_trim(&in, &len);
    if (len == 0) {
        return DS_NORM_ABSENT;
    }
    if (len > NAME_MAX_BYTES) {
        *problem = "too long for a name";
        return DS_EINVAL;
    }
    /* Collapse runs of white space into one space, written before the
     * next run of other bytes; each such run is appended whole. */
    for (size_t i = 0; i < len;) {
        size_t j = i;

        while (j < len && (unsigned char)in[j] > ' ' && in[j] != 0x7f) {
            j++;
        }
        if (j < len && in[j] != ' ' && in[j] != '\t' && in[j] != '\r' && in[j] != '\n') {
            *problem = "contains control characters";
            return DS_EINVAL;
        }
        rc = ds_buf_append(out, &in[i], j - i);
        if (rc == 0 && j + 1 < len && (unsigned char)in[j + 1] > ' ') {
            rc = ds_buf_append(out, " ", 1);
        }
        if (rc != 0) {
            return rc;
        }
        i = j + 1;
    }
    s = (unsigned char *)out->data + start;
    n = out->len - start;
    for (size_t i = 0; i < n; i++) {
        has_upper |= is_upper_at(s, n, i);
        has_lower |= is_lower_at(s, n, i);
    }
    if (has_upper && has_lower) {
        return DS_NORM_PRESENT;
    }
    /* Capitals at word starts, after - and ', and after a leading Mc. */
    {
        int word_start = 1;
        size_t word_at = 0;

        for (size_t i = 0; i < n;) {
            unsigned char c = s[i];
            size_t w;

            if (c == ' ' || c == '-' || c == '\'' || c == '.') {
                word_start = 1;
                i++;
                continue;
            }
            if (word_start) {
                word_at = i;
            }
            w = set_case(s, n, i,
                         word_start ||
                             (i == word_at + 2 && (s[word_at] == 'm' || s[word_at] == 'M') &&
                              (s[word_at + 1] == 'c' || s[word_at + 1] == 'C') && i + 1 < n &&
                              s[i + 1] != ' ' && s[i + 1] != '-'));
            word_start = 0;
            i += w;
        }
    }
    return DS_NORM_PRESENT;
}

int ds_norm_split_name(const char *in, size_t len, int last_first, struct ds_buf *last,
                       struct ds_buf *first, const char **problem)
{
    const char *comma;
    const char *a;
    size_t alen;
    const char *b;
    size_t blen;
    int rc;

    ds_norm_trim(&in, &len);
    if (len == 0) {
        return DS_NORM_ABSENT;
    }
    comma = memchr(in, ',', len);
    if (last_first || comma != NULL) {
        if (comma == NULL) {
            *problem = "not written as Last, First";
            return DS_EINVAL;
        }
        a = in;
        alen = (size_t)(comma - in);
        b = comma + 1;
        blen = len - alen - 1;
    }
    else {
        size_t sp = len;

        while (sp > 0 && in[sp - 1] != ' ') {
            sp--;
        }
        if (sp == 0) {
            *problem = "not written as First Last";
            return DS_EINVAL;
        }
        a = in + sp;
        alen = len - sp;
        b = in;
        blen = sp - 1;
    }
    rc = ds_norm_name(NULL, a, alen, last, problem);
    if (rc == DS_NORM_PRESENT) {
        rc = ds_norm_name(NULL, b, blen, first, problem);
    }
    if (rc == DS_NORM_ABSENT) {
        *problem = "a part of the name is missing";
        return DS_EINVAL;
    }
    return rc;
}
