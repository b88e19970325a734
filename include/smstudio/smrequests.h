/* SPDX-License-Identifier: Apache-2.0 */
/* SageMaker request parameters from desired objects, and the field-level
 * diff the planner runs against Describe output. Pure: no I/O, no clock,
 * no globals; every result is a fresh jansson value shaped as botocore's
 * input shape for the operation (service-2.json, apiVersion 2017-07-24),
 * ready for sm_client's JSON 1.1 encoder.
 *
 * What a request carries (the rule that keeps diffs from going perpetual):
 * only the fields the manifest set (the `set` bits of desired.h) and the
 * fields smstudio owns outright (execution roles, VpcOnly, the lifecycle
 * config, AutomaticModelRegistration, SpaceDisplayName, the ownership tag).
 * A setting the manifest is silent on is never sent, so the server's
 * default or a hand-made console change survives, and comparing a request
 * against Describe output over the request's own paths never flags it.
 * Create and update requests carry the same managed fields; an update omits
 * what its API cannot change (see sm_request_path_immutable()).
 *
 * Decisions worth knowing:
 * - The original's lifecycle config targeted the Studio Classic
 *   JupyterServer app. smstudio attaches its lifecycle config to JupyterLab
 *   apps instead (DefaultUserSettings.JupyterLabAppSettings:
 *   LifecycleConfigArns plus DefaultResourceSpec.LifecycleConfigArn so it
 *   runs by default), created with StudioLifecycleConfigAppType JupyterLab:
 *   JupyterLab is the app spaces run, and Classic is retired. A domain
 *   without one gets an empty LifecycleConfigArns: the list is smstudio's,
 *   and emptying it is how AWS documents detaching a config.
 * - Custom images go to JupyterLabAppSettings and KernelGatewayAppSettings,
 *   both, as the original did (only when app_image_config_name and
 *   image_name are both set).
 * - The MLflow ArtifactStoreUri joins bucket and prefix with exactly one
 *   "/" (the original concatenated them: "s3://bmlflow/").
 * - Tags ride on Create* only; tag drift goes through AddTags/DeleteTags
 *   (sm_request_tags()), so tags are never part of a diff. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "smstudio/desired.h"

/* What the builders need from outside the manifest: the ownership tag and
 * the ARNs and ids made by earlier steps. Strings are borrowed. Each
 * builder says which it needs and fails with -EINVAL when one is NULL. */
typedef struct sm_request_refs {
        const char *instance;                     /* value of smstudio:managed-by */
        const char *domain_id;                    /* d-...: UpdateDomain, profiles, spaces */
        const char *execution_role_arn;           /* the domain's default ExecutionRole */
        const char *data_scientist_role_arn;      /* profiles of data_science_users */
        const char *lead_data_scientist_role_arn; /* profiles of lead_data_science_users */
        const char *mlflow_role_arn;              /* the tracking server's RoleArn */
        const char *lifecycle_config_arn; /* NULL: the domain has none (LifecycleConfigArns []) */
} sm_request_refs;

/* Studio domains smstudio makes reach AWS only through the VPC, as the
 * original's did (no direct internet access from apps). */
#define SM_REQUEST_APP_NETWORK_ACCESS "VpcOnly"
/* Length of the content hash in a lifecycle config name. */
#define SM_LCC_HASH_HEX 8

/* Builders: 0 and *ret set; -EINVAL when a needed ref or model value is
 * missing; -E2BIG when the manifest's tags plus the ownership tag exceed
 * AWS's 50; -ENOMEM. */

/* CreateDomain. Needs instance, execution_role_arn. */
int sm_request_create_domain(const sm_domain *d, const sm_request_refs *r, json_t **ret);
/* UpdateDomain: DomainId, DefaultUserSettings, DomainSettingsForUpdate,
 * SubnetIds, AppNetworkAccessType. Never DomainName, AuthMode, VpcId, KMS.
 * Needs domain_id, execution_role_arn. */
int sm_request_update_domain(const sm_domain *d, const sm_request_refs *r, json_t **ret);

/* CreateUserProfile: the group's role as UserSettings.ExecutionRole; in SSO
 * domains SingleSignOnUserIdentifier "UserName" and SingleSignOnUserValue
 * (the user's sso_user_value, else the user name). Needs instance,
 * domain_id and the group's role ARN. */
int sm_request_create_user_profile(const sm_domain *d, const sm_user *u, const sm_request_refs *r,
                                   json_t **ret);
/* UpdateUserProfile: UserSettings only. Needs domain_id and the role. */
int sm_request_update_user_profile(const sm_domain *d, const sm_user *u, const sm_request_refs *r,
                                   json_t **ret);

/* CreateSpace: SpaceName, SpaceDisplayName (the name), OwnershipSettings
 * when the space has an owner, SpaceSharingSettings, SpaceSettings.AppType
 * and the app's DefaultResourceSpec.InstanceType (the space's, else the
 * domain's when the manifest set one). Needs instance, domain_id; -EINVAL
 * for a Private space without owner. */
int sm_request_create_space(const sm_domain *d, const sm_space *s, const sm_request_refs *r,
                            json_t **ret);
