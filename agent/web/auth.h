/*
 * auth.h — who may use the status page: sessions, one-time login links and
 * the CSRF token of each session. Pure bookkeeping in memory, no I/O but
 * the random source, so unit tests drive it with their own clock.
 *
 * A person gets a session in one of two ways: a one-time link minted by the
 * running agent for `dentsync web-url` (valid LINK_TTL seconds, spent on its
 * first use), or the login secret of [web] secret_file. A session is a
 * random id in an HttpOnly, SameSite=Strict cookie; it ends after
 * DS_WEB_SESSION_IDLE seconds unused. Each session has its own random CSRF
 * token that every POST must carry. All tokens are 32 random bytes in hex,
 * compared in constant time; none is ever logged.
 *
 * A session has the rights of whoever opened it: a link carries the rights
 * the control socket gives the user who asked for it (DS_WEB_FULL for root
 * and the service's user, DS_WEB_READ for the dentsync group), and passes
 * them on to its session; the login secret, readable by root and the
 * service's user only, opens a DS_WEB_FULL session. A wrong secret makes
 * the client address that sent it wait DS_WEB_GUESS_WAIT seconds before its
 * next guess; other addresses may still log in.
 */
#ifndef DS_WEB_AUTH_H
#define DS_WEB_AUTH_H

#define DS_WEB_TOKEN_HEX 65         /* 64 hex digits and the NUL */
#define DS_WEB_SESSIONS 32          /* sessions kept; the least recently used goes first */
#define DS_WEB_LINKS 8              /* one-time links outstanding at once */
#define DS_WEB_LINK_TTL 600.0       /* seconds a one-time link stays valid */
#define DS_WEB_SESSION_IDLE 43200.0 /* seconds a session lives unused */
#define DS_WEB_CLIENTS 64           /* client addresses whose last wrong guess is kept */
#define DS_WEB_GUESS_WAIT 1.0       /* seconds a client waits after a wrong secret */
#define DS_WEB_ADDR 48              /* a client address as text, with its NUL */

/* A session's rights. */
#define DS_WEB_READ 1 /* look, and ask for a sync: what the dentsync group may */
#define DS_WEB_FULL 2 /* also change the queue and import: root and the service's user */

struct ds_web_auth; /* opaque */

/* secret: the login secret (copied), or NULL when only links log in.
 * new: free with ds_web_auth_free. */
int ds_web_auth_new(const char *secret, struct ds_web_auth **out);

/* NULL-safe; wipes the tokens. */
void ds_web_auth_free(struct ds_web_auth **a);

/* Mints a one-time login token, valid DS_WEB_LINK_TTL seconds from now,
 * whose session gets rights (DS_WEB_READ or DS_WEB_FULL). */
int ds_web_auth_link(struct ds_web_auth *a, double now, int rights, char token[DS_WEB_TOKEN_HEX]);

/* Spends a one-time token and opens a session with the link's rights: its
 * id into sid. DS_EINVAL when the token is unknown, spent or expired. */
int ds_web_auth_use_link(struct ds_web_auth *a, const char *token, double now,
                         char sid[DS_WEB_TOKEN_HEX]);

/* 0 when client (an address as text) may guess the secret now; DS_EBUSY
 * while it waits after a wrong one. */
int ds_web_auth_may_guess(struct ds_web_auth *a, const char *client, double now);

/* Opens a DS_WEB_FULL session for the login secret sent by client.
 * DS_EBUSY while client waits after a wrong guess (the secret is not
 * compared); DS_EINVAL when it does not match or no secret is configured,
 * and client then waits DS_WEB_GUESS_WAIT seconds. */
int ds_web_auth_use_secret(struct ds_web_auth *a, const char *secret, const char *client,
                           double now, char sid[DS_WEB_TOKEN_HEX]);

/* The session sid: 0 with its CSRF token copied into csrf (may be NULL)
 * and its idle time restarted; DS_ENOTFOUND when unknown or expired. */
int ds_web_auth_session(struct ds_web_auth *a, const char *sid, double now,
                        char csrf[DS_WEB_TOKEN_HEX]);

/* The rights of the live session sid (DS_WEB_READ or DS_WEB_FULL), or
 * DS_ENOTFOUND. */
int ds_web_auth_rights(struct ds_web_auth *a, const char *sid, double now);

/* 0 when csrf is the CSRF token of the live session sid; DS_EINVAL
 * otherwise (unknown session, missing or wrong token). */
int ds_web_auth_check_csrf(struct ds_web_auth *a, const char *sid, const char *csrf, double now);

/* 1 when the tokens a and b are the same, compared in time that depends
 * on their lengths only (a session id or token against another). */
int ds_web_auth_same(const char *a, const char *b);

/* Ends the session sid (a logout); unknown ids are ignored. */
void ds_web_auth_end(struct ds_web_auth *a, const char *sid);

#endif
