/* SPDX-License-Identifier: Apache-2.0 */
/* The desired IAM roles of a domain: names, the role set by feature, every
 * statement against the original module's (original-module.md §3.2-§3.7)
 * with the §8 fixes, one main document per role plus the isolation deny,
 * partitions, tags and IAM's size limits. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smstudio/iam.h"
#include "smstudio/macro.h"
#include "smstudio/roles.h"
#include "testmain.h"

#define ACCOUNT "123456789012"

static const sm_role_context ctx_phase1 = {
        .partition = "aws",
        .account_id = ACCOUNT,
        .region = "eu-west-1",
        .domain_id = NULL,
        .instance = "prod",
};

static const sm_role_context ctx_phase2 = {
        .partition = "aws",
        .account_id = ACCOUNT,
        .region = "eu-west-1",
        .domain_id = "d-abc123def456",
        .instance = "prod",
};

static void domain_init(sm_domain *d, const char *name)
{
        ck_assert_int_eq(sm_desired_domain_init(d), 0);
        d->name = strdup(name);
        d->source = (sm_source){strdup("domains/mlops.yaml"), 3, 1};
}

static void add_tag(sm_domain *d, const char *key, const char *value)
{
        d->tags.items = realloc(d->tags.items, (d->tags.n + 1) * sizeof(sm_tag));
        ck_assert_ptr_nonnull(d->tags.items);
        d->tags.items[d->tags.n].key = strdup(key);
        d->tags.items[d->tags.n].value = strdup(value);
        d->tags.n++;
}

static json_t *parse(const char *text)
{
        json_error_t e;
        json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &e);

        ck_assert_msg(j != NULL, "bad expected JSON: %s at %d", e.text, e.position);
        return j;
}

static const sm_inline_policy *find_inline(const sm_desired_role *r, const char *name)
{
        for (size_t i = 0; i < r->n_inline; i++)
                if (strcmp(r->inline_policies[i].name, name) == 0)
                        return &r->inline_policies[i];
        return NULL;
}

/* The inline policy `name` of r says exactly `expected` (IAM semantics). */
static void assert_inline(const sm_desired_role *r, const char *name, const char *expected)
{
        const sm_inline_policy *p = find_inline(r, name);
        json_t *want = parse(expected);
        char *got;

        ck_assert_msg(p != NULL, "%s has no inline policy %s", r->name, name);
        got = json_dumps(p->document, JSON_COMPACT);
        ck_assert_msg(sm_iam_policy_equal(p->document, want), "%s/%s differs: %s", r->name, name,
                      got);
        /* Written out as IAM documents it, statement order included. */
        ck_assert_str_eq(json_string_value(json_object_get(p->document, "Version")), "2012-10-17");
        free(got);
        json_decref(want);
}

static const json_t *main_statements(const sm_desired_role *r)
{
        const sm_inline_policy *p = find_inline(r, SM_ROLE_POLICY_MAIN);

        ck_assert_msg(p != NULL, "%s has no main policy", r->name);
        ck_assert_str_eq(json_string_value(json_object_get(p->document, "Version")), "2012-10-17");
        return json_object_get(p->document, "Statement");
}

static const json_t *statement_by_sid(const sm_desired_role *r, const char *sid)
{
        const json_t *all = main_statements(r);

        for (size_t i = 0; i < json_array_size(all); i++) {
                const json_t *st = json_array_get(all, i);

                if (strcmp(json_string_value(json_object_get(st, "Sid")), sid) == 0)
                        return st;
        }
        return NULL;
}

/* One of the original's policies, now a section of r's main document: the
 * statements of `expected` (a document whose statements carry their Sids)
 * are in it, each exactly (IAM semantics). Which Sids the document holds,
 * and in what order, is assert_sids()'s to check. */
static void assert_section(const sm_desired_role *r, const char *expected)
{
        json_t *want = parse(expected);
        json_t *got = json_pack("{s:s,s:[]}", "Version", "2012-10-17", "Statement");
        const json_t *ws = json_object_get(want, "Statement");
        char *dump;

        for (size_t i = 0; i < json_array_size(ws); i++) {
                const char *sid = json_string_value(json_object_get(json_array_get(ws, i), "Sid"));
                const json_t *st;

                ck_assert_ptr_nonnull(sid);
                st = statement_by_sid(r, sid);
                ck_assert_msg(st != NULL, "%s has no statement %s", r->name, sid);
                json_array_append(json_object_get(got, "Statement"), (json_t *)st);
        }
        dump = json_dumps(got, JSON_COMPACT);
        ck_assert_msg(sm_iam_policy_equal(got, want), "%s differs: %s", r->name, dump);
        free(dump);
        json_decref(got);
        json_decref(want);
}

/* The Sids of r's main document, comma-joined, in order. */
static void assert_sids(const sm_desired_role *r, const char *expected)
{
        const json_t *all = main_statements(r);
        char buf[1024] = "";

        for (size_t i = 0; i < json_array_size(all); i++) {
                const char *sid = json_string_value(json_object_get(json_array_get(all, i), "Sid"));

                ck_assert_ptr_nonnull(sid);
                /* IAM's grammar for a Sid in an identity policy. */
                ck_assert_uint_eq(strspn(sid, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                              "0123456789"),
                                  strlen(sid));
                if (i)
                        strcat(buf, ",");
                strcat(buf, sid);
        }
        ck_assert_str_eq(buf, expected);
}

/* The inline policy names of r, comma-joined, in order. */
static void assert_inline_names(const sm_desired_role *r, const char *expected)
{
        char buf[512] = "";

        for (size_t i = 0; i < r->n_inline; i++) {
                if (i)
                        strcat(buf, ",");
                strcat(buf, r->inline_policies[i].name);
        }
        ck_assert_str_eq(buf, expected);
}

static void assert_managed(const sm_desired_role *r, const char *const *expected)
{
        size_t n = 0;

        for (; expected[n]; n++) {
                ck_assert_ptr_nonnull(r->managed_policy_arns[n]);
                ck_assert_str_eq(r->managed_policy_arns[n], expected[n]);
        }
        ck_assert_ptr_null(r->managed_policy_arns[n]);
        ck_assert_uint_eq(r->n_managed, n);
}

/* ---- names -------------------------------------------------------------- */

static char *name_of(const char *domain, sm_role_kind k)
{
        char *s = NULL;

        ck_assert_int_eq(sm_role_name(domain, k, &s), 0);
        return s;
}

