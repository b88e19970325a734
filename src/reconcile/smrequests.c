/* SPDX-License-Identifier: Apache-2.0 */
/* SageMaker request parameters and the field diff; see smrequests.h for
 * which fields are sent and why. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "smstudio/macro.h"
#include "smstudio/smrequests.h"

#define SET(obj, bit) (((obj)->set & (UINT64_C(1) << (bit))) != 0)

/* AWS's limit on tags per resource (TagList max). */
#define TAGS_LIMIT 50
/* StudioLifecycleConfigContent max. */
#define LCC_CONTENT_MAX 16384

/* json_object_set_new() takes v even when it fails, and fails on a NULL v
 * (a failed json_string() and friends), so one check covers both. */
static int put(json_t *o, const char *key, json_t *v)
{
        if (!v || json_object_set_new(o, key, v) < 0)
                return -ENOMEM;
        return 0;
}

/* Set root.a.b.c = v, making the objects on the way. v is taken. */
static int put_path(json_t *root, const char *path, json_t *v)
{
        json_t *o = root;
        const char *p = path;
        const char *dot;

        while ((dot = strchr(p, '.'))) {
                char key[128];
                size_t n = (size_t)(dot - p);
                json_t *child;

                if (n >= sizeof(key)) {
                        json_decref(v);
                        return -EINVAL;
                }
                memcpy(key, p, n);
                key[n] = '\0';
                child = json_object_get(o, key);
                if (!child) {
                        int r = put(o, key, json_object());

                        if (r < 0) {
                                json_decref(v);
                                return r;
                        }
                        child = json_object_get(o, key);
                }
                o = child;
                p = dot + 1;
        }
        return put(o, p, v);
}

static json_t *string_list(char *const *v)
{
        json_t *a = json_array();

        if (!a)
                return NULL;
        for (size_t i = 0; v && v[i]; i++)
                if (json_array_append_new(a, json_string(v[i])) < 0) {
                        json_decref(a);
                        return NULL;
                }
        return a;
}

int sm_request_tags(const sm_tags *tags, const char *instance, json_t **ret)
{
        json_t *list = NULL;
        size_t n = 1;

        if (isempty(instance))
                return -EINVAL;
        for (size_t i = 0; tags && i < tags->n; i++)
                if (!streq(tags->items[i].key, SM_TAG_MANAGED_BY))
                        n++;
        if (n > TAGS_LIMIT)
                return -E2BIG;
        list = json_array();
        if (!list)
                return -ENOMEM;
        if (json_array_append_new(
                    list, json_pack("{s:s,s:s}", "Key", SM_TAG_MANAGED_BY, "Value", instance)) < 0)
                goto fail;
        for (size_t i = 0; tags && i < tags->n; i++) {
                const sm_tag *t = &tags->items[i];

                if (streq(t->key, SM_TAG_MANAGED_BY))
                        continue;
                if (json_array_append_new(list, json_pack("{s:s,s:s}", "Key", t->key, "Value",
                                                          t->value ? t->value : "")) < 0)
                        goto fail;
        }
        *ret = list;
        return 0;
fail:
        json_decref(list);
        return -ENOMEM;
}

static int put_tags(json_t *req, const sm_tags *tags, const char *instance)
{
        json_t *list;
        int r;

        r = sm_request_tags(tags, instance, &list);
        if (r < 0)
                return r;
        return put(req, "Tags", list);
}

