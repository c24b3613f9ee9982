/*
 * fuzz_answer.c — the agent's reading of the cloud's answers on arbitrary
 * bytes: an answer comes over the network, so any body must end in a
 * classification, the rows' results or DS_EPARSE, never a crash. Each input
 * is read as every kind of answer the agent gets: the error of a refused
 * job open, batch or complete (4xx), a batch's per-row results, and the
 * practice's saved templates, each of which is then checked as a template
 * exactly as the agent does before caching it. The heartbeat's answer is
 * only classified.
 */
#include "agent/upload/answer.h"
#include "config/template.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_template(void *ctx, const char *id, const char *text)
{
    struct ds_template *t = NULL;

    (void)ctx;
    if (!ds_answer_template_id_ok(id)) {
        abort();
    }
    if (text != NULL) {
        (void)ds_template_parse(text, strlen(text), id, &t, NULL);
    }
    ds_template_free(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const long statuses[] = {200, 400, 401, 404, 409, 413, 422, 429, 503};
    struct ds_answer_results r;
    struct ds_http_response res;
    char code[64];
    char message[256];
    char *copy = malloc(size + 1);

    if (copy == NULL) {
        return 0;
    }
    /* Not NUL-terminated in general: the agent gets a length with it. */
    memcpy(copy, data, size);
    copy[size] = '\0';
    memset(&res, 0, sizeof(res));
    res.body = copy;
    res.body_len = size;
    res.retry_after = -1;
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        enum ds_answer_kind k;

        res.status = statuses[i];
        k = ds_answer_classify(&res, code, sizeof(code), message, sizeof(message));
        if (code[0] == '\0' || strlen(code) >= sizeof(code) || strlen(message) >= sizeof(message) ||
            (res.status == 200) != (k == DS_ANSWER_OK)) {
            abort();
        }
    }
    if (ds_answer_results_parse(copy, size, &r) == 0) {
        for (size_t i = 0; i < r.n; i++) {
            if (r.items[i].status == NULL) {
                abort();
            }
        }
    }
    ds_answer_results_close(&r);
    (void)ds_answer_templates(copy, size, check_template, NULL);
    free(copy);
    return 0;
}
