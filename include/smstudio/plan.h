/* SPDX-License-Identifier: Apache-2.0 */
/* The planner: a pure function from desired and observed state to an
 * ordered list of AWS calls. No I/O, no clock, no globals: every rule about
 * what to create, update, adopt, delete or leave alone lives here.
 *
 * A pass runs rounds: observe -> plan -> apply -> observe ... until a plan
 * has nothing runnable left. A round plans only what the observed state
 * allows (profiles need their domain's id, so a new domain's profiles come
 * in the round after the domain is InService); the executor waits for each
 * call's effect before the next round. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "smstudio/desired.h"
#include "smstudio/endpoint.h"
#include "smstudio/observed.h"
#include "smstudio/smrequests.h"
#include "smstudio/strbuf.h"

typedef enum sm_verb {
        SM_VERB_CREATE,
        SM_VERB_UPDATE,
        SM_VERB_ADOPT, /* tag a foreign resource the manifest adopts */
        SM_VERB_TAG,   /* tag drift on a resource of ours */
        SM_VERB_DELETE,
        _SM_VERB_MAX,
} sm_verb;

/* What a resource needs or why it is left alone: one per resource the
 * planner looked at, so status can tell the whole truth. */
typedef enum sm_finding_kind {
        SM_FINDING_IN_SYNC,
        SM_FINDING_CHANGE,           /* actions follow */
        SM_FINDING_WAITING,          /* a transient status (Pending, Updating...) */
        SM_FINDING_BLOCKED,          /* a dependency is missing or not ready yet */
        SM_FINDING_CONFLICT,         /* a foreign resource has the desired name */
        SM_FINDING_REPLACE_REFUSED,  /* an immutable field differs */
        SM_FINDING_FAILED,           /* AWS says Failed / *_Failed (FailureReason kept) */
        SM_FINDING_DELETION_GUARDED, /* deletion held back by the guard or an incomplete load */
        SM_FINDING_INVALID,          /* no valid request can be built from the manifest */
        _SM_FINDING_MAX,
} sm_finding_kind;

typedef struct sm_finding {
        char *resource; /* "role/mlops.data-scientist", "user-profile/mlops-studio/alice" */
        sm_finding_kind kind;
        char *message;    /* one sentence for status and logs */
        sm_source source; /* the manifest place, when the resource is desired */
} sm_finding;

/* One AWS call. */
typedef struct sm_action {
        char *resource; /* as in sm_finding */
        sm_verb verb;
        sm_service_id service;
        char *operation; /* "CreateUserProfile" */
        json_t *params;
        /* Field-level changes for --dry-run ("old -> new"); may be empty. */
        sm_field_diff *diffs;
        size_t n_diffs;
        /* Indexes of earlier actions of this plan that must succeed first. */
        size_t *deps;
        size_t n_deps;
        /* What shows the call took effect: a resource that must reach one of
         * these statuses ("InService"), or be gone (delete). NULL for IAM and
         * tag calls, whose effect the next round's read shows. The list is
         * NULL-terminated; for SM_VERB_DELETE a resource that is gone counts
         * as settled too. */
        const char *const *settle_statuses;
        /* How to read the resource back while settling: the Describe call
         * and its params (both NULL exactly when settle_statuses is). A
         * member whose value is JSON null is a template slot the executor
         * fills from the call's output: the output member of the same name,
         * or for a name ending in "Id" the last '/' segment of the output's
         * "...Arn" member (CreateDomain: DomainId from DomainArn
         * "arn:...:domain/d-xxx"), since the id does not exist before the
         * call. */
        char *settle_operation;
        json_t *settle_params;
        sm_source source;
} sm_action;

typedef struct sm_plan_policy {
        const char *instance; /* the ownership tag value */
        const char *partition;
        const char *account_id;
        const char *region;
        bool load_complete; /* false: a manifest failed without a last good copy */
        unsigned guard_max_count;
        unsigned guard_max_share_bp; /* basis points of our user profiles */
        bool deletions_approved;
        /* The idle shutdown script, base64 (StudioLifecycleConfigContent):
         * one content for every domain. A domain that sets
         * server_lifecycle_name gets "<that name>-<hash of this>"
         * (sm_lifecycle_config_name()) as its JupyterLab lifecycle config;
         * NULL: no script available, such a domain is reported INVALID. */
        const char *lifecycle_content_b64;
        /* Epoch seconds of the observation, for "stuck" findings (an MLflow
         * server Creating or Updating past mlflow_stuck_sec since its
         * LastModifiedTime). 0: no such findings. */
        double now;
        unsigned mlflow_stuck_sec; /* 0: SM_PLAN_MLFLOW_STUCK_SEC */
} sm_plan_policy;

/* How long an MLflow create or update may take before it is reported as
 * stuck: AWS quotes "up to 25 minutes"; the executor waits 60. */
#define SM_PLAN_MLFLOW_STUCK_SEC 3600u

/* The tag that remembers a retried update of a resource AWS left in
 * Update_Failed (UpdateFailed for MLflow): its value fingerprints the
 * desired update request, so one manifest version gets one retry and a
 * changed manifest another. It lives on the resource itself, so the rule
 * holds across passes, restarts and a lost state_dir. Tag drift repair
 * never removes it. */
#define SM_TAG_UPDATE_RETRIED "smstudio:update-retried"

typedef struct sm_plan {
        sm_action *actions; /* in dependency order: deps always point backwards */
        size_t n_actions;
        sm_finding *findings; /* sorted by resource */
        size_t n_findings;
        unsigned n_deletions_held; /* by the guard or an incomplete load */
} sm_plan;

/* Plan one round. 0, -ENOMEM, or -EINVAL for inconsistent inputs. */
int sm_plan_build(const sm_desired *desired, const sm_observed *observed,
                  const sm_plan_policy *policy, sm_plan **ret);

sm_plan *sm_plan_free(sm_plan *p);

/* Whether an action changes anything in AWS (all of them do today; kept for
 * dry-run counting when read-only checks join the plan). */
bool sm_action_is_mutating(const sm_action *a);

/* The plan as the human-readable diff of --dry-run. One line per action:
 * a mark (+ create, ~ update or tag, & adopt, - delete), the resource, the
 * verb and the operation, two spaces apart:
 *     + user-profile/mlops-studio/carol  create  CreateUserProfile
 *     ~ space/mlops-studio/alice-JupyterLab-space  update  UpdateSpace
 * then its field diffs, indented by four, as "path: old -> new" with the
 * values as compact JSON ("(none)" when absent); then one line per finding
 * that is neither in sync nor a change:
 *     ! domain/other  conflict: domain exists without our ownership tag; ...
 */
int sm_plan_format(const sm_plan *p, sm_buf *out);
json_t *sm_plan_to_json(const sm_plan *p);

const char *sm_verb_to_string(sm_verb v);
const char *sm_finding_kind_to_string(sm_finding_kind k);
