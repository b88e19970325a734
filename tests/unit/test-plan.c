/* SPDX-License-Identifier: Apache-2.0 */
/* The planner on fixtures: greenfield rounds, steady state, drift, adopt and
 * conflict, replace-refused, teardown chains, the deletion guard, incomplete
 * loads and reads, failures, and the --dry-run text.
 *
 * The observed side is made by a small simulator that applies a plan's
 * calls to an sm_observed the way AWS would (describe = what was sent), so
 * "converged" means what the planner's own requests create. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smstudio/diag.h"
#include "smstudio/iam.h"
#include "smstudio/manifest.h"
#include "smstudio/observed.h"
#include "smstudio/plan.h"
#include "testmain.h"

#define INSTANCE "prod"
#define ACCOUNT  "111122223333"
#define REGION   "eu-west-1"

static const char estate_domain[] = "kind: Domain\n"
                                    "name: mlops-studio\n"
                                    "vpc_id: vpc-0a1b2c3d4e5f60718\n"
                                    "subnet_ids:\n"
                                    "  - subnet-0123456789abcdef0\n"
                                    "  - subnet-0fedcba9876543210\n"
                                    "auth_mode: IAM\n"
                                    "studio_bucket_name: mlops-studio-bucket\n"
                                    "retain_efs: false\n"
                                    "enable_custom_sagemaker_projects: true\n"
                                    "enable_jupyterlab_app: true\n"
                                    "enable_docker_access: true\n"
                                    "jupyterlab_app_instance_type: ml.t3.medium\n"
                                    "idle_timeout_in_minutes: 120\n"
                                    "min_idle_timeout_in_minutes: 60\n"
                                    "max_idle_timeout_in_minutes: 480\n"
                                    "server_lifecycle_name: studio-auto-shutdown\n"
                                    "mlflow_enabled: true\n"
                                    "mlflow_server_size: Small\n"
                                    "mlflow_artifact_store_bucket_name: mlops-studio-artifacts\n"
                                    "mlflow_artifact_store_bucket_prefix: mlflow/\n"
                                    "tags:\n"
                                    "  team: mlops\n"
                                    "  cost-center: \"1234\"\n";
static const char estate_alice[] = "kind: User\nname: alice\ngroup: data_science_users\n";
static const char estate_bob[] = "kind: User\n"
                                 "name: bob\n"
                                 "group: lead_data_science_users\n"
                                 "instance_type: ml.m5.2xlarge\n"
                                 "tags:\n"
                                 "  role: lead\n";

static sm_desired *build(const char *const *docs, size_t n)
{
        sm_manifest_file *files[8];
        sm_diags diags = {0};
        sm_desired *d = NULL;
        int r;

        ck_assert_uint_le(n, 8);
        for (size_t i = 0; i < n; i++) {
                char name[32];

                snprintf(name, sizeof(name), "f%zu.yaml", i);
                r = sm_manifest_file_parse(name, docs[i], strlen(docs[i]), &files[i], &diags);
                ck_assert_msg(r == 0, "%s: %s", name, diags.n ? diags.items[0].message : "");
        }
        r = sm_desired_build(files, n, &d, &diags);
        ck_assert_msg(r == 0, "build: %s", diags.n ? diags.items[0].message : "");
        for (size_t i = 0; i < n; i++)
                sm_manifest_file_free(files[i]);
        sm_diags_done(&diags);
        return d;
}

static sm_desired *estate(bool with_alice)
{
        const char *docs[3] = {estate_domain, estate_bob, estate_alice};

        return build(docs, with_alice ? 3 : 2);
}

/* A domain of users u0..u9 without spaces or MLflow, minus the first `removed`. */
static sm_desired *crowd(int removed)
{
        char doc[1024];
        int n;

        n = snprintf(doc, sizeof(doc),
                     "kind: Domain\nname: crowd\nvpc_id: vpc-0a1b2c3d4e5f60718\nsubnet_ids:\n"
                     "  - subnet-0123456789abcdef0\ndata_science_users:\n");
        for (int i = removed; i < 10; i++)
                n += snprintf(doc + n, sizeof(doc) - (size_t)n, "  - u%d\n", i);
        const char *docs[1] = {doc};
        return build(docs, 1);
}

static sm_plan_policy policy(void)
{
        return (sm_plan_policy){
                .instance = INSTANCE,
                .partition = "aws",
                .account_id = ACCOUNT,
                .region = REGION,
                .load_complete = true,
                .guard_max_count = 5,
                .guard_max_share_bp = 1000,
                .lifecycle_content_b64 = "IyEvYmluL2Jhc2gKZWNobyBoaQo=",
        };
}

static sm_plan *plan_of(const sm_desired *d, const sm_observed *o, const sm_plan_policy *pol)
{
        sm_plan *p = NULL;

        ck_assert_int_eq(sm_plan_build(d, o, pol, &p), 0);
        /* Invariants of every plan: deps point backwards, findings sorted. */
        for (size_t i = 0; i < p->n_actions; i++)
                for (size_t j = 0; j < p->actions[i].n_deps; j++)
                        ck_assert_uint_lt(p->actions[i].deps[j], i);
        for (size_t i = 1; i < p->n_findings; i++)
                ck_assert_int_le(strcmp(p->findings[i - 1].resource, p->findings[i].resource), 0);
        return p;
}

static size_t count_op(const sm_plan *p, const char *op)
{
        size_t n = 0;

        for (size_t i = 0; i < p->n_actions; i++)
                n += strcmp(p->actions[i].operation, op) == 0;
        return n;
}

static const sm_action *action(const sm_plan *p, const char *op, const char *resource,
                               size_t *ret_idx)
{
        for (size_t i = 0; i < p->n_actions; i++)
                if (strcmp(p->actions[i].operation, op) == 0 &&
                    (!resource || strcmp(p->actions[i].resource, resource) == 0)) {
                        if (ret_idx)
                                *ret_idx = i;
                        return &p->actions[i];
                }
        return NULL;
}

static const sm_finding *finding(const sm_plan *p, const char *resource)
{
        for (size_t i = 0; i < p->n_findings; i++)
                if (strcmp(p->findings[i].resource, resource) == 0)
                        return &p->findings[i];
        ck_abort_msg("no finding for %s", resource);
        return NULL;
}

static size_t count_findings(const sm_plan *p, sm_finding_kind k)
{
        size_t n = 0;

        for (size_t i = 0; i < p->n_findings; i++)
                n += p->findings[i].kind == k;
        return n;
}

static bool has_dep(const sm_action *a, size_t idx)
{
        for (size_t i = 0; i < a->n_deps; i++)
                if (a->deps[i] == idx)
                        return true;
        return false;
}

/* ---- the simulator ---------------------------------------------------- */

static void tags_set(sm_tags *t, const char *key, const char *value)
{
        for (size_t i = 0; i < t->n; i++)
                if (strcmp(t->items[i].key, key) == 0) {
                        free(t->items[i].value);
                        t->items[i].value = strdup(value);
                        return;
                }
        t->items = realloc(t->items, (t->n + 1) * sizeof(sm_tag));
        t->items[t->n].key = strdup(key);
        t->items[t->n].value = strdup(value);
        t->n++;
}

static void tags_del(sm_tags *t, const char *key)
{
        for (size_t i = 0; i < t->n; i++)
                if (strcmp(t->items[i].key, key) == 0) {
                        free(t->items[i].key);
                        free(t->items[i].value);
                        t->items[i] = t->items[--t->n];
                        return;
                }
}

static void tags_add_json(sm_tags *t, const json_t *list)
{
        size_t i;
        json_t *v;

        json_array_foreach(list, i, v)
        {
                tags_set(t, json_string_value(json_object_get(v, "Key")),
                         json_string_value(json_object_get(v, "Value")));
        }
}

static sm_observed_role *role_of(sm_observed *o, const char *name)
{
        for (size_t i = 0; i < o->n_roles; i++)
                if (strcmp(o->roles[i].name, name) == 0)
                        return &o->roles[i];
        ck_abort_msg("no role %s", name);
        return NULL;
}

static const sm_inline_policy *inline_find_test(const sm_observed_role *r, const char *name)
{
        for (size_t i = 0; i < r->n_inline; i++)
                if (strcmp(r->inline_policies[i].name, name) == 0)
                        return &r->inline_policies[i];
        return NULL;
}

static sm_observed_resource *res_by(sm_observed *o, const char *arn)
{
        for (size_t i = 0; i < o->n_resources; i++)
                if (o->resources[i].arn && strcmp(o->resources[i].arn, arn) == 0)
                        return &o->resources[i];
        ck_abort_msg("no resource %s", arn);
        return NULL;
}

static sm_observed_resource *res_find(sm_observed *o, sm_resource_kind kind, const char *name)
{
        for (size_t i = 0; i < o->n_resources; i++)
                if (o->resources[i].kind == kind && strcmp(o->resources[i].name, name) == 0)
                        return &o->resources[i];
        return NULL;
}

static json_t *policy_doc(const json_t *params, const char *key)
{
        json_t *doc = json_loads(json_string_value(json_object_get(params, key)), 0, NULL);

        ck_assert_ptr_nonnull(doc);
        return doc;
}

static void add_resource(sm_observed *o, sm_resource_kind kind, const char *name,
                         const char *domain_id, const char *arn, const char *status,
                         const json_t *params)
{
        sm_observed_resource r = {
                .kind = kind,
                .name = strdup(name),
                .domain_id = domain_id ? strdup(domain_id) : NULL,
                .arn = strdup(arn),
                .status = strdup(status),
                .describe = json_deep_copy(params),
                .tags_known = true,
        };

        json_object_del(r.describe, "Tags");
        if (domain_id)
                json_object_set_new(r.describe, "DomainId", json_string(domain_id));
        tags_add_json(&r.tags, json_object_get(params, "Tags"));
        r.owner = sm_ownership_of(&r.tags, INSTANCE);
        ck_assert_int_eq(sm_observed_add_resource(o, &r), 0);
}

static int strp_cmp(const void *x, const void *y)
{
        return strcmp(*(char *const *)x, *(char *const *)y);
}

/* Keep the observer's shape: sorted, NULL-terminated. */
static void principal_add(sm_observed *o, const char *arn)
{
        sm_observed_portfolio *pf = &o->portfolio;

        pf->principal_arns = realloc(pf->principal_arns, (pf->n_principals + 2) * sizeof(char *));
        pf->principal_arns[pf->n_principals++] = strdup(arn);
        pf->principal_arns[pf->n_principals] = NULL;
        qsort(pf->principal_arns, pf->n_principals, sizeof(char *), strp_cmp);
}

static void principal_del(sm_observed *o, const char *arn)
{
        sm_observed_portfolio *pf = &o->portfolio;

        for (size_t i = 0; i < pf->n_principals; i++)
                if (strcmp(pf->principal_arns[i], arn) == 0) {
                        free(pf->principal_arns[i]);
                        memmove(&pf->principal_arns[i], &pf->principal_arns[i + 1],
                                (pf->n_principals - i) * sizeof(char *));
                        pf->n_principals--;
                        return;
                }
        ck_abort_msg("principal %s not associated", arn);
}

