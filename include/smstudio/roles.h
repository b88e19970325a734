/* SPDX-License-Identifier: Apache-2.0 */
/* The IAM roles a domain needs, as desired objects: names, path, boundary,
 * trust policy, managed and inline policies and tags, all computed from the
 * domain and a small context. Pure: no I/O, no clock, no globals, so the
 * planner and the tests get the same answer for the same input.
 *
 * Parity with the original module is its §3 (original-module.md), with the
 * defects of its §8 fixed; every deviation is commented where the policy is
 * built (src/reconcile/roles.c).
 *
 * Role names. IAM wants 1-64 characters of [\w+=,.@-], unique without
 * regard to case. A role is named "<domain part>.<kind>", kind being
 * sm_role_kind_to_string(): "data-scientist", "lead-data-scientist",
 * "sagemaker-execution", "mlflow". The domain part is the domain name
 * when it is at most SM_ROLE_DOMAIN_PART_MAX (44) characters, so that the
 * longest kind still fits in 64; a longer name (SageMaker allows 63) is cut
 * to its first 35 characters, trailing hyphens dropped, followed by "." and
 * the first 8 hex digits of the SHA-256 of the whole domain name. All four
 * roles of a domain share one domain part.
 *
 * Why '.' and not '-': domain names are letters, digits and hyphens only,
 * so the first '.' ends the domain part and names cannot collide across
 * domains. With '-' they would: domain "a-lead"'s data scientist role and
 * domain "a"'s lead role would both be "a-lead-data-scientist". A cut name
 * has two dots and a whole one has one, so those cannot collide either.
 *
 * What the names do not guard against: IAM is per account, not per region,
 * and case-insensitive. Two domains of one name in two regions of one
 * account, or two domains whose names differ only in case, map to the same
 * roles; the second instance sees a role tagged by another and reports a
 * conflict (the ownership rule), and the manifest checks should refuse
 * names equal but for case within one instance. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "smstudio/desired.h"

/* What the roles need besides the domain. Every string is borrowed. */
typedef struct sm_role_context {
        const char *partition;  /* "aws", "aws-cn", "aws-us-gov", ... */
        const char *account_id; /* 12 digits */
        const char *region;     /* "eu-west-1" */
        /* NULL until the domain exists. The resource-isolation policy names
         * the domain id, so it is a second phase: without an id the roles
         * come without it, and the planner adds it once the domain has one. */
        const char *domain_id;
        const char *instance; /* the value of the smstudio:managed-by tag */
} sm_role_context;

typedef enum sm_role_kind {
        SM_ROLE_DATA_SCIENTIST,      /* §3.2 */
        SM_ROLE_LEAD_DATA_SCIENTIST, /* §3.3 */
        SM_ROLE_EXECUTION,           /* §3.4: the domain's default execution role */
        SM_ROLE_MLFLOW,              /* §3.5: only when mlflow_enabled */
        _SM_ROLE_KIND_MAX,
} sm_role_kind;

typedef struct sm_inline_policy {
        char *name;       /* SM_ROLE_POLICY_MAIN or SM_ROLE_POLICY_ISOLATION */
        json_t *document; /* owned reference */
} sm_inline_policy;

typedef struct sm_desired_role {
        sm_role_kind kind;
        char *name;
        char *path; /* the domain's role_path, or "/" */
        char *arn;  /* arn:<partition>:iam::<account>:role<path><name> */
        char *description;
        char *permissions_boundary_arn; /* NULL: none */
        json_t *trust_policy;           /* AssumeRolePolicyDocument */
        char **managed_policy_arns;     /* sorted (strcmp), NULL-terminated, never NULL */
        size_t n_managed;
        sm_inline_policy *inline_policies; /* sorted by name */
        size_t n_inline;
        /* Isolation is on for this role but the context had no domain id:
         * the role comes without SM_ROLE_POLICY_ISOLATION, and one seen on
         * it is not unwanted (must not be deleted). */
        bool isolation_pending;
        sm_tags tags;     /* smstudio:managed-by first, then the domain's tags */
        sm_source source; /* the domain's */
} sm_desired_role;

