/*
 * hash.c — SHA-256 through libcrypto's EVP interface, UUIDs from the
 * kernel's random source through uv_random.
 */
#include "agent/core/hash.h"

#include "agent/core/alloc.h"
#include "agent/core/error.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <uv.h>

struct ds_sha256 {
    EVP_MD_CTX *ctx; /* owned */
};

struct ds_sha256 *ds_sha256_new(void)
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

void ds_sha256_update(struct ds_sha256 *h, const void *p, size_t n)
{
    EVP_DigestUpdate(h->ctx, p, n);
}

void ds_sha256_final(struct ds_sha256 *h, char hex[DS_SHA256_HEX])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;

    EVP_DigestFinal_ex(h->ctx, md, &len);
    for (unsigned int i = 0; i < 32; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[64] = '\0';
    /* The same digest again: no type given, so OpenSSL 3 does not look the
     * algorithm up anew (a fetch per hash cost more than the hash of a row). */
    EVP_DigestInit_ex(h->ctx, NULL, NULL);
}

void ds_sha256_free(struct ds_sha256 **h)
{
    if (h == NULL || *h == NULL) {
        return;
    }
    EVP_MD_CTX_free((*h)->ctx);
    ds_free(*h);
    *h = NULL;
}

int ds_sha256_hex(const void *p, size_t n, char hex[DS_SHA256_HEX])
{
    struct ds_sha256 *h = ds_sha256_new();

    if (h == NULL) {
        return DS_ENOMEM;
    }
    ds_sha256_update(h, p, n);
    ds_sha256_final(h, hex);
    ds_sha256_free(&h);
    return 0;
}

int ds_sha256_fd(int fd, char hex[DS_SHA256_HEX])
{
    struct ds_sha256 *h = NULL;
    char block[65536];
    off_t off = 0;
    ssize_t n;
    int rc = 0;

    h = ds_sha256_new();
    if (h == NULL) {
        rc = DS_ENOMEM;
        goto out;
    }
    for (;;) {
        n = pread(fd, block, sizeof(block), off);
        if (n == 0) {
            break;
        }
        if (n < 0) {
            rc = DS_EIO;
            goto out;
        }
        ds_sha256_update(h, block, (size_t)n);
        off += n;
    }
    ds_sha256_final(h, hex);
out:
    ds_sha256_free(&h);
    return rc;
}

int ds_uuid_v4(char out[DS_UUID_LEN])
{
    unsigned char b[16];

    if (uv_random(NULL, NULL, b, sizeof(b), 0, NULL) != 0) {
        return DS_EIO;
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, DS_UUID_LEN,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
    return 0;
}
