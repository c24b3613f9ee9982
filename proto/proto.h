/*
 * proto.h — the facts of the wire protocol (docs/protocol.md) that the agent
 * and the cloud must both hold, written once: both link proto.c.
 *
 * The agent builds batches within these limits, names its jobs with these
 * ids, hashes these digest lines and reads these codes; the cloud checks the
 * same limits, parses the same ids, hashes the same lines and writes the same
 * codes. A change here is a change of the protocol: docs/protocol.md first.
 *
 * Plain C and libc only (no agent or cloud header), so that both sides can
 * link it as it is.
 */
#ifndef DS_PROTO_H
#define DS_PROTO_H

#include <stddef.h>

/* A request body, as sent and again once inflated (the cloud answers 413
 * past it; the agent's max_batch_kb may not exceed it). */
#define DS_PROTO_MAX_BODY ((size_t)32 * 1024 * 1024)

/* Rows in one batch (the cloud refuses more; the agent's batch_rows may not
 * exceed it). */
#define DS_PROTO_MAX_BATCH_ROWS 10000

/* A row's key: "ext:<external id>" when the export gives one, else
 * "h:<sha256 hex of the normalized match keys>"; 1 to DS_PROTO_KEY_MAX
 * bytes, no tab, CR or LF (ds_proto_key_valid). */
#define DS_PROTO_KEY_EXT "ext:"
#define DS_PROTO_KEY_HASH "h:"
#define DS_PROTO_KEY_MAX 512

/* A UUID in its canonical 8-4-4-4-12 hex form, and the terminator. */
#define DS_PROTO_UUID_LEN 37

/* An error code: 1 to DS_PROTO_CODE_MAX of A-Z, 0-9 and '_'. */
#define DS_PROTO_CODE_MAX 64

/* Feeds n bytes to a hash (the agent's and the cloud's SHA-256 differ). */
typedef void (*ds_proto_hash_fn)(void *hash, const void *p, size_t n);

/* Feeds one row's Batch-Digest line, "<row>\t<key>\t<fingerprint>\n", to
 * hash. The Batch-Digest is the SHA-256 of these lines over the batch's rows
 * in ascending row order; a deletion row's fingerprint is "delete". A NULL
 * key or fingerprint is hashed as empty. */
void ds_proto_digest_row(ds_proto_hash_fn update, void *hash, long row, const char *key,
                         const char *fingerprint);

/* 1 when key (n bytes, NUL-terminated) is a key the protocol accepts: 1 to
 * DS_PROTO_KEY_MAX bytes, no tab, CR or LF. */
int ds_proto_key_valid(const char *key, size_t n);

/* 1 when s is a UUID in the 8-4-4-4-12 hex form (either case), else 0; when
 * out is not NULL it receives s in lowercase. */
int ds_proto_uuid_parse(const char *s, char *out);

/* 1 when code (n bytes) is spelled as an error code is (DS_PROTO_CODE_MAX). */
int ds_proto_code_valid(const char *code, size_t n);

#endif
