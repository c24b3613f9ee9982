/*
 * fuzz_cloud_request.c — the cloud's parsing of a batch request on
 * arbitrary bytes: the body as `dentsync-cloud serve` gets it (inflated
 * first when it starts like gzip, as with Content-Encoding: gzip), then
 * the checks PUT /v1/jobs/{id}/batches/{seq} makes before it touches the
 * database, and the staging of its records under each import type.
 *
 * Any input must end in a parsed batch or a clean 422, never a crash, a
 * leak or undefined behaviour. A parsed batch must have 1 to
 * DSC_BATCH_MAX_ROWS rows, a 64-hex digest, and stage (for every type) as
 * a JSON array of exactly its rows; a refused one a 422 JSON error body.
 */
#include "cloud/api.h"
#include "cloud/batch.h"
#include "cloud/error.h"
#include "cloud/hash.h"
#include "cloud/http.h"
#include "cloud/record.h"

#include <jansson.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_staged(const struct dsc_batch *b, enum dsc_record_type type)
{
    char *text = NULL;
    json_t *rows;

    if (dsc_batch_stage(b, type, &text) != 0) {
        return; /* out of memory */
    }
    rows = json_loads(text, 0, NULL);
    if (!json_is_array(rows) || json_array_size(rows) != dsc_batch_rows(b)) {
        abort();
    }
    json_decref(rows);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum dsc_record_type types[] = {DSC_RECORD_PATIENTS, DSC_RECORD_APPOINTMENTS,
                                                 DSC_RECORD_TREATMENTS, DSC_RECORD_FINANCIAL};
    struct dsc_response resp;
    struct dsc_batch *b = NULL;
    const char *body = (const char *)data;
    char *inflated = NULL;
    size_t len = size;
    json_t *err;
    int rc;

    if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b) {
        if (dsc_http_inflate(body, size, &inflated, &len) != 0) {
            return 0; /* the server answers 413 or 422 before any parsing */
        }
        body = inflated;
    }
    dsc_response_init(&resp);
    rc = dsc_batch_parse(body, len, &b, &resp);
    if (rc == 0) {
        if (resp.status != 0 || dsc_batch_rows(b) < 1 || dsc_batch_rows(b) > DSC_BATCH_MAX_ROWS ||
            !dsc_hash_is_sha256_hex(dsc_batch_digest(b))) {
            abort();
        }
        for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
            check_staged(b, types[i]);
        }
    }
    else if (rc == DSC_EINVAL) {
        err = resp.body != NULL ? json_loads(resp.body, 0, NULL) : NULL;
        if (resp.status != 422 ||
            !json_is_string(json_object_get(json_object_get(err, "error"), "code"))) {
            abort();
        }
        json_decref(err);
    }
    dsc_batch_free(&b);
    dsc_response_close(&resp);
    free(inflated);
    return 0;
}
