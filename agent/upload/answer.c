/*
 * answer.c — reads the cloud's answers (see answer.h). The only code that
 * looks inside an answer's body; upload.c decides what to do with it.
 */
#include "agent/upload/answer.h"

#include "agent/core/alloc.h"
#include "proto/proto.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An error code as the protocol spells them (proto.h), and one that fits
 * code[size]. Anything else (free text from a server that is not ours)
 * keeps the HTTP_<status> code, which is logged and stored. */
static int code_ok(const char *c, size_t size)
{
    size_t n = strlen(c);

    return ds_proto_code_valid(c, n) && n < size;
}

enum ds_answer_kind ds_answer_classify(const struct ds_http_response *res, char *code, size_t size,
                                       char *message, size_t msize)
{
    json_t *doc = NULL;
    json_t *err = NULL;
    const char *c = NULL;
    const char *m = NULL;
    enum ds_answer_kind kind;

    message[0] = '\0';
    if (res->curl_code != 0) {
        snprintf(code, size, "NET_%d", res->curl_code);
        return DS_ANSWER_RETRY;
    }
    if (res->status >= 200 && res->status < 300) {
        snprintf(code, size, "OK");
        return DS_ANSWER_OK;
    }
    snprintf(code, size, "HTTP_%ld", res->status);
    if (res->status == 408 || res->status == 429 || res->status >= 500 || res->status < 200) {
        return DS_ANSWER_RETRY;
    }
    if (res->status == 401 || res->status == 403) {
        kind = DS_ANSWER_AUTH;
    }
    else if (res->status == 413) {
        kind = DS_ANSWER_SPLIT;
    }
    else {
        kind = DS_ANSWER_REJECT;
    }
    if (res->body != NULL) {
        doc = json_loadb(res->body, res->body_len, 0, NULL);
    }
    err = json_object_get(doc, "error");
    if (json_unpack(err, "{s:s, s?s}", "code", &c, "message", &m) == 0) {
        if (code_ok(c, size)) {
            snprintf(code, size, "%s", c);
        }
        if (m != NULL) {
            snprintf(message, msize, "%s", m);
        }
    }
    json_decref(doc);
    return kind;
}

int ds_answer_results_parse(const char *body, size_t len, struct ds_answer_results *out)
{
    json_t *doc = NULL;
    json_t *results;
    size_t n;

    memset(out, 0, sizeof(*out));
    if (body == NULL) {
        return DS_EPARSE;
    }
    doc = json_loadb(body, len, 0, NULL);
    out->doc = doc;
    results = json_object_get(doc, "results");
    if (!json_is_array(results)) {
        return DS_EPARSE;
    }
    n = json_array_size(results);
    out->items = ds_calloc(n > 0 ? n : 1, sizeof(*out->items));
    if (out->items == NULL) {
        return DS_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        struct ds_item_result *it = &out->items[i];
        json_t *r = json_array_get(results, i);
        json_int_t row = 0;
        const char *status = NULL;
        json_t *error = NULL;

        if (json_unpack(r, "{s:I, s:s, s?s, s?o}", "row", &row, "status", &status, "record_id",
                        &it->record_id, "error", &error) != 0) {
            return DS_EPARSE;
        }
        it->row = (long)row;
        it->status = status;
        if (error != NULL) {
            json_unpack(error, "{s?s, s?s}", "code", &it->error_code, "message", &it->error_msg);
        }
    }
    out->n = n;
    return 0;
}

void ds_answer_results_close(struct ds_answer_results *out)
{
    if (out == NULL) {
        return;
    }
    ds_free(out->items);
    json_decref(out->doc);
    memset(out, 0, sizeof(*out));
}

int ds_answer_template_id_ok(const char *id)
{
    size_t n = strlen(id);

    if (n == 0 || n > 200 || id[0] == '.') {
        return 0;
    }
    return strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

int ds_answer_templates(const char *body, size_t len, ds_answer_template_cb cb, void *ctx)
{
    json_t *doc = NULL;
    json_t *list;
    int rc = DS_EPARSE;

    if (body == NULL) {
        goto out;
    }
    doc = json_loadb(body, len, 0, NULL);
    list = json_object_get(doc, "templates");
    if (!json_is_array(list)) {
        goto out;
    }
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *t = json_array_get(list, i);
        const char *id = json_string_value(json_object_get(t, "id"));
        json_t *mapping = json_object_get(t, "mapping_config");
        char *text = NULL;

        if (id == NULL || !ds_answer_template_id_ok(id) || !json_is_object(mapping)) {
            continue;
        }
        text = json_dumps(mapping, JSON_COMPACT | JSON_SORT_KEYS);
        cb(ctx, id, text);
        ds_alloc_json_free(text);
    }
    rc = 0;
out:
    json_decref(doc);
    return rc;
}
