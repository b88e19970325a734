/* SPDX-License-Identifier: Apache-2.0 */
/* The observer: reads AWS into an sm_observed, List calls first, Describe
 * only what is new or whose LastModifiedTime moved since the cached Describe
 * (plus a full sweep when asked). A steady pass over N users costs
 * O(N/100) List pages plus a constant, never O(N) calls. Runs on the loop
 * through sm_aws_call(); never blocks. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "smstudio/client.h"
#include "smstudio/desired.h"
#include "smstudio/observed.h"

/* Describe outputs and tags by resource, with the LastModifiedTime and
 * Status they belong to; kept across passes, in memory and in a file.
 *
 * Compact by design (a 5,000-user estate must fit a small daemon): the
 * cache is the last observation's model, handed back after planning
 * (sm_observe_cache_keep()), never a copy of it; the Describe of profiles,
 * spaces and apps is kept without the members no request sets (their
 * DomainId, name, ARN, Status, CreationTime, LastModifiedTime,
 * HomeEfsFileSystemUid), so the model shows it that way too; equal JSON
 * values are shared. The file (mode 0600) is a header line
 * {"version":2} then one resource per line; a file of another version is
 * ignored whole. */
typedef struct sm_observe_cache sm_observe_cache;

sm_observe_cache *sm_observe_cache_new(void);
sm_observe_cache *sm_observe_cache_free(sm_observe_cache *c);
/* Replace the cache with the file's content (a missing file is an empty
 * cache). 0; -EPROTONOSUPPORT for a file of another version, -EBADMSG for
 * a broken one, other -errno: then the cache is empty (only a cost: what
 * it would have spared is read again). */
int sm_observe_cache_load(sm_observe_cache *c, const char *path);
/* Save atomically. 0 or -errno. */
int sm_observe_cache_save(const sm_observe_cache *c, const char *path);

/* Give the model of the last observation (done callback) back to the
 * cache once planned from, instead of freeing it: it is what the next
 * observation takes its answers from. Takes o over, also on failure.
 * Roles and the portfolio are not kept. 0, -EINVAL, -ENOMEM. */
int sm_observe_cache_keep(sm_observe_cache *c, sm_observed *o);

/* A profile or space create that a List showed settled, recorded as if
 * Describe and ListTags had been asked: its request (the fields it set,
 * its Tags) with the Status, LastModifiedTime and ARN of listed
 * (sm_action_result.listed). Until that entry's LastModifiedTime or Status
 * moves, or a full sweep, the observer trusts the request for what the
 * resource's settings and tags are; that the resource exists and settled
 * is what the List read from AWS. operation is "CreateUserProfile" or
 * "CreateSpace". Not during an observation. 0, -EINVAL, -ENOMEM. */
int sm_observe_cache_seed(sm_observe_cache *c, const char *operation, const json_t *params,
                          const json_t *listed);

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

/* Start observing. opts and cache are borrowed until done runs. The
 * observation takes the cache's model over and moves what is still current
 * (same LastModifiedTime and Status as the List shows) into the new one;
 * when done runs, the cache holds only the old entries of kinds whose List
 * failed, until sm_observe_cache_keep() gives it the new model (without
 * that, the next observation describes everything again). Returns 0, or
 * -EINVAL, -ENOMEM, or -EIO when the client refused every call: then done
 * never runs.
 *
 * Resources are matched by kind, domain id and name (apps: also owner and
 * type). Apps have no LastModifiedTime: their CreationTime stands in for
 * it. */
int sm_observe_start(sm_aws_client *client, sm_observe_cache *cache, const sm_observe_options *opts,
                     sm_observe_done_fn done, void *userdata);