static bool principal_has(const sm_observed *o, const char *arn)
{
        for (size_t i = 0; i < o->portfolio.n_principals; i++)
                if (strcmp(o->portfolio.principal_arns[i], arn) == 0)
                        return true;
        return false;
}

#define PORTFOLIO_ID "port-abcdefghijklm"

static void res_remove(sm_observed *o, sm_observed_resource *r)
{
        size_t i = (size_t)(r - o->resources);

        sm_observed_resource_done(r);
        memmove(&o->resources[i], &o->resources[i + 1],
                (o->n_resources - i - 1) * sizeof(sm_observed_resource));
        o->n_resources--;
}

/* The resource an Update* or Delete* call names. */
static sm_observed_resource *res_named(sm_observed *o, const json_t *p)
{
        static const struct {
                const char *key;
                sm_resource_kind kind;
        } keys[] = {
                {"UserProfileName", SM_RESOURCE_USER_PROFILE},
                {"SpaceName", SM_RESOURCE_SPACE},
                {"TrackingServerName", SM_RESOURCE_MLFLOW},
                {"StudioLifecycleConfigName", SM_RESOURCE_LIFECYCLE_CONFIG},
        };
        const char *id = json_string_value(json_object_get(p, "DomainId"));

        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
                const char *name = json_string_value(json_object_get(p, keys[i].key));
                sm_observed_resource *r;

                if (!name)
                        continue;
                r = res_find(o, keys[i].kind, name);
                ck_assert_ptr_nonnull(r);
                return r;
        }
        for (size_t i = 0; id && i < o->n_resources; i++)
                if (o->resources[i].kind == SM_RESOURCE_DOMAIN &&
                    strcmp(o->resources[i].domain_id, id) == 0)
                        return &o->resources[i];
        ck_abort_msg("no resource named in the call");
        return NULL;
}

static void apply_one(sm_observed *o, const sm_action *a)
{
        const json_t *p = a->params;
        const char *role = json_string_value(json_object_get(p, "RoleName"));
        const char *op = a->operation;
        char arn[512];

        if (strcmp(op, "CreateRole") == 0) {
                sm_observed_role r = {0};

                r.name = strdup(role);
                r.path = strdup(json_string_value(json_object_get(p, "Path")));
                snprintf(arn, sizeof(arn), "arn:aws:iam::%s:role%s%s", ACCOUNT, r.path, role);
                r.arn = strdup(arn);
                r.trust_policy = policy_doc(p, "AssumeRolePolicyDocument");
                r.managed_policy_arns = calloc(1, sizeof(char *));
                if (json_object_get(p, "PermissionsBoundary"))
                        r.permissions_boundary_arn = strdup(
                                json_string_value(json_object_get(p, "PermissionsBoundary")));
                tags_add_json(&r.tags, json_object_get(p, "Tags"));
                r.owner = sm_ownership_of(&r.tags, INSTANCE);
                ck_assert_int_eq(sm_observed_add_role(o, &r), 0);
                sm_observed_sort(o);
        } else if (strcmp(op, "AttachRolePolicy") == 0) {
                sm_observed_role *r = role_of(o, role);

                r->managed_policy_arns =
                        realloc(r->managed_policy_arns, (r->n_managed + 2) * sizeof(char *));
                r->managed_policy_arns[r->n_managed++] =
                        strdup(json_string_value(json_object_get(p, "PolicyArn")));
                r->managed_policy_arns[r->n_managed] = NULL;
        } else if (strcmp(op, "PutRolePolicy") == 0) {
                sm_observed_role *r = role_of(o, role);
                const char *name = json_string_value(json_object_get(p, "PolicyName"));
                size_t i;

                for (i = 0; i < r->n_inline; i++)
                        if (strcmp(r->inline_policies[i].name, name) == 0)
                                break;
                if (i == r->n_inline) {
                        r->inline_policies =
                                realloc(r->inline_policies, (i + 1) * sizeof(sm_inline_policy));
                        r->inline_policies[i].name = strdup(name);
                        r->n_inline++;
                } else {
                        json_decref(r->inline_policies[i].document);
                }
                r->inline_policies[i].document = policy_doc(p, "PolicyDocument");
        } else if (strcmp(op, "TagRole") == 0) {
                sm_observed_role *r = role_of(o, role);

                tags_add_json(&r->tags, json_object_get(p, "Tags"));
                r->owner = sm_ownership_of(&r->tags, INSTANCE);
        } else if (strcmp(op, "CreateStudioLifecycleConfig") == 0) {
                const char *name =
                        json_string_value(json_object_get(p, "StudioLifecycleConfigName"));

                snprintf(arn, sizeof(arn), "arn:aws:sagemaker:%s:%s:studio-lifecycle-config/%s",
                         REGION, ACCOUNT, name);
                add_resource(o, SM_RESOURCE_LIFECYCLE_CONFIG, name, NULL, arn, "InService", p);
        } else if (strcmp(op, "CreateDomain") == 0) {
                const char *name = json_string_value(json_object_get(p, "DomainName"));
                char id[80];

                snprintf(id, sizeof(id), "d-%s", name);
                snprintf(arn, sizeof(arn), "arn:aws:sagemaker:%s:%s:domain/%s", REGION, ACCOUNT,
                         id);
                add_resource(o, SM_RESOURCE_DOMAIN, name, id, arn, "InService", p);
        } else if (strcmp(op, "CreateUserProfile") == 0 || strcmp(op, "CreateSpace") == 0) {
                bool profile = op[6] == 'U';
                const char *name = json_string_value(
                        json_object_get(p, profile ? "UserProfileName" : "SpaceName"));
                const char *id = json_string_value(json_object_get(p, "DomainId"));

                snprintf(arn, sizeof(arn), "arn:aws:sagemaker:%s:%s:%s/%s/%s", REGION, ACCOUNT,
                         profile ? "user-profile" : "space", id, name);
                add_resource(o, profile ? SM_RESOURCE_USER_PROFILE : SM_RESOURCE_SPACE, name, id,
                             arn, "InService", p);
        } else if (strcmp(op, "CreateMlflowTrackingServer") == 0) {
                const char *name = json_string_value(json_object_get(p, "TrackingServerName"));

                snprintf(arn, sizeof(arn), "arn:aws:sagemaker:%s:%s:mlflow-tracking-server/%s",
                         REGION, ACCOUNT, name);
                add_resource(o, SM_RESOURCE_MLFLOW, name, NULL, arn, "Created", p);
        } else if (strcmp(op, "AddTags") == 0) {
                sm_observed_resource *r =
                        res_by(o, json_string_value(json_object_get(p, "ResourceArn")));

                tags_add_json(&r->tags, json_object_get(p, "Tags"));
                r->owner = sm_ownership_of(&r->tags, INSTANCE);
        } else if (a->service == SM_SERVICE_SAGEMAKER && strncmp(op, "Update", 6) == 0) {
                /* Top-level members replace what was there (a simplification
                 * of AWS's merge, enough for the planner's requests). */
                sm_observed_resource *r = res_named(o, p);
                const char *key;
                json_t *v;

                json_object_foreach((json_t *)p, key, v)
                {
                        if (strcmp(key, "DomainSettingsForUpdate") == 0)
                                key = "DomainSettings";
                        json_object_set_new(r->describe, key, json_deep_copy(v));
                }
                free(r->status);
                r->status = strdup(r->kind == SM_RESOURCE_MLFLOW ? "Updated" : "InService");
        } else if (a->service == SM_SERVICE_SAGEMAKER && strncmp(op, "Delete", 6) == 0 &&
                   strcmp(op, "DeleteTags") != 0) {
                res_remove(o, res_named(o, p));
        } else if (strcmp(op, "EnableSagemakerServicecatalogPortfolio") == 0) {
                /* SageMaker shares and accepts its portfolio on enabling. */
                o->portfolio.enabled = true;
                free(o->portfolio.portfolio_id);
                o->portfolio.portfolio_id = strdup(PORTFOLIO_ID);
        } else if (strcmp(op, "AssociatePrincipalWithPortfolio") == 0) {
                ck_assert_str_eq(json_string_value(json_object_get(p, "PortfolioId")),
                                 PORTFOLIO_ID);
                ck_assert_str_eq(json_string_value(json_object_get(p, "PrincipalType")), "IAM");
                principal_add(o, json_string_value(json_object_get(p, "PrincipalARN")));
        } else if (strcmp(op, "DisassociatePrincipalFromPortfolio") == 0) {
                principal_del(o, json_string_value(json_object_get(p, "PrincipalARN")));
        } else {
                ck_abort_msg("simulator cannot apply %s", op);
        }
}

static void apply(sm_observed *o, const sm_plan *p)
{
        for (size_t i = 0; i < p->n_actions; i++)
                apply_one(o, &p->actions[i]);
        sm_observed_sort(o);
}

/* Plan and apply rounds until nothing is left to do. */
static sm_observed *converge(const sm_desired *d, const sm_plan_policy *pol)
{
        sm_observed *o = sm_observed_new();

        /* The observer reads the portfolio when a domain wants projects. */
        o->portfolio.status_known = true;
        for (int round = 0; round < 5; round++) {
                sm_plan *p = plan_of(d, o, pol);
                size_t n = p->n_actions;

                apply(o, p);
                sm_plan_free(p);
                if (n == 0)
                        return o;
        }
        ck_abort_msg("no convergence in 5 rounds");
        return NULL;
}

/* ---- tests ---------------------------------------------------------------- */

/* Every settling action says how to read it back, with the identifying
 * members of its own params (or a template slot for what only its output
 * knows); nothing else has a probe. */
static void assert_settle_probes(const sm_plan *p)
{
        for (size_t i = 0; i < p->n_actions; i++) {
                const sm_action *a = &p->actions[i];
                const char *key;
                json_t *v;

                if (!a->settle_statuses) {
                        ck_assert_ptr_null(a->settle_operation);
                        ck_assert_ptr_null(a->settle_params);
                        continue;
                }
                ck_assert_ptr_nonnull(a->settle_operation);
                ck_assert(strncmp(a->settle_operation, "Describe", 8) == 0 ||
                          strcmp(a->settle_operation,
                                 "GetSagemakerServicecatalogPortfolioStatus") == 0);
                ck_assert(json_is_object(a->settle_params));
                json_object_foreach(a->settle_params, key, v)
                {
                        if (json_is_null(v))
                                continue;
                        ck_assert(json_equal(v, json_object_get(a->params, key)));
                }
        }
}

