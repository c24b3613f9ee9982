/*
 * fuzz_template.c — the template loader on arbitrary bytes: a template can
 * come from an admin's directory or the cloud, so any input must end in a
 * template or a clean error. A template that parses is also walked and
 * bound to a header made of its own aliases, as the mapper would, and that
 * header mapped as a data row (rules, picks, date votes, transforms).
 */
#include "agent/map/map.h"
#include "config/template.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_MAX_COLUMNS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *cols[FUZZ_MAX_COLUMNS];
    size_t lens[FUZZ_MAX_COLUMNS];
    struct ds_template *t = NULL;
    struct ds_mapper *m = NULL;
    struct ds_error err;
    struct ds_row header;
    size_t n = 0;

    if (ds_template_parse((const char *)data, size, "fuzz", &t, &err) != 0) {
        return 0;
    }
    for (size_t i = 0; i < ds_template_nfields(t); i++) {
        const struct ds_template_field *f = ds_template_field(t, i);

        if (f == NULL || f->name == NULL || f->transform == NULL || f->columns[0] == NULL) {
            abort();
        }
        for (const char *const *c = f->columns; *c != NULL && n < FUZZ_MAX_COLUMNS; c++) {
            cols[n] = *c;
            lens[n] = strlen(*c);
            n++;
        }
    }
    memset(&header, 0, sizeof(header));
    header.nfields = n;
    header.fields = cols;
    header.lens = lens;
    header.raw = "";
    if (ds_map_new(t, &header, &m, &err) == 0) {
        /* The header's names as a data row: rules, picks, date votes and
         * every transform run on text the template itself chose. */
        struct ds_mapped out;

        header.row = 1;
        (void)ds_map_rule(m, &header);
        ds_map_date_vote(m, &header);
        ds_map_date_decide(m);
        if (ds_map_row(m, &header, &out) == 0) {
            ds_mapped_close(&out);
        }
    }
    ds_map_free(&m);
    ds_template_free(&t);
    return 0;
}