/* DefaultUserSettings, the same in CreateDomain and UpdateDomain. */
static int put_default_user_settings(json_t *req, const sm_domain *d, const sm_request_refs *r)
{
#define DUS  "DefaultUserSettings."
#define JL   DUS "JupyterLabAppSettings."
#define IDLE JL "AppLifecycleManagement.IdleSettings."
        int k;

        k = put_path(req, DUS "ExecutionRole", json_string(r->execution_role_arn));
        if (k == 0 && SET(d, SM_DOMAIN_SECURITY_GROUP_IDS))
                k = put_path(req, DUS "SecurityGroups", string_list(d->security_group_ids));
        /* Min and max bound what a user may pick in the app and mean nothing
         * without the timeout itself; the manifest check refuses them alone. */
        if (k == 0 && SET(d, SM_DOMAIN_IDLE_TIMEOUT_IN_MINUTES)) {
                k = put_path(req, IDLE "LifecycleManagement", json_string("ENABLED"));
                if (k == 0)
                        k = put_path(req, IDLE "IdleTimeoutInMinutes",
                                     json_integer(d->idle_timeout_in_minutes));
                if (k == 0 && SET(d, SM_DOMAIN_MIN_IDLE_TIMEOUT_IN_MINUTES))
                        k = put_path(req, IDLE "MinIdleTimeoutInMinutes",
                                     json_integer(d->min_idle_timeout_in_minutes));
                if (k == 0 && SET(d, SM_DOMAIN_MAX_IDLE_TIMEOUT_IN_MINUTES))
                        k = put_path(req, IDLE "MaxIdleTimeoutInMinutes",
                                     json_integer(d->max_idle_timeout_in_minutes));
        }
        if (k == 0 && SET(d, SM_DOMAIN_APP_IMAGE_CONFIG_NAME) && SET(d, SM_DOMAIN_IMAGE_NAME) &&
            d->app_image_config_name && d->image_name) {
                k = put_path(req, JL "CustomImages",
                             json_pack("[{s:s,s:s}]", "AppImageConfigName",
                                       d->app_image_config_name, "ImageName", d->image_name));
                if (k == 0)
                        k = put_path(req, DUS "KernelGatewayAppSettings.CustomImages",
                                     json_pack("[{s:s,s:s}]", "AppImageConfigName",
                                               d->app_image_config_name, "ImageName",
                                               d->image_name));
        }
        /* Listed makes it selectable; the default resource spec makes it run
         * when a JupyterLab app starts without one chosen. AWS requires the
         * default to be one of the listed. The list is smstudio's outright:
         * without a config it is sent empty, which is how AWS documents
         * detaching one (jl-lcc-delete), so unsetting server_lifecycle_name
         * detaches ours; an empty list equals an absent one in the diff, so
         * a domain that never had one sees no change. */
        if (k == 0 && r->lifecycle_config_arn) {
                k = put_path(req, JL "LifecycleConfigArns",
                             json_pack("[s]", r->lifecycle_config_arn));
                if (k == 0)
                        k = put_path(req, JL "DefaultResourceSpec.LifecycleConfigArn",
                                     json_string(r->lifecycle_config_arn));
        } else if (k == 0) {
                k = put_path(req, JL "LifecycleConfigArns", json_array());
        }
        return k;
#undef IDLE
#undef JL
#undef DUS
}

/* DockerSettings under DomainSettings (create) or DomainSettingsForUpdate. */
static int put_docker_settings(json_t *req, const sm_domain *d, const char *parent)
{
        char path[96];
        int k = 0;

        if (SET(d, SM_DOMAIN_ENABLE_DOCKER_ACCESS)) {
                snprintf(path, sizeof(path), "%s.DockerSettings.EnableDockerAccess", parent);
                k = put_path(req, path,
                             json_string(d->enable_docker_access ? "ENABLED" : "DISABLED"));
        }
        /* An explicit empty list is sent: it is how a manifest clears them. */
        if (k == 0 && SET(d, SM_DOMAIN_VPC_ONLY_TRUSTED_ACCOUNTS)) {
                snprintf(path, sizeof(path), "%s.DockerSettings.VpcOnlyTrustedAccounts", parent);
                k = put_path(req, path, string_list(d->vpc_only_trusted_accounts));
        }
        return k;
}

/* The model's enums hold ints; the *_to_string() of desired.h answer "?"
 * out of range, which must never reach AWS. */
static bool enum_valid(int v, int last)
{
        return v >= 0 && v <= last;
}

static bool has_strings(char *const *v)
{
        return v && v[0];
}