START_TEST(test_kind_names)
{
        ck_assert_str_eq(sm_role_kind_to_string(SM_ROLE_DATA_SCIENTIST), "data-scientist");
        ck_assert_str_eq(sm_role_kind_to_string(SM_ROLE_LEAD_DATA_SCIENTIST),
                         "lead-data-scientist");
        ck_assert_str_eq(sm_role_kind_to_string(SM_ROLE_EXECUTION), "sagemaker-execution");
        ck_assert_str_eq(sm_role_kind_to_string(SM_ROLE_MLFLOW), "mlflow");
        ck_assert_ptr_null(sm_role_kind_to_string(_SM_ROLE_KIND_MAX));
        ck_assert_ptr_null(sm_role_kind_to_string((sm_role_kind)-1));
}
END_TEST

START_TEST(test_short_names)
{
        char *s;

        s = name_of("mlops-studio", SM_ROLE_DATA_SCIENTIST);
        ck_assert_str_eq(s, "mlops-studio.data-scientist");
        free(s);
        s = name_of("mlops-studio", SM_ROLE_LEAD_DATA_SCIENTIST);
        ck_assert_str_eq(s, "mlops-studio.lead-data-scientist");
        free(s);
        s = name_of("mlops-studio", SM_ROLE_EXECUTION);
        ck_assert_str_eq(s, "mlops-studio.sagemaker-execution");
        free(s);
        s = name_of("mlops-studio", SM_ROLE_MLFLOW);
        ck_assert_str_eq(s, "mlops-studio.mlflow");
        free(s);
        s = name_of("A", SM_ROLE_MLFLOW);
        ck_assert_str_eq(s, "A.mlflow");
        free(s);

        /* 44 characters: the longest kept whole; the lead role is then 64. */
        s = name_of("abcdefghij-abcdefghij-abcdefghij-ab-cdefghij", SM_ROLE_LEAD_DATA_SCIENTIST);
        ck_assert_str_eq(s, "abcdefghij-abcdefghij-abcdefghij-ab-cdefghij.lead-data-scientist");
        ck_assert_uint_eq(strlen(s), SM_ROLE_NAME_MAX);
        free(s);
        s = name_of("abcdefghij-abcdefghij-abcdefghij-ab-cdefghij", SM_ROLE_EXECUTION);
        ck_assert_uint_eq(strlen(s), SM_ROLE_NAME_MAX);
        free(s);
}
END_TEST

