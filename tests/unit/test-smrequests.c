/* SPDX-License-Identifier: Apache-2.0 */
/* SageMaker requests built from manifests (the original module's example
 * estate, IAM and SSO), the MLflow URI, lifecycle config names, request
 * paths and the diff against Describe output. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smstudio/desired.h"
#include "smstudio/diag.h"
#include "smstudio/manifest.h"
#include "smstudio/smrequests.h"
#include "testmain.h"

/* config/smstudio.d as shipped, inline so the suite needs no files. */
static const char estate_domain[] = "kind: Domain\n"
                                    "name: mlops-studio\n"
                                    "vpc_id: vpc-0a1b2c3d4e5f60718\n"
                                    "subnet_ids:\n"
                                    "  - subnet-0123456789abcdef0\n"
                                    "  - subnet-0fedcba9876543210\n"
                                    "auth_mode: %s\n"
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

static const sm_request_refs refs = {
        .instance = "prod",
        .domain_id = "d-abc123",
        .execution_role_arn = "arn:aws:iam::111122223333:role/studio",
        .data_scientist_role_arn = "arn:aws:iam::111122223333:role/ds",
        .lead_data_scientist_role_arn = "arn:aws:iam::111122223333:role/lead",
        .mlflow_role_arn = "arn:aws:iam::111122223333:role/mlflow",
        .lifecycle_config_arn = NULL,
};

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

static sm_desired *estate(const char *auth_mode)
{
        char domain[2048];
        const char *docs[3] = {domain, estate_alice, estate_bob};

        snprintf(domain, sizeof(domain), estate_domain, auth_mode);
        return build(docs, 3);
}

static void assert_json_eq(json_t *got, const char *want_text)
{
        json_error_t e;
        json_t *want = json_loads(want_text, 0, &e);
        char *g, *w;

        ck_assert_msg(want, "bad expected JSON: %s", e.text);
        g = json_dumps(got, JSON_SORT_KEYS);
        w = json_dumps(want, JSON_SORT_KEYS);
        ck_assert_msg(json_equal(got, want), "\n got: %s\nwant: %s", g, w);
        free(g);
        free(w);
        json_decref(want);
}

static json_t *obj_at(json_t *o, const char *path)
{
        json_t *v = o;
        char buf[256], *save = NULL;

        snprintf(buf, sizeof(buf), "%s", path);
        for (char *k = strtok_r(buf, ".", &save); k && v; k = strtok_r(NULL, ".", &save))
                v = json_object_get(v, k);
        return v;
}

static const char *str_at(json_t *o, const char *path)
{
        return json_string_value(obj_at(o, path));
}

START_TEST(test_create_domain_estate)
{
        sm_desired *d = estate("IAM");
        json_t *req = NULL;

        ck_assert_int_eq(sm_request_create_domain(&d->domains[0], &refs, &req), 0);
        assert_json_eq(req, "{\"DomainName\": \"mlops-studio\", \"AuthMode\": \"IAM\","
                            " \"DefaultUserSettings\": {"
                            "  \"ExecutionRole\": \"arn:aws:iam::111122223333:role/studio\","
                            "  \"JupyterLabAppSettings\": {\"AppLifecycleManagement\": {"
                            "   \"IdleSettings\": {\"LifecycleManagement\": \"ENABLED\","
                            "    \"IdleTimeoutInMinutes\": 120, \"MinIdleTimeoutInMinutes\": 60,"
                            "    \"MaxIdleTimeoutInMinutes\": 480}},"
                            "   \"LifecycleConfigArns\": []}},"
                            " \"DomainSettings\": {\"DockerSettings\": "
                            "  {\"EnableDockerAccess\": \"ENABLED\"}},"
                            " \"SubnetIds\": [\"subnet-0123456789abcdef0\","
                            "  \"subnet-0fedcba9876543210\"],"
                            " \"VpcId\": \"vpc-0a1b2c3d4e5f60718\","
                            " \"AppNetworkAccessType\": \"VpcOnly\","
                            " \"Tags\": [{\"Key\": \"smstudio:managed-by\", \"Value\": \"prod\"},"
                            "  {\"Key\": \"team\", \"Value\": \"mlops\"},"
                            "  {\"Key\": \"cost-center\", \"Value\": \"1234\"}]}");
        json_decref(req);
        sm_desired_free(d);
}
END_TEST