int sm_request_create_domain(const sm_domain *d, const sm_request_refs *r, json_t **ret)
{
        json_t *req = NULL;
        int k;

        if (!d || !r || isempty(d->name) || isempty(d->vpc_id) || !has_strings(d->subnet_ids) ||
            !enum_valid(d->auth_mode, SM_AUTH_SSO) || isempty(r->instance) ||
            isempty(r->execution_role_arn))
                return -EINVAL;
        req = json_object();
        if (!req)
                return -ENOMEM;
        k = put(req, "DomainName", json_string(d->name));
        /* Compared even when the manifest is silent: the effective mode
         * decides how every profile is created. */
        if (k == 0)
                k = put(req, "AuthMode", json_string(sm_auth_mode_to_string(d->auth_mode)));
        if (k == 0)
                k = put_default_user_settings(req, d, r);
        if (k == 0)
                k = put_docker_settings(req, d, "DomainSettings");
        if (k == 0)
                k = put(req, "SubnetIds", string_list(d->subnet_ids));
        if (k == 0)
                k = put(req, "VpcId", json_string(d->vpc_id));
        if (k == 0)
                k = put(req, "AppNetworkAccessType", json_string(SM_REQUEST_APP_NETWORK_ACCESS));
        if (k == 0)
                k = put_tags(req, &d->tags, r->instance);
        if (k < 0)
                goto fail;
        *ret = req;
        return 0;
fail:
        json_decref(req);
        return k;
}

int sm_request_update_domain(const sm_domain *d, const sm_request_refs *r, json_t **ret)
{
        json_t *req = NULL;
        int k;

        if (!d || !r || !has_strings(d->subnet_ids) || isempty(r->domain_id) ||
            isempty(r->execution_role_arn))
                return -EINVAL;
        req = json_object();
        if (!req)
                return -ENOMEM;
        k = put(req, "DomainId", json_string(r->domain_id));
        if (k == 0)
                k = put_default_user_settings(req, d, r);
        if (k == 0)
                k = put_docker_settings(req, d, "DomainSettingsForUpdate");
        if (k == 0)
                k = put(req, "SubnetIds", string_list(d->subnet_ids));
        if (k == 0)
                k = put(req, "AppNetworkAccessType", json_string(SM_REQUEST_APP_NETWORK_ACCESS));
        if (k < 0)
                goto fail;
        *ret = req;
        return 0;
fail:
        json_decref(req);
        return k;
}

static const char *user_role(const sm_user *u, const sm_request_refs *r)
{
        return u->group == SM_GROUP_LEAD ? r->lead_data_scientist_role_arn
                                         : r->data_scientist_role_arn;
}

static int user_profile(const sm_domain *d, const sm_user *u, const sm_request_refs *r, bool create,
                        json_t **ret)
{
        json_t *req = NULL;
        int k;

        if (!d || !u || !r || isempty(u->name) || isempty(r->domain_id) ||
            isempty(user_role(u, r)) || (create && isempty(r->instance)))
                return -EINVAL;
        req = json_object();
        if (!req)
                return -ENOMEM;
        k = put(req, "DomainId", json_string(r->domain_id));
        if (k == 0)
                k = put(req, "UserProfileName", json_string(u->name));
        /* AWS requires both in SSO domains and refuses them in IAM ones. */
        if (k == 0 && create && d->auth_mode == SM_AUTH_SSO) {
                k = put(req, "SingleSignOnUserIdentifier", json_string("UserName"));
                if (k == 0)
                        k = put(req, "SingleSignOnUserValue",
                                json_string(u->sso_user_value ? u->sso_user_value : u->name));
        }
        if (k == 0)
                k = put_path(req, "UserSettings.ExecutionRole", json_string(user_role(u, r)));
        if (k == 0 && create)
                k = put_tags(req, &u->tags, r->instance);
        if (k < 0)
                goto fail;
        *ret = req;
        return 0;
fail:
        json_decref(req);
        return k;
}

int sm_request_create_user_profile(const sm_domain *d, const sm_user *u, const sm_request_refs *r,
                                   json_t **ret)
{
        return user_profile(d, u, r, true, ret);
}

int sm_request_update_user_profile(const sm_domain *d, const sm_user *u, const sm_request_refs *r,
                                   json_t **ret)
{
        return user_profile(d, u, r, false, ret);
}

