/*
 * answer.h — what the cloud's answers mean, read from their bytes: the
 * classification every answer gets once, the per-row results of a batch,
 * and the list of a practice's saved templates. No I/O and no queue: the
 * uploader acts on what these return, and the fuzz target
 * tests/fuzz/fuzz_answer.c feeds them arbitrary bytes.
 *
 * An answer is untrusted input: any bytes, of any length, must end in a
 * classification or DS_EPARSE, never a crash (the body need not be
 * NUL-terminated, and a code or message longer than the caller's buffer is
 * cut).
 */
#ifndef DS_UPLOAD_ANSWER_H
#define DS_UPLOAD_ANSWER_H

#include "agent/upload/http.h"
#include "state/store_upload.h"

#include <stddef.h>

/* The one classification of an answer (upload.h has the table). */
enum ds_answer_kind {
    DS_ANSWER_OK,     /* 2xx */
    DS_ANSWER_RETRY,  /* no answer, 408, 429, 5xx, 1xx */
    DS_ANSWER_AUTH,   /* 401, 403 */
    DS_ANSWER_SPLIT,  /* 413 */
    DS_ANSWER_REJECT, /* any other 4xx */
};

/* Classifies res and writes its code into code ("OK", "NET_n", "HTTP_n",
 * or the server's error.code of a 4xx) and the server's error.message into
 * message ("" when none). Both buffers are always NUL-terminated. */
enum ds_answer_kind ds_answer_classify(const struct ds_http_response *res, char *code, size_t size,
                                       char *message, size_t msize);

/* The per-row results of a batch's 200 answer. */
struct ds_answer_results {
    struct ds_item_result *items; /* owned: n results; their strings point into doc */
    size_t n;                     /* number of results */
    void *doc;                    /* owned: the parsed answer */
};

/* Parses body ({"results":[{"row":N,"status":"…", "record_id"?, "error"?}]})
 * into out, which the caller releases with ds_answer_results_close even on
 * failure. 0, DS_EPARSE (not that shape) or DS_ENOMEM. */
int ds_answer_results_parse(const char *body, size_t len, struct ds_answer_results *out);

/* Frees what ds_answer_results_parse made; leaves out empty. NULL-safe. */
void ds_answer_results_close(struct ds_answer_results *out);

/* Called once per saved template of a GET /v1/templates answer whose id is
 * safe as a file name and whose mapping_config is an object. text (borrow,
 * for the call only) is that object as compact JSON with sorted keys, or
 * NULL when it could not be written out (no memory). */
typedef void (*ds_answer_template_cb)(void *ctx, const char *id, const char *text);

/* Walks body ({"templates":[{"id":"…","mapping_config":{…}}, …]}). Returns 0
 * with one call of cb per usable entry, or DS_EPARSE (no templates array:
 * cb not called). */
int ds_answer_templates(const char *body, size_t len, ds_answer_template_cb cb, void *ctx);

/* Whether id can name a cached template file: 1 to 200 characters of
 * [A-Za-z0-9._-], not starting with a dot. */
int ds_answer_template_id_ok(const char *id);

#endif
