/*
 * fuzz_normalize.c — every normalizer on arbitrary bytes. The first byte
 * picks the transform (or the TZif parser, or date-order voting), the
 * second the options; the rest is the value. Each must end in a value, an
 * absence or a fixed problem phrase, never read outside its input.
 */
#include "agent/core/buf.h"
#include "agent/core/error.h"
#include "agent/map/normalize.h"
#include "agent/map/tz.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const transforms[] = {
    "text",
    "upper",
    "lower",
    "email",
    "gender",
    "date",
    "datetime",
    "time",
    "phone",
    "name",
    "money",
    "integer",
    "duration",
    "slot_pattern",
    "cdt",
    "tooth",
    "surface",
    "patient_status",
    "appointment_status",
    "treatment_status",
    "financial_kind",
    "payment_method",
    "opendental_aptstatus",
    "opendental_procstatus",
    "opendental_patstatus",
};

#define NTRANSFORMS (sizeof(transforms) / sizeof(transforms[0]))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct ds_tz *chicago = NULL;
    struct ds_norm_opts o;
    struct ds_buf out;
    const char *problem = NULL;
    char *copy;
    size_t n;
    int rc;

    if (size < 2) {
        return 0;
    }
    if (chicago == NULL) {
        (void)ds_tz_load("America/Chicago", &chicago, NULL);
    }
    n = size - 2;
    /* An exact-size copy, so reading past the value is caught. */
    copy = malloc(n > 0 ? n : 1);
    if (copy == NULL) {
        return 0;
    }
    memcpy(copy, data + 2, n);
    memset(&o, 0, sizeof(o));
    o.date_order = (enum ds_date_order)(data[1] & 3);
    o.decimal_comma = (data[1] >> 2) & 1;
    o.year_pivot = (data[1] >> 3) & 1 ? 50 : 0;
    memcpy(o.phone_region, (data[1] >> 4) & 1 ? "GB" : "US", 3);
    o.tz = (data[1] >> 5) & 1 ? chicago : NULL;
    ds_buf_init(&out, 4096);
    if (data[0] == 0xff) {
        struct ds_tz *tz = NULL;

        if (ds_tz_parse(data + 2, n, "fuzz", &tz) == 0) {
            int64_t utc = 0;

            for (int64_t t = -4000000000LL; t < 8000000000LL; t += 86400LL * 97) {
                (void)ds_tz_offset_at(tz, t);
                (void)ds_tz_local_to_utc(tz, t, &utc, NULL);
            }
        }
        ds_tz_free(&tz);
    }
    else if (data[0] == 0xfe) {
        struct ds_date_votes v;

        memset(&v, 0, sizeof(v));
        ds_norm_date_vote(&v, copy, n);
        (void)ds_norm_date_order_infer(&v);
    }
    else if (data[0] == 0xfd) {
        struct ds_buf first;

        ds_buf_init(&first, 4096);
        (void)ds_norm_split_name(copy, n, data[1] & 1, &out, &first, &problem);
        ds_buf_close(&first);
    }
    else {
        ds_norm_opt_fn fn = ds_norm_lookup_opt(transforms[data[0] % NTRANSFORMS]);

        rc = fn(&o, copy, n, &out, &problem);
        if (rc == DS_EINVAL && problem == NULL) {
            abort();
        }
        if (rc == DS_NORM_ABSENT && out.len != 0) {
            abort();
        }
    }
    ds_buf_close(&out);
    free(copy);
    return 0;
}
