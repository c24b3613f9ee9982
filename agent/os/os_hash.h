/*
 * os_hash.h — SHA-256 from the platform's crypto library: libcrypto
 * (OpenSSL) on Linux, CNG (bcrypt.dll) on Windows. agent/core/hash.h is
 * what callers use; this is the engine under it, one context per stream.
 */
#ifndef DS_OS_HASH_H
#define DS_OS_HASH_H

#include <stddef.h>

#define DS_OS_SHA256_LEN 32 /* digest bytes */
#define DS_OS_SHA1_LEN 20

struct ds_sha256; /* defined by the platform's half */

/* new: free with ds_os_sha256_free. NULL when out of memory or when the
 * algorithm is not available. */
struct ds_sha256 *ds_os_sha256_new(void);

void ds_os_sha256_update(struct ds_sha256 *h, const void *p, size_t n);

/* Writes the digest of everything updated since the last reset into md,
 * then resets h for the next stream. */
void ds_os_sha256_digest(struct ds_sha256 *h, unsigned char md[DS_OS_SHA256_LEN]);

/* NULL-safe. */
void ds_os_sha256_free(struct ds_sha256 *h);

/* The SHA-1 of p[0..n) into md, at once: only for identifiers that
 * Windows derives with it (os_service_sid), never for integrity. 0, or -1
 * when the algorithm is not available. */
int ds_os_sha1(const void *p, size_t n, unsigned char md[DS_OS_SHA1_LEN]);

#endif
