/* SPDX-License-Identifier: Apache-2.0 */
/* The observer: reads AWS into an sm_observed, List calls first, Describe
 * only what is new or whose LastModifiedTime moved since the cached Describe
 * (plus a full sweep when asked). A steady pass over N users costs
 * O(N/100) List pages plus a constant, never O(N) calls. Runs on the loop
 * through sm_aws_call(); never blocks. */
#pragma once

#include <stdbool.h>

#include "smstudio/client.h"
#include "smstudio/desired.h"
#include "smstudio/observed.h"

/* Describe outputs and tags by ARN, with the LastModifiedTime they belong
 * to; kept across passes, in memory and in a file. */
typedef struct sm_observe_cache sm_observe_cache;

sm_observe_cache *sm_observe_cache_new(void);
sm_observe_cache *sm_observe_cache_free(sm_observe_cache *c);
/* Load / save atomically (a missing file is an empty cache). 0 or -errno. */
int sm_observe_cache_load(sm_observe_cache *c, const char *path);
int sm_observe_cache_save(const sm_observe_cache *c, const char *path);

typedef struct sm_observe_options {
        const sm_desired *desired; /* which domains, role paths and names to look at */
        const char *instance;      /* our ownership tag value */
        bool full_sweep;           /* Describe everything, ignoring the cache */
        /* Known account and partition: both set skips STS GetCallerIdentity;
         * NULL asks STS once per observation. */
        const char *account_id;
        const char *partition;
        unsigned max_in_flight; /* calls of this observation at once; 0 = 8 */
} sm_observe_options;

typedef struct sm_observe_stats {
        unsigned list_calls;
        unsigned describe_calls;
        unsigned other_calls; /* tags, IAM reads, portfolio */
        unsigned failed_calls;
} sm_observe_stats;

/* Called once from the loop. r is 0 or negative; on 0, *observed is handed
 * over (free it with sm_observed_free). Reads that failed are marked in
 * observed->incomplete rather than failing the whole observation. */
typedef void (*sm_observe_done_fn)(int r, sm_observed *observed, const sm_observe_stats *stats,
                                   void *userdata);

/* Start observing. opts and cache are borrowed until done runs; the cache
 * is updated (entries not seen this pass dropped, except those of kinds
 * whose List failed) just before done. Returns 0, or -EINVAL, -ENOMEM, or
 * -EIO when the client refused every call: then done never runs.
 *
 * Cache keys: the ARN for domains, MLflow servers and lifecycle configs
 * (their List output names it); "user-profile:<domain id>/<name>",
 * "space:<domain id>/<name>" and "app:<domain id>/<u|s>:<owner>/<type>/<name>"
 * for the others, whose List output has no ARN. An entry is current when
 * both LastModifiedTime and Status match the List's; apps have no
 * LastModifiedTime: their CreationTime stands in for it. */
int sm_observe_start(sm_aws_client *client, sm_observe_cache *cache, const sm_observe_options *opts,
                     sm_observe_done_fn done, void *userdata);
