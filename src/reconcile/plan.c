/* SPDX-License-Identifier: Apache-2.0 */
/* The planner (see plan.h and docs/engine.md). One round: roles, the
 * lifecycle config, domains, profiles, spaces, MLflow, then the teardown of
 * what is ours and no longer desired, which the deletion guard may hold
 * back as a whole. Pure: the same inputs give the same plan, byte for byte.
 *
 * Ownership is the one rule that overrides every other: only resources
 * tagged with our instance are updated or deleted; a foreign one with a
 * desired name is adopted (tagged) when the manifest says so, and reported
 * as a conflict otherwise. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smstudio/iam.h"
#include "smstudio/macro.h"
#include "smstudio/plan.h"
#include "smstudio/roles.h"

#define NO_ACTION   SIZE_MAX
#define SET(o, bit) (((o)->set & (UINT64_C(1) << (bit))) != 0)

/* What shows a call took effect (plan.h). For deletes, a resource that is
 * gone counts as well. */
static const char *const settle_in_service[] = {"InService", NULL};
static const char *const settle_deleted[] = {"Deleted", NULL};
static const char *const settle_mlflow_created[] = {"Created", NULL};
static const char *const settle_mlflow_updated[] = {"Updated", NULL};
static const char *const settle_enabled[] = {"Enabled", NULL};

static const char *const verb_names[_SM_VERB_MAX] = {
        [SM_VERB_CREATE] = "create", [SM_VERB_UPDATE] = "update", [SM_VERB_ADOPT] = "adopt",
        [SM_VERB_TAG] = "tag",       [SM_VERB_DELETE] = "delete",
};

static const char *const finding_names[_SM_FINDING_MAX] = {
        [SM_FINDING_IN_SYNC] = "in-sync",   [SM_FINDING_CHANGE] = "change",
        [SM_FINDING_WAITING] = "waiting",   [SM_FINDING_BLOCKED] = "blocked",
        [SM_FINDING_CONFLICT] = "conflict", [SM_FINDING_REPLACE_REFUSED] = "replace-refused",
        [SM_FINDING_FAILED] = "failed",     [SM_FINDING_DELETION_GUARDED] = "deletion-guarded",
        [SM_FINDING_INVALID] = "invalid",
};

const char *sm_verb_to_string(sm_verb v)
{
        if ((unsigned)v >= _SM_VERB_MAX)
                return NULL;
        return verb_names[v];
}

const char *sm_finding_kind_to_string(sm_finding_kind k)
{
        if ((unsigned)k >= _SM_FINDING_MAX)
                return NULL;
        return finding_names[k];
}

bool sm_action_is_mutating(const sm_action *a)
{
        return a != NULL;
}

/* ---- the plan under construction -------------------------------------- */

typedef struct builder {
        const sm_desired *desired;
        const sm_observed *obs;
        const sm_plan_policy *pol;
        sm_action *actions;
        size_t n_actions, cap_actions;
        sm_finding *findings;
        size_t n_findings, cap_findings;
} builder;

static void action_done(sm_action *a)
{
        free(a->resource);
        free(a->operation);
        json_decref(a->params);
        free(a->settle_operation);
        json_decref(a->settle_params);
        sm_field_diffs_free(a->diffs, a->n_diffs);
        free(a->deps);
        sm_desired_source_done(&a->source);
}

static void finding_done(sm_finding *f)
{
        free(f->resource);
        free(f->message);
        sm_desired_source_done(&f->source);
}

static void builder_done(builder *b)
{
        for (size_t i = 0; i < b->n_actions; i++)
                action_done(&b->actions[i]);
        free(b->actions);
        for (size_t i = 0; i < b->n_findings; i++)
                finding_done(&b->findings[i]);
        free(b->findings);
        b->actions = NULL;
        b->findings = NULL;
        b->n_actions = b->n_findings = b->cap_actions = b->cap_findings = 0;
}

static int reserve(void **items, size_t *cap, size_t n, size_t size)
{
        size_t c;
        void *p;

        if (n < *cap)
                return 0;
        c = *cap ? *cap * 2 : 16;
        p = realloc(*items, c * size);
        if (!p)
                return -ENOMEM;
        *items = p;
        *cap = c;
        return 0;
}

static int source_copy(sm_source *dst, const sm_source *src)
{
        *dst = (sm_source){0};
        if (!src)
                return 0;
        return sm_desired_source_copy(dst, src);
}

/* The read that shows a settling call's effect: the Describe of the same
 * resource, with the identifying members of the call's params. NULL in
 * template (see plan.h) means "from the call's output". */
static const struct settle_probe {
        const char *operation;
        const char *describe;
        const char *const keys[5];
} settle_probes[] = {
        {"CreateDomain", "DescribeDomain", {NULL}},
        {"UpdateDomain", "DescribeDomain", {"DomainId", NULL}},
        {"CreateUserProfile", "DescribeUserProfile", {"DomainId", "UserProfileName", NULL}},
        {"UpdateUserProfile", "DescribeUserProfile", {"DomainId", "UserProfileName", NULL}},
        {"DeleteUserProfile", "DescribeUserProfile", {"DomainId", "UserProfileName", NULL}},
        {"CreateSpace", "DescribeSpace", {"DomainId", "SpaceName", NULL}},
        {"UpdateSpace", "DescribeSpace", {"DomainId", "SpaceName", NULL}},
        {"DeleteSpace", "DescribeSpace", {"DomainId", "SpaceName", NULL}},
        {"DeleteApp",
         "DescribeApp",
         {"DomainId", "AppType", "AppName", "UserProfileName", "SpaceName"}},
        {"CreateMlflowTrackingServer",
         "DescribeMlflowTrackingServer",
         {"TrackingServerName", NULL}},
        {"UpdateMlflowTrackingServer",
         "DescribeMlflowTrackingServer",
         {"TrackingServerName", NULL}},
        {"DeleteMlflowTrackingServer",
         "DescribeMlflowTrackingServer",
         {"TrackingServerName", NULL}},
        /* Account-wide, no identifying members: its Status reads "Enabled". */
        {"EnableSagemakerServicecatalogPortfolio",
         "GetSagemakerServicecatalogPortfolioStatus",
         {NULL}},
};

static int settle_probe_fill(sm_action *a)
{
        const struct settle_probe *pr = NULL;

        for (size_t i = 0; i < ELEMENTSOF(settle_probes); i++)
                if (streq(settle_probes[i].operation, a->operation))
                        pr = &settle_probes[i];
        /* A settle status without a way to read it back is a planner bug. */
        if (!pr)
                return -EINVAL;
        a->settle_operation = strdup(pr->describe);
        a->settle_params = json_object();
        if (!a->settle_operation || !a->settle_params)
                return -ENOMEM;
        if (streq(pr->operation, "CreateDomain"))
                return json_object_set_new(a->settle_params, "DomainId", json_null()) < 0 ? -ENOMEM
                                                                                          : 0;
        for (size_t i = 0; i < ELEMENTSOF(pr->keys) && pr->keys[i]; i++) {
                json_t *v = json_object_get(a->params, pr->keys[i]);

                /* DeleteApp names a profile or a space: copy what is there. */
                if (v && json_object_set(a->settle_params, pr->keys[i], v) < 0)
                        return -ENOMEM;
        }
        return 0;
}

/* Append an action. params and diffs are taken over, also on failure.
 * deps index earlier actions of the same builder. */
static int add_action(builder *b, const char *resource, sm_verb verb, sm_service_id service,
                      const char *operation, json_t *params, sm_field_diff *diffs, size_t n_diffs,
                      const size_t *deps, size_t n_deps, const char *const *settle,
                      const sm_source *source, size_t *ret_idx)
{
        sm_action a = {.verb = verb, .service = service, .settle_statuses = settle};
        void *items = b->actions;
        int r;

        a.params = params;
        a.diffs = diffs;
        a.n_diffs = n_diffs;
        if (!params) {
                r = -ENOMEM;
                goto fail;
        }
        r = reserve(&items, &b->cap_actions, b->n_actions, sizeof(sm_action));
        if (r < 0)
                goto fail;
        b->actions = items;
        a.resource = strdup(resource);
        a.operation = strdup(operation);
        if (!a.resource || !a.operation) {
                r = -ENOMEM;
                goto fail;
        }
        if (n_deps > 0) {
                a.deps = malloc(n_deps * sizeof(size_t));
                if (!a.deps) {
                        r = -ENOMEM;
                        goto fail;
                }
                for (size_t i = 0; i < n_deps; i++) {
                        /* Deps point backwards: the executor relies on it. */
                        if (deps[i] >= b->n_actions) {
                                r = -EINVAL;
                                goto fail;
                        }
                        a.deps[a.n_deps++] = deps[i];
                }
        }
        r = source_copy(&a.source, source);
        if (r < 0)
                goto fail;
        if (settle) {
                r = settle_probe_fill(&a);
                if (r < 0)
                        goto fail;
        }
        if (ret_idx)
                *ret_idx = b->n_actions;
        b->actions[b->n_actions++] = a;
        return 0;
fail:
        action_done(&a);
        return r;
}

static int add_finding(builder *b, const char *resource, sm_finding_kind kind,
                       const sm_source *source, const char *fmt, ...) _printf_(5, 6);
static int add_finding(builder *b, const char *resource, sm_finding_kind kind,
                       const sm_source *source, const char *fmt, ...)
{
        sm_finding f = {.kind = kind};
        void *items = b->findings;
        va_list ap;
        int r;

        r = reserve(&items, &b->cap_findings, b->n_findings, sizeof(sm_finding));
        if (r < 0)
                return r;
        b->findings = items;
        va_start(ap, fmt);
        f.message = sm_vstrf(fmt, ap);
        va_end(ap);
        f.resource = strdup(resource);
        if (!f.message || !f.resource || source_copy(&f.source, source) < 0) {
                finding_done(&f);
                return -ENOMEM;
        }
        b->findings[b->n_findings++] = f;
        return 0;
}

/* A small growable list of action indexes (deps being collected). */
typedef struct idxv {
        size_t *v;
        size_t n, cap;
} idxv;

static int idxv_push(idxv *x, size_t i)
{
        void *items = x->v;
        int r;

        if (i == NO_ACTION)
                return 0;
        r = reserve(&items, &x->cap, x->n, sizeof(size_t));
        if (r < 0)
                return r;
        x->v = items;
        x->v[x->n++] = i;
        return 0;
}

static void idxv_done(idxv *x)
{
        free(x->v);
        *x = (idxv){0};
}

/* ---- small helpers ------------------------------------------------------ */

static json_t *tags_param(const sm_tags *tags, const char *instance, int *ret)
{
        json_t *list = NULL;

        *ret = sm_request_tags(tags, instance, &list);
        return *ret < 0 ? NULL : list;
}

static char *dump_compact(const json_t *j)
{
        return json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
}

static json_t *json_text(const json_t *doc)
{
        char *s = dump_compact(doc);
        json_t *v;

        if (!s)
                return NULL;
        v = json_string(s);
        free(s);
        return v;
}

static bool has_prefix(const char *s, const char *p)
{
        return strncmp(s, p, strlen(p)) == 0;
}

/* A diff entry for --dry-run; observed may be NULL (absent), desired NULL
 * means removed (shown as null). */
static int diff_push(sm_field_diff **diffs, size_t *n, const char *path, const json_t *observed,
                     const json_t *desired)
{
        sm_field_diff *p = realloc(*diffs, (*n + 1) * sizeof(sm_field_diff));

        if (!p)
                return -ENOMEM;
        *diffs = p;
        p[*n] = (sm_field_diff){0};
        p[*n].path = strdup(path);
        p[*n].observed = observed ? json_deep_copy(observed) : NULL;
        p[*n].desired = desired ? json_deep_copy(desired) : json_null();
        (*n)++;
        if (!p[*n - 1].path || (observed && !p[*n - 1].observed) || !p[*n - 1].desired)
                return -ENOMEM;
        return 0;
}

/* Tag drift: keys missing or different, and keys we do not want. Keys
 * under "aws:" belong to AWS and cannot be removed. ret_add is a TagList,
 * ret_remove a list of keys; both NULL when nothing differs. */
static int tags_drift(const json_t *want, const sm_tags *have, json_t **ret_add,
                      json_t **ret_remove, sm_field_diff **diffs, size_t *n_diffs)
{
        json_t *add = json_array(), *rm = json_array();
        size_t i;
        json_t *t;
        int r = -ENOMEM;

        if (!add || !rm)
                goto fail;
        json_array_foreach(want, i, t)
        {
                const char *k = json_string_value(json_object_get(t, "Key"));
                const char *v = json_string_value(json_object_get(t, "Value"));
                const char *cur = sm_tags_get(have, k);
                char path[300];

                if (cur && streq(cur, v))
                        continue;
                if (json_array_append(add, t) < 0)
                        goto fail;
                snprintf(path, sizeof(path), "Tags.%s", k);
                json_t *o = cur ? json_string(cur) : NULL, *d = json_string(v);
                r = diff_push(diffs, n_diffs, path, o, d);
                json_decref(o);
                json_decref(d);
                if (r < 0)
                        goto fail;
        }
        for (size_t j = 0; have && j < have->n; j++) {
                const char *k = have->items[j].key;
                bool wanted = false;
                char path[300];

                /* The retry marker is ours to keep (plan.h). */
                if (!k || has_prefix(k, "aws:") || streq(k, SM_TAG_UPDATE_RETRIED))
                        continue;
                json_array_foreach(want, i, t)
                {
                        if (streq_ptr(json_string_value(json_object_get(t, "Key")), k))
                                wanted = true;
                }
                if (wanted)
                        continue;
                if (json_array_append_new(rm, json_string(k)) < 0)
                        goto fail;
                snprintf(path, sizeof(path), "Tags.%s", k);
                json_t *o = json_string(have->items[j].value ? have->items[j].value : "");
                r = diff_push(diffs, n_diffs, path, o, NULL);
                json_decref(o);
                if (r < 0)
                        goto fail;
        }
        *ret_add = json_array_size(add) ? add : (json_decref(add), NULL);
        *ret_remove = json_array_size(rm) ? rm : (json_decref(rm), NULL);
        return 0;
fail:
        json_decref(add);
        json_decref(rm);
        return r;
}

