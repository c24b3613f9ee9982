/*
 * hash.h — SHA-256 (token hashes, batch digests), random bytes (tokens) and
 * the syntax checks for the hex digests and UUIDs that travel on the wire.
 * The only file that includes libcrypto.
 */
#ifndef DSC_HASH_H
#define DSC_HASH_H

#include <stddef.h>

#include "proto/proto.h"

#define DSC_SHA256_HEX 65              /* 64 lowercase hex digits and the terminator */
#define DSC_UUID_LEN DS_PROTO_UUID_LEN /* 36 characters and the terminator */

struct dsc_sha256; /* opaque streaming context */

/* new: free with dsc_sha256_free. NULL on DSC_ENOMEM. */
struct dsc_sha256 *dsc_sha256_new(void);
void dsc_sha256_update(struct dsc_sha256 *h, const void *p, size_t n);
/* Writes the lowercase hex digest into hex. The context is then spent. */
void dsc_sha256_final(struct dsc_sha256 *h, char hex[DSC_SHA256_HEX]);
/* NULL-safe; sets *h to NULL. */
void dsc_sha256_free(struct dsc_sha256 **h);

/* One-shot digest of a buffer. 0 or DSC_ENOMEM. */
int dsc_sha256_hex(const void *p, size_t n, char hex[DSC_SHA256_HEX]);

/* Fills out with 2 * nbytes lowercase hex digits of cryptographically
 * strong random bytes and a terminator (out holds 2 * nbytes + 1).
 * nbytes is at most 64. 0, DSC_EINVAL or DSC_EIO. */
int dsc_hash_random_hex(size_t nbytes, char *out);

/* 1 when s is exactly 64 lowercase hex digits, else 0. NULL-safe. */
int dsc_hash_is_sha256_hex(const char *s);

/* 1 when s is a UUID in the 8-4-4-4-12 hex form (either case), else 0.
 * When it is and out is not NULL, writes its lowercase form there. */
int dsc_hash_parse_uuid(const char *s, char out[DSC_UUID_LEN]);

#endif