START_TEST(test_update_domain_estate)
{
        sm_desired *d = estate("IAM");
        sm_request_refs r = refs;
        json_t *req = NULL;

        r.lifecycle_config_arn =
                "arn:aws:sagemaker:eu-west-1:111122223333:studio-lifecycle-config/lcc-1";
        ck_assert_int_eq(sm_request_update_domain(&d->domains[0], &r, &req), 0);
        assert_json_eq(req, "{\"DomainId\": \"d-abc123\", \"DefaultUserSettings\": {"
                            "  \"ExecutionRole\": \"arn:aws:iam::111122223333:role/studio\","
                            "  \"JupyterLabAppSettings\": {\"AppLifecycleManagement\": {"
                            "   \"IdleSettings\": {\"LifecycleManagement\": \"ENABLED\","
                            "    \"IdleTimeoutInMinutes\": 120, \"MinIdleTimeoutInMinutes\": 60,"
                            "    \"MaxIdleTimeoutInMinutes\": 480}},"
                            "   \"LifecycleConfigArns\": [\"arn:aws:sagemaker:eu-west-1:"
                            "111122223333:studio-lifecycle-config/lcc-1\"],"
                            "   \"DefaultResourceSpec\": {\"LifecycleConfigArn\": "
                            "\"arn:aws:sagemaker:eu-west-1:111122223333:studio-lifecycle-config/"
                            "lcc-1\"}}},"
                            " \"DomainSettingsForUpdate\": {\"DockerSettings\": "
                            "  {\"EnableDockerAccess\": \"ENABLED\"}},"
                            " \"SubnetIds\": [\"subnet-0123456789abcdef0\","
                            "  \"subnet-0fedcba9876543210\"],"
                            " \"AppNetworkAccessType\": \"VpcOnly\"}");
        json_decref(req);
        /* Without the domain id there is nothing to update. */
        r.domain_id = NULL;
        ck_assert_int_eq(sm_request_update_domain(&d->domains[0], &r, &req), -EINVAL);
        sm_desired_free(d);
}
END_TEST

/* Only what the manifest writes: a minimal domain sends no optional block. */
START_TEST(test_domain_minimal_and_optional)
{
        const char *min = "kind: Domain\nname: small\nvpc_id: vpc-0a1b2c3d\n"
                          "subnet_ids: [subnet-0a1b2c3d]\n";
        const char *full = "kind: Domain\nname: full\nvpc_id: vpc-0a1b2c3d\n"
                           "subnet_ids: [subnet-0a1b2c3d]\nauth_mode: SSO\n"
                           "security_group_ids: [sg-0a1b2c3d]\n"
                           "app_image_config_name: echo-kernel-app-config\n"
                           "image_name: echo\n"
                           "enable_docker_access: false\n"
                           "vpc_only_trusted_accounts: ['111122223333']\n";
        sm_desired *d;
        sm_request_refs r = refs;
        json_t *req = NULL;

        d = build(&min, 1);
        ck_assert_int_eq(sm_request_create_domain(&d->domains[0], &refs, &req), 0);
        assert_json_eq(req,
                       "{\"DomainName\": \"small\", \"AuthMode\": \"IAM\","
                       " \"DefaultUserSettings\": {\"ExecutionRole\": "
                       "  \"arn:aws:iam::111122223333:role/studio\","
                       "  \"JupyterLabAppSettings\": {\"LifecycleConfigArns\": []}},"
                       " \"SubnetIds\": [\"subnet-0a1b2c3d\"], \"VpcId\": \"vpc-0a1b2c3d\","
                       " \"AppNetworkAccessType\": \"VpcOnly\","
                       " \"Tags\": [{\"Key\": \"smstudio:managed-by\", \"Value\": \"prod\"}]}");
        json_decref(req);
        r.execution_role_arn = NULL;
        ck_assert_int_eq(sm_request_create_domain(&d->domains[0], &r, &req), -EINVAL);
        r = refs;
        r.instance = "";
        ck_assert_int_eq(sm_request_create_domain(&d->domains[0], &r, &req), -EINVAL);
        d->domains[0].auth_mode = 2;
        ck_assert_int_eq(sm_request_create_domain(&d->domains[0], &refs, &req), -EINVAL);
        sm_desired_free(d);

        d = build(&full, 1);
        ck_assert_int_eq(sm_request_create_domain(&d->domains[0], &refs, &req), 0);
        ck_assert_str_eq(str_at(req, "AuthMode"), "SSO");
        assert_json_eq(json_object_get(req, "DefaultUserSettings"),
                       "{\"ExecutionRole\": \"arn:aws:iam::111122223333:role/studio\","
                       " \"SecurityGroups\": [\"sg-0a1b2c3d\"],"
                       " \"JupyterLabAppSettings\": {\"CustomImages\": [{\"AppImageConfigName\":"
                       "  \"echo-kernel-app-config\", \"ImageName\": \"echo\"}],"
                       "  \"LifecycleConfigArns\": []},"
                       " \"KernelGatewayAppSettings\": {\"CustomImages\": [{\"AppImageConfigName\":"
                       "  \"echo-kernel-app-config\", \"ImageName\": \"echo\"}]}}");
        assert_json_eq(json_object_get(req, "DomainSettings"),
                       "{\"DockerSettings\": {\"EnableDockerAccess\": \"DISABLED\","
                       " \"VpcOnlyTrustedAccounts\": [\"111122223333\"]}}");
        json_decref(req);

        /* A custom image needs both names (the manifest check insists too). */
        d->domains[0].set &= ~(UINT64_C(1) << SM_DOMAIN_APP_IMAGE_CONFIG_NAME);
        ck_assert_int_eq(sm_request_create_domain(&d->domains[0], &refs, &req), 0);
        ck_assert_ptr_null(obj_at(req, "DefaultUserSettings.JupyterLabAppSettings.CustomImages"));
        ck_assert_ptr_null(obj_at(req, "DefaultUserSettings.KernelGatewayAppSettings"));
        json_decref(req);
        sm_desired_free(d);
}
END_TEST

