/*
 * proto.c — the protocol's shared facts (see proto.h), linked by both the
 * agent and the cloud. No allocation, no state.
 */
#include "proto/proto.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

void ds_proto_digest_row(ds_proto_hash_fn update, void *hash, long row, const char *key,
                         const char *fingerprint)
{
    char num[24];
    int n = snprintf(num, sizeof(num), "%ld\t", row);

    update(hash, num, (size_t)n);
    if (key != NULL) {
        update(hash, key, strlen(key));
    }
    update(hash, "\t", 1);
    if (fingerprint != NULL) {
        update(hash, fingerprint, strlen(fingerprint));
    }
    update(hash, "\n", 1);
}

int ds_proto_key_valid(const char *key, size_t n)
{
    return n >= 1 && n <= DS_PROTO_KEY_MAX && strpbrk(key, "\t\n\r") == NULL;
}

int ds_proto_uuid_parse(const char *s, char *out)
{
    if (s == NULL || strlen(s) != DS_PROTO_UUID_LEN - 1) {
        return 0;
    }
    for (size_t i = 0; i < DS_PROTO_UUID_LEN - 1; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;

        if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i])) {
            return 0;
        }
    }
    if (out != NULL) {
        for (size_t i = 0; i < DS_PROTO_UUID_LEN - 1; i++) {
            out[i] = (char)tolower((unsigned char)s[i]);
        }
        out[DS_PROTO_UUID_LEN - 1] = '\0';
    }
    return 1;
}

int ds_proto_code_valid(const char *code, size_t n)
{
    if (n == 0 || n > DS_PROTO_CODE_MAX) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = code[i];

        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) {
            return 0;
        }
    }
    return 1;
}