typedef enum status_class {
        STATUS_READY,
        STATUS_WAITING,
        STATUS_FAILED,
        STATUS_GONE, /* an app that is Deleted */
} status_class;

static status_class classify(sm_resource_kind kind, const char *status)
{
        static const char *const mlflow_ready[] = {"Created", "Updated", "Started", "Stopped",
                                                   "MaintenanceComplete"};

        if (!status)
                return STATUS_WAITING;
        if (strstr(status, "Failed"))
                return STATUS_FAILED;
        if (kind == SM_RESOURCE_MLFLOW) {
                for (size_t i = 0; i < ELEMENTSOF(mlflow_ready); i++)
                        if (streq(status, mlflow_ready[i]))
                                return STATUS_READY;
                return STATUS_WAITING;
        }
        if (kind == SM_RESOURCE_APP && streq(status, "Deleted"))
                return STATUS_GONE;
        /* A lifecycle config has no status: it exists or it does not. */
        if (streq(status, "InService") || kind == SM_RESOURCE_LIFECYCLE_CONFIG)
                return STATUS_READY;
        return STATUS_WAITING;
}

static const char *failure_reason(const sm_observed_resource *r)
{
        const char *s = json_string_value(json_object_get(r->describe, "FailureReason"));

        return s ? s : "no FailureReason given";
}

/* A short fingerprint of a desired request: FNV-1a 64 over its canonical
 * JSON. It only tells one manifest version from the next, so no
 * cryptographic hash is needed. NULL on -ENOMEM. */
static char *request_fingerprint(const json_t *req)
{
        char *text = json_dumps(req, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        uint64_t h = UINT64_C(0xcbf29ce484222325);
        char *fp;

        if (!text)
                return NULL;
        for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
                h ^= *c;
                h *= UINT64_C(0x100000001b3);
        }
        free(text);
        fp = sm_strf("%016llx", (unsigned long long)h);
        return fp;
}

/* A request builder refused the manifest's values (-EINVAL, -E2BIG): that
 * resource is reported and the rest of the plan goes on. Returns 0 when
 * handled that way, else r. */
static int invalid_or(builder *b, int r, const char *res, const sm_source *src)
{
        if (r != -EINVAL && r != -E2BIG)
                return r;
        return add_finding(b, res, SM_FINDING_INVALID, src,
                           "no valid request can be built from the manifest: %s", strerror(-r));
}

/* ---- roles --------------------------------------------------------------- */

/* Whether dependents can name a role this round, and what they wait on. */
typedef struct role_state {
        bool usable;
        const char *arn;
        idxv deps; /* the actions making it exist, when created this round */
} role_state;

typedef struct domain_ctx {
        const sm_domain *d;
        sm_desired_role *roles;
        size_t n_roles;
        role_state rs[_SM_ROLE_KIND_MAX];
        const sm_observed_resource *obs;
        bool ready;          /* ours and InService: children may be planned */
        bool invalid;        /* its roles could not be built: plan nothing of it */
        const char *why_not; /* for the children's BLOCKED findings */
        char why_buf[160];
} domain_ctx;

static int role_param(const char *role, const char *key, json_t *value, json_t **ret)
{
        json_t *p = json_pack("{s:s}", "RoleName", role);

        if (!p || !value || json_object_set_new(p, key, value) < 0) {
                json_decref(p);
                return -ENOMEM;
        }
        *ret = p;
        return 0;
}

static int role_action(builder *b, const char *res, sm_verb verb, const char *op, const char *role,
                       const char *key, json_t *value, const size_t *deps, size_t n_deps,
                       const sm_source *src, size_t *ret_idx)
{
        json_t *p = NULL;
        int r;

        if (key) {
                r = role_param(role, key, value, &p);
                if (r < 0)
                        return r;
        } else {
                p = json_pack("{s:s}", "RoleName", role);
        }
        return add_action(b, res, verb, SM_SERVICE_IAM, op, p, NULL, 0, deps, n_deps, NULL, src,
                          ret_idx);
}

static int policy_action(builder *b, const char *res, sm_verb verb, const char *op,
                         const char *role, const char *name_key, const char *name,
                         const json_t *doc, const size_t *deps, size_t n_deps, const sm_source *src,
                         sm_field_diff *diffs, size_t n_diffs, size_t *ret_idx)
{
        json_t *p = json_pack("{s:s,s:s}", "RoleName", role, name_key, name);

        if (p && doc && json_object_set_new(p, "PolicyDocument", json_text(doc)) < 0) {
                json_decref(p);
                p = NULL;
        }
        return add_action(b, res, verb, SM_SERVICE_IAM, op, p, diffs, n_diffs, deps, n_deps, NULL,
                          src, ret_idx);
}

static int create_role(builder *b, const sm_desired_role *dr, const char *res, role_state *st)
{
        json_t *p = NULL, *tags;
        size_t idx;
        int r;

        tags = tags_param(&dr->tags, b->pol->instance, &r);
        if (!tags)
                return r;
        p = json_pack("{s:s,s:s,s:o,s:s,s:o}", "Path", dr->path, "RoleName", dr->name,
                      "AssumeRolePolicyDocument", json_text(dr->trust_policy), "Description",
                      dr->description ? dr->description : "", "Tags", tags);
        if (p && dr->permissions_boundary_arn &&
            json_object_set_new(p, "PermissionsBoundary",
                                json_string(dr->permissions_boundary_arn)) < 0) {
                json_decref(p);
                p = NULL;
        }
        r = add_action(b, res, SM_VERB_CREATE, SM_SERVICE_IAM, "CreateRole", p, NULL, 0, NULL, 0,
                       NULL, &dr->source, &idx);
        if (r < 0)
                return r;
        r = idxv_push(&st->deps, idx);
        for (size_t i = 0; r == 0 && i < dr->n_managed; i++) {
                size_t a;

                r = role_action(b, res, SM_VERB_CREATE, "AttachRolePolicy", dr->name, "PolicyArn",
                                json_string(dr->managed_policy_arns[i]), &idx, 1, &dr->source, &a);
                if (r == 0)
                        r = idxv_push(&st->deps, a);
        }
        for (size_t i = 0; r == 0 && i < dr->n_inline; i++) {
                size_t a;

                r = policy_action(b, res, SM_VERB_CREATE, "PutRolePolicy", dr->name, "PolicyName",
                                  dr->inline_policies[i].name, dr->inline_policies[i].document,
                                  &idx, 1, &dr->source, NULL, 0, &a);
                if (r == 0)
                        r = idxv_push(&st->deps, a);
        }
        if (r < 0)
                return r;
        st->usable = true;
        st->arn = dr->arn;
        return add_finding(b, res, SM_FINDING_CHANGE, &dr->source,
                           "create role with %zu managed and %zu inline policies", dr->n_managed,
                           dr->n_inline);
}

static bool strv_has(char *const *v, const char *s)
{
        for (; v && *v; v++)
                if (streq(*v, s))
                        return true;
        return false;
}

static const sm_inline_policy *inline_find(const sm_inline_policy *p, size_t n, const char *name)
{
        for (size_t i = 0; i < n; i++)
                if (streq_ptr(p[i].name, name))
                        return &p[i];
        return NULL;
}

/* A role of ours: repair what drifted. */
static int update_role(builder *b, const sm_desired_role *dr, const sm_observed_role *o,
                       const char *res, size_t *n_changes)
{
        const sm_source *src = &dr->source;
        size_t before = b->n_actions;
        json_t *add = NULL, *rm = NULL, *want = NULL;
        sm_field_diff *diffs = NULL;
        size_t n_diffs = 0;
        int r, eq;

        eq = o->trust_policy ? sm_iam_policy_equal(o->trust_policy, dr->trust_policy) : 0;
        if (eq < 0)
                return eq;
        if (!eq) {
                r = diff_push(&diffs, &n_diffs, "AssumeRolePolicyDocument", o->trust_policy,
                              dr->trust_policy);
                if (r == 0)
                        r = policy_action(b, res, SM_VERB_UPDATE, "UpdateAssumeRolePolicy",
                                          dr->name, "RoleName", dr->name, dr->trust_policy, NULL, 0,
                                          src, diffs, n_diffs, NULL);
                else
                        sm_field_diffs_free(diffs, n_diffs);
                diffs = NULL;
                n_diffs = 0;
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < dr->n_managed; i++)
                if (!strv_has(o->managed_policy_arns, dr->managed_policy_arns[i])) {
                        r = role_action(b, res, SM_VERB_UPDATE, "AttachRolePolicy", dr->name,
                                        "PolicyArn", json_string(dr->managed_policy_arns[i]), NULL,
                                        0, src, NULL);
                        if (r < 0)
                                return r;
                }
        for (size_t i = 0; i < o->n_managed; i++)
                if (!strv_has(dr->managed_policy_arns, o->managed_policy_arns[i])) {
                        r = role_action(b, res, SM_VERB_UPDATE, "DetachRolePolicy", dr->name,
                                        "PolicyArn", json_string(o->managed_policy_arns[i]), NULL,
                                        0, src, NULL);
                        if (r < 0)
                                return r;
                }
        for (size_t i = 0; i < dr->n_inline; i++) {
                const sm_inline_policy *want_p = &dr->inline_policies[i];
                const sm_inline_policy *have =
                        inline_find(o->inline_policies, o->n_inline, want_p->name);
                char path[300];

                /* Parsed JSON, never text: IAM reorders and re-encodes. */
                eq = have && have->document ? sm_iam_policy_equal(have->document, want_p->document)
                                            : 0;
                if (eq < 0)
                        return eq;
                if (eq)
                        continue;
                snprintf(path, sizeof(path), "InlinePolicies.%s", want_p->name);
                r = diff_push(&diffs, &n_diffs, path, have ? have->document : NULL,
                              want_p->document);
                if (r == 0)
                        r = policy_action(b, res, SM_VERB_UPDATE, "PutRolePolicy", dr->name,
                                          "PolicyName", want_p->name, want_p->document, NULL, 0,
                                          src, diffs, n_diffs, NULL);
                else
                        sm_field_diffs_free(diffs, n_diffs);
                diffs = NULL;
                n_diffs = 0;
                if (r < 0)
                        return r;
        }
        /* Only our own inline policies go: one written by hand on our role
         * is a setting nobody wrote down, and survives (desired.h). */
        for (size_t i = 0; i < o->n_inline; i++) {
                const char *name = o->inline_policies[i].name;

                if (!name || !has_prefix(name, SM_ROLE_POLICY_PREFIX) ||
                    inline_find(dr->inline_policies, dr->n_inline, name))
                        continue;
                /* Without the domain id the deny could not be built, not
                 * unwanted: taking it away would lift the isolation. */
                if (dr->isolation_pending && streq(name, SM_ROLE_POLICY_ISOLATION))
                        continue;
                r = policy_action(b, res, SM_VERB_UPDATE, "DeleteRolePolicy", dr->name,
                                  "PolicyName", name, NULL, NULL, 0, src, NULL, 0, NULL);
                if (r < 0)
                        return r;
        }
        if (!streq_ptr(o->permissions_boundary_arn, dr->permissions_boundary_arn)) {
                if (dr->permissions_boundary_arn)
                        r = role_action(b, res, SM_VERB_UPDATE, "PutRolePermissionsBoundary",
                                        dr->name, "PermissionsBoundary",
                                        json_string(dr->permissions_boundary_arn), NULL, 0, src,
                                        NULL);
                else
                        r = role_action(b, res, SM_VERB_UPDATE, "DeleteRolePermissionsBoundary",
                                        dr->name, NULL, NULL, NULL, 0, src, NULL);
                if (r < 0)
                        return r;
        }
        want = tags_param(&dr->tags, b->pol->instance, &r);
        if (!want)
                return r;
        r = tags_drift(want, &o->tags, &add, &rm, &diffs, &n_diffs);
        json_decref(want);
        if (r < 0)
                goto out;
        if (add) {
                r = role_param(dr->name, "Tags", TAKE_PTR(add), &want);
                if (r == 0)
                        /* The field diffs ride on the last tag call. */
                        r = add_action(b, res, SM_VERB_TAG, SM_SERVICE_IAM, "TagRole", want,
                                       rm ? NULL : TAKE_PTR(diffs), rm ? 0 : n_diffs, NULL, 0, NULL,
                                       src, NULL);
                if (r < 0)
                        goto out;
        }
        if (rm) {
                r = role_param(dr->name, "TagKeys", TAKE_PTR(rm), &want);
                if (r == 0)
                        r = add_action(b, res, SM_VERB_TAG, SM_SERVICE_IAM, "UntagRole", want,
                                       TAKE_PTR(diffs), n_diffs, NULL, 0, NULL, src, NULL);
                n_diffs = 0;
                if (r < 0)
                        goto out;
        }
        *n_changes = b->n_actions - before;
        r = 0;
out:
        json_decref(add);
        json_decref(rm);
        sm_field_diffs_free(diffs, diffs ? n_diffs : 0);
        return r;
}

