/* SPDX-License-Identifier: Apache-2.0 */
/* IAM: what its answers need beyond the Query decoder. */
#pragma once

#include <jansson.h>

/* IAM returns policy documents (AssumeRolePolicyDocument, PolicyDocument)
 * URL-encoded (RFC 3986). Decode one and parse it as JSON: 0 and a new
 * reference, -EINVAL (bad escape) or -EBADMSG (not JSON) otherwise. An
 * already-decoded document (starting with '{') is parsed as is, so callers
 * need not know which IAM-compatible server they talk to. */
int sm_iam_policy_document_parse(const char *encoded, json_t **ret);

/* Whether two policy documents say the same: compared as parsed JSON, never
 * as text, with a lone string equal to a one-element list where IAM's
 * grammar allows both (Action, NotAction, Resource, NotResource, and the
 * values of Principal and Condition maps), and statement order kept. */
int sm_iam_policy_equal(const json_t *a, const json_t *b);
