/*
 * os_service_sid.c — the identifier Windows gives a service's own account
 * (os_service.h), worked out the same way on every platform so that the
 * tests check it on Linux too.
 *
 * NT SERVICE\NAME is S-1-5-80-a-b-c-d-e: the SECURITY_NT_AUTHORITY, the
 * sub-authority SECURITY_SERVICE_ID_BASE_RID (80), then the 20 bytes of
 * the SHA-1 of NAME in upper case and UTF-16LE, read as five
 * little-endian 32-bit numbers.
 */
#include "agent/os/os_service.h"

#include "agent/os/os_hash.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define NAME_MAX_CHARS 256 /* the Service Control Manager's limit */

int os_service_sid_of(const char *name, char *out, size_t size)
{
    unsigned char wide[NAME_MAX_CHARS * 2];
    unsigned char md[DS_OS_SHA1_LEN];
    size_t n = strlen(name);
    uint32_t part[5];
    int len;

    if (n == 0 || n > NAME_MAX_CHARS) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];

        if (c >= 0x80) {
            return -1; /* upper case beyond ASCII is the system's table */
        }
        wide[2 * i] = (unsigned char)(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
        wide[2 * i + 1] = 0;
    }
    if (ds_os_sha1(wide, 2 * n, md) != 0) {
        return -1;
    }
    for (int i = 0; i < 5; i++) {
        part[i] = (uint32_t)md[4 * i] | (uint32_t)md[4 * i + 1] << 8 |
                  (uint32_t)md[4 * i + 2] << 16 | (uint32_t)md[4 * i + 3] << 24;
    }
    len = snprintf(out, size, "S-1-5-80-%lu-%lu-%lu-%lu-%lu", (unsigned long)part[0],
                   (unsigned long)part[1], (unsigned long)part[2], (unsigned long)part[3],
                   (unsigned long)part[4]);
    return len > 0 && (size_t)len < size ? 0 : -1;
}