static int plan_role(builder *b, domain_ctx *dc, const sm_desired_role *dr)
{
        const sm_observed_role *o = sm_observed_role_find(b->obs, dr->name);
        role_state *st = &dc->rs[dr->kind];
        _cleanup_free_ char *res = sm_strf("role/%s", dr->name);
        size_t n = 0;
        int r;

        if (!res)
                return -ENOMEM;
        if (!o) {
                if (b->obs->roles_incomplete)
                        return add_finding(b, res, SM_FINDING_BLOCKED, &dr->source,
                                           "could not read IAM roles: not creating it");
                return create_role(b, dr, res, st);
        }
        if (o->owner != SM_OWNER_US) {
                json_t *tags, *p = NULL;

                if (o->owner == SM_OWNER_OTHER || !dc->d->adopt)
                        return add_finding(
                                b, res, SM_FINDING_CONFLICT, &dr->source,
                                o->owner == SM_OWNER_OTHER
                                        ? "role exists, managed by another smstudio instance (%s)"
                                        : "role exists without our ownership tag; left alone "
                                          "(set adopt: true on domain %s to take it over)",
                                o->owner == SM_OWNER_OTHER
                                        ? sm_tags_get(&o->tags, SM_TAG_MANAGED_BY)
                                        : dc->d->name);
                /* Adopted: tag first, repair the rest next round once the
                 * tag shows it is ours. The role is usable meanwhile. */
                tags = tags_param(&dr->tags, b->pol->instance, &r);
                if (!tags)
                        return r;
                r = role_param(dr->name, "Tags", tags, &p);
                if (r == 0)
                        r = add_action(b, res, SM_VERB_ADOPT, SM_SERVICE_IAM, "TagRole", p, NULL, 0,
                                       NULL, 0, NULL, &dr->source, NULL);
                if (r < 0)
                        return r;
                st->usable = true;
                st->arn = o->arn ? o->arn : dr->arn;
                return add_finding(b, res, SM_FINDING_CHANGE, &dr->source, "adopt: tag %s=%s",
                                   SM_TAG_MANAGED_BY, b->pol->instance);
        }
        st->usable = true;
        st->arn = o->arn ? o->arn : dr->arn;
        r = update_role(b, dr, o, res, &n);
        if (r < 0)
                return r;
        if (n == 0)
                return add_finding(b, res, SM_FINDING_IN_SYNC, &dr->source, "in sync");
        return add_finding(b, res, SM_FINDING_CHANGE, &dr->source, "%zu change%s to repair drift",
                           n, n == 1 ? "" : "s");
}

/* ---- SageMaker resources: the shared present-resource logic ------------- */

typedef struct target {
        sm_resource_kind kind;
        const char *res;
        const sm_source *src;
        const sm_observed_resource *obs;
        const json_t *create_req;
        json_t *update_req; /* borrowed; may be NULL (nothing updatable) */
        const char *update_op;
        const char *const *update_settle;
        const sm_tags *tags;
        bool adopt;
        const char *what; /* "domain", "user profile", ... for messages */
        /* What an update waits on: a new lifecycle config, a recreated role. */
        const size_t *update_deps;
        size_t n_update_deps;
} target;

static int tags_actions(builder *b, const target *t, sm_verb verb, size_t *n_changes)
{
        json_t *want = NULL, *add = NULL, *rm = NULL, *p;
        sm_field_diff *diffs = NULL;
        size_t n_diffs = 0;
        int r;

        want = tags_param(t->tags, b->pol->instance, &r);
        if (!want)
                return r;
        if (verb == SM_VERB_ADOPT) {
                /* Adoption adds our tag and the manifest's; it removes nothing
                 * from a resource that was not ours until now. */
                p = json_pack("{s:s,s:o}", "ResourceArn", t->obs->arn ? t->obs->arn : "", "Tags",
                              want);
                (*n_changes)++;
                return add_action(b, t->res, verb, SM_SERVICE_SAGEMAKER, "AddTags", p, NULL, 0,
                                  NULL, 0, NULL, t->src, NULL);
        }
        r = tags_drift(want, &t->obs->tags, &add, &rm, &diffs, &n_diffs);
        json_decref(want);
        if (r < 0)
                return r;
        if (add) {
                p = json_pack("{s:s,s:o}", "ResourceArn", t->obs->arn ? t->obs->arn : "", "Tags",
                              TAKE_PTR(add));
                r = add_action(b, t->res, verb, SM_SERVICE_SAGEMAKER, "AddTags", p,
                               rm ? NULL : TAKE_PTR(diffs), rm ? 0 : n_diffs, NULL, 0, NULL, t->src,
                               NULL);
                (*n_changes)++;
                if (r < 0)
                        goto out;
        }
        if (rm) {
                p = json_pack("{s:s,s:o}", "ResourceArn", t->obs->arn ? t->obs->arn : "", "TagKeys",
                              TAKE_PTR(rm));
                r = add_action(b, t->res, verb, SM_SERVICE_SAGEMAKER, "DeleteTags", p,
                               TAKE_PTR(diffs), n_diffs, NULL, 0, NULL, t->src, NULL);
                (*n_changes)++;
                if (r < 0)
                        goto out;
        }
        r = 0;
out:
        json_decref(add);
        json_decref(rm);
        sm_field_diffs_free(diffs, diffs ? n_diffs : 0);
        return r;
}

/* The owner of a space, from its Describe output or its List summary. */
static const char *space_owner(const sm_observed_resource *s)
{
        const char *v = json_string_value(json_object_get(
                json_object_get(s->describe, "OwnershipSettings"), "OwnerUserProfileName"));

        if (!v)
                v = json_string_value(
                        json_object_get(json_object_get(s->describe, "OwnershipSettingsSummary"),
                                        "OwnerUserProfileName"));
        return v;
}

/* The update of a resource of ours over the fields that differ from the
 * manifest (immutable ones are reported by the caller, never sent), after
 * deps. *n_changes counts it. */
static int plan_update(builder *b, const target *t, const size_t *deps, size_t n_deps,
                       size_t *n_changes)
{
        sm_field_diff *udiffs = NULL;
        size_t n_u = 0, keep = 0;
        json_t *req;
        int r;

        if (!t->update_req)
                return 0;
        r = sm_request_diff(t->update_req, t->obs->describe, &udiffs, &n_u);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n_u; i++) {
                if (udiffs[i].immutable) {
                        free(udiffs[i].path);
                        json_decref(udiffs[i].observed);
                        json_decref(udiffs[i].desired);
                        continue;
                }
                udiffs[keep++] = udiffs[i];
        }
        n_u = keep;
        if (n_u == 0) {
                sm_field_diffs_free(udiffs, 0);
                return 0;
        }
        req = json_deep_copy(t->update_req);
        r = req ? sm_request_restrict(req, udiffs, n_u) : -ENOMEM;
        if (r < 0) {
                json_decref(req);
                sm_field_diffs_free(udiffs, n_u);
                return r;
        }
        r = add_action(b, t->res, SM_VERB_UPDATE, SM_SERVICE_SAGEMAKER, t->update_op, req, udiffs,
                       n_u, deps, n_deps, t->update_settle, t->src, NULL);
        if (r < 0)
                return r;
        (*n_changes)++;
        return 0;
}

/* Whether a profile or space still holds what AWS wants gone before it:
 * live apps, and for a profile the spaces it owns. Unread apps or spaces
 * count as held. */
static bool has_dependents(const sm_observed *obs, const sm_observed_resource *o)
{
        bool profile = o->kind == SM_RESOURCE_USER_PROFILE;
        const sm_observed_resource *first;
        size_t n;

        if (obs->incomplete[SM_RESOURCE_APP] || obs->incomplete[SM_RESOURCE_SPACE])
                return true;
        n = sm_observed_range(obs, SM_RESOURCE_APP, o->domain_id, &first);
        for (size_t i = 0; i < n; i++) {
                const sm_observed_resource *a = &first[i];
                status_class c = classify(SM_RESOURCE_APP, a->status);

                if (c == STATUS_GONE || c == STATUS_FAILED)
                        continue;
                if (profile ? (!a->app_space && streq_ptr(a->app_user_profile, o->name))
                            : streq_ptr(a->app_space, o->name))
                        return true;
        }
        if (!profile)
                return false;
        n = sm_observed_range(obs, SM_RESOURCE_SPACE, o->domain_id, &first);
        for (size_t i = 0; i < n; i++)
                if (streq_ptr(space_owner(&first[i]), o->name))
                        return true;
        return false;
}

/* A profile or space of ours whose creation failed (Status Failed): AWS
 * keeps it, unusable, and no call retries a create (UpdateX refuses a
 * Failed resource); DeleteX accepts it. So: deleted this round, created
 * the next round that finds it gone. A failed creation holds no data. One
 * with apps or spaces of its own is only reported: they would have to go
 * first, and deleting them is not a repair. */
static int plan_recreate(builder *b, const target *t)
{
        const sm_observed_resource *o = t->obs;
        bool profile = t->kind == SM_RESOURCE_USER_PROFILE;
        json_t *p;
        int r;

        if (has_dependents(b->obs, o))
                return add_finding(b, t->res, SM_FINDING_FAILED, t->src,
                                   "%s is Failed: %s; not recreated while it has apps or spaces "
                                   "(or they could not be read)",
                                   t->what, failure_reason(o));
        p = json_pack("{s:s,s:s}", "DomainId", o->domain_id ? o->domain_id : "",
                      profile ? "UserProfileName" : "SpaceName", o->name);
        r = add_action(b, t->res, SM_VERB_DELETE, SM_SERVICE_SAGEMAKER,
                       profile ? "DeleteUserProfile" : "DeleteSpace", p, NULL, 0, NULL, 0,
                       settle_deleted, t->src, NULL);
        if (r < 0)
                return r;
        return add_finding(b, t->res, SM_FINDING_FAILED, t->src,
                           "%s is Failed: %s; deleting it to create it again", t->what,
                           failure_reason(o));
}

/* A resource of ours whose last update failed (Update_Failed, MLflow's
 * UpdateFailed): AWS keeps the old settings and accepts another update.
 * The desired settings are sent again once per manifest version (the
 * retry tag, plan.h): a cause outside the manifest (a quota, a role that
 * cannot be passed) would fail every retry, so after one the resource is
 * reported until the manifest changes. */
static int plan_retry_update(builder *b, const target *t)
{
        const sm_observed_resource *o = t->obs;
        const char *tried = sm_tags_get(&o->tags, SM_TAG_UPDATE_RETRIED);
        _cleanup_free_ char *fp = NULL;
        size_t n_changes = 0, tag_idx;
        idxv deps = {0};
        json_t *p;
        int r = 0;

        if (!t->update_req || !o->describe)
                return add_finding(b, t->res, SM_FINDING_FAILED, t->src,
                                   "%s is %s: %s; its settings could not be compared: not "
                                   "retried",
                                   t->what, o->status, failure_reason(o));
        fp = request_fingerprint(t->update_req);
        if (!fp)
                return -ENOMEM;
        if (tried && streq(tried, fp))
                return add_finding(b, t->res, SM_FINDING_FAILED, t->src,
                                   "%s is %s: %s; the update was retried once already: not "
                                   "again until its manifest changes",
                                   t->what, o->status, failure_reason(o));
        /* Tag first: a retry that fails again must not be retried by the
         * next pass, and a tag planned after the update would be skipped
         * with it. */
        p = json_pack("{s:s,s:[{s:s,s:s}]}", "ResourceArn", o->arn ? o->arn : "", "Tags", "Key",
                      SM_TAG_UPDATE_RETRIED, "Value", fp);
        r = add_action(b, t->res, SM_VERB_TAG, SM_SERVICE_SAGEMAKER, "AddTags", p, NULL, 0, NULL, 0,
                       NULL, t->src, &tag_idx);
        for (size_t i = 0; r == 0 && i < t->n_update_deps; i++)
                r = idxv_push(&deps, t->update_deps[i]);
        if (r == 0)
                r = idxv_push(&deps, tag_idx);
        if (r == 0)
                r = plan_update(b, t, deps.v, deps.n, &n_changes);
        idxv_done(&deps);
        if (r < 0)
                return r;
        if (n_changes == 0) {
                /* Nothing differs: drop the marker, there is nothing to retry. */
                action_done(&b->actions[--b->n_actions]);
                return add_finding(b, t->res, SM_FINDING_FAILED, t->src,
                                   "%s is %s: %s; its settings already match the manifest: "
                                   "nothing to retry",
                                   t->what, o->status, failure_reason(o));
        }
        return add_finding(b, t->res, SM_FINDING_CHANGE, t->src,
                           "%s is %s: %s; sending the desired settings again (once for this "
                           "manifest version)",
                           t->what, o->status, failure_reason(o));
}

/* AWS says a create, update or delete failed (classify()). *ready: the
 * resource may still carry children. */
