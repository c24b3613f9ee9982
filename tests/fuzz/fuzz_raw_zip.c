/*
 * fuzz_raw_zip.c — pairing a job's names with an item's values (ds_jsonw_zip,
 * as for the raw row and, absent fields left out, the record) on arbitrary
 * bytes: both come from the queue, which a damaged disk or a hand edit can
 * leave in any shape, so any pair must end in the object or DS_EPARSE,
 * never a read past either text. The input is the names, a NUL, then the
 * values (without a NUL: the same text as both), zipped in both modes. On
 * success the object starts with '{' and ends with '}'; a refusal leaves
 * the buffer as it was.
 */
#include "agent/core/buf.h"
#include "agent/core/error.h"
#include "agent/core/jsonw.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    const char *values;
    struct ds_buf b;
    int rc;

    if (text == NULL) {
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';
    values = memchr(text, '\0', size) != NULL ? text + strlen(text) + 1 : text;
    for (int flags = 0; flags <= DS_JSONW_ZIP_PRESENT; flags++) {
        ds_buf_init(&b, 1u << 20);
        rc = ds_jsonw_zip(&b, text, values, flags);
        if (rc == 0 && (b.len < 2 || b.data[0] != '{' || b.data[b.len - 1] != '}')) {
            abort();
        }
        if (rc != 0 && rc != DS_EPARSE && rc != DS_ETOOBIG && rc != DS_ENOMEM) {
            abort();
        }
        if (rc != 0 && b.len != 0) {
            abort(); /* a refusal leaves the buffer as it was */
        }
        ds_buf_close(&b);
    }
    free(text);
    return 0;
}
