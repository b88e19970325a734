/* SPDX-License-Identifier: Apache-2.0 */
/* The observed model: what AWS says exists, as plain C structs owned by one
 * pass. It knows nothing of HTTP or libuv; observe.c fills it, the planner
 * reads it. Every resource says whether it is ours (tagged
 * smstudio:managed-by=<our instance>), another instance's, or nobody's. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "smstudio/desired.h"
#include "smstudio/roles.h"

typedef enum sm_ownership {
        SM_OWNER_NONE,  /* no smstudio:managed-by tag: foreign, never changed unless adopted */
        SM_OWNER_US,    /* tagged with our instance */
        SM_OWNER_OTHER, /* tagged with another instance: foreign as well */
} sm_ownership;

typedef struct sm_observed_role {
        char *name;
        char *arn;
        char *path;
        char *permissions_boundary_arn; /* NULL when none */
        json_t *trust_policy;           /* decoded from IAM's URL encoding */
        char **managed_policy_arns;     /* sorted, NULL-terminated */
        size_t n_managed;
        sm_inline_policy *inline_policies; /* sorted by name; documents decoded */
        size_t n_inline;
        sm_tags tags;
        sm_ownership owner;
} sm_observed_role;

typedef enum sm_resource_kind {
        SM_RESOURCE_DOMAIN,
        SM_RESOURCE_USER_PROFILE,
        SM_RESOURCE_SPACE,
        SM_RESOURCE_APP,
        SM_RESOURCE_MLFLOW,
        SM_RESOURCE_LIFECYCLE_CONFIG,
        _SM_RESOURCE_KIND_MAX,
} sm_resource_kind;

/* One SageMaker resource, whatever its kind. */
typedef struct sm_observed_resource {
        sm_resource_kind kind;
        char *name;      /* DomainName, UserProfileName, SpaceName, AppName, TrackingServerName,
                          * StudioLifecycleConfigName */
        char *domain_id; /* NULL for MLflow servers and lifecycle configs */
        char *arn;
        char *status;         /* as AWS spells it: "InService", "Pending", "Created", ... */
        double last_modified; /* LastModifiedTime, epoch seconds; 0 when AWS gives none */
        /* Apps only: who runs it and what it is. */
        char *app_user_profile; /* NULL for space apps */
        char *app_space;        /* NULL for profile apps */
        char *app_type;
        /* The Describe output (its FailureReason included) when this pass or the
         * cache has one that is current (same LastModifiedTime); else NULL.
         * Read only: equal values are one json_t shared between resources
         * and passes (observe.h says which members are left out). */
        json_t *describe;
        sm_tags tags;
        bool tags_known; /* tags were read (this pass or cached) */
        sm_ownership owner;
} sm_observed_resource;

typedef struct sm_observed_portfolio {
        bool status_known;
        bool enabled;          /* GetSagemakerServicecatalogPortfolioStatus: Enabled */
        char *portfolio_id;    /* the accepted "Amazon SageMaker" share, NULL when not found */
        char **principal_arns; /* ListPrincipalsForPortfolio, sorted, NULL-terminated */
        size_t n_principals;
} sm_observed_portfolio;

typedef struct sm_observed {
        char *account_id;
        char *partition;
        char *region;
        sm_observed_role *roles; /* under the role paths the desired model uses */
        size_t n_roles;
        sm_observed_resource *resources; /* sorted by kind, domain id, name */
        size_t n_resources;
        size_t resources_cap; /* allocated; only the add functions and sm_observed_sort touch it */
        sm_observed_portfolio portfolio;
        /* Reads that failed this pass: the planner must not treat what they
         * would have listed as absent (no create on top, no delete). */
        bool incomplete[_SM_RESOURCE_KIND_MAX];
        bool roles_incomplete;
} sm_observed;

sm_observed *sm_observed_new(void);
sm_observed *sm_observed_free(sm_observed *o);

/* A copy of s for a model's status or tag strings (NULL for NULL or on
 * -ENOMEM): the common ones (statuses, our tag's key) are one shared
 * static copy, which the destructors below know not to free; so replace
 * such a string with another sm_observed_strdup(), never free() it. */
char *sm_observed_strdup(const char *s);
/* Free a string of sm_observed_strdup() (shared ones stay). */
void sm_observed_strfree(char *s);

/* Destructors for entries not (or not yet) in a model; accept NULL and
 * leave the entry zeroed. */
void sm_observed_role_done(sm_observed_role *r);
void sm_observed_resource_done(sm_observed_resource *r);
void sm_observed_tags_done(sm_tags *t);

/* Append, moving *obj in (it is zeroed): 0 or -ENOMEM (obj untouched). The
 * model owns everything the entry points to. */
int sm_observed_add_role(sm_observed *o, sm_observed_role *obj);
int sm_observed_add_resource(sm_observed *o, sm_observed_resource *obj);

/* Room for n resources in all (a hint: adding more still works). 0,
 * -EINVAL or -ENOMEM. */
int sm_observed_reserve(sm_observed *o, size_t n);

/* Put roles (by name) and resources (by kind, domain id with NULL first,
 * name; apps then by profile, space, type) in the canonical order, and give
 * back what the resources array has spare (models of thousands of profiles
 * are kept between passes). The lookups below binary-search it: call once
 * after the last add. */
void sm_observed_sort(sm_observed *o);

/* The value of tag key, or NULL. */
const char *sm_tags_get(const sm_tags *tags, const char *key);

/* "domain", "user-profile", "space", "app", "mlflow", "lifecycle-config". */
const char *sm_resource_kind_to_string(sm_resource_kind k);

/* Ownership from a tag list and our instance name. */
sm_ownership sm_ownership_of(const sm_tags *tags, const char *instance);

/* Lookups; NULL when absent. domain_id may be NULL for kinds without one. */
const sm_observed_resource *sm_observed_find(const sm_observed *o, sm_resource_kind kind,
                                             const char *domain_id, const char *name);
const sm_observed_resource *sm_observed_domain_by_name(const sm_observed *o, const char *name);
const sm_observed_role *sm_observed_role_find(const sm_observed *o, const char *name);
/* The resources of one kind (and domain, unless domain_id is NULL for a
 * kind that has one: then all domains) as a contiguous run of the sorted
 * array: *ret_first and the count returned (0: *ret_first is NULL). */
size_t sm_observed_range(const sm_observed *o, sm_resource_kind kind, const char *domain_id,
                         const sm_observed_resource **ret_first);

/* Canonical JSON of the whole model (tests, `smstudioctl` debugging). */
json_t *sm_observed_to_json(const sm_observed *o);