static int plan_failed(builder *b, const target *t, bool *ready)
{
        const sm_observed_resource *o = t->obs;
        bool create_failed = streq(o->status, "Failed") || streq(o->status, "CreateFailed");
        bool update_failed = streq(o->status, "Update_Failed") || streq(o->status, "UpdateFailed");

        if (t->kind == SM_RESOURCE_DOMAIN) {
                /* Its old settings stand after a failed update: children go on. */
                *ready = update_failed && o->tags_known && o->owner == SM_OWNER_US;
                return add_finding(b, t->res, SM_FINDING_FAILED, t->src,
                                   "domain is %s: %s; a pass never deletes, replaces or retries "
                                   "a domain: repair it in AWS",
                                   o->status, failure_reason(o));
        }
        if (!o->tags_known)
                return add_finding(b, t->res, SM_FINDING_BLOCKED, t->src,
                                   "%s is %s: %s; its tags were not read: ownership unknown",
                                   t->what, o->status, failure_reason(o));
        if (o->owner != SM_OWNER_US)
                return add_finding(b, t->res, SM_FINDING_FAILED, t->src,
                                   "%s is %s: %s; not ours: left alone", t->what, o->status,
                                   failure_reason(o));
        if (update_failed) {
                *ready = t->kind == SM_RESOURCE_USER_PROFILE;
                return plan_retry_update(b, t);
        }
        if (create_failed && t->kind != SM_RESOURCE_MLFLOW)
                return plan_recreate(b, t);
        /* Not recreated: a create takes up to 25 minutes and fails the same
         * way until its cause (the role, the artifact bucket) is fixed; a
         * deletion by hand after the fix makes the next pass create it. */
        if (create_failed)
                return add_finding(b, t->res, SM_FINDING_FAILED, t->src,
                                   "%s is %s: %s; not recreated automatically: fix the cause, "
                                   "then delete it (DeleteMlflowTrackingServer) and the next "
                                   "pass creates it again",
                                   t->what, o->status, failure_reason(o));
        /* Delete_Failed (someone deleted a resource we still want), and
         * MLflow's StartFailed, StopFailed, MaintenanceFailed. */
        return add_finding(b, t->res, SM_FINDING_FAILED, t->src,
                           "%s is %s: %s; still in the manifests: left as it is", t->what,
                           o->status, failure_reason(o));
}

/* An MLflow server Creating or Updating for longer than AWS ever takes. */
static bool mlflow_stuck(const builder *b, const sm_observed_resource *o, double *ret_min)
{
        unsigned limit =
                b->pol->mlflow_stuck_sec ? b->pol->mlflow_stuck_sec : SM_PLAN_MLFLOW_STUCK_SEC;

        if (b->pol->now <= 0 || o->last_modified <= 0 || !o->status ||
            (!streq(o->status, "Creating") && !streq(o->status, "Updating")))
                return false;
        *ret_min = (b->pol->now - o->last_modified) / 60.0;
        return b->pol->now - o->last_modified > (double)limit;
}

/* A resource that exists. *ready: ours and settled, so children may go. */
static int plan_present(builder *b, const target *t, bool *ready)
{
        const sm_observed_resource *o = t->obs;
        sm_field_diff *cdiffs = NULL;
        size_t n_c = 0, n_changes = 0;
        sm_buf refused = {0};
        double minutes;
        int r;

        *ready = false;
        switch (classify(t->kind, o->status)) {
        case STATUS_FAILED:
                return plan_failed(b, t, ready);
        case STATUS_WAITING:
                if (t->kind == SM_RESOURCE_MLFLOW && mlflow_stuck(b, o, &minutes))
                        return add_finding(b, t->res, SM_FINDING_FAILED, t->src,
                                           "%s has been %s for %.0f minutes, longer than AWS "
                                           "takes: see DescribeMlflowTrackingServer and its "
                                           "CloudTrail events; AWS Support can unstick it",
                                           t->what, o->status, minutes);
                /* fall through */
        case STATUS_GONE:
                return add_finding(b, t->res, SM_FINDING_WAITING, t->src, "%s is %s", t->what,
                                   o->status ? o->status : "in an unknown state");
        case STATUS_READY:
                break;
        }
        if (!o->tags_known)
                return add_finding(b, t->res, SM_FINDING_BLOCKED, t->src,
                                   "tags of the %s were not read: ownership unknown", t->what);
        if (o->owner != SM_OWNER_US) {
                if (o->owner == SM_OWNER_OTHER)
                        return add_finding(b, t->res, SM_FINDING_CONFLICT, t->src,
                                           "%s exists, managed by another smstudio instance (%s)",
                                           t->what, sm_tags_get(&o->tags, SM_TAG_MANAGED_BY));
                if (!t->adopt)
                        return add_finding(b, t->res, SM_FINDING_CONFLICT, t->src,
                                           "%s exists without our ownership tag; left alone "
                                           "(set adopt: true to take it over)",
                                           t->what);
                r = tags_actions(b, t, SM_VERB_ADOPT, &n_changes);
                if (r < 0)
                        return r;
                return add_finding(b, t->res, SM_FINDING_CHANGE, t->src, "adopt: tag %s=%s",
                                   SM_TAG_MANAGED_BY, b->pol->instance);
        }
        *ready = true;
        if (!o->describe)
                /* Without it no field can be compared; observe describes
                 * what moved, so this is the next round's business. */
                return add_finding(b, t->res, SM_FINDING_BLOCKED, t->src,
                                   "no current Describe output: settings not compared");
        if (t->create_req) {
                r = sm_request_diff(t->create_req, o->describe, &cdiffs, &n_c);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < n_c; i++) {
                        char *ov, *dv;

                        if (!cdiffs[i].immutable)
                                continue;
                        ov = cdiffs[i].observed ? dump_compact(cdiffs[i].observed) : NULL;
                        dv = dump_compact(cdiffs[i].desired);
                        r = sm_buf_printf(&refused, "%s%s: %s -> %s", refused.len ? "; " : "",
                                          cdiffs[i].path, ov ? ov : "(none)", dv ? dv : "?");
                        free(ov);
                        free(dv);
                        if (r < 0)
                                goto out;
                }
        }
        r = plan_update(b, t, t->update_deps, t->n_update_deps, &n_changes);
        if (r < 0)
                goto out;
        r = tags_actions(b, t, SM_VERB_TAG, &n_changes);
        if (r < 0)
                goto out;
        if (refused.len)
                r = add_finding(b, t->res, SM_FINDING_REPLACE_REFUSED, t->src,
                                "requires replacement, which a pass never does: %s", refused.data);
        else if (n_changes)
                r = add_finding(b, t->res, SM_FINDING_CHANGE, t->src,
                                "%zu change%s to repair drift", n_changes,
                                n_changes == 1 ? "" : "s");
        else
                r = add_finding(b, t->res, SM_FINDING_IN_SYNC, t->src, "in sync");
out:
        sm_field_diffs_free(cdiffs, n_c);
        sm_buf_done(&refused);
        return r;
}

/* ---- domains and what lives in them -------------------------------------- */

/* A domain's lifecycle config this round. */
typedef struct lcc_state {
        char *name; /* NULL: the domain has none (server_lifecycle_name unset) */
        char *arn;
        bool ready;    /* a domain request may name it (or it has none) */
        size_t action; /* CreateStudioLifecycleConfig this round, or NO_ACTION */
} lcc_state;

/* The lifecycle config of domain i: "<server_lifecycle_name>-<hash>" of
 * the one content, created when missing. Domains naming the same base
 * share one config (and one create). */
static int plan_lifecycle(builder *b, const sm_domain *domains, lcc_state *lccs, size_t i)
{
        const sm_plan_policy *pol = b->pol;
        const sm_domain *d = &domains[i];
        lcc_state *lcc = &lccs[i];
        const sm_observed_resource *o;
        _cleanup_free_ char *res = NULL;
        sm_request_refs refs = {.instance = pol->instance};
        json_t *req = NULL;
        int r;

        lcc->action = NO_ACTION;
        if (!d->server_lifecycle_name) {
                lcc->ready = true;
                return 0;
        }
        if (!pol->lifecycle_content_b64) {
                res = sm_strf("lifecycle-config/%s", d->server_lifecycle_name);
                if (!res)
                        return -ENOMEM;
                return add_finding(b, res, SM_FINDING_INVALID, &d->source,
                                   "server_lifecycle_name is set but no lifecycle script is "
                                   "available (lifecycle_script in the daemon config)");
        }
        r = sm_lifecycle_config_name(d->server_lifecycle_name, pol->lifecycle_content_b64,
                                     &lcc->name);
        if (r < 0) {
                res = sm_strf("lifecycle-config/%s", d->server_lifecycle_name);
                return res ? invalid_or(b, r, res, &d->source) : -ENOMEM;
        }
        for (size_t j = 0; j < i; j++)
                if (streq_ptr(lccs[j].name, lcc->name)) {
                        lcc->arn = lccs[j].arn ? strdup(lccs[j].arn) : NULL;
                        if (lccs[j].arn && !lcc->arn)
                                return -ENOMEM;
                        lcc->ready = lccs[j].ready;
                        lcc->action = lccs[j].action;
                        return 0;
                }
        res = sm_strf("lifecycle-config/%s", lcc->name);
        if (!res)
                return -ENOMEM;
        o = sm_observed_find(b->obs, SM_RESOURCE_LIFECYCLE_CONFIG, NULL, lcc->name);
        if (o && o->arn) {
                lcc->arn = strdup(o->arn);
                if (!lcc->arn)
                        return -ENOMEM;
        } else {
                lcc->arn = sm_strf("arn:%s:sagemaker:%s:%s:studio-lifecycle-config/%s",
                                   pol->partition, pol->region, pol->account_id, lcc->name);
                if (!lcc->arn)
                        return -ENOMEM;
        }
        /* Content-addressed: whoever made a config of this name made this
         * content, so any owner will do and there is nothing to update. */
        if (o) {
                lcc->ready = true;
                return add_finding(b, res, SM_FINDING_IN_SYNC, &d->source, "in sync");
        }
        if (b->obs->incomplete[SM_RESOURCE_LIFECYCLE_CONFIG])
                return add_finding(b, res, SM_FINDING_BLOCKED, &d->source,
                                   "could not read lifecycle configs: not creating it");
        r = sm_request_create_lifecycle_config(d, lcc->name, pol->lifecycle_content_b64, &refs,
                                               &req);
        if (r < 0)
                return invalid_or(b, r, res, &d->source);
        r = add_action(b, res, SM_VERB_CREATE, SM_SERVICE_SAGEMAKER, "CreateStudioLifecycleConfig",
                       req, NULL, 0, NULL, 0, NULL, &d->source, &lcc->action);
        if (r < 0)
                return r;
        lcc->ready = true;
        return add_finding(b, res, SM_FINDING_CHANGE, &d->source, "create");
}

static void domain_refs(const domain_ctx *dc, const lcc_state *lcc, const char *instance,
                        sm_request_refs *refs)
{
        *refs = (sm_request_refs){
                .instance = instance,
                .domain_id = dc->obs ? dc->obs->domain_id : NULL,
                .execution_role_arn = dc->rs[SM_ROLE_EXECUTION].arn,
                .data_scientist_role_arn = dc->rs[SM_ROLE_DATA_SCIENTIST].arn,
                .lead_data_scientist_role_arn = dc->rs[SM_ROLE_LEAD_DATA_SCIENTIST].arn,
                .mlflow_role_arn = dc->rs[SM_ROLE_MLFLOW].arn,
                .lifecycle_config_arn = lcc->arn,
        };
}

static void set_why(domain_ctx *dc, const char *fmt, ...) _printf_(2, 3);
static void set_why(domain_ctx *dc, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(dc->why_buf, sizeof(dc->why_buf), fmt, ap);
        va_end(ap);
        dc->why_not = dc->why_buf;
}

static int plan_domain(builder *b, domain_ctx *dc, const lcc_state *lcc)
{
        const sm_domain *d = dc->d;
        _cleanup_free_ char *res = sm_strf("domain/%s", d->name);
        sm_request_refs refs;
        json_t *create = NULL, *update = NULL;
        idxv udeps = {0};
        bool ready = false;
        int r = 0;

        if (!res)
                return -ENOMEM;
        if (dc->invalid) {
                set_why(dc, "domain %s is invalid", d->name);
                return 0;
        }
        domain_refs(dc, lcc, b->pol->instance, &refs);
        if (!dc->obs) {
                idxv deps = {0};
                size_t idx;

                set_why(dc, "domain %s does not exist yet", d->name);
                if (b->obs->incomplete[SM_RESOURCE_DOMAIN]) {
                        set_why(dc, "domain %s could not be read", d->name);
                        return add_finding(b, res, SM_FINDING_BLOCKED, &d->source,
                                           "could not read domains: not creating it");
                }
                if (!dc->rs[SM_ROLE_EXECUTION].usable)
                        return add_finding(b, res, SM_FINDING_BLOCKED, &d->source,
                                           "its execution role is not available");
                if (!lcc->ready)
                        return add_finding(b, res, SM_FINDING_BLOCKED, &d->source,
                                           "its lifecycle config is not available");
                r = sm_request_create_domain(d, &refs, &create);
                if (r < 0)
                        return invalid_or(b, r, res, &d->source);
                for (int k = 0; k < _SM_ROLE_KIND_MAX; k++)
                        for (size_t i = 0; r == 0 && i < dc->rs[k].deps.n; i++)
                                r = idxv_push(&deps, dc->rs[k].deps.v[i]);
                if (r == 0)
                        r = idxv_push(&deps, lcc->action);
                if (r == 0)
                        r = add_action(b, res, SM_VERB_CREATE, SM_SERVICE_SAGEMAKER, "CreateDomain",
                                       TAKE_PTR(create), NULL, 0, deps.v, deps.n, settle_in_service,
                                       &d->source, &idx);
                idxv_done(&deps);
                json_decref(create);
                if (r < 0)
                        return r;
                return add_finding(b, res, SM_FINDING_CHANGE, &d->source, "create");
        }
        /* Without the roles or the lifecycle config no request can be
         * built; the domain itself is still there for its children. */
        if (dc->rs[SM_ROLE_EXECUTION].usable && lcc->ready && dc->obs->owner == SM_OWNER_US) {
                r = sm_request_create_domain(d, &refs, &create);
                if (r == 0)
                        r = sm_request_update_domain(d, &refs, &update);
                if (r < 0) {
                        /* The domain exists: its children still may go. */
                        dc->ready = dc->obs->domain_id &&
                                    classify(SM_RESOURCE_DOMAIN, dc->obs->status) == STATUS_READY;
                        set_why(dc, "domain %s is not in service", d->name);
                        r = invalid_or(b, r, res, &d->source);
                        goto out;
                }
        }
        /* Changed lifecycle content is a new config the update points at. */
        for (int k = 0; r == 0 && k < _SM_ROLE_KIND_MAX; k++)
                for (size_t i = 0; r == 0 && i < dc->rs[k].deps.n; i++)
                        r = idxv_push(&udeps, dc->rs[k].deps.v[i]);
        if (r == 0)
                r = idxv_push(&udeps, lcc->action);
        if (r < 0)
                goto out;
        {
                target t = {
                        .kind = SM_RESOURCE_DOMAIN,
                        .res = res,
                        .src = &d->source,
                        .obs = dc->obs,
                        .create_req = create,
                        .update_req = update,
                        .update_op = "UpdateDomain",
                        .update_settle = settle_in_service,
                        .tags = &d->tags,
                        .adopt = d->adopt,
                        .what = "domain",
                        .update_deps = udeps.v,
                        .n_update_deps = udeps.n,
                };

                if (dc->obs->owner == SM_OWNER_US && (!create || !update) &&
                    classify(SM_RESOURCE_DOMAIN, dc->obs->status) == STATUS_READY &&
                    dc->obs->tags_known) {
                        r = add_finding(b, res, SM_FINDING_BLOCKED, &d->source,
                                        "its execution role or lifecycle config is not available: "
                                        "settings not compared");
                        ready = true;
                } else {
                        r = plan_present(b, &t, &ready);
                }
        }
        if (r < 0)
                goto out;
        /* Children need the id; observe always has it, but trust nothing. */
        dc->ready = ready && dc->obs->domain_id;
        if (!dc->ready)
                set_why(dc, "domain %s is not ours and in service (%s)", d->name,
                        dc->obs->status ? dc->obs->status : "unknown");
out:
        idxv_done(&udeps);
        json_decref(create);
        json_decref(update);
        return r;
}

