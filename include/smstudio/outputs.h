/* SPDX-License-Identifier: Apache-2.0 */
/* The original module's outputs (its CfnOutput "metadata",
 * original-module.md §2.10) for one domain of the manifests, read live from
 * AWS on the loop, for `smstudioctl outputs` and io.smstudio.Outputs alike.
 *
 * Everything is read, never guessed: the domain by ListDomains then
 * DescribeDomain (ARN, home EFS id), the three role ARNs by GetRole on the
 * names sm_role_name() gives, the MLflow ARN by ListMlflowTrackingServers;
 * only StudioDomainName and StudioBucketName come from the manifest. A
 * desired resource that does not exist yet is an answer of its own (the
 * list of what is missing), not a value made up from the account and the
 * name. The reads run in parallel. */
#pragma once

#include <stddef.h>

#include "smstudio/awserr.h"
#include "smstudio/client.h"
#include "smstudio/desired.h"

/* The keys in the original's order (M/app.py). */
typedef enum sm_output_key {
        SM_OUTPUT_DOMAIN_NAME,
        SM_OUTPUT_EFS_ID,
        SM_OUTPUT_DOMAIN_ID,
        SM_OUTPUT_DOMAIN_ARN,
        SM_OUTPUT_BUCKET,
        SM_OUTPUT_DATA_SCIENTIST_ROLE,
        SM_OUTPUT_LEAD_ROLE,
        SM_OUTPUT_EXECUTION_ROLE,
        SM_OUTPUT_MLFLOW,
        _SM_OUTPUT_MAX,
} sm_output_key;

/* The key's name as the original's outputs spell it ("StudioDomainId"). */
const char *sm_output_label(sm_output_key key);

/* The domain outputs are asked of: the one named, or the only one when
 * name is NULL. NULL when there is no such domain (or several and no
 * name). */
const sm_domain *sm_outputs_pick(const sm_desired *desired, const char *name);

/* What a read found; everything borrowed for the done callback only.
 * Exactly one of three: error_code set (a call failed: the first failure),
 * else n_missing > 0 (desired resources AWS does not have yet), else the
 * values. */
typedef struct sm_outputs_result {
        /* NULL for a null output (no MLflow server, a domain without its
         * file system yet, no bucket in the manifest). */
        const char *const *values; /* _SM_OUTPUT_MAX, indexed by sm_output_key */
        /* "domain mlops-studio", "IAM role mlops-studio-lead-...", in
         * dependency order whatever order the answers came in. */
        const char *const *missing;
        size_t n_missing;
        /* The AWS error code ("AccessDeniedException"; "UnknownError" when
         * AWS gave none), or a local one: "MalformedResponse",
         * "InternalError". */
        const char *error_code;
        /* For a failed call: which, and its error (for a sentence an
         * operator acts on); aws_error NULL for a local failure. */
        const sm_aws_error *aws_error;
        sm_service_id aws_service;
        const char *aws_operation;
        /* A local failure's message (aws_error NULL). */
        const char *error_message;
} sm_outputs_result;

typedef void (*sm_outputs_done_fn)(const sm_outputs_result *result, void *userdata);

typedef struct sm_outputs_read sm_outputs_read;

/* Start reading domain's outputs (domain is copied) with client (borrowed;
 * freeing it ends the read with "Cancelled"). done runs once, from the
 * loop, never inside this call. 0 and *ret (ret may be NULL; the handle is
 * valid until done runs), or -errno and done never runs. */
int sm_outputs_read_start(sm_aws_client *client, const sm_domain *domain, sm_outputs_done_fn done,
                          void *userdata, sm_outputs_read **ret);

/* Let a read run to its end without calling done (its owner goes away).
 * Accepts NULL. */
void sm_outputs_read_abandon(sm_outputs_read *read);