START_TEST(test_user_profiles_iam)
{
        sm_desired *d = estate("IAM");
        const sm_user *alice = sm_desired_user(d, "mlops-studio", "alice");
        const sm_user *bob = sm_desired_user(d, "mlops-studio", "bob");
        json_t *req = NULL;

        ck_assert_int_eq(sm_request_create_user_profile(&d->domains[0], alice, &refs, &req), 0);
        assert_json_eq(req,
                       "{\"DomainId\": \"d-abc123\", \"UserProfileName\": \"alice\","
                       " \"UserSettings\": {\"ExecutionRole\": "
                       "  \"arn:aws:iam::111122223333:role/ds\"},"
                       " \"Tags\": [{\"Key\": \"smstudio:managed-by\", \"Value\": \"prod\"}]}");
        json_decref(req);
        ck_assert_int_eq(sm_request_create_user_profile(&d->domains[0], bob, &refs, &req), 0);
        assert_json_eq(req, "{\"DomainId\": \"d-abc123\", \"UserProfileName\": \"bob\","
                            " \"UserSettings\": {\"ExecutionRole\": "
                            "  \"arn:aws:iam::111122223333:role/lead\"},"
                            " \"Tags\": [{\"Key\": \"smstudio:managed-by\", \"Value\": \"prod\"},"
                            "  {\"Key\": \"role\", \"Value\": \"lead\"}]}");
        json_decref(req);
        ck_assert_int_eq(sm_request_update_user_profile(&d->domains[0], bob, &refs, &req), 0);
        assert_json_eq(req, "{\"DomainId\": \"d-abc123\", \"UserProfileName\": \"bob\","
                            " \"UserSettings\": {\"ExecutionRole\": "
                            "  \"arn:aws:iam::111122223333:role/lead\"}}");
        json_decref(req);
        sm_desired_free(d);
}
END_TEST

START_TEST(test_user_profiles_sso)
{
        sm_desired *d = estate("SSO");
        const sm_user *alice = sm_desired_user(d, "mlops-studio", "alice");
        sm_request_refs r = refs;
        json_t *req = NULL;
        sm_user u;

        ck_assert_int_eq(sm_request_create_user_profile(&d->domains[0], alice, &refs, &req), 0);
        ck_assert_str_eq(str_at(req, "SingleSignOnUserIdentifier"), "UserName");
        ck_assert_str_eq(str_at(req, "SingleSignOnUserValue"), "alice");
        json_decref(req);
        /* The identity is fixed at creation: an update never carries it. */
        ck_assert_int_eq(sm_request_update_user_profile(&d->domains[0], alice, &refs, &req), 0);
        ck_assert_ptr_null(json_object_get(req, "SingleSignOnUserValue"));
        ck_assert_ptr_null(json_object_get(req, "Tags"));
        json_decref(req);

        /* An explicit sso_user_value wins over the name. */
        ck_assert_int_eq(sm_desired_user_copy(&u, alice), 0);
        free(u.sso_user_value);
        u.sso_user_value = strdup("alice@example.com");
        ck_assert_int_eq(sm_request_create_user_profile(&d->domains[0], &u, &refs, &req), 0);
        ck_assert_str_eq(str_at(req, "SingleSignOnUserValue"), "alice@example.com");
        json_decref(req);
        /* No role for the group, no request. */
        r.data_scientist_role_arn = NULL;
        ck_assert_int_eq(sm_request_create_user_profile(&d->domains[0], &u, &r, &req), -EINVAL);
        sm_desired_user_done(&u);
        sm_desired_free(d);
}
END_TEST

