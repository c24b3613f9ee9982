/*
 * agents.h — agent heartbeats: each agent reports its version, queue depth,
 * the age of its oldest pending row and its last error code; the practice
 * asks "is it syncing?" with GET /v1/agents.
 */
#ifndef DSC_AGENTS_H
#define DSC_AGENTS_H

#include "cloud/api.h"

/* An agent whose last heartbeat is older than this is stale. */
#define DSC_AGENT_STALE_SECONDS 600

/* POST /v1/agents/heartbeat: 200 {"agent_id","received_at"}; 422. */
int dsc_agents_heartbeat(const struct dsc_ctx *ctx, struct dsc_response *resp);

/* GET /v1/agents: 200 {"stale_after_seconds", "agents":[…]}. */
int dsc_agents_list(const struct dsc_ctx *ctx, struct dsc_response *resp);

#endif