START_TEST(test_greenfield_rounds)
{
        sm_plan_policy pol = policy();
        sm_desired *d = estate(true);
        sm_observed *o = sm_observed_new();
        const sm_action *create_domain, *create_role;
        size_t exec_idx, space_idx, profile_idx;
        sm_plan *p;

        p = plan_of(d, o, &pol);
        ck_assert_uint_eq(count_op(p, "CreateRole"), 4);
        ck_assert_uint_gt(count_op(p, "AttachRolePolicy"), 0);
        ck_assert_uint_gt(count_op(p, "PutRolePolicy"), 0);
        ck_assert_uint_eq(count_op(p, "CreateStudioLifecycleConfig"), 1);
        ck_assert_uint_eq(count_op(p, "CreateDomain"), 1);
        ck_assert_uint_eq(count_op(p, "CreateUserProfile"), 0);
        ck_assert_uint_eq(count_op(p, "CreateSpace"), 0);
        ck_assert_uint_eq(count_op(p, "CreateMlflowTrackingServer"), 0);
        create_role = action(p, "CreateRole", "role/mlops-studio.sagemaker-execution", &exec_idx);
        ck_assert_ptr_nonnull(create_role);
        ck_assert_str_eq(json_string_value(json_object_get(create_role->params, "Path")), "/");
        ck_assert(json_is_string(json_object_get(create_role->params, "AssumeRolePolicyDocument")));
        create_domain = action(p, "CreateDomain", "domain/mlops-studio", NULL);
        ck_assert(has_dep(create_domain, exec_idx));
        ck_assert_str_eq(create_domain->settle_statuses[0], "InService");
        /* The id is unknown before the call: a template slot for the executor. */
        ck_assert_str_eq(create_domain->settle_operation, "DescribeDomain");
        ck_assert(json_is_null(json_object_get(create_domain->settle_params, "DomainId")));
        ck_assert_uint_eq(json_object_size(create_domain->settle_params), 1);
        ck_assert_ptr_null(create_role->settle_operation);
        ck_assert_ptr_null(create_role->settle_params);
        assert_settle_probes(p);
        ck_assert_int_eq(finding(p, "user-profile/mlops-studio/alice")->kind, SM_FINDING_BLOCKED);
        ck_assert_int_eq(finding(p, "domain/mlops-studio")->kind, SM_FINDING_CHANGE);
        ck_assert_int_eq(finding(p, "domain/mlops-studio")->source.line, 1);
        apply(o, p);
        sm_plan_free(p);

        /* Round 2: the domain is InService. */
        p = plan_of(d, o, &pol);
        ck_assert_uint_eq(count_op(p, "CreateDomain"), 0);
        ck_assert_uint_eq(count_op(p, "CreateRole"), 0);
        ck_assert_uint_eq(count_op(p, "CreateUserProfile"), 2);
        ck_assert_uint_eq(count_op(p, "CreateSpace"), 2);
        ck_assert_uint_eq(count_op(p, "CreateMlflowTrackingServer"), 1);
        ck_assert_ptr_nonnull(
                action(p, "CreateUserProfile", "user-profile/mlops-studio/alice", &profile_idx));
        ck_assert_ptr_nonnull(
                action(p, "CreateSpace", "space/mlops-studio/alice-JupyterLab-space", &space_idx));
        ck_assert(has_dep(&p->actions[space_idx], profile_idx));
        assert_settle_probes(p);
        ck_assert_str_eq(p->actions[profile_idx].settle_operation, "DescribeUserProfile");
        ck_assert_str_eq(json_string_value(json_object_get(p->actions[profile_idx].settle_params,
                                                           "UserProfileName")),
                         "alice");
        ck_assert_str_eq(p->actions[space_idx].settle_operation, "DescribeSpace");
        ck_assert_str_eq(json_string_value(
                                 json_object_get(p->actions[space_idx].settle_params, "SpaceName")),
                         "alice-JupyterLab-space");
        ck_assert_str_eq(action(p, "CreateMlflowTrackingServer", NULL, NULL)->settle_operation,
                         "DescribeMlflowTrackingServer");
        sm_plan_free(p);
        sm_observed_free(o);
        sm_desired_free(d);
}
END_TEST

START_TEST(test_steady_state)
{
        sm_plan_policy pol = policy();
        sm_desired *d = estate(true);
        sm_observed *o = converge(d, &pol);
        sm_plan *p = plan_of(d, o, &pol);
        sm_buf text = {0};

        ck_assert_uint_eq(p->n_actions, 0);
        /* 4 roles, lifecycle config, domain, 2 profiles, 2 spaces, MLflow, portfolio. */
        ck_assert_uint_eq(p->n_findings, 12);
        ck_assert_uint_eq(count_findings(p, SM_FINDING_IN_SYNC), 12);
        ck_assert_uint_eq(o->portfolio.n_principals, 3);
        ck_assert_int_eq(sm_plan_format(p, &text), 0);
        ck_assert_uint_eq(text.len, 0);
        sm_buf_done(&text);
        sm_plan_free(p);
        sm_observed_free(o);
        sm_desired_free(d);
}
END_TEST

static json_t *path_get(json_t *root, const char *path)
{
        char buf[256], *save = NULL;
        json_t *v = root;

        snprintf(buf, sizeof(buf), "%s", path);
        for (char *k = strtok_r(buf, ".", &save); k && v; k = strtok_r(NULL, ".", &save))
                v = json_object_get(v, k);
        return v;
}

START_TEST(test_drift_space_instance_type_and_format)
{
        sm_plan_policy pol = policy();
        sm_desired *d = estate(true);
        sm_observed *o = converge(d, &pol);
        sm_observed_resource *s = res_find(o, SM_RESOURCE_SPACE, "alice-JupyterLab-space");
        json_t *spec =
                path_get(s->describe, "SpaceSettings.JupyterLabAppSettings.DefaultResourceSpec");
        sm_buf text = {0};
        sm_plan *p;
        json_t *j;

        json_object_set_new(spec, "InstanceType", json_string("ml.t3.large"));
        p = plan_of(d, o, &pol);
        ck_assert_uint_eq(p->n_actions, 1);
        ck_assert_str_eq(p->actions[0].operation, "UpdateSpace");
        ck_assert_int_eq(p->actions[0].verb, SM_VERB_UPDATE);
        ck_assert_uint_eq(p->actions[0].n_diffs, 1);
        ck_assert_str_eq(json_string_value(path_get(p->actions[0].params, "SpaceName")),
                         "alice-JupyterLab-space");
        ck_assert_int_eq(finding(p, "space/mlops-studio/alice-JupyterLab-space")->kind,
                         SM_FINDING_CHANGE);
        ck_assert_int_eq(sm_plan_format(p, &text), 0);
        ck_assert_str_eq(
                text.data,
                "~ space/mlops-studio/alice-JupyterLab-space  update  UpdateSpace\n"
                "    SpaceSettings.JupyterLabAppSettings.DefaultResourceSpec.InstanceType: "
                "\"ml.t3.large\" -> \"ml.t3.medium\"\n");
        j = sm_plan_to_json(p);
        ck_assert_ptr_nonnull(j);
        ck_assert_uint_eq(json_array_size(json_object_get(j, "actions")), 1);
        ck_assert_str_eq(json_string_value(path_get(
                                 json_array_get(json_object_get(j, "actions"), 0), "service")),
                         "sagemaker");
        /* The 11 resources of test_steady_state and the portfolio. */
        ck_assert_uint_eq(json_array_size(json_object_get(j, "findings")), 12);
        json_decref(j);
        sm_buf_done(&text);
        sm_plan_free(p);
        sm_observed_free(o);
        sm_desired_free(d);
}
END_TEST

START_TEST(test_drift_inline_policy)
{
        sm_plan_policy pol = policy();
        sm_desired *d = estate(true);
        sm_observed *o = converge(d, &pol);
        sm_observed_role *r = role_of(o, "mlops-studio.data-scientist");
        sm_plan *p;

        ck_assert_uint_gt(r->n_inline, 0);
        json_object_set_new(r->inline_policies[0].document, "Version", json_string("2008-10-17"));
        p = plan_of(d, o, &pol);
        ck_assert_uint_eq(p->n_actions, 1);
        ck_assert_str_eq(p->actions[0].operation, "PutRolePolicy");
        ck_assert_str_eq(p->actions[0].resource, "role/mlops-studio.data-scientist");
        ck_assert_int_eq(p->actions[0].service, SM_SERVICE_IAM);
        ck_assert(json_is_string(json_object_get(p->actions[0].params, "PolicyDocument")));
        sm_plan_free(p);
        sm_observed_free(o);
        sm_desired_free(d);
}
END_TEST

START_TEST(test_drift_tags)
{
        sm_plan_policy pol = policy();
        sm_desired *d = estate(true);
        sm_observed *o = converge(d, &pol);
        sm_observed_resource *dom = res_find(o, SM_RESOURCE_DOMAIN, "mlops-studio");
        const sm_action *a;
        sm_plan *p;

        tags_del(&dom->tags, "team");
        tags_del(&role_of(o, "mlops-studio.mlflow")->tags, "cost-center");
        p = plan_of(d, o, &pol);
        ck_assert_uint_eq(p->n_actions, 2);
        a = action(p, "AddTags", "domain/mlops-studio", NULL);
        ck_assert_ptr_nonnull(a);
        ck_assert_int_eq(a->verb, SM_VERB_TAG);
        ck_assert_str_eq(json_string_value(json_object_get(a->params, "ResourceArn")), dom->arn);
        ck_assert_uint_eq(json_array_size(json_object_get(a->params, "Tags")), 1);
        a = action(p, "TagRole", "role/mlops-studio.mlflow", NULL);
        ck_assert_ptr_nonnull(a);
        sm_plan_free(p);

        /* A tag nobody asked for goes. */
        tags_set(&dom->tags, "team", "mlops");
        tags_set(&role_of(o, "mlops-studio.mlflow")->tags, "cost-center", "1234");
        tags_set(&dom->tags, "stray", "x");
        p = plan_of(d, o, &pol);
        ck_assert_uint_eq(p->n_actions, 1);
        ck_assert_str_eq(p->actions[0].operation, "DeleteTags");
        sm_plan_free(p);
        sm_observed_free(o);
        sm_desired_free(d);
}
END_TEST

START_TEST(test_foreign_domain_conflict_and_adopt)
{
        sm_plan_policy pol = policy();
        sm_desired *d = estate(true);
        sm_observed *o = converge(d, &pol);
        sm_observed_resource *dom = res_find(o, SM_RESOURCE_DOMAIN, "mlops-studio");
        const sm_action *a;
        sm_plan *p;

        tags_del(&dom->tags, SM_TAG_MANAGED_BY);
        dom->owner = SM_OWNER_NONE;
        p = plan_of(d, o, &pol);
        ck_assert_int_eq(finding(p, "domain/mlops-studio")->kind, SM_FINDING_CONFLICT);
        ck_assert_int_eq(finding(p, "user-profile/mlops-studio/alice")->kind, SM_FINDING_BLOCKED);
        ck_assert_ptr_null(action(p, "AddTags", "domain/mlops-studio", NULL));
        ck_assert_ptr_null(action(p, "UpdateDomain", NULL, NULL));
        sm_plan_free(p);

        d->domains[0].adopt = true;
        p = plan_of(d, o, &pol);
        a = action(p, "AddTags", "domain/mlops-studio", NULL);
        ck_assert_ptr_nonnull(a);
        ck_assert_int_eq(a->verb, SM_VERB_ADOPT);
        ck_assert_int_eq(finding(p, "domain/mlops-studio")->kind, SM_FINDING_CHANGE);
        sm_plan_free(p);

        /* Another instance's domain is never adopted. */
        tags_set(&dom->tags, SM_TAG_MANAGED_BY, "staging");
        dom->owner = SM_OWNER_OTHER;
        p = plan_of(d, o, &pol);
        ck_assert_int_eq(finding(p, "domain/mlops-studio")->kind, SM_FINDING_CONFLICT);
        ck_assert_ptr_null(action(p, "AddTags", "domain/mlops-studio", NULL));
        sm_plan_free(p);
        sm_observed_free(o);
        sm_desired_free(d);
}
END_TEST

