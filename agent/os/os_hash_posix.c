/*
 * os_hash_posix.c — SHA-256 through libcrypto's EVP interface (os_hash.h).
 */
#include "agent/os/os_hash.h"

#include "agent/core/alloc.h"

#include <openssl/evp.h>

struct ds_sha256 {
    EVP_MD_CTX *ctx; /* owned */
};

struct ds_sha256 *ds_os_sha256_new(void)
{
    struct ds_sha256 *h = ds_malloc(sizeof(*h));

    if (h == NULL) {
        return NULL;
    }
    h->ctx = EVP_MD_CTX_new();
    if (h->ctx == NULL || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(h->ctx);
        ds_free(h);
        return NULL;
    }
    return h;
}

void ds_os_sha256_update(struct ds_sha256 *h, const void *p, size_t n)
{
    EVP_DigestUpdate(h->ctx, p, n);
}

void ds_os_sha256_digest(struct ds_sha256 *h, unsigned char md[DS_OS_SHA256_LEN])
{
    unsigned char full[EVP_MAX_MD_SIZE];
    unsigned int len = 0;

    EVP_DigestFinal_ex(h->ctx, full, &len);
    for (unsigned int i = 0; i < DS_OS_SHA256_LEN; i++) {
        md[i] = full[i];
    }
    /* The same digest again: no type given, so OpenSSL 3 does not look the
     * algorithm up anew (a fetch per hash cost more than the hash of a row). */
    EVP_DigestInit_ex(h->ctx, NULL, NULL);
}

void ds_os_sha256_free(struct ds_sha256 *h)
{
    if (h == NULL) {
        return;
    }
    EVP_MD_CTX_free(h->ctx);
    ds_free(h);
}

int ds_os_sha1(const void *p, size_t n, unsigned char md[DS_OS_SHA1_LEN])
{
    unsigned char full[EVP_MAX_MD_SIZE];
    unsigned int len = 0;

    if (EVP_Digest(p, n, full, &len, EVP_sha1(), NULL) != 1 || len != DS_OS_SHA1_LEN) {
        return -1;
    }
    for (unsigned int i = 0; i < DS_OS_SHA1_LEN; i++) {
        md[i] = full[i];
    }
    return 0;
}