typedef struct profile_state {
        bool ready;    /* ours and InService */
        size_t action; /* CreateUserProfile this round, or NO_ACTION */
} profile_state;

static int plan_profile(builder *b, domain_ctx *dc, const lcc_state *lcc, const sm_user *u,
                        profile_state *ps)
{
        const sm_domain *d = dc->d;
        _cleanup_free_ char *res = sm_strf("user-profile/%s/%s", d->name, u->name);
        const role_state *rs = &dc->rs[u->group == SM_GROUP_LEAD ? SM_ROLE_LEAD_DATA_SCIENTIST
                                                                 : SM_ROLE_DATA_SCIENTIST];
        const sm_observed_resource *o;
        sm_request_refs refs;
        json_t *create = NULL, *update = NULL;
        int r;

        ps->action = NO_ACTION;
        if (!res)
                return -ENOMEM;
        if (!dc->ready)
                return add_finding(b, res, SM_FINDING_BLOCKED, &u->source, "%s", dc->why_not);
        if (!rs->usable)
                return add_finding(b, res, SM_FINDING_BLOCKED, &u->source,
                                   "its execution role is not available");
        domain_refs(dc, lcc, b->pol->instance, &refs);
        r = sm_request_create_user_profile(d, u, &refs, &create);
        if (r == 0)
                r = sm_request_update_user_profile(d, u, &refs, &update);
        if (r < 0) {
                r = invalid_or(b, r, res, &u->source);
                goto out;
        }
        o = sm_observed_find(b->obs, SM_RESOURCE_USER_PROFILE, dc->obs->domain_id, u->name);
        if (!o) {
                if (b->obs->incomplete[SM_RESOURCE_USER_PROFILE]) {
                        r = add_finding(b, res, SM_FINDING_BLOCKED, &u->source,
                                        "could not read user profiles: not creating it");
                        goto out;
                }
                r = add_action(b, res, SM_VERB_CREATE, SM_SERVICE_SAGEMAKER, "CreateUserProfile",
                               TAKE_PTR(create), NULL, 0, rs->deps.v, rs->deps.n, settle_in_service,
                               &u->source, &ps->action);
                if (r == 0)
                        r = add_finding(b, res, SM_FINDING_CHANGE, &u->source, "create");
                goto out;
        }
        {
                target t = {
                        .kind = SM_RESOURCE_USER_PROFILE,
                        .res = res,
                        .src = &u->source,
                        .obs = o,
                        .create_req = create,
                        .update_req = update,
                        .update_op = "UpdateUserProfile",
                        .update_settle = settle_in_service,
                        .tags = &u->tags,
                        .adopt = u->adopt,
                        .what = "user profile",
                        .update_deps = rs->deps.v,
                        .n_update_deps = rs->deps.n,
                };

                r = plan_present(b, &t, &ps->ready);
        }
out:
        json_decref(create);
        json_decref(update);
        return r;
}

static int plan_space(builder *b, domain_ctx *dc, const lcc_state *lcc, const sm_space *s,
                      const profile_state *profiles)
{
        const sm_domain *d = dc->d;
        _cleanup_free_ char *res = sm_strf("space/%s/%s", d->name, s->name);
        const sm_observed_resource *o;
        sm_request_refs refs;
        json_t *create = NULL, *update = NULL;
        size_t dep = NO_ACTION;
        int r;

        if (!res)
                return -ENOMEM;
        if (!dc->ready)
                return add_finding(b, res, SM_FINDING_BLOCKED, &s->source, "%s", dc->why_not);
        domain_refs(dc, lcc, b->pol->instance, &refs);
        r = sm_request_create_space(d, s, &refs, &create);
        if (r == 0)
                r = sm_request_update_space(d, s, &refs, &update);
        if (r < 0) {
                r = invalid_or(b, r, res, &s->source);
                goto out;
        }
        o = sm_observed_find(b->obs, SM_RESOURCE_SPACE, dc->obs->domain_id, s->name);
        if (!o) {
                if (s->owner) {
                        const sm_user *u = sm_desired_user(b->desired, d->name, s->owner);
                        const profile_state *ps = u ? &profiles[u - b->desired->users] : NULL;

                        /* A private space is made inside its owner's profile. */
                        if (!ps || (!ps->ready && ps->action == NO_ACTION)) {
                                r = add_finding(b, res, SM_FINDING_BLOCKED, &s->source,
                                                "its owner %s is not in service", s->owner);
                                goto out;
                        }
                        dep = ps->action;
                }
                if (b->obs->incomplete[SM_RESOURCE_SPACE]) {
                        r = add_finding(b, res, SM_FINDING_BLOCKED, &s->source,
                                        "could not read spaces: not creating it");
                        goto out;
                }
                r = add_action(b, res, SM_VERB_CREATE, SM_SERVICE_SAGEMAKER, "CreateSpace",
                               TAKE_PTR(create), NULL, 0, &dep, dep == NO_ACTION ? 0 : 1,
                               settle_in_service, &s->source, NULL);
                if (r == 0)
                        r = add_finding(b, res, SM_FINDING_CHANGE, &s->source, "create");
                goto out;
        }
        {
                target t = {
                        .kind = SM_RESOURCE_SPACE,
                        .res = res,
                        .src = &s->source,
                        .obs = o,
                        .create_req = create,
                        .update_req = update,
                        .update_op = "UpdateSpace",
                        .update_settle = settle_in_service,
                        .tags = &s->tags,
                        .adopt = s->adopt,
                        .what = "space",
                };
                bool ready;

                r = plan_present(b, &t, &ready);
        }
out:
        json_decref(create);
        json_decref(update);
        return r;
}

static int plan_mlflow(builder *b, domain_ctx *dc, const lcc_state *lcc)
{
        const sm_domain *d = dc->d;
        _cleanup_free_ char *res = sm_strf("mlflow/%s", d->mlflow_server_name);
        const role_state *rs = &dc->rs[SM_ROLE_MLFLOW];
        const sm_observed_resource *o;
        sm_request_refs refs;
        json_t *create = NULL, *update = NULL;
        int r;

        if (!res)
                return -ENOMEM;
        if (!dc->ready)
                return add_finding(b, res, SM_FINDING_BLOCKED, &d->source, "%s", dc->why_not);
        if (!rs->usable)
                return add_finding(b, res, SM_FINDING_BLOCKED, &d->source,
                                   "its role is not available");
        domain_refs(dc, lcc, b->pol->instance, &refs);
        r = sm_request_create_mlflow(d, &refs, &create);
        if (r == 0)
                r = sm_request_update_mlflow(d, &refs, &update);
        if (r < 0) {
                r = invalid_or(b, r, res, &d->source);
                goto out;
        }
        o = sm_observed_find(b->obs, SM_RESOURCE_MLFLOW, NULL, d->mlflow_server_name);
        if (!o) {
                if (b->obs->incomplete[SM_RESOURCE_MLFLOW]) {
                        r = add_finding(b, res, SM_FINDING_BLOCKED, &d->source,
                                        "could not read MLflow tracking servers: not creating it");
                        goto out;
                }
                r = add_action(b, res, SM_VERB_CREATE, SM_SERVICE_SAGEMAKER,
                               "CreateMlflowTrackingServer", TAKE_PTR(create), NULL, 0, rs->deps.v,
                               rs->deps.n, settle_mlflow_created, &d->source, NULL);
                if (r == 0)
                        r = add_finding(b, res, SM_FINDING_CHANGE, &d->source, "create");
                goto out;
        }
        {
                target t = {
                        .kind = SM_RESOURCE_MLFLOW,
                        .res = res,
                        .src = &d->source,
                        .obs = o,
                        .create_req = create,
                        .update_req = update,
                        .update_op = "UpdateMlflowTrackingServer",
                        .update_settle = settle_mlflow_updated,
                        .tags = &d->tags,
                        .adopt = d->adopt,
                        .what = "MLflow tracking server",
                        .update_deps = rs->deps.v,
                        .n_update_deps = rs->deps.n,
                };
                bool ready;

                r = plan_present(b, &t, &ready);
        }
out:
        json_decref(create);
        json_decref(update);
        return r;
}

/* ---- teardown ---------------------------------------------------------- */

typedef struct teardown {
        builder b; /* deletion actions and their findings, merged or held */
        /* Findings about deletions AWS already runs: nothing to hold. */
        builder *main;
        unsigned profiles;
        bool *space_done; /* by observed resource index */
} teardown;

/* The finding of a teardown delete. A resource whose last delete failed
 * (Delete_Failed, DeleteFailed) is deleted again, with AWS's reason shown:
 * the cause is often transient (an app still stopping). */
static int delete_finding(builder *b, const char *res, const sm_observed_resource *o)
{
        if (o->status && strstr(o->status, "Failed"))
                return add_finding(b, res, SM_FINDING_CHANGE, NULL,
                                   "delete: ours and no longer in the manifests (AWS says %s: "
                                   "%s; deleting again)",
                                   o->status, failure_reason(o));
        return add_finding(b, res, SM_FINDING_CHANGE, NULL,
                           "delete: ours and no longer in the manifests");
}