START_TEST(test_replace_refused)
{
        sm_plan_policy pol = policy();
        sm_desired *d = estate(true);
        sm_observed *o = converge(d, &pol);
        sm_observed_resource *dom = res_find(o, SM_RESOURCE_DOMAIN, "mlops-studio");
        const sm_finding *f;
        sm_plan *p;

        json_object_set_new(dom->describe, "AuthMode", json_string("SSO"));
        p = plan_of(d, o, &pol);
        ck_assert_uint_eq(p->n_actions, 0);
        f = finding(p, "domain/mlops-studio");
        ck_assert_int_eq(f->kind, SM_FINDING_REPLACE_REFUSED);
        ck_assert_ptr_nonnull(strstr(f->message, "AuthMode: \"SSO\" -> \"IAM\""));
        sm_plan_free(p);
        sm_observed_free(o);
        sm_desired_free(d);
}
END_TEST

START_TEST(test_user_removed_teardown)
{
        sm_plan_policy pol = policy();
        sm_desired *d = estate(true), *without = estate(false);
        sm_observed *o = converge(d, &pol);
        sm_observed_resource app = {
                .kind = SM_RESOURCE_APP,
                .name = strdup("default"),
                .domain_id = strdup("d-mlops-studio"),
                .status = strdup("InService"),
                .app_space = strdup("alice-JupyterLab-space"),
                .app_type = strdup("JupyterLab"),
        };
        const sm_action *del_app, *del_space, *del_profile;
        size_t i_app = SIZE_MAX, i_space = SIZE_MAX; /* set by action(); for -O3 */
        sm_plan *p;

        ck_assert_int_eq(sm_observed_add_resource(o, &app), 0);
        sm_observed_sort(o);
        p = plan_of(without, o, &pol);
        ck_assert_uint_eq(p->n_actions, 3);
        del_app = action(p, "DeleteApp", NULL, &i_app);
        del_space = action(p, "DeleteSpace", "space/mlops-studio/alice-JupyterLab-space", &i_space);
        del_profile = action(p, "DeleteUserProfile", "user-profile/mlops-studio/alice", NULL);
        ck_assert_ptr_nonnull(del_app);
        ck_assert_ptr_nonnull(del_space);
        ck_assert_ptr_nonnull(del_profile);
        ck_assert_str_eq(json_string_value(json_object_get(del_app->params, "SpaceName")),
                         "alice-JupyterLab-space");
        ck_assert_str_eq(del_app->settle_statuses[0], "Deleted");
        assert_settle_probes(p);
        ck_assert_str_eq(del_app->settle_operation, "DescribeApp");
        ck_assert_str_eq(json_string_value(json_object_get(del_app->settle_params, "SpaceName")),
                         "alice-JupyterLab-space");
        ck_assert_str_eq(json_string_value(json_object_get(del_app->settle_params, "AppType")),
                         "JupyterLab");
        ck_assert_ptr_null(json_object_get(del_app->settle_params, "UserProfileName"));
        ck_assert_str_eq(del_profile->settle_operation, "DescribeUserProfile");
        ck_assert_str_eq(del_space->settle_operation, "DescribeSpace");
        ck_assert(has_dep(del_space, i_app));
        ck_assert(has_dep(del_profile, i_space));
        ck_assert_int_eq(finding(p, "user-profile/mlops-studio/alice")->kind, SM_FINDING_CHANGE);
        ck_assert_uint_eq(p->n_deletions_held, 0);
        sm_plan_free(p);

        /* A manifest that failed to load never deletes. */
        pol.load_complete = false;
        p = plan_of(without, o, &pol);
        ck_assert_uint_eq(p->n_actions, 0);
        ck_assert_int_eq(finding(p, "user-profile/mlops-studio/alice")->kind,
                         SM_FINDING_DELETION_GUARDED);
        ck_assert_ptr_nonnull(strstr(finding(p, "user-profile/mlops-studio/alice")->message,
                                     "manifests did not all load"));
        ck_assert_uint_eq(p->n_deletions_held, 2);
        sm_plan_free(p);

        /* Nor does a pass that could not read profiles. */
        pol.load_complete = true;
        o->incomplete[SM_RESOURCE_USER_PROFILE] = true;
        p = plan_of(without, o, &pol);
        ck_assert_ptr_null(action(p, "DeleteUserProfile", NULL, NULL));
        ck_assert_int_eq(finding(p, "user-profile/mlops-studio/alice")->kind, SM_FINDING_BLOCKED);
        sm_plan_free(p);
        sm_observed_free(o);
        sm_desired_free(d);
        sm_desired_free(without);
}
END_TEST

START_TEST(test_deletion_guard)
{
        sm_plan_policy pol = policy();
        sm_desired *all = crowd(0), *few = crowd(6), *most = crowd(2);
        sm_observed *o;
        sm_plan *p;

        o = converge(all, &pol);
        p = plan_of(few, o, &pol);
        ck_assert_uint_eq(p->n_actions, 0);
        ck_assert_uint_eq(p->n_deletions_held, 6);
        ck_assert_uint_eq(count_findings(p, SM_FINDING_DELETION_GUARDED), 6);
        ck_assert_ptr_nonnull(strstr(finding(p, "user-profile/crowd/u0")->message,
                                     "deletion guard tripped: 6 of 10"));
        sm_plan_free(p);

        pol.deletions_approved = true;
        p = plan_of(few, o, &pol);
        ck_assert_uint_eq(count_op(p, "DeleteUserProfile"), 6);
        ck_assert_uint_eq(p->n_deletions_held, 0);
        sm_plan_free(p);

        /* Under the count limit: no approval needed. */
        pol.deletions_approved = false;
        p = plan_of(most, o, &pol);
        ck_assert_uint_eq(count_op(p, "DeleteUserProfile"), 2);
        sm_plan_free(p);
        sm_observed_free(o);
        sm_desired_free(all);
        sm_desired_free(few);
        sm_desired_free(most);
}
END_TEST

START_TEST(test_incomplete_read_blocks_creates)
{
        sm_plan_policy pol = policy();
        sm_desired *d = estate(true);
        sm_observed *o = sm_observed_new();
        sm_plan *p;

        p = plan_of(d, o, &pol);
        apply(o, p);
        sm_plan_free(p);
        o->incomplete[SM_RESOURCE_SPACE] = true;
        p = plan_of(d, o, &pol);
        ck_assert_uint_eq(count_op(p, "CreateSpace"), 0);
        ck_assert_uint_eq(count_op(p, "CreateUserProfile"), 2);
        ck_assert_int_eq(finding(p, "space/mlops-studio/bob-JupyterLab-space")->kind,
                         SM_FINDING_BLOCKED);
        ck_assert_ptr_nonnull(strstr(finding(p, "space/mlops-studio/bob-JupyterLab-space")->message,
                                     "could not read"));
        sm_plan_free(p);

        o->roles_incomplete = true;
        for (size_t i = 0; i < o->n_roles; i++)
                sm_observed_role_done(&o->roles[i]);
        o->n_roles = 0;
        p = plan_of(d, o, &pol);
        ck_assert_uint_eq(count_op(p, "CreateRole"), 0);
        ck_assert_int_eq(finding(p, "role/mlops-studio.mlflow")->kind, SM_FINDING_BLOCKED);
        sm_plan_free(p);
        sm_observed_free(o);
        sm_desired_free(d);
}
END_TEST

static void set_status(sm_observed_resource *r, const char *status, const char *reason)
{
        free(r->status);
        r->status = strdup(status);
        if (reason)
                json_object_set_new(r->describe, "FailureReason", json_string(reason));
}

/* Failed (create failed): ours is deleted, then created again the next
 * round; a foreign one is only reported. */
START_TEST(test_failed_profile_and_space_recreated)
{
        sm_plan_policy pol = policy();
        sm_desired *d = estate(true);
        sm_observed *o = converge(d, &pol);
        sm_observed_resource *u = res_find(o, SM_RESOURCE_USER_PROFILE, "bob");
        const sm_action *del;
        const sm_finding *f;
        sm_buf text = {0};
        sm_plan *p;

        /* bob owns a space: his profile is not recreated under it. */
        set_status(u, "Failed", "role not assumable");
        p = plan_of(d, o, &pol);
        f = finding(p, "user-profile/mlops-studio/bob");
        ck_assert_int_eq(f->kind, SM_FINDING_FAILED);
        ck_assert_ptr_nonnull(strstr(f->message, "role not assumable"));
        ck_assert_ptr_nonnull(strstr(f->message, "not recreated while it has apps or spaces"));
        ck_assert_uint_eq(p->n_actions, 0);
        sm_plan_free(p);

        /* Without the space (its own create failed too): both go, then come back. */
        res_remove(o, res_find(o, SM_RESOURCE_SPACE, "bob-JupyterLab-space"));
        p = plan_of(d, o, &pol);
        ck_assert_uint_eq(p->n_actions, 1);
        del = action(p, "DeleteUserProfile", "user-profile/mlops-studio/bob", NULL);
        ck_assert_ptr_nonnull(del);
        ck_assert_str_eq(del->settle_statuses[0], "Deleted");
        assert_settle_probes(p);
        f = finding(p, "user-profile/mlops-studio/bob");
        ck_assert_int_eq(f->kind, SM_FINDING_FAILED);
        ck_assert_ptr_nonnull(strstr(f->message, "role not assumable; deleting it to create it"));
        ck_assert_int_eq(sm_plan_format(p, &text), 0);
        ck_assert_ptr_nonnull(strstr(text.data, "- user-profile/mlops-studio/bob  delete  "
                                                "DeleteUserProfile\n"));
        sm_buf_done(&text);
        apply(o, p);
        sm_plan_free(p);
        p = plan_of(d, o, &pol);
        ck_assert_ptr_nonnull(
                action(p, "CreateUserProfile", "user-profile/mlops-studio/bob", NULL));
        ck_assert_ptr_nonnull(
                action(p, "CreateSpace", "space/mlops-studio/bob-JupyterLab-space", NULL));
        apply(o, p);
        sm_plan_free(p);
        p = plan_of(d, o, &pol);
        ck_assert_uint_eq(p->n_actions, 0);
        sm_plan_free(p);

        /* A space of ours that failed: deleted; a foreign one: reported. */
        set_status(res_find(o, SM_RESOURCE_SPACE, "alice-JupyterLab-space"), "Failed", "capacity");
        p = plan_of(d, o, &pol);
        ck_assert_uint_eq(p->n_actions, 1);
        ck_assert_ptr_nonnull(
                action(p, "DeleteSpace", "space/mlops-studio/alice-JupyterLab-space", NULL));
        sm_plan_free(p);
        u = res_find(o, SM_RESOURCE_SPACE, "alice-JupyterLab-space");
        u->owner = SM_OWNER_NONE;
        p = plan_of(d, o, &pol);
        ck_assert_uint_eq(p->n_actions, 0);
        f = finding(p, "space/mlops-studio/alice-JupyterLab-space");
        ck_assert_int_eq(f->kind, SM_FINDING_FAILED);
        ck_assert_ptr_nonnull(strstr(f->message, "not ours: left alone"));
        sm_plan_free(p);

        /* Updating is a wait, not a failure. */
        u->owner = SM_OWNER_US;
        set_status(u, "Updating", NULL);
        p = plan_of(d, o, &pol);
        ck_assert_int_eq(finding(p, "space/mlops-studio/alice-JupyterLab-space")->kind,
                         SM_FINDING_WAITING);
        sm_plan_free(p);
        sm_observed_free(o);
        sm_desired_free(d);
}
END_TEST