START_TEST(test_spaces)
{
        sm_desired *d = estate("IAM");
        const sm_space *a = sm_desired_space(d, "mlops-studio", "alice-JupyterLab-space");
        const sm_space *b = sm_desired_space(d, "mlops-studio", "bob-JupyterLab-space");
        json_t *req = NULL;
        sm_space s;

        ck_assert_ptr_nonnull(a);
        ck_assert_ptr_nonnull(b);
        ck_assert_int_eq(sm_request_create_space(&d->domains[0], a, &refs, &req), 0);
        assert_json_eq(req,
                       "{\"DomainId\": \"d-abc123\", \"SpaceName\": \"alice-JupyterLab-space\","
                       " \"SpaceDisplayName\": \"alice-JupyterLab-space\","
                       " \"OwnershipSettings\": {\"OwnerUserProfileName\": \"alice\"},"
                       " \"SpaceSharingSettings\": {\"SharingType\": \"Private\"},"
                       " \"SpaceSettings\": {\"AppType\": \"JupyterLab\","
                       "  \"JupyterLabAppSettings\": {\"DefaultResourceSpec\": "
                       "   {\"InstanceType\": \"ml.t3.medium\"}}},"
                       " \"Tags\": [{\"Key\": \"smstudio:managed-by\", \"Value\": \"prod\"}]}");
        json_decref(req);
        ck_assert_int_eq(sm_request_create_space(&d->domains[0], b, &refs, &req), 0);
        ck_assert_str_eq(str_at(req, "SpaceSettings.JupyterLabAppSettings.DefaultResourceSpec."
                                     "InstanceType"),
                         "ml.m5.2xlarge");
        ck_assert_str_eq(str_at(req, "OwnershipSettings.OwnerUserProfileName"), "bob");
        ck_assert_uint_eq(json_array_size(json_object_get(req, "Tags")), 2);
        json_decref(req);
        /* Ownership, sharing and app type are fixed at creation. */
        ck_assert_int_eq(sm_request_update_space(&d->domains[0], b, &refs, &req), 0);
        assert_json_eq(req,
                       "{\"DomainId\": \"d-abc123\", \"SpaceName\": \"bob-JupyterLab-space\","
                       " \"SpaceDisplayName\": \"bob-JupyterLab-space\","
                       " \"SpaceSettings\": {\"JupyterLabAppSettings\": {\"DefaultResourceSpec\":"
                       "   {\"InstanceType\": \"ml.m5.2xlarge\"}}}}");
        json_decref(req);

        /* A shared Code Editor space without owner or instance type. */
        ck_assert_int_eq(sm_desired_space_copy(&s, a), 0);
        s.sharing = SM_SHARING_SHARED;
        s.app_type = SM_APP_CODE_EDITOR;
        free(s.owner);
        s.owner = NULL;
        free(s.instance_type);
        s.instance_type = strdup("ml.m5.large");
        ck_assert_int_eq(sm_request_create_space(&d->domains[0], &s, &refs, &req), 0);
        ck_assert_ptr_null(json_object_get(req, "OwnershipSettings"));
        ck_assert_str_eq(str_at(req, "SpaceSharingSettings.SharingType"), "Shared");
        ck_assert_str_eq(str_at(req, "SpaceSettings.AppType"), "CodeEditor");
        ck_assert_str_eq(str_at(req, "SpaceSettings.CodeEditorAppSettings.DefaultResourceSpec."
                                     "InstanceType"),
                         "ml.m5.large");
        json_decref(req);
        /* Private without owner, or a value outside the enum: refused. */
        s.sharing = SM_SHARING_PRIVATE;
        ck_assert_int_eq(sm_request_create_space(&d->domains[0], &s, &refs, &req), -EINVAL);
        s.sharing = 7;
        ck_assert_int_eq(sm_request_create_space(&d->domains[0], &s, &refs, &req), -EINVAL);
        sm_desired_space_done(&s);
        sm_desired_free(d);
}
END_TEST

START_TEST(test_mlflow_uri)
{
        static const struct {
                const char *prefix, *want;
        } cases[] = {
                {"mlflow/", "s3://b/mlflow/"},
                {"/", "s3://b/"},
                {NULL, "s3://b/"},
                {"", "s3://b/"},
                {"/a/b", "s3://b/a/b"},
                {"//x/", "s3://b/x/"},
        };
        char *uri = NULL;

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                ck_assert_int_eq(sm_mlflow_artifact_store_uri("b", cases[i].prefix, &uri), 0);
                ck_assert_str_eq(uri, cases[i].want);
                free(uri);
        }
        ck_assert_int_eq(sm_mlflow_artifact_store_uri(NULL, "x", &uri), -EINVAL);
        ck_assert_int_eq(sm_mlflow_artifact_store_uri("", "x", &uri), -EINVAL);
}
END_TEST

