/*
 * hash.h — SHA-256 (file identity, row keys, fingerprints, batch digests)
 * and random UUIDs (job ids). Wraps libcrypto and libuv's uv_random.
 */
#ifndef DS_CORE_HASH_H
#define DS_CORE_HASH_H

#include <stddef.h>

#include "proto/proto.h"

#define DS_SHA256_HEX 65              /* 64 hex digits and the terminator */
#define DS_UUID_LEN DS_PROTO_UUID_LEN /* 36 characters and the terminator */

struct ds_sha256; /* opaque streaming context */

/* new: free with ds_sha256_free. NULL on DS_ENOMEM. */
struct ds_sha256 *ds_sha256_new(void);
void ds_sha256_update(struct ds_sha256 *h, const void *p, size_t n);
/* Writes the lowercase hex digest into hex and resets the context. */
void ds_sha256_final(struct ds_sha256 *h, char hex[DS_SHA256_HEX]);
void ds_sha256_free(struct ds_sha256 **h);

/* One-shot digest of a buffer. Returns 0 or DS_ENOMEM. */
int ds_sha256_hex(const void *p, size_t n, char hex[DS_SHA256_HEX]);

/* Digest of the whole file fd is open on (from its start, whatever the
 * descriptor's offset), read in blocks. 0, DS_EIO or DS_ENOMEM. */
int ds_sha256_fd(int fd, char hex[DS_SHA256_HEX]);

/* A random (version 4) UUID in its canonical lowercase form. 0 or DS_EIO. */
int ds_uuid_v4(char out[DS_UUID_LEN]);

#endif
