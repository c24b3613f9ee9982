/*
 * metrics.h — the operator's view of `serve`: request counts and latency
 * by endpoint, method and status, batch rows by import type and outcome,
 * replays, the agents of every practice by staleness and the database
 * pool's use, in the Prometheus text format; and the list of agents not
 * heard from. Served on a listener of its own (serve --metrics-listen),
 * never on the API's: it answers without a token.
 *
 * Nothing here carries a value of a row, a file name or a token: the
 * labels are route templates ("/v1/jobs/{id}"), methods, statuses, import
 * types and outcomes.
 */
#ifndef DSC_METRICS_H
#define DSC_METRICS_H

#include <stddef.h>

#include "cloud/api.h"

struct dsc_metrics;

/* new: *out, free with dsc_metrics_free. 0 or DSC_ENOMEM. */
int dsc_metrics_new(struct dsc_metrics **out);
/* NULL-safe; sets *m to NULL. */
void dsc_metrics_free(struct dsc_metrics **m);

/* Counts one answered request: method (a static string), resp as sent
 * (its endpoint, status and batch counts), seconds it took. Thread-safe. */
void dsc_metrics_request(struct dsc_metrics *m, const char *method, const struct dsc_response *resp,
                         double seconds);

/* GET /metrics: the exposition text into resp (status 200), the agents
 * and pool read from pool. 0 or DSC_ENOMEM. */
int dsc_metrics_render(struct dsc_metrics *m, struct dsc_db_pool *pool, struct dsc_response *resp);

/* GET /v1/agents[?stale=1][&stale_after=S] on the metrics listener: every
 * practice's agents, or only those not heard from within S seconds
 * (default DSC_AGENT_STALE_SECONDS), as JSON in resp. 0, or a DSC_E* code
 * with a 4xx or 503 in resp. */
int dsc_metrics_agents(struct dsc_db_pool *pool, const struct dsc_request *req,
                       struct dsc_response *resp);

#endif