START_TEST(test_mlflow_requests)
{
        sm_desired *d = estate("IAM");
        sm_domain *dom = &d->domains[0];
        json_t *req = NULL;

        ck_assert_int_eq(sm_request_create_mlflow(dom, &refs, &req), 0);
        assert_json_eq(req, "{\"TrackingServerName\": \"mlflow\","
                            " \"ArtifactStoreUri\": \"s3://mlops-studio-artifacts/mlflow/\","
                            " \"TrackingServerSize\": \"Small\","
                            " \"RoleArn\": \"arn:aws:iam::111122223333:role/mlflow\","
                            " \"AutomaticModelRegistration\": false,"
                            " \"Tags\": [{\"Key\": \"smstudio:managed-by\", \"Value\": \"prod\"},"
                            "  {\"Key\": \"team\", \"Value\": \"mlops\"},"
                            "  {\"Key\": \"cost-center\", \"Value\": \"1234\"}]}");
        json_decref(req);
        ck_assert_int_eq(sm_request_update_mlflow(dom, &refs, &req), 0);
        assert_json_eq(req, "{\"TrackingServerName\": \"mlflow\","
                            " \"ArtifactStoreUri\": \"s3://mlops-studio-artifacts/mlflow/\","
                            " \"TrackingServerSize\": \"Small\","
                            " \"AutomaticModelRegistration\": false}");
        json_decref(req);

        /* The version is sent only when written, and only at creation. */
        dom->mlflow_server_version = strdup("2.16");
        dom->set |= UINT64_C(1) << SM_DOMAIN_MLFLOW_SERVER_VERSION;
        dom->set &= ~(UINT64_C(1) << SM_DOMAIN_MLFLOW_SERVER_SIZE);
        ck_assert_int_eq(sm_request_create_mlflow(dom, &refs, &req), 0);
        ck_assert_str_eq(str_at(req, "MlflowVersion"), "2.16");
        ck_assert_ptr_null(json_object_get(req, "TrackingServerSize"));
        json_decref(req);
        ck_assert_int_eq(sm_request_update_mlflow(dom, &refs, &req), 0);
        ck_assert_ptr_null(json_object_get(req, "MlflowVersion"));
        json_decref(req);

        free(dom->mlflow_artifact_store_bucket_name);
        dom->mlflow_artifact_store_bucket_name = NULL;
        ck_assert_int_eq(sm_request_create_mlflow(dom, &refs, &req), -EINVAL);
        sm_desired_free(d);
}
END_TEST

START_TEST(test_lifecycle_config_name)
{
        char base[64];
        char *a = NULL, *b = NULL;
        json_t *req = NULL;

        /* sha256("abc") = ba7816bf... */
        ck_assert_int_eq(sm_lifecycle_config_name("studio-auto-shutdown", "abc", &a), 0);
        ck_assert_str_eq(a, "studio-auto-shutdown-ba7816bf");
        ck_assert(sm_desired_name_valid(a));
        ck_assert_int_eq(sm_lifecycle_config_name("studio-auto-shutdown", "abd", &b), 0);
        ck_assert_str_ne(a, b);
        free(b);

        /* The longest base is cut so the name still fits. */
        memset(base, 'x', 63);
        base[63] = '\0';
        ck_assert_int_eq(sm_lifecycle_config_name(base, "abc", &b), 0);
        ck_assert_uint_eq(strlen(b), SM_NAME_MAX);
        ck_assert_str_eq(b + SM_NAME_MAX - 9, "-ba7816bf");
        ck_assert(sm_desired_name_valid(b));
        free(b);
        /* A cut at a '-' still gives a valid name. */
        memset(base, 'x', 63);
        base[53] = '-';
        ck_assert_int_eq(sm_lifecycle_config_name(base, "abc", &b), 0);
        ck_assert(sm_desired_name_valid(b));
        free(b);

        ck_assert_int_eq(sm_lifecycle_config_name("bad_name", "abc", &b), -EINVAL);
        ck_assert_int_eq(sm_lifecycle_config_name("", "abc", &b), -EINVAL);
        ck_assert_int_eq(sm_lifecycle_config_name("ok", "", &b), -EINVAL);

        ck_assert_int_eq(sm_request_create_lifecycle_config(NULL, a, "YWJj", &refs, &req), 0);
        assert_json_eq(req,
                       "{\"StudioLifecycleConfigName\": \"studio-auto-shutdown-ba7816bf\","
                       " \"StudioLifecycleConfigContent\": \"YWJj\","
                       " \"StudioLifecycleConfigAppType\": \"JupyterLab\","
                       " \"Tags\": [{\"Key\": \"smstudio:managed-by\", \"Value\": \"prod\"}]}");
        json_decref(req);
        free(a);
}
END_TEST

START_TEST(test_tags_limit)
{
        sm_tag items[51];
        char keys[51][8];
        sm_tags t = {items, 0};
        json_t *list = NULL;

        for (size_t i = 0; i < 51; i++) {
                snprintf(keys[i], sizeof(keys[i]), "k%zu", i);
                items[i] = (sm_tag){keys[i], (char *)"v"};
        }
        t.n = 49;
        ck_assert_int_eq(sm_request_tags(&t, "prod", &list), 0);
        ck_assert_uint_eq(json_array_size(list), 50);
        ck_assert_str_eq(str_at(json_array_get(list, 0), "Key"), "smstudio:managed-by");
        json_decref(list);
        t.n = 50;
        ck_assert_int_eq(sm_request_tags(&t, "prod", &list), -E2BIG);
        /* Our own key in the manifest's list is not sent twice. */
        items[0].key = (char *)SM_TAG_MANAGED_BY;
        ck_assert_int_eq(sm_request_tags(&t, "prod", &list), 0);
        ck_assert_uint_eq(json_array_size(list), 50);
        ck_assert_str_eq(str_at(json_array_get(list, 0), "Value"), "prod");
        json_decref(list);
        ck_assert_int_eq(sm_request_tags(NULL, "prod", &list), 0);
        ck_assert_uint_eq(json_array_size(list), 1);
        json_decref(list);
        ck_assert_int_eq(sm_request_tags(NULL, NULL, &list), -EINVAL);
}
END_TEST

