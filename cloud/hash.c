/*
 * hash.c — SHA-256 and random bytes through libcrypto (EVP and RAND_bytes),
 * and syntax checks for hex digests and UUIDs.
 */
#include "cloud/hash.h"
#include "cloud/error.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

struct dsc_sha256 {
    EVP_MD_CTX *ctx; /* owned */
};

static const char hex_digits[] = "0123456789abcdef";

static void to_hex(const unsigned char *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex_digits[p[i] >> 4];
        out[2 * i + 1] = hex_digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

struct dsc_sha256 *dsc_sha256_new(void)
{
    struct dsc_sha256 *h = calloc(1, sizeof(*h));

    if (h == NULL) {
        return NULL;
    }
    h->ctx = EVP_MD_CTX_new();
    if (h->ctx == NULL || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
        dsc_sha256_free(&h);
        return NULL;
    }
    return h;
}

void dsc_sha256_update(struct dsc_sha256 *h, const void *p, size_t n)
{
    EVP_DigestUpdate(h->ctx, p, n);
}

void dsc_sha256_final(struct dsc_sha256 *h, char hex[DSC_SHA256_HEX])
{
    unsigned char md[32];
    unsigned int len = 0;

    EVP_DigestFinal_ex(h->ctx, md, &len);
    to_hex(md, 32, hex);
}

void dsc_sha256_free(struct dsc_sha256 **h)
{
    if (h == NULL || *h == NULL) {
        return;
    }
    EVP_MD_CTX_free((*h)->ctx);
    free(*h);
    *h = NULL;
}

int dsc_sha256_hex(const void *p, size_t n, char hex[DSC_SHA256_HEX])
{
    struct dsc_sha256 *h = dsc_sha256_new();

    if (h == NULL) {
        return DSC_ENOMEM;
    }
    dsc_sha256_update(h, p, n);
    dsc_sha256_final(h, hex);
    dsc_sha256_free(&h);
    return 0;
}

int dsc_hash_random_hex(size_t nbytes, char *out)
{
    unsigned char buf[64];

    if (nbytes > sizeof(buf)) {
        return DSC_EINVAL;
    }
    if (RAND_bytes(buf, (int)nbytes) != 1) {
        return DSC_EIO;
    }
    to_hex(buf, nbytes, out);
    OPENSSL_cleanse(buf, sizeof(buf));
    return 0;
}

int dsc_hash_is_sha256_hex(const char *s)
{
    if (s == NULL || strlen(s) != 64) {
        return 0;
    }
    for (size_t i = 0; i < 64; i++) {
        if (strchr(hex_digits, s[i]) == NULL) {
            return 0;
        }
    }
    return 1;
}

int dsc_hash_parse_uuid(const char *s, char out[DSC_UUID_LEN])
{
    return ds_proto_uuid_parse(s, out);
}