/* Update_Failed: the desired settings once more, once per manifest
 * version, remembered by a tag on the resource. */
START_TEST(test_update_failed_retried_once)
{
        sm_plan_policy pol = policy();
        sm_desired *d = estate(true);
        sm_observed *o = converge(d, &pol);
        sm_observed_resource *u = res_find(o, SM_RESOURCE_USER_PROFILE, "alice");
        const sm_action *tag, *upd;
        size_t i_tag;
        const sm_finding *f;
        const char *fp;
        sm_plan *p;

        /* Nothing differs: nothing to retry. */
        set_status(u, "Update_Failed", "throttled");
        json_object_set_new(json_object_get(u->describe, "UserSettings"), "SecurityGroups",
                            json_pack("[s]", "sg-0123"));
        p = plan_of(d, o, &pol);
        ck_assert_uint_eq(p->n_actions, 0);
        f = finding(p, "user-profile/mlops-studio/alice");
        ck_assert_int_eq(f->kind, SM_FINDING_FAILED);
        ck_assert_ptr_nonnull(strstr(f->message, "nothing to retry"));
        /* A profile whose update failed still carries its space. */
        ck_assert_int_eq(finding(p, "space/mlops-studio/alice-JupyterLab-space")->kind,
                         SM_FINDING_IN_SYNC);
        sm_plan_free(p);

        json_object_set_new(json_object_get(u->describe, "UserSettings"), "ExecutionRole",
                            json_string("arn:aws:iam::" ACCOUNT ":role/other"));
        p = plan_of(d, o, &pol);
        ck_assert_uint_eq(p->n_actions, 2);
        tag = action(p, "AddTags", "user-profile/mlops-studio/alice", &i_tag);
        upd = action(p, "UpdateUserProfile", "user-profile/mlops-studio/alice", NULL);
        ck_assert_ptr_nonnull(tag);
        ck_assert_ptr_nonnull(upd);
        ck_assert(has_dep(upd, i_tag));
        fp = json_string_value(
                json_object_get(json_array_get(json_object_get(tag->params, "Tags"), 0), "Value"));
        ck_assert_uint_eq(strlen(fp), 16);
        f = finding(p, "user-profile/mlops-studio/alice");
        ck_assert_int_eq(f->kind, SM_FINDING_CHANGE);
        ck_assert_ptr_nonnull(strstr(f->message, "Update_Failed: throttled"));
        /* The update fails again: only the tag sticks. */
        apply_one(o, tag);
        sm_plan_free(p);
        p = plan_of(d, o, &pol);
        ck_assert_uint_eq(p->n_actions, 0);
        f = finding(p, "user-profile/mlops-studio/alice");
        ck_assert_int_eq(f->kind, SM_FINDING_FAILED);
        ck_assert_ptr_nonnull(strstr(f->message, "retried once already"));
        sm_plan_free(p);

        /* A changed manifest earns another try; the marker is never drift. */
        for (size_t i = 0; i < d->n_users; i++)
                if (strcmp(d->users[i].name, "alice") == 0)
                        d->users[i].group = SM_GROUP_LEAD;
        p = plan_of(d, o, &pol);
        ck_assert_ptr_nonnull(
                action(p, "UpdateUserProfile", "user-profile/mlops-studio/alice", NULL));
        sm_plan_free(p);
        set_status(u, "InService", NULL);
        p = plan_of(d, o, &pol);
        ck_assert_ptr_null(action(p, "DeleteTags", NULL, NULL));
        sm_plan_free(p);
        sm_observed_free(o);
        sm_desired_free(d);
}
END_TEST

/* Delete_Failed: a resource still desired is reported; one being torn
 * down is deleted again with AWS's reason in the finding. */
START_TEST(test_delete_failed)
{
        sm_plan_policy pol = policy();
        sm_desired *d = estate(true), *without = estate(false);
        sm_observed *o = converge(d, &pol);
        const sm_finding *f;
        sm_plan *p;

        res_remove(o, res_find(o, SM_RESOURCE_SPACE, "alice-JupyterLab-space"));
        set_status(res_find(o, SM_RESOURCE_USER_PROFILE, "alice"), "Delete_Failed", "EFS busy");
        p = plan_of(d, o, &pol);
        f = finding(p, "user-profile/mlops-studio/alice");
        ck_assert_int_eq(f->kind, SM_FINDING_FAILED);
        ck_assert_ptr_nonnull(strstr(f->message, "Delete_Failed: EFS busy"));
        ck_assert_ptr_null(action(p, "DeleteUserProfile", NULL, NULL));
        sm_plan_free(p);

        p = plan_of(without, o, &pol);
        ck_assert_ptr_nonnull(
                action(p, "DeleteUserProfile", "user-profile/mlops-studio/alice", NULL));
        f = finding(p, "user-profile/mlops-studio/alice");
        ck_assert_int_eq(f->kind, SM_FINDING_CHANGE);
        ck_assert_ptr_nonnull(strstr(f->message, "Delete_Failed: EFS busy; deleting again"));
        sm_plan_free(p);
        sm_observed_free(o);
        sm_desired_free(d);
        sm_desired_free(without);
}
END_TEST

/* A domain is never deleted, replaced or retried; after a failed update
 * its children still go on. */
START_TEST(test_failed_domain_reported_only)
{
        sm_plan_policy pol = policy();
        sm_desired *d = estate(true);
        sm_observed *o = converge(d, &pol);
        sm_observed_resource *dom = res_find(o, SM_RESOURCE_DOMAIN, "mlops-studio");
        const sm_finding *f;
        sm_plan *p;

        res_remove(o, res_find(o, SM_RESOURCE_USER_PROFILE, "alice"));
        json_object_set_new(json_object_get(dom->describe, "DefaultUserSettings"), "ExecutionRole",
                            json_string("arn:aws:iam::111122223333:role/other"));
        set_status(dom = res_find(o, SM_RESOURCE_DOMAIN, "mlops-studio"), "Update_Failed",
                   "subnet gone");
        p = plan_of(d, o, &pol);
        f = finding(p, "domain/mlops-studio");
        ck_assert_int_eq(f->kind, SM_FINDING_FAILED);
        ck_assert_ptr_nonnull(strstr(f->message, "subnet gone"));
        ck_assert_ptr_null(action(p, "UpdateDomain", NULL, NULL));
        ck_assert_ptr_null(action(p, "AddTags", NULL, NULL));
        ck_assert_ptr_nonnull(
                action(p, "CreateUserProfile", "user-profile/mlops-studio/alice", NULL));
        sm_plan_free(p);

        set_status(dom, "Failed", "no VPC");
        p = plan_of(d, o, &pol);
        ck_assert_int_eq(finding(p, "domain/mlops-studio")->kind, SM_FINDING_FAILED);
        ck_assert_int_eq(finding(p, "user-profile/mlops-studio/alice")->kind, SM_FINDING_BLOCKED);
        ck_assert_ptr_null(action(p, "DeleteDomain", NULL, NULL));
        ck_assert_ptr_null(action(p, "CreateDomain", NULL, NULL));
        ck_assert_ptr_null(action(p, "CreateUserProfile", NULL, NULL));
        sm_plan_free(p);
        sm_observed_free(o);
        sm_desired_free(d);
}
END_TEST

/* MLflow: CreateFailed reported with its hint (not recreated),
 * UpdateFailed retried once, Creating past the limit reported stuck. */
START_TEST(test_failed_mlflow)
{
        sm_plan_policy pol = policy();
        sm_desired *d = estate(true);
        sm_observed *o = converge(d, &pol);
        sm_observed_resource *m = res_find(o, SM_RESOURCE_MLFLOW, "mlflow");
        const sm_finding *f;
        sm_plan *p;

        set_status(m, "CreateFailed", "bucket denied");
        p = plan_of(d, o, &pol);
        ck_assert_uint_eq(p->n_actions, 0);
        f = finding(p, "mlflow/mlflow");
        ck_assert_int_eq(f->kind, SM_FINDING_FAILED);
        ck_assert_ptr_nonnull(strstr(f->message, "bucket denied"));
        ck_assert_ptr_nonnull(strstr(f->message, "not recreated automatically"));
        sm_plan_free(p);

        set_status(m, "UpdateFailed", NULL);
        json_object_set_new(m->describe, "TrackingServerSize", json_string("Large"));
        p = plan_of(d, o, &pol);
        ck_assert_ptr_nonnull(action(p, "AddTags", "mlflow/mlflow", NULL));
        ck_assert_ptr_nonnull(action(p, "UpdateMlflowTrackingServer", "mlflow/mlflow", NULL));
        sm_plan_free(p);

        set_status(m, "Creating", NULL);
        m->last_modified = 1000000.0;
        p = plan_of(d, o, &pol);
        ck_assert_int_eq(finding(p, "mlflow/mlflow")->kind, SM_FINDING_WAITING);
        sm_plan_free(p);
        pol.now = m->last_modified + 30 * 60;
        p = plan_of(d, o, &pol);
        ck_assert_int_eq(finding(p, "mlflow/mlflow")->kind, SM_FINDING_WAITING);
        sm_plan_free(p);
        pol.now = m->last_modified + 61 * 60;
        p = plan_of(d, o, &pol);
        f = finding(p, "mlflow/mlflow");
        ck_assert_int_eq(f->kind, SM_FINDING_FAILED);
        ck_assert_ptr_nonnull(strstr(f->message, "Creating for 61 minutes"));
        ck_assert_uint_eq(p->n_actions, 0);
        sm_plan_free(p);
        sm_observed_free(o);
        sm_desired_free(d);
}
END_TEST