static int space(const sm_domain *d, const sm_space *s, const sm_request_refs *r, bool create,
                 json_t **ret)
{
        const char *instance_type;
        const char *app_type;
        const char *sharing;
        json_t *req = NULL;
        int k;

        if (!d || !s || !r || isempty(s->name) || isempty(r->domain_id) ||
            (create && isempty(r->instance)))
                return -EINVAL;
        /* A private space is its owner's: AWS refuses one without. */
        if (!enum_valid(s->app_type, SM_APP_CODE_EDITOR) ||
            !enum_valid(s->sharing, SM_SHARING_SHARED) ||
            (s->sharing == SM_SHARING_PRIVATE && isempty(s->owner)))
                return -EINVAL;
        app_type = sm_app_type_to_string(s->app_type);
        sharing = sm_sharing_to_string(s->sharing);
        instance_type = s->instance_type;
        if (!instance_type && SET(d, SM_DOMAIN_JUPYTERLAB_APP_INSTANCE_TYPE))
                instance_type = d->jupyterlab_app_instance_type;
        req = json_object();
        if (!req)
                return -ENOMEM;
        k = put(req, "DomainId", json_string(r->domain_id));
        if (k == 0)
                k = put(req, "SpaceName", json_string(s->name));
        /* Studio lists spaces by display name; the original set the name. */
        if (k == 0)
                k = put(req, "SpaceDisplayName", json_string(s->name));
        if (k == 0 && create && s->owner)
                k = put_path(req, "OwnershipSettings.OwnerUserProfileName", json_string(s->owner));
        if (k == 0 && create)
                k = put_path(req, "SpaceSharingSettings.SharingType", json_string(sharing));
        /* "You can't edit the app type of a space": UpdateSpace leaves it out. */
        if (k == 0 && create)
                k = put_path(req, "SpaceSettings.AppType", json_string(app_type));
        if (k == 0 && instance_type) {
                char path[96];

                snprintf(path, sizeof(path), "SpaceSettings.%s.DefaultResourceSpec.InstanceType",
                         s->app_type == SM_APP_CODE_EDITOR ? "CodeEditorAppSettings"
                                                           : "JupyterLabAppSettings");
                k = put_path(req, path, json_string(instance_type));
        }
        if (k == 0 && create)
                k = put_tags(req, &s->tags, r->instance);
        if (k < 0)
                goto fail;
        *ret = req;
        return 0;
fail:
        json_decref(req);
        return k;
}

int sm_request_create_space(const sm_domain *d, const sm_space *s, const sm_request_refs *r,
                            json_t **ret)
{
        return space(d, s, r, true, ret);
}

int sm_request_update_space(const sm_domain *d, const sm_space *s, const sm_request_refs *r,
                            json_t **ret)
{
        return space(d, s, r, false, ret);
}

int sm_mlflow_artifact_store_uri(const char *bucket, const char *prefix, char **ret)
{
        char *uri;

        if (isempty(bucket))
                return -EINVAL;
        while (prefix && *prefix == '/')
                prefix++;
        if (asprintf(&uri, "s3://%s/%s", bucket, prefix ? prefix : "") < 0)
                return -ENOMEM;
        *ret = uri;
        return 0;
}

static int mlflow(const sm_domain *d, const sm_request_refs *r, bool create, json_t **ret)
{
        _cleanup_free_ char *uri = NULL;
        json_t *req = NULL;
        int k;

        if (!d || !r || isempty(d->mlflow_server_name) ||
            !enum_valid(d->mlflow_server_size, SM_MLFLOW_LARGE) ||
            (create && (isempty(r->instance) || isempty(r->mlflow_role_arn))))
                return -EINVAL;
        k = sm_mlflow_artifact_store_uri(d->mlflow_artifact_store_bucket_name,
                                         d->mlflow_artifact_store_bucket_prefix, &uri);
        if (k < 0)
                return k;
        req = json_object();
        if (!req)
                return -ENOMEM;
        k = put(req, "TrackingServerName", json_string(d->mlflow_server_name));
        if (k == 0)
                k = put(req, "ArtifactStoreUri", json_string(uri));
        if (k == 0 && SET(d, SM_DOMAIN_MLFLOW_SERVER_SIZE))
                k = put(req, "TrackingServerSize",
                        json_string(sm_mlflow_size_to_string(d->mlflow_server_size)));
        if (k == 0 && create && SET(d, SM_DOMAIN_MLFLOW_SERVER_VERSION) && d->mlflow_server_version)
                k = put(req, "MlflowVersion", json_string(d->mlflow_server_version));
        if (k == 0 && create)
                k = put(req, "RoleArn", json_string(r->mlflow_role_arn));
        /* The original turned it off; models are registered on purpose. */
        if (k == 0)
                k = put(req, "AutomaticModelRegistration", json_false());
        if (k == 0 && create)
                k = put_tags(req, &d->tags, r->instance);
        if (k < 0)
                goto fail;
        *ret = req;
        return 0;
fail:
        json_decref(req);
        return k;
}

