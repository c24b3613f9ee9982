/*
 * admin.h — what an operator does from the command line as the owner role:
 * create practices, create and revoke agent tokens.
 */
#ifndef DSC_ADMIN_H
#define DSC_ADMIN_H

#include <stddef.h>
#include <stdio.h>

#include "cloud/hash.h"

struct dsc_db;

#define DSC_TOKEN_PREFIX "dsk_"
/* "dsk_" and 64 hex digits (32 random bytes) and the terminator. */
#define DSC_TOKEN_LEN (sizeof(DSC_TOKEN_PREFIX) - 1 + 64 + 1)

/* Creates the practice name with an IANA timezone (NULL for UTC) and
 * writes its id into id. DSC_EINVAL for an empty name or an unknown
 * timezone, DSC_EEXIST when the name is taken, or a database error. */
int dsc_admin_practice_create(struct dsc_db *db, const char *name, const char *timezone,
                              char id[DSC_UUID_LEN]);

/* Sets the conflict policy ("flag" or "reject") of the practice id.
 * DSC_EINVAL for another policy, DSC_ENOTFOUND, or a database error. */
int dsc_admin_practice_policy(struct dsc_db *db, const char *id, const char *policy);

/* Turns matching name-only patient references (docs/protocol.md) on or off
 * for the practice called name. DSC_ENOTFOUND, or a database error. */
int dsc_admin_practice_name_only(struct dsc_db *db, const char *name, int on);

/* Writes every practice to out, one line each: id, name, timezone,
 * conflict policy, created, name-only match (tab-separated, a header line
 * first). */
int dsc_admin_practice_list(struct dsc_db *db, FILE *out);

/* Writes every token to out, one line each: id, practice name, label,
 * created, revoked (or "-"). Never the token nor its hash. */
int dsc_admin_token_list(struct dsc_db *db, FILE *out);

/* Creates a token for the practice called practice, labelled label (may be
 * NULL). Writes the token (shown once; only its SHA-256 is stored) into
 * token and the token's id into id. DSC_ENOTFOUND for an unknown practice,
 * DSC_EIO when no random bytes could be had, or a database error. */
int dsc_admin_token_create(struct dsc_db *db, const char *practice, const char *label,
                           char token[DSC_TOKEN_LEN], char id[DSC_UUID_LEN]);

/* Revokes the token with id token_id. DSC_ENOTFOUND when there is no such
 * live token, or a database error. */
int dsc_admin_token_revoke(struct dsc_db *db, const char *token_id);

#endif