START_TEST(test_mlflow_disabled_deletes_server_then_role)
{
        sm_plan_policy pol = policy();
        sm_desired *d = estate(true);
        sm_observed *o = converge(d, &pol);
        size_t i_server, i_role;
        sm_plan *p;

        pol.deletions_approved = false;
        d->domains[0].mlflow_enabled = false;
        p = plan_of(d, o, &pol);
        ck_assert_ptr_nonnull(action(p, "DeleteMlflowTrackingServer", "mlflow/mlflow", &i_server));
        ck_assert_ptr_nonnull(action(p, "DeleteRole", "role/mlops-studio.mlflow", &i_role));
        ck_assert(has_dep(&p->actions[i_role], i_server));
        ck_assert_uint_gt(count_op(p, "DetachRolePolicy") + count_op(p, "DeleteRolePolicy"), 0);
        sm_plan_free(p);
        sm_observed_free(o);
        sm_desired_free(d);
}
END_TEST

#define ROLE_ARN(name) "arn:aws:iam::" ACCOUNT ":role/" name

START_TEST(test_projects_greenfield)
{
        sm_plan_policy pol = policy();
        sm_desired *d = estate(true);
        sm_observed *o = sm_observed_new();
        const sm_action *enable, *assoc;
        size_t i_role, i_assoc;
        sm_plan *p;

        o->portfolio.status_known = true;
        p = plan_of(d, o, &pol);
        /* Round 1: enable only; the portfolio id comes with the share. */
        enable = action(p, "EnableSagemakerServicecatalogPortfolio", "portfolio", NULL);
        ck_assert_ptr_nonnull(enable);
        ck_assert_int_eq(enable->service, SM_SERVICE_SAGEMAKER);
        ck_assert_uint_eq(json_object_size(enable->params), 0);
        ck_assert_str_eq(enable->settle_statuses[0], "Enabled");
        ck_assert_str_eq(enable->settle_operation, "GetSagemakerServicecatalogPortfolioStatus");
        ck_assert_uint_eq(json_object_size(enable->settle_params), 0);
        ck_assert_uint_eq(count_op(p, "AssociatePrincipalWithPortfolio"), 0);
        ck_assert_int_eq(finding(p, "portfolio")->kind, SM_FINDING_CHANGE);
        assert_settle_probes(p);
        apply(o, p);
        sm_plan_free(p);

        /* Round 2: the three roles of the original, MLflow's not. */
        p = plan_of(d, o, &pol);
        ck_assert_uint_eq(count_op(p, "EnableSagemakerServicecatalogPortfolio"), 0);
        ck_assert_uint_eq(count_op(p, "AssociatePrincipalWithPortfolio"), 3);
        assoc = action(p, "AssociatePrincipalWithPortfolio", "portfolio", NULL);
        ck_assert_int_eq(assoc->service, SM_SERVICE_SERVICECATALOG);
        ck_assert_ptr_null(assoc->settle_statuses);
        apply(o, p);
        sm_plan_free(p);
        ck_assert(principal_has(o, ROLE_ARN("mlops-studio.sagemaker-execution")));
        ck_assert(principal_has(o, ROLE_ARN("mlops-studio.data-scientist")));
        ck_assert(principal_has(o, ROLE_ARN("mlops-studio.lead-data-scientist")));
        ck_assert(!principal_has(o, ROLE_ARN("mlops-studio.mlflow")));
        sm_observed_free(o);

        /* Already enabled with the share: associate in the round that
         * creates the roles, after their creation. */
        o = sm_observed_new();
        o->portfolio.status_known = true;
        o->portfolio.enabled = true;
        o->portfolio.portfolio_id = strdup(PORTFOLIO_ID);
        p = plan_of(d, o, &pol);
        ck_assert_uint_eq(count_op(p, "AssociatePrincipalWithPortfolio"), 3);
        ck_assert_ptr_nonnull(action(p, "CreateRole", "role/mlops-studio.data-scientist", &i_role));
        for (i_assoc = 0; i_assoc < p->n_actions; i_assoc++)
                if (strcmp(p->actions[i_assoc].operation, "AssociatePrincipalWithPortfolio") == 0 &&
                    strcmp(json_string_value(
                                   json_object_get(p->actions[i_assoc].params, "PrincipalARN")),
                           ROLE_ARN("mlops-studio.data-scientist")) == 0)
                        break;
        ck_assert_uint_lt(i_assoc, p->n_actions);
        ck_assert(has_dep(&p->actions[i_assoc], i_role));
        sm_plan_free(p);
        sm_observed_free(o);
        sm_desired_free(d);
}
END_TEST

START_TEST(test_projects_blocked)
{
        sm_plan_policy pol = policy();
        sm_desired *d = estate(true);
        sm_observed *o = converge(d, &pol);
        sm_observed_role *exec;
        sm_plan *p;

        /* Unread: nothing planned on guesses. */
        o->portfolio.status_known = false;
        p = plan_of(d, o, &pol);
        ck_assert_uint_eq(p->n_actions, 0);
        ck_assert_int_eq(finding(p, "portfolio")->kind, SM_FINDING_BLOCKED);
        sm_plan_free(p);

        /* Enabled but no accepted share: no id to associate with. */
        o->portfolio.status_known = true;
        free(o->portfolio.portfolio_id);
        o->portfolio.portfolio_id = NULL;
        p = plan_of(d, o, &pol);
        ck_assert_uint_eq(p->n_actions, 0);
        ck_assert_int_eq(finding(p, "portfolio")->kind, SM_FINDING_BLOCKED);
        sm_plan_free(p);

        /* A role that is not ours (untagged, adopt off) is never associated. */
        o->portfolio.portfolio_id = strdup(PORTFOLIO_ID);
        principal_del(o, ROLE_ARN("mlops-studio.sagemaker-execution"));
        exec = role_of(o, "mlops-studio.sagemaker-execution");
        tags_del(&exec->tags, SM_TAG_MANAGED_BY);
        exec->owner = SM_OWNER_NONE;
        p = plan_of(d, o, &pol);
        ck_assert_uint_eq(count_op(p, "AssociatePrincipalWithPortfolio"), 0);
        ck_assert_int_eq(finding(p, "portfolio")->kind, SM_FINDING_BLOCKED);
        sm_plan_free(p);
        sm_observed_free(o);
        sm_desired_free(d);
}
END_TEST

static const char estate_bob_in_domain[] = "kind: User\n"
                                           "name: bob\n"
                                           "domain: mlops-studio\n"
                                           "group: lead_data_science_users\n";
static const char other_domain[] = "kind: Domain\n"
                                   "name: other\n"
                                   "vpc_id: vpc-0a1b2c3d4e5f60718\n"
                                   "subnet_ids:\n"
                                   "  - subnet-0123456789abcdef0\n"
                                   "enable_custom_sagemaker_projects: true\n";

START_TEST(test_projects_turned_off_disassociates)
{
        sm_plan_policy pol = policy();
        const char *docs[3] = {estate_domain, estate_bob_in_domain, other_domain};
        sm_desired *d = build(docs, 3);
        sm_observed *o = converge(d, &pol);
        sm_plan *p;

        ck_assert_uint_eq(o->portfolio.n_principals, 6);
        /* The portfolio is still read (domain "other" wants it): the first
         * domain's three roles go, the other's stay. */
        ((sm_domain *)sm_desired_domain(d, "mlops-studio"))->enable_custom_sagemaker_projects =
                false;
        p = plan_of(d, o, &pol);
        ck_assert_uint_eq(count_op(p, "DisassociatePrincipalFromPortfolio"), 3);
        ck_assert_uint_eq(count_op(p, "AssociatePrincipalWithPortfolio"), 0);
        ck_assert_int_eq(action(p, "DisassociatePrincipalFromPortfolio", NULL, NULL)->verb,
                         SM_VERB_DELETE);
        ck_assert_int_eq(finding(p, "portfolio")->kind, SM_FINDING_CHANGE);
        apply(o, p);
        sm_plan_free(p);
        ck_assert_uint_eq(o->portfolio.n_principals, 3);
        ck_assert(principal_has(o, ROLE_ARN("other.sagemaker-execution")));
        ck_assert(!principal_has(o, ROLE_ARN("mlops-studio.data-scientist")));

        /* Nothing is removed while a manifest failed to load. */
        ((sm_domain *)sm_desired_domain(d, "mlops-studio"))->enable_custom_sagemaker_projects =
                true;
        p = plan_of(d, o, &pol);
        ck_assert_uint_eq(count_op(p, "AssociatePrincipalWithPortfolio"), 3);
        apply(o, p);
        sm_plan_free(p);
        ((sm_domain *)sm_desired_domain(d, "mlops-studio"))->enable_custom_sagemaker_projects =
                false;
        pol.load_complete = false;
        p = plan_of(d, o, &pol);
        ck_assert_uint_eq(count_op(p, "DisassociatePrincipalFromPortfolio"), 0);
        sm_plan_free(p);
        sm_observed_free(o);
        sm_desired_free(d);
}
END_TEST

START_TEST(test_projects_removed_role_disassociated)
{
        sm_plan_policy pol = policy();
        sm_desired *d = estate(true);
        sm_observed *o = converge(d, &pol);
        const sm_action *a;
        sm_plan *p;

        /* The MLflow role, associated by hand, goes when MLflow is off
         * (the role itself is deleted by the same plan). */
        principal_add(o, ROLE_ARN("mlops-studio.mlflow"));
        p = plan_of(d, o, &pol);
        ck_assert_uint_eq(p->n_actions, 0);
        sm_plan_free(p);
        d->domains[0].mlflow_enabled = false;
        p = plan_of(d, o, &pol);
        ck_assert_uint_eq(count_op(p, "DisassociatePrincipalFromPortfolio"), 1);
        a = action(p, "DisassociatePrincipalFromPortfolio", "portfolio", NULL);
        ck_assert_str_eq(json_string_value(json_object_get(a->params, "PrincipalARN")),
                         ROLE_ARN("mlops-studio.mlflow"));
        ck_assert_str_eq(json_string_value(json_object_get(a->params, "PortfolioId")),
                         PORTFOLIO_ID);
        ck_assert_ptr_nonnull(action(p, "DeleteRole", "role/mlops-studio.mlflow", NULL));
        sm_plan_free(p);
        sm_observed_free(o);
        sm_desired_free(d);
}
END_TEST

START_TEST(test_projects_foreign_principal_untouched)
{
        sm_plan_policy pol = policy();
        sm_desired *d = estate(true);
        sm_observed *o = converge(d, &pol);
        sm_plan *p;

        principal_add(o, ROLE_ARN("someone-else"));
        principal_add(o, "arn:aws:iam::999999999999:role/mlops-studio.mlflow");
        principal_add(o, "arn:aws:iam::" ACCOUNT ":user/alice");
        principal_add(o, "arn:aws:iam::" ACCOUNT ":role/team/mlops-studio.mlflow");
        /* Ours by name but not by tag: its owner associated it. */
        tags_del(&role_of(o, "mlops-studio.mlflow")->tags, SM_TAG_MANAGED_BY);
        role_of(o, "mlops-studio.mlflow")->owner = SM_OWNER_NONE;
        d->domains[0].mlflow_enabled = false;
        p = plan_of(d, o, &pol);
        ck_assert_uint_eq(count_op(p, "DisassociatePrincipalFromPortfolio"), 0);
        ck_assert_uint_eq(count_op(p, "AssociatePrincipalWithPortfolio"), 0);
        ck_assert_int_eq(finding(p, "portfolio")->kind, SM_FINDING_IN_SYNC);
        sm_plan_free(p);
        sm_observed_free(o);
        sm_desired_free(d);
}
END_TEST