int sm_request_create_mlflow(const sm_domain *d, const sm_request_refs *r, json_t **ret)
{
        return mlflow(d, r, true, ret);
}

int sm_request_update_mlflow(const sm_domain *d, const sm_request_refs *r, json_t **ret)
{
        return mlflow(d, r, false, ret);
}

int sm_lifecycle_config_name(const char *base_name, const char *content_b64, char **ret)
{
        static const char hex[] = "0123456789abcdef";
        const size_t base_max = SM_NAME_MAX - 1 - SM_LCC_HASH_HEX;
        unsigned char md[EVP_MAX_MD_SIZE];
        char digest[SM_LCC_HASH_HEX + 1];
        unsigned md_len = 0;
        size_t base_len;
        char *name;

        if (isempty(base_name) || isempty(content_b64) || !sm_desired_name_valid(base_name))
                return -EINVAL;
        if (EVP_Digest(content_b64, strlen(content_b64), md, &md_len, EVP_sha256(), NULL) != 1)
                return -ENOMEM;
        for (size_t i = 0; i < SM_LCC_HASH_HEX / 2; i++) {
                digest[2 * i] = hex[md[i] >> 4];
                digest[2 * i + 1] = hex[md[i] & 0xf];
        }
        digest[SM_LCC_HASH_HEX] = '\0';
        /* A cut base may end in '-'; the name pattern allows runs of '-'
         * between alphanumerics, and the digest ends it with one. */
        base_len = strlen(base_name);
        if (base_len > base_max)
                base_len = base_max;
        if (asprintf(&name, "%.*s-%s", (int)base_len, base_name, digest) < 0)
                return -ENOMEM;
        *ret = name;
        return 0;
}

int sm_request_create_lifecycle_config(const sm_domain *d, const char *name,
                                       const char *content_b64, const sm_request_refs *r,
                                       json_t **ret)
{
        json_t *req = NULL;
        int k;

        if (!r || isempty(name) || isempty(content_b64) || isempty(r->instance))
                return -EINVAL;
        if (strlen(content_b64) > LCC_CONTENT_MAX)
                return -E2BIG;
        req = json_object();
        if (!req)
                return -ENOMEM;
        k = put(req, "StudioLifecycleConfigName", json_string(name));
        if (k == 0)
                k = put(req, "StudioLifecycleConfigContent", json_string(content_b64));
        if (k == 0)
                k = put(req, "StudioLifecycleConfigAppType", json_string("JupyterLab"));
        if (k == 0)
                k = put_tags(req, d ? &d->tags : NULL, r->instance);
        if (k < 0)
                goto fail;
        *ret = req;
        return 0;
fail:
        json_decref(req);
        return k;
}

/* Keys naming the resource: matched by the planner before any diff. */
static bool is_identity_key(const char *key)
{
        static const char *const keys[] = {
                "DomainId",  "DomainName",         "UserProfileName",
                "SpaceName", "TrackingServerName", "StudioLifecycleConfigName",
        };

        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (streq(key, keys[i]))
                        return true;
        return false;
}

/* The Describe output's name for a top-level request member. */
static const char *describe_key(const char *key)
{
        if (streq(key, "DomainSettingsForUpdate"))
                return "DomainSettings";
        return key;
}

typedef int (*leaf_fn)(const char *path, const json_t *desired, void *userdata);

static int walk(const json_t *node, const char *prefix, leaf_fn fn, void *userdata)
{
        const char *key;
        json_t *v;

        json_object_foreach((json_t *)node, key, v)
        {
                _cleanup_free_ char *path = NULL;
                /* Not key itself: json_object_foreach finds the next member by it. */
                const char *name = key;
                int r;

                if (!prefix) {
                        if (is_identity_key(key) || streq(key, "Tags"))
                                continue;
                        name = describe_key(key);
                }
                if (prefix ? asprintf(&path, "%s.%s", prefix, name) < 0 : !(path = strdup(name))) {
                        path = NULL;
                        return -ENOMEM;
                }
                if (json_is_object(v) && json_object_size(v) > 0)
                        r = walk(v, path, fn, userdata);
                else
                        r = fn(path, v, userdata);
                if (r < 0)
                        return r;
        }
        return 0;
}

