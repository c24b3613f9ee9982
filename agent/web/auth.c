/*
 * auth.c — sessions, one-time links and CSRF tokens (see auth.h).
 *
 * Fixed tables, no allocation after ds_web_auth_new: the page serves one
 * practice PC, a handful of browsers. Lookups compare every slot in
 * constant time, so the time taken says nothing about a token.
 */
#include "agent/web/auth.h"

#include "agent/core/alloc.h"
#include "agent/core/error.h"

#include <stdlib.h>
#include <string.h>
#include <uv.h>

struct slot {
    char token[DS_WEB_TOKEN_HEX]; /* "" when free */
    char csrf[DS_WEB_TOKEN_HEX];  /* sessions only */
    double until;                 /* expiry (links: fixed; sessions: idle) */
    double used;                  /* sessions: last use, for eviction */
};

struct ds_web_auth {
    char *secret; /* owned; NULL: no secret login */
    struct slot sessions[DS_WEB_SESSIONS];
    struct slot links[DS_WEB_LINKS];
};

/* Equal strings, in time that depends on the lengths only. */
static int ct_equal(const char *a, const char *b)
{
    size_t la = strlen(a);
    size_t lb = strlen(b);
    unsigned char d = la != lb;

    for (size_t i = 0; i < la && i < lb; i++) {
        d |= (unsigned char)(a[i] ^ b[i]);
    }
    return d == 0;
}

static int random_hex(char out[DS_WEB_TOKEN_HEX])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[32];

    if (uv_random(NULL, NULL, b, sizeof(b), 0, NULL) != 0) {
        return DS_EIO;
    }
    for (size_t i = 0; i < sizeof(b); i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[64] = '\0';
    memset(b, 0, sizeof(b));
    return 0;
}

int ds_web_auth_new(const char *secret, struct ds_web_auth **out)
{
    struct ds_web_auth *a = ds_calloc(1, sizeof(*a));

    *out = NULL;
    if (a == NULL) {
        return DS_ENOMEM;
    }
    if (secret != NULL && secret[0] != '\0') {
        a->secret = ds_strdup(secret);
        if (a->secret == NULL) {
            ds_free(a);
            return DS_ENOMEM;
        }
    }
    *out = a;
    return 0;
}

void ds_web_auth_free(struct ds_web_auth **ap)
{
    struct ds_web_auth *a;

    if (ap == NULL || *ap == NULL) {
        return;
    }
    a = *ap;
    *ap = NULL;
    if (a->secret != NULL) {
        memset(a->secret, 0, strlen(a->secret));
        ds_free(a->secret);
    }
    memset(a, 0, sizeof(*a));
    ds_free(a);
}

/* The live slot holding token, or NULL; expired slots met on the way are
 * freed. Every slot is compared. */
static struct slot *find(struct slot *slots, size_t n, const char *token, double now)
{
    struct slot *hit = NULL;

    for (size_t i = 0; i < n; i++) {
        if (slots[i].token[0] != '\0' && slots[i].until <= now) {
            memset(&slots[i], 0, sizeof(slots[i]));
        }
        if (slots[i].token[0] != '\0' && ct_equal(slots[i].token, token)) {
            hit = &slots[i];
        }
    }
    return token[0] != '\0' ? hit : NULL;
}

/* A free slot, or the one that expires first. */
static struct slot *take(struct slot *slots, size_t n)
{
    struct slot *best = &slots[0];

    for (size_t i = 0; i < n; i++) {
        if (slots[i].token[0] == '\0') {
            return &slots[i];
        }
        if (slots[i].until < best->until) {
            best = &slots[i];
        }
    }
    return best;
}

int ds_web_auth_link(struct ds_web_auth *a, double now, char token[DS_WEB_TOKEN_HEX])
{
    struct slot *s;

    find(a->links, DS_WEB_LINKS, "", now); /* frees the expired ones */
    s = take(a->links, DS_WEB_LINKS);
    memset(s, 0, sizeof(*s));
    if (random_hex(s->token) != 0) {
        memset(s, 0, sizeof(*s));
        return DS_EIO;
    }
    s->until = now + DS_WEB_LINK_TTL;
    memcpy(token, s->token, DS_WEB_TOKEN_HEX);
    return 0;
}

static int open_session(struct ds_web_auth *a, double now, char sid[DS_WEB_TOKEN_HEX])
{
    struct slot *s;

    find(a->sessions, DS_WEB_SESSIONS, "", now);
    s = take(a->sessions, DS_WEB_SESSIONS);
    memset(s, 0, sizeof(*s));
    if (random_hex(s->token) != 0 || random_hex(s->csrf) != 0) {
        memset(s, 0, sizeof(*s));
        return DS_EIO;
    }
    s->until = now + DS_WEB_SESSION_IDLE;
    s->used = now;
    memcpy(sid, s->token, DS_WEB_TOKEN_HEX);
    return 0;
}

int ds_web_auth_use_link(struct ds_web_auth *a, const char *token, double now,
                         char sid[DS_WEB_TOKEN_HEX])
{
    struct slot *s = find(a->links, DS_WEB_LINKS, token, now);

    if (s == NULL) {
        return DS_EINVAL;
    }
    memset(s, 0, sizeof(*s)); /* spent */
    return open_session(a, now, sid);
}

int ds_web_auth_use_secret(struct ds_web_auth *a, const char *secret, double now,
                           char sid[DS_WEB_TOKEN_HEX])
{
    if (a->secret == NULL || secret[0] == '\0' || !ct_equal(a->secret, secret)) {
        return DS_EINVAL;
    }
    return open_session(a, now, sid);
}

int ds_web_auth_session(struct ds_web_auth *a, const char *sid, double now,
                        char csrf[DS_WEB_TOKEN_HEX])
{
    struct slot *s = find(a->sessions, DS_WEB_SESSIONS, sid, now);

    if (s == NULL) {
        return DS_ENOTFOUND;
    }
    s->until = now + DS_WEB_SESSION_IDLE;
    s->used = now;
    if (csrf != NULL) {
        memcpy(csrf, s->csrf, DS_WEB_TOKEN_HEX);
    }
    return 0;
}

int ds_web_auth_check_csrf(struct ds_web_auth *a, const char *sid, const char *csrf, double now)
{
    struct slot *s = find(a->sessions, DS_WEB_SESSIONS, sid, now);

    if (s == NULL || csrf == NULL || csrf[0] == '\0' || !ct_equal(s->csrf, csrf)) {
        return DS_EINVAL;
    }
    return 0;
}

void ds_web_auth_end(struct ds_web_auth *a, const char *sid)
{
    struct slot *s = find(a->sessions, DS_WEB_SESSIONS, sid, 0.0);

    if (s != NULL) {
        memset(s, 0, sizeof(*s));
    }
}