/* Longest domain name used whole in role names. */
#define SM_ROLE_DOMAIN_PART_MAX 44
/* IAM limits the roles are built to respect. */
#define SM_ROLE_NAME_MAX        64
#define SM_ROLE_INLINE_SIZE_MAX 10240 /* all inline policies of a role, whitespace not counted */
#define SM_ROLE_TAGS_MAX        50
/* Prefix of every inline policy name smstudio writes. The planner deletes
 * inline policies of our roles that carry it and are not desired, which is
 * how roles of an earlier smstudio lose their retired documents. */
#define SM_ROLE_POLICY_PREFIX "smstudio-"
/* Inline policies. Every role has exactly one main document holding all
 * the statements the original module spread over separate policies (§3.7:
 * sm-deny-policy, services-policy, kms-policy, s3-policy, cdk_deploy_policy,
 * DescribeImageVersion, mlflow_policy, mlflow-server-policy), because IAM
 * has no cheap way to read a role's inline policies: one GetRolePolicy per
 * document, every pass. Each statement's Sid is the original policy's name
 * in CamelCase plus what the statement is for ("SmDenyCreateProject",
 * "ServicesEcr", "S3DenyDeleteBucket", "Kms", "CdkDeployPassRole",
 * "DescribeImageVersion", "Mlflow", "MlflowServerS3"): IAM Sids are
 * [A-Za-z0-9] only, and unique within a document.
 *
 * The resource-isolation deny ("DomainResourceIsolation") stays a document
 * of its own on the three user-facing roles, at the price of one more
 * GetRolePolicy per role and pass: it names the domain id, which exists
 * only after the domain, so it arrives in a second phase and goes when
 * isolation is turned off, and neither must rewrite the main document.
 * Above all, a pass that cannot tell the domain id (the domain not listed)
 * builds the roles without it; the planner must then leave that one
 * document alone (sm_desired_role.isolation_pending), which it could
 * not do for a statement inside the main document without also freezing
 * every other repair of that document. */
#define SM_ROLE_POLICY_MAIN      SM_ROLE_POLICY_PREFIX "permissions"
#define SM_ROLE_POLICY_ISOLATION SM_ROLE_POLICY_PREFIX "domain-isolation"

/* The roles of domain d, in sm_role_kind order (3 without MLflow, 4 with).
 * Returns 0 and a new array (free with sm_desired_roles_free), or
 * -EINVAL: a context field missing or malformed, a domain name that is not a
 *          SageMaker name, MLflow enabled without an artifact bucket;
 * -E2BIG:  more tags than IAM allows once the ownership tag is added, or
 *          inline policies over SM_ROLE_INLINE_SIZE_MAX;
 * -ENOMEM. */
int sm_roles_for_domain(const sm_domain *d, const sm_role_context *ctx, sm_desired_role **ret,
                        size_t *ret_n);
/* Free n roles and the array; accepts NULL. */
void sm_desired_roles_free(sm_desired_role *roles, size_t n);

/* The role of a kind in an array from sm_roles_for_domain, or NULL. */
const sm_desired_role *sm_desired_roles_get(const sm_desired_role *roles, size_t n,
                                            sm_role_kind kind);

/* The name of a role of the domain named domain (rules above): 0 and a new
 * string, -EINVAL (not a SageMaker name, bad kind), -ENOMEM. */
int sm_role_name(const char *domain, sm_role_kind kind, char **ret);

/* The size of the role's inline policies as IAM's limit counts it, or a
 * little more: their compact JSON summed. IAM does not count whitespace;
 * compact JSON has none outside strings, and a space inside a string is
 * counted here (our documents have none), so this never under-counts.
 * SIZE_MAX when out of memory. */
size_t sm_desired_role_inline_size(const sm_desired_role *r);

/* "data-scientist", "lead-data-scientist", "sagemaker-execution", "mlflow";
 * NULL for a value out of range. */
const char *sm_role_kind_to_string(sm_role_kind k);