typedef struct path_list {
        char **v;
        size_t n;
} path_list;

static int collect_path(const char *path, const json_t *desired, void *userdata)
{
        path_list *l = userdata;
        char **v;

        v = realloc(l->v, (l->n + 2) * sizeof(*v));
        if (!v)
                return -ENOMEM;
        l->v = v;
        l->v[l->n] = strdup(path);
        if (!l->v[l->n])
                return -ENOMEM;
        l->v[++l->n] = NULL;
        return 0;
}

char **sm_request_paths_free(char **paths)
{
        for (size_t i = 0; paths && paths[i]; i++)
                free(paths[i]);
        free(paths);
        return NULL;
}

int sm_request_paths(const json_t *request, char ***ret)
{
        path_list l = {0};
        int r;

        if (!json_is_object(request))
                return -EINVAL;
        /* An empty list is still a NULL-terminated array. */
        l.v = calloc(1, sizeof(*l.v));
        if (!l.v)
                return -ENOMEM;
        r = walk(request, NULL, collect_path, &l);
        if (r < 0) {
                sm_request_paths_free(l.v);
                return r;
        }
        *ret = l.v;
        return 0;
}

bool sm_request_path_immutable(const char *path)
{
        /* From the Update* input shapes: what none of them takes. */
        static const char *const fields[] = {
                "DomainName",
                "AuthMode",
                "VpcId",
                "KmsKeyId",
                "HomeEfsFileSystemKmsKeyId",
                "SingleSignOnUserIdentifier",
                "SingleSignOnUserValue",
                "OwnershipSettings",
                "SpaceSharingSettings",
                "SpaceSettings.AppType",
                "RoleArn",
                "MlflowVersion",
                "StudioLifecycleConfigContent",
                "StudioLifecycleConfigAppType",
        };

        if (!path)
                return false;
        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                size_t n = strlen(fields[i]);

                if (strncmp(path, fields[i], n) == 0 && (path[n] == '\0' || path[n] == '.'))
                        return true;
        }
        return false;
}

static json_t *lookup(const json_t *root, const char *path)
{
        const json_t *o = root;
        const char *p = path;

        for (;;) {
                const char *dot = strchr(p, '.');
                size_t n = dot ? (size_t)(dot - p) : strlen(p);
                char key[128];

                /* Member names of the SageMaker model are short. */
                if (!json_is_object(o) || n >= sizeof(key))
                        return NULL;
                memcpy(key, p, n);
                key[n] = '\0';
                o = json_object_get(o, key);
                if (!o || !dot)
                        return (json_t *)o;
                p = dot + 1;
        }
}

static const char *last_key(const char *path)
{
        const char *dot = strrchr(path, '.');

        return dot ? dot + 1 : path;
}

static int values_match(const json_t *desired, const json_t *observed);

/* Lists as multisets: every desired element pairs with its own observed
 * one. Greedy pairing is exact here: elements of one list are distinct
 * (ids, ARNs, one custom image per config name). */
static int lists_match(const json_t *desired, const json_t *observed)
{
        size_t n = json_array_size(desired);
        _cleanup_free_ bool *used = NULL;
        size_t i, j;
        json_t *dv;

        if (!observed)
                return n == 0;
        if (!json_is_array(observed) || json_array_size(observed) != n)
                return 0;
        if (n == 0)
                return 1;
        used = calloc(n, sizeof(*used));
        if (!used)
                return -ENOMEM;
        json_array_foreach(desired, i, dv)
        {
                bool found = false;

                for (j = 0; j < n && !found; j++) {
                        int m;

                        if (used[j])
                                continue;
                        m = values_match(dv, json_array_get(observed, j));
                        if (m < 0)
                                return m;
                        if (m > 0)
                                used[j] = found = true;
                }
                if (!found)
                        return 0;
        }
        return 1;
}