static bool has_path(char **paths, const char *p)
{
        for (size_t i = 0; paths[i]; i++)
                if (strcmp(paths[i], p) == 0)
                        return true;
        return false;
}

START_TEST(test_paths)
{
        sm_desired *d = estate("IAM");
        json_t *req = NULL;
        char **paths = NULL;
        size_t n = 0;

        ck_assert_int_eq(sm_request_create_domain(&d->domains[0], &refs, &req), 0);
        ck_assert_int_eq(sm_request_paths(req, &paths), 0);
        while (paths[n])
                n++;
        /* The empty LifecycleConfigArns of a domain without a config. */
        ck_assert_uint_eq(n, 11);
        ck_assert_str_eq(paths[0], "AuthMode");
        ck_assert(has_path(paths, "DefaultUserSettings.JupyterLabAppSettings.LifecycleConfigArns"));
        ck_assert(has_path(paths, "DefaultUserSettings.ExecutionRole"));
        ck_assert(has_path(paths, "DefaultUserSettings.JupyterLabAppSettings."
                                  "AppLifecycleManagement.IdleSettings.IdleTimeoutInMinutes"));
        ck_assert(has_path(paths, "DomainSettings.DockerSettings.EnableDockerAccess"));
        ck_assert(has_path(paths, "SubnetIds"));
        ck_assert(has_path(paths, "VpcId"));
        ck_assert(has_path(paths, "AppNetworkAccessType"));
        ck_assert(!has_path(paths, "DomainName"));
        ck_assert(!has_path(paths, "Tags"));
        sm_request_paths_free(paths);
        json_decref(req);

        /* Update paths are in DescribeDomain's terms. */
        ck_assert_int_eq(sm_request_update_domain(&d->domains[0], &refs, &req), 0);
        ck_assert_int_eq(sm_request_paths(req, &paths), 0);
        ck_assert(has_path(paths, "DomainSettings.DockerSettings.EnableDockerAccess"));
        ck_assert(!has_path(paths, "DomainId"));
        ck_assert(!has_path(paths, "AuthMode"));
        sm_request_paths_free(paths);
        json_decref(req);

        req = json_pack("{s:s}", "DomainId", "d-1");
        ck_assert_int_eq(sm_request_paths(req, &paths), 0);
        ck_assert_ptr_null(paths[0]);
        sm_request_paths_free(paths);
        json_decref(req);
        ck_assert_int_eq(sm_request_paths(NULL, &paths), -EINVAL);

        ck_assert(sm_request_path_immutable("AuthMode"));
        ck_assert(sm_request_path_immutable("OwnershipSettings.OwnerUserProfileName"));
        ck_assert(sm_request_path_immutable("SpaceSettings.AppType"));
        ck_assert(!sm_request_path_immutable("SpaceSettings.JupyterLabAppSettings"));
        ck_assert(!sm_request_path_immutable("AuthModeX"));
        ck_assert(!sm_request_path_immutable("SubnetIds"));
        sm_desired_free(d);
}
END_TEST

/* What DescribeDomain might answer for the estate's domain: what we sent,
 * reordered, plus everything AWS fills in by itself. */
static const char describe_domain[] =
        "{\"DomainArn\": \"arn:aws:sagemaker:eu-west-1:111122223333:domain/d-abc123\","
        " \"DomainId\": \"d-abc123\", \"DomainName\": \"mlops-studio\", \"Status\": \"InService\","
        " \"HomeEfsFileSystemId\": \"fs-1\", \"AuthMode\": \"IAM\","
        " \"DefaultUserSettings\": {"
        "  \"ExecutionRole\": \"arn:aws:iam::111122223333:role/studio\","
        "  \"SecurityGroups\": [], \"StudioWebPortal\": \"ENABLED\","
        "  \"JupyterServerAppSettings\": {\"DefaultResourceSpec\": {\"InstanceType\": \"system\"}},"
        "  \"JupyterLabAppSettings\": {\"DefaultResourceSpec\": {\"InstanceType\": "
        "\"ml.t3.medium\","
        "    \"SageMakerImageArn\": \"arn:aws:sagemaker:eu-west-1:1:image/x\"},"
        "   \"AppLifecycleManagement\": {\"IdleSettings\": {\"LifecycleManagement\": \"ENABLED\","
        "    \"IdleTimeoutInMinutes\": 120.0, \"MinIdleTimeoutInMinutes\": 60,"
        "    \"MaxIdleTimeoutInMinutes\": 480}}}},"
        " \"DomainSettings\": {\"DockerSettings\": {\"EnableDockerAccess\": \"ENABLED\","
        "  \"RootlessDocker\": \"DISABLED\"}},"
        " \"AppNetworkAccessType\": \"VpcOnly\","
        " \"SubnetIds\": [\"subnet-0fedcba9876543210\", \"subnet-0123456789abcdef0\"],"
        " \"VpcId\": \"vpc-0a1b2c3d4e5f60718\", \"Url\": \"https://d-abc123.studio\"}";