/* DeleteApp for the live apps of a profile (space NULL) or a space. */
static int delete_apps(teardown *td, const sm_observed *obs, const char *domain_name,
                       const char *domain_id, const char *profile, const char *space, idxv *out,
                       bool *busy)
{
        const sm_observed_resource *apps;
        size_t n = sm_observed_range(obs, SM_RESOURCE_APP, domain_id, &apps);
        int r;

        for (size_t i = 0; i < n; i++) {
                const sm_observed_resource *a = &apps[i];
                _cleanup_free_ char *res = NULL;
                status_class c;
                json_t *p;
                size_t idx;

                if (space ? !streq_ptr(a->app_space, space)
                          : (a->app_space || !streq_ptr(a->app_user_profile, profile)))
                        continue;
                c = classify(SM_RESOURCE_APP, a->status);
                /* Failed apps need not (and cannot) be deleted (§6.2). */
                if (c == STATUS_GONE || c == STATUS_FAILED)
                        continue;
                if (!a->status || !streq(a->status, "InService")) {
                        /* Pending or Deleting: nothing to call now. */
                        *busy = true;
                        continue;
                }
                res = sm_strf("app/%s/%s/%s/%s", domain_name, space ? space : profile,
                              a->app_type ? a->app_type : "?", a->name);
                p = json_pack("{s:s,s:s,s:s,s:s}", "DomainId", domain_id, "AppType",
                              a->app_type ? a->app_type : "", "AppName", a->name,
                              space ? "SpaceName" : "UserProfileName", space ? space : profile);
                if (!res)
                        return -ENOMEM;
                r = add_action(&td->b, res, SM_VERB_DELETE, SM_SERVICE_SAGEMAKER, "DeleteApp", p,
                               NULL, 0, NULL, 0, settle_deleted, NULL, &idx);
                if (r == 0)
                        r = idxv_push(out, idx);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* *ret_idx: the DeleteSpace action, or NO_ACTION with *busy set when
 * something of the space must settle first. */
static int delete_space(teardown *td, const sm_observed *obs, const char *domain_name,
                        const sm_observed_resource *s, size_t *ret_idx, bool *busy)
{
        _cleanup_free_ char *res = sm_strf("space/%s/%s", domain_name, s->name);
        idxv deps = {0};
        json_t *p;
        int r;

        *ret_idx = NO_ACTION;
        *busy = false;
        if (!res)
                return -ENOMEM;
        td->space_done[s - obs->resources] = true;
        if (streq_ptr(s->status, "Deleting")) {
                *busy = true;
                return add_finding(td->main, res, SM_FINDING_WAITING, NULL, "space is Deleting");
        }
        r = delete_apps(td, obs, domain_name, s->domain_id, NULL, s->name, &deps, busy);
        if (r < 0)
                goto out;
        if (*busy) {
                r = add_finding(&td->b, res, SM_FINDING_WAITING, NULL,
                                "an app of the space is starting or stopping: deleting later");
                goto out;
        }
        p = json_pack("{s:s,s:s}", "DomainId", s->domain_id, "SpaceName", s->name);
        r = add_action(&td->b, res, SM_VERB_DELETE, SM_SERVICE_SAGEMAKER, "DeleteSpace", p, NULL, 0,
                       deps.v, deps.n, settle_deleted, NULL, ret_idx);
        if (r == 0)
                r = delete_finding(&td->b, res, s);
out:
        idxv_done(&deps);
        return r;
}

/* The teardown chain of a removed user: apps, private spaces, profile. */
static int delete_profile(teardown *td, const builder *b, const sm_domain *d,
                          const sm_observed_resource *p)
{
        const sm_observed *obs = b->obs;
        _cleanup_free_ char *res = sm_strf("user-profile/%s/%s", d->name, p->name);
        const sm_observed_resource *spaces;
        size_t n = sm_observed_range(obs, SM_RESOURCE_SPACE, p->domain_id, &spaces);
        idxv deps = {0};
        bool busy = false;
        json_t *params;
        int r = 0;

        if (!res)
                return -ENOMEM;
        if (streq_ptr(p->status, "Deleting"))
                return add_finding(td->main, res, SM_FINDING_WAITING, NULL,
                                   "user profile is Deleting");
        if (obs->incomplete[SM_RESOURCE_APP] || obs->incomplete[SM_RESOURCE_SPACE])
                return add_finding(&td->b, res, SM_FINDING_BLOCKED, NULL,
                                   "could not read its apps or spaces: not deleting it");
        /* Every space it owns must go first; one we may not delete
         * (foreign, or still desired) keeps the profile. */
        for (size_t i = 0; i < n; i++) {
                const sm_observed_resource *s = &spaces[i];

                if (!streq_ptr(space_owner(s), p->name))
                        continue;
                if (s->owner != SM_OWNER_US || sm_desired_space(b->desired, d->name, s->name))
                        return add_finding(&td->b, res, SM_FINDING_BLOCKED, NULL,
                                           "it owns space %s, which is not ours to delete",
                                           s->name);
        }
        /* Apps first, then the private spaces, then the profile (§6.2). */
        r = delete_apps(td, obs, d->name, p->domain_id, p->name, NULL, &deps, &busy);
        if (r < 0)
                goto out;
        for (size_t i = 0; i < n; i++) {
                bool space_busy;
                size_t idx;

                if (!streq_ptr(space_owner(&spaces[i]), p->name))
                        continue;
                r = delete_space(td, obs, d->name, &spaces[i], &idx, &space_busy);
                if (r == 0)
                        r = idxv_push(&deps, idx);
                if (r < 0)
                        goto out;
                busy = busy || space_busy;
        }
        /* Counted even while it waits: the guard judges the whole intent,
         * and the app deletions planned above are part of it. */
        td->profiles++;
        if (busy) {
                r = add_finding(&td->b, res, SM_FINDING_WAITING, NULL,
                                "waiting for its apps and spaces to go before deleting it");
                goto out;
        }
        params = json_pack("{s:s,s:s}", "DomainId", p->domain_id, "UserProfileName", p->name);
        r = add_action(&td->b, res, SM_VERB_DELETE, SM_SERVICE_SAGEMAKER, "DeleteUserProfile",
                       params, NULL, 0, deps.v, deps.n, settle_deleted, NULL, NULL);
        if (r == 0)
                r = delete_finding(&td->b, res, p);
out:
        idxv_done(&deps);
        return r;
}

static bool mlflow_desired(const sm_desired *desired, const char *name)
{
        for (size_t i = 0; i < desired->n_domains; i++)
                if (desired->domains[i].mlflow_enabled &&
                    streq_ptr(desired->domains[i].mlflow_server_name, name))
                        return true;
        return false;
}

static int delete_role(teardown *td, const sm_observed_role *o, const idxv *after)
{
        _cleanup_free_ char *res = sm_strf("role/%s", o->name);
        idxv deps = {0};
        int r = 0;

        if (!res)
                return -ENOMEM;
        /* IAM refuses DeleteRole while policies are attached or inline. */
        for (size_t i = 0; r == 0 && i < o->n_managed; i++) {
                size_t idx;

                r = role_action(&td->b, res, SM_VERB_DELETE, "DetachRolePolicy", o->name,
                                "PolicyArn", json_string(o->managed_policy_arns[i]), after->v,
                                after->n, NULL, &idx);
                if (r == 0)
                        r = idxv_push(&deps, idx);
        }
        for (size_t i = 0; r == 0 && i < o->n_inline; i++) {
                size_t idx;

                r = policy_action(&td->b, res, SM_VERB_DELETE, "DeleteRolePolicy", o->name,
                                  "PolicyName", o->inline_policies[i].name, NULL, after->v,
                                  after->n, NULL, NULL, 0, &idx);
                if (r == 0)
                        r = idxv_push(&deps, idx);
        }
        for (size_t i = 0; r == 0 && i < after->n; i++)
                r = idxv_push(&deps, after->v[i]);
        if (r == 0)
                r = role_action(&td->b, res, SM_VERB_DELETE, "DeleteRole", o->name, NULL, NULL,
                                deps.v, deps.n, NULL, NULL);
        if (r == 0)
                r = add_finding(&td->b, res, SM_FINDING_CHANGE, NULL,
                                "delete: its kind is no longer wanted");
        idxv_done(&deps);
        return r;
}

static int plan_teardown(teardown *td, const builder *b, domain_ctx *dcs)
{
        const sm_observed *obs = b->obs;
        const sm_observed_resource *first;
        idxv mlflow_deletes = {0};
        size_t n;
        int r = 0;

        for (size_t di = 0; di < b->desired->n_domains; di++) {
                domain_ctx *dc = &dcs[di];
                const sm_domain *d = dc->d;

                if (!dc->obs || dc->obs->owner != SM_OWNER_US || !dc->obs->domain_id)
                        continue;
                n = sm_observed_range(obs, SM_RESOURCE_USER_PROFILE, dc->obs->domain_id, &first);
                for (size_t i = 0; i < n; i++) {
                        const sm_observed_resource *p = &first[i];

                        if (p->owner != SM_OWNER_US ||
                            sm_desired_user(b->desired, d->name, p->name))
                                continue;
                        if (obs->incomplete[SM_RESOURCE_USER_PROFILE]) {
                                _cleanup_free_ char *res =
                                        sm_strf("user-profile/%s/%s", d->name, p->name);

                                r = res ? add_finding(&td->b, res, SM_FINDING_BLOCKED, NULL,
                                                      "could not read user profiles: not "
                                                      "deleting it")
                                        : -ENOMEM;
                        } else {
                                r = delete_profile(td, b, d, p);
                        }
                        if (r < 0)
                                goto out;
                }
                n = sm_observed_range(obs, SM_RESOURCE_SPACE, dc->obs->domain_id, &first);
                for (size_t i = 0; i < n; i++) {
                        const sm_observed_resource *s = &first[i];
                        bool busy;
                        size_t idx;

                        if (td->space_done[s - obs->resources] || s->owner != SM_OWNER_US ||
                            sm_desired_space(b->desired, d->name, s->name))
                                continue;
                        if (obs->incomplete[SM_RESOURCE_SPACE] ||
                            obs->incomplete[SM_RESOURCE_APP]) {
                                _cleanup_free_ char *res = sm_strf("space/%s/%s", d->name, s->name);

                                r = res ? add_finding(&td->b, res, SM_FINDING_BLOCKED, NULL,
                                                      "could not read spaces or apps: not "
                                                      "deleting it")
                                        : -ENOMEM;
                        } else {
                                r = delete_space(td, obs, d->name, s, &idx, &busy);
                        }
                        if (r < 0)
                                goto out;
                }
        }
        n = sm_observed_range(obs, SM_RESOURCE_MLFLOW, NULL, &first);
        for (size_t i = 0; i < n; i++) {
                const sm_observed_resource *m = &first[i];
                _cleanup_free_ char *res = NULL;
                size_t idx;
                json_t *p;

                if (m->owner != SM_OWNER_US || mlflow_desired(b->desired, m->name))
                        continue;
                res = sm_strf("mlflow/%s", m->name);
                if (!res) {
                        r = -ENOMEM;
                        goto out;
                }
                if (obs->incomplete[SM_RESOURCE_MLFLOW]) {
                        r = add_finding(&td->b, res, SM_FINDING_BLOCKED, NULL,
                                        "could not read MLflow tracking servers: not deleting it");
                        if (r < 0)
                                goto out;
                        continue;
                }
                if (classify(SM_RESOURCE_MLFLOW, m->status) == STATUS_WAITING) {
                        r = add_finding(streq_ptr(m->status, "Deleting") ? td->main : &td->b, res,
                                        SM_FINDING_WAITING, NULL,
                                        "MLflow tracking server is %s: deleting later",
                                        m->status ? m->status : "unknown");
                        if (r < 0)
                                goto out;
                        continue;
                }
                p = json_pack("{s:s}", "TrackingServerName", m->name);
                r = add_action(&td->b, res, SM_VERB_DELETE, SM_SERVICE_SAGEMAKER,
                               "DeleteMlflowTrackingServer", p, NULL, 0, NULL, 0, settle_deleted,
                               NULL, &idx);
                if (r == 0)
                        r = idxv_push(&mlflow_deletes, idx);
                if (r == 0)
                        r = delete_finding(&td->b, res, m);
                if (r < 0)
                        goto out;
        }
        /* Roles of a kind a desired domain no longer wants (MLflow turned
         * off). Domains are never deleted, so neither are their other roles. */
        for (size_t di = 0; di < b->desired->n_domains && !obs->roles_incomplete; di++) {
                domain_ctx *dc = &dcs[di];

                /* No desired roles known: nothing can be called unwanted. */
                if (dc->invalid)
                        continue;
                for (int k = 0; k < _SM_ROLE_KIND_MAX; k++) {
                        _cleanup_free_ char *name = NULL;
                        const sm_observed_role *o;

                        if (sm_desired_roles_get(dc->roles, dc->n_roles, k))
                                continue;
                        r = sm_role_name(dc->d->name, k, &name);
                        if (r < 0)
                                goto out;
                        o = sm_observed_role_find(obs, name);
                        if (!o || o->owner != SM_OWNER_US)
                                continue;
                        r = delete_role(td, o, &mlflow_deletes);
                        if (r < 0)
                                goto out;
                }
        }
out:
        idxv_done(&mlflow_deletes);
        return r;
}

/* Whether JupyterLab app settings (a domain's, profile's or space's)
 * name the lifecycle config arn. */
static bool jupyterlab_names(const json_t *jl, const char *arn)
{
        size_t i;
        json_t *v;

        if (streq_ptr(json_string_value(json_object_get(json_object_get(jl, "DefaultResourceSpec"),
                                                        "LifecycleConfigArn")),
                      arn) ||
            streq_ptr(json_string_value(json_object_get(jl, "BuiltInLifecycleConfigArn")), arn))
                return true;
        json_array_foreach(json_object_get(jl, "LifecycleConfigArns"), i, v)
        {
                if (streq_ptr(json_string_value(v), arn))
                        return true;
        }
        return false;
}

static json_t *member(const json_t *o, const char *a, const char *b)
{
        return json_object_get(json_object_get(o, a), b);
}

/* The first observed resource that still uses lifecycle config arn, or
 * NULL; *unknown when one that might could not be read. AWS refuses to
 * delete a config in use (DeleteStudioLifecycleConfig), so this only
 * spares a call bound to fail; it reads the Describe fields
 * DefaultUserSettings / DefaultSpaceSettings .JupyterLabAppSettings
 * (domains), UserSettings.JupyterLabAppSettings (profiles),
 * SpaceSettings.JupyterLabAppSettings (spaces) and ResourceSpec /
 * BuiltInLifecycleConfigArn (live apps). */
static const sm_observed_resource *lcc_user(const sm_observed *obs, const char *arn, bool *unknown)
{
        *unknown = obs->incomplete[SM_RESOURCE_DOMAIN] ||
                   obs->incomplete[SM_RESOURCE_USER_PROFILE] ||
                   obs->incomplete[SM_RESOURCE_SPACE] || obs->incomplete[SM_RESOURCE_APP];
        for (size_t i = 0; i < obs->n_resources; i++) {
                const sm_observed_resource *r = &obs->resources[i];
                const json_t *d = r->describe;
                bool uses;

                switch (r->kind) {
                case SM_RESOURCE_DOMAIN:
                        uses = jupyterlab_names(
                                       member(d, "DefaultUserSettings", "JupyterLabAppSettings"),
                                       arn) ||
                               jupyterlab_names(
                                       member(d, "DefaultSpaceSettings", "JupyterLabAppSettings"),
                                       arn);
                        break;
                case SM_RESOURCE_USER_PROFILE:
                        uses = jupyterlab_names(member(d, "UserSettings", "JupyterLabAppSettings"),
                                                arn);
                        break;
                case SM_RESOURCE_SPACE:
                        uses = jupyterlab_names(member(d, "SpaceSettings", "JupyterLabAppSettings"),
                                                arn);
                        break;
                case SM_RESOURCE_APP: {
                        status_class c = classify(SM_RESOURCE_APP, r->status);

                        if (c == STATUS_GONE || c == STATUS_FAILED)
                                continue;
                        uses = streq_ptr(json_string_value(
                                                 member(d, "ResourceSpec", "LifecycleConfigArn")),
                                         arn) ||
                               streq_ptr(json_string_value(
                                                 json_object_get(d, "BuiltInLifecycleConfigArn")),
                                         arn);
                        break;
                }
                default:
                        continue;
                }
                if (uses)
                        return r;
                if (!d)
                        *unknown = true;
        }
        return NULL;
}

static char *observed_resource_name(const sm_observed *obs, const sm_observed_resource *r);

/* Lifecycle configs of ours that no desired domain wants any more (the
 * script changed, so its name did; or server_lifecycle_name was unset):
 * deleted once nothing uses them, never while one does. They join the
 * teardown, so an incomplete load or the deletion guard holds them too. */
static int plan_lifecycle_sweep(teardown *td, const builder *b, const lcc_state *lccs)
{
        const sm_observed *obs = b->obs;
        const sm_observed_resource *first;
        size_t n = sm_observed_range(obs, SM_RESOURCE_LIFECYCLE_CONFIG, NULL, &first);
        int r = 0;

        for (size_t i = 0; i < n; i++) {
                const sm_observed_resource *c = &first[i];
                const sm_observed_resource *user;
                _cleanup_free_ char *res = NULL, *user_name = NULL;
                bool wanted = false, unknown;

                for (size_t j = 0; j < b->desired->n_domains; j++)
                        wanted = wanted || streq_ptr(lccs[j].name, c->name);
                if (wanted || c->owner != SM_OWNER_US || !c->arn)
                        continue;
                res = sm_strf("lifecycle-config/%s", c->name);
                if (!res)
                        return -ENOMEM;
                user = lcc_user(obs, c->arn, &unknown);
                if (user) {
                        user_name = observed_resource_name(obs, user);
                        if (!user_name)
                                return -ENOMEM;
                        r = add_finding(td->main, res, SM_FINDING_WAITING, NULL,
                                        "ours and no longer wanted, but %s still uses it: "
                                        "deleted once nothing does",
                                        user_name);
                } else if (unknown) {
                        r = add_finding(td->main, res, SM_FINDING_BLOCKED, NULL,
                                        "ours and no longer wanted; whether something still uses "
                                        "it could not be read: not deleting it");
                } else {
                        json_t *p = json_pack("{s:s}", "StudioLifecycleConfigName", c->name);

                        r = add_action(&td->b, res, SM_VERB_DELETE, SM_SERVICE_SAGEMAKER,
                                       "DeleteStudioLifecycleConfig", p, NULL, 0, NULL, 0, NULL,
                                       NULL, NULL);
                        if (r == 0)
                                r = add_finding(&td->b, res, SM_FINDING_CHANGE, NULL,
                                                "delete: ours, no longer wanted and no longer "
                                                "used");
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- SageMaker projects: the Service Catalog portfolio ------------------- */

#define PORTFOLIO_RES "portfolio"

/* The roles the original module associates with the portfolio (§2.6). */
static const sm_role_kind portfolio_kinds[] = {
        SM_ROLE_EXECUTION,
        SM_ROLE_DATA_SCIENTIST,
        SM_ROLE_LEAD_DATA_SCIENTIST,
};

static bool portfolio_kind(sm_role_kind k)
{
        for (size_t i = 0; i < ELEMENTSOF(portfolio_kinds); i++)
                if (portfolio_kinds[i] == k)
                        return true;
        return false;
}

static bool projects_wanted(const sm_desired *desired)
{
        for (size_t i = 0; i < desired->n_domains; i++)
                if (desired->domains[i].enable_custom_sagemaker_projects)
                        return true;
        return false;
}

static int principal_action(builder *b, sm_verb verb, const char *op, const char *portfolio_id,
                            const char *arn, const size_t *deps, size_t n_deps,
                            const sm_source *src)
{
        json_t *p = json_pack("{s:s,s:s,s:s}", "PortfolioId", portfolio_id, "PrincipalARN", arn,
                              "PrincipalType", "IAM");

        return add_action(b, PORTFOLIO_RES, verb, SM_SERVICE_SERVICECATALOG, op, p, NULL, 0, deps,
                          n_deps, NULL, src, NULL);
}

/* Whether a principal is a role of ours the portfolio should no longer
 * have: a role of this account named as a desired domain names its roles,
 * of a kind the domain no longer wants associated (projects turned off, or
 * a role kind the domain dropped), and not a role someone else owns. A
 * principal matching none of that is somebody else's business. */
static int principal_unwanted(const builder *b, const domain_ctx *dcs, const char *arn, bool *ret)
{
        _cleanup_free_ char *prefix =
                sm_strf("arn:%s:iam::%s:role/", b->pol->partition, b->pol->account_id);
        const char *name;

        *ret = false;
        if (!prefix)
                return -ENOMEM;
        if (!has_prefix(arn, prefix))
                return 0;
        /* Role names hold no '/': the last segment is the name, after any path. */
        name = strrchr(arn, '/') + 1;
        for (size_t di = 0; di < b->desired->n_domains; di++) {
                const domain_ctx *dc = &dcs[di];

                if (dc->invalid)
                        continue;
                for (int k = 0; k < _SM_ROLE_KIND_MAX; k++) {
                        _cleanup_free_ char *ours = NULL;
                        const sm_observed_role *o;
                        int r = sm_role_name(dc->d->name, k, &ours);

                        if (r < 0)
                                return r;
                        if (!streq(ours, name))
                                continue;
                        /* Wanted: a kind the domain still has, unless it is
                         * one we associate and projects are off. A desired
                         * MLflow role associated by hand is left alone. */
                        if (sm_desired_roles_get(dc->roles, dc->n_roles, k) &&
                            (dc->d->enable_custom_sagemaker_projects || !portfolio_kind(k)))
                                return 0;
                        /* Only a role seen tagged as ours: one of that name
                         * owned by someone else (adopt: false), or one we
                         * cannot see (another path), was not ours to add. */
                        o = sm_observed_role_find(b->obs, name);
                        *ret = o && o->owner == SM_OWNER_US;
                        return 0;
                }
        }
        return 0;
}

/* Parity with the original's custom resource (§4), as a converging diff:
 * enable the portfolio and wait for Enabled; then, in a later round, once
 * the accepted "Amazon SageMaker" share gives the portfolio id, associate
 * the execution, data scientist and lead roles of every domain with
 * projects on, and disassociate the roles of ours that should no longer be
 * there. Principals that are not our roles are never touched.
 *
 * AcceptPortfolioShare is not planned: SageMaker accepts its share on the
 * account's behalf when projects are enabled (the original never accepts
 * either), and the call needs the portfolio id, which only the accepted
 * share's listing gives. An enabled portfolio without that share is
 * reported BLOCKED rather than guessed at.
 *
 * The observer reads the portfolio only while some domain wants projects,
 * so turning projects off on the last such domain leaves its associations
 * in place (the original never removes them either). */
static int plan_portfolio(builder *b, domain_ctx *dcs)
{
        const sm_observed_portfolio *pf = &b->obs->portfolio;
        size_t n_assoc = 0, n_dissoc = 0, n_blocked = 0;
        const char *blocked_role = NULL;
        int r;

        if (!projects_wanted(b->desired))
                return 0;
        if (!pf->status_known)
                return add_finding(b, PORTFOLIO_RES, SM_FINDING_BLOCKED, NULL,
                                   "could not read the SageMaker projects portfolio: changing "
                                   "nothing");
        if (!pf->enabled) {
                r = add_action(b, PORTFOLIO_RES, SM_VERB_CREATE, SM_SERVICE_SAGEMAKER,
                               "EnableSagemakerServicecatalogPortfolio", json_object(), NULL, 0,
                               NULL, 0, settle_enabled, NULL, NULL);
                if (r < 0)
                        return r;
                return add_finding(b, PORTFOLIO_RES, SM_FINDING_CHANGE, NULL,
                                   "enable SageMaker projects; roles are associated once the "
                                   "portfolio is Enabled");
        }
        if (!pf->portfolio_id)
                return add_finding(b, PORTFOLIO_RES, SM_FINDING_BLOCKED, NULL,
                                   "projects are enabled but no accepted \"Amazon SageMaker\" "
                                   "portfolio share was found: nothing to associate roles with");
        for (size_t di = 0; di < b->desired->n_domains; di++) {
                domain_ctx *dc = &dcs[di];

                if (!dc->d->enable_custom_sagemaker_projects || dc->invalid)
                        continue;
                for (size_t i = 0; i < ELEMENTSOF(portfolio_kinds); i++) {
                        const sm_desired_role *dr =
                                sm_desired_roles_get(dc->roles, dc->n_roles, portfolio_kinds[i]);
                        const role_state *st = &dc->rs[portfolio_kinds[i]];

                        if (!dr)
                                continue;
                        /* A role in conflict or unread has no ARN we may name. */
                        if (!st->usable || !st->arn) {
                                n_blocked++;
                                blocked_role = dr->name;
                                continue;
                        }
                        if (strv_has(pf->principal_arns, st->arn))
                                continue;
                        r = principal_action(b, SM_VERB_CREATE, "AssociatePrincipalWithPortfolio",
                                             pf->portfolio_id, st->arn, st->deps.v, st->deps.n,
                                             &dc->d->source);
                        if (r < 0)
                                return r;
                        n_assoc++;
                }
        }
        /* Unread roles cannot be told ours, and a manifest that failed to
         * load may be the one wanting them: no removal then. */
        for (size_t i = 0;
             i < pf->n_principals && !b->obs->roles_incomplete && b->pol->load_complete; i++) {
                bool unwanted;

                r = principal_unwanted(b, dcs, pf->principal_arns[i], &unwanted);
                if (r < 0)
                        return r;
                if (!unwanted)
                        continue;
                r = principal_action(b, SM_VERB_DELETE, "DisassociatePrincipalFromPortfolio",
                                     pf->portfolio_id, pf->principal_arns[i], NULL, 0, NULL);
                if (r < 0)
                        return r;
                n_dissoc++;
        }
        if (n_assoc + n_dissoc > 0)
                return add_finding(b, PORTFOLIO_RES, SM_FINDING_CHANGE, NULL,
                                   "associate %zu role%s, disassociate %zu; %zu not associable "
                                   "yet",
                                   n_assoc, n_assoc == 1 ? "" : "s", n_dissoc, n_blocked);
        if (n_blocked)
                return add_finding(b, PORTFOLIO_RES, SM_FINDING_BLOCKED, NULL,
                                   "%zu role%s (%s among them) cannot be associated: not created "
                                   "or not ours",
                                   n_blocked, n_blocked == 1 ? "" : "s", blocked_role);
        return add_finding(b, PORTFOLIO_RES, SM_FINDING_IN_SYNC, NULL,
                           "enabled, every execution role associated");
}

/* Move the teardown's actions behind the plan's, shifting their deps. */
static int merge_teardown(builder *b, teardown *td)
{
        size_t base = b->n_actions;
        void *items;
        int r;

        for (size_t i = 0; i < td->b.n_actions; i++) {
                items = b->actions;
                r = reserve(&items, &b->cap_actions, b->n_actions, sizeof(sm_action));
                if (r < 0)
                        return r;
                b->actions = items;
                for (size_t j = 0; j < td->b.actions[i].n_deps; j++)
                        td->b.actions[i].deps[j] += base;
                b->actions[b->n_actions++] = td->b.actions[i];
                td->b.actions[i] = (sm_action){0};
        }
        td->b.n_actions = 0;
        return 0;
}

static int merge_findings(builder *b, builder *from)
{
        void *items;
        int r;

        for (size_t i = 0; i < from->n_findings; i++) {
                items = b->findings;
                r = reserve(&items, &b->cap_findings, b->n_findings, sizeof(sm_finding));
                if (r < 0)
                        return r;
                b->findings = items;
                b->findings[b->n_findings++] = from->findings[i];
                from->findings[i] = (sm_finding){0};
        }
        from->n_findings = 0;
        return 0;
}

/* Hold every deletion: the teardown's findings of resources it would
 * delete (now or once their apps settle) become DELETION_GUARDED and its
 * actions are dropped. */
static int hold_deletions(teardown *td, const char *why, unsigned *n_held)
{
        for (size_t i = 0; i < td->b.n_actions; i++)
                action_done(&td->b.actions[i]);
        td->b.n_actions = 0;
        for (size_t i = 0; i < td->b.n_findings; i++) {
                sm_finding *f = &td->b.findings[i];
                char *m;

                if (f->kind != SM_FINDING_CHANGE && f->kind != SM_FINDING_WAITING)
                        continue;
                m = strdup(why);
                if (!m)
                        return -ENOMEM;
                free(f->message);
                f->message = m;
                f->kind = SM_FINDING_DELETION_GUARDED;
                (*n_held)++;
        }
        return 0;
}

static unsigned count_our_profiles(const sm_observed *obs)
{
        const sm_observed_resource *first;
        size_t n = sm_observed_range(obs, SM_RESOURCE_USER_PROFILE, NULL, &first);
        unsigned c = 0;

        for (size_t i = 0; i < n; i++)
                c += first[i].owner == SM_OWNER_US;
        return c;
}

/* ---- the round ------------------------------------------------------------ */

static int finding_cmp(const void *pa, const void *pb)
{
        const sm_finding *a = pa, *b = pb;
        int c = strcmp(a->resource, b->resource);

        if (c != 0)
                return c;
        /* qsort is not stable: break ties on content, so the output
         * never depends on the library's sort. */
        if (a->kind != b->kind)
                return (int)a->kind - (int)b->kind;
        return strcmp(a->message, b->message);
}

static int finding_key_cmp(const void *key, const void *elem)
{
        return strcmp(key, ((const sm_finding *)elem)->resource);
}

static const char *domain_name_of(const sm_observed *obs, const char *domain_id)
{
        const sm_observed_resource *first;
        size_t n = sm_observed_range(obs, SM_RESOURCE_DOMAIN, NULL, &first);

        for (size_t i = 0; i < n; i++)
                if (streq_ptr(first[i].domain_id, domain_id))
                        return first[i].name;
        return domain_id;
}

static char *observed_resource_name(const sm_observed *obs, const sm_observed_resource *r)
{
        switch (r->kind) {
        case SM_RESOURCE_USER_PROFILE:
        case SM_RESOURCE_SPACE:
                return sm_strf("%s/%s/%s", sm_resource_kind_to_string(r->kind),
                               domain_name_of(obs, r->domain_id), r->name);
        default:
                return sm_strf("%s/%s", sm_resource_kind_to_string(r->kind), r->name);
        }
}

/* Status tells the whole truth: every resource of ours gets a finding,
 * also those no manifest names any more and no rule deletes (a domain, an
 * old lifecycle config, a profile of a domain left out of the manifests).
 * Findings must be sorted on entry; they are sorted again on return. */
static int sweep_ours(builder *b)
{
        const sm_observed *obs = b->obs;
        size_t n_before = b->n_findings;
        int r;

        for (size_t i = 0; i < obs->n_resources + obs->n_roles; i++) {
                bool is_role = i >= obs->n_resources;
                const sm_observed_resource *o = is_role ? NULL : &obs->resources[i];
                const sm_observed_role *role = is_role ? &obs->roles[i - obs->n_resources] : NULL;
                _cleanup_free_ char *res = NULL;

                if (is_role ? role->owner != SM_OWNER_US
                            : (o->owner != SM_OWNER_US || o->kind == SM_RESOURCE_APP))
                        continue;
                res = is_role ? sm_strf("role/%s", role->name) : observed_resource_name(obs, o);
                if (!res)
                        return -ENOMEM;
                if (bsearch(res, b->findings, n_before, sizeof(sm_finding), finding_key_cmp))
                        continue;
                r = add_finding(b, res, SM_FINDING_IN_SYNC, NULL,
                                o && o->kind == SM_RESOURCE_DOMAIN
                                        ? "ours, not in the manifests: left alone (a pass never "
                                          "deletes a domain)"
                                        : "ours, not in the manifests: left alone");
                if (r < 0)
                        return r;
        }
        if (b->n_findings > 1)
                qsort(b->findings, b->n_findings, sizeof(sm_finding), finding_cmp);
        return 0;
}

sm_plan *sm_plan_free(sm_plan *p)
{
        if (!p)
                return NULL;
        for (size_t i = 0; i < p->n_actions; i++)
                action_done(&p->actions[i]);
        free(p->actions);
        for (size_t i = 0; i < p->n_findings; i++)
                finding_done(&p->findings[i]);
        free(p->findings);
        free(p);
        return NULL;
}

int sm_plan_build(const sm_desired *desired, const sm_observed *observed,
                  const sm_plan_policy *policy, sm_plan **ret)
{
        builder b = {.desired = desired, .obs = observed, .pol = policy};
        teardown td = {0};
        domain_ctx *dcs = NULL;
        profile_state *profiles = NULL;
        lcc_state *lccs = NULL;
        unsigned n_held = 0;
        sm_plan *plan;
        int r;

        if (!desired || !observed || !policy || !ret || isempty(policy->instance) ||
            isempty(policy->partition) || isempty(policy->account_id) || isempty(policy->region) ||
            (policy->lifecycle_content_b64 && !*policy->lifecycle_content_b64))
                return -EINVAL;
        td.b = (builder){.desired = desired, .obs = observed, .pol = policy};
        td.main = &b;
        dcs = calloc(desired->n_domains + 1, sizeof(domain_ctx));
        profiles = calloc(desired->n_users + 1, sizeof(profile_state));
        td.space_done = calloc(observed->n_resources + 1, sizeof(bool));
        lccs = calloc(desired->n_domains + 1, sizeof(lcc_state));
        if (!dcs || !profiles || !td.space_done || !lccs) {
                r = -ENOMEM;
                goto out;
        }
        /* Roles first: everything else names them. */
        for (size_t i = 0; i < desired->n_domains; i++) {
                domain_ctx *dc = &dcs[i];
                const sm_observed_resource *o;
                sm_role_context ctx = {
                        .partition = policy->partition,
                        .account_id = policy->account_id,
                        .region = policy->region,
                        .instance = policy->instance,
                };

                dc->d = &desired->domains[i];
                o = sm_observed_domain_by_name(observed, dc->d->name);
                dc->obs = o;
                /* The isolation policy names the domain id: only once the
                 * domain is ours or being adopted (phase 2 of the roles). */
                if (o && (o->owner == SM_OWNER_US || (o->owner == SM_OWNER_NONE && dc->d->adopt)))
                        ctx.domain_id = o->domain_id;
                r = sm_roles_for_domain(dc->d, &ctx, &dc->roles, &dc->n_roles);
                if (r == -EINVAL || r == -E2BIG) {
                        _cleanup_free_ char *res = sm_strf("domain/%s", dc->d->name);

                        dc->invalid = true;
                        r = res ? invalid_or(&b, r, res, &dc->d->source) : -ENOMEM;
                }
                if (r < 0)
                        goto out;
                for (size_t k = 0; k < dc->n_roles; k++) {
                        r = plan_role(&b, dc, &dc->roles[k]);
                        if (r < 0)
                                goto out;
                }
        }
        for (size_t i = 0; i < desired->n_domains; i++) {
                r = plan_lifecycle(&b, desired->domains, lccs, i);
                if (r < 0)
                        goto out;
        }
        for (size_t i = 0; i < desired->n_domains; i++) {
                r = plan_domain(&b, &dcs[i], &lccs[i]);
                if (r < 0)
                        goto out;
        }
        for (size_t i = 0; i < desired->n_users; i++) {
                const sm_user *u = &desired->users[i];
                const sm_domain *d = sm_desired_domain(desired, u->domain);

                profiles[i].action = NO_ACTION;
                if (!d) {
                        r = -EINVAL;
                        goto out;
                }
                r = plan_profile(&b, &dcs[d - desired->domains], &lccs[d - desired->domains], u,
                                 &profiles[i]);
                if (r < 0)
                        goto out;
        }
        for (size_t i = 0; i < desired->n_spaces; i++) {
                const sm_space *s = &desired->spaces[i];
                const sm_domain *d = sm_desired_domain(desired, s->domain);

                if (!d) {
                        r = -EINVAL;
                        goto out;
                }
                r = plan_space(&b, &dcs[d - desired->domains], &lccs[d - desired->domains], s,
                               profiles);
                if (r < 0)
                        goto out;
        }
        for (size_t i = 0; i < desired->n_domains; i++) {
                if (!dcs[i].d->mlflow_enabled)
                        continue;
                r = plan_mlflow(&b, &dcs[i], &lccs[i]);
                if (r < 0)
                        goto out;
        }
        r = plan_portfolio(&b, dcs);
        if (r < 0)
                goto out;
        r = plan_teardown(&td, &b, dcs);
        if (r == 0)
                r = plan_lifecycle_sweep(&td, &b, lccs);
        if (r < 0)
                goto out;
        if (!policy->load_complete) {
                r = hold_deletions(&td, "deletion held: manifests did not all load", &n_held);
        } else if (!policy->deletions_approved) {
                unsigned ours = count_our_profiles(observed);

                /* Both limits must be exceeded: a small estate losing two of
                 * three users is a normal day, a large one losing six is not
                 * unless they are a large share of it. */
                if (td.profiles > policy->guard_max_count &&
                    (uint64_t)td.profiles * 10000 > (uint64_t)policy->guard_max_share_bp * ours) {
                        _cleanup_free_ char *why = sm_strf(
                                "deletion guard tripped: %u of %u user profiles would be deleted "
                                "(limits: more than %u and more than %u.%02u%%); approve to "
                                "proceed",
                                td.profiles, ours, policy->guard_max_count,
                                policy->guard_max_share_bp / 100, policy->guard_max_share_bp % 100);

                        r = why ? hold_deletions(&td, why, &n_held) : -ENOMEM;
                }
        }
        if (r == 0)
                r = merge_teardown(&b, &td);
        if (r == 0)
                r = merge_findings(&b, &td.b);
        if (r < 0)
                goto out;
        if (b.n_findings > 1)
                qsort(b.findings, b.n_findings, sizeof(sm_finding), finding_cmp);
        r = sweep_ours(&b);
        if (r < 0)
                goto out;
        plan = calloc(1, sizeof(sm_plan));
        if (!plan) {
                r = -ENOMEM;
                goto out;
        }
        plan->actions = TAKE_PTR(b.actions);
        plan->n_actions = b.n_actions;
        plan->findings = TAKE_PTR(b.findings);
        plan->n_findings = b.n_findings;
        plan->n_deletions_held = n_held;
        b.n_actions = b.n_findings = 0;
        *ret = plan;
        r = 0;
out:
        builder_done(&b);
        builder_done(&td.b);
        free(td.space_done);
        for (size_t i = 0; dcs && i < desired->n_domains; i++) {
                sm_desired_roles_free(dcs[i].roles, dcs[i].n_roles);
                for (int k = 0; k < _SM_ROLE_KIND_MAX; k++)
                        idxv_done(&dcs[i].rs[k].deps);
        }
        free(dcs);
        free(profiles);
        for (size_t i = 0; lccs && i < desired->n_domains; i++) {
                free(lccs[i].name);
                free(lccs[i].arn);
        }
        free(lccs);
        return r;
}

/* ---- output ------------------------------------------------------------- */

static char verb_mark(sm_verb v)
{
        switch (v) {
        case SM_VERB_CREATE:
                return '+';
        case SM_VERB_DELETE:
                return '-';
        case SM_VERB_ADOPT:
                return '&';
        default:
                return '~';
        }
}

int sm_plan_format(const sm_plan *p, sm_buf *out)
{
        int r = 0;

        if (!p || !out)
                return -EINVAL;
        for (size_t i = 0; r == 0 && i < p->n_actions; i++) {
                const sm_action *a = &p->actions[i];

                r = sm_buf_printf(out, "%c %s  %s  %s\n", verb_mark(a->verb), a->resource,
                                  sm_verb_to_string(a->verb), a->operation);
                for (size_t j = 0; r == 0 && j < a->n_diffs; j++) {
                        char *o = a->diffs[j].observed ? dump_compact(a->diffs[j].observed) : NULL;
                        char *d = dump_compact(a->diffs[j].desired);

                        r = (!d || (a->diffs[j].observed && !o))
                                    ? -ENOMEM
                                    : sm_buf_printf(out, "    %s: %s -> %s\n", a->diffs[j].path,
                                                    o ? o : "(none)", d);
                        free(o);
                        free(d);
                }
        }
        for (size_t i = 0; r == 0 && i < p->n_findings; i++) {
                const sm_finding *f = &p->findings[i];

                if (f->kind == SM_FINDING_IN_SYNC || f->kind == SM_FINDING_CHANGE)
                        continue;
                r = sm_buf_printf(out, "! %s  %s: %s\n", f->resource,
                                  sm_finding_kind_to_string(f->kind), f->message);
        }
        return r;
}

static json_t *source_json(const sm_source *s)
{
        if (!s->file)
                return json_null();
        return json_sprintf("%s:%u:%u", s->file, s->line, s->column);
}

json_t *sm_plan_to_json(const sm_plan *p)
{
        json_t *root = NULL, *actions, *findings;

        if (!p)
                return NULL;
        root = json_pack("{s:[],s:[],s:I}", "actions", "findings", "deletions_held",
                         (json_int_t)p->n_deletions_held);
        if (!root)
                return NULL;
        actions = json_object_get(root, "actions");
        findings = json_object_get(root, "findings");
        for (size_t i = 0; i < p->n_actions; i++) {
                const sm_action *a = &p->actions[i];
                json_t *diffs = json_array(), *deps = json_array(), *settle = NULL, *o;

                if (a->settle_statuses) {
                        settle = json_array();
                        for (size_t j = 0; settle && a->settle_statuses[j]; j++)
                                json_array_append_new(settle, json_string(a->settle_statuses[j]));
                }
                for (size_t j = 0; diffs && j < a->n_diffs; j++)
                        json_array_append_new(diffs, json_pack("{s:s,s:O?,s:O,s:b}", "path",
                                                               a->diffs[j].path, "observed",
                                                               a->diffs[j].observed, "desired",
                                                               a->diffs[j].desired, "immutable",
                                                               a->diffs[j].immutable));
                for (size_t j = 0; deps && j < a->n_deps; j++)
                        json_array_append_new(deps, json_integer((json_int_t)a->deps[j]));
                o = json_pack("{s:s,s:s,s:s,s:s,s:O,s:o,s:o,s:o*,s:o}", "resource", a->resource,
                              "verb", sm_verb_to_string(a->verb), "service",
                              sm_aws_service_get(a->service)->name, "operation", a->operation,
                              "params", a->params, "diffs", diffs, "deps", deps, "settle", settle,
                              "source", source_json(&a->source));
                if (!o || json_array_append_new(actions, o) < 0)
                        goto fail;
        }
        for (size_t i = 0; i < p->n_findings; i++) {
                const sm_finding *f = &p->findings[i];
                json_t *o = json_pack("{s:s,s:s,s:s,s:o}", "resource", f->resource, "kind",
                                      sm_finding_kind_to_string(f->kind), "message", f->message,
                                      "source", source_json(&f->source));

                if (!o || json_array_append_new(findings, o) < 0)
                        goto fail;
        }
        return root;
fail:
        json_decref(root);
        return NULL;
}