/* 1 when observed has what desired asks for, 0 when not, -ENOMEM. Objects
 * match when observed has at least desired's members: AWS fills in others. */
static int values_match(const json_t *desired, const json_t *observed)
{
        if (json_is_array(desired))
                return lists_match(desired, observed);
        if (!observed)
                return 0;
        if (json_is_object(desired)) {
                const char *key;
                json_t *dv;

                if (!json_is_object(observed))
                        return 0;
                json_object_foreach((json_t *)desired, key, dv)
                {
                        int m = values_match(dv, json_object_get(observed, key));

                        if (m <= 0)
                                return m;
                }
                return 1;
        }
        if (json_is_number(desired) && json_is_number(observed))
                return json_number_value(desired) == json_number_value(observed);
        return json_equal(desired, observed);
}

static bool strings_equal_but_trailing_slash(const char *a, const char *b)
{
        size_t na = strlen(a), nb = strlen(b);

        if (na > 0 && a[na - 1] == '/')
                na--;
        if (nb > 0 && b[nb - 1] == '/')
                nb--;
        return na == nb && strncmp(a, b, na) == 0;
}

static int field_matches(const char *path, const json_t *desired, const json_t *observed)
{
        const char *key = last_key(path);

        if (json_is_string(desired) && json_is_string(observed)) {
                const char *d = json_string_value(desired), *o = json_string_value(observed);

                if (streq(key, "ArtifactStoreUri"))
                        return strings_equal_but_trailing_slash(d, o);
                /* A requested minor version is served as its latest patch. */
                if (streq(key, "MlflowVersion"))
                        return streq(d, o) ||
                               (strncmp(o, d, strlen(d)) == 0 && o[strlen(d)] == '.');
        }
        return values_match(desired, observed);
}

typedef struct diff_ctx {
        const json_t *observed;
        sm_field_diff *v;
        size_t n;
} diff_ctx;

static int diff_field(const char *path, const json_t *desired, void *userdata)
{
        diff_ctx *c = userdata;
        json_t *observed = lookup(c->observed, path);
        sm_field_diff *v, *f;
        int m;

        m = field_matches(path, desired, observed);
        if (m != 0)
                return m < 0 ? m : 0;
        v = realloc(c->v, (c->n + 1) * sizeof(*v));
        if (!v)
                return -ENOMEM;
        c->v = v;
        f = &c->v[c->n];
        *f = (sm_field_diff){
                .path = strdup(path),
                .observed = json_incref(observed),
                .desired = json_incref((json_t *)desired),
                .immutable = sm_request_path_immutable(path),
        };
        c->n++;
        if (!f->path)
                return -ENOMEM;
        return 0;
}

sm_field_diff *sm_field_diffs_free(sm_field_diff *diffs, size_t n)
{
        for (size_t i = 0; diffs && i < n; i++) {
                free(diffs[i].path);
                json_decref(diffs[i].observed);
                json_decref(diffs[i].desired);
        }
        free(diffs);
        return NULL;
}

int sm_request_diff(const json_t *request, const json_t *describe_output, sm_field_diff **ret,
                    size_t *ret_n)
{
        diff_ctx c = {.observed = describe_output};
        int r;

        if (!json_is_object(request) || !json_is_object(describe_output))
                return -EINVAL;
        r = walk(request, NULL, diff_field, &c);
        if (r < 0) {
                sm_field_diffs_free(c.v, c.n);
                return r;
        }
        *ret = c.v;
        *ret_n = c.n;
        return 0;
}

int sm_request_restrict(json_t *update_request, const sm_field_diff *diffs, size_t n)
{
        const char *key;
        json_t *v;
        void *tmp;
        int left = 0;

        if (!json_is_object(update_request))
                return -EINVAL;
        json_object_foreach_safe(update_request, tmp, key, v)
        {
                const char *dkey = describe_key(key);
                size_t len = strlen(dkey);
                bool touched = false;

                if (is_identity_key(key))
                        continue;
                for (size_t i = 0; i < n && !touched; i++)
                        touched = strncmp(diffs[i].path, dkey, len) == 0 &&
                                  (diffs[i].path[len] == '\0' || diffs[i].path[len] == '.');
                if (touched)
                        left++;
                else
                        json_object_del(update_request, key);
        }
        return left;
}