START_TEST(test_diff_domain)
{
        sm_desired *d = estate("IAM");
        json_t *req = NULL, *obs, *upd = NULL;
        sm_field_diff *diffs = NULL;
        size_t n = 99;

        obs = json_loads(describe_domain, 0, NULL);
        ck_assert_ptr_nonnull(obs);
        ck_assert_int_eq(sm_request_create_domain(&d->domains[0], &refs, &req), 0);
        ck_assert_int_eq(sm_request_diff(req, obs, &diffs, &n), 0);
        ck_assert_uint_eq(n, 0);
        ck_assert_ptr_null(diffs);
        ck_assert_int_eq(sm_request_update_domain(&d->domains[0], &refs, &upd), 0);
        ck_assert_int_eq(sm_request_diff(upd, obs, &diffs, &n), 0);
        ck_assert_uint_eq(n, 0);

        /* Drift: idle timeout changed by hand, a subnet dropped, Docker
         * settings gone. */
        json_object_set_new(obj_at(obs, "DefaultUserSettings.JupyterLabAppSettings."
                                        "AppLifecycleManagement.IdleSettings"),
                            "IdleTimeoutInMinutes", json_integer(240));
        json_array_remove(json_object_get(obs, "SubnetIds"), 0);
        json_object_del(obs, "DomainSettings");
        ck_assert_int_eq(sm_request_diff(upd, obs, &diffs, &n), 0);
        ck_assert_uint_eq(n, 3);
        ck_assert_str_eq(diffs[0].path, "DefaultUserSettings.JupyterLabAppSettings."
                                        "AppLifecycleManagement.IdleSettings.IdleTimeoutInMinutes");
        ck_assert_int_eq(json_integer_value(diffs[0].observed), 240);
        ck_assert_int_eq(json_integer_value(diffs[0].desired), 120);
        ck_assert(!diffs[0].immutable);
        ck_assert_str_eq(diffs[1].path, "DomainSettings.DockerSettings.EnableDockerAccess");
        ck_assert_ptr_null(diffs[1].observed);
        ck_assert_str_eq(diffs[2].path, "SubnetIds");
        ck_assert_uint_eq(json_array_size(diffs[2].observed), 1);

        /* Only the touched members are sent. */
        ck_assert_int_eq(sm_request_restrict(upd, diffs, n), 3);
        ck_assert_ptr_nonnull(json_object_get(upd, "DomainId"));
        ck_assert_ptr_nonnull(json_object_get(upd, "DomainSettingsForUpdate"));
        ck_assert_ptr_null(json_object_get(upd, "AppNetworkAccessType"));
        sm_field_diffs_free(diffs, n);
        ck_assert_int_eq(sm_request_restrict(upd, NULL, 0), 0);
        ck_assert_uint_eq(json_object_size(upd), 1);
        json_decref(upd);

        /* An immutable field: reported as such. */
        json_object_set_new(obs, "AuthMode", json_string("SSO"));
        ck_assert_int_eq(sm_request_diff(req, obs, &diffs, &n), 0);
        ck_assert_uint_eq(n, 4);
        ck_assert_str_eq(diffs[0].path, "AuthMode");
        ck_assert(diffs[0].immutable);
        ck_assert_str_eq(json_string_value(diffs[0].observed), "SSO");
        ck_assert_str_eq(json_string_value(diffs[0].desired), "IAM");
        sm_field_diffs_free(diffs, n);

        ck_assert_int_eq(sm_request_diff(req, NULL, &diffs, &n), -EINVAL);
        json_decref(req);
        json_decref(obs);
        sm_desired_free(d);
}
END_TEST

