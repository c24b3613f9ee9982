/*
 * auth.c — sessions, one-time links and CSRF tokens (see auth.h).
 *
 * Fixed tables, no allocation after ds_web_auth_new: the page serves one
 * practice PC, a handful of browsers. Lookups compare every slot in
 * constant time, so the time taken says nothing about a token.
 *
 * Wrong guesses of the secret are remembered per client address, in a table
 * of DS_WEB_CLIENTS; when it is full the entry whose wait ends first is
 * reused, so one client cannot lock another out by filling it (a client
 * with more addresses than that guesses a little faster instead).
 */
#include "agent/web/auth.h"

#include "agent/core/alloc.h"
#include "agent/core/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

struct slot {
    char token[DS_WEB_TOKEN_HEX]; /* "" when free */
    char csrf[DS_WEB_TOKEN_HEX];  /* sessions only */
    double until;                 /* expiry (links: fixed; sessions: idle) */
    double used;                  /* sessions: last use, for eviction */
    int rights;                   /* DS_WEB_READ or DS_WEB_FULL (links: their session's) */
};

struct guess {
    char addr[DS_WEB_ADDR]; /* the client's address; "" when free */
    double after;           /* no guess from it before this */
};

struct ds_web_auth {
    char *secret; /* owned; NULL: no secret login */
    struct slot sessions[DS_WEB_SESSIONS];
    struct slot links[DS_WEB_LINKS];
    struct guess guesses[DS_WEB_CLIENTS];
};

/* Equal strings, in time that depends on the lengths only. */
static int ct_equal(const char *a, const char *b)
{
    return ds_web_auth_same(a, b);
}

int ds_web_auth_same(const char *a, const char *b)
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

int ds_web_auth_link(struct ds_web_auth *a, double now, int rights, char token[DS_WEB_TOKEN_HEX])
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
    s->rights = rights == DS_WEB_FULL ? DS_WEB_FULL : DS_WEB_READ;
    memcpy(token, s->token, DS_WEB_TOKEN_HEX);
    return 0;
}

static int open_session(struct ds_web_auth *a, double now, int rights, char sid[DS_WEB_TOKEN_HEX])
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
    s->rights = rights;
    memcpy(sid, s->token, DS_WEB_TOKEN_HEX);
    return 0;
}

int ds_web_auth_use_link(struct ds_web_auth *a, const char *token, double now,
                         char sid[DS_WEB_TOKEN_HEX])
{
    struct slot *s = find(a->links, DS_WEB_LINKS, token, now);
    int rights;

    if (s == NULL) {
        return DS_EINVAL;
    }
    rights = s->rights;
    memset(s, 0, sizeof(*s)); /* spent */
    return open_session(a, now, rights, sid);
}

/* A client's key: its address, or "?" when it has none. */
static const char *client_key(const char *client)
{
    return client != NULL && client[0] != '\0' ? client : "?";
}

/* The entry of client, or NULL. */
static struct guess *guess_find(struct ds_web_auth *a, const char *client)
{
    for (size_t i = 0; i < DS_WEB_CLIENTS; i++) {
        if (a->guesses[i].addr[0] != '\0' && strcmp(a->guesses[i].addr, client) == 0) {
            return &a->guesses[i];
        }
    }
    return NULL;
}

int ds_web_auth_may_guess(struct ds_web_auth *a, const char *client, double now)
{
    struct guess *g = guess_find(a, client_key(client));

    return g != NULL && now < g->after ? DS_EBUSY : 0;
}

/* client guessed wrong: it waits, in its own entry, a free one or the one
 * whose wait ends first. */
static void guess_wrong(struct ds_web_auth *a, const char *client, double now)
{
    struct guess *g = guess_find(a, client);

    if (g == NULL) {
        /* A free entry's wait ended at 0. */
        g = &a->guesses[0];
        for (size_t i = 1; i < DS_WEB_CLIENTS; i++) {
            if (a->guesses[i].after < g->after) {
                g = &a->guesses[i];
            }
        }
    }
    snprintf(g->addr, sizeof(g->addr), "%s", client);
    g->after = now + DS_WEB_GUESS_WAIT;
}

int ds_web_auth_use_secret(struct ds_web_auth *a, const char *secret, const char *client,
                           double now, char sid[DS_WEB_TOKEN_HEX])
{
    const char *who = client_key(client);

    if (ds_web_auth_may_guess(a, who, now) != 0) {
        return DS_EBUSY;
    }
    if (a->secret == NULL || secret[0] == '\0' || !ct_equal(a->secret, secret)) {
        guess_wrong(a, who, now);
        return DS_EINVAL;
    }
    return open_session(a, now, DS_WEB_FULL, sid);
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

int ds_web_auth_rights(struct ds_web_auth *a, const char *sid, double now)
{
    struct slot *s = find(a->sessions, DS_WEB_SESSIONS, sid, now);

    return s != NULL ? s->rights : DS_ENOTFOUND;
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
