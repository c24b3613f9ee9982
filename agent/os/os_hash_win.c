/*
 * os_hash_win.c — SHA-256 through Windows CNG (os_hash.h).
 *
 * Each context opens the algorithm provider once and keeps one reusable
 * hash object (BCRYPT_HASH_REUSABLE_FLAG, Windows 8 and later): after
 * BCryptFinishHash the same object starts the next stream, as the POSIX
 * half reuses its EVP context.
 */
#include "agent/os/os_hash.h"

#include "agent/core/alloc.h"

#include <windows.h>
#include <bcrypt.h>

#include <limits.h>

struct ds_sha256 {
    BCRYPT_ALG_HANDLE alg;   /* owned */
    BCRYPT_HASH_HANDLE hash; /* owned, reusable */
};

struct ds_sha256 *ds_os_sha256_new(void)
{
    struct ds_sha256 *h = ds_malloc(sizeof(*h));

    if (h == NULL) {
        return NULL;
    }
    h->alg = NULL;
    h->hash = NULL;
    if (!BCRYPT_SUCCESS(BCryptOpenAlgorithmProvider(&h->alg, BCRYPT_SHA256_ALGORITHM, NULL,
                                                    BCRYPT_HASH_REUSABLE_FLAG)) ||
        !BCRYPT_SUCCESS(
            BCryptCreateHash(h->alg, &h->hash, NULL, 0, NULL, 0, BCRYPT_HASH_REUSABLE_FLAG))) {
        ds_os_sha256_free(h);
        return NULL;
    }
    return h;
}

void ds_os_sha256_update(struct ds_sha256 *h, const void *p, size_t n)
{
    const unsigned char *b = p;

    /* BCryptHashData takes a ULONG length: feed a huge buffer in parts. */
    while (n > 0) {
        ULONG part = n > 0x40000000UL ? 0x40000000UL : (ULONG)n;

        BCryptHashData(h->hash, (PUCHAR)b, part, 0);
        b += part;
        n -= part;
    }
}

void ds_os_sha256_digest(struct ds_sha256 *h, unsigned char md[DS_OS_SHA256_LEN])
{
    BCryptFinishHash(h->hash, md, DS_OS_SHA256_LEN, 0);
}

void ds_os_sha256_free(struct ds_sha256 *h)
{
    if (h == NULL) {
        return;
    }
    if (h->hash != NULL) {
        BCryptDestroyHash(h->hash);
    }
    if (h->alg != NULL) {
        BCryptCloseAlgorithmProvider(h->alg, 0);
    }
    ds_free(h);
}

int ds_os_sha1(const void *p, size_t n, unsigned char md[DS_OS_SHA1_LEN])
{
    BCRYPT_ALG_HANDLE alg = NULL;
    NTSTATUS st;

    if (n > ULONG_MAX ||
        !BCRYPT_SUCCESS(BCryptOpenAlgorithmProvider(&alg, BCRYPT_SHA1_ALGORITHM, NULL, 0))) {
        return -1;
    }
    /* BCryptHash: the whole input at once, no hash object to keep. */
    st = BCryptHash(alg, NULL, 0, (PUCHAR)p, (ULONG)n, md, DS_OS_SHA1_LEN);
    BCryptCloseAlgorithmProvider(alg, 0);
    return BCRYPT_SUCCESS(st) ? 0 : -1;
}