START_TEST(test_diff_space_instance_type)
{
        sm_desired *d = estate("IAM");
        const sm_space *b = sm_desired_space(d, "mlops-studio", "bob-JupyterLab-space");
        json_t *req = NULL, *obs;
        sm_field_diff *diffs = NULL;
        size_t n = 0;

        obs = json_loads(
                "{\"DomainId\": \"d-abc123\", \"SpaceName\": \"bob-JupyterLab-space\","
                " \"SpaceDisplayName\": \"bob-JupyterLab-space\", \"Status\": \"InService\","
                " \"OwnershipSettings\": {\"OwnerUserProfileName\": \"bob\"},"
                " \"SpaceSharingSettings\": {\"SharingType\": \"Private\"},"
                " \"SpaceSettings\": {\"AppType\": \"JupyterLab\","
                "  \"SpaceStorageSettings\": {\"EbsStorageSettings\": "
                "   {\"EbsVolumeSizeInGb\": 5}},"
                "  \"JupyterLabAppSettings\": {\"DefaultResourceSpec\": "
                "   {\"InstanceType\": \"ml.t3.medium\"}}}}",
                0, NULL);
        ck_assert_ptr_nonnull(obs);
        ck_assert_int_eq(sm_request_create_space(&d->domains[0], b, &refs, &req), 0);
        ck_assert_int_eq(sm_request_diff(req, obs, &diffs, &n), 0);
        ck_assert_uint_eq(n, 1);
        ck_assert_str_eq(diffs[0].path,
                         "SpaceSettings.JupyterLabAppSettings.DefaultResourceSpec.InstanceType");
        ck_assert_str_eq(json_string_value(diffs[0].observed), "ml.t3.medium");
        ck_assert_str_eq(json_string_value(diffs[0].desired), "ml.m5.2xlarge");
        ck_assert(!diffs[0].immutable);
        sm_field_diffs_free(diffs, n);
        json_decref(req);

        /* Sharing changed by someone: immutable, so reported as such. */
        json_object_set_new(json_object_get(obs, "SpaceSharingSettings"), "SharingType",
                            json_string("Shared"));
        ck_assert_int_eq(sm_request_update_space(&d->domains[0], b, &refs, &req), 0);
        ck_assert_int_eq(sm_request_diff(req, obs, &diffs, &n), 0);
        ck_assert_uint_eq(n, 1); /* the update does not even look at sharing */
        sm_field_diffs_free(diffs, n);
        json_decref(req);
        ck_assert_int_eq(sm_request_create_space(&d->domains[0], b, &refs, &req), 0);
        ck_assert_int_eq(sm_request_diff(req, obs, &diffs, &n), 0);
        ck_assert_uint_eq(n, 2);
        ck_assert_str_eq(diffs[0].path, "SpaceSharingSettings.SharingType");
        ck_assert(diffs[0].immutable);
        sm_field_diffs_free(diffs, n);
        json_decref(req);
        json_decref(obs);
        sm_desired_free(d);
}
END_TEST

/* The tolerances: lists as sets, extra members of list elements, empty
 * list vs absent, URI trailing slash, MLflow patch versions. */
START_TEST(test_diff_tolerances)
{
        json_t *req, *obs;
        sm_field_diff *diffs = NULL;
        size_t n = 0;

        req = json_loads("{\"TrackingServerName\": \"m\", \"ArtifactStoreUri\": \"s3://b/p/\","
                         " \"MlflowVersion\": \"2.16\", \"A\": {\"L\": [], \"C\": ["
                         "  {\"ImageName\": \"i\", \"AppImageConfigName\": \"c\"},"
                         "  {\"ImageName\": \"j\", \"AppImageConfigName\": \"c\"}]},"
                         " \"B\": true, \"E\": {}}",
                         0, NULL);
        obs = json_loads("{\"ArtifactStoreUri\": \"s3://b/p\", \"MlflowVersion\": \"2.16.2\","
                         " \"A\": {\"C\": ["
                         "  {\"ImageName\": \"j\", \"AppImageConfigName\": \"c\","
                         "   \"ImageVersionNumber\": 3},"
                         "  {\"ImageName\": \"i\", \"AppImageConfigName\": \"c\"}]},"
                         " \"B\": true, \"E\": {\"x\": 1}}",
                         0, NULL);
        ck_assert_ptr_nonnull(req);
        ck_assert_ptr_nonnull(obs);
        ck_assert_int_eq(sm_request_diff(req, obs, &diffs, &n), 0);
        ck_assert_uint_eq(n, 0);

        /* But "2.1" is not "2.16", a list of another length differs, and a
         * list element missing a member differs. */
        json_object_set_new(req, "MlflowVersion", json_string("2.1"));
        json_array_remove(json_object_get(json_object_get(obs, "A"), "C"), 0);
        json_object_set_new(obs, "B", json_false());
        ck_assert_int_eq(sm_request_diff(req, obs, &diffs, &n), 0);
        ck_assert_uint_eq(n, 3);
        ck_assert_str_eq(diffs[0].path, "MlflowVersion");
        ck_assert(diffs[0].immutable);
        ck_assert_str_eq(diffs[1].path, "A.C");
        ck_assert_str_eq(diffs[2].path, "B");
        sm_field_diffs_free(diffs, n);
        json_decref(req);
        json_decref(obs);
}
END_TEST

static Suite *make_suite(void)
{
        Suite *s = suite_create("smrequests");
        TCase *tc = tcase_create("requests");

        tcase_add_test(tc, test_create_domain_estate);
        tcase_add_test(tc, test_update_domain_estate);
        tcase_add_test(tc, test_domain_minimal_and_optional);
        tcase_add_test(tc, test_user_profiles_iam);
        tcase_add_test(tc, test_user_profiles_sso);
        tcase_add_test(tc, test_spaces);
        tcase_add_test(tc, test_mlflow_uri);
        tcase_add_test(tc, test_mlflow_requests);
        tcase_add_test(tc, test_lifecycle_config_name);
        tcase_add_test(tc, test_tags_limit);
        suite_add_tcase(s, tc);
        tc = tcase_create("diff");
        tcase_add_test(tc, test_paths);
        tcase_add_test(tc, test_diff_domain);
        tcase_add_test(tc, test_diff_space_instance_type);
        tcase_add_test(tc, test_diff_tolerances);
        suite_add_tcase(s, tc);
        return s;
}

SM_CHECK_MAIN(make_suite)
