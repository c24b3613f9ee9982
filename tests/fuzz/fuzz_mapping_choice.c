/*
 * fuzz_mapping_choice.c — a person's choice on the status page's mapping
 * screen (the body of POST /api/mapping/preview and /api/mapping/save) on
 * arbitrary bytes: any input must end in a template the loader takes or a
 * clean error. A template that comes out is checked again by the loader
 * (ds_draft_from_choice checks it already: a second opinion that the two
 * agree), and its id, when the choice gave one, is one a person may save.
 */
#include "agent/map/draft.h"
#include "config/template.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct ds_template **list;
    static size_t n;
    struct ds_template *t = NULL;
    struct ds_error err;
    json_t *doc = NULL;
    char *text;
    int overwrite = 0;

    /* The built-in templates give the transforms, once for every input. */
    if (list == NULL && ds_template_list(NULL, &list, &n, NULL) != 0) {
        abort();
    }
    if (ds_draft_from_choice((const char *)data, size, list, n, "fuzz-preview", &doc, &overwrite,
                             &err) != 0) {
        if (doc != NULL) {
            abort();
        }
        return 0;
    }
    if (overwrite != 0 && overwrite != 1) {
        abort();
    }
    if (!ds_draft_id_valid(json_string_value(json_object_get(doc, "id")))) {
        abort();
    }
    text = json_dumps(doc, JSON_COMPACT);
    if (text == NULL || ds_template_parse(text, strlen(text), "fuzz", &t, &err) != 0) {
        abort();
    }
    free(text);
    ds_template_free(&t);
    json_decref(doc);
    return 0;
}