/* UpdateSpace: SpaceDisplayName and SpaceSettings without AppType (which
 * AWS cannot change). Needs domain_id. */
int sm_request_update_space(const sm_domain *d, const sm_space *s, const sm_request_refs *r,
                            json_t **ret);

/* CreateMlflowTrackingServer. Needs instance, mlflow_role_arn; -EINVAL when
 * the domain has no artifact bucket. */
int sm_request_create_mlflow(const sm_domain *d, const sm_request_refs *r, json_t **ret);
/* UpdateMlflowTrackingServer: ArtifactStoreUri, TrackingServerSize when
 * set, AutomaticModelRegistration. Needs nothing from r. */
int sm_request_update_mlflow(const sm_domain *d, const sm_request_refs *r, json_t **ret);

/* "s3://<bucket>/<prefix without leading slashes>": exactly one "/"
 * between them; a NULL, empty or "/" prefix gives "s3://<bucket>/". */
int sm_mlflow_artifact_store_uri(const char *bucket, const char *prefix, char **ret);

/* Lifecycle configs cannot be updated, so their name is content-addressed:
 * "<base>-<first 8 hex digits of sha256(content_b64)>", the base cut so the
 * whole fits SM_NAME_MAX. Changed content gives a new name, which the
 * planner creates and then points the domain at. -EINVAL on an empty or
 * invalid base or empty content. */
int sm_lifecycle_config_name(const char *base_name, const char *content_b64, char **ret);
/* CreateStudioLifecycleConfig for JupyterLab apps, tagged like the domain
 * d (NULL: the ownership tag only). content_b64 is the script as base64
 * (the API's StudioLifecycleConfigContent, 1-16384 characters). Needs
 * instance. */
int sm_request_create_lifecycle_config(const sm_domain *d, const char *name,
                                       const char *content_b64, const sm_request_refs *r,
                                       json_t **ret);

/* A TagList: smstudio:managed-by=<instance> first, then the manifest's, in
 * manifest order (an entry of `tags` with our key is dropped: ours wins).
 * For AddTags when adopting or repairing tags. -E2BIG over 50. */
int sm_request_tags(const sm_tags *tags, const char *instance, json_t **ret);

/* The fields a request sets, as dotted paths in the Describe output's
 * terms ("DefaultUserSettings.JupyterLabAppSettings.AppLifecycleManagement.
 * IdleSettings.IdleTimeoutInMinutes"): objects are walked, any other value
 * (lists included) is one leaf. Left out: identity keys (DomainId,
 * DomainName, UserProfileName, SpaceName, TrackingServerName,
 * StudioLifecycleConfigName), which the planner matched on, and Tags.
 * UpdateDomain's DomainSettingsForUpdate is reported as DomainSettings.
 * *ret is a NULL-terminated array, free with sm_request_paths_free(). */
int sm_request_paths(const json_t *request, char ***ret);
char **sm_request_paths_free(char **paths);

/* Whether AWS can change the field in place. false for DomainName,
 * AuthMode, VpcId (UpdateDomain takes it only for domains created without
 * a VPC), KmsKeyId, the SSO identifier and value, a space's ownership,
 * sharing and app type, MLflow RoleArn and MlflowVersion, and lifecycle
 * config content and app type: a diff on one of them means "requires
 * replacement", which a pass only reports. */
bool sm_request_path_immutable(const char *path);

typedef struct sm_field_diff {
        char *path;       /* as sm_request_paths() */
        json_t *observed; /* NULL when the Describe output lacks the field */
        json_t *desired;  /* never NULL */
        bool immutable;   /* sm_request_path_immutable(path) */
} sm_field_diff;

/* Compare a request with a Describe output over the request's own paths.
 * Equality: strings and booleans exactly; numbers by value (120 == 120.0);
 * lists as multisets, since AWS returns SubnetIds, SecurityGroups,
 * VpcOnlyTrustedAccounts, LifecycleConfigArns and CustomImages in an order
 * of its own and none of them is ordered in meaning; an object element of a
 * list matches an observed one that has at least its fields (AWS adds
 * e.g. ImageVersionNumber); a missing list equals an empty one (AWS omits
 * empty lists). Two tolerances for values AWS rewrites: ArtifactStoreUri
 * ignores one trailing "/", and MlflowVersion "2.16" matches an observed
 * "2.16.2". A field missing from the output differs.
 * *ret (NULL when none) holds *ret_n diffs in the request's field order;
 * free with sm_field_diffs_free(). */
int sm_request_diff(const json_t *request, const json_t *describe_output, sm_field_diff **ret,
                    size_t *ret_n);
sm_field_diff *sm_field_diffs_free(sm_field_diff *diffs, size_t n);

/* Cut an update request down to the top-level members that some diff
 * touches (identity keys stay), so an UpdateDomain repairing the idle
 * timeout does not resend SubnetIds or AppNetworkAccessType, which AWS
 * refuses while apps run. Sub-structures are kept whole: whether AWS
 * merges a partial DefaultUserSettings is not documented. Returns the
 * number of members left besides identity keys (0: nothing to send). */
int sm_request_restrict(json_t *update_request, const sm_field_diff *diffs, size_t n);