START_TEST(test_invalid_manifest_plans_nothing_of_it)
{
        sm_plan_policy pol = policy();
        sm_desired *d = estate(true);
        sm_observed *o = converge(d, &pol);
        sm_plan *p;

        /* MLflow without an artifact bucket: no role set can be built. */
        free(d->domains[0].mlflow_artifact_store_bucket_name);
        d->domains[0].mlflow_artifact_store_bucket_name = NULL;
        p = plan_of(d, o, &pol);
        ck_assert_uint_eq(p->n_actions, 0);
        ck_assert_int_eq(finding(p, "domain/mlops-studio")->kind, SM_FINDING_INVALID);
        ck_assert_int_eq(finding(p, "user-profile/mlops-studio/alice")->kind, SM_FINDING_BLOCKED);
        sm_plan_free(p);
        sm_observed_free(o);
        sm_desired_free(d);
}
END_TEST

START_TEST(test_ours_not_desired_reported)
{
        sm_plan_policy pol = policy();
        sm_desired *d = estate(true);
        sm_observed *o = converge(d, &pol);
        json_t *params =
                json_pack("{s:[{s:s,s:s}]}", "Tags", "Key", SM_TAG_MANAGED_BY, "Value", INSTANCE);
        sm_plan *p;

        add_resource(o, SM_RESOURCE_LIFECYCLE_CONFIG, "studio-auto-shutdown-00000000", NULL,
                     "arn:aws:sagemaker:eu-west-1:111122223333:studio-lifecycle-config/old",
                     "InService", params);
        add_resource(o, SM_RESOURCE_DOMAIN, "old-domain", "d-old",
                     "arn:aws:sagemaker:eu-west-1:111122223333:domain/d-old", "InService", params);
        json_decref(params);
        sm_observed_sort(o);
        p = plan_of(d, o, &pol);
        /* An old lifecycle config of ours nothing uses goes; a domain never. */
        ck_assert_uint_eq(p->n_actions, 1);
        ck_assert_ptr_nonnull(action(p, "DeleteStudioLifecycleConfig",
                                     "lifecycle-config/studio-auto-shutdown-00000000", NULL));
        ck_assert_uint_eq(p->n_findings, 14);
        ck_assert_ptr_nonnull(
                strstr(finding(p, "domain/old-domain")->message, "a pass never deletes a domain"));
        sm_plan_free(p);
        sm_observed_free(o);
        sm_desired_free(d);
}
END_TEST

START_TEST(test_teardown_waits_for_busy_app)
{
        sm_plan_policy pol = policy();
        sm_desired *d = estate(true), *without = estate(false);
        sm_observed *o = converge(d, &pol);
        sm_observed_resource app = {
                .kind = SM_RESOURCE_APP,
                .name = strdup("default"),
                .domain_id = strdup("d-mlops-studio"),
                .status = strdup("Pending"),
                .app_user_profile = strdup("alice"),
                .app_type = strdup("JupyterLab"),
        };
        sm_plan *p;

        ck_assert_int_eq(sm_observed_add_resource(o, &app), 0);
        sm_observed_sort(o);
        p = plan_of(without, o, &pol);
        ck_assert_ptr_null(action(p, "DeleteUserProfile", NULL, NULL));
        ck_assert_int_eq(finding(p, "user-profile/mlops-studio/alice")->kind, SM_FINDING_WAITING);
        sm_plan_free(p);
        sm_observed_free(o);
        sm_desired_free(d);
        sm_desired_free(without);
}
END_TEST

START_TEST(test_role_tags_add_and_remove)
{
        sm_plan_policy pol = policy();
        sm_desired *d = estate(true);
        sm_observed *o = converge(d, &pol);
        sm_observed_role *r = role_of(o, "mlops-studio.data-scientist");
        const sm_action *tag, *untag;
        sm_plan *p;

        tags_set(&r->tags, "team", "other");
        tags_set(&r->tags, "stray", "x");
        tags_set(&r->tags, "aws:cloudformation:stack-name", "kept");
        p = plan_of(d, o, &pol);
        ck_assert_uint_eq(p->n_actions, 2);
        tag = action(p, "TagRole", NULL, NULL);
        untag = action(p, "UntagRole", NULL, NULL);
        ck_assert_ptr_nonnull(tag);
        ck_assert_ptr_nonnull(untag);
        ck_assert_uint_eq(json_array_size(json_object_get(untag->params, "TagKeys")), 1);
        ck_assert_str_eq(
                json_string_value(json_array_get(json_object_get(untag->params, "TagKeys"), 0)),
                "stray");
        /* Both changes shown once, on the last tag call. */
        ck_assert_uint_eq(tag->n_diffs, 0);
        ck_assert_uint_eq(untag->n_diffs, 2);
        sm_plan_free(p);
        sm_observed_free(o);
        sm_desired_free(d);
}
END_TEST

START_TEST(test_foreign_role)
{
        sm_plan_policy pol = policy();
        sm_desired *d = estate(true);
        sm_observed *o = sm_observed_new();
        sm_observed_role r = {
                .name = strdup("mlops-studio.sagemaker-execution"),
                .arn = strdup("arn:aws:iam::111122223333:role/mlops-studio.sagemaker-execution"),
                .path = strdup("/"),
                .trust_policy = json_object(),
                .managed_policy_arns = calloc(1, sizeof(char *)),
        };
        const sm_action *a;
        sm_plan *p;

        ck_assert_int_eq(sm_observed_add_role(o, &r), 0);
        sm_observed_sort(o);
        p = plan_of(d, o, &pol);
        ck_assert_int_eq(finding(p, "role/mlops-studio.sagemaker-execution")->kind,
                         SM_FINDING_CONFLICT);
        ck_assert_uint_eq(count_op(p, "CreateRole"), 3);
        ck_assert_uint_eq(count_op(p, "CreateDomain"), 0);
        ck_assert_int_eq(finding(p, "domain/mlops-studio")->kind, SM_FINDING_BLOCKED);
        sm_plan_free(p);

        d->domains[0].adopt = true;
        p = plan_of(d, o, &pol);
        a = action(p, "TagRole", "role/mlops-studio.sagemaker-execution", NULL);
        ck_assert_ptr_nonnull(a);
        ck_assert_int_eq(a->verb, SM_VERB_ADOPT);
        /* Adopted roles are named at once; their drift is repaired next round. */
        ck_assert_uint_eq(count_op(p, "CreateDomain"), 1);
        ck_assert_uint_eq(count_op(p, "PutRolePolicy") + count_op(p, "AttachRolePolicy") > 0, 1);
        sm_plan_free(p);
        sm_observed_free(o);
        sm_desired_free(d);
}
END_TEST

static size_t count_kind(const sm_observed *o, sm_resource_kind k)
{
        size_t n = 0;

        for (size_t i = 0; i < o->n_resources; i++)
                n += o->resources[i].kind == k;
        return n;
}

/* Changed content: a new config, the domain moved onto it, and the old one
 * deleted the round after, once the domain no longer names it. */
START_TEST(test_lifecycle_content_changed)
{
        sm_plan_policy pol = policy();
        sm_desired *d = estate(true);
        sm_observed *o = converge(d, &pol);
        const sm_action *upd, *del;
        _cleanup_free_ char *old = NULL, *new = NULL;
        size_t i_lcc;
        json_t *jl;
        sm_plan *p;

        ck_assert_int_eq(
                sm_lifecycle_config_name("studio-auto-shutdown", pol.lifecycle_content_b64, &old),
                0);
        ck_assert_ptr_nonnull(res_find(o, SM_RESOURCE_LIFECYCLE_CONFIG, old));
        pol.lifecycle_content_b64 = "IyEvYmluL2Jhc2gKZWNobyBieWUK";
        ck_assert_int_eq(
                sm_lifecycle_config_name("studio-auto-shutdown", pol.lifecycle_content_b64, &new),
                0);
        p = plan_of(d, o, &pol);
        ck_assert_uint_eq(p->n_actions, 2);
        ck_assert_ptr_nonnull(action(p, "CreateStudioLifecycleConfig", NULL, &i_lcc));
        ck_assert_str_eq(json_string_value(json_object_get(p->actions[i_lcc].params,
                                                           "StudioLifecycleConfigName")),
                         new);
        upd = action(p, "UpdateDomain", "domain/mlops-studio", NULL);
        ck_assert_ptr_nonnull(upd);
        ck_assert(has_dep(upd, i_lcc));
        /* Restricted to what changed: no SubnetIds while apps may run. */
        ck_assert_ptr_null(json_object_get(upd->params, "SubnetIds"));
        jl = path_get(upd->params, "DefaultUserSettings.JupyterLabAppSettings");
        ck_assert_ptr_nonnull(strstr(
                json_string_value(json_array_get(json_object_get(jl, "LifecycleConfigArns"), 0)),
                new));
        ck_assert_str_eq(json_string_value(json_object_get(upd->params, "DomainId")),
                         "d-mlops-studio");
        /* Still attached this round: the old one waits. */
        ck_assert_ptr_null(action(p, "DeleteStudioLifecycleConfig", NULL, NULL));
        apply(o, p);
        sm_plan_free(p);

        p = plan_of(d, o, &pol);
        ck_assert_uint_eq(p->n_actions, 1);
        del = action(p, "DeleteStudioLifecycleConfig", NULL, NULL);
        ck_assert_ptr_nonnull(del);
        ck_assert_str_eq(
                json_string_value(json_object_get(del->params, "StudioLifecycleConfigName")), old);
        ck_assert_ptr_null(del->settle_statuses);
        apply(o, p);
        sm_plan_free(p);
        p = plan_of(d, o, &pol);
        ck_assert_uint_eq(p->n_actions, 0);
        ck_assert_uint_eq(count_kind(o, SM_RESOURCE_LIFECYCLE_CONFIG), 1);
        sm_plan_free(p);
        sm_observed_free(o);
        sm_desired_free(d);
}
END_TEST

/* Never one still in use: a live app started with the old config holds
 * it; a foreign one is never deleted; a failed manifest load holds it. */