START_TEST(test_cut_names)
{
        char *s;

        /* 45 characters: cut to 35, then "." and 8 hex of SHA-256("b" x 45). */
        s = name_of("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", SM_ROLE_LEAD_DATA_SCIENTIST);
        ck_assert_str_eq(s, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.47a12102.lead-data-scientist");
        ck_assert_uint_eq(strlen(s), SM_ROLE_NAME_MAX);
        free(s);
        /* Every kind of a cut domain shares the domain part. */
        s = name_of("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", SM_ROLE_MLFLOW);
        ck_assert_str_eq(s, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.47a12102.mlflow");
        free(s);
        /* 63, SageMaker's maximum. */
        s = name_of("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                    SM_ROLE_EXECUTION);
        ck_assert_str_eq(s, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.7d3e74a0.sagemaker-execution");
        free(s);
        s = name_of("studio-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                    SM_ROLE_DATA_SCIENTIST);
        ck_assert_str_eq(s, "studio-xxxxxxxxxxxxxxxxxxxxxxxxxxxx.59e6202b.data-scientist");
        free(s);
        /* A cut that ends in hyphens drops them; the hash keeps it unique. */
        s = name_of("abcdefghij-abcdefghij-abcdefghijk--lmnopqrstu", SM_ROLE_DATA_SCIENTIST);
        ck_assert_str_eq(s, "abcdefghij-abcdefghij-abcdefghijk.f7464bad.data-scientist");
        free(s);
}
END_TEST

/* Every 63-character domain (and every length around the boundary) gives
 * four names of at most 64 IAM characters, distinct without regard to case,
 * the same on every call; different domains never share a name. */
START_TEST(test_name_boundaries)
{
        static const char *const domains[] = {
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab",
                "Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab",
                "studio-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                "Studio-XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
                "a-b-c-d-e-f-g-h-i-j-k-l-m-n-o-p-q-r-s-t-u-v-w-x-y-z-0-1-2-3-4-5",
                "abcdefghij-abcdefghij-abcdefghij-ab-cdefghij",
                "abcdefghij-abcdefghij-abcdefghij-ab-cdefghijk",
                "mlops",
                "mlops-lead",
                "mlops-data",
                "x",
                "x-lead",
        };
        enum { N = ELEMENTSOF(domains) * _SM_ROLE_KIND_MAX };
        char *names[N];
        size_t n = 0;

        for (size_t i = 0; i < ELEMENTSOF(domains); i++)
                for (int k = 0; k < _SM_ROLE_KIND_MAX; k++) {
                        char *again = name_of(domains[i], (sm_role_kind)k);

                        names[n] = name_of(domains[i], (sm_role_kind)k);
                        ck_assert_str_eq(names[n], again);
                        free(again);
                        ck_assert_uint_ge(strlen(names[n]), 1);
                        ck_assert_uint_le(strlen(names[n]), SM_ROLE_NAME_MAX);
                        ck_assert_uint_eq(strspn(names[n], "abcdefghijklmnopqrstuvwxyz"
                                                           "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                           "0123456789_+=,.@-"),
                                          strlen(names[n]));
                        n++;
                }
        /* "mlops-lead"'s data scientist role is not "mlops"'s lead role. */
        for (size_t i = 0; i < n; i++)
                for (size_t j = i + 1; j < n; j++)
                        ck_assert_msg(strcasecmp(names[i], names[j]) != 0, "%s and %s collide",
                                      names[i], names[j]);
        for (size_t i = 0; i < n; i++)
                free(names[i]);
}
END_TEST

START_TEST(test_bad_names)
{
        char *s = (char *)"untouched";
        char long_name[65];

        ck_assert_int_eq(sm_role_name(NULL, SM_ROLE_MLFLOW, &s), -EINVAL);
        ck_assert_int_eq(sm_role_name("", SM_ROLE_MLFLOW, &s), -EINVAL);
        ck_assert_int_eq(sm_role_name("a.b", SM_ROLE_MLFLOW, &s), -EINVAL);
        ck_assert_int_eq(sm_role_name("-a", SM_ROLE_MLFLOW, &s), -EINVAL);
        /* 64 characters: longer than SageMaker allows. */
        memset(long_name, 'a', 64);
        long_name[64] = '\0';
        ck_assert_int_eq(sm_role_name(long_name, SM_ROLE_MLFLOW, &s), -EINVAL);
        long_name[63] = '\0';
        ck_assert_int_eq(sm_role_name(long_name, SM_ROLE_MLFLOW, &s), 0);
        ck_assert_str_eq(s, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.7d3e74a0.mlflow");
        free(s);
        s = (char *)"untouched";
        ck_assert_int_eq(sm_role_name("mlops", _SM_ROLE_KIND_MAX, &s), -EINVAL);
        ck_assert_str_eq(s, "untouched");
}
END_TEST

/* ---- the role set ----------------------------------------------------- */

static const char trust_sagemaker[] =
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
        "\"Principal\":{\"Service\":\"sagemaker.amazonaws.com\"},\"Action\":\"sts:AssumeRole\"}]}";

static const char *const managed_five_aws[] = {
        "arn:aws:iam::aws:policy/AWSCodeCommitReadOnly",
        "arn:aws:iam::aws:policy/AWSLambda_ReadOnlyAccess",
        "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
        "arn:aws:iam::aws:policy/AmazonSSMReadOnlyAccess",
        "arn:aws:iam::aws:policy/AmazonSageMakerFullAccess",
        NULL,
};
static const char *const managed_six_aws[] = {
        "arn:aws:iam::aws:policy/AWSCodeCommitPowerUser",
        "arn:aws:iam::aws:policy/AWSCodeCommitReadOnly",
        "arn:aws:iam::aws:policy/AWSLambda_ReadOnlyAccess",
        "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
        "arn:aws:iam::aws:policy/AmazonSSMReadOnlyAccess",
        "arn:aws:iam::aws:policy/AmazonSageMakerFullAccess",
        NULL,
};
static const char *const managed_none[] = {NULL};

#define SERVICES_SIDS                                                                              \
        "ServicesLambda,ServicesListTags,ServicesCodeCommit,ServicesEcr,ServicesServiceCatalog,"   \
        "ServicesCreateStack"
#define S3_SIDS "S3ReadWrite,S3List,S3DenyDeleteBucket"

START_TEST(test_default_set)
{
        sm_domain d;
        sm_desired_role *roles = NULL;
        size_t n = 0;
        json_t *trust = parse(trust_sagemaker);

        domain_init(&d, "mlops-studio");
        /* Isolation is on by default, but without a domain id it waits. */
        ck_assert(d.enable_domain_resource_isolation);
        ck_assert_int_eq(sm_roles_for_domain(&d, &ctx_phase1, &roles, &n), 0);
        /* FIX §8.6: no MLflow role without MLflow. */
        ck_assert_uint_eq(n, 3);
        ck_assert_int_eq(roles[0].kind, SM_ROLE_DATA_SCIENTIST);
        ck_assert_int_eq(roles[1].kind, SM_ROLE_LEAD_DATA_SCIENTIST);
        ck_assert_int_eq(roles[2].kind, SM_ROLE_EXECUTION);
        ck_assert_ptr_null(sm_desired_roles_get(roles, n, SM_ROLE_MLFLOW));
        ck_assert_ptr_eq(sm_desired_roles_get(roles, n, SM_ROLE_EXECUTION), &roles[2]);

        ck_assert_str_eq(roles[0].name, "mlops-studio.data-scientist");
        ck_assert_str_eq(roles[0].arn, "arn:aws:iam::" ACCOUNT ":role/mlops-studio.data-scientist");
        ck_assert_str_eq(roles[1].arn,
                         "arn:aws:iam::" ACCOUNT ":role/mlops-studio.lead-data-scientist");
        ck_assert_str_eq(roles[2].arn,
                         "arn:aws:iam::" ACCOUNT ":role/mlops-studio.sagemaker-execution");
        for (size_t i = 0; i < n; i++) {
                ck_assert_str_eq(roles[i].path, "/");
                ck_assert_ptr_null(roles[i].permissions_boundary_arn);
                /* CHANGE: SageMaker only, no lambda.amazonaws.com. */
                ck_assert(sm_iam_policy_equal(roles[i].trust_policy, trust));
                ck_assert_ptr_nonnull(roles[i].description);
                ck_assert_ptr_nonnull(strstr(roles[i].description, "mlops-studio"));
                ck_assert_str_eq(roles[i].source.file, "domains/mlops.yaml");
                ck_assert_uint_eq(roles[i].source.line, 3);
                /* One document, named with our prefix; isolation waits. */
                assert_inline_names(&roles[i], "smstudio-permissions");
                ck_assert(roles[i].isolation_pending);
                ck_assert_int_eq(strncmp(SM_ROLE_POLICY_MAIN, SM_ROLE_POLICY_PREFIX,
                                         strlen(SM_ROLE_POLICY_PREFIX)),
                                 0);
        }
        assert_managed(&roles[0], managed_five_aws);
        assert_managed(&roles[1], managed_six_aws);
        assert_managed(&roles[2], managed_five_aws);
        /* §3.2: deny only on the data scientist; §3.3: cdk deploy only on
         * the lead; §3.4: describe-images on the execution role, and no
         * sagemaker-mlflow:* there without MLflow. The original's order. */
        assert_sids(&roles[0], "SmDenyCreateProject,SmDenyUpdateModelPackage," SERVICES_SIDS
                               ",Kms," S3_SIDS ",Mlflow");
        assert_sids(&roles[1], SERVICES_SIDS ",Kms," S3_SIDS
                                             ",CdkDeployCloudFormation,CdkDeployPassRole,Mlflow");
        assert_sids(&roles[2], SERVICES_SIDS ",Kms," S3_SIDS ",DescribeImageVersion");

        sm_desired_roles_free(roles, n);
        sm_desired_domain_done(&d);
        json_decref(trust);
}
END_TEST

START_TEST(test_mlflow_set)
{
        sm_domain d;
        sm_desired_role *roles = NULL;
        size_t n = 0;
        json_t *trust = parse(trust_sagemaker);
        const sm_desired_role *m, *x;

        domain_init(&d, "mlops-studio");
        d.mlflow_enabled = true;
        /* §8.6 / §8.3: no bucket, no MLflow (the manifest checks say so
         * first; the builder refuses rather than write "None*"). */
        ck_assert_int_eq(sm_roles_for_domain(&d, &ctx_phase1, &roles, &n), -EINVAL);
        ck_assert_ptr_null(roles);
        d.mlflow_artifact_store_bucket_name = strdup("mlops-artifacts");
        ck_assert_int_eq(sm_roles_for_domain(&d, &ctx_phase2, &roles, &n), 0);
        ck_assert_uint_eq(n, 4);
        m = sm_desired_roles_get(roles, n, SM_ROLE_MLFLOW);
        ck_assert_ptr_eq(m, &roles[3]);
        ck_assert_str_eq(m->name, "mlops-studio.mlflow");
        ck_assert(sm_iam_policy_equal(m->trust_policy, trust));
        assert_managed(m, managed_none);
        /* The MLflow role is no user's: no isolation policy on it. */
        assert_inline_names(m, "smstudio-permissions");
        ck_assert(!m->isolation_pending);
        assert_sids(m, "MlflowServerS3,MlflowServerModelRegistry");
        assert_inline(m, "smstudio-permissions",
                      "{\"Version\":\"2012-10-17\",\"Statement\":["
                      "{\"Sid\":\"MlflowServerS3\",\"Effect\":\"Allow\","
                      "\"Action\":[\"s3:Get*\",\"s3:Put*\",\"s3:List*\"],"
                      "\"Resource\":[\"arn:aws:s3:::mlops-artifacts\","
                      "\"arn:aws:s3:::mlops-artifacts/*\"]},"
                      "{\"Sid\":\"MlflowServerModelRegistry\",\"Effect\":\"Allow\","
                      "\"Action\":[\"sagemaker:AddTags\","
                      "\"sagemaker:CreateModelPackageGroup\",\"sagemaker:CreateModelPackage\","
                      "\"sagemaker:UpdateModelPackage\",\"sagemaker:DescribeModelPackageGroup\"],"
                      "\"Resource\":\"*\"}]}");
        /* FIX §8.6: the execution role gets sagemaker-mlflow:* with MLflow. */
        x = sm_desired_roles_get(roles, n, SM_ROLE_EXECUTION);
        assert_inline_names(x, "smstudio-domain-isolation,smstudio-permissions");
        assert_sids(x, SERVICES_SIDS ",Kms," S3_SIDS ",DescribeImageVersion,Mlflow");
        for (size_t i = 0; i < 3; i++)
                assert_section(&roles[i], "{\"Version\":\"2012-10-17\",\"Statement\":["
                                          "{\"Sid\":\"Mlflow\",\"Effect\":\"Allow\","
                                          "\"Action\":[\"sagemaker-mlflow:*\"],"
                                          "\"Resource\":\"*\"}]}");
        sm_desired_roles_free(roles, n);
        sm_desired_domain_done(&d);
        json_decref(trust);
}
END_TEST

static const char isolation_aws[] =
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"DomainResourceIsolation\","
        "\"Effect\":\"Deny\",\"Action\":[\"sagemaker:Update*\",\"sagemaker:Delete*\","
        "\"sagemaker:Describe*\"],\"NotResource\":["
        "\"arn:aws:sagemaker:eu-west-1:123456789012:domain/d-abc123def456\","
        "\"arn:aws:sagemaker:eu-west-1:123456789012:user-profile/d-abc123def456/*\","
        "\"arn:aws:sagemaker:eu-west-1:123456789012:project/*\","
        "\"arn:aws:sagemaker:eu-west-1:123456789012:app/*\","
        "\"arn:aws:sagemaker:eu-west-1:123456789012:space/*\","
        "\"arn:aws:sagemaker:eu-west-1:123456789012:image/*\","
        "\"arn:aws:sagemaker:eu-west-1:123456789012:image-version/*/*\","
        "\"arn:aws:sagemaker:eu-west-1:123456789012:app-image-config/*\"],"
        "\"Condition\":{\"StringNotEquals\":{\"aws:ResourceTag/sagemaker:domain-arn\":"
        "\"arn:aws:sagemaker:eu-west-1:123456789012:domain/d-abc123def456\"}}}]}";

START_TEST(test_isolation_phases)
{
        sm_domain d;
        sm_desired_role *roles = NULL;
        size_t n = 0;

        domain_init(&d, "mlops-studio");
        d.mlflow_enabled = true;
        d.mlflow_artifact_store_bucket_name = strdup("mlops-artifacts");
        /* Phase 2: the domain has an id; the three user-facing roles get
         * the deny policy, the MLflow role does not. */
        ck_assert_int_eq(sm_roles_for_domain(&d, &ctx_phase2, &roles, &n), 0);
        for (size_t i = 0; i < 3; i++) {
                assert_inline(&roles[i], "smstudio-domain-isolation", isolation_aws);
                ck_assert(!roles[i].isolation_pending);
                /* A document of its own: none of it in the main one. */
                ck_assert_ptr_null(statement_by_sid(&roles[i], "DomainResourceIsolation"));
        }
        ck_assert_ptr_null(find_inline(&roles[3], "smstudio-domain-isolation"));
        ck_assert(!roles[3].isolation_pending);
        sm_desired_roles_free(roles, n);

        /* Phase 1: the same roles without it, marked as waiting for it. */
        ck_assert_int_eq(sm_roles_for_domain(&d, &ctx_phase1, &roles, &n), 0);
        for (size_t i = 0; i < 3; i++) {
                ck_assert_ptr_null(find_inline(&roles[i], "smstudio-domain-isolation"));
                ck_assert(roles[i].isolation_pending);
        }
        ck_assert(!roles[3].isolation_pending);
        sm_desired_roles_free(roles, n);

        /* Turned off: never, whatever the phase. */
        d.enable_domain_resource_isolation = false;
        ck_assert_int_eq(sm_roles_for_domain(&d, &ctx_phase2, &roles, &n), 0);
        for (size_t i = 0; i < n; i++) {
                ck_assert_ptr_null(find_inline(&roles[i], "smstudio-domain-isolation"));
                ck_assert(!roles[i].isolation_pending);
        }
        sm_desired_roles_free(roles, n);
        sm_desired_domain_done(&d);
}
END_TEST

START_TEST(test_path_and_boundary)
{
        sm_domain d;
        sm_desired_role *roles = NULL;
        size_t n = 0;

        domain_init(&d, "mlops-studio");
        d.role_path = strdup("/smstudio/team-a/");
        d.permissions_boundary = strdup("DataScienceBoundary");
        ck_assert_int_eq(sm_roles_for_domain(&d, &ctx_phase1, &roles, &n), 0);
        for (size_t i = 0; i < n; i++) {
                ck_assert_str_eq(roles[i].path, "/smstudio/team-a/");
                /* A policy name becomes a policy of this account (§3). */
                ck_assert_str_eq(roles[i].permissions_boundary_arn,
                                 "arn:aws:iam::" ACCOUNT ":policy/DataScienceBoundary");
        }
        ck_assert_str_eq(roles[0].arn, "arn:aws:iam::" ACCOUNT
                                       ":role/smstudio/team-a/mlops-studio.data-scientist");
        sm_desired_roles_free(roles, n);

        /* An ARN is taken as written, whatever account or path it names. */
        free(d.permissions_boundary);
        d.permissions_boundary = strdup("arn:aws:iam::210987654321:policy/org/Boundary");
        ck_assert_int_eq(sm_roles_for_domain(&d, &ctx_phase1, &roles, &n), 0);
        for (size_t i = 0; i < n; i++)
                ck_assert_str_eq(roles[i].permissions_boundary_arn,
                                 "arn:aws:iam::210987654321:policy/org/Boundary");
        sm_desired_roles_free(roles, n);

        /* An empty path or boundary is no path or boundary. */
        free(d.role_path);
        d.role_path = strdup("");
        free(d.permissions_boundary);
        d.permissions_boundary = NULL;
        ck_assert_int_eq(sm_roles_for_domain(&d, &ctx_phase1, &roles, &n), 0);
        ck_assert_str_eq(roles[0].path, "/");
        ck_assert_ptr_null(roles[0].permissions_boundary_arn);
        sm_desired_roles_free(roles, n);

        free(d.role_path);
        d.role_path = strdup("no-slashes");
        ck_assert_int_eq(sm_roles_for_domain(&d, &ctx_phase1, &roles, &n), -EINVAL);
        free(d.role_path);
        d.role_path = NULL;
        d.permissions_boundary = strdup("not a name");
        ck_assert_int_eq(sm_roles_for_domain(&d, &ctx_phase1, &roles, &n), -EINVAL);
        sm_desired_domain_done(&d);
}
END_TEST

/* §3.7, section by section: the original's statements and our Sids. */
static const char services_doc[] =
        "{\"Version\":\"2012-10-17\",\"Statement\":["
        "{\"Sid\":\"ServicesLambda\",\"Effect\":\"Allow\","
        "\"Action\":[\"lambda:Create*\",\"lambda:Update*\",\"lambda:Invoke*\"],\"Resource\":\"*\"},"
        "{\"Sid\":\"ServicesListTags\",\"Effect\":\"Allow\","
        "\"Action\":[\"sagemaker:ListTags\"],\"Resource\":\"*\"},"
        "{\"Sid\":\"ServicesCodeCommit\",\"Effect\":\"Allow\","
        "\"Action\":[\"codecommit:GitPull\",\"codecommit:GitPush\",\"codecommit:*Branch*\","
        "\"codecommit:*PullRequest*\",\"codecommit:*Commit*\",\"codecommit:GetDifferences\","
        "\"codecommit:GetReferences\",\"codecommit:GetRepository\",\"codecommit:GetMerge*\","
        "\"codecommit:Merge*\",\"codecommit:DescribeMergeConflicts\",\"codecommit:*Comment*\","
        "\"codecommit:*File\",\"codecommit:GetFolder\",\"codecommit:GetBlob\"],\"Resource\":\"*\"},"
        "{\"Sid\":\"ServicesEcr\",\"Effect\":\"Allow\","
        "\"Action\":[\"ecr:BatchGetImage\",\"ecr:BatchCheckLayerAvailability\","
        "\"ecr:GetDownloadUrlForLayer\",\"ecr:GetRepositoryPolicy\",\"ecr:DescribeRepositories\","
        "\"ecr:DescribeImages\",\"ecr:ListImages\",\"ecr:GetAuthorizationToken\","
        "\"ecr:GetLifecyclePolicy\",\"ecr:GetLifecyclePolicyPreview\",\"ecr:ListTagsForResource\","
        "\"ecr:DescribeImageScanFindings\",\"ecr:CreateRepository\",\"ecr:CompleteLayerUpload\","
        "\"ecr:UploadLayerPart\",\"ecr:InitiateLayerUpload\",\"ecr:PutImage\"],\"Resource\":\"*\"},"
        "{\"Sid\":\"ServicesServiceCatalog\",\"Effect\":\"Allow\","
        "\"Action\":[\"servicecatalog:*\"],\"Resource\":\"*\"},"
        "{\"Sid\":\"ServicesCreateStack\",\"Effect\":\"Allow\","
        "\"Action\":[\"cloudformation:CreateStack\"],\"Resource\":\"*\"}]}";

/* FIX §8.6: ReEncryptFrom and ReEncryptTo, not ReEncrypt. */
static const char kms_doc[] =
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"Kms\",\"Effect\":\"Allow\","
        "\"Action\":[\"kms:CreateGrant\",\"kms:Decrypt\",\"kms:DescribeKey\",\"kms:Encrypt\","
        "\"kms:ReEncryptFrom\",\"kms:ReEncryptTo\",\"kms:GenerateDataKey\"],\"Resource\":\"*\"}]}";

/* CHANGE: the one studio bucket, not every "<name>*"; %s: its ARNs (with
 * a trailing comma) in the read-write and the list statement, or "". */
static const char s3_doc_fmt[] =
        "{\"Version\":\"2012-10-17\",\"Statement\":["
        "{\"Sid\":\"S3ReadWrite\",\"Effect\":\"Allow\","
        "\"Action\":[\"s3:AbortMultipartUpload\",\"s3:DeleteObject\",\"s3:Describe*\","
        "\"s3:GetObject\",\"s3:PutBucket*\",\"s3:PutObject\",\"s3:PutObjectAcl\","
        "\"s3:GetBucketAcl\",\"s3:GetBucketLocation\"],"
        "\"Resource\":[%s\"arn:aws:s3:::cdk*/*\",\"arn:aws:s3:::cdk*\","
        "\"arn:aws:s3:::sagemaker*\",\"arn:aws:s3:::sagemaker*/*\"]},"
        "{\"Sid\":\"S3List\",\"Effect\":\"Allow\",\"Action\":[\"s3:ListBucket\"],"
        "\"Resource\":[%s\"arn:aws:s3:::cdk*\",\"arn:aws:s3:::sagemaker*\"]},"
        "{\"Sid\":\"S3DenyDeleteBucket\",\"Effect\":\"Deny\","
        "\"Action\":[\"s3:DeleteBucket*\"],\"Resource\":\"*\"}]}";

static const char deny_doc[] =
        "{\"Version\":\"2012-10-17\",\"Statement\":["
        "{\"Sid\":\"SmDenyCreateProject\",\"Effect\":\"Deny\","
        "\"Action\":[\"sagemaker:CreateProject\"],\"Resource\":\"*\"},"
        "{\"Sid\":\"SmDenyUpdateModelPackage\",\"Effect\":\"Deny\","
        "\"Action\":[\"sagemaker:UpdateModelPackage\"],\"Resource\":\"*\"}]}";

static const char cdk_deploy_doc[] =
        "{\"Version\":\"2012-10-17\",\"Statement\":["
        "{\"Sid\":\"CdkDeployCloudFormation\",\"Effect\":\"Allow\","
        "\"Action\":[\"cloudformation:*\"],\"Resource\":\"*\"},"
        "{\"Sid\":\"CdkDeployPassRole\",\"Effect\":\"Allow\",\"Action\":[\"iam:PassRole\"],"
        "\"Resource\":[\"arn:aws:iam::123456789012:role/cdk*\"]}]}";

static const char describe_images_doc[] =
        "{\"Version\":\"2012-10-17\",\"Statement\":["
        "{\"Sid\":\"DescribeImageVersion\",\"Effect\":\"Allow\","
        "\"Action\":[\"sagemaker:DescribeImage\",\"sagemaker:DescribeImageVersion\","
        "\"sagemaker:ListImageVersions\",\"sagemaker:DescribeAppImageConfig\"],"
        "\"Resource\":[\"arn:aws:sagemaker:eu-west-1:123456789012:image/*\","
        "\"arn:aws:sagemaker:eu-west-1:123456789012:image-version/*/*\","
        "\"arn:aws:sagemaker:eu-west-1:123456789012:app-image-config/*\"]}]}";

/* The S3 section of r for a studio bucket, or none (NULL). */
static void assert_s3_section(const sm_desired_role *r, const char *bucket)
{
        char rw[256] = "", list[128] = "", doc[2048];

        if (bucket) {
                snprintf(rw, sizeof(rw), "\"arn:aws:s3:::%s/*\",\"arn:aws:s3:::%s\",", bucket,
                         bucket);
                snprintf(list, sizeof(list), "\"arn:aws:s3:::%s\",", bucket);
        }
        ck_assert_int_lt(snprintf(doc, sizeof(doc), s3_doc_fmt, rw, list), (int)sizeof(doc));
        assert_section(r, doc);
}

START_TEST(test_exact_statements)
{
        sm_domain d;
        sm_desired_role *roles = NULL;
        size_t n = 0;

        domain_init(&d, "mlops-studio");
        d.studio_bucket_name = strdup("mlops-studio-data");
        ck_assert_int_eq(sm_roles_for_domain(&d, &ctx_phase1, &roles, &n), 0);
        for (size_t i = 0; i < n; i++) {
                assert_section(&roles[i], services_doc);
                assert_section(&roles[i], kms_doc);
                assert_s3_section(&roles[i], "mlops-studio-data");
        }
        assert_section(&roles[0], deny_doc);
        assert_section(&roles[1], cdk_deploy_doc);
        assert_section(&roles[2], describe_images_doc);
        /* The real action names only: no "kms:ReEncrypt" anywhere. */
        for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < roles[i].n_inline; j++) {
                        char *s = json_dumps(roles[i].inline_policies[j].document, 0);

                        ck_assert_ptr_null(strstr(s, "\"kms:ReEncrypt\""));
                        ck_assert_ptr_null(strstr(s, "None"));
                        free(s);
                }
        sm_desired_roles_free(roles, n);
        sm_desired_domain_done(&d);
}
END_TEST

/* No studio bucket: no invented default, only cdk* and sagemaker*. */
START_TEST(test_s3_without_bucket)
{
        sm_domain d;
        sm_desired_role *roles = NULL;
        size_t n = 0;

        domain_init(&d, "mlops-studio");
        ck_assert_int_eq(sm_roles_for_domain(&d, &ctx_phase1, &roles, &n), 0);
        for (size_t i = 0; i < n; i++)
                assert_s3_section(&roles[i], NULL);
        sm_desired_roles_free(roles, n);
        free(d.studio_bucket_name);
        d.studio_bucket_name = strdup("Not_A_Bucket");
        ck_assert_int_eq(sm_roles_for_domain(&d, &ctx_phase1, &roles, &n), -EINVAL);
        sm_desired_domain_done(&d);
}
END_TEST

/* Every ARN follows the partition: managed policies, roles, boundaries,
 * S3 and SageMaker resources. */
START_TEST(test_partitions)
{
        static const char *const partitions[] = {"aws-cn", "aws-us-gov"};
        static const char *const regions[] = {"cn-north-1", "us-gov-west-1"};

        for (size_t p = 0; p < 2; p++) {
                sm_role_context ctx = ctx_phase2;
                sm_domain d;
                sm_desired_role *roles = NULL;
                size_t n = 0;
                char want[256], *s;

                ctx.partition = partitions[p];
                ctx.region = regions[p];
                domain_init(&d, "mlops-studio");
                d.mlflow_enabled = true;
                d.mlflow_artifact_store_bucket_name = strdup("mlops-artifacts");
                d.studio_bucket_name = strdup("mlops-studio-data");
                d.permissions_boundary = strdup("Boundary");
                ck_assert_int_eq(sm_roles_for_domain(&d, &ctx, &roles, &n), 0);
                ck_assert_uint_eq(n, 4);

                const char *const managed[] = {
                        "AWSCodeCommitPowerUser",   "AWSCodeCommitReadOnly",
                        "AWSLambda_ReadOnlyAccess", "AmazonEC2ContainerRegistryReadOnly",
                        "AmazonSSMReadOnlyAccess",  "AmazonSageMakerFullAccess",
                };
                for (size_t i = 0; i < ELEMENTSOF(managed); i++) {
                        snprintf(want, sizeof(want), "arn:%s:iam::aws:policy/%s", partitions[p],
                                 managed[i]);
                        ck_assert_str_eq(roles[1].managed_policy_arns[i], want);
                        if (i > 0)
                                ck_assert_str_eq(roles[0].managed_policy_arns[i - 1], want);
                }
                for (size_t i = 0; i < n; i++) {
                        snprintf(want, sizeof(want), "arn:%s:iam::%s:role/%s", partitions[p],
                                 ACCOUNT, roles[i].name);
                        ck_assert_str_eq(roles[i].arn, want);
                        snprintf(want, sizeof(want), "arn:%s:iam::%s:policy/Boundary",
                                 partitions[p], ACCOUNT);
                        ck_assert_str_eq(roles[i].permissions_boundary_arn, want);
                        /* No ARN of another partition anywhere. */
                        for (size_t j = 0; j < roles[i].n_inline; j++) {
                                s = json_dumps(roles[i].inline_policies[j].document, 0);
                                ck_assert_ptr_null(strstr(s, "arn:aws:"));
                                free(s);
                        }
                }
                snprintf(want, sizeof(want),
                         "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":"
                         "\"CdkDeployPassRole\",\"Effect\":\"Allow\",\"Action\":[\"iam:PassRole\"],"
                         "\"Resource\":\"arn:%s:iam::%s:role/cdk*\"}]}",
                         partitions[p], ACCOUNT);
                assert_section(&roles[1], want);
                s = json_dumps(find_inline(&roles[0], "smstudio-domain-isolation")->document, 0);
                snprintf(want, sizeof(want), "arn:%s:sagemaker:%s:%s:domain/d-abc123def456",
                         partitions[p], regions[p], ACCOUNT);
                ck_assert_ptr_nonnull(strstr(s, want));
                free(s);
                s = json_dumps(find_inline(&roles[3], SM_ROLE_POLICY_MAIN)->document, 0);
                snprintf(want, sizeof(want), "arn:%s:s3:::mlops-artifacts/*", partitions[p]);
                ck_assert_ptr_nonnull(strstr(s, want));
                free(s);
                /* The SageMaker service principal is the same everywhere. */
                ck_assert_str_eq(
                        json_string_value(json_object_get(
                                json_object_get(
                                        json_array_get(
                                                json_object_get(roles[0].trust_policy, "Statement"),
                                                0),
                                        "Principal"),
                                "Service")),
                        "sagemaker.amazonaws.com");
                sm_desired_roles_free(roles, n);
                sm_desired_domain_done(&d);
        }
}
END_TEST

/* IAM's 10,240 characters for all of a role's inline policies, whitespace
 * not counted, with everything on and the longest values the manifest
 * allows. */
START_TEST(test_inline_size)
{
        sm_role_context ctx = ctx_phase2;
        sm_domain d;
        sm_desired_role *roles = NULL;
        size_t n = 0;
        static const char long_bucket[] =
                "b23456789-123456789-123456789-123456789-123456789-123456789-123";

        ctx.partition = "aws-us-gov";
        ctx.region = "us-gov-west-1";
        ctx.domain_id = "d-0123456789ab0123456789ab0123456789ab0123456789ab0123456789ab";
        domain_init(&d, "studio-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
        ck_assert_uint_eq(strlen(long_bucket), 63);
        d.studio_bucket_name = strdup(long_bucket);
        d.mlflow_enabled = true;
        d.mlflow_artifact_store_bucket_name = strdup(long_bucket);
        ck_assert_int_eq(sm_roles_for_domain(&d, &ctx, &roles, &n), 0);
        ck_assert_uint_eq(n, 4);
        for (size_t i = 0; i < n; i++) {
                size_t size = sm_desired_role_inline_size(&roles[i]);
                const sm_inline_policy *main_p = find_inline(&roles[i], SM_ROLE_POLICY_MAIN);
                sm_desired_role main_only = {.inline_policies = (sm_inline_policy *)main_p,
                                             .n_inline = 1};

                ck_assert_uint_gt(size, 0);
                ck_assert_uint_le(size, SM_ROLE_INLINE_SIZE_MAX);
                /* Upgrading a role of an earlier smstudio puts the main
                 * document before the retired split ones are deleted (they
                 * hold the same statements, without Sids): for that moment
                 * the role carries both, and IAM counts them together. */
                ck_assert_uint_le(size + sm_desired_role_inline_size(&main_only),
                                  SM_ROLE_INLINE_SIZE_MAX);
        }
        sm_desired_roles_free(roles, n);
        sm_desired_domain_done(&d);
}
END_TEST

START_TEST(test_inline_size_counts_no_whitespace)
{
        sm_inline_policy p = {.name = (char *)"x",
                              .document = parse("{\"a\": \"b c\",\n \"d\": 1}")};
        sm_desired_role r = {.inline_policies = &p, .n_inline = 1};

        /* {"a":"b c","d":1}: the layout does not count; a space inside a
         * string does (an upper bound of IAM's count, which skips all). */
        ck_assert_uint_eq(sm_desired_role_inline_size(&r), 17);
        json_decref(p.document);
}
END_TEST

START_TEST(test_tags)
{
        sm_domain d;
        sm_desired_role *roles = NULL;
        size_t n = 0;
        char key[16];

        domain_init(&d, "mlops-studio");
        add_tag(&d, "team", "mlops");
        add_tag(&d, "cost-center", "42");
        ck_assert_int_eq(sm_roles_for_domain(&d, &ctx_phase1, &roles, &n), 0);
        for (size_t i = 0; i < n; i++) {
                ck_assert_uint_eq(roles[i].tags.n, 3);
                ck_assert_str_eq(roles[i].tags.items[0].key, SM_TAG_MANAGED_BY);
                ck_assert_str_eq(roles[i].tags.items[0].value, "prod");
                ck_assert_str_eq(roles[i].tags.items[1].key, "team");
                ck_assert_str_eq(roles[i].tags.items[1].value, "mlops");
                ck_assert_str_eq(roles[i].tags.items[2].key, "cost-center");
        }
        sm_desired_roles_free(roles, n);

        /* IAM allows 50 tags; ours is one of them. */
        for (int i = 2; i < SM_ROLE_TAGS_MAX - 1; i++) {
                snprintf(key, sizeof(key), "k%d", i);
                add_tag(&d, key, "v");
        }
        ck_assert_uint_eq(d.tags.n, SM_ROLE_TAGS_MAX - 1);
        ck_assert_int_eq(sm_roles_for_domain(&d, &ctx_phase1, &roles, &n), 0);
        ck_assert_uint_eq(roles[0].tags.n, SM_ROLE_TAGS_MAX);
        sm_desired_roles_free(roles, n);
        add_tag(&d, "one-too-many", "v");
        roles = NULL;
        ck_assert_int_eq(sm_roles_for_domain(&d, &ctx_phase1, &roles, &n), -E2BIG);
        ck_assert_ptr_null(roles);
        sm_desired_domain_done(&d);

        /* Our key in another case would be the same IAM tag. */
        domain_init(&d, "mlops-studio");
        add_tag(&d, "SMSTUDIO:Managed-By", "someone-else");
        ck_assert_int_eq(sm_roles_for_domain(&d, &ctx_phase1, &roles, &n), -EINVAL);
        sm_desired_domain_done(&d);
}
END_TEST

START_TEST(test_bad_context)
{
        sm_domain d;
        sm_desired_role *roles = NULL;
        size_t n = 7;
        sm_role_context c;

        domain_init(&d, "mlops-studio");
        ck_assert_int_eq(sm_roles_for_domain(&d, NULL, &roles, &n), -EINVAL);
        ck_assert_int_eq(sm_roles_for_domain(NULL, &ctx_phase1, &roles, &n), -EINVAL);
        c = ctx_phase1, c.partition = NULL;
        ck_assert_int_eq(sm_roles_for_domain(&d, &c, &roles, &n), -EINVAL);
        c = ctx_phase1, c.partition = "azure";
        ck_assert_int_eq(sm_roles_for_domain(&d, &c, &roles, &n), -EINVAL);
        c = ctx_phase1, c.account_id = "12345";
        ck_assert_int_eq(sm_roles_for_domain(&d, &c, &roles, &n), -EINVAL);
        c = ctx_phase1, c.region = "";
        ck_assert_int_eq(sm_roles_for_domain(&d, &c, &roles, &n), -EINVAL);
        c = ctx_phase1, c.domain_id = "d-*";
        ck_assert_int_eq(sm_roles_for_domain(&d, &c, &roles, &n), -EINVAL);
        c = ctx_phase1, c.instance = "";
        ck_assert_int_eq(sm_roles_for_domain(&d, &c, &roles, &n), -EINVAL);
        c = ctx_phase1, c.instance = "a\"b";
        ck_assert_int_eq(sm_roles_for_domain(&d, &c, &roles, &n), -EINVAL);
        free(d.name);
        d.name = strdup("not a name");
        ck_assert_int_eq(sm_roles_for_domain(&d, &ctx_phase1, &roles, &n), -EINVAL);
        /* Outputs are written only on success. */
        ck_assert_ptr_null(roles);
        ck_assert_uint_eq(n, 7);
        sm_desired_domain_done(&d);
}
END_TEST

/* Same input, same output: the planner diffs against it every pass. */
START_TEST(test_deterministic)
{
        sm_domain d;
        sm_desired_role *a = NULL, *b = NULL;
        size_t na = 0, nb = 0;

        domain_init(&d, "studio-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
        d.mlflow_enabled = true;
        d.mlflow_artifact_store_bucket_name = strdup("mlops-artifacts");
        add_tag(&d, "team", "mlops");
        ck_assert_int_eq(sm_roles_for_domain(&d, &ctx_phase2, &a, &na), 0);
        ck_assert_int_eq(sm_roles_for_domain(&d, &ctx_phase2, &b, &nb), 0);
        ck_assert_uint_eq(na, nb);
        for (size_t i = 0; i < na; i++) {
                ck_assert_str_eq(a[i].name, b[i].name);
                ck_assert_str_eq(a[i].arn, b[i].arn);
                ck_assert(json_equal(a[i].trust_policy, b[i].trust_policy));
                ck_assert_uint_eq(a[i].n_inline, b[i].n_inline);
                for (size_t j = 0; j < a[i].n_inline; j++) {
                        char *x = json_dumps(a[i].inline_policies[j].document, JSON_COMPACT);
                        char *y = json_dumps(b[i].inline_policies[j].document, JSON_COMPACT);

                        ck_assert_str_eq(a[i].inline_policies[j].name,
                                         b[i].inline_policies[j].name);
                        ck_assert_str_eq(x, y);
                        free(x);
                        free(y);
                }
                /* Distinct names within the set, IAM-style. */
                for (size_t j = i + 1; j < na; j++)
                        ck_assert(strcasecmp(a[i].name, a[j].name) != 0);
        }
        sm_desired_roles_free(a, na);
        sm_desired_roles_free(b, nb);
        sm_desired_domain_done(&d);
}
END_TEST

START_TEST(test_free_null)
{
        sm_desired_roles_free(NULL, 0);
        sm_desired_roles_free(NULL, 3);
        ck_assert_ptr_null(sm_desired_roles_get(NULL, 0, SM_ROLE_EXECUTION));
}
END_TEST

static Suite *make_suite(void)
{
        Suite *s = suite_create("roles");
        TCase *names = tcase_create("names");
        TCase *set = tcase_create("role set");
        TCase *docs = tcase_create("documents");

        tcase_add_test(names, test_kind_names);
        tcase_add_test(names, test_short_names);
        tcase_add_test(names, test_cut_names);
        tcase_add_test(names, test_name_boundaries);
        tcase_add_test(names, test_bad_names);
        tcase_add_test(set, test_default_set);
        tcase_add_test(set, test_mlflow_set);
        tcase_add_test(set, test_isolation_phases);
        tcase_add_test(set, test_path_and_boundary);
        tcase_add_test(set, test_tags);
        tcase_add_test(set, test_bad_context);
        tcase_add_test(set, test_deterministic);
        tcase_add_test(set, test_free_null);
        tcase_add_test(docs, test_exact_statements);
        tcase_add_test(docs, test_s3_without_bucket);
        tcase_add_test(docs, test_partitions);
        tcase_add_test(docs, test_inline_size);
        tcase_add_test(docs, test_inline_size_counts_no_whitespace);
        suite_add_tcase(s, names);
        suite_add_tcase(s, set);
        suite_add_tcase(s, docs);
        return s;
}

SM_CHECK_MAIN(make_suite)
