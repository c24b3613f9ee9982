/*
 * templates.h — the practice's saved import templates: list, read, save.
 * A template's id is chosen by the practice (1 to 200 of [A-Za-z0-9._-]);
 * POST /v1/jobs naming a saved template counts one more use of it.
 */
#ifndef DSC_TEMPLATES_H
#define DSC_TEMPLATES_H

#include "cloud/api.h"

/* GET /v1/templates: 200 {"templates":[…]} in id order. */
int dsc_templates_list(const struct dsc_ctx *ctx, struct dsc_response *resp);

/* GET /v1/templates/{id}: 200 with the template, or 404. */
int dsc_templates_get(const struct dsc_ctx *ctx, struct dsc_response *resp);

/* PUT /v1/templates/{id}: 201 created or 200 replaced (usage_count kept),
 * with the template; 422 for a bad body. */
int dsc_templates_put(const struct dsc_ctx *ctx, struct dsc_response *resp);

#endif