START_TEST(test_lifecycle_old_config_in_use)
{
        sm_plan_policy pol = policy();
        sm_desired *d = estate(true);
        sm_observed *o = converge(d, &pol);
        const sm_observed_resource *lcc = NULL;
        sm_observed_resource app = {
                .kind = SM_RESOURCE_APP,
                .name = strdup("default"),
                .domain_id = strdup("d-mlops-studio"),
                .status = strdup("InService"),
                .app_space = strdup("alice-JupyterLab-space"),
                .app_type = strdup("JupyterLab"),
        };
        const sm_finding *f;
        char name[64];
        sm_plan *p;

        for (size_t i = 0; i < o->n_resources; i++)
                if (o->resources[i].kind == SM_RESOURCE_LIFECYCLE_CONFIG)
                        lcc = &o->resources[i];
        ck_assert_ptr_nonnull(lcc);
        snprintf(name, sizeof(name), "lifecycle-config/%s", lcc->name);
        app.describe = json_pack("{s:{s:s}}", "ResourceSpec", "LifecycleConfigArn", lcc->arn);
        ck_assert_int_eq(sm_observed_add_resource(o, &app), 0);
        sm_observed_sort(o);
        pol.lifecycle_content_b64 = "IyEvYmluL2Jhc2gKZWNobyBieWUK";
        p = plan_of(d, o, &pol);
        apply(o, p);
        sm_plan_free(p);
        p = plan_of(d, o, &pol);
        ck_assert_uint_eq(p->n_actions, 0);
        f = finding(p, name);
        ck_assert_int_eq(f->kind, SM_FINDING_WAITING);
        ck_assert_ptr_nonnull(strstr(f->message, "app/default still uses it"));
        sm_plan_free(p);

        /* The app stopped; a failed load still deletes nothing. */
        set_status(res_find(o, SM_RESOURCE_APP, "default"), "Deleted", NULL);
        pol.load_complete = false;
        p = plan_of(d, o, &pol);
        ck_assert_uint_eq(p->n_actions, 0);
        ck_assert_int_eq(finding(p, name)->kind, SM_FINDING_DELETION_GUARDED);
        sm_plan_free(p);
        pol.load_complete = true;
        p = plan_of(d, o, &pol);
        ck_assert_uint_eq(count_op(p, "DeleteStudioLifecycleConfig"), 1);
        sm_plan_free(p);
        res_find(o, SM_RESOURCE_LIFECYCLE_CONFIG, name + strlen("lifecycle-config/"))->owner =
                SM_OWNER_NONE;
        p = plan_of(d, o, &pol);
        ck_assert_uint_eq(count_op(p, "DeleteStudioLifecycleConfig"), 0);
        sm_plan_free(p);
        sm_observed_free(o);
        sm_desired_free(d);
}
END_TEST

/* Unset server_lifecycle_name: the domain's list emptied, then ours
 * deleted. */
START_TEST(test_lifecycle_unset)
{
        sm_plan_policy pol = policy();
        sm_desired *d = estate(true);
        sm_observed *o = converge(d, &pol);
        const sm_action *upd;
        json_t *arns;
        sm_plan *p;

        free(d->domains[0].server_lifecycle_name);
        d->domains[0].server_lifecycle_name = NULL;
        d->domains[0].set &= ~(UINT64_C(1) << SM_DOMAIN_SERVER_LIFECYCLE_NAME);
        p = plan_of(d, o, &pol);
        ck_assert_uint_eq(p->n_actions, 1);
        upd = action(p, "UpdateDomain", "domain/mlops-studio", NULL);
        ck_assert_ptr_nonnull(upd);
        arns = path_get(upd->params,
                        "DefaultUserSettings.JupyterLabAppSettings.LifecycleConfigArns");
        ck_assert(json_is_array(arns));
        ck_assert_uint_eq(json_array_size(arns), 0);
        apply(o, p);
        sm_plan_free(p);
        p = plan_of(d, o, &pol);
        ck_assert_uint_eq(p->n_actions, 1);
        ck_assert_ptr_nonnull(action(p, "DeleteStudioLifecycleConfig", NULL, NULL));
        apply(o, p);
        sm_plan_free(p);
        p = plan_of(d, o, &pol);
        ck_assert_uint_eq(p->n_actions, 0);
        ck_assert_uint_eq(count_kind(o, SM_RESOURCE_LIFECYCLE_CONFIG), 0);
        sm_plan_free(p);
        sm_observed_free(o);
        sm_desired_free(d);
}
END_TEST

/* The base name is per domain, the content global: two domains naming the
 * same base share one config, a domain without one gets an empty list,
 * and no script at all makes the domain that wants one invalid. */
START_TEST(test_lifecycle_per_domain)
{
        static const char other[] = "kind: Domain\nname: other\nvpc_id: vpc-0a1b2c3d4e5f60718\n"
                                    "subnet_ids:\n  - subnet-0123456789abcdef0\n"
                                    "server_lifecycle_name: studio-auto-shutdown\n";
        static const char plain[] = "kind: Domain\nname: plain\nvpc_id: vpc-0a1b2c3d4e5f60718\n"
                                    "subnet_ids:\n  - subnet-0123456789abcdef0\n";
        const char *docs[3] = {estate_domain, other, plain};
        sm_plan_policy pol = policy();
        sm_desired *d = build(docs, 3);
        sm_observed *o = sm_observed_new();
        const sm_action *lcc, *cd;
        size_t i_lcc;
        json_t *arns;
        sm_plan *p;

        p = plan_of(d, o, &pol);
        ck_assert_uint_eq(count_op(p, "CreateStudioLifecycleConfig"), 1);
        lcc = action(p, "CreateStudioLifecycleConfig", NULL, &i_lcc);
        ck_assert_str_eq(
                json_string_value(json_object_get(lcc->params, "StudioLifecycleConfigAppType")),
                "JupyterLab");
        /* Tagged like the domain that wants it first. */
        ck_assert_str_eq(json_string_value(json_object_get(
                                 json_array_get(json_object_get(lcc->params, "Tags"), 0), "Key")),
                         "smstudio:managed-by");
        ck_assert_uint_eq(json_array_size(json_object_get(lcc->params, "Tags")), 3);
        cd = action(p, "CreateDomain", "domain/other", NULL);
        ck_assert(has_dep(cd, i_lcc));
        ck_assert_uint_eq(json_array_size(path_get(
                                  cd->params,
                                  "DefaultUserSettings.JupyterLabAppSettings.LifecycleConfigArns")),
                          1);
        cd = action(p, "CreateDomain", "domain/plain", NULL);
        arns = path_get(cd->params,
                        "DefaultUserSettings.JupyterLabAppSettings.LifecycleConfigArns");
        ck_assert(json_is_array(arns));
        ck_assert_uint_eq(json_array_size(arns), 0);
        ck_assert_uint_eq(cd->n_deps > 0, 1);
        for (size_t i = 0; i < cd->n_deps; i++)
                ck_assert_uint_ne(cd->deps[i], i_lcc);
        sm_plan_free(p);

        pol.lifecycle_content_b64 = NULL;
        p = plan_of(d, o, &pol);
        ck_assert_uint_eq(count_op(p, "CreateStudioLifecycleConfig"), 0);
        ck_assert_int_eq(finding(p, "lifecycle-config/studio-auto-shutdown")->kind,
                         SM_FINDING_INVALID);
        ck_assert_ptr_null(action(p, "CreateDomain", "domain/other", NULL));
        ck_assert_ptr_nonnull(action(p, "CreateDomain", "domain/plain", NULL));
        sm_plan_free(p);
        sm_observed_free(o);
        sm_desired_free(d);
}
END_TEST

START_TEST(test_bad_input)
{
        sm_plan_policy pol = policy();
        sm_desired *d = sm_desired_new();
        sm_observed *o = sm_observed_new();
        sm_plan *p = NULL;

        pol.instance = NULL;
        ck_assert_int_eq(sm_plan_build(d, o, &pol, &p), -EINVAL);
        ck_assert_ptr_null(p);
        ck_assert_ptr_null(sm_plan_free(NULL));
        ck_assert_str_eq(sm_verb_to_string(SM_VERB_ADOPT), "adopt");
        ck_assert_str_eq(sm_finding_kind_to_string(SM_FINDING_REPLACE_REFUSED), "replace-refused");
        sm_observed_free(o);
        sm_desired_free(d);
}
END_TEST

/* A pass that cannot list the domains cannot build the isolation deny (it
 * names the domain id): the deny already on the roles stays. */
START_TEST(test_isolation_kept_when_domains_unread)
{
        sm_plan_policy pol = policy();
        sm_desired *d = estate(true);
        sm_observed *o = converge(d, &pol);
        sm_plan *p;

        ck_assert_ptr_nonnull(inline_find_test(role_of(o, "mlops-studio.data-scientist"),
                                               SM_ROLE_POLICY_ISOLATION));
        res_remove(o, res_find(o, SM_RESOURCE_DOMAIN, "mlops-studio"));
        o->incomplete[SM_RESOURCE_DOMAIN] = true;
        p = plan_of(d, o, &pol);
        ck_assert_uint_eq(count_op(p, "DeleteRolePolicy"), 0);
        ck_assert_uint_eq(count_op(p, "PutRolePolicy"), 0);
        ck_assert_int_eq(finding(p, "role/mlops-studio.data-scientist")->kind, SM_FINDING_IN_SYNC);
        sm_plan_free(p);
        sm_observed_free(o);
        sm_desired_free(d);
}
END_TEST

static Suite *make_suite(void)
{
        Suite *s = suite_create("plan");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_greenfield_rounds);
        tcase_add_test(tc, test_steady_state);
        tcase_add_test(tc, test_drift_space_instance_type_and_format);
        tcase_add_test(tc, test_drift_inline_policy);
        tcase_add_test(tc, test_drift_tags);
        tcase_add_test(tc, test_foreign_domain_conflict_and_adopt);
        tcase_add_test(tc, test_replace_refused);
        tcase_add_test(tc, test_user_removed_teardown);
        tcase_add_test(tc, test_deletion_guard);
        tcase_add_test(tc, test_incomplete_read_blocks_creates);
        tcase_add_test(tc, test_failed_profile_and_space_recreated);
        tcase_add_test(tc, test_update_failed_retried_once);
        tcase_add_test(tc, test_delete_failed);
        tcase_add_test(tc, test_failed_domain_reported_only);
        tcase_add_test(tc, test_failed_mlflow);
        tcase_add_test(tc, test_mlflow_disabled_deletes_server_then_role);
        tcase_add_test(tc, test_projects_greenfield);
        tcase_add_test(tc, test_projects_blocked);
        tcase_add_test(tc, test_projects_turned_off_disassociates);
        tcase_add_test(tc, test_projects_removed_role_disassociated);
        tcase_add_test(tc, test_projects_foreign_principal_untouched);
        tcase_add_test(tc, test_invalid_manifest_plans_nothing_of_it);
        tcase_add_test(tc, test_ours_not_desired_reported);
        tcase_add_test(tc, test_teardown_waits_for_busy_app);
        tcase_add_test(tc, test_role_tags_add_and_remove);
        tcase_add_test(tc, test_foreign_role);
        tcase_add_test(tc, test_lifecycle_content_changed);
        tcase_add_test(tc, test_lifecycle_old_config_in_use);
        tcase_add_test(tc, test_lifecycle_unset);
        tcase_add_test(tc, test_lifecycle_per_domain);
        tcase_add_test(tc, test_isolation_kept_when_domains_unread);
        tcase_add_test(tc, test_bad_input);
        suite_add_tcase(s, tc);
        return s;
}

SM_CHECK_MAIN(make_suite)
