/*
 * hash.c — SHA-256 from the platform's crypto library (agent/os/os_hash.h:
 * libcrypto on Linux, CNG on Windows), UUIDs from the system's random
 * source through uv_random.
 */
#include "agent/core/hash.h"

#include "agent/core/alloc.h"
#include "agent/core/error.h"

#include "agent/os/os_fs.h"
#include "agent/os/os_hash.h"

#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

struct ds_sha256 *ds_sha256_new(void)
{
    return ds_os_sha256_new();
}

void ds_sha256_update(struct ds_sha256 *h, const void *p, size_t n)
{
    ds_os_sha256_update(h, p, n);
}

void ds_sha256_final(struct ds_sha256 *h, char hex[DS_SHA256_HEX])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char md[DS_OS_SHA256_LEN];

    ds_os_sha256_digest(h, md);
    for (unsigned int i = 0; i < DS_OS_SHA256_LEN; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[64] = '\0';
}

void ds_sha256_free(struct ds_sha256 **h)
{
    if (h == NULL || *h == NULL) {
        return;
    }
    ds_os_sha256_free(*h);
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
    int64_t off = 0;
    size_t n;
    int rc = 0;

    h = ds_sha256_new();
    if (h == NULL) {
        rc = DS_ENOMEM;
        goto out;
    }
    for (;;) {
        if (ds_os_pread(fd, block, sizeof(block), off, &n) != 0) {
            rc = DS_EIO;
            goto out;
        }
        if (n == 0) {
            break;
        }
        ds_sha256_update(h, block, n);
        off += (int64_t)n;
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
